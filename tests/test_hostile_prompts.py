"""Hostile sizes (issue 13, defects 4 and 14): a persona prompt too long for the context window, and
questions whose tokens overflow it (20,000 characters; scripts of up to four tokens a character).

The persona prompt is measured at start-up against llm.n_ctx: `kiosk ask`/`run` refuse with exit code 2 and a
message naming the file, the key and the numbers, `kiosk doctor` says FAIL. A turn never overflows: the history
goes first (oldest first), then the lowest-ranked passages, then the question's end. Fast tests use a stand-in
tokenizer; the slow ones the real SmolLM2 through the CLI and the real engines (no assertion on its words)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fuzzing import fuzz
from hypothesis import given
from hypothesis import strategies as st

from kiosk.answer.conversation import Conversation
from kiosk.answer.engine import AnswerEngine
from kiosk.answer.llm import GenerationOptions, GenerationStats, PromptTooLong
from kiosk.answer.pipeline import APOLOGY, Responder
from kiosk.config import AnswerSettings, LLMSettings, PersonaSettings
from kiosk.events import AnswerDone, Event

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "halvorsen"
WORDS = ["visitors", "badge", "reception", "canteen", "parking", "workshop", "safety", "glasses", "coach", "explains",
         "greets", "politely", "warehouse", "robots", "assembly", "shift", "lead", "desk", "laptop", "account",
         "training", "payroll"]


def long_prompt(chars: int, seed: int = 4) -> str:
    """A generated persona brief of about `chars` characters: sentences of ordinary instruction words."""
    rng = random.Random(seed)
    lines: list[str] = []
    while sum(len(line) + 1 for line in lines) < chars:
        lines.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))).capitalize() + ".")
    return "\n".join(lines)


def rare_script(chars: int, seed: int = 14) -> str:
    """Characters of CJK Extension B: letters (isalnum) of four UTF-8 bytes, four SmolLM2 tokens each."""
    rng = random.Random(seed)
    return "".join(chr(0x20000 + rng.randrange(40_000)) for _ in range(chars))


def write_config(path: Path, system_prompt: str, extra: str = "") -> Path:
    path.write_text(f'[persona]\nname = "Ava"\nsystem_prompt = """\n{system_prompt}\n"""\n{extra}', encoding="utf-8")
    return path


class ByteLLM:
    """Stands in for LlamaEngine's counting: a token per 4 ASCII characters, one per byte of anything else
    (like SmolLM2 on rare scripts); stream() refuses a prompt that does not fit, as the real one does."""

    settings = LLMSettings()

    def __init__(self, n_ctx: int = 2048) -> None:
        self.n_ctx = n_ctx
        self.prompts: list[int] = []

    def tokenize(self, text: str) -> list[int]:
        ascii_chars = sum(ch.isascii() for ch in text)
        return [0] * ((ascii_chars + 3) // 4 + len(text.encode()) - ascii_chars)

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        return sum(len(self.tokenize(m["content"])) + 4 for m in messages) + 3

    def stream(self, messages: list[dict[str, str]], options: GenerationOptions, should_stop: object = None,
               stats: GenerationStats | None = None, pace: object = None) -> Iterator[str]:
        n = self.count_tokens(messages)
        if n + 8 > self.n_ctx:
            raise PromptTooLong(f"prompt of {n} tokens does not fit llm.n_ctx={self.n_ctx}")
        self.prompts.append(n)
        if stats is not None:
            stats.prompt_tokens, stats.finish_reason = n, "stop"
        yield "The canteen is on the ground floor."


def ask(responder: Responder, question: str) -> list[Event]:
    async def go() -> list[Event]:
        turn = responder.gate.begin()
        return [e async for e in responder.respond(turn, question, speak=False)]

    return asyncio.run(go())


# -- defect 4: the persona prompt against the context window (fast) ---------------------------------------------

def test_a_persona_prompt_too_long_is_measured_with_its_numbers(tmp_path: Path) -> None:
    from kiosk.answer.prompt import persona_too_long

    cfg = write_config(tmp_path / "kiosk.toml", long_prompt(9_000))
    persona = PersonaSettings(system_prompt=long_prompt(9_000))
    engine = AnswerEngine(ByteLLM(), persona, AnswerSettings(), LLMSettings())
    budget = engine.budget(passages=648)
    assert not budget.fits and budget.persona > budget.room
    assert budget.persona + budget.answer + budget.passages + budget.question > budget.n_ctx
    message = str(persona_too_long(cfg, budget))
    assert message.startswith(f"{cfg}:3: persona.system_prompt: too long for the model's context window")
    for part in (f"takes {budget.persona} tokens", f"at most {budget.room}", "llm.n_ctx = 2048",
                 "120 tokens must remain for the answer", "648 for passages", f"{budget.question} for the question",
                 f"by at least {budget.persona - budget.room} tokens"):
        assert part in message, (part, message)
    assert engine.budget(passages=0).room > budget.room, "without a knowledge base nothing is kept for passages"
    assert AnswerEngine(ByteLLM(), PersonaSettings(), AnswerSettings(), LLMSettings()).budget(648).fits


@fuzz(60)
@given(history=st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 600)), max_size=6),
       passages=st.lists(st.integers(1, 900), max_size=5), question=st.integers(1, 5000),
       rare=st.booleans(), n_ctx=st.sampled_from([512, 1024, 2048]))
def test_a_turn_always_fits_dropping_history_then_passages_then_the_question(
        history: list[tuple[int, int]], passages: list[int], question: int, rare: bool, n_ctx: int) -> None:
    llm = ByteLLM(n_ctx)
    engine = AnswerEngine(llm, PersonaSettings(), AnswerSettings(max_tokens=120), LLMSettings())
    for i, (q, a) in enumerate(history):
        engine.conversation.add(f"q{i} " + "x" * q, f"a{i} " + "y" * max(1, a))
    blocks = [f"[Doc {i} > Part]\n" + "w " * (n // 2) for i, n in enumerate(passages)]
    context = "\n\n".join(["Passages from the documents. Answer only from them.", *blocks]) if blocks else ""
    text = rare_script(question) if rare else ("where is it " * question)[:question]
    msgs = engine.messages(text, context)
    assert llm.count_tokens(msgs) + 120 <= n_ctx, "prompt + the longest answer fit the context window"
    user = msgs[-1]["content"]
    asked = user.rsplit("Question: ", 1)[-1] if context else user
    assert text.startswith(asked) and asked.strip(), "the question keeps its beginning"
    kept_history = [m["content"] for m in msgs[1:-1:2]]
    assert kept_history == [f"q{i} " + "x" * q for i, (q, _) in enumerate(history)][len(history) - len(kept_history):]
    kept_blocks = [b for b in blocks if b.strip() in user]
    assert kept_blocks == blocks[:len(kept_blocks)], "the lowest-ranked passages go first"
    if kept_history:
        assert kept_blocks == blocks and asked == text, "history goes before passages and the question"
    if kept_blocks != blocks or asked != text:
        assert not kept_history
    if asked != text:
        assert len(kept_blocks) <= 1, "the question is cut only when at most the best passage is left"


def test_conversation_without_a_fit_check_is_unchanged() -> None:
    conv = Conversation(4)
    conv.add("Where is the canteen?", "On the ground floor.")
    context = "Passages.\n\n[Doc > A]\nOne.\n\n[Doc > B]\nTwo."
    msgs = conv.messages("S", "And parking?", context)
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[-1]["content"] == f"{context}\n\nQuestion: And parking?"


# -- defect 14: questions whose tokens overflow the window (fast) -----------------------------------------------

@pytest.mark.parametrize("question", [rare_script(20_000), "𝔸𝔹ℂ" * 7000, ("a😀 " * 7000)[:20_000],
                                      ("Where is the canteen? " * 1000)[:20_000]],
                         ids=["cjk-ext-b", "math-letters", "emoji-words", "english"])
def test_a_question_of_any_script_is_cut_to_fit_and_answered(question: str, caplog) -> None:  # noqa: ANN001
    llm = ByteLLM()
    engine = AnswerEngine(llm, PersonaSettings(), AnswerSettings(), LLMSettings())
    for _ in range(4):  # a long conversation before it
        engine.conversation.add("Tell me everything " * 60, "Here it is " * 60)
    responder = Responder(engine, None, AnswerSettings(), on_gpu=False)
    try:
        with caplog.at_level(logging.INFO):
            events = ask(responder, question)
    finally:
        responder.close()
    done = events[-1]
    assert isinstance(done, AnswerDone) and not done.error and done.answer, done
    assert llm.prompts and llm.prompts[-1] + engine.options.max_tokens <= llm.n_ctx
    assert not any(r.exc_info for r in caplog.records), "no traceback in the log"


def test_a_prompt_that_cannot_fit_is_one_log_line_and_an_apology(caplog) -> None:  # noqa: ANN001
    llm = ByteLLM(n_ctx=512)
    persona = PersonaSettings(system_prompt=long_prompt(3_000))  # started without the start-up check
    responder = Responder(AnswerEngine(llm, persona, AnswerSettings(), LLMSettings()), None, AnswerSettings(),
                          on_gpu=False)
    try:
        with caplog.at_level(logging.INFO):
            events = ask(responder, "Where is the canteen?")
    finally:
        responder.close()
    done = events[-1]
    assert isinstance(done, AnswerDone) and done.answer.startswith(APOLOGY) and done.error_codes
    failed = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failed and "does not fit llm.n_ctx=512" in failed[0].getMessage()
    assert not any(r.exc_info for r in caplog.records), "a known limit is not logged as a crash"


# -- the real model and CLI (slow) ------------------------------------------------------------------------------

def kiosk(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_kiosk_ask_refuses_a_9kb_persona_prompt_with_exit_2_and_doctor_fails(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "kiosk.toml", long_prompt(9_000))
    proc = kiosk("ask", "Where is the canteen?", "--config", str(cfg), "--no-speech", "--json")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and not proc.stdout
    assert f"{cfg}:3: persona.system_prompt: too long for the model's context window" in proc.stderr
    assert "llm.n_ctx = 2048" in proc.stderr and "must remain for the answer" in proc.stderr
    doctor = kiosk("doctor", "--config", str(cfg), "--json")
    assert doctor.returncode == 1
    check = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}["persona prompt"]
    assert check["status"] == "fail" and "persona.system_prompt" in check["detail"] and check["fix"]


@pytest.mark.slow
def test_doctor_passes_the_persona_prompts_that_start(tmp_path: Path) -> None:
    from kiosk.checks import check_persona_prompt
    from kiosk.config import load_settings

    for cfg in sorted((ROOT / "provisioning" / "personas").glob("*.toml")):
        check = check_persona_prompt(load_settings(str(cfg)))
        assert check.status == "ok", check


@pytest.mark.slow
def test_kiosk_ask_answers_a_20000_character_question_of_any_script(tmp_path: Path) -> None:
    question = rare_script(20_000)
    proc = kiosk("ask", question, "--no-speech", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "PromptTooLong" not in proc.stderr
    result = json.loads(proc.stdout)
    assert "error" not in result and result["answer"]
    assert result["tokens"]["prompt"] + 120 <= 2048


@pytest.mark.slow
def test_real_turns_with_a_long_prompt_documents_and_history_never_overflow(tmp_path: Path, settings) -> None:  # noqa: ANN001
    from kiosk.config import with_overrides
    from kiosk.knowledge.index import ingest
    from kiosk.runtime import Runtime

    kb = tmp_path / "kb.sqlite"
    ingest(kb, [SAMPLES])
    big = with_overrides(settings, persona={"system_prompt": long_prompt(5_000)},
                         knowledge={"answer_style": "generate"})
    with Runtime(big, speech=False, kb=kb) as rt:
        persona = rt.llm.count_tokens([{"role": "system", "content": rt.engine.system}])
        assert persona > 1000, persona  # near the limit: 2048 - 96 (answer) - 648 (passages) - 170 (question)
        n_ctx, answer_tokens = rt.llm.n_ctx, rt.engine.options.max_tokens
        for question in ("How do I file an expense report and what is the mileage rate?",
                         "what is the mileage rate if I drive my own car " + rare_script(20_000),  # grounded
                         "what is the mileage rate " * 40):
            rt.engine.conversation.add("Tell me about travel " * 40, "Travel is booked through the portal. " * 20)
            done = asyncio.run(_turn(rt, question))
            assert not done.error, done
            assert done.timings.prompt_tokens + answer_tokens <= n_ctx, done.timings


async def _turn(rt, question: str) -> AnswerDone:  # noqa: ANN001
    from kiosk.answer.pipeline import run_turn

    return await run_turn(rt.responder, question, speak=False)

"""The language model's judgement on top of the rubric's rules, where the model is capable.

A tiny model (SmolLM2-135M, the embedded default) cannot rate a conversation: it answers "met" to anything. So
`judge_mode("auto", ...)` lets the model judge only when its GGUF file is at least kiosk.answer.llm.SMALL_LLM_BYTES
(the size below which the kiosk also quotes documents rather than paraphrasing them); "rules" and "model"
force either. The model rates only what words alone miss: a paraphrase of a phrase (`phrases`), an
acknowledgement in other words (`acknowledges`), blame put politely (`avoids`). Counting questions, turns,
words and interruptions stays with the rules. And the model never contradicts what the learner's words
prove: a phrase the rules found stays found (the model can only raise a `phrases`/`acknowledges` rating), a
phrase to avoid that was said stays said (it can only lower an `avoids` rating). Its answer must be one word of
met / partly / not and the learner turn that shows it; anything else is ignored and the rule stands."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from kiosk.answer.llm import GenerationOptions, GenerationStats
from kiosk.learn.rubric import RATINGS, Rating, Turn, quote
from kiosk.learn.scenario_file import Criterion, Scenario

Message = dict[str, str]
JUDGES = ("auto", "rules", "model")
MODEL_CHECKS = {"phrases": "raise", "acknowledges": "raise", "avoids": "lower"}
"""check kind -> what the model may do to the rule's rating"""
VERDICT_TOKENS = 8
_VERDICT = re.compile(r"^\W*(met|partly|partially|not)\b(?:\D{0,30}?(\d+))?", re.IGNORECASE)

SYSTEM = ("You are a fair communication trainer. You read a practice conversation and rate the learner on one "
          "criterion. Reply with exactly one word, met, partly or not, then the number of the learner turn that "
          "shows it (0 when no turn does). Example reply: partly 2")


class ChatModel(Protocol):
    """What the judge and the conversation need of kiosk.answer.llm.LlamaEngine (tests pass a stand-in)."""

    def stream(self, messages: Sequence[Message], options: GenerationOptions,
               should_stop: Callable[[], bool] = ..., stats: GenerationStats | None = None,
               pace: Callable[[], None] | None = None) -> Iterator[str]: ...

    def prefill(self, messages: Sequence[Message]) -> int: ...

    def count_tokens(self, messages: Sequence[Message]) -> int: ...

    @property
    def n_ctx(self) -> int: ...


def capable(model_path: Path | None) -> bool:
    """Is the model large enough to judge a conversation, or to be told a character's secrets and keep them?"""
    from kiosk.answer.llm import SMALL_LLM_BYTES

    return model_path is not None and model_path.stat().st_size >= SMALL_LLM_BYTES


def judge_mode(setting: str, model_path: Path | None) -> tuple[str, str]:
    """("rules" | "model", why) for a --judge setting and the loaded model's file."""
    if setting not in JUDGES:
        raise ValueError(f"judge must be one of {', '.join(JUDGES)}, not {setting!r}")
    if setting == "rules":
        return "rules", "rules only, as asked"
    if model_path is None:
        return "rules", "rules only: no language model loaded"
    if setting == "model":
        return "model", f"rules and the language model ({model_path.name}), as asked"
    if not capable(model_path):
        size = model_path.stat().st_size
        return "rules", (f"rules only: the language model ({model_path.name}, {size / 2**20:.0f} MB) is too small "
                         "to judge a conversation")
    return "model", f"rules and the language model ({model_path.name})"


def transcript(scenario: Scenario, turns: list[Turn]) -> str:
    lines, n = [], 0
    for turn in turns:
        if turn.role == "learner":
            n += 1
            lines.append(f"Learner (turn {n}): {turn.text}")
        else:
            lines.append(f"{scenario.character.name}: {turn.text}")
    return "\n".join(lines)


def messages(scenario: Scenario, turns: list[Turn], criterion: Criterion) -> list[Message]:
    """The transcript first and the criterion last, so every criterion reuses the same cached prefix."""
    examples = "; ".join(f'"{p}"' for p in criterion.phrases[:8]) or "none given"
    avoid = " (the learner must NOT say such things)" if criterion.check == "avoids" else ""
    user = (f"Practice conversation: {scenario.title}. The learner's goal: {scenario.goal}\n\n"
            f"{transcript(scenario, turns)}\n\n"
            f"Criterion: {criterion.name}\nWhat good looks like: {criterion.good}\n"
            f"Example phrases{avoid}: {examples}\n\n"
            "Rating (met, partly or not) and the learner turn that shows it:")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_verdict(text: str) -> tuple[str, int] | None:
    """("met" | "partly" | "not", learner turn or 0) from the model's reply, or None when it is not one."""
    m = _VERDICT.match(text.strip())
    if m is None:
        return None
    word = m.group(1).lower()
    return ("partly" if word == "partially" else word), int(m.group(2) or 0)


def ask(llm: ChatModel, scenario: Scenario, turns: list[Turn], criterion: Criterion, seed: int = 0) -> str:
    options = GenerationOptions(max_tokens=VERDICT_TOKENS, temperature=0.0, seed=seed)
    return "".join(llm.stream(messages(scenario, turns, criterion), options))


def combine(rule: Rating, criterion: Criterion, verdict: tuple[str, int] | None, turns: list[Turn]) -> Rating:
    """The rule's rating, changed by the model's verdict only in the direction the rule's evidence allows."""
    if verdict is None:
        return replace(rule, reason=f"{rule.reason} (the model gave no usable verdict)")
    rating, turn = verdict
    order = {r: i for i, r in enumerate(reversed(RATINGS))}  # not 0, partly 1, met 2
    way = MODEL_CHECKS[criterion.check]
    better = order[rating] > order[rule.rating] if way == "raise" else order[rating] < order[rule.rating]
    if not better:
        agree = "the model agrees" if rating == rule.rating else "the model said " + rating
        return replace(rule, reason=f"{rule.reason}; {agree}")
    learner = [t for t in turns if t.role == "learner"]
    evidence = quote(learner[turn - 1].text) if 1 <= turn <= len(learner) else rule.evidence
    return Rating(rule.criterion, rating, evidence, f"the model's judgement (the rules: {rule.rating}, "
                                                    f"{rule.reason})", by="model")


def judge(llm: ChatModel, scenario: Scenario, turns: list[Turn], ratings: list[Rating],
          seed: int = 0) -> list[Rating]:
    """The rule ratings with the model's judgement combined where MODEL_CHECKS allows it."""
    out = []
    for criterion, rule in zip(scenario.criteria, ratings, strict=True):
        if criterion.check not in MODEL_CHECKS or not any(t.role == "learner" for t in turns):
            out.append(rule)
            continue
        out.append(combine(rule, criterion, parse_verdict(ask(llm, scenario, turns, criterion, seed)), turns))
    return out

"""The composition root: settings in, loaded engines out. Nothing else builds engines."""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path
from typing import Any

from kiosk.answer.engine import AnswerEngine
from kiosk.answer.judge import LlmJudge
from kiosk.answer.llm import SMALL_LLM_BYTES, LlamaEngine
from kiosk.answer.pipeline import Responder, run_turn
from kiosk.answer.prompt import passage_tokens, persona_too_long
from kiosk.audio.wav import write_wav
from kiosk.config import ConfigError, Settings
from kiosk.config_check import config_line
from kiosk.events import AnswerDone, Event, SpeechAudio
from kiosk.knowledge.grounding import Grounder
from kiosk.knowledge.thesaurus import synonym_groups
from kiosk.models.locate import knowledge_path, locate
from kiosk.models.manifest import ModelMissingError
from kiosk.speech.joining import join_clips
from kiosk.speech.piper_voice import PiperSpeaker
from kiosk.speech.speakers import SpeakerChoiceError

log = logging.getLogger(__name__)




def build_llm(settings: Settings) -> LlamaEngine:
    loc = locate(settings, settings.persona.llm, "llm", "persona.llm")
    t = time.perf_counter()
    engine = LlamaEngine(loc.path, settings.llm)
    log.info("LLM %s loaded from %s in %.2f s", settings.persona.llm, loc.path, time.perf_counter() - t)
    return engine


def build_speaker(settings: Settings) -> PiperSpeaker:
    loc = locate(settings, settings.persona.voice, "tts", "persona.voice")
    config = next((p for rel, p in loc.files.items() if rel.endswith(".onnx.json")), None)
    t = time.perf_counter()
    try:
        speaker = PiperSpeaker(loc.path, settings.speech, config_path=config)
    except SpeakerChoiceError as error:  # a configuration problem (exit code 2), found only once the voice is known
        raise ConfigError.single(settings.source, str(error), key="speech.speaker",
                                 line=config_line(settings.source, "speech", "speaker")) from None
    log.info("voice %s loaded in %.2f s", settings.persona.voice, time.perf_counter() - t)
    return speaker


def build_grounder(settings: Settings, kb: Path, llm: LlamaEngine) -> Grounder:
    from kiosk.knowledge.embed import LlamaEmbedder, similarity
    from kiosk.knowledge.retrieve import Retriever

    k = settings.knowledge
    embedders: dict[str, LlamaEmbedder] = {}
    for name, key in ((k.embedding, "knowledge.embedding"), (k.answer_check, "knowledge.answer_check")):
        if name and name not in embedders:
            try:
                loc = locate(settings, name, "embedding", key)
            except ModelMissingError as error:
                # Both only sharpen answers made from the words: a board provisioned without the model (or a
                # models folder copied without it) answers by the words alone rather than not at all;
                # `kiosk doctor` reports it with the command that installs it.
                log.warning("%s: %s is not installed, answers are chosen without it. %s", key, name, error)
                continue
            embedders[name] = LlamaEmbedder(loc.path, name, settings.llm)
    retriever = Retriever(kb, synonyms=synonym_groups(k), embedder=embedders.get(k.embedding),
                          abbreviations=k.abbreviations, misheard_words=k.misheard_words)
    check = embedders.get(k.answer_check)

    def count(text: str) -> int:
        return len(llm.tokenize(text))

    small = llm.model_path.stat().st_size < SMALL_LLM_BYTES
    quote = k.answer_style == "quote" or (k.answer_style == "auto" and small)
    judge = LlmJudge(llm) if k.judge == "on" or (k.judge == "auto" and not small) else None
    if judge is not None and small:
        log.warning("knowledge.judge = on with %s, an LLM under 400 MB: the embedded SmolLM2 judged worse than chance "
                    "(docs/benchmarks.md, \"A second opinion before I don't know\"); \"auto\" leaves it off",
                    settings.persona.llm)
    log.info("knowledge base %s: answers are %s%s", kb, "quoted from the documents" if quote else "generated",
             "; the LLM judges sentences before a decline" if judge is not None else "")
    return Grounder(retriever.search, settings.knowledge, settings.persona, count, weigh=retriever.term_weights,
                    quote=quote, similar=None if check is None else functools.partial(similarity, check),
                    expand=retriever.expand, judge=judge)


class Runtime:
    """Loaded engines for one persona, ready to answer. Use as a context manager."""

    def __init__(self, settings: Settings, speech: bool = True, warm: bool = True,
                 kb: str | Path | None = None) -> None:
        self.settings = settings
        self.llm = build_llm(settings)
        self.engine = AnswerEngine(self.llm, settings.persona, settings.answer, settings.llm)
        kb_path = knowledge_path(settings, kb)
        self.budget = self.engine.budget(passage_tokens(settings.knowledge) if kb_path else 0)
        if not self.budget.fits:
            # Refused, not truncated: a persona prompt cut to fit would silently lose the operator's last
            # instructions (often the ones about what never to say), and the kiosk would run with a persona
            # nobody wrote. The size is fixed by the file, the model and llm.n_ctx, so kiosk doctor reports
            # the same FAIL before deployment, and a configuration that started once always starts: like any
            # configuration problem, exit code 2 with the file, the key and the numbers (kiosk/cli/main.py).
            raise persona_too_long(settings.source, self.budget)
        log.info("context window: %s", self.budget.summary())
        self.speaker = build_speaker(settings) if speech else None
        self.grounder = build_grounder(settings, kb_path, self.llm) if kb_path else None
        self.responder = Responder(self.engine, self.speaker, settings.answer, self.grounder)
        if warm:
            t = time.perf_counter()
            n = self.engine.warm()
            log.info("persona prefix (%d tokens) cached in %.2f s", n, time.perf_counter() - t)

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.responder.close()

    async def ask(self, question: str, out: Path | None = None, on_audio=None) -> dict[str, Any]:  # noqa: ANN001
        """Answers one question; the result is the `kiosk ask --json` contract."""
        t0 = time.perf_counter()
        audio: list[SpeechAudio] = []

        async def collect(event: Event) -> None:
            if isinstance(event, SpeechAudio):
                audio.append(event)
                if on_audio is not None:
                    await on_audio(event)

        done = await run_turn(self.responder, question, t0=t0, on_event=collect)
        if out is not None and audio:
            clip = join_clips([a.clip for a in audio], self.settings.speech.sentence_pause_s)
            write_wav(out, clip.pcm, clip.sample_rate)
        return answer_json(done, audio)


def answer_json(done: AnswerDone, audio: list[SpeechAudio]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "answer": done.answer if not done.error or done.answer else done.error,
        "sources": list(done.sources),
        "grounded": done.grounded,
        "timings_ms": done.timings.to_dict(),
        "tokens": {"prompt": done.timings.prompt_tokens, "cached": done.timings.cached_tokens,
                   "completion": done.timings.completion_tokens},
        "audio_s": round(sum(a.clip.duration_s for a in audio), 3),
    }
    if done.error:
        result["error"] = done.error
    return result

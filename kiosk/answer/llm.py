"""llama.cpp (through llama-cpp-python): chat messages in, streamed text out.

The prompt is rendered with the model's own chat template (from the GGUF metadata) and tokenized
here rather than inside llama-cpp-python, so we know exactly how many prompt tokens the KV cache
already holds (the persona prefix) and how many a turn must prefill.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from kiosk.config import LLMSettings

if TYPE_CHECKING:
    from llama_cpp.llama_chat_format import ChatFormatterResponse

log = logging.getLogger(__name__)

SMALL_LLM_BYTES = 400 * 1024 * 1024
"""GGUF files below this (SmolLM2-135M, Gemma 3 270M) paraphrase too poorly to answer policy
questions; knowledge.answer_style = "auto" quotes the documents for them."""

Message = dict[str, str]


@dataclass(frozen=True)
class GenerationOptions:
    max_tokens: int = 160
    temperature: float = 0.2
    top_p: float = 0.9
    repeat_penalty: float = 1.1
    seed: int = 0


@dataclass
class GenerationStats:
    """Filled in while a generation runs; read it after the stream ends."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    stopped_early: bool = False
    """True when `should_stop` ended the generation (a newer turn took over)."""
    finish_reason: str | None = None
    """llama.cpp's reason: "stop" (the model ended) or "length" (max_tokens reached)"""


class PromptTooLong(ValueError):
    pass


def _quiet() -> contextlib.AbstractContextManager[object]:
    """llama.cpp's own stderr silencer (a private helper of llama-cpp-python; nothing where it is missing)."""
    try:
        from llama_cpp._utils import suppress_stdout_stderr
    except ImportError:
        return contextlib.nullcontext()
    return suppress_stdout_stderr(disable=False)


class _ChatFormat(Protocol):
    """llama_cpp.llama_chat_format.ChatFormatter, called with the kiosk's plain chat messages."""

    def __call__(self, *, messages: list[Message]) -> ChatFormatterResponse: ...


class LlamaEngine:
    """One loaded GGUF model. Not thread-safe: one generation at a time (callers hold a lock)."""

    def __init__(self, model_path: Path, settings: LLMSettings, vocab_only: bool = False) -> None:
        """`vocab_only`: the tokenizer and chat template only, no weights (kiosk doctor counts tokens so)."""
        from llama_cpp import Llama

        self.settings = settings
        self.model_path = model_path
        threads = settings.n_threads or max(1, os.cpu_count() or 1)
        # A vocabulary-only load makes llama.cpp warn on stderr, even with verbose=False, that n_ctx exceeds
        # the (unloaded) training context: noise in kiosk doctor's report. A full load is left alone.
        with _quiet() if vocab_only else contextlib.nullcontext():
            self._llm = Llama(
                model_path=str(model_path), n_ctx=settings.n_ctx, n_batch=settings.n_batch,
                n_threads=threads, n_threads_batch=threads, n_gpu_layers=settings.gpu_layers,
                seed=settings.seed, flash_attn=settings.flash_attn, verbose=False, vocab_only=vocab_only,
            )
        self._format, self._stop = self._chat_formatter()
        self._yes_no: tuple[list[int], list[int]] | None = None

    @property
    def n_ctx(self) -> int:
        return self._llm.n_ctx()

    def _chat_formatter(self) -> tuple[_ChatFormat, list[str]]:
        from llama_cpp import llama_chat_format as fmt

        template = self._llm.metadata.get("tokenizer.chat_template")
        if template:
            eos, bos = self._llm.token_eos(), self._llm.token_bos()
            text = self._llm._model.token_get_text  # noqa: SLF001 - same source the library uses
            formatter = fmt.Jinja2ChatFormatter(template=template, eos_token=text(eos) if eos != -1 else "",
                                                bos_token=text(bos) if bos != -1 else "",
                                                stop_token_ids=[eos])
            # llama_cpp types messages as role-specific TypedDicts; ours are plain dict[str, str] of the same shape.
            return formatter, []  # type: ignore[return-value]
        # Base models (e.g. Gemma 3 270M) carry no template: use the family's registered format.
        arch = self._llm.metadata.get("general.architecture", "")
        name = "gemma" if arch.startswith("gemma") else "chatml"
        log.info("%s has no chat template; using the %r format", self.model_path.name, name)
        return getattr(fmt, f"format_{name}"), []

    def tokens_for(self, messages: Sequence[Message]) -> tuple[list[int], list[str]]:
        """The exact prompt tokens for `messages`, and extra stop strings."""
        result = self._format(messages=list(messages))
        tokens = self._llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special,
                                    special=True)
        stop = list(self._stop)
        if result.stop:
            stop += [result.stop] if isinstance(result.stop, str) else list(result.stop)
        return tokens, stop

    def tokenize(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return len(self.tokens_for(messages)[0])

    def cached_prefix(self, tokens: Sequence[int]) -> int:
        """How many leading `tokens` the KV cache already holds (llama.cpp re-evaluates the last one)."""
        held = self._llm.input_ids[: self._llm.n_tokens]
        n = 0
        for a, b in zip(held, tokens, strict=False):
            if a != b:
                break
            n += 1
        return min(n, len(tokens) - 1)

    def drop_cache(self) -> None:
        """Forget the KV cache so the next prompt is prefilled from scratch (cold start)."""
        self._llm.reset()

    def prefill(self, messages: Sequence[Message]) -> int:
        """Evaluates a prompt (one throwaway token) so its prefix sits in the KV cache; returns its length."""
        tokens, _ = self.tokens_for(messages)
        if len(tokens) + 1 > self.n_ctx:
            raise PromptTooLong(f"prompt of {len(tokens)} tokens does not fit llm.n_ctx={self.n_ctx}")
        self._llm.create_completion(prompt=tokens, max_tokens=1, temperature=0.0)
        return len(tokens)

    def stream(self, messages: Sequence[Message], options: GenerationOptions,
               should_stop: Callable[[], bool] = lambda: False,
               stats: GenerationStats | None = None, pace: Callable[[], None] | None = None) -> Iterator[str]:
        """Streams answer text; checks `should_stop` after every token and stops within one token.

        `pace`, when given, is called before each further token is computed; it may block (the
        responder uses it to give the CPU to speech synthesis first).
        """
        stats = stats if stats is not None else GenerationStats()
        tokens, stop = self.tokens_for(messages)
        if len(tokens) + 8 > self.n_ctx:
            raise PromptTooLong(f"prompt of {len(tokens)} tokens does not fit llm.n_ctx={self.n_ctx}")
        stats.prompt_tokens = len(tokens)
        stats.cached_tokens = max(0, self.cached_prefix(tokens))
        max_tokens = min(options.max_tokens, self.n_ctx - len(tokens))
        chunks = self._llm.create_completion(
            prompt=tokens, max_tokens=max_tokens, temperature=options.temperature, top_p=options.top_p,
            repeat_penalty=options.repeat_penalty, seed=options.seed, stop=stop or None, stream=True,
        )
        if not isinstance(chunks, Generator):  # stream=True always gives a generator (one return type for both)
            raise TypeError(f"llama.cpp returned {type(chunks).__name__} for a streamed completion")
        try:
            for chunk in chunks:
                stats.completion_tokens += 1
                choice = chunk["choices"][0]
                text = choice["text"]
                stats.finish_reason = choice.get("finish_reason") or stats.finish_reason
                if should_stop():
                    stats.stopped_early = True
                    return
                if text:
                    yield text
                    if pace is not None:  # only after text the listener has seen
                        pace()
        finally:
            chunks.close()  # ends llama.cpp's decode loop at once when we stop early

    @contextlib.contextmanager
    def aside(self) -> Iterator[None]:
        """Prompts evaluated inside leave the KV cache as it was: the persona prefix stays cached for the next
        answer (a judge's prompts share nothing with it). Only the sequence's cache is copied (~18 MB for a
        1.5B model's 640-token prefix); the Llama's own save_state would copy its logits buffer too."""
        import ctypes

        import llama_cpp

        llm = self._llm
        ctx = llm._ctx.ctx  # noqa: SLF001 - the context the Llama owns
        held, ids = llm.n_tokens, llm.input_ids[: llm.n_tokens].copy()
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        saved = (ctypes.c_uint8 * size)()
        kept = llama_cpp.llama_state_seq_get_data(ctx, saved, size, 0) == size
        try:
            yield
        finally:
            llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(ctx), 0, -1, -1)
            if kept and llama_cpp.llama_state_seq_set_data(ctx, saved, size, 0) == size:
                llm.n_tokens = held
                llm.input_ids[:held] = ids
            else:  # nothing cached is better than a cache that does not match input_ids
                llm.n_tokens = 0

    def yes_odds(self, messages: Sequence[Message]) -> float:
        """How likely the reply to `messages` starts with yes rather than no, from the next token's logits
        alone (no sampling, so no seed or CPU changes the choice); the KV cache keeps the prefix the last
        prompt shares with this one (a judge's fixed instructions and question)."""
        import llama_cpp
        import numpy as np

        tokens, _ = self.tokens_for(messages)
        if len(tokens) + 1 > self.n_ctx:
            raise PromptTooLong(f"prompt of {len(tokens)} tokens does not fit llm.n_ctx={self.n_ctx}")
        llm = self._llm
        llm.n_tokens = max(0, self.cached_prefix(tokens))  # eval() drops what the cache holds past it
        llm.eval(tokens[llm.n_tokens:])
        # Only the last position's logits exist (logits_all is off, as for answering).
        row = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)  # noqa: SLF001 - the context the Llama owns
        logits = np.ctypeslib.as_array(row, shape=(llm.n_vocab(),)).astype(np.float64)
        yes, no = self._answer_tokens()
        top = logits.max()
        p_yes = float(np.exp(logits[yes] - top).sum())
        p_no = float(np.exp(logits[no] - top).sum())
        return p_yes / (p_yes + p_no) if p_yes + p_no > 0 else 0.5

    def _answer_tokens(self) -> tuple[list[int], list[int]]:
        """The tokens a reply of yes or no starts with, in the spellings models use."""
        if self._yes_no is None:
            def first(words: tuple[str, ...]) -> list[int]:
                return sorted({self.tokenize(w)[0] for w in words})
            self._yes_no = first(("Yes", "yes", " Yes", "YES")), first(("No", "no", " No", "NO"))
        return self._yes_no

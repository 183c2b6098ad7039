"""The answer engine: persona + a visitor's history + the question, streamed through the LLM.

Turn ids make cancellation cheap: `TurnGate.begin()` makes every older turn stale, the running
generation notices after its current token and stops, and whatever it already queued is dropped by
the stages downstream when they see the stale id.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

from kiosk.answer.conversation import Conversation, Message, cut_to_fit
from kiosk.answer.llm import GenerationOptions, GenerationStats, LlamaEngine
from kiosk.answer.prompt import QUESTION_TOKENS, ContextBudget, measure_budget, public_text, system_prompt
from kiosk.config import AnswerSettings, LLMSettings, PersonaSettings

log = logging.getLogger(__name__)


class TurnGate:
    """The current turn id. Read from worker threads, bumped from the loop."""

    def __init__(self) -> None:
        self._current = 0
        self._lock = threading.Lock()

    @property
    def current(self) -> int:
        return self._current

    def begin(self) -> int:
        """Starts a new turn; every older turn becomes stale."""
        with self._lock:
            self._current += 1
            return self._current

    def is_current(self, turn_id: int) -> bool:
        return turn_id == self._current


class AnswerEngine:
    def __init__(self, llm: LlamaEngine, persona: PersonaSettings, answer: AnswerSettings,
                 llm_settings: LLMSettings, gate: TurnGate | None = None) -> None:
        self.llm = llm
        self.gate = gate or TurnGate()
        self.persona = persona
        self.system = system_prompt(persona)
        self.public = public_text(persona)
        """the parts of the system prompt the persona may say (SentenceGuard never stops them)"""
        self.fallback_contact = persona.fallback_contact
        self.conversation = Conversation(answer.history_turns)
        self.options = GenerationOptions(max_tokens=answer.max_tokens, temperature=answer.temperature,
                                         top_p=answer.top_p, repeat_penalty=answer.repeat_penalty,
                                         seed=llm_settings.seed)
        # One generation at a time; a new turn waits here for the stale one (at most one token).
        self._lock = threading.Lock()

    @property
    def lock(self) -> threading.Lock:
        """Held while the model generates: anything else using the same model (a practice conversation) takes it
        too, so a cancelled answer finishing its last token never runs beside it."""
        return self._lock

    def warm(self) -> int:
        """Puts the persona prefix into the KV cache (start-up); returns the system prompt's token count."""
        with self._lock:
            self.llm.prefill(self.messages("Hello"))
            return self.llm.count_tokens([{"role": "system", "content": self.system}])

    def budget(self, passages: int = 0) -> ContextBudget:
        """How the context window splits for this persona; `passages`: tokens reserved for them (0 = none)."""
        return measure_budget(self.llm.count_tokens, self.llm.tokenize, self.llm.n_ctx, self.persona,
                              self.options.max_tokens, passages)

    def fit_question(self, question: str, limit: int = QUESTION_TOKENS) -> str:
        """The question cut to at most `limit` tokens (at a word where it can): 600 characters of CJK or
        emoji are 1,000 to 2,400 tokens, more than the context window leaves for a question."""
        n = len(self.llm.tokenize(question))
        if n <= limit:
            return question
        cut = cut_to_fit(question, lambda q: len(self.llm.tokenize(q)) <= limit)
        log.info("question of %d tokens cut to %d characters (at most %d tokens)", n, len(cut), limit)
        return cut

    def reset(self) -> None:
        """Forgets the visitor. The persona prefix stays cached: it is the same for everyone."""
        self.conversation.reset()

    def messages(self, question: str, context: str = "") -> list[Message]:
        """The turn's prompt, fitted so that it and `answer.max_tokens` stay within the context window."""
        budget = self.llm.n_ctx - self.options.max_tokens

        def fits(msgs: list[Message]) -> bool:
            return self.llm.count_tokens(msgs) <= budget

        return self.conversation.messages(self.system, question, context, fits=fits)

    def generate(self, turn_id: int, question: str, context: str = "",
                 stats: GenerationStats | None = None, pace: Callable[[], None] | None = None) -> Iterator[str]:
        """Blocking token stream for one turn (run it in a worker thread).

        The exchange joins the history only if the answer finished while its turn was current.
        """
        stats = stats if stats is not None else GenerationStats()

        def stale() -> bool:
            return not self.gate.is_current(turn_id)

        with self._lock:
            if stale():
                stats.stopped_early = True
                return
            parts: list[str] = []
            for text in self.llm.stream(self.messages(question, context), self.options, stale, stats, pace):
                parts.append(text)
                yield text
            if not stats.stopped_early and not stale():
                self.conversation.add(question, "".join(parts))

"""One visitor's conversation: a bounded history of question/answer pairs, and the turn's messages
fitted into the context window."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Message = dict[str, str]

_PASSAGE = re.compile(r"\n\n(?=\[)")
"""where a passage block starts: the grounder joins "[title > section]\\n..." blocks with blank lines"""


@dataclass(frozen=True)
class Exchange:
    question: str
    answer: str


def split_passages(context: str) -> tuple[str, list[str]]:
    """The passages block's header and its passages, best first (kiosk.knowledge.grounding's layout)."""
    parts = _PASSAGE.split(context.strip())
    return parts[0], parts[1:]


def cut_to_fit(text: str, fits: Callable[[str], bool]) -> str:
    """The longest beginning of `text` that `fits` accepts, ended at a word when one ends in its second
    half ("" when nothing fits). `fits` must hold for every beginning of a fitting text (token counts do)."""
    if fits(text):
        return text
    lo, hi = 0, len(text)  # fits(text[:lo]) is assumed, fits(text[:hi]) is false
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(text[:mid]):
            lo = mid
        else:
            hi = mid
    cut = text[:lo]
    space = cut.rfind(" ")
    return cut[:space].rstrip() if space > len(cut) // 2 else cut


class Conversation:
    """Keeps the last `max_turns` exchanges; `reset()` forgets the visitor entirely.

    The history is bounded twice: by count (config `answer.history_turns`) and, when the prompt
    would not fit the context window, by dropping the oldest exchanges first.
    """

    def __init__(self, max_turns: int) -> None:
        self._history: deque[Exchange] = deque(maxlen=max_turns if max_turns > 0 else 0)

    def __len__(self) -> int:
        return len(self._history)

    @property
    def exchanges(self) -> tuple[Exchange, ...]:
        return tuple(self._history)

    def add(self, question: str, answer: str) -> None:
        if self._history.maxlen and answer.strip():
            self._history.append(Exchange(question, answer.strip()))

    def reset(self) -> None:
        self._history.clear()

    def restore(self, exchanges: tuple[Exchange, ...]) -> None:
        """Back to `exchanges` (what `exchanges` returned earlier): a question asked aside leaves no trace."""
        self._history.clear()
        self._history.extend(exchanges)

    def messages(self, system: str, question: str, context: str = "",
                 fits: Callable[[list[Message]], bool] | None = None) -> list[Message]:
        """Chat messages for a new question, fitted by `fits` (prompt + answer within the context window).

        `context` (retrieved passages) goes in the user turn, after the history, so the system prompt and
        the history stay a cacheable prefix. What does not fit goes in this order: the oldest exchanges,
        the lowest-ranked passages (all but the best), the end of the question, the best passage. When
        even the system prompt and an empty question do not fit, the smallest prompt is returned (the
        engine refuses it with PromptTooLong; the start-up check keeps that from happening).
        """
        header, passages = split_passages(context) if context.strip() else ("", [])

        def ok(msgs: list[Message]) -> bool:
            return fits is None or fits(msgs)

        history = list(self._history)
        for start in range(len(history) + 1):  # the oldest exchanges first
            msgs = self._build(system, history[start:], question, header, passages)
            if ok(msgs):
                return msgs
        for keep in range(len(passages) - 1, 0, -1):  # then the lowest-ranked passages, keeping the best
            msgs = self._build(system, [], question, header, passages[:keep])
            if ok(msgs):
                return msgs
        for kept in ([passages[:1], []] if passages else [[]]):  # then the question's end, then the best passage

            def fitting(q: str, kept: list[str] = kept) -> bool:
                return ok(self._build(system, [], q, header, kept))

            cut = cut_to_fit(question, fitting)
            if cut.strip():
                return self._build(system, [], cut, header, kept)
        return self._build(system, [], question, "", [])  # not even the system prompt fits: PromptTooLong

    @staticmethod
    def _build(system: str, history: list[Exchange], question: str, header: str,
               passages: list[str]) -> list[Message]:
        context = "\n\n".join([header, *passages]) if header else ""
        user = f"{context}\n\nQuestion: {question}" if context else question
        msgs: list[Message] = [{"role": "system", "content": system}]
        for ex in history:
            msgs.append({"role": "user", "content": ex.question})
            msgs.append({"role": "assistant", "content": ex.answer})
        msgs.append({"role": "user", "content": user})
        return msgs

"""One visitor's conversation: a bounded history of question/answer pairs."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Message = dict[str, str]


@dataclass(frozen=True)
class Exchange:
    question: str
    answer: str


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

    def messages(self, system: str, question: str, context: str = "",
                 fits: Callable[[list[Message]], bool] | None = None) -> list[Message]:
        """Chat messages for a new question; drops the oldest exchanges until `fits` accepts them.

        `context` (retrieved passages) goes in the user turn, after the history, so the system
        prompt and the history stay a cacheable prefix.
        """
        user = f"{context.strip()}\n\nQuestion: {question}" if context.strip() else question
        history = list(self._history)
        while True:
            msgs: list[Message] = [{"role": "system", "content": system}]
            for ex in history:
                msgs.append({"role": "user", "content": ex.question})
                msgs.append({"role": "assistant", "content": ex.answer})
            msgs.append({"role": "user", "content": user})
            if fits is None or fits(msgs) or not history:
                return msgs
            history.pop(0)

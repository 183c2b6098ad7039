"""A second opinion before "I don't know": the answering LLM asked whether a document sentence answers.

The grounder declines when too few of the visitor's words are the documents' words ("I need someone to talk
to, is there a helpline?" against "the Lighthouse Employee Assistance Program ... at 1-800-555-0142"). A large
enough LLM reads better than word overlap: asked about each of the best few candidate sentences, its
probability of replying "yes" ranks them, and one it is sure of is said instead of the decline (`Grounder`,
knowledge.judge). One short prompt per sentence, only for a question that would otherwise be declined; the
fixed instructions and the question stay in the KV cache between the sentences, and the persona prefix is
put back afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Protocol

Message = dict[str, str]

SYSTEM = "You check a company's documents for the answer to a visitor's question."


def judge_messages(question: str, text: str) -> list[Message]:
    """The question first: the prompts for one question's sentences share everything before the sentence."""
    user = f"Question: {question}\nText: {text}\nDoes the text answer the question? Answer yes or no."
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


class _Odds(Protocol):
    def yes_odds(self, messages: Sequence[Message]) -> float: ...

    def aside(self) -> AbstractContextManager[None]: ...


class LlmJudge:
    """`judge(question, texts)`: for each text, the LLM's probability that it answers the question."""

    def __init__(self, engine: _Odds) -> None:
        self._engine = engine

    def __call__(self, question: str, texts: Sequence[str]) -> list[float]:
        with self._engine.aside():  # the persona prefix stays cached for the answer
            return [self._engine.yes_odds(judge_messages(question, text)) for text in texts]

"""Follow-up questions: "where can I park?" ... "and is it free?".

Retrieval sees only the words it is given, and "and is it free?" names no topic. A follow-up is searched
together with the conversation's topic (the words of the question it follows, resolved the same way),
without asking the LLM to rewrite it: the embedded model is too small to do that reliably. A question that
names its own topic ("how many vacation days do I get?") is a new topic and is searched alone.
"""

from __future__ import annotations

import re

_OPENER = re.compile(r"^(?:and|but|also|so|then|plus|what about|how about|what if|and if|same for|"
                     r"is that|is it|are they|does it|do they|can i do that|where is that|when is that)\b")
_ANAPHORA = re.compile(r"\b(?:it|its|that|this|there|those|these|they|them|their|one|ones|same|else)\b")
_FILLER = re.compile(r"^(?:(?:um+|uh+|er+|oh|okay|ok|right|and um|well|sorry|hmm+|great|thanks|thank you)"
                     r"[\s,.!?-]+)+")
NEW_TOPIC = re.compile(r"^\W*(?:(?:ok|okay|so|and|oh|um+|uh+|right|also)[\s,.]+)*(?:(?:a |one |another )?"
                       r"(?:totally |completely )?(?:different|other|unrelated|separate|new) (?:question|thing|topic)"
                       r"|(?:totally |completely )?unrelated|on another note|changing the subject|something else)"
                       r"\b[\s,:.!?-]*")
"""an opening that says a new topic starts ("different question, ...", "ok unrelated, ..."): said about the
asking, not about what is asked"""
MAX_TOPIC_WORDS = 24
"""a conversation's topic keeps the latest words only: a long chain drifts, and the search would dilute"""


_IT_DEPARTMENT = re.compile(r"\bIT\b")
"""IT in capitals names the department ("where's the IT help desk?"), not something said before"""


def _plain(question: str) -> str:
    """Lower case, one space, without the filler it opens with ("um, okay, ...") and its end punctuation."""
    question = _IT_DEPARTMENT.sub("I.T.", question)
    return _FILLER.sub("", " ".join(question.lower().replace("’", "'").split())).strip(" ,.?!")


def needs_context(question: str, content_terms: int) -> bool:
    """The question leans on what was said before: it opens like a continuation ("and ...", "what about
    ..."), or names at most one thing, or points back ("it", "there", "that") with few words of its own."""
    q = _plain(question)
    if not q or NEW_TOPIC.match(q):
        return False
    if _OPENER.match(q) or content_terms <= 1:
        return True
    return content_terms <= 4 and bool(_ANAPHORA.search(q))


def points_back(question: str) -> bool:
    """It says "it", "that", "there" ...: what it asks about is only in the conversation."""
    return bool(_ANAPHORA.search(_plain(question)))


def names_its_own_topic(question: str, content_terms: int) -> bool:
    """It names what it asks about without pointing back: "and when is the canteen open for lunch?", or
    "where is the canteen?" after phishing (one word, so it looked like a follow-up), may well be a new
    topic, so it is also searched alone."""
    return content_terms >= 1 and not points_back(question)


def with_topic(question: str, topic: str) -> str:
    """The text to search for a follow-up: the question, then the topic it continues (latest words)."""
    words = f"{question} {topic}".split()
    return " ".join(words[:MAX_TOPIC_WORDS])

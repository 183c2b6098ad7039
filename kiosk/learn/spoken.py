"""What a learner said, in one spelling, for the rubric rules and the goal and secret checks of a practice
conversation: case, apostrophes and contractions ("you've" = "you have"), hyphens, fillers, numbers as digits,
light word endings ("registered" = "register", "apologise" = "apologize") and a few everyday synonyms ("ring"
= "call"). Speech transcripts often lack "?", so a question is also recognised by how it starts."""

from __future__ import annotations

import re

# One spelling of numbers for the whole learn package ("twelve" = "12"), as the quiz judge has it.
from kiosk.learn.judge import _numbers as number_words

_FILLERS = {"um", "uh", "er", "erm", "hmm", "mm", "mhm", "ah"}
_SYNONYMS = {"ok": "okay", "okey": "okay", "ring": "call", "phone": "call", "boss": "manager",
             "coworker": "colleague", "apologies": "apologize"}
_IS = r"it|that|what|he|she|there|here|who|how|where|when|why|everything|everyone|nobody|this|which"
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")

_WH = {"what", "how", "why", "which", "who", "whom", "whose", "where", "when"}
_AUX = {"do", "does", "did", "is", "are", "was", "were", "am", "can", "could", "would", "will", "should", "shall",
        "have", "has", "had", "may", "might", "must"}
_SUBJECTS = {"i", "you", "we", "he", "she", "they", "it", "there", "that", "this", "these", "those", "everything",
             "everyone", "anyone", "anything", "someone", "something", "somebody", "anybody", "the", "your", "my",
             "our", "his", "her", "their", "a", "an", "any", "all"}
_OPENERS = {"so", "and", "but", "okay", "well", "right", "hi", "hey", "hello", "oh", "now", "then", "also", "great",
            "good", "cool", "yeah", "yes", "no", "alright", "fine", "sure", "anyway", "just", "please", "ha"}
_INVITES = ("tell me", "walk me through", "talk me through", "describe", "say more", "go on")
_OPEN_AUX = ("can you tell me", "could you tell me", "would you tell me", "can you walk me", "could you walk me")

ACKNOWLEDGING = (
    "i understand", "i see", "i hear you", "i get it", "i get that", "i know how", "i know what you mean",
    "makes sense", "understandable", "i am sorry", "i am so sorry", "i am really sorry", "i am very sorry",
    "sorry for", "sorry about", "sorry to hear", "sorry that", "sorry you", "i apologize", "apologize for",
    "that sounds", "sounds like", "that must be", "must be frustrating", "must be annoying", "i can imagine",
    "i can see why", "i can see that", "you are right", "fair enough", "good point", "frustrating", "annoying",
    "no wonder", "i remember", "i felt the same", "i was the same", "is normal", "completely normal",
    "totally normal", "perfectly normal", "thank you for your patience", "thanks for your patience",
    "thank you for waiting", "thanks for waiting", "thank you for telling", "thanks for telling",
)
"""words that show the learner heard the other person or how they feel (the `acknowledges` check adds the
criterion's own phrases). A bare "sorry" is not among them: "sorry, I have to run" acknowledges nothing."""


def _stem(word: str) -> str:
    if len(word) <= 3 or word.isdigit():
        return word
    word = re.sub(r"is(e|ed|es|ing)$", r"iz\1", word)  # British spelling: apologise = apologize
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) > 4 and word.endswith("e") else word


def _plain(text: str) -> str:
    text = text.lower().replace("’", "'").replace("‘", "'")
    text = re.sub(r"\bcan't\b|\bcannot\b", "can not", text)
    text = re.sub(r"\bwon't\b", "will not", text)
    text = re.sub(r"\blet's\b", "let us", text)
    text = re.sub(rf"\b({_IS})'s\b", r"\1 is", text)
    text = text.replace("n't", " not").replace("'re", " are").replace("'ve", " have").replace("'ll", " will")
    text = text.replace("'m", " am").replace("'d", " would").replace("'s", "")
    return re.sub(r"[-–—/]", " ", text)


def plain_words(text: str) -> list[str]:
    """The words as said, contractions spelled out, without fillers (for how a sentence starts)."""
    return [w for w in re.findall(r"[a-z0-9]+", _plain(text)) if w not in _FILLERS]


def words(text: str) -> list[str]:
    """The words in the one spelling phrases are compared in."""
    said = [w if w.isdigit() else _stem(_SYNONYMS.get(w, w)) for w in number_words(plain_words(text))]
    return [_SYNONYMS.get(w, w) for w in said]


def find(haystack: list[str], needle: list[str], gap: int = 1) -> int:
    """Index where `needle`'s words start in `haystack`, in order, with at most `gap` other words between two of
    them ("I'm so sorry you've been waiting" says "I'm sorry you've been waiting"), or -1."""
    if not needle:
        return -1
    for start in (i for i, w in enumerate(haystack) if w == needle[0]):
        at = start
        for word in needle[1:]:
            window = haystack[at + 1:at + 2 + gap]
            if word not in window:
                break
            at += 1 + window.index(word)
        else:
            return start
    return -1


def says(text: str, phrase: str) -> bool:
    return find(words(text), words(phrase)) >= 0


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]


def question_kind(sentence: str) -> str | None:
    """"open" (what, how, tell me about ...), "closed" (yes or no: "are you ...", "..., okay?") or None."""
    said = plain_words(sentence)
    while said and said[0] in _OPENERS:
        said = said[1:]
    text = " ".join(said)
    if not said:
        return None
    if text.startswith(_INVITES) or text.startswith(_OPEN_AUX):
        return "open"
    first, second = said[0], said[1] if len(said) > 1 else ""
    if first in _WH and (second in _AUX or second in ("about", "come", "so", "not", "else") or
                         (first in ("who", "what", "which") and second and second not in _SUBJECTS - {"the"}) or
                         sentence.rstrip().endswith("?")):
        return "open"
    if first in _AUX and second in _SUBJECTS | {"not"}:
        return "closed"
    if sentence.rstrip().endswith("?"):
        return "closed"
    return None


def questions(text: str) -> list[tuple[str, str]]:
    """(sentence, "open" | "closed") for each question in a turn; the clause after the last comma counts too
    ("Okay Dana, what's your name")."""
    rank = {None: 0, "closed": 1, "open": 2}
    found = []
    for sentence in sentences(text):
        kind = question_kind(sentence)
        if kind != "open" and "," in sentence:
            clause = question_kind(sentence.rsplit(",", 1)[1])
            kind = clause if rank[clause] > rank[kind] else kind
        if kind is not None:
            found.append((sentence, kind))
    return found

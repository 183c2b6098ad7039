"""Has the visitor finished? A complete question may end after a short silence, an unfinished one waits.

A fixed hangover is a trade: long, and every answer waits for it; short, and "where is the ... IT help
desk" is cut in two. The transcript so far (Whisper's early decode, Vosk's partial) tells the cases
apart: Whisper writes a full stop or question mark after a complete sentence and a comma or an
ellipsis after a fragment, and a sentence does not end on "the", "to" or "my".
"""

from __future__ import annotations

import re

from kiosk.spoken import lead_ins

# Words no finished question ends on: articles, possessives, conjunctions, fillers.
_NEVER_LAST = frozenset([
    "a", "an", "the", "my", "your", "our", "their", "his", "her", "its", "some", "every", "each", "and", "or",
    "but", "because", "if", "than", "um", "uh", "er", "erm", "hmm", "is", "are", "was", "were", "the", "to",
    "of", "for", "with", "from", "about", "between", "please", "very", "really", "just",
])
# Words a question may end on ("which floor is it on?", "who do I talk to?") but a statement rarely
# does: trusted only with a question mark.
_RARELY_LAST = frozenset([
    "in", "on", "at", "by", "into", "onto", "over", "under", "near", "behind", "after", "before", "so", "as",
    "like", "be", "been", "am", "do", "does", "did", "can", "could", "would", "will", "should", "shall", "may",
    "might", "must", "have", "has", "what", "where", "when", "who", "whom", "whose", "which", "how", "why",
    "i", "we", "they", "he", "she", "this", "that", "these", "those", "any", "no",
])

_FILLERS = re.compile(r"\b(um+|uh+|er+|erm+|hmm+)\W*$")
# "How do I ..." / "what should we ...": a subject pronoun right after an auxiliary is a question's middle, even
# when Whisper writes a question mark after it ("How do I?"). "Where am I?" ends on "am": not caught.
_AUXILIARY = frozenset(["do", "does", "did", "can", "could", "should", "would", "will", "shall", "may", "might",
                        "must", "have", "has"])
_SUBJECT = frozenset(["i", "we", "they", "he", "she", "you", "it"])
# What people say before the question ("Quick question!", "Excuse me.", "Okay, so ..."): an opener with at most
# one more word after it ("Quick question, dude!") means the visitor has only begun. ("Hey" is not one: "Hey
# coach." alone is a whole wake phrase.)
_OPENER = lead_ins("so", "er+", "and", "please", between=r"[\s,.!?]*")


def sounds_complete(text: str, punctuated: bool = True) -> bool:
    """True when `text` reads as a finished utterance. `punctuated`: the recognizer writes punctuation
    (Whisper); without it (Vosk) only the last word decides."""
    t = text.strip()
    words = re.findall(r"[\w'-]+", t.lower())
    if not words or _FILLERS.search(t.lower()) or words[-1] in _NEVER_LAST:
        return False
    opener = _OPENER.match(t.lower())
    if opener and len(re.findall(r"[\w'-]+", t[opener.end():])) < 2:
        return False
    if words[-1] in _AUXILIARY or (len(words) >= 2 and words[-1] in _SUBJECT and words[-2] in _AUXILIARY):
        return False  # "OK, so what does?": the verb is still to come
    if not punctuated:
        return len(words) >= 2 and words[-1] not in _RARELY_LAST
    if t.endswith(("...", "…")):
        return False
    if t.endswith("?"):
        return True
    return t.endswith((".", "!")) and words[-1] not in _RARELY_LAST

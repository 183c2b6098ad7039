"""Is an utterance heard in an open window meant for the kiosk, or somebody else's conversation?

After an answer the kiosk listens for a follow-up without the wake phrase; at a trade show that
window is full of other people talking. An utterance there is taken only when it is plausibly
addressed to the kiosk. Signals, each kept because it was measured to earn its place
(docs/benchmarks.md, "Conversation"):
- loudness: a bystander a few metres away is quieter than the visitor standing at the kiosk, whose
  level is known from their own wake phrase and questions;
- form: a visitor's follow-up is a question or a request ("and on weekends?", "tell me about
  parking"); "yeah, see you at lunch" is chatter;
- speaker: when a speaker-embedding model is installed, the voice is compared with the visitor's.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np

from kiosk.listen.wake import sound_key
from kiosk.spoken import lead_ins

# How questions and requests to an assistant start, including elliptical follow-ups ("and the
# canteen?", "what about parking?") and polite forms ("could you ...", "I'd like to know ...").
_OPENERS = {
    "what", "what's", "whats", "where", "where's", "wheres", "when", "when's", "who", "who's", "whom",
    "whose", "which", "why", "how", "how's", "is", "are", "was", "were", "am", "do", "does", "did",
    "can", "could", "would", "will", "should", "shall", "may", "might", "have", "has", "tell", "show",
    "explain", "give", "help", "remind", "repeat", "say", "please", "and", "also", "so", "then", "any",
    "anything", "is there", "are there",
}
_REQUESTS = re.compile(
    r"\b(i (?:need|want|would like|'d like|am looking|'m looking|wonder|was wondering)|i'd like|"
    r"can you|could you|would you|tell me|show me|let me know|what about|how about|remind me|"
    r"i have a question)\b")
_CLOSINGS = re.compile(r"^(thanks|thank you|thank|cheers|ok(ay)?|great|cool|perfect|bye|goodbye|got it|"
                       r"alright|all right|nice|awesome|that's all|no|yes|yeah|yep|nope)\b[\s\w,'!.]*$")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


# What people say before a follow-up, and Whisper writes without the question mark when it mishears the rest:
# "Okay, and will a robot stop ..." heard as "Okay, and we'll allow robot to stop ...", "One more thing, is there
# wifi for guests" as "One more thing, is their wifi forgett". The form is judged on what comes after them.
_LEAD_INS = lead_ins("er", "erm", "alright", "all right", "pardon", "great", "cool", "thanks", "thank you", "cheers",
                     "hey", "one (?:more|last) (?:thing|question)", "another (?:thing|question)")


def looks_addressed(text: str) -> bool:
    """A question or a request, the way visitors ask a kiosk; not thanks or small talk."""
    t = text.strip().lower()
    words = _words(t)
    if not words:
        return False
    if t.endswith("?") or _REQUESTS.search(" ".join(words)):
        return True
    rest = _words(_LEAD_INS.sub("", t))
    if not rest or _CLOSINGS.match(" ".join(rest)):
        return False  # "Okay, great.", "Thanks, that's all."
    return rest[0] in _OPENERS or " ".join(rest[:2]) in _OPENERS


def level_db(pcm: bytes | np.ndarray) -> float:
    """Loudness of speech in dBFS (RMS); -inf for silence."""
    x = np.frombuffer(pcm, dtype=np.int16) if isinstance(pcm, bytes) else pcm
    if x.size == 0:
        return -math.inf
    power = float(np.mean(np.square(x.astype(np.float64) / 32768.0)))
    return 10.0 * math.log10(power) if power > 0 else -math.inf


class LevelMeter:
    """The level of an utterance's speech frames (not its pauses), accumulated frame by frame."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._power = 0.0
        self._frames = 0

    def add(self, frame: bytes) -> None:
        x = np.frombuffer(frame, dtype=np.int16).astype(np.float64) / 32768.0
        self._power += float(np.mean(x * x))
        self._frames += 1

    @property
    def db(self) -> float | None:
        if not self._frames or self._power <= 0:
            return None
        return 10.0 * math.log10(self._power / self._frames)


@dataclass(frozen=True)
class AddresseeSettings:
    level_margin_db: float = 7.0
    """quieter than the visitor by more than this: a bystander (0 = off)"""
    require_form: bool = True
    """follow-ups must be questions or requests"""
    min_similarity: float | None = None
    """speaker-embedding cosine below this: another speaker (None = no speaker check)"""


class Addressee:
    """Keeps what is known of the current visitor and judges utterances against it."""

    def __init__(self, settings: AddresseeSettings | None = None) -> None:
        self.settings = settings or AddresseeSettings()
        self.forget()

    def forget(self) -> None:
        """A new visitor (a tap, or the conversation ended): nothing known of their voice yet."""
        self._levels: list[float] = []
        self.voice: np.ndarray | None = None

    @property
    def reference_db(self) -> float | None:
        return float(np.mean(self._levels[-4:])) if self._levels else None

    def learn(self, db: float | None, voice: np.ndarray | None = None) -> None:
        """The visitor spoke (their wake phrase, an accepted question)."""
        if db is not None and math.isfinite(db):
            self._levels.append(db)
        if voice is not None:
            self.voice = voice if self.voice is None else _normalized(self.voice + voice)

    def judge(self, text: str, db: float | None, follow_up: bool, voice: np.ndarray | None = None) -> str | None:
        """None when the utterance is taken, else why not: quieter | other_speaker | not_a_question.
        `follow_up`: the window after an answer (the form matters there), not right after a wake."""
        s = self.settings
        ref = self.reference_db
        if s.level_margin_db > 0 and ref is not None and db is not None and db < ref - s.level_margin_db:
            return "quieter"
        if (s.min_similarity is not None and voice is not None and self.voice is not None
                and float(np.dot(voice, self.voice)) < s.min_similarity):
            return "other_speaker"
        if follow_up and s.require_form and not looks_addressed(text):
            return "not_a_question"
        return None


def _normalized(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


class OwnSpeech:
    """What the kiosk has said in its current answer. With voice barge-in, what the echo canceller leaves of
    the kiosk's voice can be as loud as a visitor (the canceller re-adapts after every pause and after double
    talk: docs/benchmarks.md); recognized, it is the answer's own words ("register", "into the visitor"),
    which a visitor interrupting does not say in the answer's order."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._words: set[str] = set()
        self._pairs: set[tuple[str, str]] = set()
        self._last: str | None = None

    def add(self, text: str) -> None:
        for key in _keys(text):
            self._words.add(key)
            if self._last is not None:
                self._pairs.add((self._last, key))
            self._last = key

    def echoes(self, text: str, final: bool = True) -> bool | None:
        """Is `text` (a recognized utterance) the answer's own words? At least half of its word pairs in
        the answer's order (pairs of short words like "do I" prove nothing), or, `final`ly, a single word
        of the answer. None: too little to tell yet (a visitor's "where ..." vs the answer's "wear")."""
        words = _words(text)
        if not words or not self._words:
            return False
        keys = _keys(text)
        if len(keys) == 1:
            return keys[0] in self._words if final else None
        pairs = [(p, w) for p, w in zip(zip(keys, keys[1:], strict=False), zip(words, words[1:], strict=False),
                                       strict=False) if max(len(w[0]), len(w[1])) >= 4]
        if not pairs:
            return False if final else None
        return 2 * sum(self._said_pair(p) for p, _ in pairs) >= len(pairs)

    def _said_pair(self, pair: tuple[str, str]) -> bool:
        """In the answer, as said or as the residue is misheard ("intranet by" / "internet bi")."""
        if pair in self._pairs:
            return True
        a, b = pair
        return any(_alike(a, x) and _alike(b, y) for x, y in self._pairs)


def _alike(a: str, b: str) -> bool:
    """Two sound keys close enough for misheard echo; tiny words ("by" / "bi") by their first sound."""
    if a == b:
        return True
    if a[:1] != b[:1]:
        return False
    return max(len(a), len(b)) <= 2 or SequenceMatcher(None, a, b).ratio() >= 0.75


def _keys(text: str) -> list[str]:
    """How the words sound, singular ("visitors" is "visitor" misheard as often as said)."""
    keys = [sound_key(w) for w in _words(text)]
    return [k[:-1] if len(k) > 3 and k.endswith("s") else k for k in keys]

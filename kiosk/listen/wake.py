"""Wake-phrase spotting: is "hey coach" in this stretch of speech, and where does it end?

Two spotters behind one interface, fed the audio of one VAD segment at a time:
- `VoskGrammarSpotter` (appliance, English Vosk model): a recognizer restricted to the phrase and
  "[unk]"; it fires mid-utterance as soon as a partial result holds the phrase, so the question that
  follows in the same breath streams straight into the full recognizer.
- `TranscriptSpotter` (bundled): transcribes the whole segment with the question recognizer (Whisper)
  and looks for the phrase in the words; one decode yields both the wake and the question after it.
  Chosen by measurement over Whisper biased with the phrase (hotwords / initial prompt), which turned
  "hey Joe" and "hey poach" into "hey coach" and dropped the phrase itself from real wakes
  (docs/benchmarks.md, "Wake phrase").

Matching is phonetic and per word, so Whisper's "Hey, Coach!" or "hay coach" match while the
near misses "hey Joe" and "the coach leaves at nine" do not.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any, Protocol

from kiosk.listen.asr import AsrEngine, Transcript, Word

log = logging.getLogger(__name__)

# Spelling -> rough sound, applied in order (a tiny Metaphone: enough to compare short English words).
_SOUND_RULES = (
    (r"[^a-z]", ""), (r"eigh|ey$|ay|ei|ai", "A"), (r"oa|oe$|ow$|o(?=[bcdfgjklmnpqrstvz]e$)", "O"),
    (r"tch|ch", "C"), (r"sh", "S"), (r"th", "0"), (r"ph", "f"), (r"ck|q", "k"), (r"c(?=[eiy])", "s"),
    (r"c", "k"), (r"x", "ks"), (r"z", "s"), (r"gh", ""), (r"wh", "w"), (r"^kn", "n"),
    (r"(?<=[^aeiouAO])e$", ""), (r"([aeiouy])[aeiouy]+", r"\1"), (r"(.)\1+", r"\1"),
)


def sound_key(word: str) -> str:
    key = word.lower()
    for pattern, repl in _SOUND_RULES:
        key = re.sub(pattern, repl, key)
    return key or word.lower()


_BACK_VOWELS = str.maketrans({"o": "U", "O": "U", "u": "U"})
_VOWEL_DISCOUNT = 0.9


def word_similarity(a: str, b: str, loose: bool = True) -> float:
    """How alike two words sound: their rough sound keys compared, and again with the o and u sounds taken
    as one (Whisper writes "coach" as "Kok" for some voices: a short o for the long one), which counts for
    a little less; not with `loose=False`."""
    ka, kb = sound_key(a), sound_key(b)
    if ka == kb:
        return 1.0
    exact = SequenceMatcher(None, ka, kb).ratio()
    if not loose:
        return exact
    classed = SequenceMatcher(None, ka.translate(_BACK_VOWELS), kb.translate(_BACK_VOWELS)).ratio()
    return max(exact, _VOWEL_DISCOUNT * classed)


def phrase_words(phrase: str) -> list[str]:
    return re.findall(r"[\w']+", phrase.lower())


@dataclass(frozen=True)
class PhraseMatch:
    start: int
    """index of the phrase's first word in the heard words"""
    end: int
    """index after its last word"""
    score: float


def word_floor(sensitivity: float) -> float:
    """The similarity every word of the phrase must reach; looser with `sensitivity`."""
    return 0.75 - 0.3 * sensitivity


def match_phrase(heard: Sequence[str], phrase: str, sensitivity: float = 0.5) -> PhraseMatch | None:
    """The earliest run of heard words that sounds like `phrase`, or None.

    Every word must reach a floor and the run's mean a higher bar; both loosen with `sensitivity`.
    Per-word scoring is what rejects "the coach" for "hey coach" although the letters mostly agree.
    """
    target = phrase_words(phrase)
    if not target:
        return None
    floor, bar = word_floor(sensitivity), 1.0 - 0.5 * sensitivity
    words = [re.sub(r"[^\w']", "", w.lower()) for w in heard]
    for i in range(len(words) - len(target) + 1):
        scores = [word_similarity(words[i + j], t) for j, t in enumerate(target)]
        if min(scores) >= floor and sum(scores) / len(scores) >= bar:
            return PhraseMatch(i, i + len(target), sum(scores) / len(scores))
    return None


def strip_phrase(text: str, phrase: str, sensitivity: float = 0.5) -> str:
    """`text` without a leading wake phrase ("Hey coach, where is ..." -> "where is ..."), also when the
    phrase lost its soft start (`clipped_phrase`)."""
    tokens = text.split()
    m = match_phrase(tokens[: len(phrase_words(phrase)) + 1], phrase, sensitivity)
    cut = m.end if m is not None and m.start == 0 else clipped_phrase(tokens, phrase, sensitivity)
    return " ".join(tokens[cut:]).lstrip(" ,.!?;:") if cut else text


def clipped_phrase(tokens: Sequence[str], phrase: str, sensitivity: float = 0.5, onset: bool = False) -> int:
    """How many leading tokens are the wake phrase with its first sound lost, 0 if none. When a question
    begins right after the kiosk stops speaking, its first ~0.1 s can be clipped and Whisper writes "hey
    coach," as "A-coach," "Eycoach," "A coach," or "Coach," (seen in tools/soak.py's runs; the question then
    kept it, and "Eycoach, how long is the probation period." was dismissed as not a question). Taken: one
    or two tokens, the last ending in a comma (Whisper's vocative) or ending the utterance ("A-coach" said
    alone, then a pause), sounding like the phrase's last word, together sounding like the end of the
    phrase. `onset`: something must stand for the lost start ("A coach." or "Eycoach," but not "Coach,"), as
    when waking from sleep: a bystander's "Coach, pass the ball" (or "Anna, ..." for "hey Anna") is not for the
    kiosk, while Whisper base writes a soft-h "Hey coach." as "A coach." for one alignment of the audio in four
    (tests/test_wake_clipped.py)."""
    target = phrase_words(phrase)
    bar = 1.0 - 0.5 * sensitivity
    for n in (1, 2):
        head = tokens[:n]
        if len(head) < n or (n == 2 and len(_letters(head[0])) > 3):
            continue
        alone = n == len(tokens) and (n == 1 or len(_letters(head[0])) <= 2)  # "A coach." but not "The coach."
        if not (head[-1].endswith(",") or alone):
            continue
        last = _letters(head[-1].split("-")[-1])
        joined = _letters("".join(head))
        if onset and not _stands_for_start(head, target[-1], bar):
            continue
        ends = ("".join(target[k:]) for k in range(len(target)))
        # exact sounds only: "Couch, where is it?" keeps its first word
        if word_similarity(last, target[-1], loose=False) >= bar and \
                max(word_similarity(joined, e, loose=False) for e in ends) >= bar:
            return n
    return 0


def _stands_for_start(head: Sequence[str], last_word: str, bar: float) -> bool:
    """Something before the phrase's last word in the clipped tokens: a short word ("A coach"), a hyphened
    start ("A-coach") or letters run into it ("Eycoach"), not the word alone ("Coach," "Coaches,")."""
    if len(head) > 1 or "-" in head[0].strip("-"):
        return True
    letters = _letters(head[0])
    tail = letters[-len(last_word):]
    return len(letters) > len(last_word) and word_similarity(tail, last_word, loose=False) >= bar


def _letters(token: str) -> str:
    return re.sub(r"[^\w']", "", token.lower())


@dataclass(frozen=True)
class WakeHit:
    end_s: float
    """where the phrase ended, seconds from the start of the fed audio"""
    heard: str
    rest: Transcript | None = None
    """the words after the phrase, when the spotter transcribed the whole segment (times from end_s)"""


class WakeSpotter(Protocol):
    name: str

    def start(self) -> None:
        """A new segment begins."""
        ...

    def feed(self, pcm: bytes) -> WakeHit | None:
        """16 kHz mono int16; a streaming spotter may fire here."""
        ...

    def finish(self) -> WakeHit | None:
        """The segment ended; a batch spotter decides here."""
        ...


def _after(transcript: Transcript, words: Sequence[Word], offset_s: float) -> Transcript:
    shifted = tuple(Word(w.word, max(0.0, w.start_s - offset_s), max(0.0, w.end_s - offset_s)) for w in words)
    text = " ".join(w.word for w in shifted).lstrip(" ,.!?;:")
    return Transcript(text=text, words=shifted, engine=transcript.engine, final=True)


def by_sound(result: Transcript, phrase: str, sound: Any, before_s: float | None = None) -> WakeHit | None:
    """The phrase found in the audio's sound (`sound`: PhraseTemplates; None: not looked for), ending by
    `before_s` when given."""
    found = sound.match(result.encoding) if sound is not None and result.encoding is not None else None
    if found is None or (before_s is not None and found.end_s > before_s):
        return None
    rest = [w for w in result.words if (w.start_s + w.end_s) / 2 > found.end_s]
    log.info("wake phrase heard by its sound (distance %.3f) in %r", found.distance, result.text)
    return WakeHit(end_s=found.end_s, heard=phrase, rest=_after(result, rest, found.end_s))


def leading_phrase(result: Transcript, phrase: str, sensitivity: float = 0.5, sound: Any = None,
                   lead_s: float = 0.0) -> WakeHit | None:
    """The wake phrase opening an utterance that was recognized as a question (after an answer, when no
    phrase is needed): a visitor naming the kiosk addresses it, whoever they are. Its opening words as
    spelled (clipped too, see `clipped_phrase`), or its sound ending within a second of the speech's start
    (`lead_s`: the pre-roll before it in the decoded audio)."""
    words = result.words
    tokens = [w.word for w in words]
    m = match_phrase(tokens[: len(phrase_words(phrase)) + 1], phrase, sensitivity)
    cut = m.end if m is not None and m.start == 0 else clipped_phrase(tokens, phrase, sensitivity)
    if cut:
        end_s = words[cut - 1].end_s
        return WakeHit(end_s=end_s, heard=" ".join(tokens[:cut]), rest=_after(result, words[cut:], end_s))
    return by_sound(result, phrase, sound, before_s=lead_s + 1.0 + 0.2 * len(phrase_words(phrase)))


class TranscriptSpotter:
    """Runs a (non-streaming) recognizer over the segment and finds the phrase in its words."""

    name = "transcript"

    def __init__(self, engine: AsrEngine, phrase: str, sensitivity: float = 0.5, sound: Any = None) -> None:
        """`sound`: kiosk.listen.wake_templates.PhraseTemplates, to hear the phrase when Whisper misspells it."""
        self.engine, self.phrase, self.sensitivity, self.sound = engine, phrase, sensitivity, sound

    def start(self) -> None:
        self.engine.start()

    def feed(self, pcm: bytes) -> WakeHit | None:
        self.engine.feed(pcm)
        return None

    def decode_early(self) -> None:
        if hasattr(self.engine, "decode_early"):
            self.engine.decode_early()

    def discard_early(self) -> None:
        if hasattr(self.engine, "discard_early"):
            self.engine.discard_early()

    def peek(self) -> str | None:
        peek = getattr(self.engine, "peek", None)
        return peek() if peek is not None else None

    def finish(self) -> WakeHit | None:
        result = self.engine.finish()
        m = match_phrase([w.word for w in result.words], self.phrase, self.sensitivity)
        if m is None and self._doubtful(result):
            # Whisper on a shortened window sometimes loses the phrase's soft start ("A coach, where
            # ..."); the full window decides, so such a wake is only later, never missed.
            again = getattr(self.engine, "finish_again_full", lambda: None)()
            if again is not None:
                log.debug("wake phrase doubtful in %r; full window: %r", result.text, again.text)
                result = again
                m = match_phrase([w.word for w in result.words], self.phrase, self.sensitivity)
        words = result.words
        start, end = (m.start, m.end) if m is not None else (0, clipped_phrase(
            [w.word for w in words], self.phrase, self.sensitivity, onset=True))
        if not end:
            return self._by_sound(result)
        end_s = words[end - 1].end_s
        heard = " ".join(w.word for w in words[start:end])
        log.info("wake phrase heard as %r (%s) in %r", heard, f"score {m.score:.2f}" if m else "its start lost",
                 result.text)
        return WakeHit(end_s=end_s, heard=heard, rest=_after(result, words[end:], end_s))

    def _by_sound(self, result: Transcript) -> WakeHit | None:
        """The transcript does not hold the phrase: does the audio sound like it?"""
        hit = by_sound(result, self.phrase, self.sound)
        if hit is None and result.text:
            log.debug("no wake phrase in %r", result.text)
        return hit

    def _doubtful(self, result: Transcript) -> bool:
        """Some word near the start sounds like one of the phrase's words."""
        floor = word_floor(self.sensitivity)
        target = phrase_words(self.phrase)
        return any(word_similarity(re.sub(r"[^\w']", "", w.word.lower()), t) >= floor
                   for w in result.words[: len(target) + 1] for t in target)


class VoskGrammarSpotter:
    """A Vosk recognizer restricted to the phrase and decoy words; fires on the first partial holding it.

    The decoys give everything else somewhere to go: with the phrase alone in the grammar (or only
    "[unk]", which small models may lack), Kaldi maps any speech onto the phrase.
    """

    name = "vosk-grammar"

    def __init__(self, model: Any, phrase: str, decoys: Sequence[str] = (), min_confidence: float = 0.6,
                 sample_rate: int = 16000) -> None:
        self._model, self.phrase, self.sample_rate = model, " ".join(phrase_words(phrase)), sample_rate
        self.min_confidence = min_confidence
        missing = [w for w in self.phrase.split() if model.vosk_model_find_word(w) < 0]
        if missing:
            raise ValueError(f"listen.wake_phrase {phrase!r}: {', '.join(missing)} not in the Vosk model's "
                             "vocabulary; choose other words or use listen.engine = \"whisper\"")
        known = [w for w in dict.fromkeys(["[unk]", *self.phrase.split(), *decoys])
                 if model.vosk_model_find_word(w) >= 0]
        if len(known) < 5:
            log.warning("wake phrase spotting with only %d decoy words (listen.wake_decoys): expect false wakes",
                        len(known))
        self._grammar = json.dumps([self.phrase, *known], ensure_ascii=False)
        self._rec: Any = None
        self._done = False

    def start(self) -> None:
        import vosk

        self._rec = vosk.KaldiRecognizer(self._model, self.sample_rate, self._grammar)
        self._rec.SetWords(True)
        self._done = False

    def feed(self, pcm: bytes) -> WakeHit | None:
        if self._rec is None:
            self.start()
        if self._done or not pcm:
            return None
        if self._rec.AcceptWaveform(pcm):
            return self._hit(json.loads(self._rec.Result()))
        if self.phrase in json.loads(self._rec.PartialResult()).get("partial", ""):
            return self._hit(json.loads(self._rec.FinalResult()))  # FinalResult carries the word times
        return None

    def finish(self) -> WakeHit | None:
        if self._rec is None or self._done:
            return None
        hit = self._hit(json.loads(self._rec.FinalResult()))
        self._rec = None
        return hit

    def _hit(self, result: dict[str, Any]) -> WakeHit | None:
        words = result.get("result", [])
        target = self.phrase.split()
        for i in range(len(words) - len(target) + 1):
            run = words[i:i + len(target)]
            confident = min(float(w.get("conf", 1.0)) for w in run) >= self.min_confidence
            if [w["word"] for w in run] == target and confident:
                self._done = True  # one wake per segment; the rest of it is the question
                return WakeHit(end_s=float(words[i + len(target) - 1]["end"]), heard=self.phrase)
        return None

"""Is the visitor's answer right? Normalized matching first (case, fillers, numbers as words, clock times:
"two" = "2", "2 pm" = "14:00"), the accepted answer's own words found in what was said, with hedges and
negations counted as wrong; then, where configured, closeness in meaning through an embedding model. Every
verdict says why, so a trainer can see how each answer was judged."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.learn.question import Question

_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
          "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
_ORDINALS = {"first": "1", "second": "2", "third": "3", "fourth": "4", "fifth": "5"}
_FILLERS = {"um", "uh", "er", "erm", "hmm", "so", "well", "i", "think", "guess", "its", "it", "is", "the", "a",
            "an", "maybe", "probably", "like", "answer", "that", "would", "be", "say", "i'd", "im", "sure", "oh",
            "okay", "ok", "yeah", "of", "course"}
_NEGATIONS = {"not", "no", "never", "isnt", "isn't", "dont", "don't", "neither", "nor"}
SEMANTIC_THRESHOLD = 0.85


@dataclass(frozen=True)
class Verdict:
    correct: bool
    reason: str
    """how it was judged: "same words", "the answer's words in what was said", "close in meaning (0.91)" ..."""
    expected: str
    """the accepted answer it was judged against (the first one when wrong)"""


def _numbers(words: list[str]) -> list[str]:
    """Number words as digits: "twenty one" -> "21", "two hundred" -> "200", "seven forty five" -> "7 45";
    ordinals up to fifth."""
    out: list[str] = []
    value: int | None = None

    def flush() -> None:
        nonlocal value
        if value is not None:
            out.append(str(value))
            value = None

    for w in words:
        if w in _UNITS:
            if value is not None and (value % 10 or value < 20):  # "seven ... nine": two numbers
                flush()
            value = (value or 0) + _UNITS.index(w)
        elif w in _TENS:
            if value is not None and value % 100 != 0:  # "seven forty": a new number starts
                flush()
            value = (value or 0) + _TENS[w]
        elif w == "hundred" and value is not None:
            value *= 100
        elif w == "and" and value is not None and value % 100 == 0:
            continue
        else:
            flush()
            out.append(_ORDINALS.get(w, w))
    flush()
    return out


def _times(text: str) -> str:
    """Clock times in one form: "2 pm", "2:30 p.m.", "14.00", "noon" -> "14:00", "14:30", "14:00", "12:00"."""
    def twelve(m: re.Match[str]) -> str:
        hour, minute, half = int(m.group(1)), int(m.group(2) or 0), m.group(3)[0]
        hour = hour % 12 + (12 if half == "p" else 0)
        return f"{hour:02d}:{minute:02d}"

    text = re.sub(r"\b(\d{1,2}) ([1-5]\d)\b", r"\1:\2", text)  # "seven forty five" -> 7:45
    text = re.sub(r"\bquarter to (\d{1,2})\b", lambda m: f"{(int(m.group(1)) - 1) % 24}:45", text)
    text = re.sub(r"\bhalf past (\d{1,2})\b", lambda m: f"{m.group(1)}:30", text)
    text = re.sub(r"\bhalf (\d{1,2})\b", lambda m: f"{m.group(1)}:30", text)  # British "half nine" = 9:30
    text = re.sub(r"\bquarter past (\d{1,2})\b", lambda m: f"{m.group(1)}:15", text)
    text = re.sub(r"\b(\d{1,2}(?::\d{2})?) (?:in the )?(afternoon|evening|tonight|at night)\b", r"\1 pm", text)
    text = re.sub(r"\b(\d{1,2}(?::\d{2})?) (?:in the )?morning\b", r"\1 am", text)
    text = re.sub(r"\b(\d{1,2}) o ?clock\b", r"\1:00", text)
    text = re.sub(r"\b(\d{1,2})(?:[:.](\d{2}))?\s*([ap])\.?\s*m\b\.?", twelve, text)
    text = re.sub(r"\b(\d{1,2})[:.](\d{2})\b", lambda m: f"{int(m.group(1)):02d}:{m.group(2)}", text)
    return re.sub(r"\bnoon\b|\bmidday\b", "12:00", text)


_DURATIONS = ((r"\bhalf an hour\b", "30 minutes"), (r"\bquarter of an hour\b", "15 minutes"),
              (r"\b(?:an|one) hour\b", "1 hour"), (r"\ba minute\b", "1 minute"))


def normalize(text: str) -> list[str]:
    """The words that carry the answer, in one spelling."""
    text = text.lower().replace("’", "'").replace("-", " ")
    for pattern, replacement in _DURATIONS:
        text = re.sub(pattern, replacement, text)
    text = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", text)  # "b214" is "b 214", like "B-214"
    found = re.findall(r"\d{1,2}[:.]\d{2}|[a-z0-9']+", text)
    text = _times(" ".join(_numbers([w.replace("'", "") if w != "i'd" else w for w in found])))
    return [w for w in re.findall(r"\d{2}:\d{2}|[a-z0-9]+", text) if w not in _FILLERS]


def _contains(haystack: list[str], needle: list[str]) -> int:
    """Index of `needle` as consecutive words in `haystack`, or -1."""
    for i in range(len(haystack) - len(needle) + 1):
        if haystack[i:i + len(needle)] == needle:
            return i
    return -1


_HALF_DAY = re.compile(r"\b(?:[ap]\.?\s?m\b|morning|afternoon|evening|night|tonight|noon)", re.IGNORECASE)


def _same_clock(heard: str, said: list[str], want: list[str]) -> bool:
    """"two o'clock" for 14:00: a time said without am/pm (or morning, evening ...) is the same clock time
    twelve hours apart; "two in the morning" is not."""
    if _HALF_DAY.search(heard):
        return False
    times = [w for w in want if re.fullmatch(r"\d{2}:\d{2}", w)]
    if len(times) != 1:
        return False
    hour, minute = int(times[0][:2]), times[0][3:]
    said_times = [w for w in said if re.fullmatch(r"\d{2}:\d{2}", w)]
    return (len(said_times) == 1 and said_times[0][3:] == minute and int(said_times[0][:2]) <= 12
            and int(said_times[0][:2]) % 12 == hour % 12)


def judge(heard: str, question: Question, similar: Callable[[str, str], float] | None = None) -> Verdict:
    said = normalize(heard)
    # "three fifty" is 3:50 or 350, "three five zero" is 350: a number said in parts is tried joined too
    joined = _join_digits([str(int(w[:2])) + w[3:] if re.fullmatch(r"\d{2}:\d{2}", w) else w for w in said])
    verdict = _judge(heard, said, question)
    if not verdict.correct and joined != said:
        other = _judge(heard, joined, question)
        if other.correct:
            return other
    if verdict.correct or similar is None:
        return verdict
    best, answer = max(((similar(heard, a), a) for a in question.answers), default=(0.0, verdict.expected))
    if best >= SEMANTIC_THRESHOLD:
        return Verdict(True, f"close in meaning ({best:.2f})", answer)
    return Verdict(False, f"{verdict.reason} (closest in meaning {best:.2f})", verdict.expected)


def _join_digits(words: list[str]) -> list[str]:
    out: list[str] = []
    for w in words:
        if len(w) == 1 and w.isdigit() and out and out[-1].isdigit() and len(out[-1]) < 4:
            out[-1] += w
        else:
            out.append(w)
    return out


_UNIT_WORDS = {"mph", "km", "h", "kilometres", "kilometers", "miles", "mile", "hour", "hours", "minutes", "minute",
               "days", "day", "db", "decibels", "percent", "dollars", "euros", "weeks", "week", "years", "year", "per"}


def _number_alone(said: list[str], want: list[str]) -> bool:
    """"five" for "5 mph": every word said is the answer's number or one of its units."""
    numbers = [w for w in want if w.isdigit()]
    return bool(numbers) and all(w in numbers or w in _UNIT_WORDS for w in said) and \
        all(n in said for n in numbers) and all(w.isdigit() or w in _UNIT_WORDS for w in want)


def _per(said: list[str], i: int) -> bool:
    """"an" between two units is "per", not one: "5 mph an hour" (as Whisper writes "five miles an hour")."""
    return (said[i] == "1" and 0 < i < len(said) - 1 and said[i - 1] in _UNIT_WORDS
            and said[i + 1] in _UNIT_WORDS)


def _judge(heard: str, said: list[str], question: Question) -> Verdict:
    asked = set(normalize(question.text))
    first = question.answers[0] if question.answers else ""
    if not said:
        return Verdict(False, "nothing that could be an answer", first)
    for answer in question.answers:
        want = normalize(answer)
        if not want:
            continue
        if said == want:
            return Verdict(True, "same words", answer)
        if _same_clock(heard, said, want):
            return Verdict(True, "the same clock time", answer)
        key = [w for w in want if w not in asked] or want  # "hall 2" for "which hall ...?" is "2"
        at = _contains(said, want)
        if at < 0:
            at = _contains(said, key)
        if at < 0 and _number_alone(said, want):
            return Verdict(True, "the right number, without its unit", answer)
        if at < 0:
            continue
        before = said[max(0, at - 2):at]
        if _NEGATIONS & set(before):
            return Verdict(False, f"said not {' '.join(key)}", answer)
        others = [w for i, w in enumerate(said) if w.isdigit() and w not in want and w not in asked
                  and not _per(said, i)]
        if others or {"or", "either"} & set(said):
            return Verdict(False, "more than one answer given", answer)
        return Verdict(True, "the answer's words in what was said", answer)
    return Verdict(False, "not the answer", first)

"""The rubric's rules: each criterion of a scenario rated met / partly / not from what the learner said, with
the learner's own words that earned the rating quoted as evidence. Deterministic, so a trainer can see why:
phrases found (after kiosk/learn/spoken.py's one spelling), questions asked (also without "?"), acknowledging
words, share of the talking, turn length and interruptions. A language model may judge some criteria on top
(kiosk/learn/rubric_model.py); each rating says which decided it (`by`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kiosk.learn import spoken
from kiosk.learn.scenario_file import Criterion

RATINGS = ("met", "partly", "not")
QUOTE_WORDS = 24
"""evidence longer than this is shortened around what earned it"""
SHARE_SLACK = 0.1
"""talk_share: this far outside the range is `partly`"""


@dataclass(frozen=True)
class Turn:
    role: str
    """"learner" or "character" """
    text: str
    interrupted: bool = False
    """the learner started while the character was still speaking (the voice mode knows; text input can say so)"""
    seconds: float | None = None
    """how long it took to say (voice mode); talk_share counts words when a turn lacks it"""


@dataclass(frozen=True)
class Rating:
    criterion: str
    rating: str
    """one of RATINGS"""
    evidence: str
    """the learner's own words that earned the rating, quoted; "" when nothing they said shows it"""
    reason: str
    """what the rule (or the model) found, in a few words"""
    by: str = "rule"
    """"rule" or "model": which decided the rating"""

    def as_json(self) -> dict[str, str]:
        return {"criterion": self.criterion, "rating": self.rating, "evidence": self.evidence, "by": self.by,
                "reason": self.reason}


def quote(text: str, around: str = "") -> str:
    """The learner's words in quotes: the sentence holding `around` (the phrase that earned the rating), else the
    whole turn, shortened when long."""
    text = " ".join(text.split())
    pick = next((s for s in spoken.sentences(text) if around and spoken.says(s, around)), None)
    text = pick or text
    if len(text.split()) > QUOTE_WORDS:
        text = " ".join(text.split()[:QUOTE_WORDS]) + " …"
    return f'"{text}"'


def _n(count: int, thing: str) -> str:
    """"1 turn", "2 turns" (and "no turns")."""
    return f"{count or 'no'} {thing}{'' if count == 1 else 's'}"


def _quotes(items: list[str], limit: int = 2) -> str:
    return " / ".join(items[:limit])


def _learner(turns: list[Turn]) -> list[Turn]:
    return [t for t in turns if t.role == "learner"]


def _phrases(c: Criterion, turns: list[Turn]) -> Rating:
    said: dict[int, tuple[str, str]] = {}  # group -> (the phrase said, the quote that holds it), first time said
    for turn in _learner(turns):
        for g, group in enumerate(c.groups):
            phrase = next((p for p in group if spoken.says(turn.text, p)), None)
            if g not in said and phrase is not None:
                said[g] = (phrase, quote(turn.text, phrase))
    # one thing said once: "day before" inside "the day before", "registered" and "register"
    counted: list[list[str]] = []
    for phrase, _ in sorted(said.values(), key=lambda s: -len(spoken.words(s[0]))):
        if not any(spoken.find(longer, spoken.words(phrase), gap=0) >= 0 for longer in counted):
            counted.append(spoken.words(phrase))
    need = c.params["need"]
    found = ", ".join(f'"{p}"' for p, _ in said.values())
    quotes = _quotes(list(dict.fromkeys(q for _, q in said.values())))
    if len(counted) >= need:
        return Rating(c.name, "met", quotes, f"said {found}")
    if counted:
        return Rating(c.name, "partly", quotes, f"said {found}; {need} different things needed")
    return Rating(c.name, "not", "", f'none of the phrases said (for example "{c.phrases[0]}")')


def _avoids(c: Criterion, turns: list[Turn]) -> Rating:
    slips = [(turn, p) for turn in _learner(turns) for p in c.phrases if spoken.says(turn.text, p)]
    turns_with = list(dict.fromkeys(quote(t.text, p) for t, p in slips))
    phrases = ", ".join(dict.fromkeys(f'"{p}"' for _, p in slips))
    if not slips:
        return Rating(c.name, "met", "", "none of the phrases to avoid said")
    rating = "partly" if len(turns_with) == 1 else "not"
    return Rating(c.name, rating, _quotes(turns_with), f"said {phrases} in {_n(len(turns_with), 'turn')}")


def _asks_questions(c: Criterion, turns: list[Turn]) -> Rating:
    asked = [(s, kind) for turn in _learner(turns) for s, kind in spoken.questions(turn.text)]
    counted = [s for s, kind in asked if kind == "open" or not c.params["open_only"]]
    need, what = c.params["min"], "open question" if c.params["open_only"] else "question"
    closed = len(asked) - len(counted)
    extra = f" ({_n(closed, 'yes-or-no question')} not counted)" if closed else ""
    if len(counted) >= need:
        return Rating(c.name, "met", _quotes([quote(s) for s in counted]), f"{_n(len(counted), what)}{extra}")
    if counted:
        return Rating(c.name, "partly", _quotes([quote(s) for s in counted]),
                      f"{len(counted)} of {_n(need, what)} needed{extra}")
    return Rating(c.name, "not", _quotes([quote(s) for s, _ in asked]), f"{_n(0, what)}{extra}")


def _acknowledges(c: Criterion, turns: list[Turn]) -> Rating:
    lexicon = spoken.ACKNOWLEDGING + c.phrases
    hits = []  # (learner turn number, quote)
    for n, turn in enumerate(_learner(turns), start=1):
        phrase = next((p for p in lexicon if spoken.says(turn.text, p)), None)
        if phrase is not None:
            hits.append((n, quote(turn.text, phrase)))
    need, within = c.params["min"], c.params["within"]
    quotes = _quotes([q for _, q in hits])
    if not hits:
        return Rating(c.name, "not", "", "no acknowledging words")
    early = [n for n, _ in hits if not within or n <= within]
    if len(hits) >= need and early:
        when = f", first in turn {hits[0][0]}" if within else ""
        return Rating(c.name, "met", quotes, f"acknowledged in {_n(len(hits), 'turn')}{when}")
    if not early:
        return Rating(c.name, "partly", quotes, f"acknowledged only in turn {hits[0][0]}, not within the first "
                                                f"{within}")
    return Rating(c.name, "partly", quotes, f"acknowledged in {len(hits)} of {_n(need, 'turn')} needed")


def _talk_share(c: Criterion, turns: list[Turn]) -> Rating:
    timed = bool(turns) and all(t.seconds is not None for t in turns)

    def amount(t: Turn) -> float:
        return float(t.seconds or 0.0) if timed else float(len(t.text.split()))

    mine = sum(amount(t) for t in _learner(turns))
    total = sum(amount(t) for t in turns)
    share = mine / total if total else 0.0
    low, high = c.params["min"], c.params["max"]
    unit = "talking time" if timed else "words"
    reason = f"you had {share:.0%} of the {unit} ({low:.0%} to {high:.0%} is good)"
    longest = max(_learner(turns), key=lambda t: len(t.text.split()), default=None)
    evidence = quote(longest.text) if longest is not None and share > high else ""
    if low <= share <= high:
        return Rating(c.name, "met", evidence, reason)
    if low - SHARE_SLACK <= share <= high + SHARE_SLACK:
        return Rating(c.name, "partly", evidence, reason)
    return Rating(c.name, "not", evidence, reason)


def _turn_length(c: Criterion, turns: list[Turn]) -> Rating:
    limit = c.params["max_words"]
    long = [t for t in _learner(turns) if len(t.text.split()) > limit]
    quotes = _quotes([quote(t.text) for t in long])
    if not long:
        most = max((len(t.text.split()) for t in _learner(turns)), default=0)
        return Rating(c.name, "met", "", f"every turn {limit} words or fewer (longest {most})")
    rating = "partly" if len(long) == 1 else "not"
    return Rating(c.name, rating, quotes, f"{_n(len(long), 'turn')} over {limit} words")


def _interruptions(c: Criterion, turns: list[Turn]) -> Rating:
    cut_in = [t for t in _learner(turns) if t.interrupted]
    allowed = c.params["max"]
    quotes = _quotes([quote(t.text) for t in cut_in])
    if len(cut_in) <= allowed:
        return Rating(c.name, "met", quotes, f"{_n(len(cut_in), 'interruption')}")
    rating = "partly" if len(cut_in) == allowed + 1 else "not"
    return Rating(c.name, rating, quotes, f"interrupted {_n(len(cut_in), 'time')}")


RULES: dict[str, Callable[[Criterion, list[Turn]], Rating]] = {
    "phrases": _phrases, "avoids": _avoids, "asks_questions": _asks_questions, "acknowledges": _acknowledges,
    "talk_share": _talk_share, "turn_length": _turn_length, "interruptions": _interruptions,
}


def rate(criterion: Criterion, turns: list[Turn]) -> Rating:
    return RULES[criterion.check](criterion, turns)


def rate_all(criteria: tuple[Criterion, ...], turns: list[Turn]) -> list[Rating]:
    return [rate(c, turns) for c in criteria]

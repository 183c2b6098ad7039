"""Checkable facts in a document sentence: a clock time, a room code, an amount of money, a number with its
unit, an extension, a network or form name, a named place, a weekday. `kiosk quiz generate` turns them into
quiz answers, so each fact comes with the answers a visitor may say (the judge already hears "nine thirty"
as 9:30 and "B two one four" as B-214, so one spelling is enough; a bare number is added where the judge
would otherwise insist on the unit).

Rules on the surface, like kiosk/knowledge/answer_type.py: crude, but they never invent a fact, and a
person reviews every drafted question anyway."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kiosk.knowledge.answer_type import Wants, wants
from kiosk.learn.judge import normalize


@dataclass(frozen=True)
class Fact:
    kind: str
    """time | room | money | quantity | extension | name | place | day | number"""
    start: int
    end: int
    answers: tuple[str, ...]
    """what counts as right, the spelling of the document first"""
    unit: str = ""
    """quantity: its unit as written ("days")"""


_TIME_UNITS = r"minutes?|hours?|days?|weeks?|months?|years?|working days|business days|calendar days"
_UNITS = (_TIME_UNITS + r"|percent|characters|miles?|meters|metres|mph|km/h|dB|decibels|sessions|"
          r"paychecks|trainings|people")
# Units the judge lets a visitor leave out ("five" for "5 mph"); for any other unit the bare number is added.
_DROPPABLE = {"minute", "minutes", "hour", "hours", "day", "days", "week", "weeks", "year", "years", "percent",
              "mph", "miles", "mile", "db", "decibels"}
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((kind, re.compile(pattern)) for kind, pattern in (
    ("time", r"(?<![\d:.,$-])\d{1,2}:\d{2}(?![\d:])(?:\s?[ap]\.?m\.?)?"),
    ("room", r"\b[A-Z]-[A-Z]?\d{2,4}\b(?!-)"),
    ("money", r"\$\d{1,3}(?:,\d{3})*(?![\d.,]\d)"),
    ("quantity", rf"(?<![\d:.,$-])\b(\d{{1,5}})\s+({_UNITS})\b"),
    ("extension", r"\bextension (\d{2,5})\b"),
    ("name", r"\b[A-Z]{2,}(?:-[A-Z0-9]{2,})+\b"),
    ("place", r"\b(?:Building|Zone|Lot|Gate|Hall|Dock|Door|Assembly Point|Line|Bay)\s+(?:[A-Z]|\d{1,2})\b"
              r"|\bthe [A-Z][a-z]+ room\b"),
    ("day", r"\b(?:every (?:other )?)?(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b"),
    ("number", r"(?<![\d:.,$-])\b\d{3,5}\b(?![\d:.,-]\d)"),
))
_RANGE = re.compile(r"^\s*(?:to|-|–|until|and|through)\s+[\dA-Z]")


def _survives(answer: str) -> bool:
    """What tells the answer apart is still there once the judge normalizes it: "Building A" loses its "A"
    (a filler word to the judge), so "Building B" would count as right; such answers are not drafted. A room
    code keeps its number ("A-115" is "115" to the judge), which is what tells rooms apart."""
    kept = set(" ".join(normalize(answer)).split())
    return bool(kept) and (any(w.isdigit() for w in kept)
                           or all(w in kept for w in re.findall(r"[a-z]+", answer.lower())))


def _fact(kind: str, m: re.Match[str]) -> Fact:
    text = m.group(0)
    if kind == "quantity":
        number, unit = m.group(1), m.group(2)
        answers = (text,) if unit.lower() in _DROPPABLE else (text, number)
        return Fact(kind, m.start(), m.end(), answers, unit)
    if kind == "extension":
        return Fact(kind, m.start(1), m.end(1), (m.group(1),))
    if kind == "money":
        plain = text[1:].replace(",", "")
        # "$1,500" is "1 500" to the judge; "fifteen hundred dollars" needs "1500"
        return Fact(kind, m.start(), m.end(), (text, plain) if plain != text[1:] else (text,))
    if kind == "day":
        day = text.split()[-1]
        return Fact(kind, m.start(), m.end(), (text, day) if day != text else (text,))
    if kind == "place" and text.startswith("the "):
        return Fact(kind, m.start() + 4, m.end(), (text[4:],))
    return Fact(kind, m.start(), m.end(), (text,))


def find_facts(sentence: str) -> list[Fact]:
    """The facts of a sentence in reading order; where two overlap (the "14" of "14:00"), the first kind
    listed in _PATTERNS wins."""
    found: list[Fact] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(sentence):
            fact = _fact(kind, m)
            if kind != "time" and not all(_survives(a) for a in fact.answers):
                continue
            if any(fact.start < f.end and f.start < fact.end for f in found):
                continue
            found.append(fact)
    return sorted(found, key=lambda f: f.start)


def in_range(sentence: str, fact: Fact) -> bool:
    """"from 7:00 to 9:30": one end of a range, which a one-word answer would misstate."""
    return bool(_RANGE.match(sentence[fact.end:])) or bool(re.search(r"(?:\bto|-|–)\s*$", sentence[:fact.start])
                                                            and fact.kind in ("time", "day"))


# What each kind of question is answered by, in order of preference.
_WANTED: dict[Wants, tuple[str, ...]] = {
    Wants.TIME: ("time", "day", "quantity"),
    Wants.PLACE: ("room", "place"),
    Wants.DURATION: ("quantity",),
    Wants.MONEY: ("money", "quantity"),
    Wants.AMOUNT: ("quantity", "money", "number"),
    Wants.PHONE: ("extension", "number"),
    Wants.ANY: ("name", "room", "place", "time", "money", "quantity"),
}
_AUXILIARY = r"^(?:can|could|may|do|does|is|are|am|will|should|must|have|has)\b"
_CONTACT = re.compile(r"\b(?:call|contact|to|tell|reach)\s+(?P<who>(?:the\s+)?[A-Z][\w&]*(?:\s+[A-Z][\w&]*){0,2}"
                      r"(?:\s+(?:desk|team|office))?)\s+(?:at|on)\s+extension\b")


def faq_answer(question: str, answer: str) -> tuple[str, ...]:
    """The short answer to an FAQ question, from its full answer: the fact of the kind the question asks for
    (a time for "when", a room for "where" ...), "yes"/"no" for a yes-no question answered so, () when no
    short answer can be told apart (a procedure, a list)."""
    question = re.split(r"(?<=[.!?])\s+", question.strip())[-1]  # "I lost my badge. What do I do?"
    said = re.match(r"^\s*(yes|no)\b", answer, re.IGNORECASE)
    kind = wants(question)
    if said and (kind is Wants.YES_NO or re.match(_AUXILIARY, question, re.IGNORECASE)):
        return (said.group(1).lower(),)
    if kind is Wants.YES_NO or re.match(_AUXILIARY, question, re.IGNORECASE):
        return ()  # "does a badge cost anything?" is not answered by "$20"
    if kind is Wants.CONTACT:
        m = _CONTACT.search(answer)
        if m is None:
            return ()
        who = re.sub(r"^the\s+", "", m.group("who"))
        short = re.sub(r"\s+(?:desk|team|office)$", "", who)
        answers = (who, short) if short != who else (who,)
        return answers if all(_survives(a) for a in answers) else ()
    order = _WANTED.get(kind, ())
    facts = [f for f in find_facts(answer) if f.kind in order and not in_range(answer, f)]
    if not facts:
        return ()
    asked = set(normalize(question))
    # "how many sick days?": the quantity in days, not the one in hours before it
    same_unit = [f for f in facts if f.kind == "quantity" and set(normalize(f.unit)) & asked]
    # an emergency number is the first one said ("call 911 first, then extension 411")
    rank = (lambda f: f.start) if kind is Wants.PHONE else (lambda f: (order.index(f.kind), f.start))
    best = same_unit[0] if same_unit else min(facts, key=rank)
    return best.answers

"""A document sentence with a checkable fact, asked as a question: a few rules for the common shapes of
handbook sentences ("The IT help desk is in room B-214 ..." -> "Where is the IT help desk?", "Orientation
starts at 9:30" -> "What time does orientation start?", "The company reimburses up to $50 per month for a
gym membership" -> "How much does the company reimburse per month for a gym membership?"), and for every
other sentence a gap to fill ("Fill the gap: ..."). Drafts for a person to edit, not finished questions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from kiosk.learn.facts import Fact

_DETERMINERS = {"the", "a", "an", "your", "our", "every", "each", "all", "any", "new", "most", "some", "this"}
_PRONOUNS = {"it", "they", "this", "these", "that", "those", "he", "she", "its", "their", "there", "here", "both"}
_PLURAL_SUBJECTS = {"you", "we", "employees", "visitors", "parents", "people", "staff", "guests", "drivers"}
_MODALS = ("can", "must", "may", "will", "should")
_NOT_VERBS = {"is", "are", "was", "has", "this", "its", "plus", "as", "us", "bus", "class", "campus", "news",
              "less", "process", "access", "address", "business", "days", "hours", "weeks", "years", "minutes",
              "about", "for", "with", "from", "in", "on", "at", "to", "of", "per", "by", "over", "under", "up",
              "than", "only", "also", "always", "never", "usually", "then", "and", "or", "but", "after", "before"}
_SUBJECT = r"(?P<subj>[A-Za-z][\w'’-]*(?: [\w'’()-]+){0,5}?)"


@dataclass(frozen=True)
class _Clause:
    subject: str
    aux: str
    """does | do | is | are | can | must ..."""
    verb: str
    """the verb after aux ("start" of "starts"; "" after is/are)"""
    mid: str
    """the words between the verb and the fact"""


def _subject(subj: str) -> str:
    """"The IT help desk" -> "the IT help desk" inside a question; a name stays capitalized."""
    first, _, rest = subj.partition(" ")
    if first.lower() in _DETERMINERS or (first[1:].islower() and not rest[:1].isupper()):
        first = first.lower()
    return f"{first} {rest}".strip()


def _base(verb: str) -> str | None:
    """"start" for "starts", "reimburse" for "reimburses", "apply" for "applies"; None for no such verb."""
    if verb == "has":
        return "have"
    if verb in _NOT_VERBS or len(verb) < 4 or verb.endswith("ss"):
        return None
    if verb.endswith("ies"):
        return verb[:-3] + "y"
    if re.search(r"(?:sh|ch|x|z)es$", verb):
        return verb[:-2]
    return verb[:-1]


_IMPERATIVES = {"go", "call", "press", "report", "leave", "tell", "use", "send", "open", "bring", "ask", "stop",
                "put", "take", "wear", "fill", "sign", "log", "book", "request", "contact", "follow", "keep", "check",
                "register", "show", "lock", "move", "walk", "wait", "plan", "rinse", "park", "enroll", "submit",
                "complete", "choose", "come", "make", "return", "remove", "read", "store", "replace", "agree"}
# words that start a subordinate clause or a prepositional phrase, not a subject
_NOT_SUBJECTS = {"on", "in", "at", "for", "from", "after", "before", "during", "if", "when", "with", "by", "to",
                 "of", "under", "over", "once", "while", "as", "although", "because", "since", "unless", "until",
                 "that", "which", "who", "where", "and", "or", "but", "than"}
_VERB_PATTERNS = (  # (pattern, the longest subject first): "A benefits enrollment session takes place"
    (rf" (?P<aux>{'|'.join(_MODALS)}) (?P<verb>[a-z]+)", False), (r" (?P<aux>is|are)(?P<verb>)", False),
    (r" (?P<verb>[a-z]{3,}s)", True), (r" (?P<verb>[a-z]{3,})", False))


def _clauses(before: str) -> Iterator[_Clause]:
    """The readings of the clause the fact ends as subject, verb and the words up to the fact: "The company
    reimburses up to " -> ("the company", "does", "reimburse", "up to"); the likeliest first."""
    before = re.split(r"[;]|, (?:and|but|so|while) ", before)[-1].lstrip()
    first = before.split()[0].lower().strip("\"'(") if before.split() else ""
    if not first or first in _PRONOUNS or first in _IMPERATIVES or first in _NOT_SUBJECTS:
        return
    for verb_pattern, longest in _VERB_PATTERNS:
        subject = _SUBJECT.replace("?)", ")") if longest else _SUBJECT
        m = re.match(subject + verb_pattern + r"(?P<mid>(?: [^ ;]+)*) ?$", before)
        if m is None or "," in m.group("subj") or _NOT_SUBJECTS & set(m.group("subj").lower().split()[1:]):
            continue
        subj, verb, aux = m.group("subj"), m.group("verb"), m.groupdict().get("aux") or ""
        if not aux and verb.endswith("s"):
            base = _base(verb)
            if base is None:
                continue
            aux, verb = "does", base
        elif not aux:  # "full-time employees earn": only after a plural subject
            last = subj.split()[-1].lower()
            if verb in _NOT_VERBS or verb.endswith(("ed", "ly", "ing")) or not (
                    last in _PLURAL_SUBJECTS or (last.endswith("s") and not last.endswith("ss"))):
                continue
            aux = "do"
        yield _Clause(_subject(subj), aux, verb, m.group("mid").strip())


def _ask(words: str, c: _Clause, tail: str = "") -> str:
    verb = f" {c.verb}" if c.verb else ""
    return f"{words} {c.aux} {c.subject}{verb}{tail}?"


def _rest(text: str) -> str:
    """What follows the fact, up to the end of its clause: " per month for a gym membership"."""
    rest = re.split(r"[,;:(.]| (?:and|or|but|so|which|who|that|is|are|was|were|has|have|may|can|must) ",
                    text, maxsplit=1)[0]
    return rest.rstrip()


def _where(sentence: str, fact: Fact) -> str | None:
    for c in _clauses(sentence[:fact.start]):
        if c.aux in ("is", "are") and (not c.mid or re.match(_PLACED, c.mid)):
            return f"Where {c.aux} {c.subject}?"
    return None


_PLACED = r"^(?:located |found |kept )?(?:in|at|on|next to|inside|room)\b"
_PREPOSITIONS = {"at": "What time", "from": "From what time", "until": "Until what time", "by": "By what time"}


def _when(sentence: str, fact: Fact) -> str | None:
    for c in _clauses(sentence[:fact.start]):
        m = re.match(r"^(?P<mid>.*?) ?\b(?P<prep>at|from|until|by)$", c.mid)
        if m is None or "," in c.mid:
            continue
        words, mid = _PREPOSITIONS[m.group("prep")], m.group("mid")
        if words == "From what time" and mid == "open" and c.aux in ("is", "are"):
            return f"What time {'does' if c.aux == 'is' else 'do'} {c.subject} open?"
        return _ask(words, c, f" {mid}" if mid else "")
    return None


_LEADS = {"", "up to", "at least", "about", "only", "more than", "at most", "a", "an"}


def _how_much(sentence: str, fact: Fact) -> str | None:
    for c in _clauses(sentence[:fact.start]):
        if c.mid not in _LEADS or not c.verb:
            continue
        rest = _rest(sentence[fact.end:])
        if fact.kind == "quantity":
            return _ask(f"What {fact.unit}{rest}" if fact.unit == "percent" else f"How many {fact.unit}{rest}", c)
        return _ask("How much", c, rest)
    return None


_EXTENSION = re.compile(r"(?:call|contact|to|reach|tell)\s+(?P<who>(?:the\s+)?[A-Za-z][\w&]*(?:\s+[A-Za-z][\w&]*){0,2})"
                        r"\s+(?:at|on)\s+extension\s+$")


def _extension(sentence: str, fact: Fact) -> str | None:
    m = _EXTENSION.search(sentence[:fact.start])
    return f"Which extension do you call for {m.group('who')}?" if m else None


def ask(sentence: str, fact: Fact) -> tuple[str, tuple[str, ...]]:
    """The question whose answer is `fact`, and the answers that count."""
    rules = {"room": _where, "place": _where, "time": _when, "money": _how_much, "quantity": _how_much,
             "extension": _extension}
    rule = rules.get(fact.kind)
    question = rule(sentence, fact) if rule else None
    if question:
        return question[0].upper() + question[1:], fact.answers
    if fact.kind == "quantity":  # "… days": the unit stays in the sentence, the number is asked
        number = sentence[fact.start:fact.end].split()[0]
        return f'Fill the gap: "{sentence[:fact.start]}…{sentence[fact.start + len(number):]}"', (number,)
    return f'Fill the gap: "{sentence[:fact.start]}…{sentence[fact.end:]}"', fact.answers


def usable(sentence: str) -> bool:
    """A sentence that can stand alone as a question: not an example, not a list heading, not one that
    needs the sentence before it ("It is open ...")."""
    words = sentence.split()
    if not 6 <= len(words) <= 30 or sentence.rstrip().endswith(("?", ":")):
        return False
    first = words[0].lower().strip("\"'(")
    return first not in _PRONOUNS and "for example" not in sentence.lower() and "e.g." not in sentence \
        and not re.search(r"(?<!\d):(?!\d)", sentence) and not re.match(r"^\W*\d+[.)]", sentence)

"""What a question asks for (a place, a time, a duration, an amount, a contact, a procedure, yes or no)
and whether a sentence holds that kind of information.

A sentence that shares the question's topic is not yet its answer: "where do I pick up my safety shoes?"
is not answered by "Safety shoes of class S3 are mandatory", but by the sentence with a place in it.
Rules on the question's opening words and on the sentence's surface (room codes, clock times, amounts,
extensions, imperative verbs) are crude, but they run in microseconds, never invent anything, and are
checked on two companies' evaluation sets (docs/benchmarks.md).
"""

from __future__ import annotations

import enum
import re

from kiosk.spoken import lead_ins


class Wants(enum.Enum):
    PLACE = "place"
    TIME = "time"  # a clock time, a day or a date
    DURATION = "duration"
    FREQUENCY = "frequency"  # how often
    MONEY = "money"  # a price, a cost, an allowance
    AMOUNT = "amount"  # a number, a share, a limit
    PHONE = "phone"  # a phone number, an extension, an email address
    CONTACT = "contact"  # a person, a team, a desk
    PROCEDURE = "procedure"  # what to do
    YES_NO = "yes_no"
    MEANING = "meaning"  # what an abbreviation stands for
    ANY = "any"


_FILLER = lead_ins("er+", "so", "hey", "and", "but", "also", "then", "hmm+", "please", "can you tell me",
                   "could you tell me", "do you know", "i was wondering", "i wonder", between=r"[\s,.!?-]+")
_ASKS_MEANING = r"^what (?:does|do|is) (?:an? |the )?([\w&-]+) (?:stand for|mean|short for)\b"
_PRICE_OF = r"^how much (?:is|are|'s) (?:an?|the)\b"  # "how much is the water softener?": a price
_RULES: tuple[tuple[Wants, re.Pattern[str]], ...] = tuple((wants, re.compile(pattern)) for wants, pattern in (
    (Wants.MEANING, _ASKS_MEANING),
    # A date or a deadline asked for, whatever else the question names ("from what date am I covered",
    # "the deadline to claim back my travel costs": not money)
    (Wants.TIME, r"\b(?:what|which) date\b|\bdeadlines?\b|^(?:from|since|starting) when\b"),
    # The opening question word outranks words later in the question: "where do we meet when the alarm
    # goes off" wants a place, "who do I call when ..." a contact, "when do I get paid" a time.
    (Wants.PLACE, r"^where\b"),
    (Wants.TIME, r"^(?:when|what time)\b"),
    (Wants.CONTACT, r"^(?:who|whom)\b"),
    # "I got a weird email, what do I do?": a procedure, whatever it mentions on the way
    (Wants.PROCEDURE, r"\bwhat (?:do|should|must|can) i do\b|\bwhat do i have to do\b"),
    (Wants.DURATION, r"^how long\b|\bhow many (?:days|weeks|months|years|hours|minutes)\b|\bfor how long\b"),
    (Wants.FREQUENCY, r"\bhow often\b|\bhow many times\b"),
    (Wants.MONEY, r"\b(?:cost|costs|price|prices|pay|pays|paid|fee|fees|budget|allowance|salary|money|spend|"
                  r"charge|expensive|cheap|reimburse|reimbursed|covered|dollars?|euros?|pounds?)\b|"
                  + _PRICE_OF),  # "how much is the water softener?": its price
    (Wants.PHONE, r"\b(?:phone number|number (?:for|of the|to call|to ring)|what number|which number|extension|"
                  r"email|e-mail|address)\b"),
    (Wants.AMOUNT, r"^how (?:much|many|fast|far|big|old|heavy)\b|\b(?:rate|limit|percent|percentage|"
                   r"discount|number of)\b"),
    (Wants.TIME, r"^(?:when|what time|what day|which day|till when|until when|by when)\b|\bwhat time\b|"
                 r"\b(?:open|opening|close|closing) hours\b|\bhours\b.*\bopen\b|\bwhen\b"),
    (Wants.PLACE, r"^(?:where|which (?:room|building|floor|door|entrance|gate|office|desk))\b|\bwhere\b"),
    (Wants.CONTACT, r"^(?:who|whom)\b|\b(?:who do i|who should i|who can i|whom do i|contact|phone number|"
                    r"number for|number to call|call (?:for|about|if)|email address|extension)\b"),
    (Wants.PROCEDURE, r"^(?:how do i|how can i|how should i|how to|what do i do|what should i do|what to do|"
                      r"what happens if|what if|what must i do|what are the steps)\b|\bwhat (?:do|should) i do\b"),
    (Wants.YES_NO, r"^(?:can|could|may|do|does|did|is|are|am|will|should|must|have|has|would|was|were|shall)\b"),
))


_NAMES: dict[Wants, frozenset[str]] = {kind: frozenset(words.split()) for kind, words in (
    (Wants.PHONE, "phone telephone number numbers extension email e-mail address call reach"),
    (Wants.MONEY, "cost costs price prices fee fees charge money spend pay"),
    (Wants.TIME, "time times date dates"),
    (Wants.DURATION, "long duration"),
    (Wants.AMOUNT, "number amount percentage percent rate"),
    (Wants.PLACE, "place located location"),
    (Wants.CONTACT, "contact person"),
)}


# Questions that name what they want so plainly that a sentence without it cannot answer them, whatever else it
# shares with them: "what time can guests check in?" is not answered without a time of day, "how much is a
# coffee in the cafeteria?" without a price ("Coffee bar: 7:00 to 16:00"). `wants` alone is too loose for that:
# "do I still get paid if they send me home?" wants no amount, and "what do I set the thermostat to when ...?"
# no time.
_PLAINLY: tuple[tuple[Wants, re.Pattern[str]], ...] = (
    (Wants.TIME, re.compile(r"^(?:what|which) time\b")),
    (Wants.MONEY, re.compile(r"^how much\b.*\b(?:cost|costs|charge|charged)\b|" + _PRICE_OF + r"|"
                             r"\b(?:wage|wages|salary|salaries|price|prices|fee|fees|hourly rate|pay rate|"
                             r"rate of pay)\b")),
)


def asks_plainly(question: str) -> Wants | None:
    """The kind of answer `question` names so plainly that only a sentence stating it answers (None: any kind
    `wants` finds only prefers such a sentence)."""
    q = _plain(question)
    return next((kind for kind, rule in _PLAINLY if rule.search(q)), None)


def names_kind(kind: Wants) -> frozenset[str]:
    """The question's words that name the kind of answer rather than its topic: in "what's the phone number
    for the counseling service", a sentence stating a phone number says "phone number" in its own way."""
    return _NAMES.get(kind, frozenset())


def _plain(question: str) -> str:
    q = " ".join(question.lower().replace("’", "'").split())
    return _FILLER.sub("", q).strip(" ,.?!")


_ABBREVIATION_ASKED = re.compile(_ASKS_MEANING)


def asked_abbreviation(question: str) -> str:
    """The word a "what does OOO stand for?" question asks about ("" for other questions)."""
    found = _ABBREVIATION_ASKED.match(_plain(question))
    return found.group(1) if found else ""


def wants(question: str) -> Wants:
    """What kind of information answers `question` (ANY when its form does not say)."""
    q = _plain(question)
    for kind, rule in _RULES:
        if rule.search(q):
            return kind
    return Wants.ANY


_PHONE = r"@|\bext(?:ension|\.)?\s*\d+|\(?\d{3}\)?[-. ]\d{3}[-. ]\d{4}|\b\d{3}[-. ]\d{4}\b"  # an email or a number
_DAYS = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekday|weekend|daily|every day"
# "may" is a month only beside a day or after "in"/"of"/"by": "guests may ask" states no time.
_MONTHS = (r"january|february|march|april|june|july|august|september|october|november|december|"
           r"(?<=\d )may|(?<=\d\d )may|(?<=\d(?:st|nd|rd|th) )may|may(?= \d)|(?<=in )may|(?<=of )may|(?<=by )may")
_CLOCK = r"\b\d{1,2}[:.]\d{2}\b|\b\d{1,2} ?(?:a\.?m\.?|p\.?m\.?)\b|\b(?:noon|midnight|morning|afternoon|evening)\b"
_UNITS = r"minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|shifts?"
_EVIDENCE: dict[Wants, re.Pattern[str]] = {kind: re.compile(pattern, re.IGNORECASE) for kind, pattern in (
    (Wants.PLACE, r"\b[A-Z]{1,3}-?\d{1,4}\b|\b(?:room|building|floor|level|lobby|reception|entrance|gate|door|"
                  r"hall|wing|desk|office|corridor|car park|lot|yard|dock|bay|canteen|next to|opposite|behind|"
                  r"upstairs|downstairs|ground floor|basement|north|south|east|west|intranet|portal|website|"
                  r"app|stores|counter|station|point|area|zone|site|campus|street|road|drive|avenue|cabinet|shelf|"
                  r"locker|board|binder|folder|library|box|bin|bins)\b"),
    (Wants.TIME, rf"{_CLOCK}|\b(?:{_DAYS}|{_MONTHS})\b|\b(?:first day|today|tomorrow|year|month|week)\b"),
    (Wants.DURATION, rf"\b\d+(?:[.,]\d+)?\s*(?:-\s*\d+\s*)?(?:{_UNITS})\b|\b(?:one|two|three|four|five|six|"
                     rf"seven|eight|nine|ten|twelve|fifteen|twenty|thirty|forty|sixty|ninety|a|an|half an?)\s+"
                     rf"(?:{_UNITS})\b"),
    (Wants.FREQUENCY, r"\b(?:every|each|per|once|twice|times a|daily|weekly|monthly|yearly|annually|"
                      r"a (?:day|week|month|year))\b"),
    (Wants.MONEY, r"[$€£¥]\s?\d|\b\d+(?:[.,]\d+)?\s*(?:dollars?|cents|euros?|pounds?|percent|%)|\bfree\b|"
                  r"\bno charge\b|\bat no cost\b|\bpaid in full\b|\bfully paid\b|\bcovers?\b|\breimburs|"
                  r"\b(?:price|cost|fee)\b[^;:.]{0,30}:\s*\d"),  # a table's "Price GBP ex VAT: 3400"
    (Wants.PHONE, rf"{_PHONE}|\b\d{{3,}}\b"),
    (Wants.AMOUNT, r"[$€£¥]\s?\d|\b\d+(?:[.,]\d+)?\s*(?:%|percent|dollars?|euros?|pounds?|kilograms?|kg|km/h|"
                   r"mph|meters?|metres?|m\b)|\bfree\b|\bno charge\b|\bpaid in full\b|\b\d+\b"),
    (Wants.CONTACT, r"@|\bext(?:ension|\.)?\s*\d+|\b\d{3}[-. ]\d{4}\b|\b(?:call|phone|email|e-mail|contact|ask|"
                    r"tell|report to|team|desk|manager|supervisor|officer|department|reception|security|"
                    r"help desk|hotline|coordinator)\b"),
    (Wants.PROCEDURE, r"^(?:[-•*]\s*)?(?:\d+[.)]\s*)?(?:(?:to|if|when|before|after|once)\b[^,.;]{0,80},\s*)?"
                      r"(?:go|call|press|report|leave|tell|use|send|open|bring|"
                      r"ask|stop|switch|put|take|wear|fill|sign|log|book|request|contact|follow|keep|check|"
                      r"register|show|lock|shut|move|evacuate|raise|pull|walk|wait|do not|don't|never|always|"
                      r"first|then|please)\b|\b(?:you must|you should|you need to|make sure|step|first|then)\b"),
)}


_PLAINLY_A_PLACE = re.compile(r"\b[A-Z]{1,3}-\d{1,4}\b|\b(?:room|building|floor|level|wing|lobby|entrance|gate|"
                              r"car park|lot|dock|bay|next to|opposite|behind|upstairs|downstairs|basement)\b",
                              re.IGNORECASE)


def strength(kind: Wants, sentence: str, asked: str = "") -> float:
    """How plainly the sentence holds what is asked: 1, or 0.5 for a place named only by a common word
    ("office", "desk"), or 0. Always 0 for yes or no: what answers one is the sentence that says what was
    asked ("AMRs ... stop when ..."), and the words that often carry a yes or a no ("every", "only", "may")
    are in too many sentences to choose by (a bonus for them chose "Every Tern has red stop buttons")."""
    if kind is Wants.YES_NO or not holds(kind, sentence, asked):
        return 0.0
    if kind is Wants.PLACE and not holds_pattern(_PLAINLY_A_PLACE, sentence, asked):
        return 0.5
    return 1.0


def holds_pattern(pattern: re.Pattern[str], sentence: str, asked: str) -> bool:
    own = set(re.findall(r"[\w'-]+", asked.lower()))
    for match in pattern.finditer(sentence.strip()):
        found = match.group().strip().lower()
        if found and not set(re.findall(r"[\w'-]+", found)) <= own:
            return True
    return False


def holds(kind: Wants, sentence: str, asked: str = "") -> bool:
    """The sentence has the kind of information the question asks for (always, for ANY). Words of the
    question itself do not count: "where's the IT help desk?" is not answered by a sentence that merely
    says "help desk" again."""
    if kind in (Wants.ANY, Wants.YES_NO):
        return True  # any sentence may answer it
    if kind is Wants.MEANING:
        return False  # told by the documents' own definitions (extract.candidates), not by a sentence's surface
    if kind is Wants.TIME and holds(Wants.DURATION, sentence, asked):
        return True  # "within 30 days", "after 90 days" answer many "when" questions
    # Only a place or a contact is named by the topic itself ("help desk", "office", "team").
    return holds_pattern(_EVIDENCE[kind], sentence, asked if kind in (Wants.PLACE, Wants.CONTACT) else "")


_STATED: dict[Wants, re.Pattern[str]] = {kind: re.compile(pattern, re.IGNORECASE) for kind, pattern in (
    (Wants.PHONE, _PHONE),
    (Wants.CONTACT, _PHONE),
    (Wants.TIME, rf"{_CLOCK}|\b(?:{_DAYS}|{_MONTHS})\b"),
    (Wants.MONEY, r"[$€£¥]\s?\d|\b\d+(?:[.,]\d+)?\s*(?:dollars?|cents|euros?|pounds?)\b"),
    (Wants.AMOUNT, r"\d"),
)}


def says(kind: Wants, sentence: str) -> bool:
    """The sentence says what a question that `asks_plainly` for `kind` wants: a time of day or a day for "what
    time" (a span of time is no time of day), a price or its absence ("free") for money."""
    return states(kind, sentence) if kind is Wants.TIME else holds(kind, sentence)


def states_answer(kind: Wants, sentence: str) -> bool:
    """The sentence states outright what a question of `kind` asks for; for a time, a span of time counts too
    ("within 30 days"), as it does in `holds`."""
    return states(kind, sentence) or (kind is Wants.TIME and states(Wants.DURATION, sentence))


def states(kind: Wants, sentence: str) -> bool:
    """The sentence states the asked-for kind itself (a phone number, a clock time, an amount), not merely
    something of its kind ("a week", "every year", "the office"): only then it says the words that name it."""
    if kind is Wants.DURATION:
        return holds(kind, sentence)
    if kind is Wants.PLACE:
        return bool(_PLAINLY_A_PLACE.search(sentence))
    pattern = _STATED.get(kind)
    return bool(pattern and pattern.search(sentence))

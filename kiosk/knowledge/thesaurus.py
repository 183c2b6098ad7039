"""Everyday words visitors use for what workplace documents call otherwise.

A visitor asks about "clothes" and "login"; the handbook says "work wear" and "sign in". BM25 cannot
know they are the same, and a question word the documents never use weighs most in the "I don't know"
decision (rightly so for "dog"). These groups are added after the company's own `knowledge.synonyms`
(`knowledge.thesaurus = false` turns them off). Kept tight: each group is words one would use for the
same thing in a workplace, never merely related topics, since every alternative widens a search and
raises how much of a question a passage seems to cover.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.config import KnowledgeSettings

THESAURUS: tuple[tuple[str, ...], ...] = (
    ("login", "log in", "logon", "log on", "sign in", "signin"),
    ("two-step", "two step", "2-step", "two-factor", "2fa", "mfa", "multi-factor", "authenticator"),
    ("clothes", "clothing", "work wear", "workwear", "uniform", "uniforms", "overalls"),
    ("washed", "washing", "laundry", "laundered"),
    ("toilet", "toilets", "restroom", "restrooms", "bathroom", "bathrooms", "loo", "washroom", "washrooms"),
    ("boss", "manager", "supervisor", "line manager", "team lead", "team leader"),
    ("braces", "orthodontics", "orthodontic", "orthodontia"),
    ("eyeglasses", "glasses", "spectacles", "contact lenses", "frames"),
    ("sick", "ill", "illness", "sickness", "unwell"),
    ("wage", "wages", "salary", "pay", "paycheck", "payroll"),
    ("footwear", "shoes", "boots", "safety shoes"),
    ("hard hat", "hardhat", "helmet"),
    ("earplugs", "ear plugs", "ear muffs", "earmuffs", "hearing protection"),
    ("mobile", "cell phone", "cellphone", "smartphone", "phone"),
    ("bus pass", "transit pass", "bus ticket", "travel card"),
    ("pick up", "collect", "grab", "fetch"),
    ("plug in", "charge", "charging"),
    ("payday", "pay day", "pay date", "paid on"),
    ("probation", "trial period", "probationary period", "introductory period"),
    ("meeting point", "assembly point", "muster point", "gathering point"),
    ("bike", "bikes", "bicycle", "bicycles", "cycle"),
    ("gym", "fitness room", "fitness", "workout"),
    ("changing room", "changing rooms", "locker room", "showers"),
    ("coffee", "kitchen", "kitchenette", "break room", "pantry"),
    ("quit", "resign", "resignation", "notice period"),
    ("mentor", "buddy"),
    ("course", "courses", "training", "class", "classes"),
    ("wheelchair", "accessible", "accessibility", "step-free"),
    ("hurt", "injured", "injury", "injuries", "first aid"),
    ("smoke", "smoking", "cigarette", "cigarettes", "vape", "vaping"),
    ("guest", "guests", "visitor", "visitors"),
    ("reimburse", "reimbursed", "reimbursement", "expense", "expenses", "pay back", "paid back"),
    ("receipt", "receipts", "proof of purchase"),
    ("taxi", "cab", "uber", "lyft", "ride share", "rideshare", "ride-hailing"),
    ("flight", "flights", "fly", "flying", "plane", "airfare"),
    ("hotel", "hotels", "accommodation", "lodging"),
    ("drinks", "alcohol", "beer", "wine"),
    ("dinner", "meal", "meals"),
    ("company card", "credit card", "corporate card"),
    ("remote", "remotely", "from home", "home office", "telework"),
    ("kids", "children", "child", "childcare", "daycare"),
    ("maternity", "paternity", "parental"),
    ("dentist", "dental"),
    ("emergency", "emergencies", "911", "112"),
    ("broken", "not working", "faulty", "repair"),
    ("stolen", "theft", "lost", "missing"),
    ("wear", "dress code", "attire"),
    ("speed", "how fast", "speed limit"),
    ("doctor", "physician", "clinic"),
    ("overtime", "extra hours"),
    ("sign off", "approve", "approval", "approves"),
    ("help desk", "helpdesk", "service desk", "tech support", "it support", "technical support"),
    ("helpline", "help line", "hotline"),
    ("attempts", "tries"),
    ("public transport", "public transit", "transit"),
    ("forklift", "forklifts", "forklift truck", "lift truck", "lift trucks", "fork-lift", "fork lift"),
    ("switchboard", "main number", "main phone number"),
    ("university", "college"),
    ("price", "prices", "priced", "pricing", "cost", "costs"),
    ("weight", "weigh", "weighs", "heavy"),  # "how heavy is it?" of a spec sheet's "Weight (kg)"
    ("dimensions", "size", "how big", "measurements"),
)


def synonym_groups(knowledge: KnowledgeSettings) -> tuple[tuple[str, ...], ...]:
    """The company's groups first (they win where both name a word), then the thesaurus when enabled."""
    return knowledge.synonyms + (THESAURUS if knowledge.thesaurus else ())

"""British and American spellings of one word.

The recognizer writes American English ("color", "center", "canceled"); a British company's documents
say "colour", "centre" and "cancelled", and the other way round for a typed question. To BM25 and the
sentence choice those are different words, and an unknown word weighs most in the "I don't know"
decision. The retriever tries these forms only for a question word the index does not have, and keeps
only forms the index does have, so a rule that makes a non-word costs nothing.
"""

from __future__ import annotations

import re

from kiosk.knowledge.query import STOP_WORDS

_WHOLE = {a: b for pair in (
    ("program", "programme"), ("programs", "programmes"), ("gray", "grey"), ("tire", "tyre"), ("tires", "tyres"),
    ("curb", "kerb"), ("aluminum", "aluminium"), ("mom", "mum"), ("moms", "mums"), ("plow", "plough"),
    ("jewelry", "jewellery"), ("mold", "mould"), ("airplane", "aeroplane"), ("math", "maths"),
    ("check", "cheque"), ("checks", "cheques"), ("pajamas", "pyjamas"), ("ax", "axe"), ("draft", "draught"),
    ("enroll", "enrol"), ("enrollment", "enrolment"), ("fulfill", "fulfil"), ("skillful", "skilful"),
    ("installment", "instalment"), ("practice", "practise"), ("story", "storey"), ("stories", "storeys"),
) for a, b in (pair, pair[::-1])}

# (pattern, replacement) pairs, each applied in both directions by listing both
_RULES = tuple((re.compile(p), r) for p, r in (
    (r"([^aeiou])or(s|ed|ing|ite|ites|able|ful|ist|ists)?$", r"\1our\2"),  # color, favorite, labored
    (r"our(s|ed|ing|ite|ites|able|ful|ist|ists)?$", r"or\1"),
    (r"([^aeiou])er(s)?$", r"\1re\2"),  # center, meters, theater
    (r"([^aeiou])re(s)?$", r"\1er\2"),
    (r"iz(e|es|ed|ing|ation|ations|er|ers)$", r"is\1"),  # organize, organization
    (r"is(e|es|ed|ing|ation|ations|er|ers)$", r"iz\1"),
    (r"yz(e|es|ed|ing)$", r"ys\1"),  # analyze
    (r"ys(e|es|ed|ing)$", r"yz\1"),
    (r"ense(s)?$", r"ence\1"),  # license, defense
    (r"ence(s)?$", r"ense\1"),
    (r"([aeiou])l(ed|ing|er|ers)$", r"\1ll\2"),  # canceled, traveling, traveler
    (r"ll(ed|ing|er|ers)$", r"l\1"),
    (r"og(s)?$", r"ogue\1"),  # catalog, dialog
    (r"ogue(s)?$", r"og\1"),
))


def variants(word: str) -> list[str]:
    """Other spellings `word` may have (lower case; possibly non-words: check them against the index)."""
    word = word.lower()
    found = [_WHOLE[word]] if word in _WHOLE else []
    if len(word) >= 4 and word.isalpha():
        for pattern, replacement in _RULES:
            other = pattern.sub(replacement, word, count=1)
            if other != word:
                found.append(other)
    return [w for w in dict.fromkeys(found) if len(w) >= 3 and w not in STOP_WORDS]  # "four" is not "for"

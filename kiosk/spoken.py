"""How visitors open what they say: the lead-ins before a question ("um, excuse me, quick question, ...").

Shared by the listener (has the visitor finished? is this addressed to the kiosk?) and the question parser
(what does it ask for?); each adds the words that mean something else to it ("and", "so": a question's
opening for the addressee rule, a lead-in for the end of turn).
"""

from __future__ import annotations

import re

LEAD_INS = ("excuse me", "quick question", "one more thing", "sorry", "hi", "hello", "okay", "ok", "oh", "well",
            "right", "yeah", "um+", "uh+")
"""regular-expression alternatives, matched whole words, lower case"""


def lead_ins(*extra: str, between: str = r"[\s,.!]*") -> re.Pattern[str]:
    """A run of lead-ins at the start of a lower-cased utterance: LEAD_INS and `extra`, each followed by
    `between` (the punctuation and spaces that may separate them)."""
    return re.compile(rf"^(?:(?:{'|'.join((*LEAD_INS, *extra))})\b{between})+")

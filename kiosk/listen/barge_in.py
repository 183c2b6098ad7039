"""Voice barge-in: is speech heard while the kiosk talks a visitor interrupting, or the kiosk's own voice?

With `listen.barge_in = "voice"` an echo canceller sits between the loudspeaker and the microphone, and
what it leaves of the kiosk's voice comes in bursts that can be as loud as the visitor (it re-adapts after
every pause and after double talk: docs/benchmarks.md). Three checks, each cheap before the next:
1. level: speech much quieter than the visitor (their wake phrase and questions) is residue or a bystander;
   judged on over a sliding window, since a visitor may start speaking inside a residue segment;
2. level again over everything captured so far, at BARGE_IN_CONFIRM_MS: a burst is not a visitor;
3. words: the first words, recognized then, must not be the answer's own words in its order (OwnSpeech).
The listener (kiosk.listen.listener) owns the state; this module only decides.
"""

from __future__ import annotations

import enum

from kiosk.listen.addressee import Addressee, OwnSpeech, level_db

LEVEL_WINDOW_MS = 256  # speech level judged over this much audio while the kiosk speaks
BARGE_IN_CONFIRM_MS = 480  # recognized this far in, the words decide


class Verdict(enum.Enum):
    WAIT = "wait"  # too little to tell yet: judge again a little later
    OWN = "own"  # the kiosk's own voice: it goes on speaking
    VISITOR = "visitor"  # a visitor interrupts: the kiosk stops


class BargeInJudge:
    def __init__(self, addressee: Addressee, rate: int) -> None:
        self.addressee = addressee
        self.own = OwnSpeech()  # what the kiosk says in its current answer
        self.window = LEVEL_WINDOW_MS * rate // 1000
        self.confirm_after = BARGE_IN_CONFIRM_MS * rate // 1000

    def quieter_than_visitor(self, pcm: bytes) -> bool:
        ref, margin = self.addressee.reference_db, self.addressee.settings.level_margin_db
        return ref is not None and margin > 0 and level_db(pcm) < ref - margin

    def confirm(self, captured_db: float | None, text: str | None) -> Verdict:
        """`captured_db`: the level of the speech captured since the barge-in began; `text`: what the
        recognizer makes of it so far (None: a recognizer that cannot tell before the end)."""
        ref, margin = self.addressee.reference_db, self.addressee.settings.level_margin_db
        if ref is not None and margin > 0 and captured_db is not None and captured_db < ref - margin:
            return Verdict.WAIT  # loud for a moment only: a burst of residue is not a visitor
        if text is None:
            return Verdict.VISITOR
        own = self.own.echoes(text, final=False)
        if own is None or not any(ch.isalnum() for ch in text):
            return Verdict.WAIT
        return Verdict.OWN if own else Verdict.VISITOR

"""Turn Piper phoneme alignments into a contiguous Oculus/Meta viseme timeline.

Ambiguous mapping choices (all espeak-ng IPA as Piper emits it):
- ə, ɜ -> E: a neutral half-open mouth. ɜ is en-us NURSE but also German
  vocalic "-er" (Bücher = bˈyːçɜ), so it is not RR; en-us r-colouring comes
  through as ɚ/ɹ, which are RR.
- ŋ, x, ɣ, ʁ, ʀ -> kk: back-of-mouth articulations without lip rounding.
- ç -> SS (spread lips, nearly closed teeth); j, ʝ -> ih.
- h, ɦ, ʔ -> no shape: their time goes to the following sound, since the mouth
  is already forming the next vowel while they are heard.
- t+ʃ / d+ʒ (Piper splits affricates) -> one CH span.
- Word spaces only become "sil" when longer than 60 ms; punctuation always does.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence

from kiosk.events import VisemeSpan

logger = logging.getLogger(__name__)

VISEMES: tuple[str, ...] = (
    "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou",
)

_GROUPS: dict[str, str] = {
    "PP": "p b m β ɸ pf",
    "FF": "f v ɱ ʋ",
    "TH": "θ ð",
    "DD": "t d ɾ ʈ ɖ",
    "kk": "k g ɡ ŋ c ɟ q ɢ x χ ɣ ʁ ʀ ɰ",
    "CH": "ʃ ʒ tʃ dʒ ɕ ʑ ʂ ʐ",
    "SS": "s z ç ts dz",
    "nn": "n l ɫ ɲ ʎ ɬ ɮ ɳ ɭ ɴ ʟ",
    "RR": "ɹ r ɚ ɝ ɻ",
    "aa": "a æ ɑ ɐ ʌ ɶ",
    "E": "e ɛ ə ɘ ɜ ɤ ɞ ᵊ",
    "ih": "i ɪ ɨ ᵻ ɯ j ʝ",
    "oh": "o ɔ ɒ ø œ ɵ",
    "ou": "u ʊ ʉ y ʏ w ɥ ʍ",
    "sil": ", . ! ? ; : … — – ¡ ¿ \" ' ( ) -",
}
_TABLE: dict[str, str] = {ph: vis for vis, phs in _GROUPS.items() for ph in phs.split()}
_ABSORBED = frozenset("hɦʔˈˌːˑ‿")  # sounds/marks without a mouth shape of their own
_MODIFIER_CATS = frozenset({"Lm", "Sk", "Mn"})  # ʲ ʰ ˞, combining ̩ ̃ ...
_SPECIALS = frozenset("^$_")  # Piper BOS / EOS / pad
_LONG_SPACE_MS = 60

# Token kinds used by the timeline builder.
_MARK, _SHAPE, _SPACE, _SPECIAL, _UNKNOWN = range(5)
_unknown_logged: set[str] = set()


def _classify(phoneme: str) -> tuple[str | None, int]:
    if phoneme in _SPECIALS:
        return None, _SPECIAL
    if phoneme and phoneme.isspace():
        return "sil", _SPACE
    if phoneme in _TABLE:  # before stripping: ᵊ is itself a modifier letter
        return _TABLE[phoneme], _SHAPE
    core = "".join(
        c for c in phoneme if c not in _ABSORBED and unicodedata.category(c) not in _MODIFIER_CATS
    )
    if not core:
        return None, _MARK
    if core in _TABLE:
        return _TABLE[core], _SHAPE
    if core[0] in _TABLE:  # diphthongs etc.: "oʊ" -> o, "aɪ" -> a
        return _TABLE[core[0]], _SHAPE
    if all(unicodedata.category(c).startswith("P") for c in core):
        return "sil", _SHAPE
    if phoneme not in _unknown_logged:
        _unknown_logged.add(phoneme)
        logger.debug("unknown phoneme %r; reusing previous viseme", phoneme)
    return None, _UNKNOWN


def phonemes_of(viseme: str) -> tuple[str, ...]:
    """The phonemes mapped to a viseme (for messages); () for an unknown name."""
    return tuple(_GROUPS.get(viseme, "").split())


def phoneme_to_viseme(phoneme: str) -> str | None:
    """Viseme for one Piper phoneme; None if it carries no mouth shape of its own.

    Word spaces return "sil" here; the timeline only keeps them as silence
    when they are long. Unknown symbols return None (logged once at debug).
    """
    return _classify(phoneme)[0]


def _as_pair(item: object) -> tuple[str, int]:
    # Also accept Piper's PhonemeAlignment objects directly.
    if isinstance(item, tuple):
        phoneme, samples = item
    else:
        phoneme, samples = item.phoneme, item.num_samples  # type: ignore[attr-defined]
    return str(phoneme), max(0, int(samples))


def timeline_from_alignments(
    alignments: Sequence[tuple[str, int]],
    sample_rate: int,
    total_samples: int,
    min_span_s: float = 0.04,
) -> list[VisemeSpan]:
    """Contiguous viseme spans exactly covering [0, total_samples / sample_rate]."""
    if total_samples <= 0 or sample_rate <= 0:
        return []
    duration = total_samples / sample_rate
    pairs = [_as_pair(a) for a in alignments]
    src_total = sum(n for _, n in pairs)
    if src_total == 0:
        return [VisemeSpan(0.0, duration, "sil")]

    # Integer sample boundaries scaled onto the real audio length. Floor
    # division keeps them monotonic and puts the last exactly on total_samples.
    bounds = [0]
    cum = 0
    for _, n in pairs:
        cum += n
        bounds.append(cum * total_samples // src_total)

    classes = [_classify(ph) for ph, _ in pairs]
    shaped = [i for i, (_, kind) in enumerate(classes) if kind == _SHAPE]
    first, last = (shaped[0], shaped[-1]) if shaped else (len(pairs), -1)

    labels: list[str | None] = []
    for i, ((ph, _), (vis, kind)) in enumerate(zip(pairs, classes, strict=True)):
        if kind == _SPECIAL:  # silence at the edges, absorbed mid-sentence
            vis = "sil" if i < first or i > last else None
        elif kind == _SPACE:
            long_gap = (bounds[i + 1] - bounds[i]) * 1000 > _LONG_SPACE_MS * sample_rate
            vis = "sil" if long_gap else None
        elif kind == _UNKNOWN:
            vis = next((lab for lab in reversed(labels) if lab), "sil")
        elif ph in ("t", "d") and i + 1 < len(pairs) and pairs[i + 1][0] in ("ʃ", "ʒ"):
            vis = "CH"  # Piper splits tʃ/dʒ; the affricate is one lip shape
        labels.append(vis)

    # Shapeless tokens give their time to the following shape, or at the end
    # to the previous one; with no shape anywhere everything is silence.
    following: str | None = None
    for i in reversed(range(len(labels))):
        if labels[i] is None:
            labels[i] = following
        else:
            following = labels[i]
    previous = "sil"
    for i, lab in enumerate(labels):
        if lab is None:
            labels[i] = previous
        else:
            previous = lab

    segs: list[list] = []  # [viseme, start_sample, end_sample]
    for i, lab in enumerate(labels):
        start, end = bounds[i], bounds[i + 1]
        if end <= start:
            continue
        if segs and segs[-1][0] == lab:
            segs[-1][2] = end
        else:
            segs.append([lab, start, end])

    # Fold too-short spans (shortest first) into the longer neighbour so the
    # mouth does not flicker; the only remaining span is always kept.
    min_len = round(min_span_s * sample_rate)
    while len(segs) > 1:
        i = min(range(len(segs)), key=lambda k: segs[k][2] - segs[k][1])
        if segs[i][2] - segs[i][1] >= min_len:
            break
        left = segs[i - 1] if i > 0 else None
        right = segs[i + 1] if i + 1 < len(segs) else None
        if right is None or (left is not None and left[2] - left[1] >= right[2] - right[1]):
            left[2] = segs[i][2]  # type: ignore[index]
        else:
            right[1] = segs[i][1]
        del segs[i]
        if 0 < i < len(segs) and segs[i - 1][0] == segs[i][0]:
            segs[i - 1][2] = segs[i][2]
            del segs[i]

    # Shared integer boundaries -> identical floats on both sides of each cut;
    # 0 / sr == 0.0 and total_samples / sr == duration exactly.
    return [VisemeSpan(s / sample_rate, e / sample_rate, lab) for lab, s, e in segs]

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import pairwise

import pytest

from kiosk.speech.visemes import (
    VISEMES,
    VisemeSpan,
    phoneme_to_viseme,
    timeline_from_alignments,
)

SR = 22050


def names(spans: list[VisemeSpan]) -> list[str]:
    return [s.viseme for s in spans]


def assert_valid(spans: list[VisemeSpan], sr: int, total: int, min_span_s: float) -> None:
    assert spans, "non-empty audio must yield at least one span"
    assert spans[0].start_s == 0.0
    assert spans[-1].end_s == total / sr
    for a, b in pairwise(spans):
        assert a.end_s == b.start_s
        assert a.viseme != b.viseme  # adjacent equal spans must be merged
    for s in spans:
        assert s.end_s > s.start_s
        assert s.viseme in VISEMES
    if len(spans) > 1:
        min_len = round(min_span_s * sr)
        for s in spans:
            assert round((s.end_s - s.start_s) * sr) >= min_len
    dicts = [s.to_dict() for s in spans]
    for a, b in pairwise(dicts):
        assert a["end_s"] == b["start_s"]
    assert set(dicts[0]) == {"start_s", "end_s", "viseme"}


def test_viseme_names() -> None:
    assert VISEMES == (
        "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou",
    )


@pytest.mark.parametrize("ph", ["p", "b", "m"])
def test_bilabials_are_pp(ph: str) -> None:
    assert phoneme_to_viseme(ph) == "PP"


def test_every_viseme_reachable() -> None:
    sample = list("pfθtkʃsnɹaeɪou,ðɡçxʁøyɲβɣʎɾɫᵻɐɜɚŋjwə")
    assert {phoneme_to_viseme(p) for p in sample} >= set(VISEMES)


def test_g_variants_and_multichar() -> None:
    assert phoneme_to_viseme("g") == phoneme_to_viseme("\u0261") == "kk"
    assert phoneme_to_viseme("tʃ") == phoneme_to_viseme("dʒ") == "CH"
    assert phoneme_to_viseme("oʊ") == "oh"
    assert phoneme_to_viseme("aɪ") == "aa"
    assert phoneme_to_viseme("iː") == "ih"
    assert phoneme_to_viseme("n̩") == "nn"


@pytest.mark.parametrize("ph", ["ˈ", "ˌ", "ː", "ʲ", "h", "ʔ", "^", "$", "_", "\u0329"])
def test_shapeless(ph: str) -> None:
    assert phoneme_to_viseme(ph) is None


def test_punctuation_and_unknown() -> None:
    for ph in ",.!?;:":
        assert phoneme_to_viseme(ph) == "sil"
    assert phoneme_to_viseme(" ") == "sil"
    assert phoneme_to_viseme("☃") is None  # unknown: no crash


def test_split_affricate_is_one_ch_span() -> None:
    spans = timeline_from_alignments([("a", 2000), ("t", 600), ("ʃ", 1400), ("o", 2000)], SR, 6000)
    assert names(spans) == ["aa", "CH", "oh"]
    spans = timeline_from_alignments([("d", 600), ("ʒ", 1400)], SR, 2000)
    assert names(spans) == ["CH"]


def test_empty_and_degenerate_inputs() -> None:
    assert timeline_from_alignments([("a", 100)], SR, 0) == []
    assert timeline_from_alignments([], SR, 0) == []
    for alignments in ([], [("ˈ", 300), ("ː", 200)], [("a", 0), ("b", 0)]):
        spans = timeline_from_alignments(alignments, SR, 5000)
        assert spans == [VisemeSpan(0.0, 5000 / SR, "sil")]


def test_marks_go_to_following_then_previous() -> None:
    spans = timeline_from_alignments([("ˈ", 1000), ("a", 1000), ("ː", 1000)], SR, 3000, min_span_s=0)
    assert spans == [VisemeSpan(0.0, 3000 / SR, "aa")]
    spans = timeline_from_alignments([("m", 1000), ("h", 1000), ("a", 1000)], SR, 3000, min_span_s=0)
    assert [(s.viseme, round(s.end_s * SR)) for s in spans] == [("PP", 1000), ("aa", 3000)]


def test_specials_edges_and_middle() -> None:
    al = [("^", 1500), ("a", 2000), ("_", 500), ("o", 2000), ("$", 1500)]
    assert names(timeline_from_alignments(al, SR, 7500, min_span_s=0)) == ["sil", "aa", "oh", "sil"]


def test_word_space_short_absorbed_long_silent() -> None:
    short = round(0.03 * SR)
    long = round(0.1 * SR)
    al = [("a", 2000), (" ", short), ("o", 2000)]
    assert names(timeline_from_alignments(al, SR, 4000 + short)) == ["aa", "oh"]
    al = [("a", 2000), (" ", long), ("o", 2000)]
    assert names(timeline_from_alignments(al, SR, 4000 + long)) == ["aa", "sil", "oh"]
    al = [("a", 2000), (",", 300), ("o", 2000)]
    assert names(timeline_from_alignments(al, SR, 4300, min_span_s=0)) == ["aa", "sil", "oh"]


def test_unknown_takes_previous_viseme() -> None:
    al = [("a", 1000), ("☃", 1000), ("o", 1000)]
    spans = timeline_from_alignments(al, SR, 3000, min_span_s=0)
    assert [(s.viseme, round(s.end_s * SR)) for s in spans] == [("aa", 2000), ("oh", 3000)]
    assert names(timeline_from_alignments([("☃", 1000), ("o", 1000)], SR, 2000, 0)) == ["sil", "oh"]


def test_min_span_merges_into_longer_neighbour() -> None:
    al = [("a", 4410), ("t", 300), ("o", 2205)]
    assert names(timeline_from_alignments(al, SR, 6915, min_span_s=0)) == ["aa", "DD", "oh"]
    spans = timeline_from_alignments(al, SR, 6915)
    assert [(s.viseme, round(s.end_s * SR)) for s in spans] == [("aa", 4710), ("oh", 6915)]
    # absorbing the flicker lets equal neighbours coalesce
    al = [("p", 2205), ("a", 200), ("m", 2000)]
    assert names(timeline_from_alignments(al, SR, 4405)) == ["PP"]
    # never merge away the only span, even if it is shorter than min_span_s
    assert names(timeline_from_alignments([("a", 10)], SR, 10)) == ["aa"]


def test_scaling_when_sums_differ() -> None:
    al = [("a", 1000), ("o", 1000)]
    spans = timeline_from_alignments(al, SR, 3000, min_span_s=0)
    assert [round(s.end_s * SR) for s in spans] == [1500, 3000]
    spans = timeline_from_alignments(al, SR, 1000, min_span_s=0)
    assert [round(s.end_s * SR) for s in spans] == [500, 1000]


def test_accepts_piper_alignment_objects() -> None:
    @dataclass
    class PhonemeAlignment:
        phoneme: str
        phoneme_ids: list[int]
        num_samples: int

    al = [PhonemeAlignment("m", [1], 2000), PhonemeAlignment("a", [2], 2000)]
    assert names(timeline_from_alignments(al, SR, 4000)) == ["PP", "aa"]  # type: ignore[arg-type]


POOL = list("pbmfvθðtdkgɡŋʃʒszçxnlɹrʁaæɑɐʌeɛəɜɪiᵻoɔøuʊywjhʔ") + [
    "ˈ", "ˌ", "ː", "ʲ", " ", ",", ".", "!", "?", "^", "$", "_", "☃", "oʊ", "tʃ", "n̩",
]


@pytest.mark.parametrize("seed", range(400))
def test_random_contiguity_and_coverage(seed: int) -> None:
    rng = random.Random(seed)
    sr = rng.choice([16000, 22050, 24000, 44100])
    al = [(rng.choice(POOL), rng.choice([0, rng.randint(1, 200), rng.randint(200, 4000)]))
          for _ in range(rng.randint(0, 60))]
    if rng.random() < 0.5:
        al = [("^", rng.randint(0, 3000))] + al + [("$", rng.randint(0, 3000))]
    if rng.random() < 0.1:
        al = [(rng.choice(["ˈ", "ˌ", "ː", "_"]), rng.randint(0, 500)) for _ in range(5)]
    src = sum(n for _, n in al)
    mode = rng.random()
    if mode < 0.3:
        total = src
    elif mode < 0.8:
        total = max(1, int(src * rng.uniform(0.5, 1.5)) + rng.randint(-50, 50))
    else:
        total = rng.randint(1, 100_000)
    min_span = rng.choice([0.0, 0.02, 0.04, 0.08])
    spans = timeline_from_alignments(al, sr, total, min_span_s=min_span)
    if total == 0:
        assert spans == []
        return
    assert_valid(spans, sr, total, min_span)


def test_hello_my_name_is_bob() -> None:
    # espeak-ng en-us: "həlˈoʊ, maɪ nˈeɪm ɪz bˈɑːb." as Piper splits it.
    ipa = "həlˈoʊ, maɪ nˈeɪm ɪz bˈɑːb."
    dur = {"ˈ": 300, "ː": 300, " ": 400, ",": 4000, ".": 3000}
    vowels = set("əoʊaɪeɑ")
    al = [("^", 1000)]
    al += [(ph, dur.get(ph, 1800 if ph in vowels else 1200)) for ph in ipa]
    al += [("$", 1000)]
    total = sum(n for _, n in al) + 37  # Piper's sum is rarely exact
    spans = timeline_from_alignments(al, SR, total)
    assert_valid(spans, SR, total, 0.04)
    assert names(spans) == [
        "sil", "E", "nn", "oh", "ou", "sil", "PP", "aa", "ih", "nn", "E", "ih", "PP",
        "ih", "SS", "PP", "aa", "PP", "sil",
    ]
    # every m/b phoneme's midpoint lies inside a PP span
    t = 0
    for ph, n in al:
        if ph in "mb":
            mid = (t + n / 2) * total / (total - 37) / SR
            assert any(s.start_s <= mid < s.end_s and s.viseme == "PP" for s in spans)
        t += n

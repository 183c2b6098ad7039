"""kiosk.knowledge.chunking: sizes, sentence boundaries, overlap, sections, FAQ entries and tables."""

from __future__ import annotations

import re

import pytest

from kiosk.knowledge.chunking import ChunkSettings, chunk_document, estimate_tokens, split_sentences
from kiosk.knowledge.documents import Block, Chunk, ParsedDocument

S = ChunkSettings()


def sentence(section: str, i: int) -> str:
    # Ten words, unique per section and index, so every chunk can be traced to its source.
    return f"Rule {section}{i} says every visitor signs the book at reception."


def doc_of(*blocks: Block, title: str = "Handbook") -> ParsedDocument:
    return ParsedDocument(title, tuple(blocks), 1.0)


def text_chunks(chunks: list[Chunk]) -> list[Chunk]:
    return [c for c in chunks if c.kind == "text"]


def sentences_of(chunk: Chunk) -> list[str]:
    return split_sentences(chunk.text)


def test_estimate_tokens() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("one") == 2
    assert estimate_tokens("one two three") == 4
    assert estimate_tokens(" ".join(["w"] * 10)) == 13  # exact, no float rounding up to 14
    assert estimate_tokens("a\nb\tc  d") == 6


def test_split_sentences() -> None:
    text = 'Dr. Smith arrives at 9 a.m. Sharp. He asked "why?" Then left! E.g. this stays. J. Doe too.\nA list item'
    assert split_sentences(text) == [
        "Dr. Smith arrives at 9 a.m. Sharp.",
        'He asked "why?"',
        "Then left!",
        "E.g. this stays.",
        "J. Doe too.",
        "A list item",
    ]


def test_token_bounds_and_sentence_boundaries() -> None:
    blocks = [Block("text", " ".join(sentence("A", i * 7 + j) for j in range(7)), ("A",)) for i in range(20)]
    chunks = chunk_document(doc_of(*blocks))
    assert len(chunks) > 5
    source_sentences = {sentence("A", i) for i in range(140)}
    for c in chunks:
        assert c.tokens == estimate_tokens(c.text)
        assert S.min_tokens <= c.tokens <= S.max_tokens
        assert set(sentences_of(c)) <= source_sentences  # only whole sentences, never cut mid-sentence
        assert c.text[0].isupper() and c.text.endswith(".")
    # Every sentence is in some chunk, in order.
    seen = [s for c in chunks for s in sentences_of(c)]
    assert sorted(set(seen), key=seen.index) == [sentence("A", i) for i in range(140)]
    assert max(c.tokens for c in chunks) > S.target_tokens - 20  # filled up towards the target


def test_overlap_is_whole_sentences_of_the_previous_chunk() -> None:
    blocks = [Block("text", " ".join(sentence("A", i) for i in range(60)), ("A",))]
    chunks = chunk_document(doc_of(*blocks))
    assert len(chunks) >= 3
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        p, n = sentences_of(prev), sentences_of(nxt)
        shared = [s for s in n if s in p]
        assert shared, "no overlap"
        assert n[: len(shared)] == shared == p[-len(shared) :]  # the tail of prev opens next
        assert estimate_tokens(" ".join(shared)) <= S.overlap_tokens


def test_chunks_never_cross_sections_and_overlap_stays_inside() -> None:
    blocks = [
        Block("text", " ".join(sentence("A", i) for i in range(40)), ("Safety",)),
        Block("text", " ".join(sentence("B", i) for i in range(40)), ("Safety", "Forklifts")),
        Block("text", " ".join(sentence("C", i) for i in range(3)), ("Parking",)),
    ]
    chunks = chunk_document(doc_of(*blocks))
    by_section: dict[str, list[Chunk]] = {}
    for c in chunks:
        by_section.setdefault(c.section, []).append(c)
    assert list(by_section) == ["Safety", "Safety > Forklifts", "Parking"]
    for section, tag in (("Safety", "A"), ("Safety > Forklifts", "B"), ("Parking", "C")):
        for c in by_section[section]:
            assert all(re.match(rf"Rule {tag}\d+ ", s) for s in sentences_of(c))
    first_b = by_section["Safety > Forklifts"][0]
    assert sentences_of(first_b)[0] == sentence("B", 0)  # no overlap carried over from "Safety"
    assert by_section["Parking"][0].text == " ".join(sentence("C", i) for i in range(3))  # small: not merged


def test_small_blocks_of_a_section_are_merged() -> None:
    blocks = [Block("text", f"Short paragraph number {i}.", ("Intro",)) for i in range(5)]
    chunks = chunk_document(doc_of(*blocks))
    assert len(chunks) == 1
    assert chunks[0].text == "\n".join(f"Short paragraph number {i}." for i in range(5))


def test_short_tail_is_rebalanced() -> None:
    # 25 sentences ≈ 325 tokens: greedy would leave a short last chunk; both end up ≥ min_tokens or merged.
    chunks = chunk_document(doc_of(Block("text", " ".join(sentence("A", i) for i in range(25)), ("A",))))
    assert all(c.tokens >= S.min_tokens or len(chunks) == 1 for c in chunks)
    assert all(c.tokens <= S.max_tokens for c in chunks)


def test_overlong_sentence_is_split_at_clauses_then_words() -> None:
    clauses = ", ".join(f"then clause number {i} continues a little further" for i in range(60))
    words = " ".join(f"word{i}" for i in range(500))
    chunks = chunk_document(doc_of(Block("text", f"First {clauses}. {words}.", ("A",))))
    assert all(c.tokens <= S.max_tokens for c in chunks)
    all_words = " ".join(c.text for c in chunks).split()
    for w in [f"word{i}" for i in range(499)] + ["clause", "number", "59"]:
        assert w in all_words or f"{w}," in all_words  # no word lost or cut in half
    assert any(c.text.rstrip().endswith(",") for c in chunks)  # a clause boundary was used


def test_faq_blocks_are_one_chunk_each_verbatim() -> None:
    long_answer = " ".join(f"Step {i}: scan the badge, then wait for the green light." for i in range(60))
    blocks = [
        Block("text", "Intro text.", ("FAQ",)),
        Block("faq", "Behind the building.", ("FAQ",), question="Where can I park?"),
        Block("faq", "Yes.", ("FAQ",), question="Is there Wi-Fi?"),
        Block("faq", long_answer, ("FAQ",), question="How do I get in?"),
        Block("text", "Outro text.", ("FAQ",)),
    ]
    chunks = chunk_document(doc_of(*blocks))
    assert [(c.kind, c.question, c.text) for c in chunks] == [
        ("text", "", "Intro text."),
        ("faq", "Where can I park?", "Behind the building."),
        ("faq", "Is there Wi-Fi?", "Yes."),
        ("faq", "How do I get in?", long_answer),  # never split, even far above max_tokens
        ("text", "", "Outro text."),
    ]
    assert chunks[3].tokens == estimate_tokens(long_answer) + estimate_tokens("How do I get in?") > S.max_tokens


def test_small_table_is_one_chunk() -> None:
    table = "\n".join(f"Day: Day {i}; Opens: 9:00; Closes: 17:00" for i in range(7))
    chunks = chunk_document(doc_of(Block("text", "Hours below.", ("Hours",)), Block("table", table, ("Hours",))))
    assert [(c.kind, c.text, c.section) for c in chunks] == [
        ("text", "Hours below.", "Hours"),
        ("table", table, "Hours"),
    ]


def test_big_table_is_split_by_rows_with_caption_repeated() -> None:
    rows = [f"Room: Meeting room {i}; Floor: {i % 5}; Seats: {i * 2}; Projector: yes" for i in range(120)]
    chunks = chunk_document(doc_of(Block("table", "Meeting rooms:\n" + "\n".join(rows), ("Rooms",))))
    assert len(chunks) > 1
    seen: list[str] = []
    for c in chunks:
        assert c.kind == "table" and c.section == "Rooms"
        assert c.tokens <= S.table_max_tokens
        lines = c.text.split("\n")
        assert lines[0] == "Meeting rooms:"
        seen += lines[1:]
    assert seen == rows  # every row once, whole, in order
    sizes = [c.tokens for c in chunks]
    assert max(sizes) - min(sizes) < 60  # even pieces, not one tiny leftover


def test_ordinals_title_and_section_fields() -> None:
    blocks = [
        Block("text", "Alpha.", ()),
        Block("faq", "Beta.", ("Q",), question="Why?"),
        Block("table", "A: 1; B: 2", ("Q", "T")),
        Block("text", " ".join(sentence("Z", i) for i in range(50)), ("Z",)),
    ]
    chunks = chunk_document(doc_of(*blocks, title="Staff Handbook"))
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert all(c.title == "Staff Handbook" for c in chunks)
    assert [c.section for c in chunks[:3]] == ["", "Q", "Q > T"]
    assert all("Staff Handbook" not in c.text and not c.text.startswith("Z >") for c in chunks)


def test_empty_document_and_custom_settings() -> None:
    assert chunk_document(doc_of(Block("text", "  ", ("A",)))) == []
    small = ChunkSettings(target_tokens=40, max_tokens=60, min_tokens=20, overlap_tokens=0, table_max_tokens=30)
    chunks = chunk_document(doc_of(Block("text", " ".join(sentence("A", i) for i in range(12)), ("A",))), small)
    assert all(c.tokens <= 60 for c in chunks) and len(chunks) >= 3
    assert sum(len(sentences_of(c)) for c in chunks) == 12  # no overlap when overlap_tokens is 0


@pytest.mark.parametrize("n", [1, 2, 3, 17, 23, 24, 25, 26, 40, 41])
def test_sizes_for_many_lengths(n: int) -> None:
    chunks = chunk_document(doc_of(Block("text", " ".join(sentence("A", i) for i in range(n)), ("A",))))
    assert all(c.tokens <= S.max_tokens for c in chunks)
    if estimate_tokens(" ".join(sentence("A", i) for i in range(n))) >= S.min_tokens:
        assert all(c.tokens >= S.min_tokens for c in chunks)

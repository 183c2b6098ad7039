"""Spoken question -> FTS5 query, and the retriever on top: safety, synonyms, stemming, ranking, coverage, RRF."""

from __future__ import annotations

import re
import sqlite3
import zlib
from pathlib import Path

import pytest

from kiosk.knowledge.documents import Block, Chunk, ParsedDocument
from kiosk.knowledge.index import DocumentRecord, ingest, insert_document, transaction
from kiosk.knowledge.query import build_match, parse_question, terms
from kiosk.knowledge.retrieve import Hit, Retriever

SYNONYMS = [["canteen", "cafeteria", "lunch room"], ["wifi", "wi-fi", "wireless", "internet"]]

HOSTILE = [
    "",
    "   ",
    '"',
    '""',
    'what is "the" "password',
    "badge*",
    "* * *",
    "(parking",
    "parking)",
    "((()))",
    "NEAR(badge parking, 2)",
    "badge NEAR parking",
    "AND",
    "OR OR OR",
    "NOT parking",
    "badge AND NOT OR parking",
    "title: badge",
    "text:parking section:x",
    "-parking +badge",
    "wi-fi",
    "^badge",
    "badge's owner's",
    "{title section}: badge",
    "😀🔥 where is 🅿️ parking?",
    "ﬁle ligature Ⅻ ½",
    "naïve café crème brûlée",
    "हिन्दी में जानकारी",
    "駐車場はどこですか",
    "\x00\x01 control \t chars",
    "a" * 500,
    "um, uh, so, like, please, well",
    "what's what's what",
    "8:45 12.30 2024",
    "'; DROP TABLE chunks; --",
]


@pytest.fixture(scope="module")
def fts_table() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE t USING fts5(title, section, question, text,"
        " tokenize='porter unicode61 remove_diacritics 2')"
    )
    conn.execute("INSERT INTO t VALUES ('Parking', '', '', 'Visitors park in the north lot; badges at 8:45.')")
    return conn


@pytest.mark.parametrize("question", HOSTILE)
def test_hostile_input_never_breaks_fts5(fts_table: sqlite3.Connection, question: str) -> None:
    for synonyms in ((), SYNONYMS):
        match = build_match(question, synonyms)
        if match is not None:
            assert re.fullmatch(r'"[^"]+"\*?( OR "[^"]+"\*?)*', match), match
            fts_table.execute("SELECT rowid FROM t WHERE t MATCH ?", (match,)).fetchall()


def test_nothing_searchable_gives_none() -> None:
    for question in ("", "   ", "um, uh, so, like, please, well", "Could you tell me what's what?", "😀", "* ( )"):
        assert build_match(question) is None and terms(question) == []


def test_terms() -> None:
    assert terms("Um, hey, could you tell me where the canteen is?") == ["canteen"]
    assert terms("What's the Wi-Fi password?") == ["wi", "fi", "password"]
    assert terms("What's the Wi-Fi password?", SYNONYMS) == ["wi fi", "password"]
    assert terms("I can't find building 7, it's on Main St.") == ["building", "7", "main", "st"]
    assert terms("Does reception open at 8:45 or 9?") == ["reception", "open", "8 45", "9"]
    assert terms("Parking PARKING parking") == ["parking"]
    assert terms("Café opening") == ["café", "opening"]
    # a model or room code is one phrase: its number alone matches every 2 in the documents
    assert terms("How much does an AMR-2 cost?") == ["amr 2", "cost"]
    assert terms("where is room B-214?") == ["room", "b 214"] and terms("is b214 the help desk") == ["b 214", "help",
                                                                                                     "desk"]


def test_match_expression() -> None:
    assert build_match("where can I get my badge") == '"badge"*'
    assert build_match("opens at 8:45") == '"opens"* OR "8 45"'  # a time is a phrase, not two numbers
    assert build_match("is the canteen open", SYNONYMS) == '"canteen"* OR "cafeteria"* OR "lunch room" OR "open"*'
    assert build_match("wifi internet", SYNONYMS) == '"wifi"* OR "wi fi" OR "wireless"* OR "internet"*'
    assert build_match("lunch room hours", SYNONYMS) == '"lunch room" OR "canteen"* OR "cafeteria"* OR "hours"*'
    assert [t.text for t in parse_question("cafeterias", SYNONYMS)] == ["cafeterias"]  # plural still in group
    assert parse_question("cafeterias", SYNONYMS)[0].alternatives[1:] == ("canteen", "cafeteria", "lunch room")


def chunk(title: str, text: str, *, section: str = "", question: str = "", kind: str = "text") -> Chunk:
    return Chunk(title=title, section=section, text=text, kind=kind, question=question)


def build(kb: Path, docs: dict[str, list[Chunk]]) -> Path:
    with transaction(kb) as conn:
        for path, chunks in docs.items():
            insert_document(conn, DocumentRecord(path, "/docs", chunks[0].title), chunks)
    return kb


FILLER = "General information for staff and guests about the building, rooms and daily routines."

CORPUS = {
    "visitors.md": [chunk("Visitors", "Visitors collect a badge at reception. Reception opens at 8:45.")],
    "parking.md": [chunk("Getting here", "You can park in the north lot. Bikes go in the shed.")],
    "food.md": [chunk("Food", "The cafeteria serves hot meals from 11:30 to 14:00.", section="Cafeteria")],
    "safety.md": [
        chunk("Forklift safety", "Drivers must hold a licence and wear a vest. " + FILLER),
        chunk("Warehouse", "Keep aisles clear; a forklift may pass at any time. " + FILLER),
    ],
    "it.md": [
        chunk("IT", "Ask the service desk; they can reset a password in a minute. " + FILLER),
        chunk("IT", "Open the portal and choose Forgot.", question="How do I reset my password?", kind="faq"),
    ],
    "other.md": [chunk(f"Topic {i}", f"{FILLER} Item {i}.") for i in range(20)],
}


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory) -> Retriever:
    kb = build(tmp_path_factory.mktemp("kb") / "kb.sqlite", CORPUS)
    with Retriever(kb, synonyms=SYNONYMS) as r:
        yield r


def paths(hits: list[Hit]) -> list[str]:
    return [h.path for h in hits]


def test_synonyms_find_the_other_word(retriever: Retriever, tmp_path: Path) -> None:
    hits = retriever.search("Where is the canteen?")
    assert paths(hits) == ["food.md"]
    assert hits[0].coverage == 1.0  # "canteen" counts as found: its synonym is there
    assert 0.0 < retriever.search("When does the canteen open?")[0].coverage < 1.0  # nothing says "open"
    with Retriever(retriever.index.path) as plain:
        assert plain.search("Where is the canteen?") == []


def test_prefix_and_stemming(retriever: Retriever) -> None:
    assert paths(retriever.search("badges"))[:1] == ["visitors.md"]  # badge <-> badges
    assert paths(retriever.search("Is there parking?")) == ["parking.md"]  # parking <-> park
    assert paths(retriever.search("Where do I park?")) == ["parking.md"]
    assert paths(retriever.search("bike sheds"))[:1] == ["parking.md"]


def test_time_phrase(retriever: Retriever) -> None:
    hits = retriever.search("what's at 8:45?")
    assert paths(hits) == ["visitors.md"] and hits[0].coverage == 1.0


def test_coverage(retriever: Retriever) -> None:
    hits = retriever.search("um where do visitors collect badges at reception")
    assert hits[0].path == "visitors.md" and hits[0].coverage == 1.0  # visitors, collect, badges, reception
    hits = retriever.search("visitor badge parking")
    by_path = {h.path: h for h in hits}
    assert 0 < by_path["parking.md"].coverage < by_path["visitors.md"].coverage < 1
    hits = retriever.search("forklift pension scheme")
    # IDF-weighted: two words no document uses outweigh the one it knows; "I don't know" rests on this.
    assert 0 < hits[0].coverage < 1 / 3
    assert all(h.bm25 > 0 and h.score == h.bm25 and h.dense is None for h in hits)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))


def test_title_and_question_outrank_body_text(retriever: Retriever) -> None:
    hits = retriever.search("forklift")
    assert [(h.title, h.rank) for h in hits] == [("Forklift safety", 1), ("Warehouse", 2)]
    assert hits[0].score > hits[1].score
    hits = retriever.search("How can I reset my password?")
    assert (hits[0].kind, hits[0].question) == ("faq", "How do I reset my password?")
    assert hits[1].kind == "text" and hits[0].coverage == hits[1].coverage == 1.0


def test_search_edge_cases(retriever: Retriever) -> None:
    for question in HOSTILE:
        assert isinstance(retriever.search(question), list)
    assert retriever.search("um so like") == []
    assert retriever.search("badge", k=0) == []
    assert len(retriever.search("general information", k=3)) == 3


CONCEPTS = {"vacation": "leave", "holiday": "leave", "holidays": "leave"}


class ConceptEmbedder:
    """Deterministic bag of words in 256 hashed dimensions; vacation/holiday/leave share one."""

    def __init__(self, name: str = "concepts-v1") -> None:
        self.name = name

    def embed(self, texts: list[str]) -> list[list[float]]:
        out = []
        for text in texts:
            vector = [0.0] * 256
            for word in re.findall(r"\w+", text.lower()):
                vector[zlib.crc32(CONCEPTS.get(word, word).encode()) % 256] += 1.0
            out.append(vector)
        return out


def test_dense_fusion_changes_the_ranking(tmp_path: Path) -> None:
    texts = {
        "rentals.txt": "Vacation rentals near the office are listed on the notice board in the lobby by the lifts.",
        "leave.txt": "Holiday leave: every employee gets 25 days of paid holiday per year.",
        "calendar.txt": "Plan your holiday leave in the team calendar.",
        "opening.txt": "Opening days: Monday to Friday.",
        "delivery.txt": "Delivery days are Tuesday and Thursday.",
    }
    for name, text in texts.items():
        (tmp_path / name).write_text(text)

    def parse(path: Path) -> ParsedDocument:
        return ParsedDocument(path.stem, (Block("text", path.read_text()),), 0.1)

    def one_chunk(doc: ParsedDocument) -> list[Chunk]:
        return [chunk("", doc.blocks[0].text)]  # no title: only the text counts

    kb = tmp_path / "kb.sqlite"
    ingest(kb, [tmp_path], parse=parse, chunk=one_chunk, embedder=ConceptEmbedder())
    with Retriever(kb) as lexical:
        lexical_hits = lexical.search("vacation days", k=10)
        assert paths(lexical_hits)[0] == "rentals.txt"
    with Retriever(kb, embedder=ConceptEmbedder()) as hybrid:
        assert hybrid.dense
        hits = hybrid.search("vacation days")
        assert hits[0].path == "leave.txt"  # dense rank 1 + a BM25 rank beats BM25 rank 1 + dense rank 5
        bm25_rank = paths(lexical_hits).index("leave.txt") + 1
        assert bm25_rank > 1 and hits[0].score == pytest.approx(1 / (60 + 1) + 1 / (60 + bm25_rank))
        assert all(h.dense is not None for h in hits)
        calendar = next(h for h in hits if h.path == "calendar.txt")  # found by meaning alone
        assert calendar.bm25 == 0.0 and calendar.coverage == 0.0
        assert hits[0].dense > calendar.dense > next(h for h in hits if h.path == "rentals.txt").dense
    with Retriever(kb, embedder=ConceptEmbedder("another-model")) as mismatched:
        assert not mismatched.dense  # vectors from another model are not comparable: BM25 only
        assert paths(mismatched.search("vacation days"))[0] == "rentals.txt"

"""What the knowledge pipeline passes between its stages: parsed documents, blocks and chunks."""

from __future__ import annotations

from dataclasses import dataclass


class SkipDocument(Exception):
    """A file that cannot be ingested; `reason` is shown to the person running `kiosk ingest`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Block:
    """A structural piece of a document, in reading order."""

    kind: str
    """text | table | faq"""
    text: str
    section: tuple[str, ...] = ()
    """heading path, outermost first, e.g. ("Safety rules", "Forklifts")"""
    question: str = ""
    """faq blocks: the question; `text` is then the exact answer"""
    page: int | None = None
    """1-based page for paged formats (PDF)"""


@dataclass(frozen=True)
class ParsedDocument:
    title: str
    blocks: tuple[Block, ...]
    pages: float
    """pages for throughput figures: real pages for PDF, else characters / 3000"""


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage of ~150-300 tokens, or one FAQ entry, or one small table."""

    title: str
    section: str
    """heading path joined with " > " ("" at the top of a document)"""
    text: str
    kind: str = "text"
    """text | table | faq"""
    question: str = ""
    """faq chunks: the question (indexed too); `text` is the verbatim answer"""
    ordinal: int = 0
    """position within its document"""
    tokens: int = 0
    """estimated tokens (words × 1.3)"""

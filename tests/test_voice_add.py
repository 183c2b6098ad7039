"""`kiosk voice add|list|preview|remove`: a user's Piper voice installed into the models directory, found by
`persona.voice`, spoken by `kiosk run`'s own speaker path; broken voices refused with the file and the fix.

The real voice is the embedded en_US-joe-medium, copied under another name. No trained multi-speaker Piper
voice is available offline, so the multi-speaker tests use joe's graph with a real `sid` input added
(speaker 1 speaks 1.6x slower): Piper's own speaker plumbing runs end to end, but it is not a trained
multi-speaker model.
"""

from __future__ import annotations

import json
import logging
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from kiosk.cli.main import main
from kiosk.config import ConfigError, Settings, SpeechSettings, load_settings, parse_settings, with_overrides
from kiosk.models.local import write_local_models
from kiosk.models.locate import locate
from kiosk.models.manifest import (
    LOCAL_MANIFEST,
    ManifestError,
    ModelEntry,
    ModelFile,
    ModelMissingError,
    load_manifest,
    read_local_models,
    verify_model,
)
from kiosk.speech.speakers import SpeakerChoiceError, resolve_speaker
from kiosk.speech.visemes import VISEMES, phonemes_of
from kiosk.speech.voice_check import VoiceCheckError, check_timeline, find_voice_files
from kiosk.speech.voice_store import VoiceStoreError, remove_voice

PERSONA = Path(__file__).resolve().parents[1] / "provisioning" / "personas" / "onboarding-coach.toml"
NAME = "en_US-mine-medium"


@pytest.fixture(scope="session")
def joe() -> Path:
    """The embedded voice's .onnx (its .onnx.json beside it)."""
    return locate(load_settings(str(PERSONA), env={}), "en_US-joe-medium", "tts", "persona.voice").path


def joe_config(joe: Path) -> dict:
    return json.loads(joe.with_name(joe.name + ".json").read_text(encoding="utf-8"))


def make_voice(folder: Path, joe: Path, name: str = NAME, config: dict | None = None,
               model: bytes | None = None) -> Path:
    """A voice folder: joe's model (linked, or `model` bytes) and a config (joe's, or `config`)."""
    folder.mkdir(parents=True, exist_ok=True)
    onnx = folder / f"{name}.onnx"
    if model is None:
        onnx.symlink_to(joe)
    else:
        onnx.write_bytes(model)
    text = json.dumps(joe_config(joe) if config is None else config, ensure_ascii=False)
    (folder / f"{name}.onnx.json").write_text(text, encoding="utf-8")
    return onnx


def add(*argv: str) -> int:
    return main(["voice", "add", *argv])


def nothing_installed(models: Path, name: str = NAME) -> None:
    assert not (models / name).exists()
    assert name not in {m.name for m in read_local_models(models)}
    assert not list(models.glob(".*.adding"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory, joe):  # noqa: ANN001, ANN201
    """One real `kiosk voice add` into a fresh models directory, shared by the module's slow tests."""
    root = tmp_path_factory.mktemp("voice")
    src = make_voice(root / "src", joe)
    models = root / "models"
    assert add(str(src.parent), "--models-dir", str(models)) == 0
    return models


def settings_for(models: Path, **speech) -> Settings:  # noqa: ANN003
    return with_overrides(Settings(), persona={"voice": NAME}, models={"dir": str(models)}, speech=speech)


# ----------------------------------------------------------------------------- installing a real voice


@pytest.mark.slow
def test_added_voice_is_found_by_persona_voice_and_verified(installed) -> None:  # noqa: ANN001
    loc = locate(settings_for(installed), NAME, "tts", "persona.voice")
    assert loc.source == "added"
    assert loc.path == installed / NAME / f"{NAME}.onnx" and loc.path.is_file() and not loc.path.is_symlink()
    entry = load_manifest(None, installed).get(NAME)
    assert (entry.kind, entry.role, entry.language, entry.added) == ("tts", "optional", "en", True)
    assert all(len(f.sha256) == 64 and f.size > 0 for f in entry.files)
    assert verify_model(entry, installed).status == "ok"
    assert main(["models", "verify", NAME, "--models-dir", str(installed)]) == 0
    assert main(["models", "fetch", NAME, "--models-dir", str(installed)]) == 1  # nothing to download, said so


@pytest.mark.slow
def test_kiosk_run_speaker_path_speaks_with_the_added_voice(installed) -> None:  # noqa: ANN001
    from kiosk.runtime import build_speaker

    speaker = build_speaker(settings_for(installed))  # what Runtime (kiosk run) builds
    assert speaker.speaker_id is None
    clip = speaker.speak_joined("Your badge is waiting at reception.")
    assert clip.sample_rate == 22050 and clip.duration_s > 1.0
    assert clip.visemes[0].start_s == 0.0 and clip.visemes[-1].end_s == pytest.approx(clip.duration_s)
    assert len({v.viseme for v in clip.visemes} - {"sil"}) >= 5 and {v.viseme for v in clip.visemes} <= set(VISEMES)


@pytest.mark.slow
def test_kiosk_say_with_a_config_naming_the_added_voice(installed, tmp_path, capsys) -> None:  # noqa: ANN001
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[persona]\nvoice = "{NAME}"\n\n[models]\ndir = "{installed}"\n', encoding="utf-8")
    out = tmp_path / "hello.wav"
    assert main(["say", "Welcome to Halvorsen Robotics.", "--out", str(out), "--config", str(config), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    with wave.open(str(out), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
        assert w.getnframes() / 22050 == pytest.approx(summary["duration_s"], abs=1e-3)
    assert summary["duration_s"] > 1.0 and summary["visemes"]


@pytest.mark.slow
def test_list_and_preview(installed, tmp_path, capsys) -> None:  # noqa: ANN001
    assert main(["voice", "list", "--json", "--models-dir", str(installed)]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    mine, joe = rows[NAME], rows["en_US-joe-medium"]
    assert (mine["source"], mine["sample_rate"], mine["speakers"], mine["language"]) == ("added", 22050, 1, "en")
    assert (joe["source"], joe["persona"], mine["persona"]) == ("embedded", True, False)
    assert rows["de_DE-thorsten-medium"]["source"] in ("not installed", "fetched")
    out = tmp_path / "p.wav"
    assert main(["voice", "preview", NAME, "--text", "Hello there.", "--out", str(out), "--json",
                 "--models-dir", str(installed)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["duration_s"] > 0.5 and result["visemes"] >= 3 and out.is_file() and result["played"] is None


@pytest.mark.slow
def test_existing_name_needs_replace(installed, joe, tmp_path, capsys) -> None:  # noqa: ANN001
    src = make_voice(tmp_path / "again", joe)
    before = (installed / LOCAL_MANIFEST).read_text()
    assert add(str(src), "--models-dir", str(installed)) == 1
    assert "already exists" in capsys.readouterr().err and (installed / LOCAL_MANIFEST).read_text() == before
    assert add(str(src), "--models-dir", str(installed), "--replace", "--licence", "CC0-1.0") == 0
    assert "replaced voice" in capsys.readouterr().out
    entry = load_manifest(None, installed).get(NAME)
    assert entry.licence == "CC0-1.0" and verify_model(entry, installed).status == "ok"
    assert not list(installed.glob(".*.adding")) and not list(installed.glob(".*.replaced"))  # no staging left


def test_a_repository_model_name_is_never_taken(joe, tmp_path, capsys) -> None:  # noqa: ANN001
    src = make_voice(tmp_path / "src", joe, name="en_US-joe-medium")
    models = tmp_path / "models"
    for extra in ([], ["--replace"]):
        assert add(str(src), "--models-dir", str(models), *extra) == 1
        assert "manifest" in capsys.readouterr().err
    assert not models.exists() or not any(models.iterdir())


# ----------------------------------------------------------------------------- refusals


def _without(config: dict, *path: str) -> dict:
    config = json.loads(json.dumps(config))
    node = config
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return config


def _remove_phonemes(config: dict, phonemes: str) -> dict:
    config = json.loads(json.dumps(config))
    for p in phonemes.split():
        config["phoneme_id_map"].pop(p, None)
    return config


REFUSALS = {
    # name: (how the voice is broken, the file named, words the message must hold)
    "no config": ("no-config", ".onnx.json", "missing"),
    "config not JSON": ("not-json", ".onnx.json", "not valid JSON"),
    "no sample rate": ("no-rate", ".onnx.json", "no audio.sample_rate"),
    "odd sample rate": ("rate-11025", ".onnx.json", "11025 is not one the kiosk plays"),
    "no lip phonemes": ("no-PP", ".onnx.json", "PP"),
    "truncated model": ("truncated", ".onnx", "does not load in Piper"),
    "speaker count not a number": ("speakers-two", ".onnx.json", "is not a Piper voice config"),
}


def _broken(kind: str, folder: Path, joe: Path) -> Path:
    config = joe_config(joe)
    if kind == "no-config":
        onnx = make_voice(folder, joe)
        onnx.with_name(onnx.name + ".json").unlink()
        return onnx
    if kind == "not-json":
        onnx = make_voice(folder, joe)
        onnx.with_name(onnx.name + ".json").write_text('{"audio": {"sample_rate": 22050,', encoding="utf-8")
        return onnx
    if kind == "no-rate":
        return make_voice(folder, joe, config=_without(config, "audio", "sample_rate"))
    if kind == "rate-11025":
        config["audio"]["sample_rate"] = 11025
        return make_voice(folder, joe, config=config)
    if kind == "no-PP":
        return make_voice(folder, joe, config=_remove_phonemes(config, " ".join(phonemes_of("PP"))))
    if kind == "speakers-two":
        return make_voice(folder, joe, config=config | {"num_speakers": "two"})
    if kind == "truncated":
        return make_voice(folder, joe, model=joe.read_bytes()[: 1 << 20])
    raise AssertionError(kind)


@pytest.mark.parametrize("case", list(REFUSALS))
def test_broken_voices_are_refused_with_the_file_and_the_fix(case, joe, tmp_path, capsys) -> None:  # noqa: ANN001
    kind, suffix, words = REFUSALS[case]
    onnx = _broken(kind, tmp_path / "src", joe)
    models = tmp_path / "models"
    assert add(str(onnx), "--models-dir", str(models)) == 1
    err = capsys.readouterr().err
    assert "refused, nothing was installed" in err and words in err and "what to do:" in err
    named = onnx if suffix == ".onnx" else onnx.with_name(onnx.name + ".json")
    assert str(named) in err
    nothing_installed(models)


@pytest.mark.slow
def test_a_phoneme_the_language_needs_missing_from_the_map_is_refused(joe, tmp_path, capsys) -> None:  # noqa: ANN001
    """ə is not a mouth shape of its own (E has e and ɛ too), but English speech is full of it: Piper would
    drop it without a word, so the test sentence catches it."""
    onnx = make_voice(tmp_path / "src", joe, config=_remove_phonemes(joe_config(joe), "ə"))
    assert add(str(onnx), "--models-dir", str(tmp_path / "models")) == 1
    err = capsys.readouterr().err
    assert "phoneme_id_map lacks ə" in err and str(onnx) + ".json" in err
    nothing_installed(tmp_path / "models")


@pytest.mark.slow
def test_a_multi_speaker_config_on_a_single_speaker_model_fails_to_speak(joe, tmp_path, capsys) -> None:  # noqa: ANN001
    config = joe_config(joe) | {"num_speakers": 2, "speaker_id_map": {"a": 0, "b": 1}}
    onnx = make_voice(tmp_path / "src", joe, config=config)
    assert add(str(onnx), "--models-dir", str(tmp_path / "models")) == 1
    err = capsys.readouterr().err
    assert "fails to speak the test sentence" in err and "multi-speaker" in err
    nothing_installed(tmp_path / "models")


def test_voice_files_are_found_in_a_folder_or_by_either_file(joe, tmp_path) -> None:  # noqa: ANN001
    onnx = make_voice(tmp_path / "one", joe)
    assert find_voice_files(onnx.parent).model == onnx
    assert find_voice_files(onnx.with_name(onnx.name + ".json")).model == onnx
    make_voice(tmp_path / "one", joe, name="other")
    with pytest.raises(VoiceCheckError, match="2 voice models in this folder"):
        find_voice_files(onnx.parent)
    with pytest.raises(VoiceCheckError, match="no .onnx voice model"):
        find_voice_files(tmp_path / "one" / ".." / "..")
    with pytest.raises(VoiceStoreError, match="cannot be a voice name"):
        from kiosk.speech.voice_store import voice_name

        voice_name(find_voice_files(onnx), "my voice!")


# ----------------------------------------------------------------------------- multi-speaker voices


def _two_speaker_model(joe: Path, out: Path) -> Path:
    """joe with a real `sid` input: speaker 1 (\"slow\") multiplies the length scale by 1.6."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(joe))
    graph = model.graph
    for init in graph.initializer:  # joe's graph has a weight that happens to be called "sid"
        if init.name == "sid":
            init.name = "joe_sid_weight"
    for node in graph.node:
        for i, name in enumerate(node.input):
            node.input[i] = {"sid": "joe_sid_weight", "scales": "scales_by_speaker"}.get(name, name)
    graph.input.append(helper.make_tensor_value_info("sid", TensorProto.INT64, [1]))
    graph.initializer.extend([numpy_helper.from_array(np.array([0.0, 0.6, 0.0], np.float32), "slowdown"),
                              numpy_helper.from_array(np.ones(3, np.float32), "ones")])
    nodes = [helper.make_node("Cast", ["sid"], ["sid_f"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["sid_f", "slowdown"], ["sid_slowdown"]),
             helper.make_node("Add", ["sid_slowdown", "ones"], ["speaker_factor"]),
             helper.make_node("Mul", ["scales", "speaker_factor"], ["scales_by_speaker"]), *graph.node]
    del graph.node[:]
    graph.node.extend(nodes)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "en_US-duo-medium.onnx"
    onnx.save(model, str(path))
    config = joe_config(joe) | {"num_speakers": 2, "speaker_id_map": {"normal": 0, "slow": 1}}
    path.with_name(path.name + ".json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def duo(tmp_path_factory, joe):  # noqa: ANN001, ANN201
    """The two-speaker voice added with --speaker slow into a fresh models directory."""
    root = tmp_path_factory.mktemp("duo")
    src = _two_speaker_model(joe, root / "src")
    models = root / "models"
    assert add(str(src), "--models-dir", str(models), "--speaker", "slow") == 0
    return models


@pytest.mark.slow
def test_multi_speaker_voice_speaks_as_the_chosen_speaker(duo, capsys) -> None:  # noqa: ANN001
    from kiosk.runtime import build_speaker

    installed = json.loads((duo / "en_US-duo-medium" / "en_US-duo-medium.onnx.json").read_text(encoding="utf-8"))
    assert installed["default_speaker_id"] == 1  # --speaker slow became the voice's default
    base = with_overrides(Settings(), persona={"voice": "en_US-duo-medium"}, models={"dir": str(duo)})
    text = "Welcome to Halvorsen Robotics, your badge is at reception."
    lengths = {}
    for speaker in ("", "normal", "slow", 0, 1, "1"):
        voice = build_speaker(with_overrides(base, speech={"speaker": speaker}))
        clip = voice.speak_joined(text)
        assert check_timeline(clip.visemes, clip.duration_s) == []
        lengths[speaker] = (voice.speaker_id, clip.duration_s)
    assert {k: v[0] for k, v in lengths.items()} == {"": 1, "normal": 0, "slow": 1, 0: 0, 1: 1, "1": 1}
    assert lengths["slow"][1] > 1.3 * lengths["normal"][1]  # the sid input really reached the model
    assert main(["voice", "list", "--json", "--models-dir", str(duo)]) == 0
    row = next(r for r in json.loads(capsys.readouterr().out) if r["name"] == "en_US-duo-medium")
    assert (row["speakers"], row["speaker_names"]) == (2, ["normal", "slow"])


@pytest.mark.slow
def test_unknown_speaker_is_a_config_error_naming_key_and_choices(duo, tmp_path, capsys) -> None:  # noqa: ANN001
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[persona]\nvoice = "en_US-duo-medium"\n\n[speech]\nspeaker = "nobody"\n\n'
                      f'[models]\ndir = "{duo}"\n', encoding="utf-8")
    assert main(["say", "Hello.", "--out", str(tmp_path / "x.wav"), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}:5: speech.speaker: 'nobody' is not a speaker of voice en_US-duo-medium" in err
    assert "normal (0), slow (1)" in err
    settings = load_settings(str(config), env={})
    from kiosk.runtime import build_speaker

    with pytest.raises(ConfigError, match="ids 0 to 1"):
        build_speaker(with_overrides(settings, speech={"speaker": 7}))


@pytest.mark.slow
def test_add_refuses_an_unknown_speaker(duo, joe, tmp_path, capsys) -> None:  # noqa: ANN001
    src = duo / "en_US-duo-medium" / "en_US-duo-medium.onnx"
    assert add(str(src), "--name", "en_US-trio-medium", "--models-dir", str(tmp_path), "--speaker", "fast") == 1
    assert "'fast' is not a speaker" in capsys.readouterr().err
    nothing_installed(tmp_path, "en_US-trio-medium")
    assert add(str(make_voice(tmp_path / "s", joe)), "--models-dir", str(tmp_path), "--speaker", "2") == 1
    assert "has a single speaker" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the pieces, fast


class _Config:
    """The three attributes of piper's PiperConfig that speaker resolution reads."""

    def __init__(self, num_speakers: int, speaker_id_map: dict[str, int], default_speaker_id: int = 0) -> None:
        self.num_speakers, self.speaker_id_map = num_speakers, speaker_id_map
        self.default_speaker_id = default_speaker_id


def test_speaker_resolution() -> None:
    one = _Config(1, {})
    assert resolve_speaker(one, "") is None and resolve_speaker(one, 0) is None
    with pytest.raises(SpeakerChoiceError, match="single speaker"):
        resolve_speaker(one, "p225", "v")
    many = _Config(900, {f"p{i}": i for i in range(900)} | {"42": 7}, default_speaker_id=3)
    assert resolve_speaker(many, "") == 3 and resolve_speaker(many, "p12") == 12 and resolve_speaker(many, 899) == 899
    assert resolve_speaker(many, "42") == 7 and resolve_speaker(many, "43") == 43  # a name first, else an id
    with pytest.raises(SpeakerChoiceError, match=r"p0 \(0\), p1 \(1\).* and 889 more") as caught:
        resolve_speaker(many, "nobody", "en_US-big")
    assert "en_US-big" in str(caught.value)
    with pytest.raises(SpeakerChoiceError, match="ids 0 to 899"):
        resolve_speaker(many, 900)
    unnamed = _Config(4, {})
    assert resolve_speaker(unnamed, 2) == 2
    with pytest.raises(SpeakerChoiceError, match="ids 0 to 3"):
        resolve_speaker(unnamed, "alice")


def test_doctor_checks_the_speaker_against_the_voice(tmp_path) -> None:  # noqa: ANN001
    from kiosk.checks import check_models

    def speaker_checks(speaker: int | str) -> list:
        settings = with_overrides(Settings(), speech={"speaker": speaker}, models={"dir": str(tmp_path)})
        return [c for c in check_models(settings) if c.name == "speech.speaker"]

    assert speaker_checks("") == [] and speaker_checks(0) == []
    (bad,) = speaker_checks("p225")
    assert bad.status == "fail" and "en_US-joe-medium has a single speaker" in bad.detail


def test_speech_speaker_setting() -> None:
    assert SpeechSettings().speaker == ""
    assert parse_settings("[speech]\nspeaker = 3\n").speech.speaker == 3
    assert parse_settings('[speech]\nspeaker = " p225 "\n').speech.speaker == "p225"
    for bad, words in (("true", "a number (an id) or text"), ("-1", "ids start at 0"), ("1.5", "a number (an id)")):
        with pytest.raises(ConfigError, match=r"speech\.speaker") as caught:
            parse_settings(f"[speech]\nspeaker = {bad}\n")
        assert words in str(caught.value)


def test_timeline_check() -> None:
    from kiosk.events import VisemeSpan

    good = [VisemeSpan(0.0, 0.2, "sil"), VisemeSpan(0.2, 0.5, "aa"), VisemeSpan(0.5, 1.0, "PP")]
    assert check_timeline(good, 1.0) == []
    assert check_timeline([], 1.0) == ["no visemes at all"]
    assert "ends at 0.500 s" in check_timeline(good[:2], 1.0)[0]
    assert "gap" in check_timeline([good[0], good[2]], 1.0)[0]
    assert check_timeline([VisemeSpan(0.0, 1.0, "sil")], 1.0) == ["only silence: the mouth never moves"]
    assert check_timeline(good, 1.03) == []  # within the tolerance


def _fake_added(models: Path, name: str = "en_US-fake-low") -> ModelEntry:
    (models / name).mkdir(parents=True)
    files = []
    for rel, body in ((f"{name}.onnx", b"x"), (f"{name}.onnx.json", b"{}")):
        (models / name / rel).write_bytes(body)
        import hashlib

        files.append(ModelFile(rel, "", hashlib.sha256(body).hexdigest(), len(body)))
    entry = ModelEntry(name, "tts", "en", "CC0-1.0", 'a "quoted" description', "optional", tuple(files),
                       f"{name}.onnx", added=True)
    write_local_models(models, [entry])
    return entry


def test_local_manifest_round_trip_merge_and_remove(tmp_path) -> None:  # noqa: ANN001
    models = tmp_path / "models"
    entry = _fake_added(models)
    manifest = load_manifest(None, models)
    assert manifest.get(entry.name) == entry and manifest.local_path == models / LOCAL_MANIFEST
    assert "en_US-fake-low" not in load_manifest().names()  # only merged when asked, with a models dir
    assert verify_model(entry, models).status == "ok"
    (models / entry.name / f"{entry.name}.onnx").write_bytes(b"y")
    assert verify_model(entry, models).status == "corrupted"
    with pytest.raises(VoiceStoreError, match="not an added voice"):
        remove_voice("en_US-joe-medium", models, manifest)
    assert remove_voice(entry.name, models, manifest) == models / entry.name
    assert not (models / entry.name).exists() and read_local_models(models) == ()
    with pytest.raises(VoiceStoreError, match="no added voice"):
        remove_voice(entry.name, models, manifest)


def test_local_manifest_problems(tmp_path, caplog) -> None:  # noqa: ANN001
    models = tmp_path / "models"
    entry = _fake_added(models)
    shutil.rmtree(models / entry.name)
    with pytest.raises(ModelMissingError, match=r"kiosk voice add PATH --name en_US-fake-low --replace"):
        load_manifest(None, models).locate(entry.name, models)
    clash = ModelEntry("en_US-joe-medium", "tts", "en", "x", "", "optional", entry.files, entry.entry, added=True)
    write_local_models(models, [entry, clash])
    with caplog.at_level(logging.WARNING):
        merged = load_manifest(None, models)
    assert not merged.get("en_US-joe-medium").added and "local entry is ignored" in caplog.text
    (models / LOCAL_MANIFEST).write_text("[[model]]\nname = 'x'\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=LOCAL_MANIFEST):
        load_manifest(None, models)

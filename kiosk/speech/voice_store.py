"""Installing, listing and removing Piper voices in the models directory (`kiosk voice add|list|remove`).

An added voice lives where fetched models live, <models_dir>/<name>/<name>.onnx(.json), and is described in
<models_dir>/local-manifest.toml with its files' sha256, so the kiosk finds it like any model
(`persona.voice = "<name>"`, kiosk.models.locate) and `kiosk models verify` checks it. Nothing here touches
the network. A voice is checked (kiosk.speech.voice_check) before anything is copied, and copied into a
staging folder that replaces the old one in one rename: a refused or interrupted add leaves the kiosk's
voices exactly as they were.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.config import Settings, SpeechSettings
from kiosk.models.local import write_local_models
from kiosk.models.manifest import (
    Manifest,
    ModelEntry,
    ModelFile,
    ModelMissingError,
    read_local_models,
    sha256_file,
    valid_model_name,
    write_lock,
)
from kiosk.speech.voice_check import VoiceFiles, VoiceInfo, VoiceReport, check_voice, find_voice_files

log = logging.getLogger(__name__)


class VoiceStoreError(ValueError):
    """A voice that cannot be added or removed as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Added:
    entry: ModelEntry
    root: Path
    report: VoiceReport
    replaced: bool


def voice_name(files: VoiceFiles, name: str | None) -> str:
    chosen = name or files.stem
    if not valid_model_name(chosen):
        raise VoiceStoreError(f"{chosen!r} cannot be a voice name: use letters, digits, '.', '_' and '-', starting "
                              "with a letter or digit (pass --name, e.g. --name en_US-ava-medium)")
    return chosen


def _conflict(name: str, manifest: Manifest, models_dir: Path, replace: bool) -> bool:
    """Whether `name` is taken by an added voice (which --replace may replace); raises when it may not be."""
    local = {m.name for m in read_local_models(models_dir)}
    # Its files would be taken for a fetched copy of the repository's model (same <models_dir>/<name>/).
    if name in {m.name for m in manifest.models if not m.added}:
        raise VoiceStoreError(f"{name!r} is a model of the kiosk's manifest ({manifest.path}) and cannot be "
                              "replaced by an added voice: choose another name with --name")
    taken = name in local or (models_dir / name).exists()
    if taken and not replace:
        what = "an added voice" if name in local else f"the folder {models_dir / name}/"
        raise VoiceStoreError(f"{name!r} already exists ({what}): pass --replace to replace it, or choose another "
                              "name with --name")
    return taken


def install_voice(path: Path, models_dir: Path, manifest: Manifest, *, name: str | None = None,
                  speaker: int | str = "", replace: bool = False, text: str | None = None, licence: str = "",
                  speech: SpeechSettings | None = None) -> Added:
    """Checks the voice at `path` and installs it as `name`; raises VoiceCheckError / VoiceStoreError."""
    files = find_voice_files(path)
    name = voice_name(files, name)
    models_dir = Path(models_dir)
    replaced = _conflict(name, manifest, models_dir, replace)
    report = check_voice(files, speech, speaker=speaker, text=text)
    models_dir.mkdir(parents=True, exist_ok=True)
    staging = models_dir / f".{name}.adding"
    shutil.rmtree(staging, ignore_errors=True)  # left by an interrupted add
    staging.mkdir()
    root = models_dir / name
    try:
        files_out = _copy_voice(files, staging, name, speaker, report)
        if root.exists():
            old = models_dir / f".{name}.replaced"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(root, old)
            os.replace(staging, root)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    info = report.info
    description = (f"Piper voice {info.language_name}, {info.quality or 'unknown quality'} "
                   f"({info.sample_rate / 1000:g} kHz, {_speakers(info)}), added from {files.model}")
    entry = ModelEntry(name=name, kind="tts", language=info.language, licence=licence or _licence(files),
                       description=description, role="optional", files=files_out, entry=f"{name}.onnx",
                       added=True)
    others = [m for m in read_local_models(models_dir) if m.name != name]
    write_local_models(models_dir, [*others, entry])
    log.info("voice %s installed in %s", name, root)
    return Added(entry, root, report, replaced)


def _copy_voice(files: VoiceFiles, staging: Path, name: str, speaker: int | str,
                report: VoiceReport) -> tuple[ModelFile, ...]:
    model = staging / f"{name}.onnx"
    shutil.copyfile(files.model, model)
    config = staging / f"{name}.onnx.json"
    if speaker != "" and report.speaker_id is not None:
        # --speaker becomes the voice's default (Piper's default_speaker_id), so a persona needs only its name;
        # speech.speaker still overrides it.
        data = json.loads(files.config.read_text(encoding="utf-8"))
        data["default_speaker_id"] = report.speaker_id
        config.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    else:
        shutil.copyfile(files.config, config)
    copies = [model, config]
    for extra in files.extras:
        shutil.copyfile(extra, staging / extra.name)
        copies.append(staging / extra.name)
    if sha256_file(model) != sha256_file(files.model):  # a full disk or a flaky card must not pass as a voice
        raise OSError(f"copying {files.model} to {model} produced a different file (disk full?)")
    hashes = {p.name: sha256_file(p) for p in copies}
    write_lock(staging, hashes)
    return tuple(ModelFile(p.name, "", hashes[p.name], p.stat().st_size) for p in copies)


def _licence(files: VoiceFiles) -> str:
    if files.extras:
        return f"see {files.extras[0].name} (added with the voice)"
    return "unknown (not stated when the voice was added)"


def _speakers(info: VoiceInfo) -> str:
    return "one speaker" if info.num_speakers <= 1 else f"{info.num_speakers} speakers"


def remove_voice(name: str, models_dir: Path, manifest: Manifest) -> Path:
    """Deletes an added voice (files and entry); the kiosk's own models cannot be removed this way."""
    local = read_local_models(models_dir)
    if name not in {m.name for m in local}:
        if name in {m.name for m in manifest.models if not m.added}:
            raise VoiceStoreError(f"{name!r} is a model of the kiosk's manifest, not an added voice; "
                                  "only voices added with `kiosk voice add` can be removed")
        raise VoiceStoreError(f"no added voice named {name!r} (kiosk voice list shows them)")
    root = Path(models_dir) / name
    write_local_models(models_dir, [m for m in local if m.name != name])
    shutil.rmtree(root, ignore_errors=True)
    return root


# ----------------------------------------------------------------------------- listing


def list_voices(settings: Settings, manifest: Manifest) -> list[dict[str, Any]]:
    """Every voice (tts model) of the manifest: where it comes from, what it is, whether the persona uses it."""
    models_dir = settings.models.resolved_dir
    rows = []
    for entry in manifest.models:
        if entry.kind != "tts":
            continue
        row: dict[str, Any] = {"name": entry.name, "language": entry.language, "sample_rate": None,
                               "speakers": None, "speaker_names": [], "source": "not installed", "path": None,
                               "persona": entry.name == settings.persona.voice, "description": entry.description}
        try:
            loc = manifest.locate(entry.name, models_dir)
        except ModelMissingError:
            rows.append(row)
            continue
        row.update(source=loc.source, path=str(loc.path))
        config = next((p for rel, p in loc.files.items() if rel.endswith(".onnx.json")), None)
        try:
            info = VoiceInfo.from_config(json.loads(config.read_text(encoding="utf-8")) if config else {})
        except (OSError, ValueError, TypeError) as error:  # listed anyway: `kiosk models verify` says more
            row["problem"] = f"unreadable config: {error}"
        else:
            names = sorted(info.speakers, key=info.speakers.__getitem__)
            row.update(sample_rate=info.sample_rate or None, speakers=info.num_speakers, speaker_names=names,
                       language=info.language if info.language != "multi" else entry.language)
        rows.append(row)
    return rows

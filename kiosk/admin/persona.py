"""The console's Persona page behind the scenes: the few settings a training manager changes (name, greeting,
tone, fallback contact, avatar, voice, wake phrase), checked like kiosk.toml (the same messages: key and what
is allowed) and kept in an overlay file in the kiosk's data folder (console.toml): the service cannot write
/etc/kiosk (ProtectSystem=strict), and the file an administrator wrote stays as it is. `kiosk run` reads the
overlay on top of kiosk.toml; a change takes effect when the kiosk restarts, which the console asks for."""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.config import ConfigError, Settings, with_overrides

FIELDS: tuple[tuple[str, str, str], ...] = (
    ("persona", "name", "Name"),
    ("persona", "greeting", "Greeting (said to a new visitor who says nothing)"),
    ("persona", "tone", "Tone"),
    ("persona", "fallback_contact", "Who to ask when the kiosk does not know"),
    ("persona", "avatar", "Avatar (ava, max, nova, or a pack folder)"),
    ("persona", "voice", "Voice (a model name: kiosk voice list)"),
    ("listen", "wake_phrase", "Wake phrase"),
)
MAX_VALUE = 500


def overlay_path(data_dir: Path) -> Path:
    return data_dir / "console.toml"


def read_overlay(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    from kiosk.config_check import loads_toml

    try:
        data = loads_toml(path.read_text(encoding="utf-8"))
    except ValueError as error:  # TOMLDecodeError (tomllib, or tomli on Python 3.10) is a ValueError
        raise ConfigError.single(path, f"not valid TOML: {error}; remove the file to undo the console's changes") \
            from None
    allowed = {(section, key) for section, key, _ in FIELDS}
    out: dict[str, dict[str, str]] = {}
    for section, table in data.items():
        for key, value in (table.items() if isinstance(table, dict) else ()):
            if (section, key) not in allowed or not isinstance(value, str):
                raise ConfigError.single(path, f"{section}.{key} cannot be set here (the console's own file)",
                                         key=f"{section}.{key}")
            out.setdefault(section, {})[key] = value
    return out


def apply_overlay(settings: Settings, path: Path) -> Settings:
    """`settings` with the console's changes on top; ConfigError names the overlay file when one is wrong."""
    values = read_overlay(path)
    if not values:
        return settings
    try:
        return with_overrides(settings, **values)
    except ConfigError as error:
        raise ConfigError.single(path, str(error).split(": ", 1)[-1], key=error.key) from None


def current(settings: Settings) -> dict[str, str]:
    return {f"{section}.{key}": str(getattr(getattr(settings, section), key)) for section, key, _ in FIELDS}


def check(settings: Settings, form: dict[str, str]) -> tuple[Settings | None, dict[str, str], list[str]]:
    """(the settings as changed, the changed values, problems); problems name the field and what to do."""
    changes: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    values: dict[str, str] = {}
    for section, key, label in FIELDS:
        name = f"{section}.{key}"
        value = " ".join(form.get(name, "").split()) if key != "greeting" else form.get(name, "").strip()
        if len(value) > MAX_VALUE:
            problems.append(f"{label} ({name}): at most {MAX_VALUE} characters")
            continue
        values[name] = value
        if value != str(getattr(getattr(settings, section), key)):
            changes.setdefault(section, {})[key] = value
    if problems:
        return None, values, problems
    try:
        changed = with_overrides(settings, **changes) if changes else settings
    except ConfigError as error:
        return None, values, [problem.message if not problem.key else f"{problem.key}: {problem.message}"
                              for problem in error.problems]
    problems += _models(changed, changes)
    return (None if problems else changed), values, problems


def _models(settings: Settings, changes: dict[str, dict[str, str]]) -> list[str]:
    """The avatar and voice must exist here: a typo would otherwise surface only after the restart."""
    problems = []
    persona = changes.get("persona", {})
    if "avatar" in persona:
        from kiosk.avatar.pack import check_pack, pack_path

        found = check_pack(pack_path(settings.persona.avatar))
        if found:
            problems.append(f"persona.avatar: {found[0]}")
    if "voice" in persona:
        from kiosk.models.locate import locate

        try:
            locate(settings, settings.persona.voice, "tts", "persona.voice").path  # noqa: B018 - found or raises
        except Exception as error:  # noqa: BLE001 - ModelKindError, ModelMissingError: the message says which
            problems.append(f"persona.voice: {error}")
    return problems


def write_overlay(path: Path, settings: Settings, base: Settings) -> dict[str, dict[str, str]]:
    """Keeps the values that differ from kiosk.toml (`base`), atomically; returns them."""
    values: dict[str, dict[str, str]] = {}
    for section, key, _ in FIELDS:
        value = getattr(getattr(settings, section), key)
        if value != getattr(getattr(base, section), key):
            values.setdefault(section, {})[key] = value
    text = "# Changed in the admin console; read by `kiosk run` on top of kiosk.toml. Remove a line to undo it.\n"
    for section, table in values.items():
        text += f"\n[{section}]\n" + "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in table.items())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".console.", suffix=".toml")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return values


def avatar_preview(name: str, size: int = 360) -> bytes:
    """The avatar at rest as a PNG (its layers composited at the canvas' resolution, then scaled)."""
    from PIL import Image

    from kiosk.avatar.pack import load_pack, pack_path

    pack = load_pack(pack_path(name))
    w, h = pack.canvas
    frame = np.zeros((h, w, 3), np.float32)
    frame[:] = pack.background
    layers = [pack.layers.get("backdrop"), pack.layers["body"], pack.layers["head"], pack.layers["eyes"],
              pack.layers["pupils"], pack.brows["neutral"], pack.mouth["sil"], pack.layers.get("hair_front")]
    for path in (p for p in layers if p is not None):
        layer = np.asarray(Image.open(path).convert("RGBA"), dtype=np.float32)
        a = layer[..., 3:4] / 255
        frame = (layer[..., :3] * a + frame * (1 - a)).astype(np.float32)
    image = Image.fromarray(frame.clip(0, 255).astype(np.uint8)).resize((size, round(size * h / w)))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def greeting_wav(speaker: Any, text: str) -> bytes:
    """The greeting as the kiosk would say it, as a WAV file."""
    import wave

    clip = speaker.speak_joined(text)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(clip.sample_rate)
        w.writeframes(clip.pcm)
    return out.getvalue()

"""A multi-speaker voice's speakers and `speech.speaker` checked against them. Light on purpose (no ONNX
runtime): `kiosk doctor` and a pack's health check use it without loading a voice."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_LISTED_SPEAKERS = 12  # a LibriTTS voice has 900 speakers: an error message names the first few


class SpeakerChoiceError(ValueError):
    """speech.speaker names a speaker the voice does not have; the message lists the ones it has."""


def speaker_choices(speakers: Mapping[str, int], count: int) -> str:
    """The speakers of a multi-speaker voice (its speaker_id_map, num_speakers) as "name (id)", for a message."""
    names = sorted(speakers.items(), key=lambda kv: kv[1])
    if not names:
        return f"ids 0 to {count - 1}"
    shown = ", ".join(f"{name} ({sid})" for name, sid in names[:_LISTED_SPEAKERS])
    more = len(names) - _LISTED_SPEAKERS
    return shown + (f" and {more} more (`kiosk voice list --json` lists them all)" if more > 0 else "")


def resolve_speaker(config: Any, wanted: int | str, voice: str = "the voice") -> int | None:
    """The speaker id to synthesize with (None for a single-speaker voice), from speech.speaker: an id, a
    name in the voice's speaker_id_map, or "" for the voice's default. `config` is a piper PiperConfig."""
    count = int(config.num_speakers)
    if count <= 1:
        if wanted in ("", 0):
            return None
        # Strict, like every other setting: a speaker chosen for another voice would otherwise be ignored silently.
        raise SpeakerChoiceError(f"{wanted!r} cannot be used: voice {voice} has a single speaker; "
                                 "set it to \"\" (or 0)")
    choices = speaker_choices(config.speaker_id_map, count)
    if wanted == "":
        return int(config.default_speaker_id)
    if isinstance(wanted, str) and wanted not in config.speaker_id_map and wanted.isdigit():
        wanted = int(wanted)  # `--speaker 3` on the command line, or "3" in TOML: an id unless a name says otherwise
    if isinstance(wanted, int):
        if 0 <= wanted < count:
            return wanted
        raise SpeakerChoiceError(f"{wanted} is not a speaker id of voice {voice}: it has {count} speakers, "
                                 f"ids 0 to {count - 1}; its speakers: {choices}")
    if wanted in config.speaker_id_map:
        return int(config.speaker_id_map[wanted])
    raise SpeakerChoiceError(f"{wanted!r} is not a speaker of voice {voice}; its speakers: {choices}")

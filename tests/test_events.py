"""The event vocabulary: one leaf module, every closed set an enum, every event round-trips through JSON."""

from __future__ import annotations

import ast
import dataclasses
import enum
import json
import types
import typing
from pathlib import Path

import pytest

from kiosk import events
from kiosk.event_json import EVENT_TYPES, from_json, to_json

ROOT = Path(__file__).resolve().parents[1]


def sample(hint: typing.Any, name: str = "") -> typing.Any:
    """A value of the annotated type, different from its default where it has one."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return sample(next(a for a in typing.get_args(hint) if a is not type(None)), name)
    if origin is tuple:
        return (sample(typing.get_args(hint)[0], name),)
    if origin is dict:
        return {"path": "faq.md", "score": 0.5}
    if dataclasses.is_dataclass(hint):
        return build(hint)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return list(hint)[-1]
    return {int: 3, float: 1.25, str: f"some {name}", bool: True, bytes: b"\x01\x00" * 4}[hint]


def build(cls: type) -> typing.Any:
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: sample(hints[f.name], f.name) for f in dataclasses.fields(cls)})


def test_every_event_type_is_found_and_named() -> None:
    names = set(EVENT_TYPES)
    assert {"wake", "speech_started", "speech_ended", "heard_partial", "heard", "window_closed", "dismissed",
            "microphone_status", "grounded", "answer_token", "answer_sentence", "speech_audio", "turn_error",
            "answer_done", "visitor_changed"} == names


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_every_event_round_trips_through_json(name: str) -> None:
    event = build(EVENT_TYPES[name])
    data = json.loads(json.dumps(to_json(event)))
    assert data["event"] == name
    back = from_json(data)
    if isinstance(event, events.SpeechAudio):  # audio never goes through JSON: only its metadata
        assert data["clip"]["pcm_bytes"] == len(event.clip.pcm) and back.clip.pcm == b""
        back = dataclasses.replace(back, clip=dataclasses.replace(back.clip, pcm=event.clip.pcm))
    assert back == event


def test_closed_sets_are_enums_and_strings_still_read() -> None:
    assert events.Wake(0.0, "tap").source is events.WakeSource.TAP
    assert f"{events.Dismissed(1.0, 'quieter').reason}" == "quieter"  # logs and JSON show the value
    with pytest.raises(ValueError):
        events.SpeechEnded(1.0, "bored")  # a value outside the set is a bug, caught where it is made
    assert events.MicrophoneStatus("lost", "unplugged").down


def test_the_vocabulary_is_a_leaf_module() -> None:
    tree = ast.parse((ROOT / "kiosk" / "events.py").read_text())
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)] + [
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m and m.startswith("kiosk")], imported

"""Events as JSON, one object per event: what logs, the status endpoint and a local API will consume.

`{"event": "<snake_case type>", <fields>}`; enums are their string values, tuples lists, nested dataclasses
objects. Audio never goes through JSON: a clip's PCM becomes its byte count (`pcm_bytes`), and an event
read back carries an empty clip of that length's metadata only.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import types
import typing
from typing import Any

from kiosk import events

# Every event type of the vocabulary, by its JSON name.
EVENT_TYPES: dict[str, type] = {}
for _member in typing.get_args(events.Event):
    EVENT_TYPES[re.sub(r"(?<!^)(?=[A-Z])", "_", _member.__name__).lower()] = _member
_NAMES = {cls: name for name, cls in EVENT_TYPES.items()}


def to_json(event: Any) -> dict[str, Any]:
    """The JSON object for an event (json.dumps-able)."""
    return {"event": _NAMES[type(event)], **_value(event)}


def _value(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if isinstance(v, bytes):
                out[f"{f.name}_bytes"] = len(v)
            else:
                out[f.name] = _value(v)
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _value(v) for k, v in value.items()}
    return value


def from_json(data: dict[str, Any]) -> Any:
    """An event from its JSON object (audio comes back empty: PCM is never serialized)."""
    data = dict(data)
    cls = EVENT_TYPES[data.pop("event")]
    return _build(cls, data)


def _build(cls: type, data: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _typed(hints[f.name], data[f.name])
        elif f"{f.name}_bytes" in data:
            kwargs[f.name] = b""  # the audio itself stays out of JSON
    return cls(**kwargs)


def _typed(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if value is None:
        return None
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _typed(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return tuple(_typed(item, v) for v in value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return _build(hint, value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    return value

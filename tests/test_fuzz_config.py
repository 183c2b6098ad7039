"""Fuzzing the config loader: any file either loads as Settings or is refused with a ConfigError that names
the file (and the key, when one is to blame). Never another exception type: a traceback at start-up leaves
a kiosk dark with nothing on screen saying which line to fix."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from pathlib import Path

import pytest
from fuzzing import fuzz, mutate
from hypothesis import example, given
from hypothesis import strategies as st

from kiosk import config
from kiosk.config import SECTIONS, ConfigError, Settings, load_settings, parse_settings

PERSONAS = Path(__file__).resolve().parent.parent / "provisioning" / "personas"
EXAMPLE_FILES = sorted(PERSONAS.glob("*.toml"))
KEYS = [(section, f.name) for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)]
EDITS = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=6)


@pytest.fixture(autouse=True)
def no_etc_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "ETC_CONFIG_PATH", tmp_path / "etc" / "kiosk.toml")


def load(path: Path) -> Settings | ConfigError:
    """The loader's outcome; any exception other than ConfigError fails the test."""
    try:
        return load_settings(str(path), env={})
    except ConfigError as error:
        assert error.problems and str(error).startswith(str(path)), str(error)
        return error


# -- TOML values of every type, written as TOML text -------------------------------------------------


def _toml_string(s: str) -> str:
    # JSON string escapes are TOML's, except that TOML wants DEL escaped too.
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{_toml_string(k)} = {toml(v)}" for k, v in value.items()) + "}"


SCALARS = st.one_of(
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),  # beyond TOML's 64 bits: tomllib still parses them
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", " ", "auto", "en", "INFO", "hey coach", "smollm2-135m-instruct"]),
    st.dates(),
    st.times(),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                            max_size=3), max_leaves=8)


@fuzz(300)
@given(st.text(max_size=400))
@example("[speech]\nrate = 1" + "0" * 400)  # a number too big for a float: was an OverflowError
def test_any_text_loads_or_is_a_config_error(text: str) -> None:
    try:
        settings = parse_settings(text, Path("kiosk.toml"))
    except ConfigError as error:
        assert str(error).startswith("kiosk.toml")
    else:
        assert isinstance(settings, Settings)


@fuzz(200)
@given(st.lists(st.tuples(st.sampled_from(KEYS), VALUES), min_size=1, max_size=5))
@example([(("speech", "rate"), 10**400)])
@example([(("answer", "temperature"), -(2**64))])
@example([(("llm", "seed"), 2**64)])  # llama.cpp takes a 32-bit seed: an int beyond 64 bits is refused here
def test_wrong_types_for_known_keys_name_the_key(tmp_path: Path, entries: list) -> None:
    table: dict[str, dict[str, object]] = {}
    for (section, key), value in entries:
        table.setdefault(section, {})[key] = value
    text = "".join(f"[{s}]\n" + "".join(f"{k} = {toml(v)}\n" for k, v in keys.items()) for s, keys in table.items())
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    outcome = load(path)
    if isinstance(outcome, ConfigError):
        for problem in outcome.problems:  # each problem points at a key that was written, or at the syntax
            assert problem.key == "" or problem.key.split(".")[0] in table, problem
            assert problem.line is None or 1 <= problem.line <= len(text.splitlines())


@fuzz(150)
@given(st.sampled_from(EXAMPLE_FILES), EDITS)
def test_mutated_example_persona_loads_or_is_a_config_error(tmp_path: Path, source: Path, edits: list) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_bytes(mutate(source.read_bytes(), edits))
    load(path)


@fuzz(100)
@given(st.binary(max_size=200))
def test_binary_garbage_is_a_config_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_bytes(data)
    load(path)

"""Validation helpers for kiosk.config: the error type, a TOML line locator and per-field checks.

tomllib reports line numbers only for syntax errors, never for values, so `KeyLocator` scans the raw
text for table headers and `key =` lines to point each problem at the line a person has to edit.
Everything here is generic over the settings dataclasses; the schema itself lives in kiosk.config.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (JetPack 6)
    import tomli as tomllib  # type: ignore[no-redef]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config file."""

    key: str
    """dotted key ("answer.temperature"), a section name, or "" for file-level problems"""
    message: str
    line: int | None = None
    """1-based line in the file, None when it cannot be located"""
    show_key: bool = True
    """False when the message already names the key (unknown keys and sections)"""


class ConfigError(Exception):
    """A config file that cannot be used. Lists every problem found, one per line.

    `file`, `line`, `key` and `message` describe the first problem (in file order); `problems`
    holds all of them.
    """

    def __init__(self, file: Path | str | None, problems: Iterable[Problem], label: str | None = None):
        self.problems: tuple[Problem, ...] = tuple(
            sorted(problems, key=lambda p: (p.line is None, p.line or 0))
        )
        if not self.problems:
            raise ValueError("ConfigError needs at least one problem")
        self.file: Path | None = Path(file) if file is not None else None
        self._label = label or (str(file) if file is not None else "<config>")
        first = self.problems[0]
        self.line: int | None = first.line
        self.key: str = first.key
        self.message: str = first.message
        super().__init__(self.__str__())

    @classmethod
    def single(
        cls, file: Path | str | None, message: str, key: str = "", line: int | None = None
    ) -> ConfigError:
        return cls(file, [Problem(key, message, line)])

    def format_problem(self, problem: Problem) -> str:
        where = self._label if problem.line is None else f"{self._label}:{problem.line}"
        if problem.key and problem.show_key:
            return f"{where}: {problem.key}: {problem.message}"
        return f"{where}: {problem.message}"

    def __str__(self) -> str:
        return "\n".join(self.format_problem(p) for p in self.problems)


# --- locating keys in the raw text ----------------------------------------------------------------

_PART = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_HEADER_RE = re.compile(rf"^\s*\[\[?\s*({_PART}(?:\s*\.\s*{_PART})*)\s*\]\]?")
_KEY_RE = re.compile(rf"^\s*({_PART}(?:\s*\.\s*{_PART})*)\s*=")
_PART_RE = re.compile(_PART)


def _parts(dotted: str) -> list[str]:
    return [p[1:-1] if p[:1] in "\"'" else p for p in _PART_RE.findall(dotted)]


def _scan_strings(text: str, state: str | None) -> str | None:
    """Walk one line and return the open multi-line string delimiter at its end (None if closed).

    Only strings and comments matter: a `key = ` inside a multi-line string (a long system_prompt,
    say) must not be mistaken for a key.
    """
    i, n = 0, len(text)
    while i < n:
        if state is not None:  # inside a multi-line string
            if state == '"""' and text[i] == "\\":
                i += 2
                continue
            if text.startswith(state, i):
                i += 3
                state = None
                continue
            i += 1
            continue
        ch = text[i]
        if ch == "#":
            return None
        if text.startswith('"""', i) or text.startswith("'''", i):
            state = text[i : i + 3]
            i += 3
            continue
        if ch in "\"'":  # single-line string: skip to its end
            j = i + 1
            while j < n and text[j] != ch:
                j += 2 if (ch == '"' and text[j] == "\\") else 1
            i = j + 1
            continue
        i += 1
    return state


class KeyLocator:
    """Maps sections and section keys to the line that defines them.

    Understands `[section]`, dotted headers `[section.key]`, `[[section]]`, top-level dotted keys
    `section.key = ...`, `section = ...` (inline tables or wrong types) and skips multi-line strings.
    """

    def __init__(self, text: str):
        self.sections: dict[str, int] = {}
        self.keys: dict[tuple[str, str], int] = {}
        table: list[str] = []
        ml: str | None = None
        for lineno, line in enumerate(text.splitlines(), start=1):
            if ml is not None:
                ml = _scan_strings(line, ml)
                continue
            if m := _HEADER_RE.match(line):
                table = _parts(m.group(1))
                self._record(table, lineno)
                continue  # a header line holds no strings worth scanning
            if m := _KEY_RE.match(line):
                self._record(table + _parts(m.group(1)), lineno)
                ml = _scan_strings(line[m.end() :], None)

    def _record(self, path: list[str], lineno: int) -> None:
        if not path:
            return
        self.sections.setdefault(path[0], lineno)
        if len(path) >= 2:
            self.keys.setdefault((path[0], path[1]), lineno)

    def line(self, section: str, key: str | None = None) -> int | None:
        """The line of `section.key`, else of the section, else None."""
        if key is not None and (section, key) in self.keys:
            return self.keys[(section, key)]
        return self.sections.get(section)


def config_line(source: Path | None, section: str, key: str) -> int | None:
    """The line of `section.key` in a config file, for problems found after loading (None if unknown)."""
    if source is None:
        return None
    try:
        return KeyLocator(source.read_bytes().decode("utf-8-sig")).line(section, key)
    except (OSError, UnicodeDecodeError):
        return None


_AT_LINE_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_AT_END_RE = re.compile(r"\s*\(at end of document\)\s*$")


def loads_toml(text: str) -> dict[str, Any]:
    """tomllib.loads, also for hostile input: a document nested thousands of levels deep (which exhausts
    tomllib's recursion) is a TOMLDecodeError like any other malformed file, not a RecursionError."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError("arrays or inline tables nested too deeply") from None


def syntax_problem(exc: Exception, text: str) -> Problem:
    """Turn a tomllib/tomli TOMLDecodeError into a Problem with the line number from its message."""
    msg = str(exc)
    if m := _AT_LINE_RE.search(msg):
        return Problem("", f"TOML syntax error: {msg[: m.start()]} (column {m.group(2)})", int(m.group(1)))
    if m := _AT_END_RE.search(msg):
        return Problem(
            "", f"TOML syntax error: {msg[: m.start()]} (at end of file)", max(1, len(text.splitlines()))
        )
    return Problem("", f"TOML syntax error: {msg}", getattr(exc, "lineno", None))


# --- describing values ----------------------------------------------------------------------------

_EXPECTED = {
    "str": "text (a string)",
    "int": "a whole number (an integer)",
    "float": "a number",
    "bool": "true or false (a boolean)",
    "groups": 'a list of word groups, e.g. [["canteen", "cafeteria"], ["wifi", "wi-fi"]]',
    "words": 'a list of words, e.g. ["hello", "okay"]',
    "int | str": 'a number (an id) or text (a name), e.g. 3 or "p225"',
}


def show(value: Any) -> str:
    """A value as it would look in TOML, shortened for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        s = json.dumps(value, ensure_ascii=False)
        return s if len(s) <= 42 else s[:38] + '..."'
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    if isinstance(value, dict):
        return "{...}"
    if isinstance(value, list):
        s = json.dumps(value, ensure_ascii=False, default=str)
        return s if len(s) <= 42 else s[:38] + "...]"
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    s = repr(value)
    return s if len(s) <= 42 else s[:38] + "..."


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (datetime.date, datetime.time)):
        return "a date/time"
    return type(value).__name__


def got(value: Any) -> str:
    return f"got {show(value)} ({kind(value)})"


def _num(x: float | int, as_float: bool) -> str:
    return repr(float(x)) if as_float else str(x)


def suggestion(name: str, allowed: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(allowed), n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_key_message(section: str, key: str, allowed: list[str], elsewhere: Mapping[str, str]) -> str:
    """`elsewhere` maps every known key to its section, to catch a key put in the wrong section."""
    head = f'unknown key "{key}" in [{section}]'
    listing = ", ".join(allowed)
    if (home := elsewhere.get(key)) and home != section:
        return f"{head}; it belongs in [{home}]. Allowed keys here: {listing}"
    if best := suggestion(key, allowed):
        return f'{head}; did you mean "{best}"? Allowed keys: {listing}'
    return f"{head}; allowed keys: {listing}"


def unknown_section_message(name: str, allowed: list[str]) -> str:
    listing = ", ".join(allowed)
    if best := suggestion(name, allowed):
        return f"unknown section [{name}]; did you mean [{best}]? Allowed sections: {listing}"
    return f"unknown section [{name}]; allowed sections: {listing}"


# --- checking one field ---------------------------------------------------------------------------


def check_value(f: dataclasses.Field, value: Any) -> tuple[Any, str | None]:
    """Check one TOML value against a settings field. Returns (converted value, error or None).

    Field metadata understood: range=(lo, hi), open_lo (lo itself excluded), choices, required
    (non-empty text), upper (case-insensitive, stored upper-case), pattern=(regex, description).
    """
    typ = f.type if isinstance(f.type, str) else f.type.__name__
    meta = f.metadata
    if typ.startswith("tuple[tuple[str"):
        typ = "groups"
    elif typ.startswith("tuple[str"):
        typ = "words"
    wrong = f"expected {_EXPECTED[typ]}, {got(value)}"
    # tomllib reads integers of any size, TOML allows 64 bits; a bigger one would overflow float() or C code.
    if typ in ("int", "float", "int | str") and isinstance(value, int) and not -(2**63) <= value < 2**63:
        return value, f"{show(value)} is out of range; TOML integers are 64-bit"
    # bool is a subclass of int in Python but not in TOML: never let true pass as 1.
    if typ == "bool":
        if not isinstance(value, bool):
            return value, wrong
    elif typ == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return value, wrong
    elif typ == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return value, wrong
        value = float(value)  # `rate = 1` is a perfectly good number
    elif typ == "groups":
        # tuples too: with_overrides re-checks values that were already built
        ok = isinstance(value, (list, tuple)) and all(
            isinstance(g, (list, tuple)) and len(g) >= 2 and all(isinstance(w, str) and w.strip() for w in g)
            for g in value)
        if not ok:
            return value, f"expected {_EXPECTED[typ]} (each group at least two non-empty strings), {got(value)}"
        value = tuple(tuple(w.strip().lower() for w in g) for g in value)
    elif typ == "words":
        if not (isinstance(value, (list, tuple)) and all(isinstance(w, str) and w.strip() for w in value)):
            return value, f"expected {_EXPECTED[typ]} (non-empty strings), {got(value)}"
        # keep_case: words Whisper should write as given ("B-214", "Kestrel"); others compare lower-case
        value = tuple(w.strip() if meta.get("keep_case") else w.strip().lower() for w in value)
    elif typ == "int | str":  # an id or a name (speech.speaker); which one exists is the model's business
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            return value, wrong
        if isinstance(value, int) and value < 0:
            return value, f"{show(value)} is out of range; ids start at 0"
        value = value.strip() if isinstance(value, str) else value
    elif typ == "str":
        if not isinstance(value, str):
            return value, wrong
        if meta.get("required") and not value.strip():
            return value, "must not be empty"
        if meta.get("upper"):
            value = value.upper()
        if (pat := meta.get("pattern")) and not re.fullmatch(pat[0], value):
            return value, f"{show(value)} is not {pat[1]}"

    if (choices := meta.get("choices")) and value not in choices:
        return value, f"{show(value)} is not one of " + ", ".join(str(c) for c in choices)
    if rng := meta.get("range"):
        lo, hi = rng
        as_float = typ == "float"
        ok = (lo < value if meta.get("open_lo") else lo <= value) and value <= hi
        if not ok:  # NaN fails both comparisons, so it lands here too
            if meta.get("open_lo"):
                allowed = f"above {_num(lo, as_float)} up to {_num(hi, as_float)}"
            else:
                allowed = f"{_num(lo, as_float)} to {_num(hi, as_float)}"
            return value, f"{show(value)} is out of range; allowed {allowed}"
    return value, None


def check_table(
    section: str,
    cls: type,
    table: Mapping[str, Any],
    locator: KeyLocator | None,
    elsewhere: Mapping[str, str],
) -> tuple[dict[str, Any], list[Problem]]:
    """Check a section's table against its dataclass. Returns the good values and the problems."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    problems: list[Problem] = []

    def where(key: str | None) -> int | None:
        return locator.line(section, key) if locator else None

    for key, raw in table.items():
        f = fields.get(key)
        if f is None:
            msg = unknown_key_message(section, key, list(fields), elsewhere)
            problems.append(Problem(f"{section}.{key}", msg, where(key), show_key=False))
            continue
        value, err = check_value(f, raw)
        if err:
            problems.append(Problem(f"{section}.{key}", err, where(key)))
        else:
            values[key] = value
    return values, problems

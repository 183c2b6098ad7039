"""Practice-conversation scenario files (TOML, written by a training team):

    [scenario]
    title = "An upset visitor at reception"
    learner = "You work at reception ..."      # optional: shown to the learner before the start
    goal = "Calm Dana down and agree on a concrete next step."
    exchanges = 6                              # the learner's turns at most
    goal_phrases = ["on his way down"]         # optional: a learner turn saying one ends the talk, goal reached

    [character]                                # who the avatar plays
    name = "Dana"
    situation = "You are Dana Whitfield ..."
    mood = "upset and impatient"
    wants = "to get to your meeting today"
    must_not_reveal = ["you came on the wrong day"]  # never said, whatever the learner asks
    opening = "I've been waiting for twenty minutes."  # optional: the character's first line
    deflection = "Let's not get into that."    # optional: said instead of a sentence that gives a secret away

    [[criterion]]                              # 3 to 6 of them
    name = "Acknowledges the frustration first"
    good = "In the first or second reply, names the frustration ..."
    phrases = ["I'm sorry you've been waiting"]  # examples; the phrases a `phrases` or `avoids` check looks for
                                               # (a list inside the list: alternatives that count once)
    check = "acknowledges"                     # how the rules rate it: one of CHECKS, with its parameters
    within = 2

`load_scenario` reports every problem at once, each with its line, so a trainer fixes a file in one round trip."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.config_check import loads_toml, show

SCENARIO_KEYS = {"title", "learner", "goal", "exchanges", "goal_phrases"}
CHARACTER_KEYS = {"name", "situation", "mood", "wants", "must_not_reveal", "opening", "deflection"}
CRITERION_KEYS = {"name", "good", "phrases", "check"}
MAX_EXCHANGES = 20
CRITERIA = (3, 6)

# check kind -> its parameters with (type, default, lowest, highest). Closed set: each is something the rules in
# kiosk/learn/rubric.py can count in the learner's own words (docs/learning.md, "Rubric checks").
CHECKS: dict[str, dict[str, tuple[type, Any, float, float]]] = {
    "phrases": {"need": (int, 1, 1, 20)},                       # distinct phrases said: `need` met, fewer partly
    "avoids": {},                                               # none said met, in one turn partly, more not
    "asks_questions": {"min": (int, 2, 1, MAX_EXCHANGES), "open_only": (bool, False, 0, 1)},
    "acknowledges": {"min": (int, 1, 1, MAX_EXCHANGES), "within": (int, 0, 0, MAX_EXCHANGES)},
    "talk_share": {"max": (float, 0.6, 0.05, 1.0), "min": (float, 0.0, 0.0, 0.95)},
    "turn_length": {"max_words": (int, 40, 3, 500)},
    "interruptions": {"max": (int, 0, 0, MAX_EXCHANGES)},
}
_NEEDS_PHRASES = {"phrases", "avoids"}
At = Callable[..., int]
"""(table, key) -> the line to report a problem at"""
Report = Callable[[int, str], None]


@dataclass(frozen=True)
class Character:
    name: str
    situation: str
    mood: str
    wants: str
    must_not_reveal: tuple[str, ...] = ()
    opening: str = ""
    deflection: str = ""


@dataclass(frozen=True)
class Criterion:
    name: str
    good: str
    check: str
    phrases: tuple[str, ...] = ()
    """every phrase, flat (examples for the feedback and the model judge)"""
    groups: tuple[tuple[str, ...], ...] = ()
    """the phrases as written: a plain phrase is a group of one; a list is alternatives that count once"""
    params: dict[str, Any] = field(default_factory=dict)
    """the check's parameters, defaults filled in (CHECKS)"""


@dataclass(frozen=True)
class Scenario:
    title: str
    goal: str
    exchanges: int
    character: Character
    criteria: tuple[Criterion, ...]
    learner: str = ""
    goal_phrases: tuple[str, ...] = ()
    path: Path | None = None


class ScenarioError(ValueError):
    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path, self.problems = path, problems
        super().__init__("\n".join(f"{path}:{p}" for p in problems))


def _lines(text: str) -> tuple[dict[str, int], list[int], dict[tuple[str, str], int]]:
    """(line of each table, line of each [[criterion]], (table, key) -> line) for messages; a criterion's table is
    "criterion 1", "criterion 2" ... Multi-line strings are skipped so a `key =` inside one is not a key."""
    tables: dict[str, int] = {}
    criteria: list[int] = []
    keys: dict[tuple[str, str], int] = {}
    current, open_quote = "", ""
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if open_quote:
            if line.count(open_quote) % 2:
                open_quote = ""
            continue
        if m := re.match(r"^\[\[\s*([A-Za-z0-9_-]+)\s*\]\]", line):
            if m.group(1) == "criterion":
                criteria.append(n)
                current = f"criterion {len(criteria)}"
            else:
                current = m.group(1)
            tables.setdefault(current, n)
        elif m := re.match(r"^\[\s*([A-Za-z0-9_.-]+)\s*\]", line):
            current = m.group(1)
            tables.setdefault(current, n)
        elif m := re.match(r"^([A-Za-z0-9_-]+)\s*=(.*)$", line):
            keys.setdefault((current, m.group(1)), n)
            for quote in ('"""', "'''"):
                if m.group(2).count(quote) % 2:
                    open_quote = quote
    return tables, criteria, keys


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(_text(v) for v in value)


def _groups(value: Any) -> bool:
    return isinstance(value, list) and all(_text(v) or (_texts(v) and v) for v in value)


def load_scenario(path: Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(path, [f"1: cannot be read ({error})"]) from None
    try:
        data = loads_toml(text)
    except ValueError as error:
        line = re.search(r"line (\d+)", str(error))
        raise ScenarioError(path, [f"{line.group(1) if line else 1}: not valid TOML: {error}; "
                                   "fix the syntax there (a missing quote or bracket?)"]) from None
    tables, criterion_lines, keys = _lines(text)
    found: list[tuple[int, str]] = []

    def at(table: str, key: str | None = None) -> int:
        return keys.get((table, key), tables.get(table, 1)) if key else tables.get(table, 1)

    def problem(line: int, message: str) -> None:
        found.append((line, f"{line}: {message}"))

    for name in data:
        if name not in ("scenario", "character", "criterion"):
            problem(at(name), f"[{name}]: unknown table; a scenario has [scenario], [character] and "
                              "[[criterion]] tables")
    head = _table(data, "scenario", at, problem)
    who = _table(data, "character", at, problem)
    for table, allowed, got in (("scenario", SCENARIO_KEYS, head), ("character", CHARACTER_KEYS, who)):
        for key in sorted(set(got) - allowed):
            problem(at(table, key), f"{table}.{key}: unknown key; allowed: {', '.join(sorted(allowed))}")

    def need_text(table: str, values: dict[str, Any], key: str, example: str) -> str:
        if not _text(values.get(key)):
            problem(at(table, key), f"{table}.{key}: {'must be text' if key in values else 'missing'}, "
                                    f"e.g. {key} = {example}")
            return ""
        return str(values[key]).strip()

    def optional_text(table: str, values: dict[str, Any], key: str) -> str:
        if key in values and not isinstance(values[key], str):
            problem(at(table, key), f"{table}.{key}: must be text, not {show(values[key])}")
            return ""
        return str(values.get(key, "")).strip()

    def text_list(table: str, values: dict[str, Any], key: str, example: str) -> tuple[str, ...]:
        if key in values and not _texts(values[key]):
            problem(at(table, key), f"{table}.{key}: a list of texts, e.g. {key} = {example}")
            return ()
        return tuple(v.strip() for v in values.get(key, []))

    title = need_text("scenario", head, "title", '"An upset visitor at reception"')
    goal = need_text("scenario", head, "goal", '"Calm the visitor down and agree on a next step."')
    learner = optional_text("scenario", head, "learner")
    goal_phrases = text_list("scenario", head, "goal_phrases", '["on his way down"]')
    exchanges = head.get("exchanges", 6)
    if isinstance(exchanges, bool) or not isinstance(exchanges, int) or not 1 <= exchanges <= MAX_EXCHANGES:
        problem(at("scenario", "exchanges"), f"scenario.exchanges: the learner's turns at most, a whole number "
                                             f"from 1 to {MAX_EXCHANGES}, not {show(exchanges)}")
        exchanges = MAX_EXCHANGES
    character = Character(
        need_text("character", who, "name", '"Dana"'),
        need_text("character", who, "situation", '"You are Dana, a supplier waiting at reception ..."'),
        need_text("character", who, "mood", '"upset and impatient"'),
        need_text("character", who, "wants", '"to get to the meeting today"'),
        text_list("character", who, "must_not_reveal", '["you came on the wrong day"]'),
        optional_text("character", who, "opening"), optional_text("character", who, "deflection"))

    raw = data.get("criterion", [])
    if isinstance(raw, dict):
        problem(at("criterion"), "[criterion]: write each criterion as [[criterion]] (double brackets), "
                                 "one table per criterion")
        raw = []
    elif not isinstance(raw, list):
        problem(1, "criterion: write each criterion as a [[criterion]] table")
        raw = []
    lo, hi = CRITERIA
    if not lo <= len(raw) <= hi and not any("[criterion]" in m for _, m in found):
        where = criterion_lines[hi] if len(raw) > hi and len(criterion_lines) > hi else at("scenario")
        problem(where, f"{len(raw)} [[criterion]] tables: a scenario needs {lo} to {hi} criteria")
    criteria: list[Criterion] = []
    names: dict[str, int] = {}
    for i, c in enumerate(raw):
        if (crit := _criterion(i, c, exchanges, at, problem)) is not None:
            if crit.name.lower() in names:
                problem(at(f"criterion {i + 1}", "name"),
                        f"criterion {i + 1} ({crit.name}): name: {crit.name!r} is also the name of criterion "
                        f"{names[crit.name.lower()]}; each criterion needs its own name")
            names.setdefault(crit.name.lower(), i + 1)
            criteria.append(crit)
    if found:
        raise ScenarioError(path, [message for _, message in sorted(found, key=lambda f: f[0])])
    return Scenario(title, goal, exchanges, character, tuple(criteria), learner, goal_phrases, path)


def _table(data: dict[str, Any], name: str, at: At, problem: Report) -> dict[str, Any]:
    value = data.get(name)
    if value is None:
        problem(1, f"[{name}]: missing; a scenario needs a [{name}] table")
        return {}
    if not isinstance(value, dict):
        problem(at(name), f"[{name}] must be a table, not {show(value)}")
        return {}
    return value


def _criterion(i: int, c: Any, exchanges: int, at: At, problem: Report) -> Criterion | None:
    table, where = f"criterion {i + 1}", f"criterion {i + 1}"
    if not isinstance(c, dict):
        problem(at(table), f"{where}: must be a table")
        return None
    ok = True
    name = str(c.get("name") or "")
    if not _text(name):
        problem(at(table, "name"), f'{where}: name: missing, e.g. name = "Asks open questions"')
        ok = False
    else:
        where = f"{where} ({name.strip()})"
    if not _text(c.get("good")):
        problem(at(table, "good"), f"{where}: good: what good looks like is missing, e.g. "
                                   'good = "Asks at least two open questions."')
        ok = False
    raw = c.get("phrases", [])
    if not _groups(raw):
        problem(at(table, "phrases"), f'{where}: phrases: a list of example phrases, e.g. phrases = ["tell me more"] '
                                      '(a list inside it for alternatives: [["register", "visitor list"], "escort"])')
        raw, ok = [], False
    groups = [tuple(p.strip() for p in ([g] if isinstance(g, str) else g)) for g in raw]
    phrases = [p for g in groups for p in g]
    check = c.get("check")
    if check not in CHECKS:
        problem(at(table, "check"), f"{where}: check: {'missing' if check is None else show(check) + ' is unknown'}"
                                    f"; one of {', '.join(CHECKS)}")
        for key in sorted(set(c) - CRITERION_KEYS - {p for spec in CHECKS.values() for p in spec}):
            problem(at(table, key), f"{where}: {key}: unknown key")
        return None
    spec = CHECKS[check]
    if check in _NEEDS_PHRASES and not phrases:
        problem(at(table, "phrases" if "phrases" in c else "check"),
                f"{where}: phrases: a {check!r} check looks for phrases; list at least one")
        ok = False
    for key in sorted(set(c) - CRITERION_KEYS - set(spec)):
        allowed = ", ".join(spec) if spec else "none"
        problem(at(table, key), f"{where}: {key}: not a parameter of check {check!r} (its parameters: {allowed})")
    params: dict[str, Any] = {}
    for key, (kind, default, low, high) in spec.items():
        value = c.get(key, default)
        if kind is bool:
            good = isinstance(value, bool)
            expected = "true or false"
        else:
            good = not isinstance(value, bool) and isinstance(value, (int, float) if kind is float else int) \
                and low <= value <= high
            expected = f"{'a number' if kind is float else 'a whole number'} from {low:g} to {high:g}"
        if not good:
            problem(at(table, key), f"{where}: {key}: {expected}, not {show(value)}")
            ok = False
        params[key] = kind(value) if good else default
    ok = _cross_checks(check, params, len(groups), exchanges, where, table, at, problem) and ok
    if not ok:
        return None
    return Criterion(name.strip(), c["good"].strip(), check, tuple(phrases), tuple(groups), params)


def _cross_checks(check: str, params: dict[str, Any], groups: int, exchanges: int, where: str, table: str,
                  at: At, problem: Report) -> bool:
    """Parameters that are each fine but together can never be met."""
    if check == "phrases" and groups and params["need"] > groups:
        problem(at(table, "need"), f"{where}: need: {params['need']} distinct phrases needed but only "
                                   f"{groups} listed; lower need or list more phrases")
        return False
    for key in ("min", "within") if check in ("asks_questions", "acknowledges") else ():
        if params.get(key, 0) > exchanges:
            problem(at(table, key), f"{where}: {key}: {params[key]} is more than the {exchanges} exchanges the "
                                    "scenario allows; it could never be met")
            return False
    if check == "talk_share" and params["min"] >= params["max"]:
        problem(at(table, "min"), f"{where}: min: {params['min']:g} must be below max ({params['max']:g})")
        return False
    return True

"""Practice-conversation scenario files: the samples load, and every kind of problem in a malformed file is
reported at once, each with its line, the key and what to do; `kiosk roleplay check` exits 2 on them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.learn.scenario_file import CHECKS, ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "samples" / "scenarios").glob("*.toml"))

GOOD = '''[scenario]
title = "Upset visitor"
goal = "Calm the visitor down."
exchanges = 4
goal_phrases = ["on his way down"]

[character]
name = "Dana"
situation = """A supplier at reception.
key = "not a key: inside a multi-line string"
"""
mood = "upset"
wants = "to get in"
must_not_reveal = ["you came on the wrong day"]

[[criterion]]
name = "Acknowledges"
good = "Names the frustration."
phrases = ["I'm sorry"]
check = "acknowledges"
within = 2

[[criterion]]
name = "Explains"
good = "Says why."
phrases = [["registered", "visitor list"], "escorted"]
check = "phrases"
need = 2

[[criterion]]
name = "Short"
good = "Short turns."
check = "turn_length"
max_words = 30
'''


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert str(path) in str(error.value)  # the message names the file
    return error.value.problems


def line_of(text: str, needle: str, nth: int = 1) -> int:
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return lines[nth - 1]


def test_the_samples_load_and_use_every_check() -> None:
    assert [p.name for p in SAMPLES] == ["buddy-first-week.toml", "upset-visitor.toml"]
    checks = set()
    for path in SAMPLES:
        scenario = load_scenario(path)
        assert 3 <= len(scenario.criteria) <= 6 and scenario.goal and scenario.character.must_not_reveal
        assert scenario.goal_phrases and scenario.character.opening
        checks |= {c.check for c in scenario.criteria}
    assert checks == set(CHECKS)


def test_a_good_file_loads_with_defaults_filled_in(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text(GOOD)
    scenario = load_scenario(path)
    assert scenario.exchanges == 4 and scenario.character.situation.startswith("A supplier")
    assert scenario.criteria[0].params == {"min": 1, "within": 2}
    assert scenario.criteria[1].groups == (("registered", "visitor list"), ("escorted",))
    assert scenario.criteria[1].phrases == ("registered", "visitor list", "escorted")


def test_toml_syntax_error_with_its_line(tmp_path: Path) -> None:
    text = GOOD.replace('mood = "upset"', 'mood = "upset')
    [problem] = problems(tmp_path, text)
    assert problem.startswith(f"{line_of(text, 'mood = ')}: not valid TOML")


def test_every_problem_at_once_with_its_line(tmp_path: Path) -> None:
    text = (GOOD.replace('exchanges = 4', 'exchanges = 40\ncolour = "red"')
            .replace('mood = "upset"', 'mood = "upset"\nage = 41')
            .replace('goal = "Calm the visitor down."\n', '')
            .replace('wants = "to get in"', 'wants = 3')
            .replace('check = "acknowledges"', 'check = "acknowledge"')
            .replace('need = 2', 'need = 2\nwithin = 1')
            .replace('max_words = 30', 'max_words = "thirty"')
            + '\n[setting]\nplace = "lobby"\n')
    found = problems(tmp_path, text)
    expected = {
        line_of(text, "exchanges = 40"): "scenario.exchanges: the learner's turns at most, a whole number from 1 to 20",
        line_of(text, "colour"): "scenario.colour: unknown key; allowed:",
        line_of(text, "[scenario]"): "scenario.goal: missing, e.g. goal = ",
        line_of(text, "age = 41"): "character.age: unknown key",
        line_of(text, "wants = 3"): "character.wants: must be text",
        line_of(text, 'check = "acknowledge"'): "criterion 1 (Acknowledges): check: \"acknowledge\" is unknown; one of",
        line_of(text, "within = 1"): "criterion 2 (Explains): within: not a parameter of check 'phrases' "
                                     "(its parameters: need)",
        line_of(text, "max_words"): "criterion 3 (Short): max_words: a whole number from 3 to 500, not \"thirty\"",
        line_of(text, "[setting]"): "[setting]: unknown table",
    }
    for line, message in expected.items():
        assert any(p.startswith(f"{line}: {message}") for p in found), (line, message, found)
    assert len(found) == len(expected)
    assert [int(p.split(":")[0]) for p in found] == sorted(int(p.split(":")[0]) for p in found)  # in file order


@pytest.mark.parametrize("change, needle, message", [
    (('check = "phrases"\nneed = 2', 'check = "phrases"\nneed = 3'), "need = 3",
     "criterion 2 (Explains): need: 3 distinct phrases needed but only 2 listed"),
    (("within = 2", "within = 9"), "within = 9", "criterion 1 (Acknowledges): within: 9 is more than the 4 exchanges"),
    (('phrases = [["registered", "visitor list"], "escorted"]', 'phrases = "registered"'), "phrases = \"registered\"",
     "criterion 2 (Explains): phrases: a list of example phrases"),
    (('phrases = [["registered", "visitor list"], "escorted"]\n', ''), "check = \"phrases\"",
     "criterion 2 (Explains): phrases: a 'phrases' check looks for phrases; list at least one"),
    (('name = "Short"', 'name = "acknowledges"'), 'name = "acknowledges"',
     "criterion 3 (acknowledges): name: 'acknowledges' is also the name of criterion 1"),
    (('good = "Says why."\n', ''), '[[criterion]]', "criterion 2 (Explains): good: what good looks like is missing"),
    (('check = "turn_length"\nmax_words = 30', 'check = "talk_share"\nmax = 0.4\nmin = 0.5'), "min = 0.5",
     "criterion 3 (Short): min: 0.5 must be below max (0.4)"),
    (('check = "turn_length"\n', ''), '[[criterion]]', "criterion 3 (Short): check: missing; one of"),
    (('exchanges = 4', 'exchanges = true'), "exchanges = true", "scenario.exchanges: the learner's turns at most"),
    (('goal_phrases = ["on his way down"]', 'goal_phrases = "on his way down"'), "goal_phrases",
     "scenario.goal_phrases: a list of texts"),
    (('must_not_reveal = ["you came on the wrong day"]', 'must_not_reveal = [1]'), "must_not_reveal",
     "character.must_not_reveal: a list of texts"),
    (('name = "Dana"\n', ''), '[character]', "character.name: missing"),
])
def test_each_kind_of_problem(tmp_path: Path, change: tuple[str, str], needle: str, message: str) -> None:
    text = GOOD.replace(*change)
    assert text != GOOD
    nth = 2 if needle == "[[criterion]]" and "Explains" in message else 3 if needle == "[[criterion]]" else 1
    found = problems(tmp_path, text)
    assert f"{line_of(text, needle, nth)}: {message}" in "\n".join(found), found


def test_criteria_count_and_table_shape(tmp_path: Path) -> None:
    head = GOOD.split("[[criterion]]")[0]
    two = head + "[[criterion]]" + "[[criterion]]".join(GOOD.split("[[criterion]]")[1:3])
    assert any("2 [[criterion]] tables: a scenario needs 3 to 6 criteria" in p for p in problems(tmp_path, two))
    block = GOOD.split("[[criterion]]")[3]
    seven = GOOD + "".join(f"[[criterion]]{block.replace('Short', f'Short {i}')}" for i in range(4))
    [problem] = problems(tmp_path, seven)
    assert problem.startswith(f"{line_of(seven, '[[criterion]]', 7)}: 7 [[criterion]] tables")
    single = head + '[criterion]\nname = "x"\n'
    [problem] = problems(tmp_path, single)
    assert problem == f"{line_of(single, '[criterion]')}: [criterion]: write each criterion as [[criterion]] " \
                      "(double brackets), one table per criterion"
    bare = 'title = "x"\n'
    found = problems(tmp_path, bare)
    assert any("[scenario]: missing" in p for p in found) and any("[character]: missing" in p for p in found)


def test_unreadable_files(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[scenario]\ntitle = "Caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ScenarioError, match="1: cannot be read"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match="cannot be read"):
        load_scenario(tmp_path / "missing.toml")


def test_cli_check(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace("within = 2", "within = 9"))
    run = [sys.executable, "-m", "kiosk.cli.main", "roleplay", "check"]
    done = subprocess.run([*run, str(bad)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2 and f"{bad}:" in done.stderr and "within: 9 is more than" in done.stderr
    for path in SAMPLES:
        done = subprocess.run([*run, str(path)], capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert done.returncode == 0 and ": ok," in done.stdout, done.stderr

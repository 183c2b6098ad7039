"""`kiosk roleplay FILE [--json]` (the learner's turns read from standard input, one per line) and
`kiosk roleplay check FILE`.

A line is the learner's words, or a JSON object with them and what a voice front end knows about the turn:
{"text": "...", "interrupted": true, "seconds": 4.2}. With --json, each reply of the character is printed as
{"role": "character", "text": ...} (the opening line first), and at the end
{"feedback": [{"criterion", "rating", "evidence", "by", "reason"}], "ended", "goal_reached", "judge", "judge_note"}
where "ended" is "exchanges", "stop", "goal" or "input" (standard input ended first)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kiosk.config import Settings


def run_roleplay(args: argparse.Namespace, settings_for: Any) -> int:
    from kiosk.learn.scenario_file import ScenarioError, load_scenario

    try:
        scenario = load_scenario(Path(args.file))
    except ScenarioError as error:
        print(f"kiosk roleplay: {error}", file=sys.stderr)
        return 2
    if args.action == "check":
        c = scenario.character
        print(f"{args.file}: ok, {c.name}, {len(scenario.criteria)} criteria "
              f"({', '.join(k.check for k in scenario.criteria)}), up to {scenario.exchanges} exchanges")
        return 0
    return _play(args, scenario, settings_for(args))


def _play(args: argparse.Namespace, scenario: Any, settings: Settings) -> int:
    from kiosk.answer.llm import LlamaEngine
    from kiosk.learn.roleplay import Roleplay
    from kiosk.learn.rubric_model import capable, judge_mode
    from kiosk.models.locate import locate

    loc = locate(settings, settings.persona.llm, "llm", "persona.llm")
    llm = LlamaEngine(loc.path, settings.llm)
    judge, note = judge_mode(args.judge, loc.path)
    seed = settings.llm.seed if args.seed is None else args.seed
    run = Roleplay(scenario, llm, judge, note, seed=seed, tell_secrets=capable(loc.path))
    run.warm()
    name = scenario.character.name

    def say(text: str) -> None:
        if args.json:
            print(json.dumps({"role": "character", "text": text}, ensure_ascii=False), flush=True)
        else:
            print(f"{name}: {text}", flush=True)

    if not args.json:
        print(f"{scenario.title}\n{scenario.learner}\nYour goal: {scenario.goal} "
              f"(up to {scenario.exchanges} turns; say \"stop\" to end)\n")
    if run.opening:
        say(run.opening)
    while not run.done:
        line = sys.stdin.readline()
        if not line:
            run.end("input")
            break
        text, interrupted, seconds = _turn(line)
        answer = run.reply(text, interrupted, seconds)
        if answer:
            say(answer)
    feedback = run.feedback()
    if args.json:
        print(json.dumps({"feedback": feedback.as_json(), "ended": run.ended, "goal_reached": run.goal_reached,
                          "judge": feedback.judge, "judge_note": feedback.note}, ensure_ascii=False))
    else:
        print("\n" + feedback.spoken())
    return 0


def _turn(line: str) -> tuple[str, bool, float | None]:
    """(text, interrupted, seconds) from one input line: plain words, or a JSON object with "text"."""
    line = line.strip()
    if line.startswith("{"):
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            return line, False, None
        if isinstance(data, dict) and isinstance(data.get("text"), str):
            seconds = data.get("seconds")
            if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
                seconds = None
            return data["text"], data.get("interrupted") is True, None if seconds is None else float(seconds)
    return line, False, None


def add_roleplay_parser(sub: Any, common: argparse.ArgumentParser, settings_for: Any) -> None:
    p = sub.add_parser("roleplay", parents=[common],
                       help="a practice conversation from a scenario file (the learner's turns on stdin)")
    p.add_argument("action", nargs="?", choices=("play", "check"), default="play",
                   help="play (default): talk, then feedback per criterion; check: report the file's problems")
    p.add_argument("file", help="the scenario file (TOML; docs/learning.md)")
    p.add_argument("--seed", type=int, help="sampling seed for the character's replies (default: llm.seed)")
    p.add_argument("--judge", choices=("auto", "rules", "model"), default="auto",
                   help="who rates the rubric: rules, rules and the language model, or auto (the model too when "
                        "it is large enough to judge: a GGUF of 400 MB or more)")
    p.add_argument("--json", action="store_true", help="one JSON object per reply, then the feedback")
    p.set_defaults(func=lambda args: run_roleplay(args, settings_for))

"""`kiosk doctor`: the platform checks (kiosk.checks) printed for a person or as JSON; exit 0 only when ready."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from kiosk.board import is_jetson
from kiosk.checks import collect


def run_doctor(args: argparse.Namespace) -> int:
    """`--appliance`: judged as the appliance (a missing screen, speaker or GPU fails), and the running
    service's own view added (kiosk.checks.check_running_appliance): the first-boot checklist in one pass."""
    appliance = bool(getattr(args, "appliance", False))
    checks = collect(getattr(args, "config", None), appliance=appliance or None)
    ready = not any(c.status == "fail" for c in checks)
    if getattr(args, "json", False):
        print(json.dumps({"ready": ready, "appliance": appliance or is_jetson(), "checks": [asdict(c) for c in checks]},
                         indent=1))
    else:
        mark = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}
        for c in checks:
            print(f"[{mark[c.status]}] {c.name}: {c.detail}")
            if c.fix:
                print(f"         fix: {c.fix}")
        print("ready" if ready else "NOT ready: fix the FAIL lines above")
    return 0 if ready else 1

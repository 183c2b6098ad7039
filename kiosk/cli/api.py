"""`kiosk api token`: a new token for the local API and the config line that accepts it."""

from __future__ import annotations

import argparse
from typing import Any


def run_token(args: argparse.Namespace) -> int:
    from kiosk.admin.auth import new_token

    token, line = new_token()
    print(f"token (give it to the systems that call the kiosk; it is not stored): {token}")
    print(f"put this line in the [service] table of kiosk.toml:\n{line}")
    return 0


def add_api_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("api", parents=[common], help="the local API (docs/api.md)")
    api = p.add_subparsers(dest="api_command", required=True)
    q = api.add_parser("token", help="make a token for callers from other machines")
    q.set_defaults(func=run_token)

"""`kiosk api token` and `kiosk api password`: the local API's token and the admin console's password, as
the config lines that accept them (neither is ever stored in clear)."""

from __future__ import annotations

import argparse
from typing import Any


def run_token(args: argparse.Namespace) -> int:
    from kiosk.admin.auth import new_token

    token, line = new_token()
    print(f"token (give it to the systems that call the kiosk; it is not stored): {token}")
    print(f"put this line in the [service] table of kiosk.toml:\n{line}")
    return 0


def run_password(args: argparse.Namespace) -> int:
    """Asks for the admin console's password twice (never on the command line: it would stay in the
    shell's history) and prints the line for kiosk.toml."""
    import getpass
    import sys

    from kiosk.admin.sessions import hash_password

    password = getpass.getpass("admin password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if len(password) < 10:
        print("kiosk api password: use at least 10 characters", file=sys.stderr)
        return 2
    if sys.stdin.isatty() and getpass.getpass("again: ") != password:
        print("kiosk api password: the two did not match", file=sys.stderr)
        return 2
    print(f'put this line in the [service] table of kiosk.toml:\nadmin_password_hash = "{hash_password(password)}"')
    return 0


def add_api_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("api", parents=[common], help="the local API (docs/api.md)")
    api = p.add_subparsers(dest="api_command", required=True)
    q = api.add_parser("token", help="make a token for callers from other machines")
    q.set_defaults(func=run_token)
    q = api.add_parser("password", help="set the admin console's password (prints the config line)")
    q.set_defaults(func=run_password)

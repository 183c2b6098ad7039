"""`kiosk pack keygen | build | verify | install`: signed content packs (kiosk/appliance/packs.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_ROOT = Path("/var/lib/kiosk/packs")
DEFAULT_TRUST = Path("/etc/kiosk/trusted-keys")


def run_pack(args: argparse.Namespace) -> int:
    from kiosk.appliance import packs
    from kiosk.config import ConfigError

    try:
        if args.pack_command == "keygen":
            private, public = packs.keygen(Path(args.dir))
            print(f"private key: {private} (keep it on the workstation)\npublic key: {public} "
                  f"(copy to {DEFAULT_TRUST}/ on every kiosk)")
            return 0
        if args.pack_command == "build":
            manifest = packs.build(Path(args.src), Path(args.key), Path(args.out), args.version)
            print(f"{args.out}: {manifest['name']} {manifest['version']}, {len(manifest['files'])} files, signed")
            return 0
        if args.pack_command == "verify":
            manifest = packs.verify(Path(args.archive), Path(args.trust))
            print(json.dumps({"ok": True, "name": manifest["name"], "version": manifest["version"]}))
            return 0
        result = packs.install(Path(args.archive), Path(args.trust), Path(args.root))
    except (packs.PackError, ConfigError, OSError) as error:
        print(f"kiosk pack {args.pack_command}: {error}", file=sys.stderr)
        return 2
    report = {"release": str(result.release), "previous": str(result.previous) if result.previous else None,
              "rolled_back": result.rolled_back, "problems": list(result.problems)}
    print(json.dumps(report, indent=1))
    if not result.problems:
        print("installed; restart the kiosk to use it: systemctl restart kiosk", file=sys.stderr)
    return 0 if not result.problems else 1


def add_pack_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("pack", parents=[common], help="signed content packs: keygen, build, verify, install")
    pack = p.add_subparsers(dest="pack_command", required=True)
    q = pack.add_parser("keygen", help="an Ed25519 key pair for signing packs")
    q.add_argument("dir")
    q = pack.add_parser("build", help="persona + documents + avatar -> one signed archive")
    q.add_argument("src", help="folder with kiosk.toml, optional documents/ and avatar/")
    q.add_argument("--key", required=True, help="private key from kiosk pack keygen")
    q.add_argument("--out", required=True, help="archive to write, e.g. halvorsen.kpack")
    q.add_argument("--version", help="default: the build time")
    for name in ("verify", "install"):
        q = pack.add_parser(name, help="check the signature and every file" if name == "verify"
                            else "verify, unpack, switch over atomically; roll back if unhealthy")
        q.add_argument("archive")
        q.add_argument("--trust", default=str(DEFAULT_TRUST), help=f"public key or folder (default {DEFAULT_TRUST})")
        if name == "install":
            q.add_argument("--root", default=str(DEFAULT_ROOT), help=f"where packs live (default {DEFAULT_ROOT})")
    p.set_defaults(func=run_pack)

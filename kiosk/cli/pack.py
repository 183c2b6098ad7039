"""`kiosk pack keygen | build | verify | install`: signed content packs (kiosk/appliance/pack_*.py, packs.py)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

DEFAULT_ROOT = Path("/var/lib/kiosk/packs")
DEFAULT_TRUST = Path("/etc/kiosk/trusted-keys")
EXIT_BUG = 70  # an error the pack code did not expect (EX_SOFTWARE); never a traceback on the console

log = logging.getLogger(__name__)


def run_pack(args: argparse.Namespace) -> int:
    from kiosk.appliance import pack_archive, pack_health, packs
    from kiosk.config import ConfigError

    try:
        if args.pack_command == "keygen":
            private, public = pack_archive.keygen(Path(args.dir))
            print(f"private key: {private} (keep it on the workstation)\npublic key: {public} "
                  f"(copy to {DEFAULT_TRUST}/ on every kiosk)")
            return 0
        if args.pack_command == "build":
            manifest = pack_archive.build(Path(args.src), Path(args.key), Path(args.out), args.version, args.name)
            print(f"{args.out}: {manifest['name']} {manifest['version']}, {len(manifest['files'])} files, signed")
            return 0
        if args.pack_command == "verify":
            manifest = pack_archive.verify(Path(args.archive), Path(args.trust))
            print(json.dumps({"ok": True, "name": manifest["name"], "version": manifest["version"]}))
            return 0
        user = pack_health.check_user(args.service_user)
        result = packs.install(Path(args.archive), Path(args.trust), Path(args.root), user)
    except (pack_archive.PackError, ConfigError, OSError) as error:
        print(f"kiosk pack {args.pack_command}: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # a bug: one line (the traceback with -v), not a traceback in the operator's face
        log.debug("kiosk pack %s failed", args.pack_command, exc_info=True)
        if getattr(args, "verbose", False):
            import traceback

            traceback.print_exc()
        print(f"kiosk pack {args.pack_command}: unexpected error {type(error).__name__}: {error} (a bug in kiosk; "
              "run again with -v for the details and report them)", file=sys.stderr)
        return EXIT_BUG
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
    label = "1-64 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit, no '..'"
    q = pack.add_parser("build", help="persona + documents + avatar -> one signed archive",
                        description=f"Pack name and version name the release folder on the kiosk: {label}.")
    q.add_argument("src", help="folder with kiosk.toml, optional documents/ and avatar/")
    q.add_argument("--key", required=True, help="private key from kiosk pack keygen")
    q.add_argument("--out", required=True, help="archive to write, e.g. halvorsen.kpack")
    q.add_argument("--name", help=f"pack name (default: the folder's name); {label}")
    q.add_argument("--version", help=f"default: the build time (YYYYmmdd-HHMMSS); {label}")
    for name in ("verify", "install"):
        q = pack.add_parser(
            name, help="check the signature and every file" if name == "verify"
            else "verify, unpack, switch over atomically; roll back if unhealthy",
            description=None if name == "verify" else
            "Installed releases belong to root, folders 0755 and files 0644 (whatever the umask), so the "
            "service reads its pack and cannot change it. Exit codes: 0 installed, 1 the new pack failed its "
            "health check (rolled back when another pack was current), 2 refused (not signed by a trusted key, "
            "damaged or cut short, malformed, no room), 70 an unexpected error.")
        q.add_argument("archive")
        q.add_argument("--trust", default=str(DEFAULT_TRUST),
                       help=f"public key or folder of *.pub files (default {DEFAULT_TRUST}); a file there that is "
                            "not an Ed25519 public key is skipped with a warning")
        if name == "install":
            q.add_argument("--root", default=str(DEFAULT_ROOT), help=f"where packs live (default {DEFAULT_ROOT}); "
                           "a relative path or a symlink is resolved once, to the real folder")
            q.add_argument("--service-user", metavar="USER",
                           help="the user the kiosk service runs as; when root installs, the new pack's health "
                                "check runs as this user (from /, with that user's home and the KIOSK_* settings "
                                "of /etc/kiosk/kiosk.env), so a pack it could not read is refused (default: User= "
                                "of /etc/systemd/system/kiosk.service, else 'kiosk' if that user exists; with "
                                "neither, the check runs as root and says so)")
    p.set_defaults(func=run_pack)

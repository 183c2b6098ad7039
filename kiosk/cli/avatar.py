"""`kiosk avatar list | check PACK | build [PACK...]`: avatar packs (docs/avatar-format.md)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def run_list(args: argparse.Namespace) -> int:
    from kiosk.avatar.build import builtin_packs
    from kiosk.avatar.pack import check_pack

    rows = [{"name": p.name, "path": str(p), "problems": check_pack(p)} for p in builtin_packs()]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        for row in rows:
            status = "ok" if not row["problems"] else f"BROKEN: kiosk avatar check {row['name']}"
            print(f"{row['name']:<10} {row['path']}  {status}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from kiosk.avatar.pack import check_pack, pack_path

    path = pack_path(args.pack)
    problems = check_pack(path)
    if args.json:
        print(json.dumps({"path": str(path), "ok": not problems, "problems": problems}, ensure_ascii=False))
    elif problems:
        print(f"{path}: {len(problems)} problem(s)", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
    else:
        print(f"{path}: ok")
    return 0 if not problems else 1


def run_build(args: argparse.Namespace) -> int:
    from kiosk.avatar.build import build_pack, builtin_packs
    from kiosk.avatar.pack import pack_path

    packs = [pack_path(p) for p in args.packs] if args.packs else builtin_packs()
    status = 0
    for pack in packs:
        try:
            written = build_pack(pack, force=args.force)
        except (OSError, ValueError) as error:
            print(f"kiosk avatar build: {pack}: {error}", file=sys.stderr)
            status = 1
            continue
        except ImportError:
            print("kiosk avatar build: cairosvg is not installed (pip install cairosvg; apt install libcairo2)",
                  file=sys.stderr)
            return 1
        print(f"{pack}: {len(written)} image(s) built" if written else f"{pack}: up to date")
    return status


def run_from_photo(args: argparse.Namespace) -> int:
    """Exit 0 with the pack written; 2 for a photo that cannot make a presenter (nothing written); 3 when
    the photo tools are not installed."""
    from pathlib import Path

    from kiosk.avatar.photo.checks import PhotoProblem
    from kiosk.avatar.photo.landmarks import PhotoToolMissing

    width = 30
    tty = sys.stderr.isatty()

    def progress(step: str, share: float) -> None:
        done = round(width * share)
        line = f"[{'#' * done}{'.' * (width - done)}] {share * 100:3.0f}% {step}"
        print(("\r" + line.ljust(70)) if tty else line, end="" if tty and share < 1 else "\n", file=sys.stderr,
              flush=True)

    try:
        from kiosk.avatar.photo.builder import build_from_photo

        report = build_from_photo(Path(args.photo), Path(args.out), name=args.name or "", face=args.face,
                                  background=args.background, progress=None if args.json else progress)
    except PhotoProblem as problem:
        if tty and not args.json:
            print(file=sys.stderr)
        if args.json:
            print(json.dumps({"ok": False, "photo": str(problem.path), "problem": problem.problem,
                              "advice": problem.advice}))
        print(f"kiosk avatar from-photo: {problem}", file=sys.stderr)
        return 2
    except PhotoToolMissing as missing:
        print(f"kiosk avatar from-photo: {missing}", file=sys.stderr)
        return 3
    if args.json:
        print(json.dumps({"ok": True, "pack": str(report.pack), "seconds": round(report.seconds, 2),
                          "face_px": report.face_px}))
    else:
        print(f"{report.pack}: avatar pack made in {report.seconds:.1f} s (face {report.face_px} px tall in the "
              f"photo); use it with [persona] avatar = \"{report.pack}\"")
    return 0


def add_avatar_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("avatar", parents=[common], help="avatar packs: list, check, build")
    avatar = p.add_subparsers(dest="avatar_command", required=True)
    q = avatar.add_parser("list", help="the built-in avatars")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_list)
    q = avatar.add_parser("check", help="validate a pack; every problem with its file or key")
    q.add_argument("pack", help="a built-in name (ava, max, nova) or a pack folder")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_check)
    q = avatar.add_parser("build", help="rasterize a pack's SVG sources (default: the built-in packs)")
    q.add_argument("packs", nargs="*", type=str)
    q.add_argument("--force", action="store_true", help="rebuild images that look up to date")
    q.set_defaults(func=run_build)
    q = avatar.add_parser("from-photo", help="a talking presenter from one photo of a person")
    q.add_argument("photo", help="a JPEG or PNG: head and shoulders, facing the camera, eyes open")
    q.add_argument("--out", required=True, help="the pack folder to write (replaced when it exists)")
    q.add_argument("--name", help="the presenter's name (default: the photo's file name)")
    q.add_argument("--face", type=int, help="with several people in the photo: which face, 1 = the largest")
    q.add_argument("--background", default="blur",
                   help="blur (the photo's own, person painted out), a colour like #20303f, or a picture file")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_from_photo)


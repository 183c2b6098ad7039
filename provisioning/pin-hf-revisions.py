#!/usr/bin/env python3
"""Pin the manifest's Hugging Face URLs to commits, and check pinned ones, on a connected machine.

    .venv/bin/python provisioning/pin-hf-revisions.py            # check: every pinned URL, and list the unpinned
    .venv/bin/python provisioning/pin-hf-revisions.py --write    # also rewrite resolve/main URLs to their commit

A manifest URL https://huggingface.co/<owner>/<repo>/resolve/<ref>/<file> names a file at a revision. A branch
(`main`) moves: the file behind it can be replaced upstream, and the next `kiosk models fetch` then fails its
sha256 check (or, with an empty sha256, silently gets other weights). A commit does not move. For each file:

- pinned to a commit (40 hex digits): the Hub's metadata for that commit must give the file the manifest's
  sha256 (large files: the LFS sha256 from /api/models/<repo>/revision/<commit>?blobs=true, nothing downloaded;
  small non-LFS files are downloaded and hashed);
- on a branch or tag (only those named by --refs, default `main`): the branch's commits are searched, newest
  first, for the newest one whose file has the manifest's sha256; --write puts that commit into the URL.

The manifest's sha256 stays the guarantee: kiosk checks it on every fetch and verify, pinned or not. Exit status
1 when a pinned URL does not hold the recorded file, or a branch URL could not be matched to a commit.
Standard library only (plus kiosk's own manifest loader); HF_TOKEN is sent when set (gated repositories).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HUB = "https://huggingface.co"
URL_RE = re.compile(r"^https://huggingface\.co/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
SMALL_FILE_LIMIT = 64 * 1024 * 1024  # non-LFS files are downloaded to hash them; never more than this


@dataclass(frozen=True)
class HubFile:
    model: str
    url: str
    repo: str
    ref: str
    path: str
    sha256: str


def _request(url: str) -> urllib.request.Request:
    headers = {"User-Agent": "kiosk-pin-hf-revisions/1"}
    token = os.environ.get("HF_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return urllib.request.Request(url, headers=headers)


def http_json(url: str) -> object:
    with urllib.request.urlopen(_request(url), timeout=60) as r:
        return json.load(r)


def http_bytes(url: str) -> bytes:
    with urllib.request.urlopen(_request(url), timeout=300) as r:
        data = r.read(SMALL_FILE_LIMIT + 1)
    if len(data) > SMALL_FILE_LIMIT:
        raise ValueError(f"{url}: larger than {SMALL_FILE_LIMIT} bytes and not an LFS file")
    return data


class Hub:
    """The few Hub API calls needed; fetch_json/fetch_bytes are replaceable (tests run offline)."""

    def __init__(self, fetch_json: Callable[[str], object] = http_json,
                 fetch_bytes: Callable[[str], bytes] = http_bytes) -> None:
        self.fetch_json = fetch_json
        self.fetch_bytes = fetch_bytes
        self._info: dict[tuple[str, str], dict] = {}

    def revision(self, repo: str, ref: str) -> dict:
        key = (repo, ref)
        if key not in self._info:
            quoted = urllib.parse.quote(ref, safe="")
            info = self.fetch_json(f"{HUB}/api/models/{repo}/revision/{quoted}?blobs=true")
            if not isinstance(info, dict):
                raise ValueError(f"{repo}@{ref}: unexpected answer from the Hub")
            self._info[key] = info
        return self._info[key]

    def commit_of(self, repo: str, ref: str) -> str:
        return str(self.revision(repo, ref).get("sha", ""))

    def sha256_at(self, repo: str, commit: str, path: str) -> str | None:
        """The file's sha256 at that commit, or None when the commit has no such file."""
        for sibling in self.revision(repo, commit).get("siblings", []):
            if sibling.get("rfilename") != path:
                continue
            lfs = sibling.get("lfs") or {}
            if lfs.get("sha256"):
                return str(lfs["sha256"])
            data = self.fetch_bytes(f"{HUB}/{repo}/resolve/{commit}/{urllib.parse.quote(path)}")
            return hashlib.sha256(data).hexdigest()
        return None

    def commits(self, repo: str, ref: str, limit: int) -> list[str]:
        quoted = urllib.parse.quote(ref, safe="")
        items = self.fetch_json(f"{HUB}/api/models/{repo}/commits/{quoted}")
        if not isinstance(items, list):
            raise ValueError(f"{repo}@{ref}: unexpected commit list from the Hub")
        return [str(item["id"]) for item in items[:limit] if isinstance(item, dict) and "id" in item]


def hub_files(manifest_path: Path) -> list[HubFile]:
    sys.path.insert(0, str(ROOT))
    from kiosk.models.manifest import load_manifest

    files = []
    for model in load_manifest(manifest_path).models:
        for f in model.files:
            m = URL_RE.match(f.url)
            if m:
                files.append(HubFile(model.name, f.url, m.group(1), m.group(2), urllib.parse.unquote(m.group(3)),
                                     f.sha256))
    return files


def find_commit(hub: Hub, f: HubFile, limit: int) -> str | None:
    """The newest commit on f.ref whose f.path has f.sha256."""
    for commit in hub.commits(f.repo, f.ref, limit):
        if hub.sha256_at(f.repo, commit, f.path) == f.sha256:
            return commit
    return None


def run(manifest_path: Path, *, write: bool, refs: set[str], limit: int, hub: Hub, out=sys.stdout) -> int:
    text = manifest_path.read_text(encoding="utf-8")
    problems = 0
    for f in hub_files(manifest_path):
        where = f"{f.model}: {f.repo} {f.path}"
        try:
            if COMMIT_RE.match(f.ref):
                got = hub.sha256_at(f.repo, f.ref, f.path)
                if got is None:
                    print(f"MISSING  {where}: not in commit {f.ref}", file=out)
                    problems += 1
                elif f.sha256 and got != f.sha256:
                    print(f"MISMATCH {where}@{f.ref}: sha256 {got}, manifest {f.sha256}", file=out)
                    problems += 1
                else:
                    print(f"ok       {where}@{f.ref[:12]}", file=out)
                continue
            if "all" not in refs and f.ref not in refs:
                print(f"tag      {where}@{f.ref} (not a branch in --refs; left as it is)", file=out)
                continue
            if not f.sha256:
                print(f"UNKNOWN  {where}@{f.ref}: the manifest has no sha256 to match a commit to", file=out)
                problems += 1
                continue
            commit = find_commit(hub, f, limit)
            if commit is None:
                print(f"NOTFOUND {where}@{f.ref}: no commit among the newest {limit} has sha256 {f.sha256}",
                      file=out)
                problems += 1
                continue
            pinned = f.url.replace(f"/resolve/{f.ref}/", f"/resolve/{commit}/", 1)
            print(f"{'PINNED  ' if write else 'PIN     '} {where}: {f.ref} -> {commit}", file=out)
            text = text.replace(f'"{f.url}"', f'"{pinned}"')
        except (OSError, ValueError, KeyError) as e:
            print(f"ERROR    {where}: {e}", file=out)
            problems += 1
    if write:
        manifest_path.write_text(text, encoding="utf-8")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", type=Path, default=ROOT / "models" / "manifest.toml")
    ap.add_argument("--write", action="store_true", help="rewrite branch URLs to the matching commit")
    ap.add_argument("--refs", default="main", help="comma-separated branch names to pin, or 'all' (default: main)")
    ap.add_argument("--max-commits", type=int, default=100, help="how far back to search a branch (default 100)")
    args = ap.parse_args(argv)
    refs = {r.strip() for r in args.refs.split(",") if r.strip()}
    return run(args.manifest, write=args.write, refs=refs, limit=args.max_commits, hub=Hub())


if __name__ == "__main__":
    sys.exit(main())

"""Writing <models_dir>/local-manifest.toml: the models added on this machine (`kiosk voice add`).

The repository's models/manifest.toml is code and changes only with the repository; a voice a company
records or buys belongs to that appliance, so it is described next to its files, in the same format, and
kiosk.models.manifest.load_manifest merges it in. The file is rewritten whole by the commands that own it,
atomically, so a crash mid-write leaves the previous version.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from kiosk.models.manifest import LOCAL_MANIFEST, ModelEntry

HEADER = """\
# Models added on this machine, merged into the model manifest (format: models/manifest.toml).
# Written by `kiosk voice add` / `kiosk voice remove`; edits by hand are kept, comments are not.
# Each model's files are in the folder of its name next to this file; `kiosk models verify` checks
# them against the sha256 recorded here. Copy this file along with those folders to another kiosk.
"""


def _s(value: str) -> str:
    # JSON string escapes are TOML basic-string escapes, except that TOML wants DEL escaped too.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def entry_toml(m: ModelEntry) -> str:
    lines = ["[[model]]", f"name = {_s(m.name)}", f"kind = {_s(m.kind)}", f"language = {_s(m.language)}",
             f"licence = {_s(m.licence)}", f"description = {_s(m.description)}", f"role = {_s(m.role)}",
             f"entry = {_s(m.entry)}"]
    if m.homepage:
        lines.append(f"homepage = {_s(m.homepage)}")
    for f in m.files:
        lines += ["  [[model.files]]", f"  path = {_s(f.path)}", f"  url = {_s(f.url)}",
                  f"  sha256 = {_s(f.sha256)}", f"  size = {int(f.size)}"]
    return "\n".join(lines) + "\n"


def write_local_models(models_dir: Path, entries: Iterable[ModelEntry]) -> Path:
    path = Path(models_dir) / LOCAL_MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    body = HEADER + "".join("\n" + entry_toml(m) for m in sorted(entries, key=lambda m: m.name))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, path)
    return path

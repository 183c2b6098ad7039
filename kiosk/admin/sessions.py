"""The admin console's door: the admin password (stored as an scrypt hash, never in clear), sessions in
memory (a random id in an HttpOnly, SameSite=Strict cookie; Secure when the console is reached over HTTPS),
a CSRF token per session on every form, logins rate-limited per address, and an audit log of every change
(JSON lines: when, who, from where, what)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

SESSION_S = 8 * 3600  # a session lasts a working day, then the console asks again
LOGIN_WINDOW_S = 300.0
LOGIN_ATTEMPTS = 5  # failed logins per address within the window; then refused until it passes
_N, _R, _P = 2**14, 8, 1  # scrypt cost: ~50 ms per check on a Jetson-class CPU


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.strip().split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(base64.b64decode(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def valid_hash(stored: str) -> bool:
    parts = stored.strip().split("$")
    return len(parts) == 6 and parts[0] == "scrypt"


@dataclass
class Session:
    id: str
    csrf: str
    address: str
    started: float
    user: str = "admin"


@dataclass
class Doorkeeper:
    audit_path: Path | None = None
    sessions: dict[str, Session] = field(default_factory=dict)
    failures: dict[str, list[float]] = field(default_factory=dict)

    def open(self, address: str) -> Session:
        now = time.monotonic()
        self.sessions = {k: s for k, s in self.sessions.items() if now - s.started < SESSION_S}
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), address, now)
        self.sessions[session.id] = session
        return session

    def find(self, session_id: str | None) -> Session | None:
        session = self.sessions.get(session_id or "")
        if session is None or time.monotonic() - session.started >= SESSION_S:
            return None
        return session

    def close(self, session_id: str | None) -> None:
        self.sessions.pop(session_id or "", None)

    def throttled(self, address: str) -> bool:
        now = time.monotonic()
        recent = [t for t in self.failures.get(address, []) if now - t < LOGIN_WINDOW_S]
        self.failures[address] = recent
        return len(recent) >= LOGIN_ATTEMPTS

    def failed(self, address: str) -> None:
        self.failures.setdefault(address, []).append(time.monotonic())

    def audit(self, who: str, address: str, what: str, **detail: object) -> None:
        """One line per change; the log is the kiosk's own record of who did what, and when."""
        line = {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "who": who, "from": address, "what": what, **detail}
        log.info("audit: %s", json.dumps(line, ensure_ascii=False))
        if self.audit_path is None:
            return
        try:
            self.audit_path.parent.mkdir(parents=True, exist_ok=True)
            with self.audit_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
        except OSError as error:  # a full disk must not take the console down; the journal has the line
            log.error("audit log %s: %s", self.audit_path, error)

    def read_audit(self, limit: int = 50) -> list[dict[str, object]]:
        if self.audit_path is None or not self.audit_path.is_file():
            return []
        lines = self.audit_path.read_text(encoding="utf-8", errors="replace").splitlines()[-limit:]
        out = []
        for line in reversed(lines):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

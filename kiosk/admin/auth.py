"""Who may call the local API: this machine without a token (unless the config asks for one), any other
address only with the token whose sha256 is in `[service] api_token_sha256`. The token itself is never
stored; it is random (`kiosk api token`), so a plain sha256 suffices (it is not a password to stretch)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets

from kiosk.config import ServiceSettings

_HASH = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")


class InsecureBind(ValueError):
    """The API would listen beyond this machine without a token."""


def new_token() -> tuple[str, str]:
    """(token, the config line that accepts it)."""
    token = secrets.token_urlsafe(32)
    return token, f'api_token_sha256 = "{token_hash(token)}"'


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def loopback(address: str | None) -> bool:
    if not address:
        return False
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return address == "localhost"


def check_bind(service: ServiceSettings) -> None:
    """InsecureBind when the API and console would listen beyond this machine with neither a token nor an admin
    password configured (either closes the door it is for; without both, nothing from elsewhere gets in)."""
    if (service.api_port and not loopback(service.api_bind) and not _HASH.match(service.api_token_sha256.strip())
            and not service.admin_password_hash.strip().startswith("scrypt$")):
        raise InsecureBind(
            f"service.api_bind = {service.api_bind!r} lets other machines reach the kiosk's API and admin console, "
            "but neither service.api_token_sha256 nor service.admin_password_hash is set: run `kiosk api token` "
            "(for other systems) or `kiosk api password` (for people), put the line it prints in [service], "
            "or keep api_bind = \"127.0.0.1\"")


def allowed(service: ServiceSettings, remote: str | None, authorization: str | None) -> bool:
    """May a caller from `remote` with this Authorization header use the API?"""
    if loopback(remote) and not service.api_token_local:
        return True
    match = _HASH.match(service.api_token_sha256.strip())
    if match is None or not authorization or not authorization.startswith("Bearer "):
        return False
    given = token_hash(authorization.removeprefix("Bearer ").strip())
    return hmac.compare_digest(given, match.group(1))

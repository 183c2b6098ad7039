"""Is an unpacked release fit to run, as the kiosk service would run it? (kiosk.appliance.packs asks before
switching `current` to it.) When root installs, the check runs again as the user the service runs as
(`service_user`: User= of the installed unit, else `kiosk`), so a release that user could not read fails
instead of passing as root.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pwd
import select
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from kiosk.appliance.pack_archive import DIR_MODE, FILE_MODE, PackError, describe_error

log = logging.getLogger(__name__)

SERVICE_UNIT = Path("/etc/systemd/system/kiosk.service")  # its User= is the service user
SERVICE_ENV = Path("/etc/kiosk/kiosk.env")  # its KIOSK_* settings (models folder, manifest) apply to the check
HEALTH_TIMEOUT_S = 600.0


def health_problems(release: Path, reader: str | None = None) -> list[str]:
    """What would stop the kiosk from running this pack (empty: healthy). Run as the service user (`reader`
    names it in the messages), it also finds what that user cannot read."""
    from kiosk.avatar.pack import check_pack
    from kiosk.checks import check_knowledge, check_models
    from kiosk.config import ConfigError, load_settings

    if unreadable := _unreadable(release, reader):
        return unreadable
    try:
        settings = load_settings(str(release / "kiosk.toml"))
    except ConfigError as error:
        return [str(error)]
    problems = [f"{c.name}: {c.detail}" for c in check_models(settings) + check_knowledge(settings)
                if c.status == "fail"]
    if (release / "avatar").is_dir():
        problems += [f"avatar: {p}" for p in check_pack(release / "avatar")]
    return problems


def _unreadable(release: Path, reader: str | None, limit: int = 5) -> list[str]:
    """Folders of the release that cannot be listed and files that cannot be opened (by this process)."""
    who = f" by {reader}, the user the kiosk runs as" if reader else ""
    fix = f"; installed folders must be {DIR_MODE:o} and files {FILE_MODE:o}, and every folder above " \
          f"{release} must let {reader or 'the kiosk user'} through"
    problems: list[str] = []

    def refused(path: Path | str, error: OSError) -> None:
        if len(problems) < limit:
            problems.append(f"{path}: not readable{who} ({error.strerror or error}){fix}")

    try:
        os.listdir(release)
    except OSError as error:
        refused(release, error)
        return problems
    for folder, _, names in os.walk(release, onerror=lambda error: refused(error.filename, error)):
        for name in names:
            path = Path(folder) / name
            try:
                os.close(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK))
            except OSError as error:
                refused(path, error)
    return problems


def check_release(release: Path, user: str | None, lock: int = -1) -> list[str]:
    """The health check as `user` (None: as this process); never raises, so a rollback cannot fail."""
    if user is None and os.geteuid() == 0:
        log.warning("the health check runs as root: no kiosk service user here (no User= in %s, no user kiosk); "
                    "pass --service-user USER to check as the user the kiosk will run as", SERVICE_UNIT)
    try:
        if user is None or pwd.getpwnam(user).pw_uid == os.geteuid():
            return health_problems(release, reader=user)
        entry = pwd.getpwnam(user)
        env = _service_env(entry)
        with _environment(env):  # first as this process: what is wrong whoever reads it (and every import and
            problems = health_problems(release)  # model hash the check needs is then loaded and cached)
        return problems or _health_as(release, entry, env, lock)
    except Exception as error:  # a bug in a check must not leave an unchecked pack current
        log.debug("the health check of %s failed", release, exc_info=True)  # the traceback with -v only
        return [f"the health check itself failed: {type(error).__name__}: {describe_error(error)}"]


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _health_as(release: Path, user: pwd.struct_passwd, env: dict[str, str], lock: int = -1) -> list[str]:
    """health_problems() in a forked child that has become `user` (groups, gid, uid; cwd /, `env`), so
    whatever that user cannot read fails the check as it would fail the service. Forked, not executed:
    the child needs nothing the parent has not loaded already (not even read access to the interpreter)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        status = 0
        try:
            os.close(read_end)
            if lock >= 0:  # an installer killed meanwhile must not leave its lock held by this child
                os.close(lock)
            os.setgroups(os.getgrouplist(user.pw_name, user.pw_gid))
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            os.chdir("/")
            os.environ.clear()
            os.environ.update(env)
            try:
                problems = health_problems(release, reader=user.pw_name)
            except Exception as error:
                problems = [f"the health check as {user.pw_name} failed: "
                            f"{type(error).__name__}: {describe_error(error)}"]
            data = json.dumps(problems).encode()
            while data:
                data = data[os.write(write_end, data):]
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    chunks, deadline, finished = [], time.monotonic() + HEALTH_TIMEOUT_S, False
    try:
        while not finished and (left := deadline - time.monotonic()) > 0:
            if select.select([read_end], [], [], left)[0]:
                chunk = os.read(read_end, 1 << 16)
                chunks.append(chunk)
                finished = not chunk
        if not finished:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    if not finished:
        return [f"the health check as {user.pw_name} did not finish within {HEALTH_TIMEOUT_S:.0f} s"]
    try:
        problems = json.loads(b"".join(chunks))
        if isinstance(problems, list) and all(isinstance(p, str) for p in problems):
            return problems
    except ValueError:
        pass
    return [f"the health check as {user.pw_name} ended without a result (exit status {status})"]


def _service_env(user: pwd.struct_passwd) -> dict[str, str]:
    """The environment the health check runs in as the service user: this one without the installing user's
    home and XDG folders, with the service user's home and the service's KIOSK_* settings (SERVICE_ENV)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
    with contextlib.suppress(OSError, UnicodeDecodeError):
        for line in SERVICE_ENV.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and key.startswith("KIOSK_"):
                env[key] = value.strip().strip('"')
    return env


def service_user(unit: Path = SERVICE_UNIT) -> str | None:
    """The user the kiosk service runs as: User= of the installed unit, else `kiosk` if that user exists;
    None when neither (a development machine)."""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        for line in unit.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and key.strip() == "User" and value.strip():
                return value.strip()
    with contextlib.suppress(KeyError):
        return pwd.getpwnam("kiosk").pw_name
    return None


def check_user(requested: str | None) -> str | None:
    """Whom the health check runs as: `requested` (an existing user) or service_user(); None = this process.
    Switching users needs root: without it, only this process's own user can be asked for."""
    user = requested or service_user()
    if user is not None:
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            if requested:
                raise PackError(f"--service-user {requested}: no such user on this machine") from None
            return None  # the unit names a user not created yet: checked as this process (_health says so)
        if entry.pw_uid == os.geteuid():
            return user
        if os.geteuid() != 0:
            if requested:
                raise PackError(f"--service-user {requested}: checking as another user needs root (sudo)")
            return None  # a development install by an ordinary user: checked as that user
        return user
    return None

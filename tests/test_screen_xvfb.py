"""What the visitor sees on a real X server (issue 11): `kiosk run`'s screen with no microphone, on Xvfb.

The screen is built by `kiosk.appliance.run._screen` with the default [screen] settings (mode "auto", the
pygame backend) in a child process, this file run as a script: SDL picks its video driver once per process
and the other tests use the dummy one. The child moves the X pointer onto the face, draws, and takes what the
X server shows (`xwd -root`) and the pointer's image (XFixes) at three moments: idle without a microphone,
answering (a sentence whose first chunk was cut early), and idle with the microphone back. The checks are
on those pixels. Xvfb, xwd and xdotool come from tools/dev's Debian packages.

KIOSK_SCREENSHOTS=DIR copies the screenshots there as PNG (docs/screenshots holds the reference ones).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from test_overlay import PEAK, shows  # noqa: E402
from test_screen import ANSWER, chunks, clip  # noqa: E402

from kiosk.avatar.overlay import DEFAULT_ATTRACT, NO_MICROPHONE, TYPE_PROMPT, Layout  # noqa: E402
from kiosk.avatar.painter import INK, WHITE  # noqa: E402

pytestmark = pytest.mark.slow  # a real X server (Xvfb) per test: seconds each
SHOTS = ("no-microphone", "answer", "microphone-back")
MAGENTA = (255, 0, 255)


# -- the X server and what it shows --------------------------------------------------------------------------------


@pytest.fixture
def xserver(request: pytest.FixtureRequest) -> Iterator[str]:
    """A private Xvfb of the requested size; its DISPLAY (the server picks a free number itself)."""
    for tool in ("Xvfb", "xwd", "xdotool"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: run tools/dev setup")
    w, h = request.param
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{w}x{h}x24", "-nolisten", "tcp"],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 30)
        assert ready, "Xvfb did not start within 30 s"
        yield f":{os.read(read, 32).decode().strip()}"
    finally:
        os.close(read)
        server.terminate()
        server.wait(10)


def read_xwd(data: bytes) -> np.ndarray:
    """An `xwd` dump (ZPixmap, true colour, 24 or 32 bits per pixel) as H x W x 3 RGB."""
    header = np.frombuffer(data[:100], ">u4")
    header_size, width, height, byte_order = int(header[0]), int(header[4]), int(header[5]), int(header[7])
    bits, line, masks, colours = int(header[11]), int(header[12]), header[14:17], int(header[19])
    assert bits in (24, 32), f"expected 24 or 32 bits per pixel, got {bits}"
    n = bits // 8
    raw = np.frombuffer(data, np.uint8, height * line, header_size + 12 * colours).reshape(height, line)
    raw = raw[:, :width * n].reshape(height, width, n).astype(np.uint32)
    order = range(n) if byte_order == 0 else range(n - 1, -1, -1)  # LSBFirst: the first byte is the lowest
    pixels = sum(raw[:, :, i] << (8 * k) for k, i in enumerate(order))
    shifts = [int(m).bit_length() - 8 for m in masks]
    return np.stack([(pixels & int(m)) >> s for m, s in zip(masks, shifts, strict=True)], axis=-1).astype(np.uint8)


class _CursorImage(ctypes.Structure):
    _fields_ = [("x", ctypes.c_short), ("y", ctypes.c_short), ("width", ctypes.c_ushort), ("height", ctypes.c_ushort),
                ("xhot", ctypes.c_ushort), ("yhot", ctypes.c_ushort), ("cursor_serial", ctypes.c_ulong),
                ("pixels", ctypes.POINTER(ctypes.c_ulong)), ("atom", ctypes.c_ulong), ("name", ctypes.c_char_p)]


def pointer_pixels() -> tuple[tuple[int, int], int]:
    """Where the X pointer is and how many pixels of its current image are visible (XFixesGetCursorImage)."""
    x11, xfixes = ctypes.CDLL(ctypes.util.find_library("X11")), ctypes.CDLL(ctypes.util.find_library("Xfixes"))
    x11.XOpenDisplay.restype, x11.XOpenDisplay.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    xfixes.XFixesGetCursorImage.restype = ctypes.POINTER(_CursorImage)
    xfixes.XFixesGetCursorImage.argtypes = [ctypes.c_void_p]
    display = x11.XOpenDisplay(None)
    try:
        image = xfixes.XFixesGetCursorImage(display).contents
        alpha = [image.pixels[i] >> 24 & 255 for i in range(image.width * image.height)]
        return (image.x, image.y), sum(a > 0 for a in alpha)
    finally:
        x11.XCloseDisplay(display)


# -- the child: kiosk run's screen -----------------------------------------------------------------------------------


def child(out: Path, avatar: str) -> None:
    import pygame

    from kiosk.appliance.run import _screen
    from kiosk.config import Settings, with_overrides
    from kiosk.events import MicrophoneStatus

    screen = _screen(with_overrides(Settings(), screen={"backend": "pygame"}, persona={"avatar": avatar}), print)
    backend, now = screen.backend, [PEAK]
    screen.clock = lambda: now[0]  # the idle prompt's pulse at its peak: its text is drawn at full opacity
    screen.set_voice(False)  # what `kiosk run` does when no microphone opens
    w, h = backend.size
    subprocess.run(["xdotool", "mousemove", str(w // 2), str(round(h * 0.3))], check=True)  # onto the face
    report: dict = {"mode": backend.mode, "size": [w, h], "shots": {}}

    def shoot(name: str) -> None:
        for _ in range(5):  # a few frames: the window is mapped and the pointer's motion handled
            screen.handle_input()
            screen.frame()
            time.sleep(0.05)
        np.save(out / f"{name}.frame.npy", backend.snapshot())
        shown = read_xwd(subprocess.run(["xwd", "-root", "-silent"], capture_output=True, check=True).stdout)
        np.save(out / f"{name}.npy", shown)
        pygame.image.save(pygame.surfarray.make_surface(shown.transpose(1, 0, 2)), str(out / f"{name}.png"))
        ov = screen.overlay
        report["shots"][name] = {"pointer": pointer_pixels(), "pointer_shown": pygame.mouse.get_visible(),
                                 "prompt": ov.prompt, "buttons": [b.label for b in ov.buttons],
                                 "answer": list(ov.answer.lines) if ov.answer else None,
                                 "answer_px": ov.answer.px if ov.answer else None,
                                 "caption_rect": ov.caption_rect, "radius": ov.layout.radius}

    shoot("no-microphone")
    now[0] += 2.4
    for part in chunks(ANSWER)[:2]:  # the first sentence: cut early at its comma, then the rest
        screen.speak(clip(part), None, lambda: 0.4)
    now[0] += 1.0  # the idle prompt has faded out
    shoot("answer")
    screen.face.draw = lambda face: backend.fill((0, 0, w, h), MAGENTA)  # the same frame without the avatar
    screen.frame()
    np.save(out / "answer.flat.npy", backend.snapshot())
    del screen.face.draw
    screen.listen_event(MicrophoneStatus("recovered", "USB microphone at 48000 Hz x1"))
    screen.idle()
    now[0] = PEAK + 3 * 2.4  # the idle prompt faded in, at its peak again
    shoot("microphone-back")
    (out / "report.json").write_text(json.dumps(report))


# -- the test --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("xserver,avatar", [((1920, 1080), "ava"), ((1080, 1920), "max")], indirect=["xserver"],
                         ids=["ava-1920x1080", "max-1080x1920"])
def test_kiosk_screen_on_a_real_x_server(xserver: str, avatar: str, tmp_path: Path) -> None:
    from kiosk.avatar.backend_pygame import PygameBackend
    from kiosk.avatar.build import build_pack, builtin_packs
    from kiosk.avatar.painter import Painter

    for pack in builtin_packs():  # rasterized at setup; kept when up to date
        build_pack(pack)
    env = {**os.environ, "DISPLAY": xserver, "SDL_VIDEODRIVER": "x11"}
    run = subprocess.run([sys.executable, __file__, str(tmp_path), avatar], env=env, capture_output=True, text=True,
                         timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    size = tuple(report["size"])
    assert report["mode"] == "fullscreen"  # `kiosk run` on a display is the kiosk, not a development window
    L, p = Layout.for_size(size), Painter(PygameBackend((64, 48)))
    shots = {name: np.load(tmp_path / f"{name}.npy") for name in SHOTS}
    for name, shot in report["shots"].items():
        assert np.array_equal(shots[name], np.load(tmp_path / f"{name}.frame.npy")), f"{name}: X shows another frame"
        (x, y), visible = shot["pointer"]
        assert (x, y) == (size[0] // 2, round(size[1] * 0.3)), "the pointer was not moved onto the face"
        assert visible == 0 and not shot["pointer_shown"], f"{name}: the pointer is drawn over the face"

    idle = shots["no-microphone"]  # what works without a microphone: typing, and the screen says only that
    assert report["shots"]["no-microphone"]["prompt"] == TYPE_PROMPT
    assert report["shots"]["no-microphone"]["buttons"] == ["Type"]
    assert shows(idle, p, NO_MICROPHONE, L.small_px, WHITE) and shows(idle, p, TYPE_PROMPT, L.cue_px, WHITE)
    assert shows(idle, p, "Type", L.cue_px, INK)
    assert not shows(idle, p, DEFAULT_ATTRACT, L.cue_px, WHITE) and not shows(idle, p, "Tap to talk", L.cue_px, INK)

    answer, shot = shots["answer"], report["shots"]["answer"]  # the caption starts where the sentence starts
    first = ANSWER.split(". ")[0] + "."
    assert " ".join(shot["answer"]) == first
    assert shows(answer, p, shot["answer"][0], shot["answer_px"], WHITE)  # its first line, on the screen
    x, y, w, h = shot["caption_rect"]
    r = shot["radius"]
    inner = (slice(y + r, y + h - r), slice(x + r, x + w - r))
    flat = np.load(tmp_path / "answer.flat.npy")
    assert np.array_equal(answer[inner], flat[inner]), "the avatar shows through the caption panel"

    back = shots["microphone-back"]  # the microphone recovered: voice is offered again
    assert report["shots"]["microphone-back"]["buttons"] == ["Tap to talk", "Type"]
    assert shows(back, p, DEFAULT_ATTRACT, L.cue_px, WHITE) and shows(back, p, "Tap to talk", L.cue_px, INK)
    assert not shows(back, p, NO_MICROPHONE, L.small_px, WHITE) and not shows(back, p, TYPE_PROMPT, L.cue_px, WHITE)

    if folder := os.environ.get("KIOSK_SCREENSHOTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        for name in SHOTS:
            shutil.copy(tmp_path / f"{name}.png", Path(folder) / f"{avatar}-{size[0]}x{size[1]}-{name}.png")


@pytest.mark.parametrize("xserver", [(640, 480)], indirect=True)
def test_the_cuda_backends_pointer_hider_talks_to_x(xserver: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """jetson-utils' display window has no cursor option: the CUDA backend hides the pointer with XFixes. Xvfb
    cannot show whether it is hidden; this checks that the calls are right (an X error would end the child)."""
    from kiosk.avatar.pointer import PointerHider

    code = "from kiosk.avatar.pointer import PointerHider as P; p = P(); p.close(); p.close(); print('ok')"
    run = subprocess.run([sys.executable, "-c", code], env={**os.environ, "DISPLAY": xserver}, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
    monkeypatch.setenv("DISPLAY", ":999")
    with pytest.raises(OSError, match="X display"):
        PointerHider()


if __name__ == "__main__":
    child(Path(sys.argv[1]), sys.argv[2])

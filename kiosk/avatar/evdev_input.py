"""Touch and keyboard input read from the kernel (evdev), whoever owns the window.

On the appliance the CUDA backend draws into jetson-utils' own OpenGL window, whose Python API has no input
at all, and its Esc key closes that window. So the kiosk reads the touchscreen and the keyboard from
/dev/input itself (python-evdev), grabbing them so that nothing else (the window, the desktop) also acts on
them. The kiosk user needs the `input` group (provisioning adds it; the unit's SupplementaryGroups has it).

`EventTranslator` is pure: kernel events in, `InputEvent`s out, so it is tested here on the events a real
touchscreen and keyboard send. `EvdevInput` is the thin part around it: a thread that finds the devices
(again every few seconds: a touchscreen plugged in late or replaced), reads them and queues what they mean.
Touch: single-touch (BTN_TOUCH + ABS_X/Y) and multi-touch protocol B (ABS_MT_TRACKING_ID, ABS_MT_POSITION_X/Y);
a tap is reported when a finger lands, like a mouse button going down. Keys: a US layout (the on-screen
keyboard is the way to type anything else).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import select
import threading
import time
from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Any

from kiosk.avatar.inputs import InputEvent

log = logging.getLogger(__name__)

# Kernel constants (linux/input-event-codes.h); fixed ABI, so the translator needs no evdev import.
EV_SYN, EV_KEY, EV_ABS = 0x00, 0x01, 0x03
SYN_REPORT = 0
ABS_X, ABS_Y = 0x00, 0x01
ABS_MT_SLOT, ABS_MT_POSITION_X, ABS_MT_POSITION_Y, ABS_MT_TRACKING_ID = 0x2F, 0x35, 0x36, 0x39
BTN_TOUCH, BTN_LEFT = 0x14A, 0x110
KEY_ESC, KEY_BACKSPACE, KEY_TAB, KEY_ENTER, KEY_KPENTER, KEY_SPACE = 1, 14, 15, 28, 96, 57
KEY_LEFTSHIFT, KEY_RIGHTSHIFT, KEY_CAPSLOCK = 42, 54, 58
RESCAN_S = 3.0

# US layout: key code -> (plain, shifted)
_ROWS = {2: "1234567890-=", 16: "qwertyuiop[]", 30: "asdfghjkl;'`", 44: "zxcvbnm,./"}
_SHIFTED = {2: "!@#$%^&*()_+", 16: "QWERTYUIOP{}", 30: 'ASDFGHJKL:"~', 44: "ZXCVBNM<>?"}
US_KEYS: dict[int, tuple[str, str]] = {KEY_SPACE: (" ", " "), 43: ("\\", "|")}
for _first, _plain in _ROWS.items():
    for _i, _ch in enumerate(_plain):
        US_KEYS[_first + _i] = (_ch, _SHIFTED[_first][_i])
NAMED_KEYS = {KEY_ENTER: "return", KEY_KPENTER: "return", KEY_BACKSPACE: "backspace", KEY_ESC: "escape"}


@dataclass(frozen=True)
class Axis:
    """An absolute axis' range as the device reports it (evdev AbsInfo min/max)."""

    lo: int
    hi: int

    def scale(self, value: int, pixels: int) -> int:
        span = max(1, self.hi - self.lo)
        return min(pixels - 1, max(0, round((value - self.lo) * (pixels - 1) / span)))


@dataclass(frozen=True)
class Touchscreen:
    x: Axis
    y: Axis
    rotation: int = 0  # degrees clockwise from the panel's own axes to the picture: 0, 90, 180, 270


class EventTranslator:
    """One device's kernel events -> taps and keys. `screen`: the picture's size in pixels."""

    def __init__(self, screen: tuple[int, int], touch: Touchscreen | None = None) -> None:
        self.screen, self.touch = screen, touch
        self._x = self._y = 0
        self._down = False  # a finger (or the single-touch contact) is on the glass
        self._landed = False  # it landed since the last SYN_REPORT: a tap to report there
        self._slot = 0
        self._slots: set[int] = set()  # multi-touch slots with a contact
        self._shift = self._caps = False

    def feed(self, ev_type: int, code: int, value: int) -> InputEvent | None:
        if ev_type == EV_ABS and self.touch is not None:
            self._abs(code, value)
        elif ev_type == EV_KEY:
            return self._key(code, value)
        elif ev_type == EV_SYN and code == SYN_REPORT and self._landed:
            self._landed = False
            return self._tap()
        return None

    def _abs(self, code: int, value: int) -> None:
        if code in (ABS_X, ABS_MT_POSITION_X):
            self._x = value
        elif code in (ABS_Y, ABS_MT_POSITION_Y):
            self._y = value
        elif code == ABS_MT_SLOT:
            self._slot = value
        elif code == ABS_MT_TRACKING_ID:
            if value >= 0:
                self._landed = self._landed or not self._slots  # the first finger down; a second is not a tap
                self._slots.add(self._slot)
            else:
                self._slots.discard(self._slot)

    def _key(self, code: int, value: int) -> InputEvent | None:
        if code in (BTN_TOUCH, BTN_LEFT) and self.touch is not None:
            if value and not self._down:
                self._landed = True
            self._down = bool(value)
            return None
        if code in (KEY_LEFTSHIFT, KEY_RIGHTSHIFT):
            self._shift = value != 0
            return None
        if value == 0:  # releases; 1 is a press, 2 an auto-repeat
            return None
        if code == KEY_CAPSLOCK:
            self._caps = value == 1 and not self._caps
            return None
        if code in NAMED_KEYS:
            return InputEvent.press(NAMED_KEYS[code])
        if code in US_KEYS:
            plain, shifted = US_KEYS[code]
            upper = self._shift != (self._caps and plain.isalpha())
            return InputEvent.press(shifted if upper else plain)
        return None

    def _tap(self) -> InputEvent | None:
        assert self.touch is not None
        w, h = self.screen
        rotation = self.touch.rotation % 360
        across, down = (h, w) if rotation in (90, 270) else (w, h)
        x, y = self.touch.x.scale(self._x, across), self.touch.y.scale(self._y, down)
        if rotation == 90:
            x, y = w - 1 - y, x
        elif rotation == 180:
            x, y = w - 1 - x, h - 1 - y
        elif rotation == 270:
            x, y = y, h - 1 - x
        return InputEvent.tap(x, y)


def touchscreen_of(capabilities: dict[int, list[Any]], rotation: int = 0) -> Touchscreen | None:
    """The touch axes of a device, from `InputDevice.capabilities(absinfo=True)`; None when it has none."""
    axes = dict(_abs_pairs(capabilities.get(EV_ABS, [])))
    keys = set(capabilities.get(EV_KEY, []))
    for x_code, y_code in ((ABS_MT_POSITION_X, ABS_MT_POSITION_Y), (ABS_X, ABS_Y)):
        if x_code in axes and y_code in axes and (BTN_TOUCH in keys or x_code == ABS_MT_POSITION_X):
            x, y = axes[x_code], axes[y_code]
            return Touchscreen(Axis(x.min, x.max), Axis(y.min, y.max), rotation)
    return None


def _abs_pairs(entries: Iterable[Any]) -> Iterable[tuple[int, Any]]:
    for entry in entries:
        if isinstance(entry, tuple) and len(entry) == 2:
            yield entry


def is_keyboard(capabilities: dict[int, list[Any]]) -> bool:
    keys = set(capabilities.get(EV_KEY, []))
    return {KEY_ENTER, KEY_SPACE, 30} <= keys  # Enter, Space and A: a keyboard, not a power button


def open_devices(skip: Container[str] = ()) -> tuple[list[tuple[str, Any, dict[int, list[Any]]]], list[str]]:
    """Every input device this process may open (path, python-evdev device, its capabilities), and the paths it
    may not (the kiosk user lacks the input group). `skip`: paths already open."""
    import evdev

    opened, denied = [], []
    for path in evdev.list_devices():
        if path in skip:
            continue
        try:
            device = evdev.InputDevice(path)
        except PermissionError:
            denied.append(path)
            continue
        except OSError:  # gone between listing and opening
            continue
        opened.append((path, device, device.capabilities(absinfo=True)))
    return opened, denied


class EvdevInput:
    """Reads every touchscreen and keyboard on a thread; `poll()` hands over what they meant, oldest first."""

    def __init__(self, screen: tuple[int, int], rotation: int = 0, grab: bool = True) -> None:
        self.screen, self.rotation, self.grab = screen, rotation, grab
        self._events: queue.SimpleQueue[InputEvent] = queue.SimpleQueue()
        self._devices: dict[str, tuple[Any, EventTranslator]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.problem: str | None = None  # why nothing can be read (no devices, no permission), for doctor/logs

    def start(self) -> EvdevInput:
        import evdev  # noqa: F401 - fail here (ImportError) rather than on the thread

        self._thread = threading.Thread(target=self._run, name="evdev-input", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for device, _ in self._devices.values():
            _close(device)
        self._devices.clear()

    def poll(self) -> list[InputEvent]:
        out = []
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                return out

    def _run(self) -> None:
        next_scan = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_scan:
                self._scan()
                next_scan = now + RESCAN_S
            if not self._devices:
                self._stop.wait(0.5)
                continue
            fds = {device.fd: path for path, (device, _) in self._devices.items()}
            try:
                ready, _, _ = select.select(list(fds), [], [], 0.5)
            except (OSError, ValueError):  # a device vanished between scan and select
                ready = []
                self._drop_dead()
            for fd in ready:
                self._read(fds[fd])

    def _scan(self) -> None:
        opened, denied = open_devices(skip=self._devices)
        for path, device, capabilities in opened:
            touch = touchscreen_of(capabilities, self.rotation)
            if touch is None and not is_keyboard(capabilities):
                _close(device)
                continue
            if self.grab:
                try:
                    device.grab()  # ours alone: the window and the desktop do not also act on it
                except OSError as error:
                    log.warning("input %s (%s): not grabbed (%s)", path, device.name, error)
            self._devices[path] = (device, EventTranslator(self.screen, touch))
            log.info("input: %s %s (%s)", "touchscreen" if touch else "keyboard", device.name, path)
        self.problem = (f"no permission to read {', '.join(denied)}: add the kiosk user to the input group"
                        if denied and not self._devices else None)

    def _read(self, path: str) -> None:
        device, translator = self._devices[path]
        try:
            for event in device.read():
                meant = translator.feed(event.type, event.code, event.value)
                if meant is not None:
                    self._events.put(meant)
        except BlockingIOError:
            pass
        except OSError as error:  # unplugged
            log.warning("input %s gone (%s)", path, error)
            _close(device)
            del self._devices[path]

    def _drop_dead(self) -> None:
        for path, (device, _) in list(self._devices.items()):
            try:
                select.select([device.fd], [], [], 0)
            except (OSError, ValueError):
                _close(device)
                del self._devices[path]


def _close(device: Any) -> None:
    with contextlib.suppress(OSError):
        device.close()

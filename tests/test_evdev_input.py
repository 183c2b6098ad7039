"""Touch and keys from /dev/input (kiosk.avatar.evdev_input), issue 14: the CUDA backend's window has no input.

The translator gets the event sequences real devices send (single-touch panels, multi-touch protocol B, a USB
keyboard with shift and caps lock); the reader runs on python-evdev's API with fake devices whose file
descriptors are real pipes, so its select loop, hot-plug and unplug handling run as they would on a board."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from evdev import AbsInfo, ecodes

from kiosk.avatar import evdev_input as ei
from kiosk.avatar.evdev_input import Axis, EvdevInput, EventTranslator, Touchscreen, is_keyboard, touchscreen_of
from kiosk.avatar.inputs import InputEvent

SCREEN = (1920, 1080)
PANEL = Touchscreen(Axis(0, 4095), Axis(0, 4095))


def feed(t: EventTranslator, events: list[tuple[int, int, int]]) -> list[InputEvent]:
    out = [t.feed(*ev) for ev in events]
    return [ev for ev in out if ev is not None]


def syn() -> tuple[int, int, int]:
    return (ecodes.EV_SYN, ecodes.SYN_REPORT, 0)


def single_touch(x: int, y: int) -> list[tuple[int, int, int]]:
    return [(ecodes.EV_KEY, ecodes.BTN_TOUCH, 1), (ecodes.EV_ABS, ecodes.ABS_X, x), (ecodes.EV_ABS, ecodes.ABS_Y, y),
            syn(), (ecodes.EV_ABS, ecodes.ABS_X, x + 40), syn(),  # the finger slides a little: no second tap
            (ecodes.EV_KEY, ecodes.BTN_TOUCH, 0), syn()]


def test_the_kernels_constants_are_the_ones_the_translator_uses() -> None:
    assert (ei.EV_KEY, ei.EV_ABS, ei.ABS_MT_POSITION_X, ei.ABS_MT_TRACKING_ID, ei.BTN_TOUCH, ei.KEY_ENTER) == (
        ecodes.EV_KEY, ecodes.EV_ABS, ecodes.ABS_MT_POSITION_X, ecodes.ABS_MT_TRACKING_ID, ecodes.BTN_TOUCH,
        ecodes.KEY_ENTER)
    assert ei.US_KEYS[ecodes.KEY_A] == ("a", "A") and ei.US_KEYS[ecodes.KEY_1] == ("1", "!")
    assert ei.US_KEYS[ecodes.KEY_SLASH] == ("/", "?") and ei.US_KEYS[ecodes.KEY_GRAVE] == ("`", "~")


def test_a_single_touch_panel_taps_once_per_finger_scaled_to_the_screen() -> None:
    t = EventTranslator(SCREEN, PANEL)
    taps = feed(t, single_touch(0, 0) + single_touch(4095, 4095) + single_touch(2048, 1024))
    assert taps == [InputEvent.tap(0, 0), InputEvent.tap(1919, 1079), InputEvent.tap(960, 270)]


def test_multi_touch_protocol_b_taps_on_the_first_finger_only() -> None:
    t = EventTranslator(SCREEN, PANEL)
    mt = ecodes
    down = [(mt.EV_ABS, mt.ABS_MT_SLOT, 0), (mt.EV_ABS, mt.ABS_MT_TRACKING_ID, 7),
            (mt.EV_ABS, mt.ABS_MT_POSITION_X, 1024), (mt.EV_ABS, mt.ABS_MT_POSITION_Y, 2048), syn()]
    second = [(mt.EV_ABS, mt.ABS_MT_SLOT, 1), (mt.EV_ABS, mt.ABS_MT_TRACKING_ID, 8),
              (mt.EV_ABS, mt.ABS_MT_POSITION_X, 3000), (mt.EV_ABS, mt.ABS_MT_POSITION_Y, 3000), syn()]
    lift = [(mt.EV_ABS, mt.ABS_MT_SLOT, 0), (mt.EV_ABS, mt.ABS_MT_TRACKING_ID, -1),
            (mt.EV_ABS, mt.ABS_MT_SLOT, 1), (mt.EV_ABS, mt.ABS_MT_TRACKING_ID, -1), syn()]
    again = [(mt.EV_ABS, mt.ABS_MT_SLOT, 0), (mt.EV_ABS, mt.ABS_MT_TRACKING_ID, 9),
             (mt.EV_ABS, mt.ABS_MT_POSITION_X, 0), (mt.EV_ABS, mt.ABS_MT_POSITION_Y, 0), syn()]
    assert feed(t, down + second + lift + again) == [InputEvent.tap(480, 540), InputEvent.tap(0, 0)]


@pytest.mark.parametrize(("rotation", "corner"), [(0, (1919, 0)), (90, (1919, 1079)), (180, (0, 1079)),
                                                   (270, (0, 0))])
def test_a_panel_mounted_turned_maps_its_corner_to_the_right_pixel(rotation: int, corner: tuple[int, int]) -> None:
    """The panel's own top-right corner (x max, y 0), with the panel turned clockwise by `rotation`."""
    t = EventTranslator(SCREEN, Touchscreen(Axis(0, 4095), Axis(0, 4095), rotation))
    assert feed(t, single_touch(4095, 0)[:4]) == [InputEvent.tap(*corner)]


def test_a_keyboard_types_with_shift_and_caps_lock_and_names_its_control_keys() -> None:
    t = EventTranslator(SCREEN)
    k = ecodes
    presses = [(k.EV_KEY, k.KEY_H, 1), (k.EV_KEY, k.KEY_H, 0), (k.EV_KEY, k.KEY_LEFTSHIFT, 1), (k.EV_KEY, k.KEY_I, 1),
               (k.EV_KEY, k.KEY_1, 1), (k.EV_KEY, k.KEY_LEFTSHIFT, 0), (k.EV_KEY, k.KEY_CAPSLOCK, 1),
               (k.EV_KEY, k.KEY_CAPSLOCK, 0), (k.EV_KEY, k.KEY_B, 1), (k.EV_KEY, k.KEY_B, 2),  # auto-repeat
               (k.EV_KEY, k.KEY_2, 1), (k.EV_KEY, k.KEY_SPACE, 1), (k.EV_KEY, k.KEY_BACKSPACE, 1),
               (k.EV_KEY, k.KEY_ENTER, 1), (k.EV_KEY, k.KEY_ESC, 1), (k.EV_KEY, k.KEY_F1, 1)]
    typed = [ev.key for ev in feed(t, presses)]
    assert typed == ["h", "I", "!", "B", "B", "2", " ", "backspace", "return", "escape"]
    assert feed(t, [(k.EV_KEY, k.BTN_TOUCH, 1), syn()]) == []  # a keyboard has no touch axes: no tap


def caps(abs_axes: dict[int, tuple[int, int]], keys: list[int]) -> dict[int, list[Any]]:
    """InputDevice.capabilities(absinfo=True) as python-evdev returns it."""
    return {ecodes.EV_KEY: keys,
            ecodes.EV_ABS: [(code, AbsInfo(0, lo, hi, 0, 0, 0)) for code, (lo, hi) in abs_axes.items()]}


def test_devices_are_told_apart_by_what_they_can_do() -> None:
    mt = caps({ecodes.ABS_MT_POSITION_X: (0, 1279), ecodes.ABS_MT_POSITION_Y: (0, 799),
               ecodes.ABS_X: (0, 1279), ecodes.ABS_Y: (0, 799)}, [ecodes.BTN_TOUCH])
    assert touchscreen_of(mt, 90) == Touchscreen(Axis(0, 1279), Axis(0, 799), 90)
    single = caps({ecodes.ABS_X: (100, 3900), ecodes.ABS_Y: (200, 3800)}, [ecodes.BTN_TOUCH])
    assert touchscreen_of(single) == Touchscreen(Axis(100, 3900), Axis(200, 3800))
    joystick = caps({ecodes.ABS_X: (0, 255), ecodes.ABS_Y: (0, 255)}, [ecodes.BTN_TRIGGER])
    assert touchscreen_of(joystick) is None and not is_keyboard(joystick)
    keyboard = caps({}, [ecodes.KEY_A, ecodes.KEY_ENTER, ecodes.KEY_SPACE, ecodes.KEY_ESC])
    assert is_keyboard(keyboard) and touchscreen_of(keyboard) is None
    power_button = caps({}, [ecodes.KEY_POWER])
    assert not is_keyboard(power_button)


class FakeDevice:
    """python-evdev's InputDevice as the reader uses it; `fd` is a real pipe, so select() works on it."""

    def __init__(self, path: str, capabilities: dict[int, list[Any]]) -> None:
        self.path, self.name, self._caps = path, f"fake {os.path.basename(path)}", capabilities
        self.fd, self._w = os.pipe()
        os.set_blocking(self.fd, False)
        self.pending: list[Any] = []
        self.grabbed = self.closed = self.unplugged = False

    def capabilities(self, absinfo: bool = True) -> dict[int, list[Any]]:
        return self._caps

    def grab(self) -> None:
        self.grabbed = True

    def send(self, events: list[tuple[int, int, int]]) -> None:
        from evdev.events import InputEvent as KernelEvent

        self.pending += [KernelEvent(0, 0, *ev) for ev in events]
        os.write(self._w, b"x")

    def read(self) -> Iterator[Any]:
        if self.unplugged:
            raise OSError(19, "No such device")
        os.read(self.fd, 4096)
        events, self.pending = self.pending, []
        yield from events

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)
            os.close(self._w)


def wait_for(source: EvdevInput, n: int) -> list[InputEvent]:
    got: list[InputEvent] = []
    deadline = time.monotonic() + 10  # only catches a reader that never delivers
    while len(got) < n and time.monotonic() < deadline:
        got += source.poll()
        time.sleep(0.01)
    return got


def test_the_reader_delivers_taps_and_keys_and_survives_an_unplug(monkeypatch: pytest.MonkeyPatch) -> None:
    import evdev

    touch = FakeDevice("/dev/input/event3", caps({ecodes.ABS_X: (0, 4095), ecodes.ABS_Y: (0, 4095)},
                                                 [ecodes.BTN_TOUCH]))
    keys = FakeDevice("/dev/input/event4", caps({}, [ecodes.KEY_A, ecodes.KEY_ENTER, ecodes.KEY_SPACE]))
    mouse_wheel = FakeDevice("/dev/input/event5", caps({}, [ecodes.BTN_LEFT]))
    devices = {d.path: d for d in (touch, keys, mouse_wheel)}
    monkeypatch.setattr(evdev, "list_devices", lambda: list(devices))
    monkeypatch.setattr(evdev, "InputDevice", lambda path: devices[path])
    source = EvdevInput(SCREEN).start()
    try:
        deadline = time.monotonic() + 10
        while len(source._devices) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert touch.grabbed and keys.grabbed and mouse_wheel.closed  # ours alone; not an input we use
        touch.send(single_touch(4095, 0))
        keys.send([(ecodes.EV_KEY, ecodes.KEY_A, 1), (ecodes.EV_KEY, ecodes.KEY_ENTER, 1)])
        got = wait_for(source, 3)
        assert InputEvent.tap(1919, 0) in got and [e.key for e in got if e.key] == ["a", "return"]
        keys.unplugged = True
        keys.send([(ecodes.EV_KEY, ecodes.KEY_A, 1)])
        deadline = time.monotonic() + 10
        while keys.path in source._devices and time.monotonic() < deadline:
            time.sleep(0.01)
        assert keys.path not in source._devices and keys.closed
        touch.send(single_touch(0, 0))
        assert wait_for(source, 1) == [InputEvent.tap(0, 0)]  # the touchscreen reads on
    finally:
        source.stop()
    assert touch.closed


def test_no_permission_is_a_problem_named_with_its_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    import evdev

    def denied(path: str) -> None:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(evdev, "list_devices", lambda: ["/dev/input/event0"])
    monkeypatch.setattr(evdev, "InputDevice", denied)
    source = EvdevInput(SCREEN)
    source._scan()
    assert source.problem is not None and "input group" in source.problem and "/dev/input/event0" in source.problem


def test_doctor_names_the_touchscreen_and_keyboard_or_the_missing_permission(monkeypatch: pytest.MonkeyPatch) -> None:
    import evdev

    from kiosk.checks import check_input
    from kiosk.config import Settings, with_overrides

    evdev_settings = with_overrides(Settings(), screen={"input": "evdev"})
    touch = FakeDevice("/dev/input/event1", caps({ecodes.ABS_X: (0, 4095), ecodes.ABS_Y: (0, 4095)},
                                                 [ecodes.BTN_TOUCH]))
    devices = {touch.path: touch}
    monkeypatch.setattr(evdev, "list_devices", lambda: list(devices))
    monkeypatch.setattr(evdev, "InputDevice", lambda path: devices[path])
    found = check_input(evdev_settings, appliance=True)
    assert found.status == "ok" and "touchscreen" in found.detail and touch.closed

    def denied(path: str) -> None:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(evdev, "InputDevice", denied)
    refused = check_input(evdev_settings, appliance=True)
    assert refused.status == "fail" and "usermod -aG input" in refused.fix
    assert check_input(Settings(), appliance=False).detail == "from the window (pygame)"

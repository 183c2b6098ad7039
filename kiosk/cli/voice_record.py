"""What `kiosk voice record` connects to: the microphone, the terminal and (where there is a display) a window.

Kept apart from kiosk.speech.recording (the recorder and its take checks, which run in the tests on recorded
audio with a scripted person) because this is the command's own input and output: the sound device
(kiosk.audio, a layer above kiosk.speech) and the person at the keyboard.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import textwrap
import threading
from typing import Any, TextIO

from kiosk.audio.playback import AudioDevice, open_portaudio, pick_device
from kiosk.audio.resample import Resampler
from kiosk.speech.recording import Prompt, TakeReport

log = logging.getLogger(__name__)


class MicrophoneBlocks:
    """A PortAudio input as blocking mono int16 blocks at `rate` (AudioBlocks). The kiosk's own Microphone
    delivers 16 kHz for recognition; a voice dataset wants the voice's rate, so this opens the device at that
    rate when it can, else at its own and resamples (kiosk.audio.resample, band-limited)."""

    def __init__(self, device: str | int = "", rate: int = 22050, block_s: float = 0.05) -> None:
        import pyaudio

        self.rate = rate
        self._pa = open_portaudio()
        try:
            self.device = self._pick(device)
            in_rate, channels = rate, 1
            try:
                ok = self._pa.is_format_supported(rate, input_device=self.device.index, input_channels=1,
                                                  input_format=pyaudio.paInt16)
            except ValueError:
                ok = False
            if not ok:
                in_rate, channels = int(self.device.default_rate), min(self.device.inputs, 2)
            self._resampler = Resampler(in_rate, channels, rate)
            self._frames = max(1, int(in_rate * block_s))
            self._stream = self._pa.open(format=pyaudio.paInt16, channels=channels, rate=in_rate, input=True,
                                         input_device_index=self.device.index, frames_per_buffer=self._frames)
        except BaseException:
            self._pa.terminate()
            raise
        log.info("recording from %s at %d Hz x%d (dataset at %d Hz)", self.device.name, in_rate, channels, rate)

    def _pick(self, wanted: str | int) -> AudioDevice:
        inputs = []
        for i in range(self._pa.get_device_count()):
            d = self._pa.get_device_info_by_index(i)
            if int(d["maxInputChannels"]) > 0:
                inputs.append(AudioDevice(i, str(d["name"]), int(d["maxInputChannels"]), int(d["maxOutputChannels"]),
                                          float(d["defaultSampleRate"])))
        if isinstance(wanted, int):
            device = next((d for d in inputs if d.index == wanted), None)
        else:
            device = pick_device(inputs, wanted)
        if device is None:
            listed = ", ".join(f"[{d.index}] {d.name}" for d in inputs) or "none"
            raise OSError(f"no input device {wanted!r} (inputs: {listed}; `kiosk devices` lists them)" if wanted != ""
                          else "no microphone: this machine has no sound input device (`kiosk devices`)")
        return device

    def read(self) -> bytes:
        data = self._stream.read(self._frames, exception_on_overflow=False)
        return self._resampler.process(data)

    def close(self) -> None:
        try:
            self._stream.close()
        except Exception as error:  # noqa: BLE001 - closing a lost device is best effort
            log.debug("closing the input stream: %s", error)
        finally:
            self._pa.terminate()


class PromptWindow:
    """The prompt in large type, for a reader standing at the kiosk; Enter or Space there ends a take.
    Optional: None from `open()` when there is no display or pygame cannot open one."""

    def __init__(self, pygame: Any, size: tuple[int, int] = (1100, 420)) -> None:
        self.pg = pygame
        self.screen = pygame.display.set_mode(size)
        pygame.display.set_caption("kiosk voice record")
        self.big = pygame.font.Font(None, 54)
        self.small = pygame.font.Font(None, 30)
        self.text, self.header, self.footer = "", "", ""
        self.enter = False

    @staticmethod
    def open() -> PromptWindow | None:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            return None
        if os.environ.get("SDL_VIDEODRIVER") in ("dummy", "offscreen"):
            return None
        try:
            import pygame

            pygame.display.init()
            pygame.font.init()
            return PromptWindow(pygame)
        except Exception as error:  # noqa: BLE001 - the terminal is enough
            log.info("no prompt window (%s); the terminal shows the prompts", error)
            return None

    def show(self, header: str, text: str, footer: str) -> None:
        self.header, self.text, self.footer = header, text, footer
        self.draw()

    def draw(self) -> None:
        pg, screen = self.pg, self.screen
        screen.fill((24, 26, 30))
        screen.blit(self.small.render(self.header, True, (150, 160, 170)), (40, 24))
        y = 90
        for line in textwrap.wrap(self.text, 40):
            screen.blit(self.big.render(line, True, (240, 240, 235)), (40, y))
            y += 60
        screen.blit(self.small.render(self.footer, True, (150, 200, 150)), (40, screen.get_height() - 50))
        pg.display.flip()

    def pump(self) -> None:
        for event in self.pg.event.get():
            if event.type == self.pg.KEYDOWN and event.key in (self.pg.K_RETURN, self.pg.K_SPACE, self.pg.K_KP_ENTER):
                self.enter = True

    def close(self) -> None:
        self.pg.display.quit()


class TerminalUI:
    """The person at the terminal (RecorderUI): prompts printed, Enter ends a take, a bad take asks what next."""

    def __init__(self, out: TextIO | None = None, inp: TextIO | None = None, window: bool | None = None) -> None:
        self.out = out or sys.stdout
        inp = inp or sys.stdin
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._eof = False
        threading.Thread(target=self._read, args=(inp,), name="voice-record-keys", daemon=True).start()
        self.window = PromptWindow.open() if window is not False else None

    def _read(self, inp: TextIO) -> None:
        try:
            for line in iter(inp.readline, ""):
                self._lines.put(line.strip())
        except (OSError, ValueError) as error:  # no terminal (a service, a closed stdin): as if it ended
            log.debug("no keyboard input: %s", error)
        self._lines.put(None)

    def _say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def show(self, number: int, total: int, prompt: Prompt) -> None:
        while not self._lines.empty():  # an Enter pressed before the prompt appeared must not end this take
            if self._lines.get_nowait() is None:
                self._eof = True
        header = f"[{number}/{total}] {prompt.id}"
        self._say(f"\n{header}\n\n    {prompt.text}\n\n  (read it now: the take ends at the silence after it, "
                  "or on Enter)")
        if self.window:
            self.window.show(header, prompt.text, "recording: read the sentence, then pause (Enter ends the take)")

    def status(self, text: str) -> None:
        self._say(f"  {text}")

    def stop_requested(self) -> bool:
        if self.window:
            self.window.pump()
            if self.window.enter:
                self.window.enter = False
                return True
        if self._eof or self._lines.empty():
            return False
        if self._lines.get_nowait() is None:
            self._eof = True
            return False
        return True

    def decide(self, prompt: Prompt, report: TakeReport) -> str:
        self._say("  this take has problems:")
        for problem in report.problems:
            self._say(f"    - {problem}")
        self._say("  [Enter/r] read it again   [k] keep it anyway   [s] skip this sentence   [q] stop for now")
        if self.window:
            self.window.show(prompt.id, prompt.text, "problems: see the terminal (r / k / s / q there)")
        while True:
            line = None if self._eof else self._lines.get()
            if line is None:
                self._eof = True
                return "quit"
            choice = {"": "retake", "r": "retake", "k": "keep", "s": "skip", "q": "quit"}.get(line.lower()[:1])
            if choice:
                return choice
            self._say("  type r, k, s or q, then Enter")

    def close(self) -> None:
        if self.window:
            self.window.close()

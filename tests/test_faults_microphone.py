"""Faults on purpose (issue 12): the microphone removed in the middle of a question, then returned, in a
real `kiosk run` on a PulseAudio of its own.

Two ways a microphone goes, as PulseAudio sees them:
- `source`: only the microphone (a USB microphone pulled). PulseAudio moves the kiosk's capture stream to
  another source at once (here, and on a kiosk with an HDMI or analogue output, the loudspeaker's monitor),
  so PortAudio never sees an error and the kiosk cannot tell (nothing is logged); when the microphone comes
  back, the stream follows the default source back to it.
- `device`: the microphone and the loudspeaker (a USB speakerphone pulled): nothing is left to move the
  stream to, PulseAudio ends it, and the kiosk reports the microphone lost (its log, /status `microphone`),
  retries with backoff and reports it recovered.
Either way the next visitor's spoken question must be answered. Measured (printed, not asserted): from the
microphone's return to the kiosk recording from it again (and to its "recovered" notice), and from the next
question's end to the answer being spoken.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fault_times import record
from kiosk_session import KioskRun, capture_source, plug_back, question_wav, unplug
from pulse_sandbox import private_pulse

pytestmark = [pytest.mark.slow, pytest.mark.audio]
ROOT = Path(__file__).resolve().parents[1]
QUESTION = "what's the dress code in the office?"
NEXT = "where do I pick up my badge?"
INTO_QUESTION_S = 1.5  # "Hey coach," is said; the question itself is under way
GONE_S = 4.0


@pytest.fixture()
def own_pulse() -> Iterator[dict[str, str]]:
    """A PulseAudio of this test's own: its devices are taken away and put back."""
    with private_pulse("kiosk-mic-fault-") as env:
        yield env


@pytest.fixture()
def kb(tmp_path: Path) -> Path:
    from kiosk.knowledge.index import ingest

    path = tmp_path / "kb.sqlite"
    ingest(path, [ROOT / "samples" / "halvorsen"])
    return path


def wait_until(check: Callable[[], bool], timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        time.sleep(0.05)
    return None


def microphone_states(kiosk: KioskRun, seconds: float) -> set[str]:
    """The microphone states /status shows over the next `seconds`."""
    seen, deadline = set(), time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.add(kiosk.status()["microphone"])
        time.sleep(0.2)
    return seen


@pytest.mark.parametrize("removed", ["source", "device"])
def test_a_microphone_removed_mid_question_and_returned(own_pulse: dict[str, str], tmp_path: Path, kb: Path,
                                                        removed: str) -> None:
    speaker = removed == "device"
    wav, following = question_wav(tmp_path, QUESTION), question_wav(tmp_path, NEXT)
    with KioskRun(tmp_path, own_pulse, kb, watchdog_s=2.0) as kiosk:
        kiosk.start()
        proc = kiosk.proc
        assert proc is not None
        playing = kiosk.say_in_background(wav)
        time.sleep(INTO_QUESTION_S)
        gone = time.monotonic()
        unplug(own_pulse, speaker=speaker)
        shown = microphone_states(kiosk, GONE_S)  # what /status says while it is gone
        playing.wait(30)  # its device is gone too (ends with "Entity killed"), or it played into nothing
        assert proc.poll() is None, kiosk.tail()
        plug_back(own_pulse, speaker=speaker)
        back = time.monotonic()

        hearing = wait_until(lambda: capture_source(own_pulse, proc.pid) == "virtual_mic", 60)
        assert hearing is not None, kiosk.tail()
        record(f"microphone ({removed}) removed", "back -> recording from it again", hearing - back)
        assert kiosk.log is not None
        if speaker:  # the stream ended: the kiosk said so, retried and recovered
            assert kiosk.log.first(r"microphone lost", gone) is not None, kiosk.tail()
            recovered = kiosk.log.wait(r"microphone recovered", back, 60)
            assert recovered is not None, kiosk.tail()
            record(f"microphone ({removed}) removed", "back -> 'recovered' notice", recovered - back)
            assert shown & {"lost", "retrying"}, shown
            # /status follows the log; on a starved machine the health check may reopen the stream once more first
            assert wait_until(lambda: kiosk.status()["microphone"] == "recovered", 20) is not None, kiosk.status()
        else:  # PulseAudio moved the stream: nothing to notice, and nothing was noticed
            print("/status microphone while gone:", shown,
                  "log:", [line for _, line in kiosk.log.since(gone) if "microphone" in line])

        assert kiosk.wait_idle(60), kiosk.status()
        count, asked = len(kiosk.turns()), time.monotonic()
        said = kiosk.say(following)
        turn = kiosk.wait_turn(count + 1, 120)
        assert turn is not None and not turn["error"] and turn["answer"], (turn, kiosk.tail())
        assert turn["timings_ms"]["to_speaker"] is not None, turn  # said aloud: the loudspeaker is back too
        spoken = kiosk.notify.first("^STATUS=speaking$", asked)
        record(f"microphone ({removed}) removed", "next question end -> answer spoken",
               None if spoken is None else spoken - said)
        assert kiosk.stop() == 0, kiosk.tail()

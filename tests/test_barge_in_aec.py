"""Voice barge-in with echo cancellation, for real (issue 11): `kiosk run --headless` in a room whose
loudspeaker comes back into the microphone (~40 ms later, 6 dB quieter: tools/pulse_sandbox.py's echo
room), with PulseAudio's module-echo-cancel (webrtc) between them and `[listen] barge_in = "voice"`.
The kiosk's own voice never interrupts it; a visitor's voice does, within about a second, and the
visitor's question is the one answered. The control without a canceller (the kiosk interrupts itself)
and the exact figures are in tools/bench_aec.py (docs/benchmarks.md)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from bench_aec import (
    OWN_VOICE,
    SELF_INTERRUPTION_LOG,
    KioskSession,
    interrupt,
    interrupt_to_silence,
    own_voice,
    read16,
    recording,
    warm_up,
)
from pulse_sandbox import RAW_MIC, SPEAKER, EchoRoom, private_echo_room

# Not in the default run: in this simulated room (one PulseAudio on two busy cores) the canceller's residue is
# sometimes as loud as the visitor, and each test passes about 3 runs in 4 (docs/benchmarks.md).
pytestmark = [pytest.mark.slow, pytest.mark.audio, pytest.mark.experimental]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KioskSession]:
    """One kiosk in the echo room for the module's tests (its models load once)."""
    from kiosk.knowledge.index import ingest

    folder = tmp_path_factory.mktemp("echo-room")
    kb = folder / "kb.sqlite"
    ingest(kb, [ROOT / "samples" / "halvorsen"])
    with private_echo_room("kiosk-aec-", EchoRoom()) as env:
        warm_up(env, folder)  # the canceller has heard the loudspeaker before, as on a running appliance
        session = KioskSession(env, folder, kb)
        try:
            assert session.wait("READY=1", 300) is not None, session.log_text()[-3000:]
            time.sleep(3.0)  # the ALSA pulse plugin delivers the first captured audio ~2 s after opening
            yield session
        finally:
            rc = session.close()
        assert rc == 0, session.log_text()[-3000:]


def test_the_kiosks_own_voice_never_interrupts_it(kiosk: KioskSession) -> None:
    """Two questions in a row with long answers; every word of them comes back into the microphone."""
    with recording(kiosk.env, {"raw": RAW_MIC}, kiosk.folder) as paths:
        result = own_voice(kiosk)
    log = kiosk.log_text()
    assert result["self_interruptions"] == 0, (result, log[-3000:])
    assert result["answers_spoken_to_the_end"] == len(OWN_VOICE), (result, log[-3000:])
    assert not SELF_INTERRUPTION_LOG.search(log), log[-3000:]
    assert len(result["last_answer"]) > 120, result  # a long answer: several seconds of echo
    raw = read16(paths["raw"])
    assert np.abs(raw).max() > 3000, "the kiosk's voice did not reach the raw microphone: no echo to cancel"
    time.sleep(6.0)  # past the follow-up window


def test_a_visitor_interrupts_and_is_answered(kiosk: KioskSession) -> None:
    """While the kiosk answers, the visitor asks something else: the kiosk stops at once and answers that."""
    before = len(kiosk.statuses())
    with recording(kiosk.env, {"raw": RAW_MIC, "speaker": f"{SPEAKER}.monitor"}, kiosk.folder) as paths:
        result = interrupt(kiosk)
    log = kiosk.log_text()
    statuses = kiosk.statuses()[before:]
    assert "error" not in result, (result, log[-3000:])
    timing = interrupt_to_silence(read16(paths["raw"]), read16(paths["speaker"]), result["_interruption"],
                                  result["_speech_start"])
    assert timing["kiosk_speaking_at_interruption"], (timing, statuses)
    assert result["stopped_by_status_s"] is not None, (statuses, log[-3000:])
    # About a second, measured in tools/bench_aec.py; only a generous bound here.
    assert timing["interrupt_to_silence_s"] < 2.5, (timing, log[-3000:])
    assert "the visitor is speaking" in log, log[-3000:]
    assert result["answered"], (statuses, log[-3000:])
    # What the visitor said over the kiosk's last words is recognized less well than a question asked
    # alone (double talk; tools/bench_aec.py reports it), so only that something was heard and answered.

"""Endpointer state machine on synthetic probability sequences; every position is asserted exactly.

Defaults at 16 kHz with 512-sample frames: min speech 4000 samples -> 8 frames, hangover 8000 -> 16
frames, preroll 4800, pending gap tolerance 2000 -> 3 frames tolerated, 4 drop the candidate.
"""

from __future__ import annotations

import pytest

from kiosk.listen.endpoint import Endpointer, EndpointSettings, SpeechEnd, SpeechStart, segments

F = 512
S, N, M = 0.9, 0.05, 0.4  # speech, silence, in-between (above end, below start threshold)


def run(ep: Endpointer, probs: list[float], frame: int = F) -> list[tuple[int, object]]:
    """Feed probs; return (frame index, event) pairs so emission timing is asserted too."""
    out = []
    for i, p in enumerate(probs):
        out.extend((i, ev) for ev in ep.process(frame, p))
    return out


def test_start_backdated_and_end_is_last_speech_frame() -> None:
    events = run(Endpointer(), [N] * 10 + [S] * 20 + [N] * 30)
    assert events == [
        (17, SpeechStart(10 * F)),  # confirmed on the 8th speech frame, dated to the 1st
        (45, SpeechEnd(30 * F, "silence")),  # emitted after 16 hangover frames, dated to last speech
    ]


def test_clicks_shorter_than_min_speech_are_ignored() -> None:
    assert run(Endpointer(), [N] * 5 + [S] * 3 + [N] * 30 + [S] * 7 + [N] * 30) == []


def test_short_gaps_tolerated_while_pending_and_preroll_limits_backdating() -> None:
    # 4 speech, 3 silence (tolerated), 4 speech: confirmed at frame 15, end = 16*512 = 8192.
    # The candidate began at 5*512 = 2560, but only 4800 samples of pre-roll exist -> 3392.
    events = run(Endpointer(), [N] * 5 + [S] * 4 + [N] * 3 + [S] * 4 + [N] * 20)
    assert events[0] == (15, SpeechStart(16 * F - 4800))


def test_long_gap_while_pending_drops_candidate() -> None:
    # 4 silence frames (2048 > 2000) reset; the second burst starts its own candidate.
    events = run(Endpointer(), [N] * 5 + [S] * 4 + [N] * 4 + [S] * 8 + [N] * 20)
    assert events[0] == (20, SpeechStart(13 * F))


def test_hangover_bridges_pauses_shorter_than_hangover() -> None:
    probs = [S] * 10 + [N] * 15 + [S] * 10 + [N] * 16
    assert run(Endpointer(), probs) == [(7, SpeechStart(0)), (50, SpeechEnd(35 * F, "silence"))]


def test_hysteresis_between_thresholds() -> None:
    # From idle, in-between values never start speech ...
    assert run(Endpointer(), [M] * 50) == []
    # ... but once speaking they keep it going.
    events = run(Endpointer(), [S] * 10 + [M] * 30 + [N] * 16)
    assert events == [(7, SpeechStart(0)), (55, SpeechEnd(40 * F, "silence"))]


def test_in_between_values_keep_pending_alive_but_do_not_count() -> None:
    # 4 speech + 10 in-between + 4 speech: only 8 speech frames count; confirmed on frame 17.
    events = run(Endpointer(), [S] * 4 + [M] * 10 + [S] * 4 + [N] * 20)
    assert events[0] == (17, SpeechStart(18 * F - 4800))


def test_max_length_cuts_and_continuing_speech_starts_a_new_utterance() -> None:
    ep = Endpointer(EndpointSettings(max_utterance_ms=1000))  # 16000 samples -> cut after 32 frames
    events = run(ep, [S] * 50 + [N] * 20)
    assert events == [
        (7, SpeechStart(0)),
        (31, SpeechEnd(32 * F, "max_length")),
        (39, SpeechStart(32 * F)),
        (65, SpeechEnd(50 * F, "silence")),
    ]


def test_pause_past_max_length_ends_by_silence() -> None:
    ep = Endpointer(EndpointSettings(max_utterance_ms=1000))
    events = run(ep, [S] * 25 + [N] * 20)
    assert events[-1] == (40, SpeechEnd(25 * F, "silence"))


def test_follow_on_utterances_and_segments_helper() -> None:
    probs = ([N] * 5 + [S] * 12 + [N] * 20) * 3
    period = 37 * F
    expected = [(k * period + 5 * F, k * period + 17 * F) for k in range(3)]
    assert segments(probs, F) == expected


def test_segments_closes_utterance_open_at_end_of_stream() -> None:
    assert segments([N] * 3 + [S] * 10, F) == [(3 * F, 13 * F)]
    assert segments([S] * 5, F) == []  # still pending at the end: not an utterance


def test_reset_forgets_state_and_position() -> None:
    ep = Endpointer()
    run(ep, [S] * 12)
    assert ep.in_speech and ep.position == 12 * F
    ep.reset()
    assert not ep.in_speech and ep.position == 0
    assert run(ep, [N] * 2 + [S] * 8 + [N] * 16) == [(9, SpeechStart(2 * F)), (25, SpeechEnd(10 * F, "silence"))]


def test_frame_size_independent_of_model_window() -> None:
    # 10 ms frames: min speech 25 frames, hangover 50 frames.
    events = run(Endpointer(), [N] * 7 + [S] * 40 + [N] * 50, frame=160)
    assert events == [(31, SpeechStart(7 * 160)), (96, SpeechEnd(47 * 160, "silence"))]


def test_settings_validation() -> None:
    with pytest.raises(ValueError):
        EndpointSettings(start_threshold=0.3, end_threshold=0.5)
    with pytest.raises(ValueError):
        EndpointSettings(max_utterance_ms=100)
    with pytest.raises(ValueError):
        Endpointer().process(0, 0.9)

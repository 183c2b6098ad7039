"""The kiosk's numbers in Prometheus' text format (GET /metrics): counted from the kiosk's own event stream
(kiosk.appliance.hub), so a fleet is watched with the monitoring people already run. No client library:
the format is a few lines of text, and the kiosk keeps its counters itself."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from kiosk.events import AnswerDone, Dismissed, Heard, VisitorState, Wake

BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
STAGES = ("ttft", "first_sentence", "first_audio", "total")


class Histogram:
    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS_S)
        self.total = 0
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.total += 1
        self.sum += seconds
        for i, bound in enumerate(BUCKETS_S):
            if seconds <= bound:
                self.counts[i] += 1


class Metrics:
    """Fed every event by the hub (`hub.listen(metrics.observe)`); `render()` writes the exposition text."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self._snapshot = snapshot
        self.started = time.monotonic()
        self.turns: Counter[str] = Counter()  # grounded | not_grounded | cut_off
        self.wakes: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.dismissed = 0
        self.stages = {stage: Histogram() for stage in (*STAGES, "recognition", "end_to_heard")}

    def observe(self, event: Any) -> None:
        if isinstance(event, AnswerDone):
            self.turns["cut_off" if event.cancelled else "grounded" if event.grounded else "not_grounded"] += 1
            for code in event.error_codes:
                self.errors[str(code)] += 1
            for stage in STAGES:
                ms = getattr(event.timings, stage, None)
                if ms is not None and not event.cancelled:
                    self.stages[stage].observe(ms / 1000)
        elif isinstance(event, Wake):
            self.wakes[str(event.source)] += 1
        elif isinstance(event, Heard):
            for stage, ms in (("recognition", event.recognition_ms), ("end_to_heard", event.end_to_heard_ms)):
                if ms is not None:
                    self.stages[stage].observe(ms / 1000)
        elif isinstance(event, Dismissed):
            self.dismissed += 1

    def render(self, extra: dict[str, float] | None = None) -> str:
        snap = self._snapshot()
        out: list[str] = []

        def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
            out.append(f"# HELP {name} {help_}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(f"{name}{labels} {_number(value)}" for labels, value in samples)

        metric("kiosk_turns_total", "counter", "Answered turns by outcome.",
               [(f'{{outcome="{k}"}}', v) for k, v in sorted(self.turns.items())] or [('{outcome="grounded"}', 0)])
        metric("kiosk_wakes_total", "counter", "Wakes by source (voice, tap, key, api).",
               [(f'{{source="{k}"}}', v) for k, v in sorted(self.wakes.items())] or [('{source="voice"}', 0)])
        metric("kiosk_dismissed_total", "counter", "Utterances not taken as questions (bystanders).",
               [("", self.dismissed)])
        metric("kiosk_turn_errors_total", "counter", "Failed turn stages by error code.",
               [(f'{{code="{k}"}}', v) for k, v in sorted(self.errors.items())] or [('{code="none"}', 0)])
        out.append("# HELP kiosk_stage_seconds Time from the question to each stage of a turn.")
        out.append("# TYPE kiosk_stage_seconds histogram")
        for stage, h in self.stages.items():
            for bound, count in zip(BUCKETS_S, h.counts, strict=True):
                out.append(f'kiosk_stage_seconds_bucket{{stage="{stage}",le="{bound}"}} {count}')
            out.append(f'kiosk_stage_seconds_bucket{{stage="{stage}",le="+Inf"}} {h.total}')
            out.append(f'kiosk_stage_seconds_sum{{stage="{stage}"}} {_number(h.sum)}')
            out.append(f'kiosk_stage_seconds_count{{stage="{stage}"}} {h.total}')
        state = snap.get("state", "")
        metric("kiosk_visitor_state", "gauge", "The visitor state now (1 for the current one).",
               [(f'{{state="{s.value}"}}', 1.0 if s.value == state else 0.0) for s in VisitorState])
        metric("kiosk_microphone_up", "gauge", "The microphone delivers audio.",
               [("", 1.0 if snap.get("microphone") in ("listening", "recovered") else 0.0)])
        metric("kiosk_sound_output", "gauge", "A sound output is in use.", [("", 1.0 if snap.get("sound") else 0.0)])
        screen = snap.get("screen") or {}
        metric("kiosk_frame_rate", "gauge", "Frames per second drawn over the last seconds.",
               [("", float(screen.get("fps", 0.0) or 0.0))])
        metric("kiosk_errors_listed", "gauge", "Errors listed on /status now.", [("", len(snap.get("errors") or []))])
        metric("kiosk_uptime_seconds", "gauge", "Seconds since the kiosk started.",
               [("", round(time.monotonic() - self.started, 1))])
        for name, value in (extra or {}).items():
            metric(name, "counter" if name.endswith("_total") else "gauge", name.replace("_", " "), [("", value)])
        return "\n".join(out) + "\n"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"

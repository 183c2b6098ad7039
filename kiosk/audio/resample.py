"""Streaming conversion of interleaved int16 audio of any rate/channel count to 16 kHz mono int16.

Method: downmix by averaging channels, then a rational polyphase resampler (up by L, low-pass, down by M)
with a Kaiser-windowed sinc prototype, in numpy only (scipy is not a dependency). A plain linear
interpolator would alias everything between 8 and 24 kHz back into the speech band when decimating
48 kHz microphones; the windowed sinc cuts off at 0.9 x the lower Nyquist (7.2 kHz for 16 kHz output)
with ~80 dB stop-band, which is what ASR front-ends expect. The filter is linear-phase, so the output
lags the input by a constant `delay_samples` (~2 ms); state carried between calls makes chunked
and whole-buffer processing produce identical samples (no clicks at chunk joins).
"""

from __future__ import annotations

import math

import numpy as np

_ZERO_CROSSINGS = 32  # per side of the sinc; sets the transition width (~1.2 kHz at 16 kHz output)
_ROLLOFF = 0.9  # cutoff as a fraction of the lower Nyquist frequency
_KAISER_BETA = 8.6  # ~80 dB stop-band attenuation


class Resampler:
    """Stateful int16 converter; feed it chunks in order with `process`."""

    def __init__(self, in_rate: int, channels: int, out_rate: int = 16000) -> None:
        if in_rate <= 0 or out_rate <= 0 or channels <= 0:
            raise ValueError(f"bad format: {in_rate} Hz, {channels} channels -> {out_rate} Hz")
        self.in_rate, self.channels, self.out_rate = int(in_rate), int(channels), int(out_rate)
        g = math.gcd(self.in_rate, self.out_rate)
        self._up, self._down = self.out_rate // g, self.in_rate // g
        self._carry = b""  # an incomplete frame left over from the previous chunk
        self.passthrough = self.in_rate == self.out_rate
        if self.passthrough:
            self._taps = 1
            self.delay_samples = 0
            return
        up, down = self._up, self._down
        half = math.ceil(_ZERO_CROSSINGS * max(up, down) / _ROLLOFF)  # prototype half-length at rate in*up
        n = np.arange(-half, half + 1, dtype=np.float64)
        cutoff = _ROLLOFF / (2 * max(up, down))  # cycles per upsampled sample
        proto = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(len(n), _KAISER_BETA) * up
        taps = math.ceil(len(proto) / up)
        proto = np.concatenate([proto, np.zeros(taps * up - len(proto))])
        # phases[p, k] multiplies input x[i - k] for an output whose position falls at phase p.
        self._phases = proto.reshape(taps, up).T.copy()
        self._taps = taps
        self._hist = np.zeros(taps - 1, dtype=np.float64)  # last taps-1 input samples
        self._n_in = 0  # input samples consumed (relative to the origin below)
        self._n_out = 0  # output samples produced (relative to the origin below)
        self.delay_samples = round(half / down)  # group delay in output samples

    def process(self, data: bytes) -> bytes:
        """Interleaved int16 frames in, 16 kHz (out_rate) mono int16 out."""
        if self.passthrough and self.channels == 1:
            return data
        frame_bytes = 2 * self.channels
        data = self._carry + data
        whole = len(data) - len(data) % frame_bytes
        self._carry = data[whole:]
        x = np.frombuffer(data[:whole], dtype="<i2").astype(np.float64)
        if self.channels > 1:
            x = x.reshape(-1, self.channels).mean(axis=1)
        if not self.passthrough:
            x = self._resample(x)
        return np.clip(np.rint(x), -32768, 32767).astype("<i2").tobytes()

    def _resample(self, x: np.ndarray) -> np.ndarray:
        up, down, taps = self._up, self._down, self._taps
        before = self._n_in
        total = before + len(x)
        end = (total * up + down - 1) // down  # outputs whose input position i = n*down//up < total
        buf = np.concatenate([self._hist, x])
        self._hist = buf[len(buf) - (taps - 1):] if taps > 1 else buf[:0]
        out_n = np.arange(self._n_out, end, dtype=np.int64)
        self._n_in, self._n_out = total, end
        # Keep the counters small: shift the origin by whole periods (up outputs == down inputs).
        shift = self._n_out // up
        self._n_out -= shift * up
        self._n_in -= shift * down
        if len(out_n) == 0:
            return np.zeros(0)
        pos = out_n * down
        i, phase = pos // up, pos % up
        # Column k of the window reads x[i - k]; buf index of absolute input j is j - before + taps - 1.
        idx = (i - before + taps - 1)[:, None] - np.arange(taps)[None, :]
        return np.einsum("nk,nk->n", buf[idx], self._phases[phase])

"""Low-latency streaming resampler: a polyphase Kaiser-windowed sinc, time-aligned.

soxr's streaming resampler holds back 21–37 ms at 48 → 16 kHz (LQ…HQ, measured here), more
than a live pitch model's own latency. This one holds back only half its filter:

    output sample j describes input time  tau_j = j * rate_in / rate_out   (time-aligned)
    y[j] = sum_k x[k] * h(tau_j - k),      h = sinc low-pass at min(rate_in, rate_out) / 2,
                                           Kaiser-windowed, |tau_j - k| <= half_width
    y[j] can be computed once x[floor(tau_j) + half_width] has arrived
      → hold = half_width input samples (48 at 48 → 16 kHz with 16 zero crossings = 1.0 ms)

The ratio is reduced to L/M; the filter is tabulated for the L phases once, so a chunk is one
compiled loop. With the defaults (corner at 0.9 × the lower Nyquist, Kaiser beta 8.6, 16 zero
crossings) the passband error is ~1e-4 and aliases from above the output Nyquist are ≤ -70 dB
(measured in tests/rtmir/core/test_resample.py).
"""
from __future__ import annotations

from math import gcd

import numpy as np
from numba import njit

from .fifo import shift_left


@njit(cache=True, nogil=True)
def _polyphase(x, start_j, n_out, up, down, half, table, out):
    # x holds input samples from index (floor(start_j * down / up) - half) on
    base = (start_j * down) // up - half
    taps = table.shape[1]
    for i in range(n_out):
        j = start_j + i
        num = j * down
        n = num // up
        phase = num - n * up
        first = n - half - base
        acc = 0.0
        for k in range(taps):
            acc += x[first + k] * table[phase, k]
        out[i] = acc


class StreamingResampler:
    """Resample mono or multichannel float32 audio chunk by chunk with a short, fixed hold.

    Args:
        rate_in: input rate (Hz).
        rate_out: output rate (Hz).
        channels: channels of every chunk.
        zero_crossings: sinc zero crossings each side (at the lower rate): quality vs hold.
        beta: Kaiser window beta.
        cutoff: low-pass corner as a fraction of the lower rate's Nyquist (the rest is the
            transition band).

    Attributes:
        hold_samples: input samples held back before an output can be computed (latency).
    """

    def __init__(self, rate_in: int, rate_out: int, channels: int = 1, zero_crossings: int = 16,
                 beta: float = 8.6, cutoff: float = 0.9) -> None:
        g = gcd(rate_in, rate_out)
        self.up, self.down = rate_out // g, rate_in // g
        self.channels = channels
        ratio = min(1.0, rate_out / rate_in)  # the lower Nyquist relative to the input's
        self.half = int(np.ceil(zero_crossings / ratio))
        ratio *= cutoff
        self.hold_samples = self.half
        self._table = _kaiser_table(self.up, self.down, self.half, ratio, beta)
        self.reset()

    def reset(self) -> None:
        """Forget all input: as freshly constructed (the past is zeros)."""
        # input history: column 0 is input sample ``_origin``; starts with ``half`` zeros of past
        if not hasattr(self, "_hist"):
            self.prepare(4096)
        self._hist[:, :self.half] = 0.0
        self._fill = self.half
        self._origin = -self.half
        self._next_j = 0
        self._n_in = 0

    def prepare(self, chunk: int) -> None:
        """Allocate for chunks up to ``chunk`` samples, keeping the history. ``process`` calls it
        itself for a larger chunk than any before (allocating): call it first with the largest."""
        cap = 2 * self.half + chunk + 8
        old = getattr(self, "_hist", None)
        self._hist = np.zeros((self.channels, cap), np.float64)
        if old is not None:
            self._hist[:, :self._fill] = old[:, :self._fill]
        self._scratch = np.zeros(cap, np.float64)
        n_out = int(np.ceil((chunk + 1) * self.up / self.down)) + 2
        self._out = np.zeros((self.channels, n_out), np.float32)
        self.max_chunk = chunk

    def flush(self) -> np.ndarray:
        """End of input: nothing is pending beyond ``hold_samples`` of zeros-to-come; ``[C, 0]``."""
        return np.zeros((self.channels, 0), np.float32)

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Feed ``chunk [C, n]``; return every output sample now computable, ``[C, m]`` float32.

        The result is a view into a buffer the next call overwrites. Real-time safe (no
        allocation) once a chunk of this size has been seen.
        """
        m = chunk.shape[1]
        if m > self.max_chunk:
            self.prepare(m)
        self._hist[:, self._fill:self._fill + m] = chunk
        self._fill += m
        self._n_in += m
        # output j needs input up to floor(j*down/up) + half, i.e. index < n_in
        last_j = ((self._n_in - 1 - self.half) * self.up) // self.down if self._n_in > self.half else -1
        n_out = max(0, last_j - self._next_j + 1)
        out = self._out[:, :n_out]
        if n_out:
            start = (self._next_j * self.down) // self.up - self.half - self._origin
            for c in range(self.channels):
                _polyphase(self._hist[c, start:self._fill], self._next_j, n_out, self.up, self.down, self.half,
                           self._table, out[c])
            self._next_j += n_out
        keep_from = (self._next_j * self.down) // self.up - self.half - self._origin
        if keep_from > 0:
            self._fill = shift_left(self._hist, keep_from, self._fill, self._scratch)
            self._origin += keep_from
        return out


def _kaiser_table(up: int, down: int, half: int, ratio: float, beta: float) -> np.ndarray:
    """``[up, 2*half + 1]`` taps: for phase p, tap k weights input n - half + k at offset
    ``tau - (n - half + k)`` where ``tau = n + p / up``."""
    phases = np.arange(up)[:, None] / up
    offsets = phases + half - np.arange(2 * half + 1)[None, :]  # tau - k, in input samples
    inside = np.clip(1.0 - (offsets / (half + 1)) ** 2, 0.0, None)
    w = np.i0(beta * np.sqrt(inside)) / np.i0(beta)  # Kaiser window, evaluated exactly
    return (ratio * np.sinc(ratio * offsets) * w).astype(np.float64)


class SoxrResampler:
    """soxr's streaming resampler behind the same interface (higher quality, longer hold).

    Args:
        rate_in, rate_out: Hz.
        channels: channels of every chunk.
        quality: soxr quality, "QQ", "LQ", "MQ", "HQ" or "VHQ".
    """

    def __init__(self, rate_in: int, rate_out: int, channels: int = 1, quality: str = "HQ") -> None:
        import soxr

        self._make = lambda: soxr.ResampleStream(rate_in, rate_out, channels, dtype="float32", quality=quality)
        self.channels = channels
        self._stream = self._make()
        self.hold_samples = _measure_hold(self._make(), rate_in, channels)

    def prepare(self, chunk: int) -> None:
        """soxr allocates per call anyway (files only): nothing to do."""

    def reset(self) -> None:
        self._stream.clear()

    def process(self, chunk: np.ndarray) -> np.ndarray:
        # soxr wants [n, C]; the transpose copies (worker thread, never the audio callback)
        y = self._stream.resample_chunk(np.ascontiguousarray(chunk.T))
        return y.reshape(-1, self.channels).T

    def flush(self) -> np.ndarray:
        y = self._stream.resample_chunk(np.zeros((0, self.channels), np.float32), last=True)
        return y.reshape(-1, self.channels).T


def _measure_hold(probe, rate_in: int, channels: int) -> int:
    """Input samples a fresh soxr stream holds back before its first output (one-off)."""
    step = 32
    zeros = np.zeros((step, channels), np.float32)
    for fed in range(step, 10 * rate_in, step):
        if len(probe.resample_chunk(zeros)):
            return fed
    return 0


LOW_LATENCY = "low-latency"
"""Resampler quality name for ``StreamingResampler`` (live use); others are soxr's."""


def make_resampler(rate_in: int, rate_out: int, channels: int, quality: str):
    """``StreamingResampler`` for ``quality == "low-latency"``, else ``SoxrResampler``."""
    if quality == LOW_LATENCY:
        return StreamingResampler(rate_in, rate_out, channels)
    return SoxrResampler(rate_in, rate_out, channels, quality)

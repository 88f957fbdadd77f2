"""The pitch model's frontend: log-power spectra of windows that all end at each hop's last sample.

Two full-rate windows (``short_window``, ``long_window``) and any number of **bands**: windows on
copies of the input decimated by 4, 16, ... (a cascade of fixed anti-alias FIR stages). A band
buys low-note resolution cheaply: 256 samples of a 1 kHz copy span 256 ms (bins every 3.9 Hz, a
semitone at B0 is half a bin, where the 64 ms full-rate window had 15.6 Hz bins) for the cost of a 256-sample DFT, where the same window at 16 kHz would
be a 4096-sample one. Every window ends at (or, after the FIR stages' group delay, before) the
last sample of its hop and reaches into the past only, so the described instant, and with it
the latency, is set by the short window alone::

    raw     [ cache0 | chunk ]                     short frame |<-short->|  (centre = described instant)
    /4      [ cache1 | chunk/4 ]                band 1 frame |<---- 256 @ sr/4 ---->|
    /16     [ cache2 | chunk/16 ]   band 2 frame |<---------- 256 @ sr/16 ---------->|
                                                                          ^ e = end of the hop

The FIR stages are causal convolutions with the streams' caches as state, so streaming equals
offline exactly like every other cached convolution.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .streaming import State, StreamingModule

DECIMATION = 4
"""Rate ratio of one FIR stage; band ``i`` (1-based) runs at ``sample_rate / 4 ** i``."""


@dataclass(frozen=True)
class BandConfig:
    """One window on a decimated copy of the input.

    Attributes:
        stages: FIR stages before it (rate ``sample_rate / 4 ** stages``); bands must use
            1, 2, ... in order.
        window: samples of the decimated copy (its DFT has ``window`` points).
        max_hz: bins kept, up to this frequency (at most ``0.45`` of the band's rate, the edge
            of its anti-alias filter's pass band).
    """

    stages: int = 1
    window: int = 256
    max_hz: float = 1800.0


@dataclass(frozen=True)
class SpectraConfig:
    sample_rate: int = 16000  # Hz
    hop: int = 80  # samples between frames (5 ms)
    short_window: int = 320  # samples; the newest frame: latency = short_window // 2
    short_fft: int = 512  # short-window bins are k * sample_rate / short_fft (finer than the window resolves)
    short_max_hz: float = 5000.0  # short-window bins kept
    long_window: int = 1024  # samples ending with the short one (past only; bins k * sr / long_window); 0: none
    long_max_hz: float = 2000.0  # long-window bins kept
    rel_floor: float = 1e-4  # power floor relative to the frame's mean bin power (float32 FFT noise)
    abs_floor: float = 1e-7  # absolute power floor (silence)
    joint_floor: bool = False  # one power floor and one log over all windows' bins (v2: fewer nodes)
    bands: tuple[BandConfig, ...] = ()  # windows on decimated copies (v2: 1 kHz and 4 kHz, 256 ms and 64 ms)
    fir_taps: int = 128  # taps of each anti-alias stage (pass band to 0.45, stop band from 0.55 of the new rate)


def kept_bins(fft: int, max_hz: float, sample_rate: float) -> int:
    """Bins ``0 .. k`` of an ``fft``-point DFT at ``sample_rate`` up to ``max_hz``."""
    return min(fft // 2 + 1, int(max_hz * fft / sample_rate) + 1)


def dft_basis(window: int, fft: int, bins: int) -> Tensor:
    """Hann-windowed DFT rows ``[2 * bins, 1, window]`` (cos then -sin) for a strided conv1d."""
    t = torch.arange(window, dtype=torch.float64)[None]
    k = torch.arange(bins, dtype=torch.float64)[:, None]
    phase = 2 * math.pi * k * t / fft
    taper = torch.hann_window(window, periodic=False, dtype=torch.float64)
    return (torch.cat([torch.cos(phase), -torch.sin(phase)]) * taper).float()[:, None, :]


def anti_alias_fir(taps: int) -> Tensor:
    """Kaiser-windowed sinc low-pass for decimation by 4, ``[1, 1, taps]`` (unit DC gain).

    Cut-off halfway through the transition (0.45 ... 0.55 of the decimated rate's Nyquist,
    i.e. 0.1125 ... 0.1375 of the input rate): what aliases into the kept bins is attenuated by
    the stop band (~48 dB with 128 taps).
    """
    n = np.arange(taps) - (taps - 1) / 2
    cutoff = 0.125  # cycles per input sample: the decimated Nyquist
    h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(taps, 5.0)
    return torch.tensor(h / h.sum(), dtype=torch.float32)[None, None]


class StreamingSpectra(StreamingModule):
    """Log-power spectra of every window ending at each hop's last sample (see the module doc).

    Each spectrum is one strided ``conv1d`` with a windowed DFT basis (bins ``k * rate / fft``,
    ``k < kept``): at a few hops per call, one Conv node is cheaper in onnxruntime than
    framing + DFT, and matmul rounding keeps torch and onnxruntime within ~1e-5.

    Shapes: ``[B, 1, N] -> [B, features, N // hop]``; state ``cache [B, 1, ...]`` (raw) and
    ``band<i> [B, 1, ...]`` per FIR stage. ``latency_samples = short_window // 2``.
    """

    def __init__(self, config: SpectraConfig) -> None:
        super().__init__()
        c = config
        if not c.hop < c.short_window <= c.short_fft:
            raise ValueError(f"need hop < short_window <= short_fft, got {c.hop}, {c.short_window}, {c.short_fft}")
        if c.long_window and c.long_window <= c.short_window:
            raise ValueError(f"long_window {c.long_window} must exceed short_window {c.short_window} (or be 0)")
        self.config = c
        self.stages = max((b.stages for b in c.bands), default=0)
        if sorted({b.stages for b in c.bands}) != list(range(1, self.stages + 1)):
            raise ValueError(f"bands must use stages 1, 2, ... in order, got {[b.stages for b in c.bands]}")
        if c.hop % DECIMATION ** self.stages:
            raise ValueError(f"hop {c.hop} is not a multiple of the deepest band's decimation {DECIMATION ** self.stages}")
        for b in c.bands:
            rate = c.sample_rate / DECIMATION ** b.stages
            if b.max_hz > 0.45 * rate or b.window <= c.hop // DECIMATION ** b.stages:
                raise ValueError(f"band {b}: max_hz above 0.45 x its rate {rate:g} Hz, or window not longer than a hop")
        self.max_window = max(c.short_window, c.long_window)
        self.latency_samples = c.short_window // 2
        self.n_short = kept_bins(c.short_fft, c.short_max_hz, c.sample_rate)
        self.n_long = kept_bins(c.long_window, c.long_max_hz, c.sample_rate) if c.long_window else 0
        self.register_buffer("short_basis", dft_basis(c.short_window, c.short_fft, self.n_short))
        if c.long_window:
            self.register_buffer("long_basis", dft_basis(c.long_window, c.long_window, self.n_long))
        if self.stages:
            self.register_buffer("fir", anti_alias_fir(c.fir_taps))
        # stream s (0 = raw) keeps enough past for its windows and for the next FIR stage
        self.stream_hop = [c.hop // DECIMATION ** s for s in range(self.stages + 1)]
        needs = [self.max_window] + [0] * self.stages
        for b in c.bands:
            needs[b.stages] = max(needs[b.stages], b.window)
        for s in range(self.stages):
            needs[s] = max(needs[s], c.fir_taps)
        self.context = [n - h for n, h in zip(needs, self.stream_hop)]
        self.n_bands = []
        for i, b in enumerate(c.bands):
            bins = kept_bins(b.window, b.max_hz, c.sample_rate / DECIMATION ** b.stages)
            self.register_buffer(f"band_basis_{i}", dft_basis(b.window, b.window, bins))
            self.n_bands.append(bins)
        self.features = self.n_short + self.n_long + sum(self.n_bands) + 1

    def initial_state(self, batch: int = 1) -> State:
        state = {"cache": torch.zeros(batch, 1, self.context[0])}
        for s in range(1, self.stages + 1):
            state[f"band{s}"] = torch.zeros(batch, 1, self.context[s])
        return state

    def _power(self, xx: Tensor, basis: Tensor, stride: int, frames: int) -> Tensor:
        """Power ``[B, K, frames]`` of the windows ending at every ``stride``-th sample of ``xx``'s tail."""
        window, bins = basis.shape[2], basis.shape[0] // 2
        z = nn.functional.conv1d(xx[:, :, xx.shape[2] - (window - stride + frames * stride):], basis,
                                 stride=stride)  # [B, 2K, T]
        return z[:, :bins].square() + z[:, bins:].square()

    def _log(self, power: Tensor) -> Tensor:
        # rounding noise scales with the frame's energy: a relative floor keeps near-empty bins
        # from amplifying it in the log (torch and onnxruntime then agree to ~1e-5)
        floor = self.config.rel_floor * power.mean(dim=1, keepdim=True) + self.config.abs_floor
        return torch.log(power + floor)

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        state = self.fresh(x, state)
        c, n = self.config, x.shape[2]
        xx = torch.cat([state["cache"], x], dim=2)  # [B, 1, context0 + N]
        streams, new_state = [xx], {"cache": xx[:, :, n:]}
        for s in range(1, self.stages + 1):  # each FIR stage: N_s new samples from the stream above
            above, m = streams[-1], n // DECIMATION ** (s - 1)
            y = nn.functional.conv1d(above[:, :, above.shape[2] - (c.fir_taps - DECIMATION + m):], self.fir,
                                     stride=DECIMATION)  # [B, 1, m / 4]
            yy = torch.cat([state[f"band{s}"], y], dim=2)
            streams.append(yy)
            new_state[f"band{s}"] = yy[:, :, y.shape[2]:]
        frames = n // c.hop
        parts = [self._power(xx, self.short_basis, c.hop, frames)]
        if c.long_window:
            parts.append(self._power(xx, self.long_basis, c.hop, frames))
        for i, b in enumerate(c.bands):
            parts.append(self._power(streams[b.stages], getattr(self, f"band_basis_{i}"),
                                     self.stream_hop[b.stages], frames))
        if c.joint_floor:
            spec = self._log(torch.cat(parts, dim=1))  # [B, bins, T]
        else:
            spec = torch.cat([self._log(p) for p in parts], dim=1)
        level = spec.mean(dim=1, keepdim=True)  # [B, 1, T]
        feats = torch.cat([spec - level, level / 10.0], dim=1)  # [B, features, T]
        return feats, new_state

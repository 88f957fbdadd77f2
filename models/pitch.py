"""The pitch model (issue #6): multi-resolution spectra -> causal dilated TCN -> salience + voicing.

``PitchTCN`` (family ``pitch_tcn``) maps mono 16 kHz audio to, per hop of 80 samples (5 ms):

- ``salience [B, n_bins, frames]``: probability that the f0 lies in each 20-cent bin; bin i is
  centred at ``F_MIN_HZ * 2 ** (i / 60)`` Hz from 32.70 Hz (C1). CREPE's 360 bins end at
  1997 Hz; the default here is 420 bins (7 octaves: C1 ... 4138 Hz, i.e. B7 + 80 cents), because melodies in the
  synth sets reach 2960 Hz (1.2 % of voiced validation frames lie above 1997 Hz);
- ``voicing [B, 1, frames]``: probability that the described instant is voiced.

Time. Every window ends at the last sample of its hop (``e``); the output describes the instant
``e - latency_samples`` with ``latency_samples = short_window // 2`` (160 samples = 10 ms with the
defaults), i.e. the centre of the newest, shortest frame. Longer windows end at the same sample
and reach further into the past only, where looking is free: they add frequency resolution for
low notes, never lookahead. Training aligns its targets with that instant::

    xx = [cache (long - hop) | chunk (N)]
                          short frame  |<-- short -->|          (centre = described instant)
                    long frame  |<-------- long -------->|
                                                         ^ e = end of hop k
    described instant = e - short // 2; nothing after e is read (causality is verified)

Features per frame: for each window, ``log(|rfft|^2 + floor)`` of the Hann-windowed frame up to
``max_hz``, minus the frame's mean over all kept bins (gain invariance), plus that mean / 10 as
one level feature. A 1x1 projection (plus, with ``front_hidden``, a per-frame MLP branch: the
nonlinear harmonic templates a linear map of the log spectrum cannot form), a dilated residual
TCN (``ResidualBlock``s) and a 1x1 head give n_bins salience logits and one voicing logit.
"""
from __future__ import annotations

from dataclasses import dataclass

import math

import numpy as np
import torch
from torch import Tensor, nn

from .conv import CausalConv1d, pointwise_conv
from .streaming import ModelOutput, State, StreamingModel, StreamingModule, StreamingSequential, sub_state, with_prefix

N_BINS = 420  # 7 octaves of 20 cents: C1 (32.70 Hz) ... 4138 Hz (B7 = 3951 Hz is bin 415)
BINS_PER_OCTAVE = 60
F_MIN_HZ = 32.70319566257483  # C1; bin i centre = F_MIN_HZ * 2 ** (i / 60)


def bin_frequencies_hz(n_bins: int = N_BINS) -> np.ndarray:
    """Centre frequency (Hz) of every salience bin, ``[n_bins]``."""
    return F_MIN_HZ * 2.0 ** (np.arange(n_bins) / BINS_PER_OCTAVE)


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


def _kept_bins(fft: int, max_hz: float, sample_rate: int) -> int:
    return min(fft // 2 + 1, int(max_hz * fft / sample_rate) + 1)


def _dft_basis(window: int, fft: int, bins: int) -> Tensor:
    """Hann-windowed DFT rows ``[2 * bins, 1, window]`` (cos then -sin) for a strided conv1d."""
    t = torch.arange(window, dtype=torch.float64)[None]
    k = torch.arange(bins, dtype=torch.float64)[:, None]
    phase = 2 * math.pi * k * t / fft
    taper = torch.hann_window(window, periodic=False, dtype=torch.float64)
    return (torch.cat([torch.cos(phase), -torch.sin(phase)]) * taper).float()[:, None, :]


class StreamingSpectra(StreamingModule):
    """Log-power spectra of a short and a long Hann window ending at each hop's last sample.

    Each spectrum is one strided ``conv1d`` with a windowed DFT basis (bins ``k * sr / fft``,
    ``k < kept``): at a few hops per call, one Conv node is cheaper in onnxruntime than
    framing + DFT, and matmul rounding keeps torch and onnxruntime within ~1e-5.

    Shapes: ``[B, 1, N] -> [B, features, N // hop]``; state ``cache [B, 1, max_window - hop]``.
    ``latency_samples = short_window // 2``.
    """

    def __init__(self, config: SpectraConfig) -> None:
        super().__init__()
        c = config
        if not c.hop < c.short_window <= c.short_fft:
            raise ValueError(f"need hop < short_window <= short_fft, got {c.hop}, {c.short_window}, {c.short_fft}")
        if c.long_window and c.long_window <= c.short_window:
            raise ValueError(f"long_window {c.long_window} must exceed short_window {c.short_window} (or be 0)")
        self.config = c
        self.max_window = max(c.short_window, c.long_window)
        self.context_samples = self.max_window - c.hop
        self.latency_samples = c.short_window // 2
        self.n_short = _kept_bins(c.short_fft, c.short_max_hz, c.sample_rate)
        self.n_long = _kept_bins(c.long_window, c.long_max_hz, c.sample_rate) if c.long_window else 0
        self.register_buffer("short_basis", _dft_basis(c.short_window, c.short_fft, self.n_short))
        if c.long_window:
            self.register_buffer("long_basis", _dft_basis(c.long_window, c.long_window, self.n_long))
        self.features = self.n_short + self.n_long + 1

    def initial_state(self, batch: int = 1) -> State:
        return {"cache": torch.zeros(batch, 1, self.context_samples)}

    def _log_power(self, xx: Tensor, basis: Tensor) -> Tensor:
        window, bins = basis.shape[2], basis.shape[0] // 2
        z = nn.functional.conv1d(xx[:, :, self.max_window - window:], basis, stride=self.config.hop)  # [B, 2K, T]
        power = z[:, :bins].square() + z[:, bins:].square()  # [B, K, T]
        # rounding noise scales with the frame's energy: a relative floor keeps near-empty bins
        # from amplifying it in the log (torch and onnxruntime then agree to ~1e-5)
        floor = self.config.rel_floor * power.mean(dim=1, keepdim=True) + self.config.abs_floor
        return torch.log(power + floor)

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        state = self.fresh(x, state)
        xx = torch.cat([state["cache"], x], dim=2)  # [B, 1, max_window - hop + N]
        parts = [self._log_power(xx, self.short_basis)]
        if self.config.long_window:
            parts.append(self._log_power(xx, self.long_basis))
        spec = torch.cat(parts, dim=1)  # [B, bins, T]
        level = spec.mean(dim=1, keepdim=True)  # [B, 1, T]
        feats = torch.cat([spec - level, level / 10.0], dim=1)  # [B, features, T]
        return feats, {"cache": xx[:, :, x.shape[2]:]}


class ResidualBlock(StreamingModule):
    """``x + proj(relu(causal_conv(relu(x))))``; state ``conv.cache``.

    Like ``models.conv.TCNBlock`` with ReLU: GELU exports as five onnxruntime nodes, and at a
    few hops per call the node count, not the arithmetic, sets the cost.
    """

    def __init__(self, channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.conv = CausalConv1d(channels, channels, kernel_size, dilation)
        self.proj = nn.Conv1d(channels, channels, 1)
        self.latency_samples = 0

    def initial_state(self, batch: int = 1) -> State:
        return with_prefix(self.conv.initial_state(batch), "conv")

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        h, s = self.conv(torch.relu(x), sub_state(self.fresh(x, state), "conv"))
        return x + self.proj(torch.relu(h)), with_prefix(s, "conv")


@dataclass(frozen=True)
class PitchTCNConfig:
    spectra: SpectraConfig = SpectraConfig()  # frontend (sets sample rate, hop and latency)
    width: int = 96  # TCN channels
    kernel_size: int = 3  # TCN taps
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32)  # one residual block each (RF 127 frames = 0.635 s)
    n_bins: int = N_BINS  # salience bins (20 cents from C1)
    front_hidden: int = 0  # >0: a per-frame MLP branch (features -> hidden -> ReLU -> width) added to the projection


class PitchTCN(StreamingModel):
    """``audio [B, 1, N] -> salience [B, n_bins, N // hop], voicing [B, 1, N // hop]`` (probabilities).

    ``logits(audio, state)`` gives the pre-sigmoid ``[B, n_bins + 1, T]`` (salience bins then voicing)
    for training with ``BCEWithLogits``.
    """

    family = "pitch_tcn"

    def __init__(self, config: PitchTCNConfig = PitchTCNConfig()) -> None:
        super().__init__()
        self.config = config
        s = config.spectra
        self.sample_rate, self.channels, self.hop = s.sample_rate, 1, s.hop
        self.spectra = StreamingSpectra(s)
        self.proj = pointwise_conv(self.spectra.features, config.width)
        if config.front_hidden:
            self.front = pointwise_conv(self.spectra.features, config.front_hidden)
            self.front_out = pointwise_conv(config.front_hidden, config.width)
        self.tcn = StreamingSequential([(str(i), ResidualBlock(config.width, config.kernel_size, d))
                                        for i, d in enumerate(config.dilations)])
        self.head = pointwise_conv(config.width, config.n_bins + 1)
        self.latency_samples = self.spectra.latency_samples
        self.receptive_field_frames = 1 + (config.kernel_size - 1) * sum(config.dilations)
        freqs = tuple(f"{f:.4f}" for f in bin_frequencies_hz(config.n_bins))  # Hz; the decoder reads them
        self.outputs = (ModelOutput("salience", "probability", 1, (config.n_bins,), freqs),
                        ModelOutput("voicing", "probability", 1, (1,)))

    def initial_state(self, batch: int = 1) -> State:
        return {**with_prefix(self.spectra.initial_state(batch), "spectra"),
                **with_prefix(self.tcn.initial_state(batch), "tcn")}

    def logits(self, audio: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Pre-sigmoid outputs ``[B, n_bins + 1, T]`` (last row: voicing) and the new state."""
        state = self.fresh(audio, state)
        feats, s_spec = self.spectra(audio, sub_state(state, "spectra"))
        h, _ = self.proj(feats)
        if self.config.front_hidden:
            g, _ = self.front(feats)
            g, _ = self.front_out(torch.relu(g))
            h = h + g
        h, s_tcn = self.tcn(h, sub_state(state, "tcn"))
        out, _ = self.head(h)
        return out, {**with_prefix(s_spec, "spectra"), **with_prefix(s_tcn, "tcn")}

    def forward(self, audio: Tensor, state: State | None = None) -> tuple[Tensor, Tensor, State]:
        self.check_inputs(audio, state)
        out, new_state = self.logits(audio, state)
        probs = torch.sigmoid(out)
        n = self.config.n_bins
        return probs[:, :n], probs[:, n:], new_state

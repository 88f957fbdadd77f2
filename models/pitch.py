"""The pitch model (issues #6, #13): multi-resolution spectra -> causal dilated TCN -> salience + voicing.

``PitchTCN`` (family ``pitch_tcn``) maps mono 16 kHz audio to, per hop (v1: 80 samples = 5 ms;
v2, ``training/pitch/configs/pitch-v2.json``: 160 samples = 10 ms):

- ``salience [B, n_bins, frames]``: probability that the f0 lies in each 20-cent bin; bin i is
  centred at ``fmin_hz * 2 ** (i / 60)`` Hz. v1: 420 bins from C1 (32.70 Hz) to 4138 Hz; v2: 440
  bins from A0 (27.5 Hz) to 4372 Hz, so that B0 (a 5-string bass) and C8 (piano and piccolo tops)
  lie inside the grid with room for vibrato;
- ``voicing [B, 1, frames]``: probability that the described instant is voiced.

Time. Every window ends at the last sample of its hop (``e``); the output describes the instant
``e - latency_samples`` with ``latency_samples = short_window // 2`` (160 samples = 10 ms with the
defaults), i.e. the centre of the newest, shortest frame. Longer windows (v1: 1024 samples at
16 kHz; v2: 256 samples of copies decimated to 4 and 1 kHz, ``models.pitch_spectra``) end at the
same sample or before it and reach further into the past only, where looking is free: they add
frequency resolution for low notes, never lookahead. Training aligns its targets with that
instant::

    xx = [cache | chunk (N)]
                          short frame  |<-- short -->|          (centre = described instant)
                    long frame  |<-------- long -------->|
                                                         ^ e = end of hop k
    described instant = e - short // 2; nothing after e is read (causality is verified)

Features per frame: for each window, ``log(|rfft|^2 + floor)`` of the Hann-windowed frame up to
its ``max_hz``, minus the frame's mean over all kept bins (gain invariance), plus that mean / 10 as
one level feature. A 1x1 projection (plus, with ``front_hidden``, a per-frame MLP branch: the
nonlinear harmonic templates a linear map of the log spectrum cannot form), a dilated residual
TCN (``ResidualBlock``s) and a 1x1 head give n_bins salience logits and one voicing logit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .conv import CausalConv1d, pointwise_conv
from .pitch_spectra import BandConfig, SpectraConfig, StreamingSpectra
from .streaming import ModelOutput, State, StreamingModel, StreamingModule, StreamingSequential, sub_state, with_prefix

N_BINS = 420  # 7 octaves of 20 cents: C1 (32.70 Hz) ... 4138 Hz (B7 = 3951 Hz is bin 415)
BINS_PER_OCTAVE = 60
F_MIN_HZ = 32.70319566257483  # C1; bin i centre = F_MIN_HZ * 2 ** (i / 60)
A0_HZ = 27.5  # v2's lowest bin: the piano's lowest key (440 bins reach 4372 Hz, above C8)

__all__ = ["A0_HZ", "BandConfig", "F_MIN_HZ", "N_BINS", "PitchTCN", "PitchTCNConfig", "SpectraConfig",
           "StreamingSpectra", "bin_frequencies_hz"]


def bin_frequencies_hz(n_bins: int = N_BINS, fmin_hz: float = F_MIN_HZ) -> np.ndarray:
    """Centre frequency (Hz) of every salience bin, ``[n_bins]``: ``fmin_hz * 2 ** (i / 60)``."""
    return fmin_hz * 2.0 ** (np.arange(n_bins) / BINS_PER_OCTAVE)


class ResidualBlock(StreamingModule):
    """``x + proj(relu(causal_conv(relu(x))))`` (``proj=False``: ``x + causal_conv(relu(x))``);
    state ``conv.cache``.

    Like ``models.conv.TCNBlock`` with ReLU: GELU exports as five onnxruntime nodes, and at one
    hop per call every Conv node costs ~5 us of fixed overhead in onnxruntime, more than its
    arithmetic (v2 drops ``proj``: 5 Conv nodes fewer).
    """

    def __init__(self, channels: int, kernel_size: int, dilation: int, proj: bool = True) -> None:
        super().__init__()
        self.conv = CausalConv1d(channels, channels, kernel_size, dilation)
        self.proj = nn.Conv1d(channels, channels, 1) if proj else None
        self.latency_samples = 0

    def initial_state(self, batch: int = 1) -> State:
        return with_prefix(self.conv.initial_state(batch), "conv")

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        h, s = self.conv(torch.relu(x), sub_state(self.fresh(x, state), "conv"))
        return x + (self.proj(torch.relu(h)) if self.proj is not None else h), with_prefix(s, "conv")


@dataclass(frozen=True)
class PitchTCNConfig:
    spectra: SpectraConfig = SpectraConfig()  # frontend (sets sample rate, hop and latency)
    width: int = 96  # TCN channels
    kernel_size: int = 3  # TCN taps
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32)  # one residual block each (RF 127 frames = 0.635 s)
    n_bins: int = N_BINS  # salience bins (20 cents from fmin_hz)
    fmin_hz: float = F_MIN_HZ  # centre of bin 0 (v1: C1 = 32.70 Hz; v2: A0 = 27.5 Hz)
    front_hidden: int = 0  # >0: a per-frame MLP branch (features -> hidden -> ReLU -> width) added to the projection
    block_proj: bool = True  # each residual block ends with a 1x1 conv (v1); False: x + conv(relu(x)) (v2)


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
        self.tcn = StreamingSequential([(str(i), ResidualBlock(config.width, config.kernel_size, d, config.block_proj))
                                        for i, d in enumerate(config.dilations)])
        self.head = pointwise_conv(config.width, config.n_bins + 1)
        self.latency_samples = self.spectra.latency_samples
        self.receptive_field_frames = 1 + (config.kernel_size - 1) * sum(config.dilations)
        freqs = tuple(f"{f:.4f}" for f in bin_frequencies_hz(config.n_bins, config.fmin_hz))  # Hz; the decoder reads them
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

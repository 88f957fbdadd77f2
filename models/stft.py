"""Causal STFT analysis and overlap-add synthesis with fixed DFT bases (as convolutions).

Shared by the separator (``models.separator``) and the spectral codec (``models.spectral_codec``)::

    analysis:  frame j = sqrt(hann) * x[(j+1)H - W : (j+1)H]  ->  DFT  ->  [2K] (re, im), K = W/2 + 1
    synthesis: inverse DFT of each frame * synthesis window, overlap-added at hop H

The windows' product overlap-adds to 1 at ``H = W/2`` or ``W/4``: synthesis of an unchanged
analysis gives the input back ``W - H`` samples later (the samples every covering frame has seen).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from .frontend import _StreamingFramer


def stft_windows(n_fft: int, hop: int) -> tuple[Tensor, Tensor]:
    """(analysis, synthesis) windows ``[W]`` float64 whose product overlap-adds to 1 at ``hop``.

    Raises:
        ValueError: ``n_fft`` is not 2 or 4 hops.
    """
    if n_fft % hop or n_fft // hop not in (2, 4):
        raise ValueError(f"n_fft {n_fft} must be 2 or 4 hops of {hop}")
    hann = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
    analysis = hann.sqrt()
    return analysis, analysis * (2.0 * hop / n_fft)


class StreamingSTFT(_StreamingFramer):
    """Causal complex STFT, one frame per hop: ``[B, 1, N] -> [B, 2K, N // hop]`` (real parts of
    bins 0..K-1, then imaginary parts), ``K = W/2 + 1``, analysis window ``sqrt(hann)``.
    State ``cache [B, 1, W - hop]``."""

    def __init__(self, n_fft: int, hop: int) -> None:
        super().__init__(n_fft, hop, 1)
        analysis, _ = stft_windows(n_fft, hop)
        n = torch.arange(n_fft, dtype=torch.float64)[None]
        k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]
        phase = 2 * math.pi * ((k * n) % n_fft) / n_fft
        basis = torch.cat([torch.cos(phase), -torch.sin(phase)]) * analysis  # [2K, W]
        self.register_buffer("analysis_basis", basis.float()[:, None, :])
        self.latency_samples = 0  # the model declares its own (overlap-add) latency

    def analyse(self, xx: Tensor) -> Tensor:
        return torch.nn.functional.conv1d(xx, self.analysis_basis, stride=self.hop_size)


def synthesis_basis(n_fft: int, hop: int) -> Tensor:
    """``[2K, 1, W]`` float32: the real inverse DFT of (re, im) frames times the synthesis window,
    as the weight of ``conv_transpose1d`` at stride ``hop``."""
    _, synthesis = stft_windows(n_fft, hop)
    n_bins = n_fft // 2 + 1
    n = torch.arange(n_fft, dtype=torch.float64)[None]
    k = torch.arange(n_bins, dtype=torch.float64)[:, None]
    phase = 2 * math.pi * ((k * n) % n_fft) / n_fft
    weight = torch.full((n_bins, 1), 2.0, dtype=torch.float64)
    weight[0] = weight[-1] = 1.0  # DC and Nyquist appear once in the real inverse DFT
    inverse = torch.cat([weight * torch.cos(phase), -weight * torch.sin(phase)]) / n_fft * synthesis
    return inverse.float()[:, None, :]


def overlap_add(spec: Tensor, basis: Tensor, hop: int, tail: Tensor) -> tuple[Tensor, Tensor]:
    """Synthesise ``spec [B, 2K, T]`` (re, im frames) with ``basis`` (``synthesis_basis``).

    ``tail [B, 1, W - hop]`` is the overlap the previous call left. Returns ``(audio [B, 1,
    T * hop], new tail)``: sample ``p`` of the stream is complete once every frame covering it was
    given, so the audio lags the frames' input by ``W - hop`` samples.
    """
    frames = torch.nn.functional.conv_transpose1d(spec, basis, stride=hop)  # [B, 1, (T-1) hop + W]
    n, w = spec.shape[-1] * hop, tail.shape[-1]
    done = torch.cat([frames[:, :, :w] + tail, frames[:, :, w:]], dim=2)  # [B, 1, n + W - hop]
    return done[:, :, :n], done[:, :, n:]

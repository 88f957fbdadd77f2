"""Streaming spectral frontends: log-mel and (harmonic) CQT, ``center=False``, with a sample cache.

Each output frame k is computed from the ``window_samples`` ending at the last sample of hop k.
The frontend keeps the last ``window_samples - hop`` input samples as state::

        cache (window - hop)           chunk x (N = T * hop)
    |<-------- W - hop -------->|<---- hop ---->|<---- hop ---->| ...
    [----------- frame 0 (W) -------------------]
                    [----------- frame 1 (W) -------------------]
    next cache = the last W - hop samples of [cache, x]

A frame is described at its centre, so ``latency_samples = window_samples // 2``.

Two ways to compute the mel spectrum, equal to ~1e-6 (``LogMelConfig.method``):
``"rfft"`` frames with ``unfold`` and calls ``torch.fft.rfft`` (fastest; the dynamo exporter
only); ``"conv"`` is a strided ``conv1d`` with a windowed DFT basis (exports with both
exporters, which the LSTM family needs). The CQT uses nnAudio's kernels (librosa
normalisation) in one strided ``conv1d`` for all harmonics.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from nnAudio.utils import create_cqt_kernels, get_mel
from torch import Tensor

from .streaming import State, StreamingModule


@dataclass(frozen=True)
class LogMelConfig:
    sample_rate: int = 16000  # Hz
    n_fft: int = 512  # window and FFT length, samples (> hop_size)
    hop_size: int = 160  # samples between frames
    n_mels: int = 64  # mel bands
    f_min: float = 0.0  # Hz, lowest mel edge
    f_max: float | None = None  # Hz, highest mel edge (None: sample_rate / 2)
    log_floor: float = 1e-6  # added to the mel power before the log
    channels: int = 1  # audio channels; bands are stacked channel-major
    method: str = "rfft"  # "rfft" (dynamo export only) or "conv" (any exporter)


@dataclass(frozen=True)
class CQTConfig:
    sample_rate: int = 16000  # Hz
    hop_size: int = 160  # samples between frames
    f_min: float = 55.0  # Hz, lowest bin of the first harmonic
    n_bins: int = 48  # bins per harmonic
    bins_per_octave: int = 12
    harmonics: tuple[float, ...] = (1.0,)  # HCQT: f_min multipliers, e.g. (0.5, 1, 2, 3)
    log_floor: float = 1e-6  # added to the power before the log
    channels: int = 1


class _StreamingFramer(StreamingModule):
    """Shared cache arithmetic: ``analyse`` sees ``[B, C, W - hop + N]`` and returns frames."""

    def __init__(self, window_samples: int, hop_size: int, channels: int) -> None:
        super().__init__()
        if window_samples <= hop_size:
            raise ValueError(f"window {window_samples} must be longer than hop {hop_size}")
        self.window_samples = window_samples
        self.hop_size = hop_size
        self.channels = channels
        self.context_samples = window_samples - hop_size
        self.latency_samples = window_samples // 2

    def initial_state(self, batch: int = 1) -> State:
        return {"cache": torch.zeros(batch, self.channels, self.context_samples)}

    def analyse(self, xx: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Args: ``x [B, C, N]``, N a multiple of ``hop_size``.

        Returns: ``([B, C * features, N // hop_size], new_state)``.
        """
        state = self.fresh(x, state)
        xx = torch.cat([state["cache"], x], dim=2)  # [B, C, W - hop + N]
        return self.analyse(xx), {"cache": xx[:, :, x.shape[2]:]}


class StreamingLogMel(_StreamingFramer):
    """Log-mel spectrogram, one frame per hop: ``[B, C, N] -> [B, C * n_mels, N // hop]``.

    Values are ``log(mel power + log_floor)`` with a periodic Hann window, slaney mel filters
    (nnAudio/librosa ``get_mel``). State ``cache [B, C, n_fft - hop]``.
    """

    def __init__(self, config: LogMelConfig) -> None:
        super().__init__(config.n_fft, config.hop_size, config.channels)
        if config.method not in ("rfft", "conv"):
            raise ValueError(f"LogMelConfig.method must be 'rfft' or 'conv', got {config.method!r}")
        self.config = config
        fb = get_mel(config.sample_rate, config.n_fft, config.n_mels, config.f_min, config.f_max)
        self.register_buffer("mel_fb", torch.from_numpy(np.ascontiguousarray(fb.T)))  # [K, n_mels]
        window = torch.hann_window(config.n_fft, periodic=True)
        self.register_buffer("window", window)
        n_freq = config.n_fft // 2 + 1
        if config.method == "conv":
            t = torch.arange(config.n_fft, dtype=torch.float64)[None]
            k = torch.arange(n_freq, dtype=torch.float64)[:, None]
            phase = 2 * math.pi * k * t / config.n_fft
            basis = torch.cat([torch.cos(phase), -torch.sin(phase)]) * window.double()  # [2K, W]
            self.register_buffer("dft_basis", basis.float()[:, None, :])
        self.n_freq = n_freq

    def analyse(self, xx: Tensor) -> Tensor:
        b, c, _ = xx.shape
        if self.config.method == "rfft":
            frames = xx.unfold(2, self.window_samples, self.hop_size)  # [B, C, T, W]
            spec = torch.fft.rfft(frames * self.window, dim=-1)  # [B, C, T, K]
            power = spec.real.square() + spec.imag.square()
        else:
            z = torch.nn.functional.conv1d(xx.reshape(b * c, 1, -1), self.dft_basis, stride=self.hop_size)
            power = (z[:, :self.n_freq].square() + z[:, self.n_freq:].square()).transpose(1, 2)  # [BC, T, K]
            power = power.reshape(b, c, -1, self.n_freq)
        mel = torch.log(power @ self.mel_fb + self.config.log_floor)  # [B, C, T, n_mels]
        return mel.transpose(2, 3).reshape(b, c * self.config.n_mels, -1)


def _cqt_kernels(config: CQTConfig) -> tuple[Tensor, int]:
    """Real/imag CQT kernels of every harmonic, centred in one common width.

    Returns: ``(weights [2 * H * n_bins, 1, width], width)``; rows are real parts of all
    (harmonic, bin) then imaginary parts, scaled by sqrt(length) (librosa normalisation).
    """
    q = 1.0 / (2 ** (1 / config.bins_per_octave) - 1)
    per_harmonic = []
    for h in config.harmonics:
        kern, width, lengths, _ = create_cqt_kernels(
            q, config.sample_rate, config.f_min * h, config.n_bins, config.bins_per_octave,
            1, "hann", None, True, 0, True)
        per_harmonic.append((torch.from_numpy(kern) * torch.sqrt(lengths)[:, None].to(torch.complex64), width))
    width = max(w for _, w in per_harmonic)
    rows = []
    for kern, w in per_harmonic:
        left = (width - w) // 2
        rows.append(torch.nn.functional.pad(kern, (left, width - w - left)))
    kern = torch.cat(rows)  # [H * n_bins, width] complex
    weights = torch.cat([kern.real, -kern.imag])[:, None, :].float().contiguous()
    return weights, width


class StreamingCQT(_StreamingFramer):
    """Log-power (harmonic) CQT, one frame per hop: ``[B, C, N] -> [B, C * H * n_bins, N // hop]``.

    Rows are ordered (channel, harmonic, bin). All harmonics share one kernel width
    ``window_samples`` (the widest, i.e. the lowest frequency's), hence one cache
    ``[B, C, window_samples - hop]`` and ``latency_samples = window_samples // 2``.
    """

    def __init__(self, config: CQTConfig) -> None:
        weights, width = _cqt_kernels(config)
        super().__init__(width, config.hop_size, config.channels)
        self.config = config
        self.n_rows = len(config.harmonics) * config.n_bins
        self.register_buffer("cqt_kernels", weights)

    def analyse(self, xx: Tensor) -> Tensor:
        b, c, _ = xx.shape
        z = torch.nn.functional.conv1d(xx.reshape(b * c, 1, -1), self.cqt_kernels, stride=self.hop_size)
        power = z[:, :self.n_rows].square() + z[:, self.n_rows:].square()  # [BC, H*bins, T]
        return torch.log(power + self.config.log_floor).reshape(b, c * self.n_rows, -1)

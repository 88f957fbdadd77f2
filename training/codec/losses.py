"""The codec's training loss: the issue's mel distance made differentiable, at more sizes.

``MultiScaleMelLoss`` is ``training.codec.metrics.mel_distance`` in torch (same filters, window,
centring, floor), averaged over ``n_ffts``: the three sizes of the metric plus shorter ones that
see transients the metric's windows smear (their mel band counts shrink with the window so no
band is empty).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .metrics import MEL_FLOOR, N_MELS, mel_filters


def mel_bands_for(n_fft: int) -> int:
    """80 bands from 512 samples up, fewer for shorter windows (about one band per 3 bins)."""
    return min(N_MELS, max(8, (n_fft // 2 + 1) // 3))


class MultiScaleMelLoss(nn.Module):
    """``forward(reference, estimate)``, both ``[B, n]`` at ``sample_rate`` -> the mean over sizes
    of the L1 mean of ``log10(max(mel, 1e-5))`` differences (a scalar)."""

    def __init__(self, sample_rate: int, n_ffts: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048)) -> None:
        super().__init__()
        self.n_ffts = n_ffts
        for n in n_ffts:
            self.register_buffer(f"mel_{n}", torch.from_numpy(mel_filters(sample_rate, n, mel_bands_for(n))).float())
            self.register_buffer(f"window_{n}", torch.hann_window(n, periodic=True))

    def log_mel(self, x: Tensor, n_fft: int) -> Tensor:
        spec = torch.stft(x, n_fft, hop_length=n_fft // 4, window=getattr(self, f"window_{n_fft}"), center=True,
                          pad_mode="constant", return_complex=True)
        magnitude = (spec.real.square() + spec.imag.square() + 1e-12).sqrt()  # finite gradient at 0
        return torch.log10(torch.clamp(getattr(self, f"mel_{n_fft}") @ magnitude, min=MEL_FLOOR))

    def forward(self, reference: Tensor, estimate: Tensor) -> Tensor:
        return torch.stack([(self.log_mel(reference, n) - self.log_mel(estimate, n)).abs().mean()
                            for n in self.n_ffts]).mean()

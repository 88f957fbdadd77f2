"""Oracle masks at a model's STFT: the ceiling of a mask separator at that latency (no torch).

The same causal analysis and synthesis as ``models.separator`` (sqrt-Hann, frames ending at each
hop's last sample, output ``W - H`` samples late), in numpy, with masks computed from the true
stems: ``wiener`` ``|S_i|^2 / sum_j |S_j|^2`` and ``irm`` (ideal ratio) ``|S_i| / sum_j |S_j|``.
"""
from __future__ import annotations

import numpy as np

KINDS = ("wiener", "irm")


def _windows(n_fft: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    return np.sqrt(hann), np.sqrt(hann) * (2.0 * hop / n_fft)


def stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Causal STFT ``[..., frames, K]`` complex of ``x [..., n]`` (``n`` a multiple of ``hop``):
    frame k is the ``n_fft`` samples ending at sample ``(k + 1) * hop - 1`` (zeros before 0)."""
    a, _ = _windows(n_fft, hop)
    pad = np.concatenate([np.zeros(x.shape[:-1] + (n_fft - hop,)), x], axis=-1)
    frames = np.lib.stride_tricks.sliding_window_view(pad, n_fft, axis=-1)[..., ::hop, :]
    return np.fft.rfft(frames * a, axis=-1)


def istft(spec: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Overlap-add of ``spec [..., frames, K]``: ``[..., frames * hop]``, sample ``p`` the estimate
    of input sample ``p - (n_fft - hop)``."""
    _, s = _windows(n_fft, hop)
    frames = np.fft.irfft(spec, n=n_fft, axis=-1) * s
    t = frames.shape[-2]
    out = np.zeros(frames.shape[:-2] + ((t - 1) * hop + n_fft,))
    for k in range(t):
        out[..., k * hop:k * hop + n_fft] += frames[..., k, :]
    return out[..., :t * hop]


def oracle_stems(stems: np.ndarray, n_fft: int, hop: int, kind: str = "wiener") -> np.ndarray:
    """Oracle-mask estimates ``[S, n]`` of ``stems [S, n]`` from their sum, aligned with the input
    (the ``n_fft - hop`` latency taken out; the last samples are zero)."""
    if kind not in KINDS:
        raise ValueError(f"oracle kind must be one of {KINDS}, got {kind!r}")
    d = n_fft - hop
    n = stems.shape[-1]
    total = -(-(n + d) // hop) * hop
    padded = np.zeros((stems.shape[0], total))
    padded[:, :n] = stems
    specs = stft(padded, n_fft, hop)  # [S, T, K]
    mag = np.abs(specs) ** (2 if kind == "wiener" else 1)
    masks = mag / np.maximum(mag.sum(axis=0, keepdims=True), 1e-12)
    y = istft(masks * specs.sum(axis=0, keepdims=True), n_fft, hop)
    return y[:, d:d + n].astype(np.float32)

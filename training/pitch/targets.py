"""Labels at 100 frames/s -> targets for each model output, at the instant that output describes.

Output frame k of a crop starting at sample ``s0`` (16 kHz) is completed at sample
``e = s0 + (k + 1) * hop`` and describes ``e - latency_samples``. With ``s0`` on the label grid
(a multiple of ``sample_rate / 100``), hop 80 and latency 160 that instant is ``j / 200`` s with
``j = s0 / 80 + k - 1``: every other frame falls on a label frame (``j / 2``), the others halfway
between two. Between two voiced labels the f0 is interpolated linearly in log-frequency; a frame
next to an unvoiced label is unvoiced (onsets and offsets stay on the label grid, never smeared
into a glide from or to 0 Hz). Instants before the clip starts are unvoiced.
"""
from __future__ import annotations

import numpy as np

LABEL_RATE = 100  # label frames per second (training.synth.labels.FRAME_RATE)


def f0_at_instants(f0: np.ndarray, instants_s: np.ndarray) -> np.ndarray:
    """f0 (Hz, 0 = unvoiced) of 100-frames/s labels at arbitrary instants.

    Args:
        f0: ``[n_labels]`` Hz, label k at k / 100 s.
        instants_s: ``[T]`` seconds.

    Returns:
        ``[T]`` float32 Hz: log-linear interpolation between the two neighbouring labels when
        both are voiced, else 0 (exactly the label when the instant falls on one).
    """
    pos = np.asarray(instants_s, np.float64) * LABEL_RATE
    lo = np.floor(pos + 1e-9).astype(np.int64)
    frac = np.clip(pos - lo, 0.0, 1.0)
    on_grid = frac < 1e-6
    hi = np.where(on_grid, lo, lo + 1)
    inside = (lo >= 0) & (hi < len(f0))
    lo_c, hi_c = np.clip(lo, 0, len(f0) - 1), np.clip(hi, 0, len(f0) - 1)
    a, b = f0[lo_c].astype(np.float64), f0[hi_c].astype(np.float64)
    voiced = inside & (a > 0) & (b > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(voiced, np.exp((1 - frac) * np.log(np.maximum(a, 1e-9)) + frac * np.log(np.maximum(b, 1e-9))), 0.0)
    return out.astype(np.float32)


def output_instants(start_sample: int, frames: int, hop: int, latency_samples: int, sample_rate: int) -> np.ndarray:
    """Seconds (from the clip start) described by output frames 0..frames-1 of a crop at ``start_sample``."""
    ends = start_sample + hop * np.arange(1, frames + 1)
    return (ends - latency_samples) / sample_rate


def salience_targets(f0_hz: np.ndarray, bin_cents: np.ndarray, blur_cents: float) -> np.ndarray:
    """Gaussian-blurred bin targets ``[n_bins, T]`` float32 (all zero where f0 is 0).

    Args:
        f0_hz: ``[T]`` Hz, 0 = unvoiced.
        bin_cents: ``[n_bins]`` bin centres in cents above 10 Hz.
        blur_cents: the Gaussian's standard deviation.
    """
    voiced = f0_hz > 0
    cents = 1200.0 * np.log2(np.where(voiced, f0_hz, 10.0) / 10.0)
    t = np.exp(-0.5 * ((bin_cents[:, None] - cents[None, :]) / blur_cents) ** 2)
    return np.where(voiced[None, :], t, 0.0).astype(np.float32)

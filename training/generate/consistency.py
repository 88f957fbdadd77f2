"""Musical consistency of a continuation: key, tempo, instrument families and loudness of a clip.

Each feature is measured on mono audio the same way for a generated continuation, the true one
and another piece's, so "closer to the true continuation than to the other" is a like-for-like
comparison (``closer``):

* **key**: the clip's mean chroma (STFT 4096 / hop 1024, bins of 55 Hz .. 4 kHz summed into their
  pitch class, magnitude); similarity = Pearson correlation of the two 12-vectors.
* **tempo**: the onset envelope (positive log-magnitude spectral flux, 100 frames/s) and the peak
  of its autocorrelation between 0.25 and 1.5 s (240 .. 40 BPM); distance = ``|log2|`` of the two
  tempi's ratio, folded so that a factor of 2 (double/half time) counts as the same tempo.
* **families**: the shipped tagger's mean probability per family over the clip; distance = L1.
* **loudness**: RMS in dBFS; distance = ``|difference|`` in dB.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CHROMA_FFT, CHROMA_HOP = 4096, 1024
FLUX_FPS = 100
TEMPO_LAGS_S = (0.25, 1.5)


def _stft_mag(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """``|STFT| [frames, n_fft // 2 + 1]`` with a Hann window (the clip zero-padded to one window)."""
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    frames = 1 + (len(x) - n_fft) // hop
    idx = np.arange(n_fft)[None] + hop * np.arange(frames)[:, None]
    return np.abs(np.fft.rfft(x[idx] * np.hanning(n_fft)[None], axis=1))


def chroma(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mean chroma ``[12]`` (pitch class 0 = C) of mono ``x``."""
    mag = _stft_mag(x, CHROMA_FFT, CHROMA_HOP).mean(0)
    freqs = np.fft.rfftfreq(CHROMA_FFT, 1 / sample_rate)
    band = (freqs >= 55) & (freqs <= 4000)
    pc = np.round(12 * np.log2(freqs[band] / 440.0)).astype(int) % 12
    pc = (pc + 9) % 12  # A = 9
    return np.bincount(pc, weights=mag[band], minlength=12)


def tempo_bpm(x: np.ndarray, sample_rate: int) -> float:
    """The onset envelope's autocorrelation peak as beats per minute (0 for a silent clip)."""
    hop = sample_rate // FLUX_FPS
    mag = np.log1p(100 * _stft_mag(x, 2 * hop * 2, hop))
    flux = np.maximum(np.diff(mag, axis=0), 0).sum(1)
    flux = flux - flux.mean()
    if not np.any(flux):
        return 0.0
    ac = np.correlate(flux, flux, "full")[len(flux) - 1:]
    lo, hi = int(TEMPO_LAGS_S[0] * FLUX_FPS), min(int(TEMPO_LAGS_S[1] * FLUX_FPS), len(ac) - 1)
    lag = lo + int(np.argmax(ac[lo:hi + 1]))
    return 60.0 * FLUX_FPS / lag


def rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-12))


@dataclass(frozen=True)
class Features:
    chroma: np.ndarray
    bpm: float
    families: np.ndarray
    loudness_db: float


def features(x: np.ndarray, sample_rate: int, tagger: Callable[[np.ndarray, int], np.ndarray]) -> Features:
    """All four of mono ``x``; ``tagger(x, rate) -> [families]`` mean probabilities."""
    return Features(chroma(x, sample_rate), tempo_bpm(x, sample_rate), tagger(x, sample_rate), rms_db(x))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    d = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / d if d > 0 else 0.0


def _tempo_distance(a: float, b: float) -> float:
    if a <= 0 or b <= 0:
        return float("inf") if a != b else 0.0
    r = abs(np.log2(a / b)) % 1.0
    return float(min(r, 1.0 - r))


def distances(g: Features, ref: Features) -> dict[str, float]:
    """Per feature, how far ``g`` is from ``ref`` (key: ``1 - correlation``; lower is closer)."""
    return {"key": 1.0 - _corr(g.chroma, ref.chroma), "tempo": _tempo_distance(g.bpm, ref.bpm),
            "families": float(np.abs(g.families - ref.families).sum()),
            "loudness": abs(g.loudness_db - ref.loudness_db)}


def closer(g: Features, true: Features, other: Features) -> dict[str, float]:
    """Per feature: 1 if ``g`` is closer to ``true`` than to ``other``, 0.5 on a tie, else 0."""
    dt, do = distances(g, true), distances(g, other)
    return {k: 1.0 if dt[k] < do[k] else 0.5 if dt[k] == do[k] else 0.0 for k in dt}

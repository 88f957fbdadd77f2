"""A short synthetic piece for the notes tests: a chord struck twice, a bass note, clicks."""
from __future__ import annotations

import numpy as np


def music(seconds: float = 4.0, sr: int = 16000) -> np.ndarray:
    """``[seconds * sr]`` float32: a C major chord of harmonic tones (0.5–1.5 s), C4 again
    (2–3 s), E2 (1–3.5 s), all decaying, and a click every 0.5 s."""
    t = np.arange(int(seconds * sr)) / sr
    x = np.zeros_like(t)
    for f0, start, stop in ((261.6, 0.5, 1.5), (329.6, 0.5, 1.5), (392.0, 0.5, 1.5), (261.6, 2.0, 3.0), (82.4, 1.0, 3.5)):
        on = (t >= start) & (t < stop)
        env = np.exp(-3.0 * np.clip(t - start, 0, None)) * on
        x += 0.15 * env * sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6))
    x[(np.arange(len(t)) % (sr // 2)) == sr // 4] += 0.8
    return x.astype(np.float32)

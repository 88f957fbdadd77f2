"""What the validator feeds: host block sequences and test signals (all seeded, all float32).

    random_blocks   sizes 1…8192 changing every push (tiny runs and the largest block included)
    programme       a glide, a gap, a noise burst, a chord, a noise floor: voiced, unvoiced, silent
    harmonic_step   silence, then a tone (the latency check's step)
"""
from __future__ import annotations

import math

import numpy as np


# -- block sequences --------------------------------------------------------------------------
def random_blocks(total: int, rng: np.random.Generator, max_block: int) -> list[int]:
    """Host block sizes covering ``total`` samples, changing from push to push.

    Sizes are log-uniform in 1…``max_block``; one push in ten is tiny (1…4 samples) and one in
    ten the largest block, so every sequence of a few seconds holds both extremes. The last block is cut to fit.
    """
    sizes: list[int] = []
    left = total
    while left > 0:
        r = rng.random()
        if r < 0.1:
            n = int(rng.integers(1, 5))
        elif r < 0.2:
            n = max_block
        else:
            n = int(np.exp(rng.uniform(0.0, math.log(max_block))))
        n = max(1, min(n, left))
        sizes.append(n)
        left -= n
    return sizes


def fixed_blocks(total: int, block: int) -> list[int]:
    """``block``-sized pushes covering ``total`` samples (the last one shorter)."""
    return [block] * (total // block) + ([total % block] if total % block else [])


def programme(rate: int, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """The test programme, ``[1, N]`` float32, peak about -6 dBFS.

    ``0…45 %``: a 3-partial tone gliding 110 → 880 Hz with 5 Hz vibrato; ``45…50 %``: silence;
    ``50…60 %``: a noise burst at -20 dB; ``65…95 %``: a two-note chord (220 + 277 Hz); a -60 dB
    noise floor throughout; the start phase and the noise come from ``rng``.
    """
    n = max(1, int(round(rate * seconds)))
    t = np.arange(n) / rate
    frac = t / seconds
    f0 = 110.0 * 2.0 ** (3.0 * np.clip(frac / 0.45, 0, 1)) * 2.0 ** (0.2 / 12 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate + rng.uniform(0, 2 * np.pi)
    glide = sum(np.sin(k * phase) / k for k in (1, 2, 3)) * 0.3 * (frac < 0.45)
    noise = rng.uniform(-0.1, 0.1, n) * ((frac >= 0.5) & (frac < 0.6))
    chord = (np.sin(2 * np.pi * 220 * t) + np.sin(2 * np.pi * 277.18 * t)) * 0.2 * ((frac >= 0.65) & (frac < 0.95))
    floor = rng.uniform(-1e-3, 1e-3, n)
    return (glide + noise + chord + floor).astype(np.float32)[None]


def harmonic_step(rate: int, onset_s: float, length_s: float, f0_hz: float) -> np.ndarray:
    """``[1, N]``: silence, then from ``onset_s`` a 3-partial tone at ``f0_hz`` (-10 dBFS)."""
    t = np.arange(int(round(rate * length_s))) / rate
    tone = sum(np.sin(2 * np.pi * f0_hz * k * (t - onset_s)) / k for k in (1, 2, 3)) * 0.3
    return np.where(t >= onset_s, tone, 0.0).astype(np.float32)[None]


def on_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """The mono signal ``x [1, N]`` on ``channels`` identical channels."""
    return np.ascontiguousarray(np.repeat(x, channels, axis=0))

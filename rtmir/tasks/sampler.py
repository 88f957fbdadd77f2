"""Sampling codes from the token LM's logits: temperature, top-k, top-p, and a counter-based RNG.

The random numbers are a pure function of ``(seed, step, stage)`` (SplitMix64 of the three), so
the generator's whole random state is its seed and its step counter: a seed reproduces a take
exactly, at any block size, after any pause, and a stream can be replayed from any step without
replaying the draws before it.

Per stage, the logits over the ``V`` codes are divided by the temperature; top-k keeps the ``k``
most likely (0: all), top-p the smallest set of most likely codes whose probability reaches ``p``
(1: all); one uniform draw picks a code by the inverse of the kept codes' cumulative probability.
A temperature of 0 picks the most likely code (no draw). Ties are broken by the lower code.
"""
from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (uint64 in, uint64 out, wrapping)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def uniforms(seed: int, step: int, n: int) -> np.ndarray:
    """``n`` uniform draws in ``[0, 1)`` (float64) for step ``step`` of seed ``seed`` (draw ``i`` is
    the same whatever ``n``)."""
    with np.errstate(over="ignore"):
        base = _mix(np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * _GOLDEN + np.uint64(step & 0xFFFFFFFFFFFFFFFF))
        z = _mix(base + _GOLDEN * (np.arange(n, dtype=np.uint64) + np.uint64(1)))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def sample(logits: np.ndarray, temperature: float, top_k: int, top_p: float, seed: int, step: int) -> np.ndarray:
    """One code per stage ``[Q]`` int64 from ``logits [Q, V]`` (see the module docstring)."""
    q, v = logits.shape
    if temperature <= 0.0:
        return np.argmax(logits, axis=1).astype(np.int64)
    z = logits.astype(np.float64) / temperature
    order = np.argsort(-z, axis=1, kind="stable")  # most likely first; ties: lower code first
    zs = np.take_along_axis(z, order, axis=1)
    p = np.exp(zs - zs[:, :1])
    if 0 < top_k < v:
        p[:, top_k:] = 0.0
    if top_p < 1.0:
        c = np.cumsum(p, axis=1)
        p[(c - p) >= top_p * c[:, -1:]] = 0.0  # keep while the mass before a code is < p
    c = np.cumsum(p, axis=1)
    u = uniforms(seed, step, q) * c[:, -1]
    idx = np.minimum((c <= u[:, None]).sum(axis=1), v - 1)
    return order[np.arange(q), idx].astype(np.int64)

"""Separation figures: SI-SDR and its improvement over the mix (no torch)."""
from __future__ import annotations

import numpy as np

SILENT_DB = -40.0
"""A stem is scored on a clip only if its energy is within this many dB of the mix's."""


def si_sdr(estimate: np.ndarray, reference: np.ndarray, eps: float = 1e-12) -> float:
    """Scale-invariant SDR (dB) of ``estimate`` against ``reference`` (``[n]`` each; means removed)."""
    e = np.asarray(estimate, np.float64) - np.mean(estimate)
    r = np.asarray(reference, np.float64) - np.mean(reference)
    target = (np.dot(e, r) / (np.dot(r, r) + eps)) * r
    return float(10 * np.log10((np.dot(target, target) + eps) / (np.dot(e - target, e - target) + eps)))


def active(reference: np.ndarray, mix: np.ndarray, floor_db: float = SILENT_DB) -> bool:
    """Whether ``reference`` holds enough energy against ``mix`` to be scored."""
    ref, tot = float(np.sum(np.square(reference, dtype=np.float64))), float(np.sum(np.square(mix, dtype=np.float64)))
    return ref > 0 and tot > 0 and 10 * np.log10(ref / tot) > floor_db


def improvements(estimates: np.ndarray, references: np.ndarray, mix: np.ndarray, stems: tuple[str, ...]) -> dict:
    """``{stem: SI-SDRi dB or None}`` for one clip: ``estimates``/``references [S, n]`` aligned
    with ``mix [n]``; a stem that is silent in the clip (``active``) gets None."""
    out = {}
    for i, name in enumerate(stems):
        ref = references[i]
        out[name] = (si_sdr(estimates[i], ref) - si_sdr(mix, ref)) if active(ref, mix) else None
    return out


def summarise(per_clip: list[dict], stems: tuple[str, ...]) -> dict:
    """Mean SI-SDRi per stem over the clips that score it, the mean over stems, clip counts."""
    out = {}
    for name in stems:
        vals = [c[name] for c in per_clip if c.get(name) is not None]
        out[name] = float(np.mean(vals)) if vals else float("nan")
        out[f"n_{name}"] = len(vals)
    out["mean"] = float(np.nanmean([out[name] for name in stems]))
    return out

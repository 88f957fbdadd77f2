"""Tagging figures (no torch): ROC-AUC and average precision per family, macro means.

Both are computed exactly from the scores' ranks (ties share their mean rank), as scikit-learn's
``roc_auc_score`` and ``average_precision_score`` do; a family with no positive or no negative
frame has no figure (NaN) and is left out of the macro mean.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def _finite(score: np.ndarray) -> np.ndarray:
    s = np.asarray(score, np.float64).ravel()
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite (a NaN or inf would be ranked arbitrarily)")
    return s


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` for binary ``y`` (1-D); NaN without both classes.

    Raises:
        ValueError: a score is not finite.
    """
    score = _finite(score)
    y = np.asarray(y).astype(bool).ravel()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """Average precision (area under precision-recall, step-wise, ties as one threshold); NaN
    without a positive.

    Raises:
        ValueError: a score is not finite.
    """
    s = _finite(score)
    y = np.asarray(y).astype(bool).ravel()
    n_pos = int(y.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last index of each distinct score
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1)
    recall_step = np.diff(np.r_[0, tp]) / n_pos
    return float((precision * recall_step).sum())


def per_family(labels: np.ndarray, scores: np.ndarray, names: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """``{family: {"auc", "ap", "positives"}}`` over frames pooled from ``labels``/``scores``
    ``[n_tags, frames]`` (0/1 and probabilities)."""
    return {name: {"auc": roc_auc(labels[i], scores[i]), "ap": average_precision(labels[i], scores[i]),
                   "positives": float(labels[i].mean())} for i, name in enumerate(names)}


def macro(figures: dict[str, dict[str, float]], key: str) -> float:
    """Mean of ``key`` over the families that have it (NaN when none does)."""
    values = [f[key] for f in figures.values() if np.isfinite(f[key])]
    return float(np.mean(values)) if values else float("nan")


def segments(x: np.ndarray, frames_per_segment: int, how: str) -> np.ndarray:
    """``[n_tags, frames]`` -> ``[n_tags, n_segments]``: the max (labels: present at some point)
    or the mean (scores) over whole segments; the last partial segment is dropped."""
    n = x.shape[-1] // frames_per_segment
    blocks = x[..., : n * frames_per_segment].reshape(*x.shape[:-1], n, frames_per_segment)
    return blocks.max(axis=-1) if how == "max" else blocks.mean(axis=-1)

"""What a live tagger is judged on, beyond ROC-AUC: how fast it reacts and how often it cries wolf.

All on the 100 frames/s label grid (``labels [n_tags, frames]`` 0/1, ``probs`` the same shape,
each method's estimate resampled causally onto the grid: ``on_grid``).

- **Entries and exits**: a family enters at frame k when it sounds from k on for at least
  ``MIN_RUN_S`` after being silent for at least ``MIN_GAP_S`` (a part coming in, not the next
  note of a part already playing); it exits symmetrically.
- **Reaction time**: from an entry to the first frame its probability is >= ``threshold``
  (searched up to ``MAX_REACTION_S``; later counts as missed). **Release time**: from an exit
  to the first frame below ``threshold``.
- **False alarms per minute on solo parts**: over the frames where exactly one family sounds,
  the number of times an absent family's probability rises to ``threshold`` or above there,
  per minute of such frames.
"""
from __future__ import annotations

import numpy as np

RATE = 100  # label frames per second
MIN_RUN_S = 0.5
MIN_GAP_S = 0.5
MAX_REACTION_S = 2.0


def on_grid(times_s: np.ndarray, values: np.ndarray, n_frames: int) -> np.ndarray:
    """Estimates ``values [n_tags, T]`` at ``times_s [T]`` (ascending) -> ``[n_tags, n_frames]`` on
    the label grid: frame k takes the latest estimate at or before k / RATE (causal; 0 before the
    first)."""
    k = np.searchsorted(np.asarray(times_s) - 1e-9, np.arange(n_frames) / RATE, side="right") - 1
    out = np.zeros((values.shape[0], n_frames))
    ok = k >= 0
    out[:, ok] = values[:, k[ok]]
    return out


def _runs(x: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` of every run of True in ``x``."""
    d = np.diff(np.r_[0, x.astype(np.int8), 0])
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def transitions(active: np.ndarray) -> tuple[list[int], list[int]]:
    """Entry and exit frames of one family's ``active [frames]`` (module docstring): a run of at
    least ``MIN_RUN_S`` with no activity at all (not even a short burst) for ``MIN_GAP_S`` before
    it (entry) or after it (exit), within the clip."""
    run, gap = int(MIN_RUN_S * RATE), int(MIN_GAP_S * RATE)
    runs = _runs(active > 0)
    entries, exits = [], []
    for i, (a, b) in enumerate(runs):
        if b - a < run:
            continue
        silent_before = runs[i - 1][1] if i else 0
        if a - silent_before >= gap:
            entries.append(a)
        silent_until = runs[i + 1][0] if i + 1 < len(runs) else len(active)
        if silent_until - b >= gap:
            exits.append(b)
    return entries, exits


def reaction_times(labels: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> dict[str, list[float]]:
    """Seconds from every entry to ``probs >= threshold`` (``reaction``) and from every exit to
    ``probs < threshold`` (``release``); NaN when not reached within ``MAX_REACTION_S``.
    Transitions closer than ``MAX_REACTION_S`` to the clip's end are not scored."""
    horizon = int(MAX_REACTION_S * RATE)
    out = {"reaction": [], "release": []}
    for lab, p in zip(labels, probs):
        entries, exits = (([k for k in ks if k + horizon <= len(lab)]) for ks in transitions(lab))
        for k in entries:
            hit = np.flatnonzero(p[k:k + horizon] >= threshold)
            out["reaction"].append(hit[0] / RATE if len(hit) else float("nan"))
        for k in exits:
            hit = np.flatnonzero(p[k:k + horizon] < threshold)
            out["release"].append(hit[0] / RATE if len(hit) else float("nan"))
    return out


def solo_false_alarms(labels: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> tuple[int, float]:
    """(false alarms, minutes of solo frames): frames where exactly one family sounds and an
    absent family's probability rises to ``threshold`` (it was below it the frame before; a
    probability still above it from when its family played is release, not an alarm)."""
    solo = labels.sum(axis=0) == 1
    above = probs >= threshold
    rises = above & ~np.pad(above, ((0, 0), (1, 0)))[:, :-1]
    return int((rises & (labels == 0) & solo[None, :]).sum()), float(solo.sum()) / RATE / 60.0


def summary(values: list[float]) -> dict[str, float]:
    """Median and p90 of the reached values, and the share never reached (NaN)."""
    x = np.asarray(values, np.float64)
    reached = x[np.isfinite(x)]
    if not len(x):
        return {"count": 0}
    return {"count": int(len(x)), "median_s": float(np.median(reached)) if len(reached) else float("nan"),
            "p90_s": float(np.percentile(reached, 90)) if len(reached) else float("nan"),
            "missed": float(1.0 - len(reached) / len(x))}

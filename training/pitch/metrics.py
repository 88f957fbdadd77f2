"""A small numpy scorer for melody/f0 tracking (mir_eval's definitions, 50-cent tolerance).

Frames are scored where a reference label exists. Estimates give an f0 (Hz, > 0 whenever the
model has one, also on frames it calls unvoiced) and a voicing decision per frame:

- raw pitch accuracy (RPA): reference-voiced frames whose estimated f0 is within 50 cents;
- raw chroma accuracy (RCA): the same, octave errors forgiven;
- overall accuracy (OA): frames where voicing is right and, if voiced, the pitch is too;
- voicing recall (VR) and voicing false alarm (VFA).
"""
from __future__ import annotations

import numpy as np


def within_cents(ref_hz: np.ndarray, est_hz: np.ndarray, tolerance_cents: float = 50.0) -> np.ndarray:
    """``[T]`` bool: the reference is voiced, the estimate has a pitch, and the two lie within
    ``tolerance_cents`` (the frame verdict behind raw pitch accuracy)."""
    ref_hz, est_hz = np.asarray(ref_hz, np.float64), np.asarray(est_hz, np.float64)
    both = (ref_hz > 0) & (est_hz > 0)
    cents = np.full(len(ref_hz), np.inf)
    cents[both] = np.abs(1200.0 * np.log2(est_hz[both] / ref_hz[both]))
    return cents <= tolerance_cents


def score_frames(ref_hz: np.ndarray, est_hz: np.ndarray, est_voiced: np.ndarray, tolerance_cents: float = 50.0
                 ) -> dict[str, float]:
    """Score aligned frames (all ``[T]``; ``ref_hz`` 0 = unvoiced).

    Returns:
        ``{"rpa", "rca", "oa", "vr", "vfa", "frames", "voiced_frames"}`` (NaN where undefined).
    """
    ref_hz, est_hz = np.asarray(ref_hz, np.float64), np.asarray(est_hz, np.float64)
    est_voiced = np.asarray(est_voiced, bool)
    ref_v = ref_hz > 0
    has_est = est_hz > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = 1200.0 * np.abs(np.log2(np.where(has_est & ref_v, est_hz, 1.0) / np.where(ref_v, ref_hz, 1.0)))
    pitch_ok = ref_v & has_est & (diff <= tolerance_cents)
    chroma = np.abs(diff - 1200.0 * np.round(diff / 1200.0))
    chroma_ok = ref_v & has_est & (chroma <= tolerance_cents)
    n_v, n_u = int(ref_v.sum()), int((~ref_v).sum())
    nan = float("nan")
    return {
        "rpa": float(pitch_ok.sum() / n_v) if n_v else nan,
        "rca": float(chroma_ok.sum() / n_v) if n_v else nan,
        "oa": float(((ref_v & est_voiced & pitch_ok).sum() + (~ref_v & ~est_voiced).sum()) / len(ref_hz)) if len(ref_hz) else nan,
        "vr": float((ref_v & est_voiced).sum() / n_v) if n_v else nan,
        "vfa": float((~ref_v & est_voiced).sum() / n_u) if n_u else nan,
        "frames": int(len(ref_hz)), "voiced_frames": n_v,
    }


def on_label_grid(f0_labels: np.ndarray, instants_s: np.ndarray, label_rate: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Pick the output frames whose described instant falls on a label frame.

    Returns:
        ``(frame indices [M], reference f0 [M])`` (no interpolated references are scored).
    """
    pos = np.asarray(instants_s) * label_rate
    idx = np.round(pos).astype(np.int64)
    keep = (np.abs(pos - idx) < 1e-6) & (idx >= 0) & (idx < len(f0_labels))
    return np.nonzero(keep)[0], np.asarray(f0_labels)[idx[keep]]


def note_positions(ref_hz: np.ndarray) -> np.ndarray:
    """Label frames since the start of the current note (``[T]`` int, meaningful on voiced frames;
    a note starts at a voiced frame after an unvoiced one or after a step of more than 50 cents)."""
    pos = np.zeros(len(ref_hz), np.int64)
    start = 0
    for k in range(len(ref_hz)):
        prev = ref_hz[k - 1] if k else 0.0
        if k == 0 or prev <= 0 or (ref_hz[k] > 0 and abs(1200 * np.log2(ref_hz[k] / prev)) > 50):
            start = k
        pos[k] = k - start
    return pos


def calibration(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> dict:
    """Reliability of a confidence: equal-width bins over [0, 1].

    Args:
        confidence: ``[T]`` in [0, 1] (the model's voicing probability).
        correct: ``[T]`` bool, what the confidence should predict (e.g. reference-voiced, or
            reference-voiced with the pitch within 50 cents).

    Returns:
        ``{"ece": expected calibration error (the frame-weighted mean |accuracy - confidence|),
        "bins": [{"lo", "hi", "frames", "confidence", "accuracy"}, ...]}`` (empty bins left out).
    """
    conf = np.clip(np.asarray(confidence, np.float64), 0.0, 1.0)
    ok = np.asarray(correct, bool)
    which = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    bins, ece = [], 0.0
    for b in range(n_bins):
        sel = which == b
        n = int(sel.sum())
        if not n:
            continue
        c, a = float(conf[sel].mean()), float(ok[sel].mean())
        ece += n * abs(a - c)
        bins.append({"lo": b / n_bins, "hi": (b + 1) / n_bins, "frames": n, "confidence": c, "accuracy": a})
    return {"ece": ece / max(len(conf), 1), "bins": bins}

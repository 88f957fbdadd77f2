"""The evaluation's melody metrics (mir_eval.melody, 50 cents) on the label grid, offline and causal.

(``training.pitch.metrics`` is the training loop's fast numpy scorer with the same definitions;
``tests/training/pitch/test_metrics.py`` checks the two agree.)

An estimate is a track ``(times, f0_hz, voiced)``: ``times[i]`` is the instant of the audio that
estimate i describes (the rtmir convention, docs/ARCHITECTURE.md), ``f0_hz[i]`` the pitch it
gives even when it calls the frame unvoiced (0 = no pitch at all), ``voiced[i]`` its decision.

Two ways to put an estimate on the labels' grid (frame k = k / 100 s):

    offline  each label frame takes the estimate whose described instant is nearest
             (what a file-based evaluation scores; the method may have looked ahead)

    causal   each estimate is re-timed to when its last input sample arrives,
             t + lookahead_s, and each label frame takes the latest estimate available at
             that instant (zero-order hold; nothing before the first one):

        label grid    |    |    |    |    |    |    |    |        (10 ms)
        described       e0   e1   e2   ...
        available            e0'  e1'  e2'   (= e + lookahead)
        causal value  -    - e0'  e1'  e2' ...  held until the next one arrives

mir_eval's convention is kept: raw pitch / chroma accuracy count every reference-voiced frame
with the estimate's pitch whatever its voicing decision (a negative frequency = "unvoiced, but
this is my guess"); voicing recall / false alarm and overall accuracy use the decision.

``pitch_right_frames`` gives the per-frame verdict behind raw pitch accuracy, so that it can be
split by the frame of the note (``NOTE_FRAME_BANDS``: a note's first label frames are where
every tracker, offline or live, errs most) and pooled across methods.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .metrics import note_positions, within_cents

LABEL_FRAME_RATE = 100
"""Label frames per second (``training.synth.labels.FRAME_RATE``)."""

METRIC_NAMES = ("raw_pitch_accuracy", "raw_chroma_accuracy", "voicing_recall", "voicing_false_alarm",
                "overall_accuracy")


@dataclass(frozen=True)
class Track:
    """An estimated pitch track.

    Attributes:
        times: ``[n]`` seconds, the instant each estimate describes (increasing).
        f0_hz: ``[n]`` pitch estimate, Hz (given even when unvoiced; 0 = none).
        voiced: ``[n]`` bool, the method's voicing decision.
        confidence: ``[n]`` the method's score behind ``voiced`` (kept for the record).
    """

    times: np.ndarray
    f0_hz: np.ndarray
    voiced: np.ndarray
    confidence: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.times)
        if not (len(self.f0_hz) == len(self.voiced) == len(self.confidence) == n):
            raise ValueError("times, f0_hz, voiced and confidence must have the same length")


@dataclass(frozen=True)
class Scores:
    """mir_eval.melody metrics of one clip (fractions 0…1)."""

    raw_pitch_accuracy: float
    raw_chroma_accuracy: float
    voicing_recall: float
    voicing_false_alarm: float
    overall_accuracy: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def label_times(n_frames: int) -> np.ndarray:
    """Instants of the label frames, seconds: frame k = k / ``LABEL_FRAME_RATE``."""
    return np.arange(n_frames) / LABEL_FRAME_RATE


def retime(track: Track, lookahead_s: float) -> Track:
    """The track re-timed to when each estimate becomes available (``t + lookahead_s``)."""
    return Track(track.times + lookahead_s, track.f0_hz, track.voiced, track.confidence)


def on_grid(track: Track, grid: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """The estimate at each grid instant.

    Args:
        track: the estimate.
        grid: ``[m]`` seconds.
        mode: "nearest" (estimate with the nearest time) or "hold" (latest estimate with
            time <= the grid instant; none before the first).

    Returns:
        ``(f0 [m], voiced [m] bool)``: f0 >= 0 Hz and the voicing decision; frames with no
        estimate get f0 0, unvoiced.

    Raises:
        ValueError: unknown mode.
    """
    m = len(grid)
    f0, voiced = np.zeros(m), np.zeros(m, bool)
    if len(track.times) == 0:
        return f0, voiced
    t = np.asarray(track.times, np.float64)
    if mode == "nearest":
        if len(t) == 1:
            idx = np.zeros(m, int)
        else:
            right = np.clip(np.searchsorted(t, grid), 1, len(t) - 1)
            idx = np.where(grid - t[right - 1] <= t[right] - grid, right - 1, right)
        valid = np.ones(m, bool)
    elif mode == "hold":
        idx = np.searchsorted(t, grid + 1e-9, side="right") - 1  # 1 ns: float rounding of t + L
        valid = idx >= 0
        idx = np.maximum(idx, 0)
    else:
        raise ValueError(f"unknown mode {mode!r}: use nearest or hold")
    f0[valid] = np.asarray(track.f0_hz, np.float64)[idx[valid]]
    voiced[valid] = np.asarray(track.voiced, bool)[idx[valid]]
    f0 = np.where(np.isfinite(f0) & (f0 > 0), f0, 0.0)
    return f0, voiced & (f0 > 0)


def score_frames(ref_f0: np.ndarray, est_f0: np.ndarray, est_voiced: np.ndarray,
                 cent_tolerance: float = 50.0) -> Scores:
    """mir_eval.melody metrics of frame-aligned reference and estimate.

    Args:
        ref_f0: ``[m]`` Hz, 0 = unvoiced.
        est_f0: ``[m]`` Hz, the estimate's pitch (0 = none).
        est_voiced: ``[m]`` bool decisions.
        cent_tolerance: pitch tolerance, cents.
    """
    from mir_eval import melody

    t = label_times(len(ref_f0))
    est_signed = np.where(est_voiced, est_f0, -est_f0)  # mir_eval: < 0 = unvoiced with a guess
    ref_v, ref_c, est_v, est_c = melody.to_cent_voicing(t, np.asarray(ref_f0, np.float64), t, est_signed)
    return Scores(
        raw_pitch_accuracy=float(melody.raw_pitch_accuracy(ref_v, ref_c, est_v, est_c, cent_tolerance)),
        raw_chroma_accuracy=float(melody.raw_chroma_accuracy(ref_v, ref_c, est_v, est_c, cent_tolerance)),
        voicing_recall=float(melody.voicing_recall(ref_v, est_v)),
        voicing_false_alarm=float(melody.voicing_false_alarm(ref_v, est_v)),
        overall_accuracy=float(melody.overall_accuracy(ref_v, ref_c, est_v, est_c, cent_tolerance)),
    )


def score_track(ref_f0: np.ndarray, track: Track, lookahead_s: float | None, causal: bool) -> Scores | None:
    """Score ``track`` against labels ``ref_f0`` (100 frames/s).

    Args:
        ref_f0: ``[n_frames]`` label f0, Hz (0 = unvoiced).
        track: the estimate (described instants).
        lookahead_s: the method's declared look-ahead (None = needs the whole file).
        causal: score what a live listener gets (re-timed by the look-ahead, held).

    Returns:
        The scores, or None for a causal score of a method without a finite look-ahead.
    """
    placed = place_on_labels(len(ref_f0), track, lookahead_s, causal)
    return None if placed is None else score_frames(ref_f0, *placed)


def place_on_labels(n_frames: int, track: Track, lookahead_s: float | None, causal: bool
                    ) -> tuple[np.ndarray, np.ndarray] | None:
    """``(f0 [n_frames], voiced [n_frames])``: the estimate on the label grid, offline ("nearest") or
    causally (re-timed by ``lookahead_s`` and held); None for a causal placement of a method
    without a finite look-ahead."""
    grid = label_times(n_frames)
    if not causal:
        return on_grid(track, grid, "nearest")
    if lookahead_s is None:
        return None
    return on_grid(retime(track, lookahead_s), grid, "hold")


def mean_scores(scores: list[Scores]) -> dict[str, float]:
    """Mean of each metric over clips (MIREX style: every clip weighs the same)."""
    return {k: float(np.mean([getattr(s, k) for s in scores])) for k in METRIC_NAMES}


NOTE_FRAME_BANDS = ((0, 1), (1, 2), (2, 3), (3, 7), (7, None))
"""Bands of label frames since a note's start (``metrics.note_positions``): 0–10, 10–20, 20–30,
30–70 ms, then the rest of the note."""

NOTE_FRAME_BAND_NAMES = ("0-10 ms", "10-20 ms", "20-30 ms", "30-70 ms", "70 ms on")


def pitch_right_frames(ref_f0: np.ndarray, track: Track, lookahead_s: float | None, causal: bool
                       ) -> np.ndarray | None:
    """``[n_frames]`` bool: reference-voiced label frames whose estimate (placed as in ``score_track``)
    is within 50 cents, whatever the voicing decision; None for a causal score of a method without a
    finite look-ahead."""
    ref = np.asarray(ref_f0, np.float64)
    placed = place_on_labels(len(ref), track, lookahead_s, causal)
    if placed is None:
        return None
    return within_cents(ref, placed[0])


def note_frame_bands(ref_f0: np.ndarray) -> np.ndarray:
    """``[n_frames]`` int: the ``NOTE_FRAME_BANDS`` index of each reference-voiced frame, -1 elsewhere."""
    ref = np.asarray(ref_f0, np.float64)
    pos = note_positions(ref)
    band = np.full(len(ref), -1, np.int64)
    for b, (lo, hi) in enumerate(NOTE_FRAME_BANDS):
        band[(ref > 0) & (pos >= lo) & (pos < (hi if hi is not None else len(ref) + 1))] = b
    return band


REGISTERS = (("low", None, 43), ("mid", 43, 85), ("high", 85, None))
"""Registers of the reference pitch by MIDI note (rounded): low below G2 (43), mid G2 ... C6 (84),
high above C6: the issue's low < 43 and high > 84."""


def register_bands(ref_f0: np.ndarray) -> np.ndarray:
    """``[n_frames]`` int: the ``REGISTERS`` index of each reference-voiced frame, -1 elsewhere."""
    ref = np.asarray(ref_f0, np.float64)
    band = np.full(len(ref), -1, np.int64)
    voiced = ref > 0
    midi = np.round(69.0 + 12.0 * np.log2(np.where(voiced, ref, 440.0) / 440.0))
    for b, (_, lo, hi) in enumerate(REGISTERS):
        band[voiced & (midi >= (lo if lo is not None else -np.inf)) & (midi < (hi if hi is not None else np.inf))] = b
    return band


def count_by_band(right: np.ndarray, band: np.ndarray, n: int = len(NOTE_FRAME_BANDS)) -> tuple[np.ndarray, np.ndarray]:
    """``(right, voiced)`` frame counts per band (each ``[n]`` int; ``n`` bands, default the note-frame ones)."""
    voiced = np.bincount(band[band >= 0], minlength=n)
    hits = np.bincount(band[(band >= 0) & right], minlength=n)
    return hits, voiced

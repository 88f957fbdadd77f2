"""Labels from a score, exact in MIDI time: f0, note lists and family activity.

Frames: ``FRAME_RATE`` per second; frame k describes the instant t_k = k / FRAME_RATE seconds
(the audio is aligned to MIDI time by ``render``, so t_k is also the audio time).

- f0 (monophonic stems): the sounding note's pitch plus the pitch bend in force at t_k,
  ``440 * 2 ** ((pitch + bend - 69) / 12)`` Hz; 0 when no note is on (a note is on for
  onset <= t < offset; its release tail in the audio is labelled unvoiced).
- activity: ``[len(FAMILIES), n_frames]``, 1 where a note of that family is on at t_k.
- notes: every note with onset/offset in seconds, pitch, velocity, program, stem and family.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gm import FAMILIES
from .score import Score, Track

FRAME_RATE = 100
"""Label frames per second."""


@dataclass(frozen=True)
class Labels:
    """All labels of one example.

    Attributes:
        n_frames: number of frames (``round(duration_s * FRAME_RATE)``).
        f0: monophonic stem name -> f0 ``[n_frames]`` float32, Hz, 0 = unvoiced.
        activity: ``[len(FAMILIES), n_frames]`` uint8, rows in ``FAMILIES`` order.
        notes: one dict per note (``onset_s``, ``offset_s``, ``pitch``, ``velocity``,
            ``program``, ``stem``, ``family``, ``drum``), sorted by onset.
        tags: ``[len(activity.TAGS), n_frames]`` uint8, which tagging families are sounding,
            measured on the renders (``activity.tag_activity``); None until measured.
    """

    n_frames: int
    f0: dict[str, np.ndarray]
    activity: np.ndarray
    notes: list[dict]
    tags: np.ndarray | None = None


def frame_ticks(score: Score, n_frames: int) -> np.ndarray:
    """MIDI time (float ticks) of each frame instant, ``[n_frames]``."""
    t = np.arange(n_frames) / FRAME_RATE
    return t * score.ticks_per_beat * 1e6 / score.tempo_us


def note_on_mask(track: Track, ticks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which frames a note is on, and which note (for monophonic tracks, the latest onset).

    Returns:
        ``(on [n] bool, index [n] int)``; index is -1 where no note is on.
    """
    index = np.full(ticks.shape, -1, np.int64)
    for i, note in enumerate(track.notes):
        index[(ticks >= note.onset) & (ticks < note.offset)] = i
    return index >= 0, index


def bend_at(track: Track, ticks: np.ndarray) -> np.ndarray:
    """The pitch bend in force (semitones) at each of ``ticks``, ``[n]``."""
    if not track.bends:
        return np.zeros(len(ticks))
    bend_ticks = np.array([b.tick for b in track.bends])
    values = np.array([track.bend_semitones(b.value) for b in track.bends])
    k = np.searchsorted(bend_ticks, ticks, side="right") - 1
    return np.where(k >= 0, values[np.maximum(k, 0)], 0.0)


def f0_track(score: Score, track: Track, n_frames: int) -> np.ndarray:
    """f0 label ``[n_frames]`` float32 (Hz, 0 = unvoiced) of a monophonic track."""
    ticks = frame_ticks(score, n_frames)
    on, index = note_on_mask(track, ticks)
    pitch = np.array([n.pitch for n in track.notes] + [0], np.float64)[index]
    f0 = 440.0 * 2.0 ** ((pitch + bend_at(track, ticks) - 69.0) / 12.0)
    return np.where(on, f0, 0.0).astype(np.float32)


def family_activity(score: Score, n_frames: int) -> np.ndarray:
    """``[len(FAMILIES), n_frames]`` uint8: 1 where a note of the family is on."""
    ticks = frame_ticks(score, n_frames)
    act = np.zeros((len(FAMILIES), n_frames), np.uint8)
    for track in score.tracks:
        on, _ = note_on_mask(track, ticks)
        act[FAMILIES.index(track.family)] |= on.astype(np.uint8)
    return act


def note_list(score: Score) -> list[dict]:
    """Every note of the score, seconds, sorted by (onset, stem, pitch)."""
    out = []
    for track in score.tracks:
        for n in track.notes:
            out.append({"onset_s": score.seconds(n.onset), "offset_s": score.seconds(n.offset),
                        "pitch": n.pitch, "velocity": n.velocity,
                        "program": -1 if track.is_drums else track.program,
                        "stem": track.name, "family": track.family, "drum": track.is_drums})
    out.sort(key=lambda d: (d["onset_s"], d["stem"], d["pitch"]))
    return out


def make_labels(score: Score, duration_s: float) -> Labels:
    """All labels of a score rendered to ``duration_s`` seconds."""
    n_frames = int(round(duration_s * FRAME_RATE))
    f0 = {t.name: f0_track(score, t, n_frames) for t in score.tracks if t.monophonic}
    return Labels(n_frames, f0, family_activity(score, n_frames), note_list(score))

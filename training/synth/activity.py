"""Which instrument families are sounding, frame by frame, measured on each part's own render.

The tagging labels (``tags`` in ``labels.npz``, rows in ``TAGS`` order). MIDI note-on/off says
when keys went down and up; what a listener hears is each part's sound, release included. Every
part (track) is rendered alone as its stem, so a family is sounding at frame k while one of its
stems — the dry render, before any augmentation: a room's tail after a part stops is not the part
playing — is audible there:

- the stem's RMS level over ``WINDOW_S`` centred on frame k is within ``STEM_DB`` of that stem's
  own loudest frame — a quiet pad under loud drums counts as long as it is playing, its release
  too — and
- it is above ``FLOOR_DB`` re the clip's loudest frame (a part mixed far below everything else is
  not there for a listener).

Frames are ``labels.FRAME_RATE`` per second, frame k centred on k / FRAME_RATE s. The MIDI-timed
``activity`` (GM families, note-on to note-off) stays beside it for comparison.
"""
from __future__ import annotations

import numpy as np

from .aligned import frame_db
from .gm import family_of_program
from .score import Score

TAGS: tuple[str, ...] = (
    "piano", "chromatic_percussion", "organ", "guitar", "bass", "strings", "voice",
    "brass", "reed", "pipe", "synth_lead", "synth_pad", "drums",
)
"""The tagging families, in the order of the ``tags`` label's rows: GM's families, except that
GM's "ensemble" programs are split: string ensembles (48-51) and orchestra hit (55) join
"strings", choir, voice oohs and synth voice (52-54) form "voice"."""

WINDOW_S = 0.02
"""Window of the level measure (s)."""
STEM_DB = -40.0
"""A stem is audible while within this of its own loudest frame (dB)."""
FLOOR_DB = -60.0
"""... and above this re the clip's loudest frame (dB)."""

CONVENTION = {"name": "sounding-v1", "window_s": WINDOW_S, "stem_db": STEM_DB, "floor_db": FLOOR_DB}
"""What an example's meta (and a tagging model's card) records of the tags label convention."""


def tag_of_program(program: int, drums: bool = False) -> str:
    """The tagging family of a GM program 0..95 (``drums``: the percussion channel).

    Raises:
        ValueError: a program outside the generated families.
    """
    if drums:
        return "drums"
    if 48 <= program <= 51 or program == 55:
        return "strings"
    if 52 <= program <= 54:
        return "voice"
    return family_of_program(program)


def sounding(stem: np.ndarray, sr: int, n_frames: int, clip_db: float) -> np.ndarray:
    """``[n_frames]`` bool: where ``stem`` (``[C, N]`` or ``[N]`` float) is audible (module docstring).

    Args:
        clip_db: the clip's loudest frame, dB re full scale (``aligned.clip_ref_db``).
    """
    mono = np.asarray(stem, np.float32)
    mono = mono.mean(axis=0) if mono.ndim == 2 else mono
    level = frame_db(mono, sr, n_frames, WINDOW_S)
    if not np.isfinite(level).any() or level.max() <= -199.0:  # silent stem
        return np.zeros(n_frames, bool)
    return (level >= level.max() + STEM_DB) & (level >= clip_db + FLOOR_DB)


def tag_activity(score: Score, stems: dict[str, np.ndarray], sr: int, n_frames: int,
                 clip_db: float) -> np.ndarray:
    """``[len(TAGS), n_frames]`` uint8: 1 where a stem of that family is sounding.

    Args:
        stems: track name -> its render ``[C, N]`` at ``sr`` (other stems, e.g. noise, ignored).
        clip_db: the clip's loudest frame (dB), the reference of ``FLOOR_DB``.
    """
    act = np.zeros((len(TAGS), n_frames), np.uint8)
    for track in score.tracks:
        if track.name in stems:
            row = TAGS.index(tag_of_program(track.program, track.is_drums))
            act[row] |= sounding(stems[track.name], sr, n_frames, clip_db).astype(np.uint8)
    return act

"""The notes model's output layout and its causal note decoder (numpy only; training shares it).

Layout of the model's ``logits [1, N_OUTPUTS, frames]`` (one frame per hop, each describing the
instant ``latency_samples`` before its hop's end):

    rows   0 ..  87   onset of MIDI pitch 21 + i (A0 .. C8)
    rows  88 .. 175   frame (the pitch is sounding)
    rows 176 .. 263   offset (the pitch stops sounding)
    rows 264 .. 269   drum hits: kick, snare, hi-hat closed, hi-hat open, toms, cymbals

``NoteDecoder`` turns probability frames into note-ons and note-offs, frame by frame, deciding
frame k from frames ``<= k`` only (its look-ahead is the model's, nothing more):

- a pitch turns on when its onset probability crosses ``onset_threshold`` upwards (a pitch
  already on is re-struck: off, then on, in the same frame); velocity from the onset
  probability at the crossing, ``VELOCITY_FLOOR + (127 - VELOCITY_FLOOR) * p``;
- an active pitch turns off at the first frame whose frame probability is below
  ``frame_threshold`` or whose offset probability is at or above ``offset_threshold``;
- a drum class fires (GM drum note on, off one frame later) when its probability crosses
  ``drum_threshold`` upwards.

``reset`` returns the note-offs of every sounding note, so a stream never ends with one hanging.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOWEST_PITCH = 21
N_PITCHES = 88
DRUMS: tuple[tuple[str, int, tuple[int, ...]], ...] = (
    ("kick", 36, (35, 36)),
    ("snare", 38, (37, 38, 39, 40)),
    ("hihat_closed", 42, (42, 44)),
    ("hihat_open", 46, (46,)),
    ("toms", 45, (41, 43, 45, 47, 48, 50)),
    ("cymbals", 49, (49, 51, 52, 53, 55, 57, 59)),
)
"""Drum classes: (name, the GM drum note the decoder sends, the GM drum notes the labels map to it)."""
ONSET, FRAME, OFFSET, DRUM = 0, N_PITCHES, 2 * N_PITCHES, 3 * N_PITCHES
N_OUTPUTS = 3 * N_PITCHES + len(DRUMS)
VELOCITY_FLOOR = 30
DEFAULTS = {"onset_threshold": 0.5, "frame_threshold": 0.3, "offset_threshold": 0.7, "drum_threshold": 0.5}
"""Decoder thresholds (probabilities), the card's defaults unless it records chosen ones."""


def output_labels() -> tuple[str, ...]:
    """The names of the model's ``N_OUTPUTS`` rows (``onset_60``, ``frame_60``, ``drum_kick``, ...)."""
    pitches = range(LOWEST_PITCH, LOWEST_PITCH + N_PITCHES)
    return (tuple(f"onset_{p}" for p in pitches) + tuple(f"frame_{p}" for p in pitches)
            + tuple(f"offset_{p}" for p in pitches) + tuple(f"drum_{name}" for name, _, _ in DRUMS))


def drum_class(gm_note: int) -> int | None:
    """The row (0..5) of ``DRUMS`` a GM drum note belongs to (None: a percussion sound not modelled)."""
    for i, (_, _, notes) in enumerate(DRUMS):
        if gm_note in notes:
            return i
    return None


@dataclass(frozen=True)
class NoteChange:
    """One note-on or note-off decided at frame ``frame`` of a ``NoteDecoder`` call.

    Attributes:
        frame: index in the call's frames. on: note-on (else note-off). pitch: MIDI note (a GM
        drum note when ``drum``). velocity: 1..127 for a note-on, 0 for a note-off.
    """

    frame: int
    on: bool
    pitch: int
    velocity: int
    drum: bool


class NoteDecoder:
    """Causal note decisions over probability frames ``[N_OUTPUTS, T]`` (module docstring).

    State: which pitches sound, the previous frame's onset and drum probabilities, the drum hits
    whose note-off is due. Calls may split the frames anywhere: the changes are the same.
    """

    def __init__(self, **thresholds: float) -> None:
        self.thresholds = dict(DEFAULTS)
        self.set_thresholds(**thresholds)
        self.active = np.zeros(N_PITCHES, bool)
        self._onset_prev = np.zeros(N_PITCHES)
        self._drum_prev = np.zeros(len(DRUMS))
        self._drum_off: list[int] = []

    def set_thresholds(self, **thresholds: float) -> None:
        """Change thresholds (names of ``DEFAULTS``), from the next frame.

        Raises:
            KeyError: an unknown name.
        """
        for name, value in thresholds.items():
            if name not in DEFAULTS:
                raise KeyError(f"notes has no parameter {name!r} ({', '.join(DEFAULTS)})")
            self.thresholds[name] = float(value)

    def reset(self) -> list[NoteChange]:
        """Forget the stream; the note-offs (frame 0) of every note still sounding."""
        offs = [NoteChange(0, False, LOWEST_PITCH + int(i), 0, False) for i in np.flatnonzero(self.active)]
        offs += [NoteChange(0, False, note, 0, True) for note in self._drum_off]
        self.active[:] = False
        self._onset_prev[:] = 0.0
        self._drum_prev[:] = 0.0
        self._drum_off = []
        return offs

    def __call__(self, probs: np.ndarray) -> list[NoteChange]:
        """``probs [N_OUTPUTS, T]`` (probabilities) -> the changes, in frame order (offs before ons
        within a frame)."""
        th = self.thresholds
        out: list[NoteChange] = []
        for k in range(probs.shape[1]):
            p = probs[:, k]
            for note in self._drum_off:
                out.append(NoteChange(k, False, note, 0, True))
            self._drum_off = []
            onset = p[ONSET:ONSET + N_PITCHES]
            struck = (onset >= th["onset_threshold"]) & (self._onset_prev < th["onset_threshold"])
            ends = self.active & ((p[FRAME:FRAME + N_PITCHES] < th["frame_threshold"])
                                  | (p[OFFSET:OFFSET + N_PITCHES] >= th["offset_threshold"]) | struck)
            for i in np.flatnonzero(ends):
                out.append(NoteChange(k, False, LOWEST_PITCH + int(i), 0, False))
            for i in np.flatnonzero(struck):
                out.append(NoteChange(k, True, LOWEST_PITCH + int(i), velocity(float(onset[i])), False))
            self.active &= ~ends
            self.active |= struck
            self._onset_prev[:] = onset
            drums = p[DRUM:DRUM + len(DRUMS)]
            hits = (drums >= th["drum_threshold"]) & (self._drum_prev < th["drum_threshold"])
            for i in np.flatnonzero(hits):
                note = DRUMS[int(i)][1]
                out.append(NoteChange(k, True, note, velocity(float(drums[i])), True))
                self._drum_off.append(note)
            self._drum_prev[:] = drums
        return out


def velocity(p: float) -> int:
    """MIDI velocity 1..127 of an onset of probability ``p``."""
    return int(np.clip(round(VELOCITY_FLOOR + (127 - VELOCITY_FLOOR) * p), 1, 127))


def notes_from_changes(changes: list[tuple[float, NoteChange]],
                       end_s: float) -> list[tuple[float, float, int, int, bool]]:
    """``(onset_s, offset_s, pitch, velocity, drum)`` notes from time-stamped changes; a note still
    on at the end closes at ``end_s``."""
    open_: dict[tuple[int, bool], tuple[float, int]] = {}
    notes = []
    for t, c in changes:
        key = (c.pitch, c.drum)
        if c.on:
            open_[key] = (t, c.velocity)
        elif key in open_:
            t0, v = open_.pop(key)
            notes.append((t0, t, c.pitch, v, c.drum))
    notes += [(t0, end_s, p, v, d) for (p, d), (t0, v) in open_.items()]
    return sorted(notes)

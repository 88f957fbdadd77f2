"""Scales, modes, chords and progressions, as pitch classes and scale degrees.

A key is a tonic pitch class (0 = C) plus a scale (semitone offsets from the tonic). Progressions
are lists of scale degrees (0-based); chords are stacked thirds within the scale, so a progression
sounds right in every mode.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCALES: dict[str, tuple[int, ...]] = {
    "ionian": (0, 2, 4, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "aeolian": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "melodic_minor": (0, 2, 3, 5, 7, 9, 11),
    "major_pentatonic": (0, 2, 4, 7, 9),
    "minor_pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "whole_tone": (0, 2, 4, 6, 8, 10),
    "chromatic": tuple(range(12)),
}
"""Scale name -> semitone offsets from the tonic."""

HEPTATONIC = tuple(name for name, steps in SCALES.items() if len(steps) == 7)
"""Seven-note scales, on which chords are built by stacking thirds."""

PROGRESSIONS: dict[str, tuple[int, ...]] = {
    "I-V-vi-IV": (0, 4, 5, 3),
    "I-vi-IV-V": (0, 5, 3, 4),
    "ii-V-I-I": (1, 4, 0, 0),
    "I-IV-V-IV": (0, 3, 4, 3),
    "vi-IV-I-V": (5, 3, 0, 4),
    "i-VII-VI-VII": (0, 6, 5, 6),
    "i-iv-v-i": (0, 3, 4, 0),
    "I-iii-IV-V": (0, 2, 3, 4),
    "blues-12": (0, 0, 0, 0, 3, 3, 0, 0, 4, 3, 0, 4),
    "I-bVII-IV-I": (0, 6, 3, 0),
    "pedal-I": (0, 0, 0, 0),
}
"""Progression name -> scale degrees, one chord per bar."""


@dataclass(frozen=True)
class Key:
    """A tonic and a scale.

    Attributes:
        tonic: pitch class 0..11 (0 = C).
        scale: name in ``SCALES``.
    """

    tonic: int
    scale: str

    @property
    def steps(self) -> tuple[int, ...]:
        """Semitone offsets of the scale."""
        return SCALES[self.scale]

    def pitch(self, degree: int, octave: int = 4) -> int:
        """MIDI note of a scale degree (may be negative or beyond the scale length: it wraps
        into other octaves). Degree 0 in octave 4 is the tonic at or above middle C (60)."""
        n = len(self.steps)
        octave_shift, index = divmod(degree, n)
        return 12 * (octave + 1 + octave_shift) + self.tonic + self.steps[index]

    def degree_of(self, pitch: int) -> int | None:
        """Absolute scale degree (as ``pitch`` counts them) of a MIDI note, or None if the note
        is not in the scale."""
        rel = pitch - 12 * 5 - self.tonic
        octave, pc = divmod(rel, 12)
        if pc not in self.steps:
            return None
        return octave * len(self.steps) + self.steps.index(pc)

    def chord(self, degree: int, size: int = 3) -> tuple[int, ...]:
        """Pitch classes (0..11) of the chord on a degree: stacked scale thirds for 7-note
        scales; for other scales, the major/minor triad of the ionian/aeolian degree."""
        if len(self.steps) != 7:
            base = SCALES["aeolian" if 3 in self.steps else "ionian"]
            steps = base
        else:
            steps = self.steps
        return tuple((self.tonic + steps[(degree + 2 * k) % 7]) % 12 for k in range(size))


def nearest_pitch(pitch_classes: tuple[int, ...], target: float, low: int, high: int) -> int:
    """MIDI note in [low, high] with a pitch class in ``pitch_classes``, nearest ``target``.

    Raises:
        ValueError: no such note in the range.
    """
    candidates = [p for p in range(low, high + 1) if p % 12 in pitch_classes]
    if not candidates:
        raise ValueError(f"no pitch class of {pitch_classes} within [{low}, {high}]")
    return min(candidates, key=lambda p: (abs(p - target), p))


def voicing(pitch_classes: tuple[int, ...], center: float, low: int, high: int) -> tuple[int, ...]:
    """A close voicing of a chord: each pitch class once, nearest to ``center`` in [low, high],
    sorted low to high, without duplicates."""
    notes = sorted({nearest_pitch((pc,), center, low, high) for pc in pitch_classes})
    return tuple(notes)


def choose(rng: np.random.Generator, options: tuple | list, weights: tuple | list | None = None):
    """One element of ``options`` (a deterministic function of the generator's state)."""
    p = None if weights is None else np.asarray(weights, float) / np.sum(weights)
    return options[int(rng.choice(len(options), p=p))]

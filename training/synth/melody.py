"""Monophonic melodies: phrases over a scale, rests, articulation, dynamics, vibrato and glides.

A melody is a sequence of phrases (2 or 4 bars). Each phrase draws a rhythm, walks the scale
(mostly steps, some leaps, landing on chord tones on strong beats when a progression is given),
ends on a long note and usually a rest. Per phrase: an articulation (legato / normal / staccato)
and a dynamic shape (crescendo, decrescendo, arch). Instruments with a continuous pitch
(``Instrument.continuous``) get vibrato on long notes and glides between legato notes, both as
pitch-bend events every ``BEND_STEP_S`` seconds. Notes never overlap, so the f0 label is exact.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gm import Instrument
from .score import Bend, Note, Track
from .theory import Key, choose

BEND_STEP_S = 0.01
"""Spacing of the pitch-bend events drawing vibrato and glides, seconds."""

MELODY_BEND_RANGE = 12
"""Pitch-bend range of melody tracks, semitones (RPN 0), so glides up to an octave fit."""

MIN_NOTE_S = 0.06
"""Shortest sounding note, seconds (staccato at fast tempi is clamped to this)."""


@dataclass(frozen=True)
class Expression:
    """How a melody track is played (drawn once per track).

    Attributes:
        vibrato_prob: probability that a long note (>= 0.25 s) gets vibrato.
        vibrato_rate_hz: vibrato rate, Hz.
        vibrato_cents: vibrato depth, cents (peak).
        glide_prob: probability that a legato note change is a glide.
        glide_s: glide duration, seconds.
    """

    vibrato_prob: float
    vibrato_rate_hz: float
    vibrato_cents: float
    glide_prob: float
    glide_s: float


def draw_expression(rng: np.random.Generator, inst: Instrument) -> Expression:
    """Expression for an instrument: none unless its pitch is continuous."""
    if not inst.continuous:
        return Expression(0.0, 5.0, 0.0, 0.0, 0.0)
    return Expression(vibrato_prob=float(rng.uniform(0.0, 0.9)),
                      vibrato_rate_hz=float(rng.uniform(4.5, 7.0)),
                      vibrato_cents=float(rng.uniform(10.0, 50.0)),
                      glide_prob=float(rng.uniform(0.0, 0.5)),
                      glide_s=float(rng.uniform(0.04, 0.15)))


@dataclass(frozen=True)
class Timing:
    """Tempo and meter of the piece a melody is written for.

    Attributes:
        tick_s: seconds per tick.
        ticks_per_beat: MIDI resolution.
        beats_per_bar: 3 or 4 (quarter-note beats).
        length: piece length, ticks.
    """

    tick_s: float
    ticks_per_beat: int
    beats_per_bar: int
    length: int

    @property
    def bar(self) -> int:
        """Ticks per bar."""
        return self.ticks_per_beat * self.beats_per_bar


def _rhythm(rng: np.random.Generator, timing: Timing, span: int) -> list[int]:
    """Durations (ticks) filling ``span`` ticks; values chosen so notes last 0.1..1.5 s."""
    q = timing.ticks_per_beat
    values = [q // 4, q // 2, q * 3 // 4, q, q * 3 // 2, 2 * q]
    seconds = np.array(values) * timing.tick_s
    weights = np.where((seconds >= 0.1) & (seconds <= 1.5), 1.0, 0.02)
    weights *= np.array([0.6, 1.0, 0.3, 1.0, 0.3, 0.5])
    out, used = [], 0
    while used < span:
        d = min(choose(rng, values, weights), span - used)
        out.append(d)
        used += d
    return out


def _degree_window(key: Key, low: int, high: int) -> tuple[int, int]:
    """Lowest and highest absolute scale degree whose pitch lies in [low, high]."""
    degrees = [d for d in range(-10, 120) if low <= key.pitch(d, -1) <= high]
    return degrees[0], degrees[-1]


def _step(rng: np.random.Generator, degree: int, lo: int, hi: int) -> int:
    """Next scale degree of the walk, reflected into [lo, hi]."""
    move = choose(rng, (0, 1, -1, 2, -2, 3, -3, 4, -4), (1, 3.5, 3.5, 1.2, 1.2, 0.5, 0.5, 0.4, 0.4))
    nxt = degree + move
    if nxt < lo or nxt > hi:
        nxt = degree - move
    return int(min(hi, max(lo, nxt)))


def _snap_to_chord(key: Key, degree: int, chord: tuple[int, ...], lo: int, hi: int) -> int:
    """Nearest degree to ``degree`` (within [lo, hi]) whose pitch class is in ``chord``."""
    for delta in (0, 1, -1, 2, -2, 3, -3):
        d = degree + delta
        if lo <= d <= hi and key.pitch(d, -1) % 12 in chord:
            return d
    return degree


def _phrase_plan(rng, timing: Timing) -> list[tuple[int, int]]:
    """(start, span) of each phrase in ticks, 2 or 4 bars each, covering the piece."""
    bars_per_phrase = 2 if timing.bar * timing.tick_s > 2.5 else int(choose(rng, (2, 4)))
    span = bars_per_phrase * timing.bar
    return [(start, min(span, timing.length - start)) for start in range(0, timing.length, span)]


def _phrase_notes(rng, key: Key, timing: Timing, start: int, span: int, state: dict,
                  chords: list[tuple[int, ...]] | None) -> list[tuple[int, int, int, int]]:
    """(onset, duration, pitch, velocity) of one phrase; ``state`` carries the walk's degree
    and window across phrases."""
    rest = int(choose(rng, (0, 1, 2), (0.3, 0.5, 0.2))) * timing.ticks_per_beat
    rest = min(rest, span // 2)
    durations = _rhythm(rng, timing, span - rest)
    base_vel = float(rng.uniform(45, 115))
    shape = choose(rng, ("flat", "cresc", "decresc", "arch"))
    out, t = [], start
    for i, dur in enumerate(durations):
        x = i / max(1, len(durations) - 1)
        state["degree"] = _step(rng, state["degree"], state["lo"], state["hi"])
        on_strong_beat = (t - start) % timing.ticks_per_beat == 0
        if chords is not None and on_strong_beat and rng.random() < 0.7:
            chord = chords[min(len(chords) - 1, t // timing.bar)]
            state["degree"] = _snap_to_chord(key, state["degree"], chord, state["lo"], state["hi"])
        if i > 0 and rng.random() < 0.08:  # an internal rest
            t += dur
            continue
        vel = base_vel + {"flat": 0, "cresc": 25 * (x - 0.5), "decresc": 25 * (0.5 - x),
                          "arch": 25 * (0.5 - abs(x - 0.5))}[shape]
        vel += (8 if (t % timing.bar) == 0 else 0) + rng.normal(0, 4)
        out.append((t, dur, key.pitch(state["degree"], -1), int(np.clip(round(vel), 20, 127))))
        t += dur
    return out


def _articulate(rng, timing: Timing, raw: list[tuple[int, int, int, int]]) -> list[Note]:
    """Notes with a per-phrase articulation: gate 1.0 (legato), ~0.88 or ~0.45 (staccato)."""
    gate = float(choose(rng, (1.0, 0.88, 0.45), (0.35, 0.45, 0.2)))
    min_ticks = int(np.ceil(MIN_NOTE_S / timing.tick_s))
    notes = []
    for onset, dur, pitch, vel in raw:
        length = dur if gate == 1.0 else max(min(dur, min_ticks), int(dur * gate))
        notes.append(Note(onset, min(onset + length, timing.length), pitch, vel))
    return [n for n in notes if n.offset > n.onset]


def _note_bends(exp: Expression, timing: Timing, note: Note, prev: Note | None,
                rng: np.random.Generator, bend_range: int) -> list[Bend]:
    """Bend events for one note: its starting value at the onset, then glide and vibrato."""
    step = max(1, int(round(BEND_STEP_S / timing.tick_s)))
    glide = (prev is not None and prev.offset == note.onset and abs(prev.pitch - note.pitch) <= bend_range
             and prev.pitch != note.pitch and rng.random() < exp.glide_prob)
    dur_s = (note.offset - note.onset) * timing.tick_s
    vibrato = dur_s >= 0.25 and rng.random() < exp.vibrato_prob
    glide_s = min(exp.glide_s, dur_s / 2)
    bends = []
    for tick in range(note.onset, note.offset, step):
        t = (tick - note.onset) * timing.tick_s
        semis = 0.0
        if glide and t < glide_s:
            semis += (prev.pitch - note.pitch) * (1.0 - t / glide_s)
        if vibrato and t > 0.15:
            ramp = min(1.0, (t - 0.15) / 0.2)
            semis += ramp * exp.vibrato_cents / 100 * np.sin(2 * np.pi * exp.vibrato_rate_hz * (t - 0.15))
        value = int(np.clip(round(semis / bend_range * 8192), -8192, 8191))
        if not bends or bends[-1].value != value or tick == note.onset:
            bends.append(Bend(tick, value))
        if not (glide or vibrato):
            break
    return bends


def generate_melody(rng: np.random.Generator, inst: Instrument, key: Key, timing: Timing,
                    chords: list[tuple[int, ...]] | None = None, name: str = "melody",
                    channel: int = 0, low: int | None = None, high: int | None = None) -> Track:
    """A monophonic melody track.

    Args:
        rng: random generator (all randomness comes from it).
        inst: the instrument (program, range, whether its pitch bends).
        key: key and scale to walk.
        timing: tempo, meter and piece length.
        chords: pitch classes of the chord of each bar (melody lands on chord tones), or None.
        name: stem name. channel: MIDI channel.
        low, high: restrict the range further (e.g. keep a melody above the chords).

    Returns:
        A monophonic ``Track`` with non-overlapping notes and bends (range ``MELODY_BEND_RANGE``).
    """
    low = inst.low if low is None else max(inst.low, low)
    high = inst.high if high is None else min(inst.high, high)
    center = low + (high - low) * rng.uniform(0.0, 1.0)  # the whole range: its extremes are heard too
    lo_d, hi_d = _degree_window(key, max(low, int(center - 9)), min(high, int(center + 9)))
    state = {"degree": (lo_d + hi_d) // 2, "lo": lo_d, "hi": hi_d}
    notes: list[Note] = []
    for start, span in _phrase_plan(rng, timing):
        notes += _articulate(rng, timing, _phrase_notes(rng, key, timing, start, span, state, chords))
    exp = draw_expression(rng, inst)
    bends: list[Bend] = []
    for i, note in enumerate(notes):
        bends += _note_bends(exp, timing, note, notes[i - 1] if i else None, rng, MELODY_BEND_RANGE)
    return Track(name=name, program=inst.program, channel=channel, notes=tuple(notes),
                 bends=tuple(bends), bend_range=MELODY_BEND_RANGE, monophonic=True)

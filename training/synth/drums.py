"""Drum patterns on GM channel 10, across styles, with swing, fills, crashes and ghost notes.

A pattern is one bar of 16th-note steps per drum (16 steps in 4/4, 12 in 3/4), written as a
string: ``X`` accent, ``x`` normal, ``o`` ghost, ``.`` nothing. Swing delays the off-beat 16ths
(or, for ``swing8``, the off-beat 8ths). Every fourth bar ends with a fill; phrases start with a
crash. Drum notes last one 16th (GM percussion ignores note-off; the length is what the family
activity label uses).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gm import (CABASA, CLAP, CLAVES, CONGA_LO, CONGA_MUTE, CONGA_OPEN, COWBELL, CRASH, DRUM_CHANNEL,
                 HAT_CLOSED, HAT_OPEN, HAT_PEDAL, KICK, RIDE, SHAKER, SIDE_STICK, SNARE,
                 TAMBOURINE, TOM_HIGH, TOM_LOW, TOM_MID)
from .score import Note, Track
from .theory import choose

_VELOCITY = {"X": 112, "x": 88, "o": 45}


@dataclass(frozen=True)
class DrumStyle:
    """One drum style.

    Attributes:
        name: style name.
        beats_per_bar: 4 or 3.
        parts: (GM key, step string) for each drum.
        swing: delay of swung notes as a fraction of a 16th (0 = straight).
        swing8: swing the off-beat 8ths (jazz, shuffle) instead of the off-beat 16ths.
        bpm: a typical tempo range (low, high) for the style.
    """

    name: str
    beats_per_bar: int
    parts: tuple[tuple[int, str], ...]
    swing: float = 0.0
    swing8: bool = False
    bpm: tuple[float, float] = (80.0, 140.0)


STYLES: tuple[DrumStyle, ...] = (
    DrumStyle("rock", 4, ((KICK, "X.......X.x....."), (SNARE, "....X.......X..."),
                          (HAT_CLOSED, "x.x.x.x.x.x.x.x.")), bpm=(90, 160)),
    DrumStyle("disco", 4, ((KICK, "X...X...X...X..."), (SNARE, "....X.......X..."),
                           (HAT_CLOSED, "x...x...x...x..."), (HAT_OPEN, "..x...x...x...x.")),
              bpm=(110, 130)),
    DrumStyle("funk", 4, ((KICK, "X..x..x...X....."), (SNARE, "....X..o.o..X..o"),
                          (HAT_CLOSED, "xoxoxoxoxoxoxoxo")), swing=0.1, bpm=(85, 115)),
    DrumStyle("hiphop", 4, ((KICK, "X.....x...X..x.."), (SNARE, "....X.......X..."),
                            (HAT_CLOSED, "x.x.x.x.x.x.x.x.")), swing=0.25, bpm=(70, 100)),
    DrumStyle("jazz", 4, ((RIDE, "x...x.x.x...x.x."), (HAT_PEDAL, "....x.......x..."),
                          (KICK, "o.......o......."), (SNARE, "......o.......o.")),
              swing=0.66, swing8=True, bpm=(90, 220)),
    DrumStyle("bossa", 4, ((KICK, "x..xx..xx..xx..x"), (SIDE_STICK, "x..x..x...x..x.."),
                           (HAT_CLOSED, "oooooooooooooooo")), bpm=(110, 150)),
    DrumStyle("reggae", 4, ((KICK, "........X......."), (SIDE_STICK, "........X......."),
                            (HAT_CLOSED, "..x...x...x...x.")), bpm=(60, 90)),
    DrumStyle("latin", 4, ((KICK, "x..x....x..x...."), (CONGA_OPEN, "......x.......xx"),
                           (CONGA_MUTE, "..x.......x....."), (CONGA_LO, "x.......x......."),
                           (COWBELL, "x.x.x.x.x.x.x.x."), (CLAVES, "x..x..x...x.x...")),
              bpm=(90, 130)),
    DrumStyle("shuffle", 4, ((KICK, "X.....x.X.....x."), (SNARE, "....X.......X..."),
                             (HAT_CLOSED, "x.x.x.x.x.x.x.x.")), swing=0.66, swing8=True, bpm=(70, 120)),
    DrumStyle("halftime", 4, ((KICK, "X.........x....."), (SNARE, "........X......."),
                              (HAT_CLOSED, "x.x.x.x.x.x.x.x."), (TAMBOURINE, "....x.......x...")),
              bpm=(60, 90)),
    DrumStyle("metal", 4, ((KICK, "XxXxXxXxXxXxXxXx"), (SNARE, "....X.......X..."),
                           (RIDE, "x...x...x...x...")), bpm=(120, 200)),
    DrumStyle("pop", 4, ((KICK, "X.......X......."), (CLAP, "....X.......X..."),
                         (SHAKER, "xoxoxoxoxoxoxoxo")), bpm=(90, 125)),
    DrumStyle("waltz", 3, ((KICK, "X..........."), (SNARE, "....x...x..."),
                           (HAT_CLOSED, "x.x.x.x.x.x.")), bpm=(80, 180)),
    DrumStyle("ballad34", 3, ((KICK, "X.....x....."), (SIDE_STICK, "....x...x..."),
                              (CABASA, "x.x.x.x.x.x.")), bpm=(50, 90)),
)
"""Every drum style; ``style_by_name`` looks one up."""


def style_by_name(name: str) -> DrumStyle:
    """The style called ``name``.

    Raises:
        KeyError: unknown style.
    """
    for style in STYLES:
        if style.name == name:
            return style
    raise KeyError(f"unknown drum style {name!r}; known: {', '.join(s.name for s in STYLES)}")


def _step_tick(step: int, sixteenth: int, style: DrumStyle) -> int:
    """Tick offset in the bar of a 16th step, with swing."""
    tick = step * sixteenth
    swung = (step % 4 == 2) if style.swing8 else (step % 2 == 1)
    return tick + (int(round(style.swing * sixteenth)) if swung else 0)


def _fill(rng: np.random.Generator, steps: int) -> list[tuple[int, int, int]]:
    """(step, key, velocity) of a fill over the bar's last beat."""
    toms = (SNARE, TOM_HIGH, TOM_MID, TOM_LOW)
    out = []
    for k, step in enumerate(range(steps - 4, steps)):
        if rng.random() < 0.85:
            out.append((step, toms[min(3, k + int(rng.integers(0, 2)))], 80 + 8 * k))
    return out


def _bar_hits(rng: np.random.Generator, style: DrumStyle, bar: int) -> list[tuple[int, int, int]]:
    """(step, key, velocity) of one bar: the pattern, a fill every fourth bar, a crash on
    phrase starts."""
    steps = 4 * style.beats_per_bar
    fill = bar % 4 == 3 and rng.random() < 0.7
    hits = []
    for key, pattern in style.parts:
        for step, ch in enumerate(pattern):
            if ch == "." or (fill and step >= steps - 4):
                continue
            hits.append((step, key, _VELOCITY[ch]))
    if fill:
        hits += _fill(rng, steps)
    if bar % 4 == 0 and rng.random() < 0.6:
        hits.append((0, CRASH, 100))
    return hits


def generate_drums(rng: np.random.Generator, style: DrumStyle, ticks_per_beat: int, length: int,
                   name: str = "drums") -> Track:
    """A drum track of ``style`` filling ``length`` ticks (bars of ``style.beats_per_bar``).

    Returns:
        A ``Track`` on ``DRUM_CHANNEL``; notes last one 16th, velocities jittered by ~5.
    """
    sixteenth = ticks_per_beat // 4
    bar_ticks = ticks_per_beat * style.beats_per_bar
    notes = []
    for bar in range(-(-length // bar_ticks)):
        for step, key, vel in _bar_hits(rng, style, bar):
            onset = bar * bar_ticks + _step_tick(step, sixteenth, style)
            if onset >= length:
                continue
            v = int(np.clip(round(vel + rng.normal(0, 5)), 10, 127))
            notes.append(Note(onset, min(onset + sixteenth, length), key, v))
    notes.sort(key=lambda n: (n.onset, n.pitch))
    return Track(name=name, program=0, channel=DRUM_CHANNEL, notes=tuple(notes))


def draw_style(rng: np.random.Generator, beats_per_bar: int | None = None) -> DrumStyle:
    """A random style (optionally in a given meter)."""
    options = [s for s in STYLES if beats_per_bar is None or s.beats_per_bar == beats_per_bar]
    return choose(rng, options)

"""The in-memory score: notes and pitch bends on tracks, timed in integer MIDI ticks.

Times are integer ticks at a single fixed tempo, exactly what the MIDI file will hold, so labels
computed from a ``Score`` are exact for the rendered file (no float rounding between the two):

    seconds(tick) = tick * tempo_us / (ticks_per_beat * 1e6)
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .gm import DRUM_CHANNEL, family_of_program

TICKS_PER_BEAT = 480
"""MIDI resolution (pulses per quarter note) of every generated file."""


@dataclass(frozen=True)
class Note:
    """One note.

    Attributes:
        onset: note-on time, ticks.
        offset: note-off time, ticks (> onset).
        pitch: MIDI note number 0..127 (for drums, the GM percussion key).
        velocity: MIDI velocity 1..127.
    """

    onset: int
    offset: int
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Bend:
    """A pitch-bend event; it holds until the next one on the same track.

    Attributes:
        tick: time, ticks.
        value: 14-bit signed bend, -8192..8191 (0 = no bend).
    """

    tick: int
    value: int


@dataclass(frozen=True)
class Track:
    """One stem: one instrument on one MIDI channel.

    Attributes:
        name: stem name, also its file name ("melody", "bass", "chords", "pad", "drums").
        program: GM program 0..95 (ignored for drums, which use the standard kit).
        channel: MIDI channel index 0..15; ``DRUM_CHANNEL`` (9) means GM percussion.
        notes: notes sorted by onset.
        bends: pitch bends sorted by tick (empty: no bend).
        bend_range: pitch-bend range in semitones (sent as RPN 0): value 8192 = +bend_range.
        monophonic: True if at most one note sounds at a time (then an f0 label exists).
        pan: MIDI pan 0..127 (64 = centre).
    """

    name: str
    program: int
    channel: int
    notes: tuple[Note, ...]
    bends: tuple[Bend, ...] = ()
    bend_range: int = 2
    monophonic: bool = False
    pan: int = 64

    @property
    def is_drums(self) -> bool:
        """True for the GM percussion channel."""
        return self.channel == DRUM_CHANNEL

    @property
    def family(self) -> str:
        """Instrument family (``gm.FAMILIES``)."""
        return "drums" if self.is_drums else family_of_program(self.program)

    def bend_semitones(self, value: int) -> float:
        """Semitones of a 14-bit bend value on this track."""
        return value / 8192.0 * self.bend_range


@dataclass(frozen=True)
class Score:
    """A piece: tracks at one fixed tempo.

    Attributes:
        tempo_us: microseconds per quarter note (MIDI set_tempo), e.g. 500000 = 120 BPM.
        length: length of the piece in ticks; no note sounds past it.
        tracks: the stems.
        meta: what the generator chose (key, scale, style, progression...), JSON-serializable.
        ticks_per_beat: MIDI resolution.
    """

    tempo_us: int
    length: int
    tracks: tuple[Track, ...]
    meta: dict = field(default_factory=dict, compare=False, hash=False)
    ticks_per_beat: int = TICKS_PER_BEAT

    @property
    def bpm(self) -> float:
        """Tempo in quarter notes per minute."""
        return 60e6 / self.tempo_us

    def seconds(self, tick: int | float) -> float:
        """Time in seconds of a tick."""
        return tick * self.tempo_us / (self.ticks_per_beat * 1e6)

    @property
    def duration_s(self) -> float:
        """Length of the piece in seconds."""
        return self.seconds(self.length)


def ticks_for_seconds(seconds: float, tempo_us: int, ticks_per_beat: int = TICKS_PER_BEAT) -> int:
    """Ticks (rounded down) that fit in ``seconds`` at a tempo."""
    return int(seconds * 1e6 * ticks_per_beat // tempo_us)


def tempo_us_for_bpm(bpm: float) -> int:
    """MIDI tempo (microseconds per quarter note) for a BPM."""
    return int(round(60e6 / bpm))

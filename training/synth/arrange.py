"""Whole pieces: a monophonic clip, or a multi-track arrangement (drums, bass following a chord
progression, comping, an optional pad, a melody on top).

Channels: melody 0, chords 1, bass 2, pad 3, drums 9 (GM percussion).
"""
from __future__ import annotations

import numpy as np

from .drums import draw_style, generate_drums, style_by_name
from .gm import BY_PROGRAM, Instrument, instruments_for, mono_instruments
from .melody import Timing, generate_melody
from .score import TICKS_PER_BEAT, Note, Score, Track, tempo_us_for_bpm, ticks_for_seconds
from .theory import HEPTATONIC, PROGRESSIONS, SCALES, Key, choose, nearest_pitch, voicing

COMP_PATTERNS: dict[str, tuple[float, ...]] = {
    "sustain": (0.0,),
    "halves": (0.0, 2.0),
    "quarters": (0.0, 1.0, 2.0, 3.0),
    "offbeats": (0.5, 1.5, 2.5, 3.5),
    "charleston": (0.0, 1.5),
    "pushes": (0.0, 1.5, 2.5, 3.5),
}
"""Comping rhythms: chord onsets in beats within a bar (clipped to the meter)."""


def piece_timing(tempo_us: int, beats_per_bar: int, duration_s: float) -> Timing:
    """Timing of a piece of ``duration_s`` seconds."""
    return Timing(tick_s=tempo_us / (TICKS_PER_BEAT * 1e6), ticks_per_beat=TICKS_PER_BEAT,
                  beats_per_bar=beats_per_bar, length=ticks_for_seconds(duration_s, tempo_us))


def generate_mono(rng: np.random.Generator, duration_s: float,
                  instrument: Instrument | None = None) -> Score:
    """A monophonic clip: one melody in any scale, tempo 30..220 BPM (log-uniform).

    Args:
        rng: random generator.
        duration_s: length of the clip, seconds.
        instrument: force an instrument (None: drawn from every melodic family).
    """
    inst = instrument or choose(rng, mono_instruments())
    bpm = float(np.exp(rng.uniform(np.log(30), np.log(220))))
    tempo_us = tempo_us_for_bpm(bpm)
    beats = int(choose(rng, (3, 4), (0.3, 0.7)))
    scales = tuple(SCALES)
    key = Key(int(rng.integers(0, 12)), choose(rng, scales, [0.3 if s == "chromatic" else 1 for s in scales]))
    track = generate_melody(rng, inst, key, piece_timing(tempo_us, beats, duration_s))
    meta = {"kind": "mono", "bpm": 60e6 / tempo_us, "beats_per_bar": beats,
            "key": {"tonic": key.tonic, "scale": key.scale}, "instrument": inst.name}
    return Score(tempo_us, piece_timing(tempo_us, beats, duration_s).length, (track,), meta)


def _bass_bar(rng, key: Key, chord: tuple[int, ...], next_root: int, timing: Timing, start: int,
              pattern: str, register: tuple[int, int], prev: int) -> list[Note]:
    """Notes of one bar of bass; ``prev`` is the last bass pitch (the line moves smoothly)."""
    lo, hi = register
    q = timing.ticks_per_beat
    root = nearest_pitch((chord[0],), prev, lo, hi)
    fifth = nearest_pitch((chord[2],), root + 5, lo, hi)
    if pattern == "roots":
        plan = [(0, timing.bar, root)]
    elif pattern == "root_fifth":
        plan = [(b * q, q, root if b % 2 == 0 else fifth) for b in range(timing.beats_per_bar)]
    elif pattern == "eighths":
        plan = [(k * q // 2, q // 2, root) for k in range(2 * timing.beats_per_bar)]
    else:  # walking: chord tones, then a chromatic approach to the next root
        target = nearest_pitch((next_root,), root, lo, hi)
        walk = [root, nearest_pitch((chord[1],), root + 3, lo, hi), fifth, target + (1 if target < hi else -1)]
        plan = [(b * q, q, walk[b % 4]) for b in range(timing.beats_per_bar)]
        plan[-1] = (plan[-1][0], q, target + (1 if rng.random() < 0.5 and target < hi else -1))
    gate = 0.9 if pattern != "roots" else 0.97
    return [Note(start + t, start + t + max(1, int(d * gate)), int(p), int(np.clip(rng.normal(92, 8), 50, 120)))
            for t, d, p in plan if start + t < timing.length]


def generate_bass(rng, inst: Instrument, key: Key, chords: list[tuple[int, ...]], timing: Timing,
                  style: str) -> Track:
    """A bass line following the chords (one chord per bar), monophonic, channel 2."""
    pattern = {"jazz": "walking", "disco": "eighths", "metal": "eighths", "rock": "eighths"}.get(
        style, choose(rng, ("roots", "root_fifth", "eighths", "walking"), (1, 2, 1, 0.5)))
    register = (inst.low, min(inst.high, inst.low + 19))
    notes, prev = [], (register[0] + register[1]) / 2
    for bar, chord in enumerate(chords):
        nxt = chords[(bar + 1) % len(chords)][0]
        bar_notes = _bass_bar(rng, key, chord, nxt, timing, bar * timing.bar, pattern, register, prev)
        notes += [Note(n.onset, min(n.offset, timing.length), n.pitch, n.velocity) for n in bar_notes]
        prev = notes[-1].pitch if notes else prev
    return Track(name="bass", program=inst.program, channel=2, notes=tuple(notes), monophonic=True)


def generate_comping(rng, inst: Instrument, chords: list[tuple[int, ...]], timing: Timing,
                     pattern: str, name: str = "chords", channel: int = 1, center: float = 60.0) -> Track:
    """Chords in close voicing near ``center``, on the comping rhythm ``pattern``; a strum
    spreads the notes of a chord by a few milliseconds (guitars and harp)."""
    onsets = [b for b in COMP_PATTERNS[pattern] if b < timing.beats_per_bar]
    strum_ticks = int(round(0.012 / timing.tick_s)) if inst.family == "guitar" or inst.program == 46 else 0
    lo, hi = max(inst.low, 48), min(inst.high, 79)
    notes = []
    for bar, chord in enumerate(chords):
        voiced = voicing(chord, center, lo, hi)
        ends = [int(b * timing.ticks_per_beat) for b in onsets[1:]] + [timing.bar]
        vel = int(np.clip(rng.normal(78, 10), 40, 115))
        gate = 1.0 if pattern == "sustain" else 0.95
        for beat, end in zip(onsets, ends):
            start = int(beat * timing.ticks_per_beat)
            on = bar * timing.bar + start
            off = min(on + int((end - start) * gate), timing.length)
            for k, pitch in enumerate(voiced):
                if on + k * strum_ticks < off:
                    notes.append(Note(on + k * strum_ticks, off, pitch, vel))
    notes.sort(key=lambda n: (n.onset, n.pitch))
    return Track(name=name, program=inst.program, channel=channel, notes=tuple(notes),
                 pan=int(rng.integers(40, 89)))


def chords_for(key: Key, progression: tuple[int, ...], n_bars: int, sevenths: bool) -> list[tuple[int, ...]]:
    """Pitch classes of the chord of each bar, cycling through the progression."""
    return [key.chord(progression[b % len(progression)], 4 if sevenths else 3) for b in range(n_bars)]


def generate_multi(rng: np.random.Generator, duration_s: float, melody: Instrument | None = None,
                   style_name: str | None = None, pad: bool | None = None,
                   comping: Instrument | None = None) -> Score:
    """A multi-track piece: drums, bass, chords, optional pad, melody on top.

    Args:
        rng: random generator.
        duration_s: length, seconds.
        melody: force the melody instrument (None: drawn).
        style_name: force the drum style (None: drawn).
        pad: force a pad/strings layer on or off (None: drawn, p = 0.4).
        comping: force the chord instrument (None: drawn).
    """
    style = style_by_name(style_name) if style_name else draw_style(rng)
    bpm = float(np.clip(rng.uniform(*style.bpm), 30, 220))
    tempo_us = tempo_us_for_bpm(bpm)
    timing = piece_timing(tempo_us, style.beats_per_bar, duration_s)
    key = Key(int(rng.integers(0, 12)), choose(rng, HEPTATONIC))
    prog_name = choose(rng, tuple(PROGRESSIONS))
    n_bars = -(-timing.length // timing.bar)
    chords = chords_for(key, PROGRESSIONS[prog_name], n_bars, sevenths=style.name == "jazz")
    comp_inst = comping or choose(rng, instruments_for("chords"))
    comp_pattern = "sustain" if comp_inst.continuous else choose(rng, tuple(COMP_PATTERNS)[1:])
    mel_inst = melody or choose(rng, [i for i in instruments_for("melody") if i.high >= 72])
    tracks = [
        generate_melody(rng, mel_inst, key, timing, chords, low=max(60, min(mel_inst.high - 14, 67))),
        generate_comping(rng, comp_inst, chords, timing, comp_pattern),
        generate_bass(rng, choose(rng, instruments_for("bass")), key, chords, timing, style.name),
        generate_drums(rng, style, TICKS_PER_BEAT, timing.length),
    ]
    if pad if pad is not None else rng.random() < 0.4:
        pads = [i for i in instruments_for("chords") if i.continuous and i.program != comp_inst.program]
        tracks.insert(2, generate_comping(rng, choose(rng, pads), chords, timing, "sustain",
                                          name="pad", channel=3, center=55.0))
    meta = {"kind": "multi", "bpm": 60e6 / tempo_us, "beats_per_bar": style.beats_per_bar,
            "key": {"tonic": key.tonic, "scale": key.scale}, "style": style.name,
            "progression": prog_name, "comping": comp_pattern,
            "instruments": {t.name: ("GM drums (standard kit)" if t.is_drums else BY_PROGRAM[t.program].name)
                            for t in tracks}}
    return Score(tempo_us, timing.length, tuple(tracks), meta)

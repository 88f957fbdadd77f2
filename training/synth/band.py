"""Band pieces for tagging: 1-6 parts that enter, leave and double, at realistic levels.

A ``multi`` piece (``arrange.generate_multi``) has the same four or five parts playing from the
first bar to the last. A tagger must learn when drums come in and the bass drops out, so here:

- the parts are drawn from drums, bass, chords (comping), pad, melody and a second line that
  doubles the melody an octave away or plays it in thirds (another instrument, often of another
  family): 1-6 of them, 3-4 most often;
- each part plays the whole piece, or enters at one bar and leaves at a later one, or plays only
  some sections of 2-4 bars (with at least one bar of it in the piece);
- each part has a level in dB (``meta["levels_db"]``, applied to its stem before mixing by
  ``build``): a pad or a doubling line may sit 20 dB under the drums.

Channels: melody 0, chords 1, bass 2, pad 3, double 4, drums 9.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .arrange import COMP_PATTERNS, chords_for, generate_bass, generate_comping, piece_timing
from .drums import draw_style, generate_drums
from .gm import BY_PROGRAM, Instrument, instruments_for
from .melody import Timing, generate_melody
from .score import TICKS_PER_BEAT, Note, Score, Track, tempo_us_for_bpm
from .theory import HEPTATONIC, PROGRESSIONS, Key, choose

PARTS: tuple[str, ...] = ("drums", "bass", "chords", "pad", "melody", "double")
"""The parts a band piece draws from (track names)."""

N_PARTS_WEIGHTS = (1.0, 1.5, 3.0, 3.0, 2.0, 1.0)
"""Relative weights of 1..6 parts."""

LEVELS_DB: dict[str, tuple[float, float]] = {
    "drums": (-6.0, 0.0), "bass": (-10.0, 0.0), "chords": (-14.0, 0.0), "pad": (-22.0, -6.0),
    "melody": (-8.0, 0.0), "double": (-20.0, -4.0),
}
"""Uniform range of each part's level, dB (before the mix is normalized)."""


def bar_mask(rng: np.random.Generator, n_bars: int) -> np.ndarray:
    """``[n_bars]`` bool, never all False: the bars a part plays (throughout, one entry and exit,
    or sections)."""
    how = choose(rng, ("throughout", "span", "sections"), (0.4, 0.35, 0.25))
    mask = np.zeros(n_bars, bool)
    if how == "throughout" or n_bars < 2:
        mask[:] = True
    elif how == "span":
        start = int(rng.integers(0, n_bars))
        stop = int(rng.integers(start + 1, n_bars + 1))
        mask[start:stop] = True
    else:
        bar = 0
        while bar < n_bars:
            length = int(rng.integers(2, 5))
            mask[bar:bar + length] = rng.random() < 0.5
            bar += length
        if not mask.any():
            mask[int(rng.integers(0, n_bars))] = True
    return mask


def keep_bars(track: Track, mask: np.ndarray, timing: Timing) -> Track:
    """The track with only the notes that start in a bar of ``mask`` (cut at that section's end)."""
    notes = []
    for n in track.notes:
        bar = min(n.onset // timing.bar, len(mask) - 1)
        if mask[bar]:
            end_bar = bar
            while end_bar + 1 < len(mask) and mask[end_bar + 1]:
                end_bar += 1
            offset = min(n.offset, (end_bar + 1) * timing.bar, timing.length)
            if offset > n.onset:
                notes.append(Note(n.onset, offset, n.pitch, n.velocity))
    return replace(track, notes=tuple(notes))  # bends kept whole: a bend sounds only under a note


def doubling(rng: np.random.Generator, melody: Track, inst: Instrument, key: Key) -> Track:
    """A second line on the melody's rhythm: an octave away, or a diatonic third below,
    within ``inst``'s range (notes that do not fit are dropped)."""
    mode = choose(rng, ("octave_up", "octave_down", "third_below"), (1.0, 1.0, 1.0))
    scale = [p for p in range(128) if (p - key.tonic) % 12 in key.steps]
    notes = []
    for n in melody.notes:
        if mode == "octave_up":
            pitch = n.pitch + 12
        elif mode == "octave_down":
            pitch = n.pitch - 12
        else:
            below = [p for p in scale if p < n.pitch]
            pitch = below[-2] if len(below) >= 2 else n.pitch - 3
        if inst.low <= pitch <= inst.high:
            notes.append(Note(n.onset, n.offset, pitch, int(np.clip(n.velocity - 8, 30, 127))))
    return Track(name="double", program=inst.program, channel=4, notes=tuple(notes), monophonic=True,
                 pan=int(rng.integers(30, 99)))


def part_masks(rng: np.random.Generator, tracks: dict[str, Track], n_bars: int, timing: Timing) -> dict[str, np.ndarray]:
    """A ``bar_mask`` per part that keeps at least one of its notes (a bar where one starts); a
    doubling plays only where its melody does."""
    masks = {}
    for name, track in tracks.items():
        starts = np.zeros(n_bars, bool)
        starts[[min(n.onset // timing.bar, n_bars - 1) for n in track.notes]] = bool(track.notes)
        mask = bar_mask(rng, n_bars)
        if starts.any() and not (mask & starts).any():
            mask[int(rng.choice(np.flatnonzero(starts)))] = True
        masks[name] = mask
    if "double" in masks:
        masks["double"] &= masks["melody"]
    return masks


def generate_band(rng: np.random.Generator, duration_s: float, n_parts: int | None = None) -> Score:
    """A band piece of 1-6 parts (module docstring).

    Args:
        rng: random generator (all randomness comes from it).
        duration_s: length, seconds.
        n_parts: force the number of parts (None: drawn with ``N_PARTS_WEIGHTS``).
    """
    style = draw_style(rng)
    bpm = float(np.clip(rng.uniform(*style.bpm), 30, 220))
    tempo_us = tempo_us_for_bpm(bpm)
    timing = piece_timing(tempo_us, style.beats_per_bar, duration_s)
    key = Key(int(rng.integers(0, 12)), choose(rng, HEPTATONIC))
    n_bars = -(-timing.length // timing.bar)
    chords = chords_for(key, PROGRESSIONS[choose(rng, tuple(PROGRESSIONS))], n_bars, sevenths=style.name == "jazz")
    n = n_parts or 1 + int(choose(rng, tuple(range(6)), N_PARTS_WEIGHTS))
    names = [PARTS[i] for i in rng.choice(len(PARTS), size=n, replace=False)]
    if "double" in names and "melody" not in names:  # a doubling needs its melody
        names[names.index("double")] = "melody"
    tracks: dict[str, Track] = {}
    mel_inst = choose(rng, [i for i in instruments_for("melody") if i.high >= 72])
    if "melody" in names:
        tracks["melody"] = generate_melody(rng, mel_inst, key, timing, chords, low=max(60, min(mel_inst.high - 14, 67)))
    comp = choose(rng, instruments_for("chords"))
    if "chords" in names:
        pattern = "sustain" if comp.continuous else choose(rng, tuple(COMP_PATTERNS)[1:])
        tracks["chords"] = generate_comping(rng, comp, chords, timing, pattern)
    if "pad" in names:
        pads = [i for i in instruments_for("chords") if i.continuous and i.program != comp.program]
        tracks["pad"] = generate_comping(rng, choose(rng, pads), chords, timing, "sustain", name="pad", channel=3,
                                         center=55.0)
    if "bass" in names:
        tracks["bass"] = generate_bass(rng, choose(rng, instruments_for("bass")), key, chords, timing, style.name)
    if "drums" in names:
        tracks["drums"] = generate_drums(rng, style, TICKS_PER_BEAT, timing.length)
    if "double" in names:
        others = [i for i in instruments_for("melody") if i.program != mel_inst.program]
        other_family = [i for i in others if i.family != mel_inst.family]
        inst = choose(rng, other_family if other_family and rng.random() < 0.8 else others)
        tracks["double"] = doubling(rng, tracks["melody"], inst, key)
    masks = part_masks(rng, tracks, n_bars, timing)
    ordered = [keep_bars(tracks[name], masks[name], timing) for name in PARTS if name in tracks]
    ordered = [t for t in ordered if t.notes]  # a doubling whose notes all fall out of its range or its bars
    levels = {t.name: round(float(rng.uniform(*LEVELS_DB[t.name])), 2) for t in ordered}
    meta = {"kind": "band", "bpm": 60e6 / tempo_us, "beats_per_bar": style.beats_per_bar,
            "key": {"tonic": key.tonic, "scale": key.scale}, "style": style.name, "levels_db": levels,
            "bar_ticks": timing.bar,
            "bars": {t.name: masks[t.name].astype(int).tolist() for t in ordered},
            "instruments": {t.name: ("GM drums (standard kit)" if t.is_drums else BY_PROGRAM[t.program].name)
                            for t in ordered}}
    return Score(tempo_us, timing.length, tuple(ordered), meta)

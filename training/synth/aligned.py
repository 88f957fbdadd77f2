"""Labels from the audio: a note is voiced while its own render is periodic at its f0 and audible.

MIDI times say when a key went down, not when the instrument sounds a pitch: a bow, pluck or
hammer is noise for its first milliseconds, and a release rings on after note-off. Here every
note's own signal is rendered and measured:

- A monophonic track's notes are rendered in two interleaved groups (even and odd notes: same
  program, channel, bends and pan; ``render_groups``), so that within a group note ``i`` sounds
  alone from its onset to the group's next onset (note ``i + 2``'s), legato included.
- Note ``i`` is voiced from the first frame at or after its onset where its group's render is
  periodic at the note's f0 (normalized autocorrelation at the f0's period ≥ ``PERIODIC``,
  over a window of ``PERIODS`` periods and at least ``MIN_WINDOW_S``), until the last frame,
  before the group's next onset, where that render is within ``AUDIBLE_DB`` of the clip's loudest
  frame and still periodic (≥ ``SUSTAIN``): the release tail is voiced while it is audible.
- A frame inside two notes' spans takes the note that started last (the new note once it is
  periodic; until then the tail of the old one, which is what sounds).
- A polyphonic track (chords, pads) is split the same way into as few groups as it needs
  (``note_groups``: a note joins the group that has been free longest, so a chord of four
  notes sounds in four renders); each note is measured on its own group's render up to that
  group's next onset. This gives every pitched note of every stem its sounding span, the
  offsets of the notes task (``sounding_spans``): a note is heard from its attack — the first
  frame from its MIDI onset where its own render is audible and has risen ``ATTACK_RISE_DB``
  over the frame before the onset (what rang on in the group before it) — to its last audible
  frame; a bass whose pitch needs 80 ms to settle has started to sound before, and a release
  is heard as long as it is audible. Drum hits keep their MIDI onsets: the renders are shifted
  by the soundfont's measured note-on delay, and a hit has no pitch to measure.

Frames are ``labels.FRAME_RATE`` per second, frame k centred on k / FRAME_RATE s, as the
MIDI-timed labels (``labels.f0_track``) which stay available for comparison.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from .labels import FRAME_RATE, bend_at, frame_ticks
from .midi import score_to_midi
from .render import Renderer
from .score import Score, Track

PERIODIC = 0.8
"""Normalized autocorrelation at the f0's period from which a frame counts as periodic."""
PERIODS = 3
"""Window of the periodicity measure, in periods of the note's f0."""
MIN_WINDOW_S = 0.02
"""Shortest window of the periodicity and energy measures (s)."""
SUSTAIN = 0.45
"""Periodicity a voiced note keeps until its end (Praat's default voicing threshold): a release
stays voiced while it is audible *and* still periodic at the note's f0."""
AUDIBLE_DB = -30.0
"""A note is audible while its own render's frame energy is within this of the clip's loudest frame."""

GROUP_GAP_S = 0.25
"""A polyphonic group takes a note only once its last note has been off this long (MIDI time)."""
ATTACK_RISE_DB = 3.0
"""A note's attack: its group's level has risen this much over the frame before its MIDI onset."""

CONVENTION = {"name": "aligned-v1", "periodic": PERIODIC, "sustain": SUSTAIN, "periods": PERIODS,
              "min_window_s": MIN_WINDOW_S, "audible_db": AUDIBLE_DB, "frame_rate": FRAME_RATE,
              "attack_rise_db": ATTACK_RISE_DB, "group_gap_s": GROUP_GAP_S}
"""What a card or an example's meta records of the label convention."""


def split_groups(track: Track) -> tuple[Track, Track]:
    """The track's even and odd notes as two tracks (same program, channel, bends, pan)."""
    return (replace(track, name=f"{track.name}.even", notes=track.notes[0::2]),
            replace(track, name=f"{track.name}.odd", notes=track.notes[1::2]))


def note_groups(track: Track, gap_ticks: int = 0) -> list[int]:
    """The group of each note: even / odd for a monophonic track (``split_groups``); for a
    polyphonic one, the group free longest (its last note off, in MIDI time, at least
    ``gap_ticks`` before this onset, so that a chord struck again does not continue in the same
    render), a new group when none is free."""
    if track.monophonic:
        return [i % 2 for i in range(len(track.notes))]
    free_at: list[int] = []  # per group, the MIDI offset (ticks) of its last note
    out = []
    for note in track.notes:
        free = [g for g, t in enumerate(free_at) if t + gap_ticks <= note.onset]
        g = min(free, key=lambda g: free_at[g]) if free else len(free_at)
        if g == len(free_at):
            free_at.append(note.offset)
        free_at[g] = note.offset
        out.append(g)
    return out


def group_gap_ticks(score: Score) -> int:
    """``GROUP_GAP_S`` in the score's ticks."""
    return int(round(GROUP_GAP_S * score.ticks_per_beat * 1e6 / score.tempo_us))


def render_note_groups(score: Score, track: Track, soundfont: Path, renderer: Renderer, offset_samples: int,
                       n_samples: int, groups: list[int] | None = None, n_groups: int = 0) -> list[np.ndarray]:
    """Mono renders ``[n_samples]`` float32, one per group of ``groups`` (default
    ``note_groups`` with ``GROUP_GAP_S``; at least ``n_groups``, an empty group renders silence), of that
    group's notes alone, aligned like ``render.render_stems`` (the soundfont's onset offset removed)."""
    groups = note_groups(track, group_gap_ticks(score)) if groups is None else groups
    out = []
    for g in range(max(max(groups, default=-1) + 1, n_groups)):
        notes = tuple(n for n, k in zip(track.notes, groups) if k == g)
        alone = replace(score, tracks=(replace(track, name=f"{track.name}.{g}", notes=notes),))
        audio = renderer.render(score_to_midi(alone), soundfont, offset_samples + n_samples)
        out.append(audio[:, offset_samples:offset_samples + n_samples].mean(axis=0).astype(np.float32))
    return out


def render_groups(score: Score, track: Track, soundfont: Path, renderer: Renderer, offset_samples: int,
                  n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Mono renders ``[n_samples]`` float32 of a monophonic track's even and odd notes
    (``render_note_groups`` with two groups)."""
    even, odd = render_note_groups(score, track, soundfont, renderer, offset_samples, n_samples,
                                   [i % 2 for i in range(len(track.notes))], n_groups=2)
    return even, odd


def frame_db(x: np.ndarray, sr: int, n_frames: int, win_s: float = MIN_WINDOW_S) -> np.ndarray:
    """RMS level ``[n_frames]`` (dB re full scale) of mono ``x`` over a window centred on each frame."""
    w = max(1, int(win_s * sr))
    power = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    centres = np.round(np.arange(n_frames) * sr / FRAME_RATE).astype(np.int64)
    lo, hi = np.clip(centres - w // 2, 0, len(x)), np.clip(centres + w - w // 2, 0, len(x))
    mean = (power[hi] - power[lo]) / np.maximum(hi - lo, 1)
    return 10.0 * np.log10(mean + 1e-20)


def periodicity(x: np.ndarray, sr: int, f0: np.ndarray) -> np.ndarray:
    """Normalized autocorrelation ``[n_frames]`` of mono ``x`` at the period of ``f0[k]`` (Hz; 0:
    not measured, 0 returned), over ``max(PERIODS periods, MIN_WINDOW_S)`` centred on frame k."""
    out = np.zeros(len(f0))
    for k in np.flatnonzero(f0 > 0):
        lag = int(round(sr / f0[k]))
        w = max(int(PERIODS * lag), int(MIN_WINDOW_S * sr))
        start = int(round(k * sr / FRAME_RATE)) - (w + lag) // 2
        if start < 0 or start + w + lag > len(x):
            continue
        a, b = x[start:start + w], x[start + lag:start + lag + w]
        den = np.sqrt(float(np.dot(a, a)) * float(np.dot(b, b)))
        out[k] = float(np.dot(a, b)) / den if den > 0 else 0.0
    return out


def note_f0(score: Score, track: Track, n_frames: int) -> np.ndarray:
    """``[len(track.notes), n_frames]`` f0 (Hz) of each note at every frame (its pitch plus the
    bend in force at the frame), as if it were sounding there."""
    bend = bend_at(track, frame_ticks(score, n_frames))
    pitch = np.array([n.pitch for n in track.notes], np.float64)[:, None]
    return 440.0 * 2.0 ** ((pitch + bend[None, :] - 69.0) / 12.0)


def note_spans(score: Score, track: Track, groups: tuple[np.ndarray, ...] | list[np.ndarray], sr: int,
               n_frames: int, ref_db: float, assign: list[int] | None = None) -> list[tuple[int, int] | None]:
    """Per note, its voiced frames ``[first, last)`` measured on its own group's render (None:
    never periodic and audible — e.g. a note too short or too quiet to have a pitch).

    Args:
        groups: the renders of the note groups, mono, at ``sr`` (``render_groups`` for a
            monophonic track, ``render_note_groups`` for any).
        ref_db: the clip's loudest frame (dB), the reference of ``AUDIBLE_DB``.
        assign: each note's group (default: even / odd).
    """
    f0 = note_f0(score, track, n_frames)
    assign = [i % 2 for i in range(len(track.notes))] if assign is None else assign
    levels = [frame_db(g, sr, n_frames) for g in groups]
    spans: list[tuple[int, int] | None] = []
    for i, note in enumerate(track.notes):
        g = groups[assign[i]]
        k0 = int(np.ceil(score.seconds(note.onset) * FRAME_RATE))
        later = [track.notes[j].onset for j in range(i + 1, len(track.notes)) if assign[j] == assign[i]]
        nxt = later[0] if later else None
        k_end = n_frames if nxt is None else min(n_frames, int(np.ceil(score.seconds(nxt) * FRAME_RATE)))
        if k0 >= k_end:
            spans.append(None)
            continue
        audible = levels[assign[i]][k0:k_end] >= ref_db + AUDIBLE_DB
        window = np.zeros(n_frames)
        window[k0:k_end] = np.where(audible, f0[i, k0:k_end], 0.0)
        r = periodicity(g, sr, window)[k0:k_end]
        if not (r >= PERIODIC).any():
            spans.append(None)
            continue
        first = k0 + int(np.argmax(r >= PERIODIC))
        sounding = np.flatnonzero(audible & (r >= SUSTAIN))
        last = k0 + int(sounding[-1]) + 1
        spans.append((first, last) if last > first else None)
    return spans


def sounding_spans(score: Score, track: Track, groups: tuple[np.ndarray, ...] | list[np.ndarray], sr: int,
                   n_frames: int, ref_db: float, assign: list[int] | None = None) -> list[tuple[int, int] | None]:
    """Per note, the frames ``[attack, end)`` it is heard (None: never heard over what rang before
    it): the attack is the first frame from its MIDI onset where its group's level is audible
    (``AUDIBLE_DB``) and ``ATTACK_RISE_DB`` above the frame before the onset; the end follows its
    last audible frame before the group's next onset. Pitch is not measured: a note of a drawbar
    organ, whose sub-octave stop makes it periodic at twice its period, sounds all the same."""
    assign = [i % 2 for i in range(len(track.notes))] if assign is None else assign
    levels = [frame_db(g, sr, n_frames) for g in groups]
    out: list[tuple[int, int] | None] = []
    for i, note in enumerate(track.notes):
        level = levels[assign[i]]
        k0 = int(np.ceil(score.seconds(note.onset) * FRAME_RATE))
        later = [track.notes[j].onset for j in range(i + 1, len(track.notes)) if assign[j] == assign[i]]
        k_end = n_frames if not later else min(n_frames, int(np.ceil(score.seconds(later[0]) * FRAME_RATE)))
        before = level[k0 - 1] if 0 < k0 <= n_frames else -np.inf
        audible = level[k0:k_end] >= ref_db + AUDIBLE_DB
        heard = np.flatnonzero(audible & (level[k0:k_end] >= before + ATTACK_RISE_DB))
        if k0 >= k_end or not len(heard):
            out.append(None)
            continue
        out.append((k0 + int(heard[0]), k0 + int(np.flatnonzero(audible)[-1]) + 1))
    return out


def aligned_f0(score: Score, track: Track, groups: tuple[np.ndarray, np.ndarray], sr: int, n_frames: int,
               ref_db: float) -> np.ndarray:
    """The f0 label ``[n_frames]`` float32 (Hz, 0 = unvoiced) of a monophonic track, from the audio
    (module docstring): the note that started last among those voiced at a frame."""
    f0 = note_f0(score, track, n_frames)
    out = np.zeros(n_frames, np.float32)
    for i, span in enumerate(note_spans(score, track, groups, sr, n_frames, ref_db)):
        if span is not None:  # later notes overwrite: the newest voiced note wins
            out[span[0]:span[1]] = f0[i, span[0]:span[1]]
    return out


def clip_ref_db(stems: dict[str, np.ndarray], sr: int, n_frames: int) -> float:
    """The clip's loudest frame (dB re full scale) of the mono mix of ``stems`` ``[C, N]``."""
    mix = sum(s.mean(axis=0) for s in stems.values())
    return float(frame_db(np.asarray(mix, np.float32), sr, n_frames).max())

"""Audio-aligned f0 labels (``training.synth.aligned``), on real FluidSynth renders.

The reference is the independent offline YIN of ``training.synth.alignment`` (it sees only the
audio): aligned labels must agree with it better than MIDI-timed ones, voice release tails while
they sound, and hand over to a legato note once that note is periodic.
"""
from __future__ import annotations

import numpy as np
import pytest
import soxr

from training.synth.aligned import CONVENTION, aligned_f0, clip_ref_db, note_spans, render_groups, split_groups
from training.synth.alignment import yin
from training.synth.arrange import generate_mono
from training.synth.gm import BY_PROGRAM
from training.synth.labels import FRAME_RATE, f0_track
from training.synth.render import render_stems
from training.synth.score import Note, Score, Track, tempo_us_for_bpm

pytestmark = pytest.mark.fluidsynth
SR = 44100
FONT = "FluidR3_GM"


def _voicing_agreement(label: np.ndarray, ref: np.ndarray) -> float:
    """Frames where label and reference agree: both unvoiced, or both voiced within 50 cents."""
    both = (label > 0) & (ref > 0)
    cents = np.zeros(len(label))
    cents[both] = 1200 * np.abs(np.log2(label[both] / ref[both]))
    return float(np.mean(((label == 0) & (ref == 0)) | (both & (cents < 50))))


def _labels(score: Score, fonts, renderer, seconds: float):
    path, offset = fonts(FONT)
    n, nf = int(seconds * SR), int(round(seconds * FRAME_RATE))
    stems = render_stems(score, path, renderer, offset, n)
    track = score.tracks[0]
    groups = render_groups(score, track, path, renderer, offset, n)
    aligned = aligned_f0(score, track, groups, SR, nf, clip_ref_db(stems, SR, nf))
    x = soxr.resample(stems[track.name].mean(axis=0).astype(np.float64), SR, 22050)
    # the reference must reach every note the generator may draw (piano A0 ... violin G7)
    ref = yin(x / (np.abs(x).max() + 1e-12), 22050, nf, fmin=27.0, fmax=4200.0, win_s=0.05)
    return f0_track(score, track, nf), aligned, ref, groups, stems


def test_groups_are_the_even_and_odd_notes_with_the_same_sound():
    notes = tuple(Note(100 * k, 100 * k + 150, 60 + k, 90) for k in range(5))
    track = Track("melody", 40, 0, notes, monophonic=True, pan=30)
    even, odd = split_groups(track)
    assert even.notes == notes[0::2] and odd.notes == notes[1::2]
    assert (even.program, even.channel, even.pan, odd.program) == (40, 0, 30, 40)


@pytest.mark.parametrize("program", [40, 0, 73, 33], ids=["violin", "piano", "flute", "bass"])
def test_aligned_labels_agree_with_the_audio_better_than_midi_times(fonts, renderer, program):
    seconds = 6.0
    score = generate_mono(np.random.default_rng(11 + program), seconds, instrument=BY_PROGRAM[program])
    midi, aligned, ref, _, _ = _labels(score, fonts, renderer, seconds)
    a_midi, a_aligned = _voicing_agreement(midi, ref), _voicing_agreement(aligned, ref)
    # measured (MIDI-timed → aligned), melodies drawn over the instruments' whole ranges: violin
    # B5-B6 0.52 → 0.76 (the reference YIN halves some 1760 Hz frames), piano E1-D2 0.90 → 0.93,
    # flute 0.85 → 0.88, bass G1-D#2 0.957 → 0.965
    assert a_aligned > a_midi and a_aligned >= 0.72, (a_midi, a_aligned)
    assert (aligned > 0).sum() > 0.3 * len(aligned)  # not vacuous


def test_a_release_is_voiced_while_it_sounds_and_an_attack_only_once_periodic(fonts, renderer):
    """One piano note held 0.5 s then released: voiced past note-off (its tail rings), never
    before its onset; and the label stops before the clip ends (the tail dies out)."""
    tempo = tempo_us_for_bpm(120)  # 960 ticks per beat: 0.5 s per beat
    score = Score(tempo, 960 * 8, (Track("melody", 0, 0, (Note(960, 1920, 60, 100),), monophonic=True),))
    midi, aligned, _, _, _ = _labels(score, fonts, renderer, 4.0)
    on, off = np.flatnonzero(midi)[[0, -1]]
    voiced = np.flatnonzero(aligned)
    assert voiced[0] >= on and voiced[-1] > off + 2, (on, off, voiced[[0, -1]])
    assert voiced[-1] < len(aligned) - 20


def test_legato_hands_over_to_the_new_note_once_it_is_periodic(fonts, renderer):
    """Violin A4 then C5 overlapping by 0.25 s: after C5 is voiced, no frame says A4."""
    tempo = tempo_us_for_bpm(120)
    notes = (Note(960, 2400, 69, 100), Note(1920, 3840, 72, 100))  # the second starts 0.5 s before the first ends
    score = Score(tempo, 960 * 6, (Track("melody", 40, 0, notes, monophonic=True),))
    _, aligned, _, groups, stems = _labels(score, fonts, renderer, 3.0)
    a4, c5 = 440.0, 440.0 * 2 ** (3 / 12)
    spans = note_spans(score, score.tracks[0], groups, SR, len(aligned), clip_ref_db(stems, SR, len(aligned)))
    assert spans[0] is not None and spans[1] is not None and spans[1][0] < spans[0][1]  # they overlap
    after = aligned[spans[1][0]:spans[1][1]]
    assert np.allclose(after, c5, rtol=1e-3), np.unique(after)
    assert np.allclose(aligned[spans[0][0]:spans[1][0]], a4, rtol=1e-3)


def test_a_build_with_aligned_labels_records_its_convention(tmp_path):
    from training.synth.build import BuildConfig, synthesize
    from training.synth.build import SoundfontInfo
    from training.synth.render import RenderConfig, Renderer, measure_onset_offset
    from training.synth.soundfonts import resolve_soundfont

    renderer = Renderer(RenderConfig(SR))
    try:
        path = resolve_soundfont(FONT)
        font = SoundfontInfo(FONT, str(path), measure_onset_offset(path, renderer))
        cfg = BuildConfig(kind="mono", split="train", duration_s=3.0, augment=False, labels="aligned")
        _, _, _, labels, meta = synthesize(cfg, 0, [font], renderer)
        _, _, _, midi_labels, midi_meta = synthesize(BuildConfig(kind="mono", split="train", duration_s=3.0,
                                                                 augment=False), 0, [font], renderer)
    finally:
        renderer.close()
    assert meta["label_convention"] == CONVENTION and midi_meta["label_convention"] == {"name": "midi"}
    (stem,) = labels.f0
    assert not np.array_equal(labels.f0[stem], midi_labels.f0[stem])  # measured, not copied
    assert np.array_equal(labels.activity, midi_labels.activity)  # families: unchanged here
    # each note of the monophonic stem says when it is voiced, on the label's own frames
    timed = [n for n in meta["notes"] if "voiced_from_s" in n]
    assert timed and len(timed) == len(meta["notes"])
    for n in timed:
        if n["voiced_from_s"] is not None:
            assert n["onset_s"] <= n["voiced_from_s"] + 0.01 and n["voiced_to_s"] > n["voiced_from_s"]
            k = int(round(n["voiced_from_s"] * FRAME_RATE))
            assert labels.f0[stem][k] > 0

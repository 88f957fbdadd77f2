"""Polyphonic aligned note spans (``training.synth.aligned``) on real FluidSynth renders: a chord's
notes get a render each, a held note rings past its note-off, a slow attack starts where it is
heard, and a built example stores every pitched note's span."""
from __future__ import annotations

import json

import numpy as np
import pytest

from training.synth.aligned import clip_ref_db, group_gap_ticks, note_groups, note_spans, render_note_groups, sounding_spans
from training.synth.labels import FRAME_RATE
from training.synth.render import render_stems
from training.synth.score import Note, Score, Track, tempo_us_for_bpm

SR = 44100


def test_groups_split_overlapping_notes_and_reuse_the_group_free_longest():
    chord = (Note(0, 960, 60, 90), Note(0, 960, 64, 90), Note(0, 960, 67, 90),
             Note(960, 1920, 62, 90), Note(960, 1920, 65, 90), Note(1440, 1920, 69, 90))
    groups = note_groups(Track("chords", 0, 1, chord))
    assert groups[:3] == [0, 1, 2] and len(set(groups[3:5])) == 2 and groups[5] not in groups[3:5]
    assert max(groups) == 2  # never more groups than notes sounding at once
    again = note_groups(Track("pad", 0, 1, chord[:3] + tuple(Note(960, 1920, n.pitch, 90) for n in chord[:3])), 240)
    assert again == [0, 1, 2, 3, 4, 5]  # struck again at once: not in the renders still sounding
    mono = Track("melody", 0, 0, chord[:1] + chord[3:4], monophonic=True)
    assert note_groups(mono) == [0, 1]


@pytest.mark.fluidsynth
def test_every_note_of_a_chord_is_measured_on_its_own_render(fonts, renderer):
    path, offset = fonts("FluidR3_GM")
    tempo = tempo_us_for_bpm(120)  # 480 ticks = 0.5 s
    notes = (Note(480, 1440, 48, 100), Note(480, 1440, 52, 100), Note(480, 1440, 55, 100),  # piano chord 0.5-1.5 s
             Note(1920, 2400, 60, 100))  # then C4 2.0-2.5 s, in a group the chord left
    piano = Track("chords", 0, 1, notes)
    strings = Track("pad", 48, 3, (Note(480, 2880, 67, 100),))  # String Ensemble 1: a slow attack
    score = Score(tempo, 3500, (piano, strings))
    n, nf = int(3.5 * SR), int(3.5 * FRAME_RATE)
    stems = render_stems(score, path, renderer, offset, n)
    ref = clip_ref_db(stems, SR, nf)
    for track in score.tracks:
        assign = note_groups(track, group_gap_ticks(score))
        groups = render_note_groups(score, track, path, renderer, offset, n, assign)
        assert len(groups) == max(assign) + 1
        spans = note_spans(score, track, groups, SR, nf, ref, assign)
        heard = sounding_spans(score, track, groups, SR, nf, ref, assign)
        for note, span, sound in zip(track.notes, spans, heard):
            k_on, k_off = (int(round(score.seconds(t) * FRAME_RATE)) for t in (note.onset, note.offset))
            assert sound is not None and span is not None and k_on <= sound[0] <= span[0] < span[1], (track.name, note)
            assert sound[1] > k_off  # the release rings on past note-off
            if track.name == "chords":
                assert sound[0] - k_on <= 2  # a hammer: heard within 20 ms
            else:
                assert sound[0] < span[0]  # a bowed ensemble is heard before it is periodic


@pytest.mark.fluidsynth
def test_a_built_band_example_stores_a_span_for_its_pitched_notes(tmp_path):
    from training.notes.labels import example_notes, targets
    from training.synth.__main__ import main as synth_main
    from training.synth.folder import SynthFolder

    out = tmp_path / "band"
    assert synth_main(["--kind", "band", "--split", "train", "--n", "2", "--duration", "4", "--seed", "3", "--out",
                       str(out), "--workers", "1", "--no-augment", "--soundfont", "TimGM6mb", "--labels", "aligned"]) == 0
    folder = SynthFolder(out)
    for i in range(len(folder)):
        labels, meta = folder.labels(i), folder.meta(i)
        pitched = [n for n in meta["notes"] if not n["drum"]]
        assert pitched and all("attack_s" in n for n in pitched)
        sounding = [n for n in pitched if n["attack_s"] is not None]
        assert len(sounding) >= 0.8 * len(pitched)
        assert np.isfinite(labels["notes_attack_s"]).sum() == len(sounding)
        notes = example_notes(labels, meta)
        y = targets(notes, meta["n_frames"])
        assert y.shape == (270, meta["n_frames"]) and y[:88].sum() >= len([n for n in notes if not n.drum])
        assert json.loads((out / folder.names[i] / "meta.json").read_text())["label_convention"]["name"] == "aligned-v1"

"""Band pieces for tagging (training/synth/band.py) and the audio-measured tags label
(training/synth/activity.py): parts enter, leave and double; a family is sounding while its own
render is audible, release included, whatever its level in the mix."""
from __future__ import annotations

import json

import numpy as np
import pytest

from training.synth.activity import FLOOR_DB, STEM_DB, TAGS, sounding, tag_activity, tag_of_program
from training.synth.band import PARTS, bar_mask, generate_band
from training.synth.build import BuildConfig, SoundfontInfo, make_example
from training.synth.labels import FRAME_RATE
from training.synth.score import Note, Score, Track

SR = 8000


def test_tag_families_split_gm_ensembles_into_strings_and_voice():
    assert len(TAGS) == 13 and "ensemble" not in TAGS
    assert [tag_of_program(p) for p in (0, 40, 48, 50, 52, 53, 54, 55, 56, 85, 91)] == [
        "piano", "strings", "strings", "strings", "voice", "voice", "voice", "strings", "brass", "synth_lead",
        "synth_pad"]
    assert tag_of_program(0, drums=True) == "drums"
    with pytest.raises(ValueError):
        tag_of_program(100)


def _burst(start_s, stop_s, release_s, db=0.0, n_s=3.0, f=200.0):
    """A tone from start to stop, then an exponential release with time constant ``release_s``."""
    t = np.arange(int(n_s * SR)) / SR
    env = np.where((t >= start_s) & (t < stop_s), 1.0, 0.0)
    tail = t >= stop_s
    env[tail] = np.exp(-(t[tail] - stop_s) / release_s)
    env[t < start_s] = 0.0
    return (10 ** (db / 20) * env * np.sin(2 * np.pi * f * t)).astype(np.float32)[None, :]


def test_a_stem_sounds_from_its_onset_through_its_audible_release():
    x = _burst(0.5, 1.0, 0.1)
    on = sounding(x, SR, 300, clip_db=-3.0)
    first, last = np.flatnonzero(on)[[0, -1]]
    assert first in (49, 50)  # the 20 ms window centred on the frame reaches the onset
    # the release falls 8.7 dB per 0.1 s: -40 dB re its own peak after ~0.46 s
    assert abs((last + 1) / FRAME_RATE - (1.0 + 0.1 * np.log(10 ** (-STEM_DB / 20)))) < 0.03
    assert not on[:45].any() and not on[last + 2:].any()


def test_a_quiet_part_counts_but_one_far_below_the_clip_does_not():
    loud, quiet = _burst(0.0, 3.0, 0.05), _burst(1.0, 2.0, 0.05, db=-30.0)
    clip_db = 10 * np.log10(0.5)  # a full-scale sine's RMS
    assert sounding(quiet, SR, 300, clip_db)[110:190].all()
    buried = _burst(1.0, 2.0, 0.05, db=FLOOR_DB - 5)
    assert not sounding(buried, SR, 300, clip_db).any()
    assert not sounding(np.zeros((2, 3 * SR), np.float32), SR, 300, clip_db).any()
    assert sounding(loud, SR, 300, clip_db)[1:299].all()


def test_tag_activity_ors_the_stems_of_a_family_and_ignores_other_stems():
    notes = (Note(0, 960, 60, 100),)
    score = Score(500000, 2 * 960, (Track("chords", 48, 1, notes), Track("pad", 50, 3, notes),
                                    Track("melody", 52, 0, notes, monophonic=True)))
    stems = {"chords": _burst(0.0, 0.5, 0.05), "pad": _burst(1.0, 1.5, 0.05), "melody": _burst(2.0, 2.5, 0.05),
             "noise": _burst(0.0, 3.0, 0.05)}
    act = tag_activity(score, stems, SR, 300, clip_db=-3.0)
    assert act.shape == (13, 300) and act.dtype == np.uint8
    strings, voice = act[TAGS.index("strings")], act[TAGS.index("voice")]
    assert strings[10:40].all() and strings[110:140].all() and not strings[250:].any()
    assert voice[210:240].all() and not voice[:190].any()
    assert act.sum(axis=1)[[i for i, t in enumerate(TAGS) if t not in ("strings", "voice")]].sum() == 0


def test_parts_enter_leave_double_and_have_levels():
    counts, entries, doubles = set(), 0, 0
    for seed in range(120):
        score = generate_band(np.random.default_rng(seed), 10.0)
        names = [t.name for t in score.tracks]
        assert 1 <= len(names) <= 6 and set(names) <= set(PARTS) and len(set(names)) == len(names)
        counts.add(len(names))
        assert set(score.meta["levels_db"]) == set(names) and all(-22 <= v <= 0 for v in score.meta["levels_db"].values())
        for track in score.tracks:
            bars = np.array(score.meta["bars"][track.name], bool)
            entries += int(not bars.all())
            assert track.notes and all(bars[n.onset // score.meta["bar_ticks"]] for n in track.notes)
        if "double" in names:
            doubles += 1
            mel, dbl = (next(t for t in score.tracks if t.name == n) for n in ("melody", "double"))
            assert {n.onset for n in dbl.notes} <= {n.onset for n in mel.notes}
    assert counts == {1, 2, 3, 4, 5, 6} and entries > 100 and doubles > 10
    a, b = generate_band(np.random.default_rng(7), 10.0), generate_band(np.random.default_rng(7), 10.0)
    assert a == b and a.meta == b.meta


def test_bar_masks_are_never_empty():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(1, 12))
        assert bar_mask(rng, n).any()


@pytest.mark.fluidsynth
def test_a_rendered_band_example_has_tags_from_its_stems(tmp_path, fonts, renderer):
    path, offset = fonts("TimGM6mb")
    cfg = BuildConfig("band", "train", seed=3, duration_s=6.0, augment=False, soundfonts=("TimGM6mb",))
    make_example(cfg, tmp_path, 0, [SoundfontInfo("TimGM6mb", str(path), offset)], renderer)
    folder = tmp_path / "000000"
    meta, labels = json.loads((folder / "meta.json").read_text()), np.load(folder / "labels.npz")
    tags = labels["tags"]
    assert tags.shape == (len(TAGS), 600) and meta["tags"] == list(TAGS)
    assert meta["tags_convention"]["name"] == "sounding-v1"
    expected = {tag_of_program(n["program"], n["drum"]) for n in meta["notes"]}
    assert {TAGS[i] for i in np.flatnonzero(tags.any(axis=1))} == expected
    for n in meta["notes"]:  # every note is heard within 50 ms of its MIDI onset
        k = int(round(n["onset_s"] * FRAME_RATE))
        row = TAGS.index(tag_of_program(n["program"], n["drum"]))
        assert tags[row, k:k + 6].any(), n

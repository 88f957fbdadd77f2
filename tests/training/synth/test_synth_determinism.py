"""Same seed -> byte-identical MIDI and identical labels; and the generators keep their promises
(ranges, monophony, tempo), checked over many seeds without rendering."""
from __future__ import annotations

import numpy as np
import pytest

from training.synth.arrange import generate_mono, generate_multi
from training.synth.gm import BY_PROGRAM, FAMILIES
from training.synth.labels import make_labels
from training.synth.midi import score_to_midi

GENERATORS = {"mono": generate_mono, "multi": generate_multi}


@pytest.mark.parametrize("kind", GENERATORS, ids=list(GENERATORS))
@pytest.mark.parametrize("seed", [0, 1, 12345], ids=["seed0", "seed1", "seed12345"])
def test_same_seed_same_midi_and_labels(kind, seed):
    a = GENERATORS[kind](np.random.default_rng(seed), 8.0)
    b = GENERATORS[kind](np.random.default_rng(seed), 8.0)
    assert score_to_midi(a) == score_to_midi(b)
    la, lb = make_labels(a, 8.0), make_labels(b, 8.0)
    assert la.notes == lb.notes
    assert np.array_equal(la.activity, lb.activity)
    assert la.f0.keys() == lb.f0.keys() and all(np.array_equal(la.f0[k], lb.f0[k]) for k in la.f0)


@pytest.mark.parametrize("kind", GENERATORS, ids=list(GENERATORS))
def test_different_seeds_differ(kind):
    midis = {score_to_midi(GENERATORS[kind](np.random.default_rng(s), 8.0)) for s in range(5)}
    assert len(midis) == 5


def test_midi_round_trips_through_mido():
    """The bytes are a valid SMF whose notes are the score's notes."""
    import io

    import mido
    score = generate_multi(np.random.default_rng(3), 6.0)
    mid = mido.MidiFile(file=io.BytesIO(score_to_midi(score)))
    n_on = sum(1 for tr in mid.tracks for m in tr if m.type == "note_on" and m.velocity > 0)
    assert n_on == sum(len(t.notes) for t in score.tracks)
    assert abs(mid.length - score.duration_s) < 1e-6


@pytest.mark.parametrize("kind", GENERATORS, ids=list(GENERATORS))
def test_generator_promises(kind):
    """Over 40 seeds: notes inside their instrument's range and the piece, monophonic tracks never
    overlap, tempo in 30..220 BPM, bends within 14 bits."""
    for seed in range(40):
        score = GENERATORS[kind](np.random.default_rng(seed), 10.0)
        assert 30 <= score.bpm <= 220
        for track in score.tracks:
            assert track.notes, (seed, track.name)
            for n in track.notes:
                assert 0 <= n.onset < n.offset <= score.length and 1 <= n.velocity <= 127
                if not track.is_drums:
                    inst = BY_PROGRAM[track.program]
                    assert inst.low <= n.pitch <= inst.high, (seed, track.name, inst.name, n)
            if track.monophonic:
                assert all(a.offset <= b.onset for a, b in zip(track.notes, track.notes[1:]))
            assert all(-8192 <= b.value <= 8191 for b in track.bends)


def test_multi_covers_every_family():
    """All 13 families appear over 150 multi-track pieces."""
    seen = set()
    for seed in range(150):
        seen |= {t.family for t in generate_multi(np.random.default_rng(seed), 4.0).tracks}
    assert seen == set(FAMILIES)


def test_f0_label_follows_notes_and_bends():
    """f0 = the note's pitch plus the bend in force, 0 outside notes."""
    from training.synth.score import Bend, Note, Score, Track
    # 120 BPM, 480 tpq: 960 ticks per second; frame k at tick 9.6 k.
    track = Track("melody", 73, 0, (Note(96, 480, 69, 100), Note(480, 960, 72, 90)),
                  bends=(Bend(96, 0), Bend(288, 4096), Bend(480, 0)), bend_range=2, monophonic=True)
    score = Score(500000, 1000, (track,))
    f0 = make_labels(score, 1.05).f0["melody"]
    assert f0[9] == 0 and f0[10] == pytest.approx(440.0)
    assert f0[30] == pytest.approx(440 * 2 ** (1 / 12))           # +1 semitone bend
    assert f0[50] == pytest.approx(440 * 2 ** (3 / 12), rel=1e-6)   # next note, bend reset
    assert f0[100] == 0                                            # after the last offset

"""training.pitch.metrics: mir_eval.melody on synthetic reference/estimate pairs, and the causal
re-timing (a known look-ahead costs exactly the frames it should)."""
from __future__ import annotations

import numpy as np
import pytest

from training.pitch.eval_metrics import (NOTE_FRAME_BANDS, Track, count_by_band, label_times, note_frame_bands, on_grid,
                                         pitch_right_frames, retime, score_frames, score_track)


def melody(n_notes: int = 10, note_frames: int = 20, gap_frames: int = 0) -> np.ndarray:
    """Label f0 at 100 frames/s: notes alternating 220/330 Hz, each followed by a gap."""
    notes = []
    for i in range(n_notes):
        notes += [[220.0, 330.0][i % 2]] * note_frames + [0.0] * gap_frames
    return np.array(notes)


def perfect_track(ref: np.ndarray, shift_s: float = 0.0) -> Track:
    """An estimate equal to the labels, describing the label instants (+ shift)."""
    return Track(label_times(len(ref)) + shift_s, ref.copy(), ref > 0, (ref > 0).astype(float))


def test_perfect_estimate_scores_one():
    ref = melody(gap_frames=5)
    s = score_track(ref, perfect_track(ref), lookahead_s=0.0, causal=False)
    assert s.raw_pitch_accuracy == s.raw_chroma_accuracy == s.voicing_recall == s.overall_accuracy == 1.0
    assert s.voicing_false_alarm == 0.0


def test_octave_error_keeps_chroma_only():
    ref = melody(gap_frames=5)
    s = score_frames(ref, 2 * ref, ref > 0)
    assert s.raw_pitch_accuracy == 0.0
    assert s.raw_chroma_accuracy == 1.0
    assert s.voicing_recall == 1.0


def test_unvoiced_decision_lowers_recall_not_raw_pitch():
    ref = melody()
    voiced = ref > 0
    voiced[::2] = False  # half the voiced frames called unvoiced, with the right pitch guess
    s = score_frames(ref, ref, voiced)
    assert s.voicing_recall == pytest.approx(0.5)
    assert s.raw_pitch_accuracy == 1.0  # mir_eval: raw pitch ignores the voicing decision
    assert s.overall_accuracy == pytest.approx(0.5)


def test_false_alarm_counts_voiced_estimates_on_unvoiced_frames():
    ref = melody(gap_frames=10)  # 20 voiced, 10 unvoiced per note
    s = score_frames(ref, np.where(ref > 0, ref, 100.0), np.ones(len(ref), bool))
    assert s.voicing_false_alarm == 1.0
    assert s.voicing_recall == 1.0
    assert s.overall_accuracy == pytest.approx(2 / 3)


LOOKAHEADS = {"0ms": (0.0, 1.0), "50ms": (0.05, 0.75), "100ms": (0.1, 0.5), "190ms": (0.19, 0.05)}


@pytest.mark.parametrize("lookahead_s, expected_rpa", LOOKAHEADS.values(), ids=list(LOOKAHEADS))
def test_causal_retiming_costs_the_lookahead(lookahead_s, expected_rpa):
    # notes of 20 frames: an estimate L late is wrong on the first L/10ms frames of each note
    ref = melody(n_notes=10, note_frames=20)
    track = perfect_track(ref)
    assert score_track(ref, track, lookahead_s, causal=False).raw_pitch_accuracy == 1.0
    causal = score_track(ref, track, lookahead_s, causal=True)
    assert causal.raw_pitch_accuracy == pytest.approx(expected_rpa)


def test_causal_score_of_a_whole_file_method_is_none():
    ref = melody()
    assert score_track(ref, perfect_track(ref), lookahead_s=None, causal=True) is None


def test_hold_never_uses_an_estimate_before_it_arrives():
    track = Track(np.array([0.015, 0.035]), np.array([100.0, 200.0]), np.array([True, True]), np.ones(2))
    f0, voiced = on_grid(track, np.array([0.0, 0.01, 0.02, 0.03, 0.04]), "hold")
    np.testing.assert_array_equal(f0, [0, 0, 100, 100, 200])
    np.testing.assert_array_equal(voiced, [False, False, True, True, True])
    f0, _ = on_grid(track, np.array([0.0, 0.01, 0.02, 0.03, 0.04]), "nearest")
    np.testing.assert_array_equal(f0, [100, 100, 100, 200, 200])


def test_retime_shifts_times_only():
    track = perfect_track(melody())
    late = retime(track, 0.032)
    np.testing.assert_allclose(late.times - track.times, 0.032)
    np.testing.assert_array_equal(late.f0_hz, track.f0_hz)


def test_offline_alignment_is_independent_of_the_estimate_hop():
    # an estimate at 16 ms steps (SwiftF0's hop) of a constant tone scores 1 offline
    ref = np.full(300, 440.0)
    t = np.arange(0, 3.0, 0.016)
    s = score_track(ref, Track(t, np.full(len(t), 440.0), np.ones(len(t), bool), np.ones(len(t))), 0.176, False)
    assert s.raw_pitch_accuracy == 1.0 and s.voicing_recall == 1.0


def test_training_numpy_scorer_agrees_with_mir_eval():
    # training.pitch.metrics (the training loop's numpy scorer) against this module's mir_eval
    from training.pitch import metrics as fast

    rng = np.random.default_rng(6)
    ref = melody(n_notes=20, note_frames=15, gap_frames=5)
    est = ref * 2 ** (rng.normal(0, 0.6, len(ref)) / 12)  # some within 50 cents, some not
    est[rng.random(len(ref)) < 0.1] *= 2  # octave errors
    est[rng.random(len(ref)) < 0.1] = 0.0  # no pitch at all
    est[ref == 0] = rng.uniform(100, 400, (ref == 0).sum())
    voiced = (rng.random(len(ref)) < 0.8) & (est > 0)
    ours, theirs = score_frames(ref, est, voiced), fast.score_frames(ref, est, voiced)
    for mine, key in (("raw_pitch_accuracy", "rpa"), ("raw_chroma_accuracy", "rca"), ("voicing_recall", "vr"),
                      ("voicing_false_alarm", "vfa"), ("overall_accuracy", "oa")):
        assert getattr(ours, mine) == pytest.approx(theirs[key], abs=1e-12), mine


def test_note_frame_bands_cover_every_voiced_frame_once():
    ref = melody(n_notes=4, note_frames=20, gap_frames=3)
    band = note_frame_bands(ref)
    assert np.all(band[ref == 0] == -1) and np.all(band[ref > 0] >= 0)
    # each 20-frame note: frames 0, 1, 2 alone, 3..6 (4 frames), 7..19 (13 frames)
    assert np.bincount(band[band >= 0], minlength=len(NOTE_FRAME_BANDS)).tolist() == [4, 4, 4, 16, 52]


def test_pitch_right_frames_agree_with_raw_pitch_accuracy_and_split_by_band():
    ref = melody(n_notes=6, note_frames=20)  # legato: a note starts at every 50-cent step
    est = ref.copy()
    est[np.arange(len(ref)) % 20 < 2] *= 2.0  # an octave wrong on each note's first two frames
    track = Track(label_times(len(ref)), est, ref > 0, np.ones(len(ref)))
    right = pitch_right_frames(ref, track, 0.0, causal=False)
    hits, voiced = count_by_band(right, note_frame_bands(ref))
    assert right.mean() == pytest.approx(score_track(ref, track, 0.0, causal=False).raw_pitch_accuracy)
    assert (hits / voiced).tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    # causally, a 30 ms look-ahead shifts every frame by 3: the first three of each note now hold the last note's
    late = count_by_band(pitch_right_frames(ref, track, 0.03, causal=True), note_frame_bands(ref))[0]
    assert late[:3].tolist() == [0, 0, 0] and late[3] < hits[3]
    assert pitch_right_frames(ref, track, None, causal=True) is None


def test_calibration_is_zero_for_a_calibrated_confidence_and_large_for_an_overconfident_one():
    from training.pitch.metrics import calibration

    rng = np.random.default_rng(0)
    conf = rng.uniform(0, 1, 200_000)
    calibrated = rng.uniform(0, 1, conf.size) < conf
    result = calibration(conf, calibrated)
    assert result["ece"] < 0.01 and len(result["bins"]) == 10
    assert sum(b["frames"] for b in result["bins"]) == conf.size
    overconfident = calibration(np.full(1000, 0.95), np.arange(1000) < 600)  # 60 % right at 0.95
    assert overconfident["ece"] == pytest.approx(0.35) and overconfident["bins"][0]["lo"] == 0.9

"""Targets aligned to the instant each output describes, and the numpy scorer."""
from __future__ import annotations

import numpy as np
import pytest

from training.pitch.metrics import on_label_grid, score_frames
from training.pitch.targets import f0_at_instants, output_instants, salience_targets


def test_output_instants_follow_the_latency_convention():
    # hop 80, latency 160 at 16 kHz: frame k ends at (k + 1) * 80 and describes (k - 1) * 5 ms
    t = output_instants(0, 4, 80, 160, 16000)
    np.testing.assert_allclose(t, [-0.005, 0.0, 0.005, 0.010])
    np.testing.assert_allclose(output_instants(1600, 2, 80, 160, 16000), [0.095, 0.100])


def test_labels_on_the_grid_are_kept_exactly():
    f0 = np.array([0, 100, 200, 400, 0, 300], np.float32)
    got = f0_at_instants(f0, np.arange(6) / 100)
    np.testing.assert_array_equal(got, f0)


@pytest.mark.parametrize("instant, expected", [
    (0.015, np.sqrt(100 * 200)),  # between two voiced labels: geometric mean (log-linear)
    (0.025, np.sqrt(200 * 400)),
    (0.005, 0.0),  # next to an unvoiced label
    (0.035, 0.0),
    (-0.005, 0.0),  # before the clip
    (0.055, 0.0),  # after the last label
], ids=["100-200", "200-400", "onset", "offset", "before", "after"])
def test_between_labels(instant, expected):
    f0 = np.array([0, 100, 200, 400, 0, 300], np.float32)
    assert f0_at_instants(f0, np.array([instant]))[0] == pytest.approx(expected, rel=1e-5)


def test_salience_target_peaks_at_the_f0_bin_and_is_zero_when_unvoiced():
    bins = 1200 * np.log2(32.703 * 2 ** (np.arange(420) / 60) / 10)
    t = salience_targets(np.array([440.0, 0.0], np.float32), bins, 25.0)
    assert t.shape == (420, 2)
    assert np.argmax(t[:, 0]) == round(60 * np.log2(440 / 32.703))
    assert t[:, 0].max() > 0.9 and not t[:, 1].any()


def test_scorer_counts_pitch_chroma_and_voicing():
    ref = np.array([100, 100, 100, 100, 0, 0], float)
    est = np.array([101, 200, 130, 100, 150, 150], float)  # ok, octave, wrong, ok; two unvoiced refs
    voiced = np.array([True, True, True, False, True, False])
    s = score_frames(ref, est, voiced)
    assert s["rpa"] == 0.5 and s["rca"] == 0.75
    assert s["vr"] == 0.75 and s["vfa"] == 0.5
    assert s["oa"] == pytest.approx(2 / 6)  # frame 0 (voiced, right) + frame 5 (unvoiced, right)


def test_only_outputs_on_the_label_grid_are_scored():
    idx, ref = on_label_grid(np.array([0, 110, 220], np.float32), output_instants(0, 6, 80, 160, 16000))
    np.testing.assert_array_equal(idx, [1, 3, 5])  # instants 0, 10, 20 ms
    np.testing.assert_array_equal(ref, [0, 110, 220])

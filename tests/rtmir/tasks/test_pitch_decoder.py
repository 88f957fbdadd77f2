"""The pitch decoder (numpy, no model): local weighted average around the peak, voicing, events."""
from __future__ import annotations

import numpy as np
import pytest

from rtmir.tasks.pitch import cents_to_hz, decode_salience, hz_to_cents

F_MIN = 32.70319566257483
BIN_HZ = F_MIN * 2 ** (np.arange(420) / 60)
BIN_CENTS = hz_to_cents(BIN_HZ)


def gaussian_salience(f0_hz: np.ndarray, std_cents: float = 25.0) -> np.ndarray:
    """``[420, T]`` salience: a Gaussian bump in cents around each f0 (0 -> all zero)."""
    c = hz_to_cents(np.where(f0_hz > 0, f0_hz, 10.0))
    s = np.exp(-0.5 * ((BIN_CENTS[:, None] - c[None]) / std_cents) ** 2)
    return np.where(f0_hz[None] > 0, s, 0.0)


@pytest.mark.parametrize("f0", [32.70, 55.0, 98.0, 261.63, 440.0, 445.0, 1000.0, 1975.5, 3520.0],
                         ids=lambda f: f"{f}Hz")
def test_peak_between_bins_decodes_within_2_cents(f0):
    cents, peak = decode_salience(gaussian_salience(np.array([f0])), BIN_CENTS, 4)
    err = 1200 * np.log2(cents_to_hz(cents[0]) / f0)
    assert abs(err) < 2
    assert 0.5 < peak[0] <= 1.0


def test_exact_bin_centres_decode_exactly():
    s = np.zeros((420, 3))
    s[[0, 213, 419], [0, 1, 2]] = 1.0  # a single salient bin each
    cents, _ = decode_salience(s, BIN_CENTS, 4)
    np.testing.assert_allclose(cents_to_hz(cents), BIN_HZ[[0, 213, 419]], rtol=1e-9)


def test_a_second_peak_outside_the_window_is_ignored():
    s = gaussian_salience(np.array([220.0])) + 0.8 * gaussian_salience(np.array([440.0]))
    cents, _ = decode_salience(s, BIN_CENTS, 4)
    assert abs(1200 * np.log2(cents_to_hz(cents[0]) / 220.0)) < 2


def test_silence_has_no_estimate():
    cents, peak = decode_salience(np.zeros((420, 5)), BIN_CENTS, 4)
    assert np.isnan(cents).all() and (peak == 0).all()


def test_many_frames_at_once_match_frame_by_frame():
    f0 = np.array([0.0, 110.0, 111.0, 600.0, 0.0, 2000.0])
    s = gaussian_salience(f0) + 1e-3 * np.random.default_rng(0).random((420, len(f0)))
    together, _ = decode_salience(s, BIN_CENTS, 4)
    one_by_one = np.array([decode_salience(s[:, [k]], BIN_CENTS, 4)[0][0] for k in range(len(f0))])
    np.testing.assert_allclose(together, one_by_one)

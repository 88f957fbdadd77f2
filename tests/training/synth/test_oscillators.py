"""Synthetic lines over the whole range (training/synth/oscillators.py): labels that the audio backs."""
from __future__ import annotations

import numpy as np
import pytest

from training.synth.alignment import yin
from training.synth.oscillators import WAVEFORMS, oscillator_clip

SR = 16000


def test_a_clip_is_a_pure_function_of_its_generator():
    a1, f1 = oscillator_clip(np.random.default_rng(3), 2 * SR, SR)
    a2, f2 = oscillator_clip(np.random.default_rng(3), 2 * SR, SR)
    assert np.array_equal(a1, a2) and np.array_equal(f1, f2)
    assert a1.dtype == np.float32 and len(f1) == 200 and np.abs(a1).max() == pytest.approx(0.5, rel=1e-5)


@pytest.mark.parametrize("waveform", ["sine", "sawtooth", "tilt"])
def test_voiced_labels_agree_with_an_independent_yin(waveform):
    """Mid-range clips (YIN's search range): voiced labels within 50 cents of YIN where it is voiced."""
    right = total = 0
    for seed in range(6):
        audio, f0 = oscillator_clip(np.random.default_rng(seed), 3 * SR, SR, lo_hz=80.0, hi_hz=1500.0,
                                    out_of_range=0.0, waveform=waveform)
        ref = yin(audio.astype(np.float64), SR, len(f0), fmin=60.0, fmax=2000.0)
        both = (f0 > 0) & (ref > 0)
        cents = 1200 * np.abs(np.log2(f0[both] / ref[both]))
        right += int((cents < 50).sum())
        total += int(both.sum())
    assert total > 500 and right / total > 0.95


def test_the_range_is_covered_and_out_of_range_notes_are_unvoiced():
    voiced, low, high = [], 0, 0
    for seed in range(40):
        _, f0 = oscillator_clip(np.random.default_rng(seed), 4 * SR, SR, lo_hz=27.5, hi_hz=4300.0, out_of_range=0.3)
        v = f0[f0 > 0]
        voiced.append(v)
        low += int((v < 40).sum())
        high += int((v > 3000).sum())
    v = np.concatenate(voiced)
    assert v.min() >= 27.5 * 0.97 and v.max() <= 4300.0 * 1.04  # vibrato may reach 60 cents past the draw
    assert low > 50 and high > 50  # both ends of the range are drawn


def test_an_unknown_waveform_is_refused():
    assert "sine" in WAVEFORMS
    with pytest.raises(ValueError, match="unknown waveform"):
        oscillator_clip(np.random.default_rng(0), SR, SR, waveform="noise")

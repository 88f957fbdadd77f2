"""Augmentations do what their parameters say, and keep stems summing to the mix."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from training.synth.augment import (NO_AUGMENTATION, AugmentConfig, apply_augmentation, coloured_noise,
                                    draw_augmentation, equalize, room_impulse_response)

SR = 44100


def _stems(n=SR * 2, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    return {"a": np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2).astype(np.float32),
            "b": (0.1 * rng.standard_normal((2, n))).astype(np.float32)}


def test_identity():
    stems = _stems()
    out, sr = apply_augmentation(stems, SR, NO_AUGMENTATION)
    assert sr == SR and all(np.array_equal(out[k], stems[k]) for k in stems)


@pytest.mark.parametrize("seed", range(6))
def test_stems_still_sum_to_the_mix(seed):
    """Every step is shared by the stems: augmenting the sum = summing the augmented stems."""
    cfg = AugmentConfig(noise_prob=1, reverb_prob=1, eq_prob=1, resample_prob=1)
    params = draw_augmentation(np.random.default_rng(seed), cfg)
    stems = _stems(SR // 2, seed)
    out, sr = apply_augmentation(stems, SR, params)
    mix_only, _ = apply_augmentation({"mix": stems["a"] + stems["b"]}, SR, {**params, "noise": None})
    assert np.abs(out["a"] + out["b"] - mix_only["mix"]).max() < 1e-5
    assert "noise" in out and all(v.shape == out["a"].shape for v in out.values())
    assert out["a"].shape[1] == round(SR // 2 * sr / SR)


def test_noise_snr():
    stems = _stems()
    params = {**NO_AUGMENTATION, "noise": {"colour": "pink", "snr_db": 10.0, "seed": 1}}
    out, _ = apply_augmentation(stems, SR, params)
    signal_power = np.mean((out["a"] + out["b"]) ** 2)
    assert 10 * np.log10(signal_power / np.mean(out["noise"] ** 2)) == pytest.approx(10.0, abs=0.01)


@pytest.mark.parametrize("colour,slope", [("white", 0.0), ("pink", -1.0), ("brown", -2.0), ("blue", 1.0)])
def test_noise_colour(colour, slope):
    x = coloured_noise(np.random.default_rng(0), (1, SR * 4), colour)[0]
    f, p = signal.welch(x, SR, nperseg=4096)
    band = (f > 100) & (f < 10000)
    fitted = np.polyfit(np.log10(f[band]), np.log10(p[band]), 1)[0]
    assert fitted == pytest.approx(slope, abs=0.15)


@pytest.mark.parametrize("rt60", [0.3, 1.0])
def test_rir_rt60(rt60):
    """Schroeder backward integration of the low band: -5..-35 dB slope gives the RT60."""
    rir = room_impulse_response(SR, 1, rt60, drr_db=-20.0, seed=0)[0]
    low = signal.sosfilt(signal.butter(4, 1000, "low", fs=SR, output="sos"), rir[1:])
    edc = 10 * np.log10(np.cumsum(low[::-1] ** 2)[::-1] / np.sum(low**2))
    i5, i35 = np.argmax(edc < -5), np.argmax(edc < -35)
    assert 2 * (i35 - i5) / SR == pytest.approx(rt60, rel=0.15)
    assert rir[0] == pytest.approx(1.0, abs=0.05)  # direct path at lag 0: no delay


def test_eq_peak_gain():
    """A +6 dB peak at 1 kHz: a 1 kHz sine gains 6 dB (shelves at 0 dB)."""
    t = np.arange(SR) / SR
    x = np.sin(2 * np.pi * 1000 * t)[None].astype(np.float32)
    eq = {"low_shelf_db": 0.0, "low_hz": 100.0, "peak_db": 6.0, "peak_hz": 1000.0, "peak_q": 1.0,
          "high_shelf_db": 0.0, "high_hz": 8000.0}
    y = equalize(x, SR, eq)
    gain = 20 * np.log10(np.std(y[0, SR // 2:]) / np.std(x[0, SR // 2:]))
    assert gain == pytest.approx(6.0, abs=0.1)


def test_mono_and_resample():
    params = {**NO_AUGMENTATION, "mono": True, "sample_rate": 16000}
    out, sr = apply_augmentation(_stems(), SR, params)
    assert sr == 16000 and out["a"].shape == (1, 32000)
    f, p = signal.periodogram(out["a"][0, 1000:-1000], sr)
    assert f[np.argmax(p)] == pytest.approx(220, abs=1)


def test_draw_is_recorded_json():
    import json
    params = draw_augmentation(np.random.default_rng(0), AugmentConfig())
    assert json.loads(json.dumps(params)) == params

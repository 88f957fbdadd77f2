"""Training crops (training/pitch/crops.py): synthetic lines and crowds join only when asked."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from training.core.conditions import AugmentRanges
from training.core.data import Clips
from training.pitch.crops import PitchCrops

pytestmark = pytest.mark.torch
SR = 16000


def clips(n: int = 4) -> Clips:
    t = np.arange(3 * SR) / SR
    audio = np.stack([(0.3 * np.sin(2 * np.pi * 220 * (k + 1) * t)).astype(np.float32) for k in range(n)])
    labels = np.tile(np.array([220.0 * (k + 1) for k in range(n)], np.float32)[:, None], (1, 300))
    return Clips(audio, labels, [f"{k:06d}" for k in range(n)])


def test_without_oscillators_a_crop_is_its_clip_with_the_clip_labels():
    torch.manual_seed(0)
    x, f0 = PitchCrops(clips(), 2.0, 160, 160, None)[1]
    assert x.shape == (1, 32000) and f0.shape == (200,)
    assert float(f0[5]) == pytest.approx(440.0) and float(x.abs().max()) == pytest.approx(0.3, abs=1e-3)


def test_oscillator_crops_carry_their_own_aligned_labels():
    torch.manual_seed(0)
    crops = PitchCrops(clips(), 2.0, 160, 160, None, oscillator_prob=1.0, oscillator_hz=(27.5, 4300.0))
    x, f0 = crops[1]
    voiced = f0[f0 > 0]
    assert float(x.abs().max()) == pytest.approx(0.5, abs=1e-4)  # a synthetic line peaks at 0.5
    assert len(voiced) > 0 and not torch.all(torch.isclose(voiced, torch.tensor(440.0)))


def test_a_crowd_is_drawn_from_other_clips_only_when_its_probability_is_set():
    quiet = AugmentRanges(eq_prob=0.0, reverb_prob=0.0, noise_prob=0.0, level_dbfs=(-6.0, -6.0))
    crowd = AugmentRanges(eq_prob=0.0, reverb_prob=0.0, noise_prob=0.0, level_dbfs=(-6.0, -6.0), crowd_prob=1.0,
                          crowd_snr_db=(0.0, 0.0))
    torch.manual_seed(3)
    plain, _ = PitchCrops(clips(), 2.0, 160, 160, quiet)[0]
    torch.manual_seed(3)
    crowded, _ = PitchCrops(clips(), 2.0, 160, 160, crowd)[0]
    spectrum = np.abs(np.fft.rfft(crowded[0].numpy()))
    assert not torch.allclose(plain, crowded)
    others = max(spectrum[f * 2] for f in (440, 660, 880))  # 0.5 Hz bins: the other clips' tones
    assert others > 0.05 * spectrum[220 * 2]  # heard under the clip's own 220 Hz

"""The one registry of conditions (training/core/conditions.py): names, seeds, what each does."""
from __future__ import annotations

import numpy as np
import pytest

from training.core import conditions
from training.core.conditions import AugmentRanges, UnknownCondition, augment_crop, degrade, params

SR = 16000


def tone(seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def snr_db(clean: np.ndarray, degraded: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean((degraded - clean) ** 2.0)))


@pytest.mark.parametrize("name, snr", [("white10", 10.0), ("pink10", 10.0), ("brown0", 0.0), ("blue20", 20.0),
                                       ("white-5", -5.0), ("noisy", 10.0), ("hum10", 10.0), ("hum0", 0.0)])
def test_noise_conditions_hit_their_snr(name, snr):
    x = tone()
    assert snr_db(x, degrade(x, name, 1)) == pytest.approx(snr, abs=0.05)


def test_fixed_conditions_use_the_seed_and_random_ones_draw_from_it():
    x = tone()
    assert np.array_equal(degrade(x, "white10", 4), degrade(x, "white10", 4))
    assert not np.array_equal(degrade(x, "white10", 4), degrade(x, "white10", 5))
    assert params("reverb", 7)["reverb"] == {"rt60_s": 1.0, "drr_db": 3.0, "seed": 7}
    rooms = [params("rooms", [606, i, 2])["reverb"] for i in range(20)]
    assert all(0.3 <= r["rt60_s"] <= 1.2 and 0.0 <= r["drr_db"] <= 6.0 for r in rooms)
    assert len({r["rt60_s"] for r in rooms}) == 20 and params("rooms", [606, 3, 2]) == params("rooms", [606, 3, 2])
    assert {params("noisy", [1, i])["noise"]["colour"] for i in range(40)} == {"white", "pink", "brown", "blue"}


def test_rooms_eq_and_gain_change_the_clip_as_named():
    x = tone()
    assert np.array_equal(degrade(x, "clean", 0), x)
    wet = degrade(x, "reverb", 0)
    assert wet.shape == x.shape and not np.allclose(wet, x) and abs(wet[0] - x[0]) < 1e-6  # direct path at lag 0
    assert np.allclose(degrade(x, "gain-20", 0), 0.1 * x, atol=1e-7)
    assert not np.allclose(degrade(x, "eq", 3), x)
    stereo = np.stack([x, 0.5 * x])
    assert degrade(stereo, "white10", 0).shape == (2, len(x))


def test_unknown_names_are_refused_with_the_list():
    with pytest.raises(UnknownCondition, match="unknown condition 'underwater'.*white10"):
        conditions.check(["clean", "underwater"])
    with pytest.raises(UnknownCondition):
        conditions.check([])
    assert conditions.is_condition("pink3") and not conditions.is_condition("purple10")
    assert all(conditions.is_condition(n) for n in conditions.LISTED)


def test_the_training_condition_is_seeded_by_its_generator_and_ends_at_its_level():
    x, past = tone(), tone(0.5)
    ranges = AugmentRanges(eq_prob=1.0, reverb_prob=1.0, noise_prob=1.0, level_dbfs=(-12.0, -12.0))
    a = augment_crop(x, past, np.random.default_rng(3), ranges, SR)
    assert np.array_equal(a, augment_crop(x, past, np.random.default_rng(3), ranges, SR))
    assert not np.array_equal(a, augment_crop(x, past, np.random.default_rng(4), ranges, SR))
    assert a.dtype == np.float32 and 20 * np.log10(np.abs(a).max()) == pytest.approx(-12.0, abs=1e-3)
    off = AugmentRanges(eq_prob=0.0, reverb_prob=0.0, noise_prob=0.0, level_dbfs=(-6.0, -6.0))
    np.testing.assert_allclose(augment_crop(x, past, np.random.default_rng(0), off, SR), x / 0.3 * 10 ** (-6 / 20),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_hum_is_mains_and_its_harmonics(seed):
    """hum<snr>: the added signal's energy sits on the harmonics of 50 or 60 Hz (±0.5 %)."""
    x = np.zeros(SR * 2, np.float32) + 1e-3 * tone(2.0)  # a quiet clip: the hum is what is added
    added = degrade(x, "hum0", seed) - x
    spectrum = np.abs(np.fft.rfft(added * np.hanning(len(added)))) ** 2  # windowed: little leakage
    freqs = np.fft.rfftfreq(len(added), 1 / SR)
    fund = freqs[np.argmax(spectrum * (freqs < 80))]
    assert min(abs(fund - 50), abs(fund - 60)) < 0.6, fund
    near = np.zeros(len(freqs), bool)
    for k in range(1, int(2000 / fund) + 1):
        near |= np.abs(freqs - k * fund) < 2.0 + 0.6 * k  # the fundamental is known to half a bin
    assert spectrum[near].sum() > 0.98 * spectrum.sum()
    assert np.array_equal(degrade(x, "hum0", seed), degrade(x, "hum0", seed))  # seeded


def others(n: int = 4, seconds: float = 2.0) -> list[np.ndarray]:
    rng = np.random.default_rng(9)
    t = np.arange(int(SR * seconds)) / SR
    return [(0.2 * np.sin(2 * np.pi * rng.uniform(100, 800) * t)).astype(np.float32) for _ in range(n)]


@pytest.mark.parametrize("snr", [0.0, 10.0, 30.0])
def test_a_crowd_is_built_from_the_pool_at_its_snr_and_needs_one(snr):
    x, pool = tone(), others()
    y = degrade(x, f"crowd{snr:g}", 5, SR, pool=pool)
    assert snr_db(x, y) == pytest.approx(snr, abs=0.01)
    assert np.array_equal(y, degrade(x, f"crowd{snr:g}", 5, SR, pool=pool))
    assert not np.array_equal(y, degrade(x, f"crowd{snr:g}", 6, SR, pool=pool))
    with pytest.raises(ValueError, match="other clips"):
        degrade(x, "crowd10", 5, SR)
    assert conditions.pool_without(pool, 1) == [pool[0], pool[2], pool[3]]


def test_the_training_crowd_draws_nothing_when_off_and_adds_the_pool_when_on():
    x, past = tone(), tone(0.5)
    base = AugmentRanges(eq_prob=0.0, reverb_prob=0.0, noise_prob=0.0, level_dbfs=(-6.0, -6.0))
    plain = augment_crop(x, past, np.random.default_rng(0), base, SR)
    # crowd_prob 0: the same draws as before the crowd existed, whatever the pool
    assert np.array_equal(plain, augment_crop(x, past, np.random.default_rng(0), base, SR, others()))
    on = AugmentRanges(eq_prob=0.0, reverb_prob=0.0, noise_prob=0.0, level_dbfs=(-6.0, -6.0), crowd_prob=1.0,
                       crowd_snr_db=(10.0, 10.0))
    crowded = augment_crop(x, past, np.random.default_rng(0), on, SR, others())
    assert not np.allclose(crowded, plain)
    assert np.array_equal(augment_crop(x, past, np.random.default_rng(0), on, SR), plain)  # no pool: no crowd

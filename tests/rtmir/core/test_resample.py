"""StreamingResampler: streaming = offline, time-aligned, accurate passband, aliases rejected."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtmir.core.resample import StreamingResampler

RATES = [(48000, 16000), (44100, 16000), (96000, 16000), (8000, 16000), (16000, 48000)]
IDS = [f"{a}-{b}" for a, b in RATES]


def _stream(r: StreamingResampler, x: np.ndarray, blocks: list[int]) -> np.ndarray:
    outs, pos, i = [], 0, 0
    while pos < x.shape[1]:
        b = blocks[i % len(blocks)]
        outs.append(r.process(x[:, pos:pos + b]).copy())  # a view, valid until the next call
        pos, i = pos + b, i + 1
    return np.concatenate(outs, axis=1)


@settings(max_examples=30, deadline=None)
@given(pair=st.sampled_from(RATES), blocks=st.lists(st.integers(1, 900), min_size=1, max_size=8))
def test_any_blocks_equal_one_offline_call(pair, blocks):
    x = np.random.default_rng(0).standard_normal((2, 5000)).astype(np.float32)
    offline = StreamingResampler(*pair, channels=2).process(x)
    streamed = _stream(StreamingResampler(*pair, channels=2), x, blocks)
    assert streamed.shape == offline.shape
    np.testing.assert_array_equal(streamed, offline)


@pytest.mark.parametrize("pair", RATES, ids=IDS)
def test_time_aligned_and_accurate_in_the_passband(pair):
    rin, rout = pair
    t = np.arange(rin) / rin
    x = np.sin(2 * np.pi * 440 * t + 0.3).astype(np.float32)[None]
    y = StreamingResampler(rin, rout).process(x)[0]
    ref = np.sin(2 * np.pi * 440 * np.arange(len(y)) / rout + 0.3)
    assert np.abs(y[100:-100] - ref[100:-100]).max() < 5e-4  # no time shift: phase matches


@pytest.mark.parametrize("pair", [p for p in RATES if p[0] > p[1]], ids=[i for p, i in zip(RATES, IDS) if p[0] > p[1]])
def test_aliases_are_rejected(pair):
    rin, rout = pair
    t = np.arange(rin) / rin
    for f in (0.55 * rout, 0.75 * rout):
        y = StreamingResampler(rin, rout).process(np.sin(2 * np.pi * f * t).astype(np.float32)[None])[0]
        assert 20 * np.log10(np.abs(y[200:-200]).max()) < -70


def test_hold_is_about_a_millisecond_at_48k():
    r = StreamingResampler(48000, 16000)
    assert r.hold_samples == 48  # 1.0 ms, vs 1024–1792 samples for soxr LQ–HQ streams
    assert r.process(np.zeros((1, 47), np.float32)).shape[1] == 0
    assert r.process(np.zeros((1, 3), np.float32)).shape[1] == 1  # tau=0 needs input 0..48


def test_reset_restores_the_start():
    r = StreamingResampler(48000, 16000)
    x = np.random.default_rng(1).standard_normal((1, 3000)).astype(np.float32)
    first = r.process(x)
    assert not np.array_equal(r.process(x), first)
    r.reset()
    np.testing.assert_array_equal(r.process(x), first)

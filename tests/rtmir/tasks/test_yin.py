"""YIN: accuracy on tones and sweeps, unvoiced on silence and noise, streaming = offline."""
from __future__ import annotations

import numpy as np
import pytest

from rtmir import BlockAdapter, ProcessSpec
from rtmir.tasks.yin import YinConfig, YinProcessor


def run_yin(x: np.ndarray, sr: int, blocks=(256,), proc: YinProcessor | None = None):
    proc = proc or YinProcessor()
    adapter = BlockAdapter(proc)
    adapter.prepare(ProcessSpec(sr, max(blocks), 1))
    events, pos, i = [], 0, 0
    while pos < x.shape[-1]:
        b = blocks[i % len(blocks)]
        events += adapter.push(x[None, pos:pos + b].astype(np.float32))
        pos += b
        i += 1
    return events


def cents(f, ref):
    return 1200 * np.log2(np.asarray(f) / np.asarray(ref))


@pytest.mark.parametrize("sr", [16000, 44100, 48000])
@pytest.mark.parametrize("f0", [65.4, 110.0, 261.6, 440.0, 987.8])
def test_steady_tones_within_10_cents(sr, f0):
    t = np.arange(int(1.2 * sr)) / sr
    x = sum(0.4 / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 4))
    ev = [e for e in run_yin(x, sr) if 0.1 < e.t < 1.1]
    assert len(ev) >= 90
    assert all(e.values["voiced"] for e in ev)
    assert np.abs(cents([e.values["f0_hz"] for e in ev], f0)).max() < 10


def test_sweep_tracked_within_10_cents():
    sr = 16000
    t = np.arange(3 * sr) / sr
    f = 110 * 2 ** (t / 1.5)  # two octaves in 3 s, exponential
    x = 0.5 * np.sin(2 * np.pi * np.cumsum(f) / sr)
    ev = [e for e in run_yin(x, sr) if 0.1 < e.t < 2.9]
    truth = 110 * 2 ** (np.array([e.t for e in ev]) / 1.5)
    err = np.abs(cents([e.values["f0_hz"] for e in ev], truth))
    assert np.median(err) < 10 and np.mean(err < 10) > 0.95


def test_silence_and_white_noise_are_unvoiced():
    sr = 16000
    silence = np.zeros(sr)
    noise = 0.3 * np.random.default_rng(0).standard_normal(sr)
    for x in (silence, noise):
        ev = run_yin(x, sr)
        assert ev and not any(e.values["voiced"] for e in ev)
    assert all(e.values["confidence"] == 0.0 and e.values["f0_hz"] == 0.0 for e in run_yin(silence, sr))


@pytest.mark.parametrize("blocks", [(1,), (64,), (100, 7, 333), (4096,)], ids=["1", "64", "mixed", "4096"])
def test_streaming_equals_offline(blocks):
    sr = 16000
    x = np.sin(2 * np.pi * 220 * np.arange(sr) / sr) * np.linspace(0, 1, sr)
    offline = run_yin(x, sr, blocks=(len(x),))
    streamed = run_yin(x, sr, blocks=blocks)
    assert [(e.t, e.values) for e in streamed] == [(e.t, e.values) for e in offline]


def test_reset_restores_and_skipping_reset_differs():
    sr = 16000
    proc = YinProcessor()
    adapter = BlockAdapter(proc)
    adapter.prepare(ProcessSpec(sr, 160, 1))
    x = (0.5 * np.sin(2 * np.pi * 300 * np.arange(sr) / sr)).astype(np.float32)[None]
    first = [e.values for e in adapter.push(x[:, :2000])]
    carried = [e.values for e in adapter.push(x[:, :2000])]
    adapter.reset()
    again = [e.values for e in adapter.push(x[:, :2000])]
    assert again == first and carried != first


def test_declared_latency_is_half_the_frame_and_events_are_centred():
    proc = YinProcessor(YinConfig(fmin_hz=50.0))
    proc.prepare(ProcessSpec(16000, 800, 1))
    assert proc.frame_samples == 2 * 320 and proc.latency_samples == 320
    ev = proc.process(np.zeros((1, 160 * 5), np.float32), 0)
    assert [round(e.t * 16000) for e in ev] == [320 - 320, 480 - 320, 640 - 320, 800 - 320]  # centre < 0 skipped


def test_threshold_is_a_live_parameter():
    proc = YinProcessor()
    proc.set_param("threshold", 0.05)
    assert proc.params()["threshold"] == 0.05
    with pytest.raises(KeyError):
        proc.set_param("nope", 1.0)

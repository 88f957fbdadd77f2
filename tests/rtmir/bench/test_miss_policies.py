"""Missed-deadline policies and audio routing in the engine, without an audio server.

A missed push must keep the sample clock exact (every later event has the ``t`` an unmissed run
gives), count its hops, and yield exactly the chosen policy's output.
"""
from __future__ import annotations

import numpy as np
import pytest

from jack_tools import CaptureSink, RmsProcessor
from rtmir.core.engine import Engine
from rtmir.core.node import RateError
from rtmir.core.processor import Event, ProcessSpec, Processor

RATE, HOP, BLOCK = 48000, 480, 128


class Gain(Processor):
    """Audio processor: out = gain · in, one event per hop with the hop's first output sample."""

    task = "gain"
    channels = 1
    output_channels = 1

    def __init__(self, gain: float = 2.0, hop: int = 4, rate: int | None = None) -> None:
        self.gain, self.hop_size, self.sample_rate = gain, hop, rate

    def prepare(self, spec: ProcessSpec) -> None:
        self.rate = spec.sample_rate

    def reset(self) -> None:
        pass

    def process(self, block, t0, out=None):
        out[:] = self.gain * block
        return [Event(self.task, (t0 + k * self.hop_size) / self.rate, {"y": float(out[0, k * self.hop_size])})
                for k in range(block.shape[1] // self.hop_size)]


def run(engine: Engine, x: np.ndarray, missed_blocks: set[int], block: int = BLOCK) -> np.ndarray:
    """Push ``x`` [1, n] in blocks, marking the given block indices missed; returns the audio out."""
    engine.prepare(RATE, 1, block)
    out = np.zeros((max(engine.output_channels, 1), x.shape[1]), np.float32)
    for i, s in enumerate(range(0, x.shape[1], block)):
        engine.push(x[:, s:s + block].copy(), out[:, s:s + block], missed=i in missed_blocks)
    return out


def ramp(n: int) -> np.ndarray:
    return (np.arange(n, dtype=np.float32) / n + 0.1)[None]


MISSED = {5, 6, 7, 8, 9, 10, 11, 12}  # 8 blocks of 128 = 1024 samples: hops 1..2 of 480 complete inside


@pytest.mark.parametrize("policy", ["skip", "hold", "dry"])
def test_event_times_stay_exact_and_misses_are_counted(policy):
    x = ramp(40 * BLOCK)
    ref, got = CaptureSink(), CaptureSink()
    run(Engine([RmsProcessor(HOP)], [ref]), x, set())
    engine = Engine([RmsProcessor(HOP)], [got], miss_policy=policy)
    run(engine, x, MISSED)
    ref_t = [e.t for e in ref.events]
    computed = [e for e in got.events if not e.values.get("held")]
    held = [e for e in got.events if e.values.get("held")]
    missed = engine.missed_hops()["rms"]
    assert missed == len(ref.events) - len(computed) > 0
    # every computed event is at a t of the unmissed run, with the same value (state-free processor)
    by_t = {round(e.t, 9): e.values["rms"] for e in ref.events}
    assert all(by_t[round(e.t, 9)] == pytest.approx(e.values["rms"]) for e in computed)
    if policy == "hold":
        assert len(held) == missed
        assert sorted(round(e.t, 9) for e in got.events) == sorted(round(t, 9) for t in ref_t)
        last = max((e for e in computed if e.t < held[0].t), key=lambda e: e.t)
        assert all(e.values["rms"] == last.values["rms"] for e in held)
    else:
        assert not held


def test_skip_silences_audio_and_keeps_it_aligned():
    x = ramp(40 * BLOCK)
    full = run(Engine([Gain(hop=4)]), x, set())
    engine = Engine([Gain(hop=4)], miss_policy="skip")
    out = run(engine, x, MISSED)
    lo, hi = 5 * BLOCK + 3, 13 * BLOCK + 3  # the adapter delays audio by hop - 1 = 3
    assert np.all(out[:, lo:hi] == 0.0)
    np.testing.assert_array_equal(out[:, :lo], full[:, :lo])
    np.testing.assert_array_equal(out[:, hi:], full[:, hi:])
    assert engine.missed_hops() == {"gain": 8 * BLOCK // 4}


def test_dry_plays_the_input_for_missed_hops():
    x = ramp(40 * BLOCK)
    out = run(Engine([Gain(hop=4)], miss_policy="dry"), x, MISSED)
    lo, hi = 5 * BLOCK + 3, 13 * BLOCK + 3
    np.testing.assert_array_equal(out[:, lo:hi], x[:, lo - 3:hi - 3])  # dry, same delay
    np.testing.assert_allclose(out[:, hi:], 2.0 * x[:, hi - 3:x.shape[1] - 3])


def test_hold_repeats_the_last_computed_hop():
    x = ramp(40 * BLOCK)
    out = run(Engine([Gain(hop=4)], miss_policy="hold"), x, MISSED)
    lo, hi = 5 * BLOCK + 3, 13 * BLOCK + 3
    last_hop = out[:, lo - 4:lo]
    np.testing.assert_array_equal(out[:, lo:hi].reshape(1, -1, 4), np.broadcast_to(last_hop[:, None], (1, 256, 4)))


def test_audio_processors_take_consecutive_output_rows():
    x = ramp(8 * BLOCK)
    engine = Engine([Gain(2.0, hop=1), RmsProcessor(HOP), Gain(3.0, hop=1)])
    out = run(engine, x, set())
    assert engine.output_channels == 2
    np.testing.assert_allclose(out[0], 2.0 * x[0])
    np.testing.assert_allclose(out[1], 3.0 * x[0])


@pytest.mark.parametrize("rate", [16000, 22050], ids=["16k", "22.05k"])
def test_audio_processor_at_another_rate_is_resampled_in_and_out(rate):
    """48 kHz host, a gain node at another rate: out = 2 x delayed by exactly the reported delay."""
    engine = Engine([Gain(rate=rate)])
    n = 48000
    t = np.arange(n) / RATE
    x = (0.5 * np.sin(2 * np.pi * 997.0 * t)).astype(np.float32)[None]
    out = run(engine, x, set(), block=100)
    (row,) = engine.latency_report()
    delay_s = row["audio_delay_samples"] / RATE
    assert row["resampler_ms"] > 0 and row["buffering_ms"] > row["host_block_ms"]
    expected = 2 * 0.5 * np.sin(2 * np.pi * 997.0 * (t - delay_s))
    settled = slice(int(0.05 * RATE), n)
    np.testing.assert_allclose(out[0, settled], expected[settled], atol=2e-3)


@pytest.mark.parametrize("policy, message", [
    ("later", "unknown miss policy 'later'"),
    ({"pitch": "hold"}, "miss policy given for ['pitch']"),
    ({"rms": "nope"}, "unknown miss policy 'nope'"),
], ids=["bad-name", "unknown-task", "bad-value"])
def test_bad_policies_are_refused_in_one_line(policy, message):
    with pytest.raises(ValueError) as info:
        Engine([RmsProcessor()], miss_policy=policy)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_latency_report_names_every_part():
    engine = Engine([Gain(hop=32), RmsProcessor(HOP)], miss_policy={"gain": "dry"})
    engine.prepare(RATE, 1, 256)
    gain, rms = engine.latency_report()
    assert gain["adapter_audio_ms"] == pytest.approx(1000 * 31 / RATE) and gain["miss_policy"] == "dry"
    assert rms["adapter_audio_ms"] == 0.0 and rms["miss_policy"] == "skip"
    for row in (gain, rms):
        assert row["host_block_ms"] == pytest.approx(1000 * 256 / RATE)
        assert row["buffering_ms"] == pytest.approx(row["host_block_ms"] + row["adapter_audio_ms"] + row["resampler_ms"])

"""Stream time is the run's: a reset (``/rtmir/ctl/reset``) clears state, never the clock."""
from __future__ import annotations

import numpy as np
import pytest

from jack_tools import CaptureSink
from rtmir.core.engine import Engine
from rtmir.hosts.live_worker import warm_up
from rtmir.tasks.yin import YinProcessor

RATE, BLOCK = 48000, 512


def _sine(seconds: float, f0: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * f0 * t)).astype(np.float32)[None, :]


def _run(audio: np.ndarray, reset_at_block: int | None = None) -> list:
    sink = CaptureSink()
    engine = Engine([YinProcessor()], [sink])
    engine.prepare(RATE, 1, BLOCK)
    for k, start in enumerate(range(0, audio.shape[1], BLOCK)):
        if k == reset_at_block:
            engine.reset()
        engine.push(np.ascontiguousarray(audio[:, start:start + BLOCK]))
    engine.close()
    return sink.events


@pytest.mark.parametrize("reset_at_block", [1, 37, 93])
def test_reset_keeps_stream_time_monotonic_and_restarts_state_only(reset_at_block):
    audio = _sine(3.0)
    events = _run(audio, reset_at_block)
    t = np.array([e.t for e in events])
    assert np.all(np.diff(t) > 0), "stream time went back at the reset"
    # after the reset, the events are a fresh instance's on the rest of the audio, later by the reset time
    cut = reset_at_block * BLOCK
    fresh = _run(np.ascontiguousarray(audio[:, cut:]))
    after = [e for e in events if e.t >= cut / RATE]
    assert len(after) == len(fresh)
    assert [e.t for e in after] == pytest.approx([e.t + cut / RATE for e in fresh], abs=1e-9)
    assert [e.values for e in after] == [e.values for e in fresh]  # bit for bit


def test_prepare_starts_a_new_run_at_zero():
    sink = CaptureSink()
    engine = Engine([YinProcessor()], [sink])
    for _ in range(2):
        engine.prepare(RATE, 1, BLOCK)
        for start in range(0, 4 * BLOCK, BLOCK):
            engine.push(_sine(0.1)[:, start:start + BLOCK].copy())
    first = [e.t for e in sink.events]
    half = len(first) // 2
    assert first[:half] == first[half:]


def test_warm_up_leaves_no_trace():
    """``live_worker.warm_up`` (the live host's, against startup xruns) runs every node on silence
    but sends nothing and changes nothing: the run after it equals a run without it."""
    from rtmir.tasks.registry import build_processor

    audio = _sine(1.0)

    def run(warm: bool) -> tuple[list, int]:
        sink = CaptureSink()
        engine = Engine([YinProcessor(), build_processor("pitch")], [sink])
        engine.prepare(RATE, 1, BLOCK)
        if warm:
            warm_up(engine)
            assert sink.events == [] and engine.stats.events == 0 and engine.stats.samples_in == 0
        for start in range(0, audio.shape[1], BLOCK):
            engine.push(np.ascontiguousarray(audio[:, start:start + BLOCK]))
        engine.close()
        return [(e.node, e.t, e.values) for e in sink.events], engine.stats.events

    assert run(True) == run(False)

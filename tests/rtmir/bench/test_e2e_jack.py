"""End to end through a real JACK server (dummy driver): the bench recovers a known delay, OSC
latency lands in its declared band, and a slow processor is answered by its miss policy without
stalling the callback.

Run: ``pytest -m jack tests/rtmir/bench`` (jackd2 must be installed; the fixture fails otherwise).
"""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from graphs import delay_line
from jack_tools import PERIOD, RATE, SERVER, CaptureSink, Player, Recorder, RmsProcessor, assert_fixed_lag, wait_for
from rtmir.bench.e2e import E2EConfig, audio_latency, event_latency
from rtmir.bench.jack import bare_passthrough
from rtmir.core.engine import Engine
from rtmir.core.processor import Event, Processor
from rtmir.hosts.live_host import LiveHost
from rtmir.session import StreamingSession
from rtmir.tasks.model import ModelProcessor
from rtmir.tasks.yin import YinProcessor

pytestmark = pytest.mark.jack
CFG = E2EConfig(block=PERIOD, sample_rate=RATE, seconds=1.5, server=SERVER)
HOP = 480
#: rtmir may flag this many more callbacks than twice the bare stream's (see test_live_jack.py)
XRUN_MARGIN = 25
#: Stalls. Scheduler noise on this VM stalls a callback now and then by ~10–25 ms (PLATFORM.md;
#: more while neighbours train), so a single long interval proves little. A callback blocked by
#: the 15 ms-per-hop processor would be late on *every* computed hop (≥ 100 in 3 s): so the test
#: counts intervals over 10 ms against the bare stream's count, and bounds the worst one loosely.
LONG_INTERVALS_MARGIN = 8
STALL_MAX_MS = 50.0


@pytest.fixture(scope="module")
def baseline(jack_server):
    return bare_passthrough(3.0, RATE, PERIOD)


def delay_processor(tmp_path, delay: int, hop: int):
    path = delay_line(tmp_path / f"delay{delay}_{hop}.onnx", delay=delay, hop=hop, sample_rate=RATE)
    return lambda: [ModelProcessor(StreamingSession(path))]


@pytest.mark.parametrize("delay, hop", [(100, 1), (37, 32)], ids=["D100-hop1", "D37-hop32"])
def test_freewheel_recovers_a_known_delay_exactly(jack_server, tmp_path, record_property, delay, hop):
    r = audio_latency(delay_processor(tmp_path, delay, hop), CFG, freewheel=True)
    d = r["declared"]
    record_property("lags_samples", r["lags_samples"])
    assert r["clicks_back"] == r["clicks"] == 15
    # every click came back at D + buffering (adapter hop - 1, output ring, PortAudio's block)
    assert r["lags_samples"] == [delay + (hop - 1) + d["output_ring_samples"] + PERIOD], r
    # Late output blocks can occur once freewheel runs past the signal (the graph outpaces the
    # worker by more than the ring); every click above came back exact, which is the property.
    assert r["exact"] and r["run"]["missed_hops"] == 0


def test_realtime_known_delay_is_fixed(jack_server, tmp_path, record_property):
    r = audio_latency(delay_processor(tmp_path, 100, 1), CFG, freewheel=False)
    expected = 100 + 2 * PERIOD + PERIOD
    record_property("realtime_lags", r["lags_samples"])
    record_property("realtime_xruns", r["run"]["xruns"])
    assert r["declared"]["total_samples"] == expected
    if r["run"]["xruns"] == 0 and r["run"]["late_blocks"] == 0:
        assert r["lags_samples"] == [expected] and r["clicks_back"] == r["clicks"]
    else:  # around a cycle JACK skipped or ran late, clicks shift by whole periods either way
        # ([356, 484, 612] with 484 expected, once in clean-clone CI); most stay exact, none lost all
        assert_fixed_lag(r["lags_each"], r["lags_each"], expected, max(1, r["run"]["xruns"]))
        assert r["clicks_back"] >= r["clicks"] // 2


def test_osc_latency_lands_in_the_declared_band(jack_server, record_property):
    r = event_latency(lambda: [YinProcessor()], E2EConfig(PERIOD, RATE, 2.0, SERVER))
    lat, tag = r["arrival_minus_audio_ms"], r["timetag_minus_player_ms"]
    for key in ("p50", "p99", "std"):
        record_property(f"osc_latency_{key}_ms", round(lat[key], 3))
    record_property("timetag_minus_player_ms", round(tag["mean"], 3))
    slip = r["stream_slip_ms"]
    record_property("stream_slip_ms_max", round(slip["max"], 3))  # cycles rtmir's client never ran
    assert r["kernel_arrival_stamps"] and lat["count"] >= 150  # ~100 events/s
    assert r["within_declared"], (lat, r["declared"], slip)
    # timetags are set back by the capture latency PortAudio reports (one period on the dummy driver's
    # capture ports); the player has no capture stage, so it leads them by exactly that, up to clock
    # drift, and by the whole periods rtmir's client was not run for (measured by the player)
    period_ms = 1000 * PERIOD / RATE
    record_property("capture_latency_ms", round(r["capture_latency_ms"], 3))
    assert r["capture_latency_ms"] == pytest.approx(period_ms, abs=0.01)
    assert slip["min"] >= -period_ms and all(round(x / period_ms, 6).is_integer() for x in (slip["min"], slip["max"]))
    # What is left is the epoch's own error: it is one callback's wall-clock stamp, late by however
    # long the scheduler kept that callback waiting (0.82 ms seen on a loaded CI machine). Half a
    # period still fails on the error this guards against: an offset of a whole period.
    drift_ms = abs(r["jack_clock_ppm"]) * 1e-6 * 2000
    residual = r["timetag_residual_ms"]["mean"]
    assert abs(residual) < 0.5 * period_ms + drift_ms, (r["timetag_residual_ms"], tag, r["capture_latency_ms"], slip)
    assert r["onset_to_first_voiced_ms"]["count"] == r["bursts"]


# -- a slow processor ------------------------------------------------------------------------------
class SlowRms(RmsProcessor):
    """Sleeps 15 ms per 10 ms hop (GIL released, like an ONNX call that is too slow)."""

    def process(self, block, t0, out=None):
        time.sleep(0.015 * block.shape[1] / self.hop_size)
        return super().process(block, t0, out)


class SlowMute(Processor):
    """Audio processor: outputs silence, 15 ms per 10 ms hop (so ``dry`` audio stands out)."""

    task = "mute"
    channels = 1
    output_channels = 1
    hop_size = HOP

    def prepare(self, spec):
        pass

    def reset(self):
        pass

    def process(self, block, t0, out=None):
        time.sleep(0.015 * block.shape[1] / self.hop_size)
        out[:] = 0.0
        return [Event(self.task, t0 / RATE, {})]


def run_slow(engine: Engine, seconds: float, signal: np.ndarray | None = None):
    """Stream ``seconds`` in real time (playing ``signal`` and recording the output if given)."""
    host = LiveHost(block=PERIOD, output=True, watchdog_seconds=5.0)
    result, stop = {}, threading.Event()
    thread = threading.Thread(target=lambda: result.update(summary=host.run(engine, stop=stop.is_set)), daemon=True)
    thread.start()
    player = rec = None
    result["steady_from"] = 0
    try:
        wait_for(lambda: host.frames_in > 10 * PERIOD, 10, "first callbacks")
        if signal is not None:
            player, rec = Player(signal, host), Recorder(len(signal))
            for c in (player.client, rec.client):
                c.activate()
            player.wire_to_rtmir()
            rec.wire_from_rtmir(0)
            player.armed, rec.start_time = True, -1
            time.sleep(0.2)  # JACK re-sorts its graph on connections: not the engine's doing
            result["steady_from"] = host.callbacks
            wait_for(lambda: rec.pos >= len(rec.data) - PERIOD, seconds + 10, "the recording")
        else:
            time.sleep(0.2)  # stream start-up
            result["steady_from"] = host.callbacks
            time.sleep(seconds)
    finally:
        stop.set()
        thread.join(15)
        for c in (player, rec):
            if c is not None:
                c.client.deactivate()
                c.client.close()
    summary = result["summary"]
    # the worst callback interval once the graph is wired (at most 8192 intervals are kept)
    intervals = host.callback_intervals_ms()[result["steady_from"] - max(0, host.callbacks - 8193):]
    summary["steady_interval_max_ms"] = float(intervals.max())
    summary["steady_intervals_over_10ms"] = int((intervals > 10.0).sum())
    # xruns once the graph is wired: connecting the player and recorder makes JACK re-sort its
    # graph, which flagged callbacks in clean-clone CI (51 in the whole run, baseline 9)
    summary["steady_xruns"] = host.xruns_since(result["steady_from"])
    return summary, player, rec


def _quiet(summary: dict, base: dict) -> bool:
    return (summary["steady_xruns"] <= 2 * base["xruns"] + XRUN_MARGIN
            and summary["steady_intervals_over_10ms"] <= base["callback_intervals_over_10ms"] + LONG_INTERVALS_MARGIN
            and summary["steady_interval_max_ms"] <= STALL_MAX_MS)


def run_slow_checked(make_engine, seconds: float, base: dict, record_property, signal=None):
    """``run_slow`` on a fresh ``make_engine()`` (engine, sink), then ``check_no_stall``. A burst
    of load from elsewhere can land on the run and not on the baseline measured before it (as in
    test_live_jack.py): a run that is not as quiet as the baseline is measured once more, with a
    fresh baseline, and the second pair must pass. A callback the slow node blocks fails both."""
    engine, sink = make_engine()
    summary, player, rec = run_slow(engine, seconds, signal)
    record_property("pairs_measured", 1)
    if not _quiet(summary, base):
        record_property("first_pair", {"baseline": {k: base[k] for k in ("xruns", "callback_intervals_over_10ms")},
                                       "run": {k: summary[k] for k in ("xruns", "steady_xruns",
                                                                       "steady_intervals_over_10ms",
                                                                       "steady_interval_max_ms")}})
        base = bare_passthrough(3.0, RATE, PERIOD)
        engine, sink = make_engine()
        summary, player, rec = run_slow(engine, seconds, signal)
        record_property("pairs_measured", 2)
    check_no_stall(summary, base, record_property)
    return summary, sink, player, rec


def check_no_stall(summary: dict, base: dict, record_property) -> None:
    record_property("xruns", summary["xruns"])
    record_property("steady_xruns", summary["steady_xruns"])
    record_property("baseline_xruns", base["xruns"])
    record_property("callback_interval_max_ms", round(summary["steady_interval_max_ms"], 3))
    record_property("callback_intervals_over_10ms", summary["steady_intervals_over_10ms"])
    record_property("baseline_intervals_over_10ms", base["callback_intervals_over_10ms"])
    assert summary["steady_xruns"] <= 2 * base["xruns"] + XRUN_MARGIN
    assert summary["steady_intervals_over_10ms"] <= base["callback_intervals_over_10ms"] + LONG_INTERVALS_MARGIN
    assert summary["steady_interval_max_ms"] <= STALL_MAX_MS
    assert summary["missed_blocks"] == 0  # the worker kept up with the input ring


@pytest.mark.parametrize("policy", ["hold", "skip"])
def test_slow_event_processor_misses_are_counted_and_answered(jack_server, baseline, record_property, policy):
    def make_engine():
        sink = CaptureSink()
        return Engine([SlowRms(HOP)], [sink], miss_policy=policy), sink

    summary, sink, _, _ = run_slow_checked(make_engine, 3.0, baseline, record_property)
    missed = summary["missed_hops_by_processor"]["rms"]
    record_property("missed_hops", missed)
    hops = int(round(summary["seconds"] * RATE)) // HOP
    assert summary["missed_hops"] == missed > hops // 5
    assert summary["miss_policies"] == {"rms": policy}
    assert sink.statuses and sink.statuses[-1]["missed_hops"] > 0  # /rtmir/status reports them
    held = [e for e in sink.events if e.values.get("held")]
    steps = np.round(np.diff([e.t for e in sink.events]) * RATE).astype(int)
    if policy == "hold":  # one event per hop, computed or held: the grid has no hole
        assert len(held) == missed and set(steps) == {HOP}
        assert len(sink.events) >= hops - 1
    else:  # holes where hops were skipped, the clock still exact (multiples of the hop)
        assert not held and len(sink.events) + missed >= hops - 1
        assert set(steps % HOP) == {0} and max(steps) > HOP


def test_slow_audio_processor_plays_dry_input_on_misses(jack_server, baseline, record_property):
    t = np.arange(int(2.0 * RATE)) / RATE
    signal = (0.5 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)
    def make_engine():
        sink = CaptureSink()
        return Engine([SlowMute()], [sink], miss_policy="dry"), sink

    summary, _, player, rec = run_slow_checked(make_engine, 2.0, baseline, record_property, signal)
    assert summary["missed_hops"] > 0
    lag = (HOP - 1) + 2 * PERIOD + PERIOD  # adapter + output ring + PortAudio: dry keeps the latency
    src = np.flatnonzero(np.abs(rec.data) > 1e-6)
    record_property("dry_fraction", round(len(src) / len(rec.data), 3))
    assert 0.1 < len(src) / len(rec.data) < 0.95  # some hops computed (silence), some dry
    j = src + rec.start_time - player.jack_time - lag  # the player sample each one came from
    ok = (j >= 3 * PERIOD) & (j < len(signal) - 3 * PERIOD)
    got, j = rec.data[src[ok]], j[ok]
    exact = np.abs(got - signal[j]) <= 1e-6
    record_property("dry_exact_fraction", round(float(exact.mean()), 4))
    if summary["xruns"] == 0:  # every dry sample at exactly the declared lag
        assert exact.all(), f"{(~exact).sum()} of {exact.size} dry samples off the declared lag"
    else:  # around a cycle JACK skipped or ran late, samples shift by whole periods either way
        # (0.930 exact once in clean-clone CI): each dry sample is the input at the declared lag
        # give or take up to three periods, and most are at exactly the declared lag
        shifted = np.zeros_like(exact)
        for k in range(-3, 4):
            shifted |= np.abs(got - signal[j + k * PERIOD]) <= 1e-6
        record_property("dry_whole_period_fraction", round(float(shifted.mean()), 4))
        assert shifted.mean() >= 0.999, f"{(~shifted).sum()} of {shifted.size} dry samples off by a part of a period"
        assert exact.mean() >= 0.5, f"only {exact.mean():.3f} of dry samples at the declared lag"

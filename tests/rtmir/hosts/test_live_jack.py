"""LiveHost against a real JACK server (dummy driver): deterministic freewheel results, real-time
xruns relative to a bare pass-through stream, device loss, and clear device errors.

Run: ``pytest -m jack tests/rtmir/hosts`` (jackd2 must be installed; the fixture fails otherwise).
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rtmir.bench.jack import bare_passthrough as _bare_passthrough
from jack_tools import (PERIOD, RATE, CaptureSink, OscReceiver, Player, Recorder, RmsProcessor, assert_fixed_lag,
                        impulse_lags, run_in_thread, wait_for)
from rtmir.core.engine import Engine
from rtmir.hosts.live_host import AudioDeviceError, DeviceLostError, LiveHost  # noqa: F401
from rtmir.sinks.osc import OscSink
from rtmir.tasks.yin import YinProcessor

pytestmark = pytest.mark.jack
HERE = Path(__file__).resolve().parent

# 3 tones of 1 s with short silences around them: (start s, end s, Hz) in signal time.
TONES = [(0.25, 1.25, 220.0), (1.5, 2.5, 330.0), (2.75, 3.75, 440.0)]
SIGNAL_S = 4.25


def tone_signal() -> np.ndarray:
    t = np.arange(int(SIGNAL_S * RATE)) / RATE
    x = np.zeros_like(t)
    for start, end, hz in TONES:
        on = (t >= start) & (t < end)
        x[on] = 0.5 * np.sin(2 * np.pi * hz * (t[on] - start))
    return x.astype(np.float32)


def offline_events(signal: np.ndarray, start_frame: int, total_frames: int) -> list:
    """The same YIN over the same stream (silence, signal at ``start_frame``, silence), offline."""
    stream = np.zeros(total_frames, np.float32)
    stream[start_frame:start_frame + len(signal)] = signal
    sink = CaptureSink()
    engine = Engine([YinProcessor()], [sink])
    engine.prepare(RATE, 1, 4096)
    for i in range(0, total_frames, 4096):
        engine.push(stream[None, i:i + 4096].copy())
    return sink.events


def test_freewheel_yin_events_over_osc_match_offline(jack_server, record_property):
    signal = tone_signal()
    receiver = OscReceiver()
    receiver.start()
    osc = OscSink("127.0.0.1", receiver.port)
    engine = Engine([YinProcessor()], [osc])
    host = LiveHost(block=PERIOD, ring_seconds=SIGNAL_S + 4.0, watchdog_seconds=5.0)
    thread, stop, result = run_in_thread(host, engine, on_epoch=lambda e: setattr(osc, "timetag_epoch", e))
    player = Player(signal, host)
    try:
        player.client.activate()
        wait_for(lambda: host.frames_in > 10 * PERIOD or "error" in result, 10, "first callbacks")
        player.wire_to_rtmir()
        player.set_freewheel(True)
        player.armed = True
        wait_for(lambda: player.done, 20, "the player to finish in freewheel")
        tail_end = host.frames_in + RATE // 2  # half a second of silence after the signal
        wait_for(lambda: host.frames_in >= tail_end, 20, "the silent tail")
        player.set_freewheel(False)
        wait_for(lambda: host.frames_processed >= tail_end, 20, "the worker to drain")
    finally:
        stop.set()
        thread.join(15)
        player.client.deactivate()
        player.client.close()
        engine.close()
        time.sleep(0.2)
        receiver.stop()
    assert "error" not in result, result.get("error")
    summary = result["summary"]
    assert summary["missed_blocks"] == 0
    _check_yin(receiver.messages, host.timetag_epoch, player.start_frame, signal, summary, record_property)


def _check_yin(messages, epoch, start_frame, signal, summary, record_property) -> None:
    live = {round(tt - epoch, 4): args for tt, addr, args in messages if addr == "/rtmir/pitch"}
    processed = int(round(summary["seconds"] * RATE))
    offline = [e for e in offline_events(signal, start_frame, processed) if e.t >= 0]
    # every event the offline pass gives, arrived, at the same t, with the same value
    missing = [e.t for e in offline if round(e.t, 4) not in live]
    assert not missing, f"{len(missing)} of {len(offline)} events missing, first at t={missing[:5]}"
    steady, worst_cents = 0, 0.0
    for e in offline:
        f0, conf, _midi = live[round(e.t, 4)]
        assert (f0 > 0) == bool(e.values["voiced"]), f"voicing differs at t={e.t}"
        if e.values["voiced"]:
            assert f0 == pytest.approx(e.values["f0_hz"], rel=1e-6)
        s = e.t - start_frame / RATE  # signal time described by the event
        for start, end, hz in TONES:
            if start + 0.05 <= s <= end - 0.05:  # steady part: frame (36 ms) fully inside the tone
                cents = abs(1200 * math.log2(f0 / hz)) if f0 > 0 else float("inf")
                assert cents <= 10, f"t={e.t:.3f}: {f0:.2f} Hz for {hz} Hz ({cents:.1f} cents)"
                steady, worst_cents = steady + 1, max(worst_cents, cents)
    assert steady >= 3 * 85, f"only {steady} steady-part events"
    record_property("freewheel_events", len(offline))
    record_property("freewheel_steady_events", steady)
    record_property("freewheel_worst_cents", round(worst_cents, 3))
    record_property("freewheel_signal_start_frame", start_frame)


# -- real time ---------------------------------------------------------------------------------
RT_SECONDS = 5.0
#: rtmir may flag this many more callbacks than twice the bare stream's count in the same test.
#: Why: this VM flags 13–21 callbacks per 20 s with an idle engine (PLATFORM.md) and neighbours'
#: torch jobs stall the scheduler in bursts; a callback or worker that does Python-heavy work
#: (or spins) flags hundreds per 5 s (~2600 in 15 s measured), far above this margin.
XRUN_MARGIN = 25


def bare_passthrough(seconds: float) -> dict:
    """The baseline: a plain duplex stream copying in → out (shared with ``rtmir bench``)."""
    return _bare_passthrough(seconds, RATE, PERIOD)


def _bare_then_rtmir() -> tuple[dict, dict, CaptureSink]:
    base = bare_passthrough(RT_SECONDS)
    sink = CaptureSink()
    engine = Engine([YinProcessor()], [sink])
    host = LiveHost(block=PERIOD, output=True)
    first = []  # RT_SECONDS of wall time from the first callback (opening, JIT warm-up excluded)

    def stop() -> bool:
        if not first and host.callbacks:
            first.append(time.monotonic())
        return bool(first) and time.monotonic() - first[0] > RT_SECONDS

    live = host.run(engine, stop=stop, status_every=1.0)
    return base, live, sink


def _as_quiet_as_bare(base: dict, live: dict) -> bool:
    return (live["xruns"] <= 2 * base["xruns"] + XRUN_MARGIN
            and live["callback_jitter_ms"] <= 3 * base["callback_jitter_ms"] + 1.0)


def test_realtime_xruns_relative_to_bare_stream(jack_server, record_property):
    """rtmir's stream flags no more xruns and jitters no more than a bare duplex stream run just
    before it. The two runs are 5 s apart in time, so a burst of load from elsewhere can land on
    one only (seen once: jitter 4.0 ms against 0.3 ms, on a run that passed alone): a pair that
    differs is measured once more, and the second pair must agree. A callback that works (or
    spins) differs every time."""
    base, live, sink = _bare_then_rtmir()
    record_property("pairs_measured", 1)
    if not _as_quiet_as_bare(base, live):
        record_property("first_pair", {"bare": {k: base[k] for k in ("xruns", "callback_jitter_ms")},
                                       "rtmir": {k: live[k] for k in ("xruns", "callback_jitter_ms")}})
        base, live, sink = _bare_then_rtmir()
        record_property("pairs_measured", 2)
    for key in ("xruns", "callbacks", "callback_jitter_ms", "callback_interval_ms"):
        record_property(f"baseline_{key}", base[key])
    for key in ("xruns", "callbacks", "callback_jitter_ms", "late_blocks", "missed_blocks",
                "compute_ms_p50", "compute_ms_p99", "compute_ms_max", "cpu_load"):
        record_property(f"rtmir_{key}", live[key])
    print(f"\nxruns rtmir {live['xruns']} vs bare {base['xruns']}; callback jitter (std) rtmir "
          f"{live['callback_jitter_ms']:.3f} ms vs bare {base['callback_jitter_ms']:.3f} ms; "
          f"late {live['late_blocks']}; compute p50/p99/max {live['compute_ms_p50']:.3f}/"
          f"{live['compute_ms_p99']:.3f}/{live['compute_ms_max']:.3f} ms")
    expected = RT_SECONDS * RATE / PERIOD
    assert live["callbacks"] >= 0.9 * expected and base["callbacks"] >= 0.9 * expected
    assert live["xruns"] <= 2 * base["xruns"] + XRUN_MARGIN
    assert live["missed_blocks"] == 0
    assert live["callback_jitter_ms"] <= 3 * base["callback_jitter_ms"] + 1.0
    assert len(sink.statuses) >= RT_SECONDS - 1 and sink.statuses[-1]["cpu_load"] < 0.5
    # /rtmir/status and the display give the latency a user gets: the declared path (YIN's
    # algorithmic latency and buffering, core.latency) + device input + the median push
    declared = Engine([YinProcessor()])
    declared.prepare(RATE, 1, PERIOD)
    assert declared.max_latency_ms() > 15.0  # YIN's 18.2 ms path (the issue saw 3.1 ms reported)
    assert declared.max_latency_ms() <= sink.statuses[-1]["latency_ms"] < declared.max_latency_ms() + 10.0
    assert live["events"] == pytest.approx(RT_SECONDS * 100, rel=0.1)  # one per 10 ms hop


# -- device loss ----------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["kill", "freeze"])
def test_device_lost_ends_run_with_one_line_and_flushed_sinks(jack_server, tmp_path, record_property, how):
    """jackd SIGKILLed (the stream turns inactive) or SIGSTOPped (callbacks stop, the stream still
    looks active: only the 1 s watchdog can tell)."""
    events, ready = tmp_path / "events.jsonl", tmp_path / "ready"
    child = subprocess.Popen([sys.executable, str(HERE / "live_child.py"), str(events), str(ready)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: ready.exists() or child.poll() is not None, 20, "the child to stream")
        assert child.poll() is None, child.communicate()
        if how == "kill":
            jack_server.stop(signal_kill())  # PortAudio released in this process first
        else:
            jack_server.freeze()
        killed = time.monotonic()
        out, err = child.communicate(timeout=15)
        took = time.monotonic() - killed
    finally:
        if child.poll() is None:
            child.kill()
        jack_server.stop(signal_kill())  # a thawed server waits for its dead client: just kill it
        jack_server.start()  # later tests need the server back
    record_property(f"device_lost_{how}_exit_seconds", round(took, 2))
    lines = err.strip().splitlines()
    assert child.returncode == 3, (child.returncode, err)
    assert len(lines) == 1 and lines[0].startswith("rtmir: error: audio device stopped delivering audio"), err
    assert took < 1.0 + 5.0  # watchdog 1 s, then drain and exit
    records = [json.loads(line) for line in events.read_text().splitlines()]  # closed → renamed, parseable
    assert len(records) >= 50 and all(r["task"] == "rms" for r in records)
    ts = [r["t"] for r in records]
    assert ts == sorted(ts) and np.allclose(np.diff(ts), 0.01)


def signal_kill() -> int:
    import signal

    return signal.SIGKILL


@pytest.mark.parametrize("sig, reason", [("SIGTERM", "sigterm"), ("SIGINT", "sigint"), ("SIGHUP", "sighup")],
                         ids=["sigterm", "ctrl-c", "sighup"])
def test_signal_stops_cleanly(jack_server, tmp_path, sig, reason):
    import signal

    events, ready = tmp_path / "events.jsonl", tmp_path / "ready"
    child = subprocess.Popen([sys.executable, str(HERE / "live_child.py"), str(events), str(ready)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: ready.exists() or child.poll() is not None, 20, "the child to stream")
        child.send_signal(getattr(signal, sig))
        out, err = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    summary = json.loads(out)
    assert summary["stop_reason"] == reason and summary["missed_blocks"] == 0
    assert summary["signal"] == getattr(signal, sig)
    records = [json.loads(line) for line in events.read_text().splitlines()]
    assert len(records) == summary["events"] >= 50


# -- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"device": "no such device"}, "no audio input device matching 'no such device'"),
        ({"sample_rate": 44100}, "refuses 1 channel(s) at 44100 Hz"),
        ({"channels": 3}, "has 2 input channels, 3 requested"),
    ],
    ids=["unknown-name", "refused-rate", "too-many-channels"],
)
def test_bad_settings_raise_one_clear_line(jack_server, kwargs, message):
    engine = Engine([YinProcessor()], [CaptureSink()])
    with pytest.raises(AudioDeviceError) as info:
        LiveHost(**kwargs).run(engine, stop=lambda: True)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_no_server_raises_audio_device_error():
    """In a fresh process whose JACK server name answers nothing (and no other backend has inputs)."""
    code = (
        "from rtmir.core.engine import Engine\n"
        "from rtmir.hosts.live_host import AudioDeviceError, LiveHost\n"
        "from jack_tools import CaptureSink, RmsProcessor\n"
        "try:\n"
        "    LiveHost().run(Engine([RmsProcessor()], [CaptureSink()]), stop=lambda: True)\n"
        "except AudioDeviceError as exc:\n"
        "    print('ERR', exc)\n"
    )
    env = {**os.environ, "JACK_DEFAULT_SERVER": "rtmir_absent", "JACK_NO_START_SERVER": "1",
           "PYTHONPATH": os.pathsep.join([str(HERE.parents[2]), str(HERE.parents[1])])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        "ERR no audio input device: start JACK/PulseAudio or pass --device (see `rtmir devices`)"
    ), out.stdout + out.stderr


class Exploding(RmsProcessor):
    """Raises on its 20th hop, like a broken model would."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def process(self, block, t0, out=None):
        self.calls += 1
        if self.calls == 20:
            raise RuntimeError("boom in process")
        return super().process(block, t0, out)


def test_engine_error_stops_the_stream_and_propagates(jack_server):
    sink = CaptureSink()
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="boom in process"):
        LiveHost(block=PERIOD, output=True).run(Engine([Exploding()], [sink]), stop=lambda: time.monotonic() - t0 > 5)
    assert time.monotonic() - t0 < 3
    # the device is usable again right away: the stream was closed, not abandoned
    t1 = time.monotonic()
    summary = LiveHost(block=PERIOD).run(Engine([RmsProcessor()], [CaptureSink()]),
                                         stop=lambda: time.monotonic() - t1 > 0.6)
    assert summary["callbacks"] > 100


def test_devices_lists_the_jack_server(jack_server):
    from rtmir.hosts.devices import format_devices, list_devices

    rows = list_devices()
    jack_rows = [r for r in rows if r["hostapi"] == "JACK Audio Connection Kit"]
    assert len(jack_rows) == 1 and jack_rows[0]["name"] == "system"
    assert jack_rows[0]["default_input"] and jack_rows[0]["max_input_channels"] == 2
    assert jack_rows[0]["default_samplerate"] == RATE
    assert "JACK Audio Connection Kit" in format_devices(rows)


@pytest.mark.parametrize("latency_blocks", [2, 4], ids=["2-blocks", "4-blocks"])
def test_duplex_output_is_dry_input_at_a_fixed_latency(jack_server, record_property, latency_blocks):
    """Real time: impulses in, rtmir's dry output recorded; each impulse comes back exactly
    ``output_latency_blocks * block`` + PortAudio's one block later, or not at all (a late block
    plays silence) — never at another lag, except around an xrun: one period later for each cycle
    rtmir's client was not run for while the impulse was inside it, and one period either way
    around a cycle it ran late."""
    impulses = np.zeros(2 * RATE, np.float32)
    at = np.arange(1000, len(impulses) - 1000, RATE // 10)  # 20 impulses, 100 ms apart
    impulses[at] = 1.0
    host = LiveHost(block=PERIOD, output=True, output_latency_blocks=latency_blocks)
    engine = Engine([RmsProcessor()], [CaptureSink()])
    thread, stop, result = run_in_thread(host, engine)
    player, rec = Player(impulses, host), Recorder(len(impulses) + RATE // 2)
    try:
        player.client.activate()
        rec.client.activate()
        wait_for(lambda: host.frames_in > 10 * PERIOD or "error" in result, 10, "first callbacks")
        player.wire_to_rtmir()
        rtmir_out = [p for p in rec.client.get_ports(is_audio=True, is_output=True)
                     if not p.name.startswith(("system:", "rtmir_"))]
        rec.client.connect(rtmir_out[0], rec.port)
        player.armed, rec.start_time = True, -1  # both start at their next cycle
        wait_for(lambda: rec.pos >= len(rec.data) - PERIOD, 10, "the recording")
    finally:
        stop.set()
        thread.join(15)
        for c in (player.client, rec.client):
            c.deactivate()
            c.close()
    assert "error" not in result, result.get("error")
    expected = (latency_blocks + 1) * PERIOD  # PortAudio's JACK backend adds exactly one block (PLATFORM.md)
    each, net = impulse_lags(rec, player, at, 0, RATE // 20, latency_blocks * PERIOD)
    record_property("output_impulses_back", len(each))
    record_property("output_lags_samples", sorted(set(each)))
    record_property("output_lags_less_slip", sorted(set(net)))
    record_property("output_late_blocks", result["summary"]["late_blocks"])
    record_property("output_latency_ms_declared", result["summary"]["output_latency_ms"])
    assert_fixed_lag(each, net, expected, result["summary"]["xruns"])
    assert len(each) >= len(at) // 2

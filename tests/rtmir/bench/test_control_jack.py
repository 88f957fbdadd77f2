"""Control latency through JACK: ``/rtmir/ctl/generate/start 1`` over UDP → the first generated
sample on rtmir's output port, recorded by a JACK client (the bench of ``rtmir.bench.control``)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from jack_tools import SERVER

pytestmark = [pytest.mark.jack, pytest.mark.torch]


def test_a_start_message_is_heard_within_a_bounded_time_every_trial(jack_server, tmp_path):
    pytest.importorskip("torch", reason="export needs the train extra")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "export"))
    from tiny_token_models import export_tiny_lm

    from rtmir.bench.control import control_latency
    from rtmir.codec.files import CodecPair
    from rtmir.session import StreamingSession
    from rtmir.tasks.generate import GenerateProcessor

    lm = export_tiny_lm(tmp_path / "tiny-lm.onnx")

    def make():
        p = GenerateProcessor(StreamingSession(lm), CodecPair.open())
        p.set_param("mode", 0)  # continue over the silent input: only start makes it play
        return [p]

    out = control_latency(make, "generate", "start", 1.0, 0.0, trials=3, hold_s=0.3, server=SERVER)
    assert out["applied"] == 1 + 2 * 3  # every message reached the engine
    # each start is heard: after at least the LM's 3 frames (20 ms), within a loose bound on a loaded VM
    assert all(x is not None and 20.0 <= x <= 500.0 for x in out["latency_ms"]), out["latency_ms"]


def test_live_status_reports_the_generators_tokens_per_s_and_buffer_ahead(jack_server, tmp_path):
    """The host's status record carries the generator's own figures: tokens per second of its
    compute (above real time for the tiny LM) and how far its audio is written ahead of playback
    (on the worker: within the output ring, latency + one block at most)."""
    pytest.importorskip("torch", reason="export needs the train extra")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "export"))
    import threading

    from tiny_token_models import export_tiny_lm

    from jack_tools import PERIOD, RATE, CaptureSink, wait_for
    from rtmir.codec.files import CodecPair
    from rtmir.core.engine import Engine
    from rtmir.hosts.live_host import LiveHost
    from rtmir.session import StreamingSession
    from rtmir.tasks.generate import GenerateProcessor

    gen = GenerateProcessor(StreamingSession(export_tiny_lm(tmp_path / "tiny-lm.onnx")), CodecPair.open())
    gen.set_param("mode", 2)  # free: plays from the first hop
    sink = CaptureSink()
    engine = Engine([gen], [sink])
    host = LiveHost(block=PERIOD, output=True, out_channels=1, output_latency_blocks=2)
    stop, result = threading.Event(), {}

    def target() -> None:
        try:
            result["summary"] = host.run(engine, stop=stop.is_set, status_every=0.2)
        except Exception as exc:  # reported through result["error"]
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(sink.statuses) >= 6 or "error" in result, 20, "six status records")
    finally:
        stop.set()
        thread.join(15)
    assert "error" not in result, result.get("error")
    figures = [s["nodes"]["generate"] for s in sink.statuses[1:]]  # the first may precede a state interval
    assert all(set(f) == {"tokens_per_s", "buffer_ahead_ms"} for f in figures)
    assert min(f["tokens_per_s"] for f in figures) > gen.gen.stages * RATE_FRAMES  # faster than real time
    ring_ms = 1000.0 * (2 * PERIOD + PERIOD) / RATE
    ahead = sorted(f["buffer_ahead_ms"] for f in figures)
    assert ahead[-1] <= ring_ms + 1e-6  # never more than the ring holds
    assert ahead[len(ahead) // 2] > 0.0  # and mostly ahead of playback: the worker keeps up


RATE_FRAMES = 150  # codec frames per second (24 kHz / 160)

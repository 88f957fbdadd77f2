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

"""examples/*.py run: --help works, and the receiver prints what `rtmir stream` sends."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_help(script):
    r = subprocess.run([sys.executable, str(EXAMPLES / script), "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "usage" in r.stdout.lower()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_receiver_prints_the_pitch_rtmir_sends(tmp_path):
    sr = 16000
    clip = tmp_path / "a4.wav"
    sf.write(clip, (0.5 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)).astype(np.float32), sr)
    port = _free_port()
    receiver = subprocess.Popen([sys.executable, str(EXAMPLES / "receive_osc.py"), "--port", str(port), "--seconds", "20",
                                 "--count", "40"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # let it bind
        r = subprocess.run([sys.executable, "-m", "rtmir", "stream", str(clip), "--osc", f"127.0.0.1:{port}", "--realtime"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        out, _ = receiver.communicate(timeout=30)
    finally:
        receiver.kill()
    lines = [line for line in out.splitlines() if line.startswith("pitch")]
    assert len(lines) >= 30
    assert sum("A4" in line for line in lines) >= 0.8 * len(lines)


@pytest.mark.parametrize("graph", sorted((EXAMPLES / "graphs").glob("*.toml")), ids=lambda p: p.name)
def test_example_graphs_build_and_print_their_latency(graph):
    r = subprocess.run([sys.executable, "-m", "rtmir", "graph", str(graph)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "latency (declared" in r.stdout and " ms = upstream " in r.stdout

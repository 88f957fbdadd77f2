"""`rtmir live` itself on a real JACK dummy server: runs, writes events, exits 3 when the server dies."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.jack


def _live(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "rtmir", "live", "--no-display", "--block", "128", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_live_runs_and_writes_events(jack_server, tmp_path):
    out = tmp_path / "live.jsonl"
    proc = _live("--task", "yin", "--seconds", "3", "--jsonl", str(out), "--osc", "127.0.0.1:9")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    # 3 s of (silent) dummy-driver input at 100 YIN hops per second
    assert 200 <= len(rows) <= 320 and all(r["task"] == "yin" and not r["voiced"] for r in rows)
    assert "live" in err and "xruns" in err


def test_live_exits_3_with_one_line_when_the_server_dies(jack_server, tmp_path):
    out = tmp_path / "live.jsonl"
    part = Path(str(out) + ".part")
    proc = _live("--task", "yin", "--jsonl", str(out))
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (part.exists() and part.stat().st_size > 2000):
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        jack_server.stop(signal.SIGKILL)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        jack_server.start()
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 3, err
    assert len(lines) == 1 and lines[0].startswith("rtmir: error: audio device stopped"), err
    rows = [json.loads(line) for line in out.read_text().splitlines()]  # flushed and complete
    assert len(rows) > 20


def test_live_runs_a_graph_with_its_own_output_channel_count(jack_server, tmp_path):
    """A graph file live: one input channel, two output channels (a gain-free delay model routed
    to out 2), events named by node; too many output channels for the device is one line, exit 2."""
    from graphs import delay_line

    model = delay_line(tmp_path / "delay.onnx", delay=4, hop=1, sample_rate=48000)
    g = tmp_path / "g.toml"
    g.write_text(f'edges = ["input -> d", "input -> y"]\nroutes = ["d -> out:2"]\n'
                 f'[nodes.d]\ntask = "model"\nmodel = "{model}"\n[nodes.y]\ntask = "yin"\n')
    out = tmp_path / "live.jsonl"
    proc = _live("--graph", str(g), "--in-channels", "1", "--out-channels", "2", "--seconds", "2",
                 "--jsonl", str(out))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["node"] for r in rows} == {"y"} and len(rows) > 100
    proc = _live("--graph", str(g), "--out-channels", "9", "--seconds", "1")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and len(err.strip().splitlines()) == 1 and "output channels" in err, err

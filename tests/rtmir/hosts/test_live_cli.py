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

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


def _live_writing(out: Path) -> subprocess.Popen:
    """``rtmir live --task yin --jsonl out``, returned once its ``.part`` holds some events."""
    part = Path(str(out) + ".part")
    proc = _live("--task", "yin", "--jsonl", str(out))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (part.exists() and part.stat().st_size > 2000):
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    return proc


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
    proc = _live_writing(out)
    try:
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


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_stop_signal_ends_live_with_128_plus_n_and_complete_outputs(jack_server, tmp_path, sig):
    """One convention (hosts.stop_signals): the run stops, the summary and a line naming the
    signal are printed, the JSONL is whole and in place, exit 128 + N."""
    out = tmp_path / "live.jsonl"
    part = Path(str(out) + ".part")
    proc = _live_writing(out)
    try:
        proc.send_signal(getattr(signal, sig))
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + getattr(signal, sig), err
    assert f"({sig.lower()})" in err and f"stopped by {sig}; the outputs are complete" in err, err
    assert "Traceback" not in err and not part.exists()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) > 20


def test_play_feeds_a_file_through_the_live_path_and_names_the_jack_client(jack_server, tmp_path):
    """`--play FILE`: the file goes in where a microphone would; YIN's events over the file's
    length equal `rtmir stream`'s on the same file, bit for bit (streaming = offline, and the
    live path adds nothing), and the run ends after the file. `--client-name` names the client."""
    import jack
    import numpy as np
    import soundfile as sf

    from jack_tools import SERVER

    sr = 48000
    t = np.arange(int(1.5 * sr)) / sr
    sig = np.where(t < 0.75, 0.5 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 330 * t))
    src = tmp_path / "take.wav"
    sf.write(src, sig.astype(np.float32), sr, subtype="FLOAT")
    live, offline = tmp_path / "live.jsonl", tmp_path / "offline.jsonl"
    proc = _live("--task", "yin", "--play", str(src), "--client-name", "rtmir_play", "--jsonl", str(live))
    spy = jack.Client("rtmir_spy", no_start_server=True, servername=SERVER)
    names: set[str] = set()
    try:
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            names |= {p.name.split(":")[0] for p in spy.get_ports()}
            time.sleep(0.05)
        _, err = proc.communicate(timeout=30)
    finally:
        spy.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "rtmir_play" in names and "PortAudio" not in names, names
    r = subprocess.run([sys.executable, "-m", "rtmir", "stream", str(src), "--task", "yin", "--jsonl", str(offline)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    got = [json.loads(line) for line in live.read_text().splitlines()]
    want = [json.loads(line) for line in offline.read_text().splitlines()]
    end = len(sig) / sr
    assert [e for e in got if e["t"] < end - 0.05] == [e for e in want if e["t"] < end - 0.05]
    assert sum(e["voiced"] for e in want) > 100
    assert max(e["t"] for e in got) < end + 2.0  # it stopped after the file (plus the tail)


def test_input_ports_wire_rtmir_to_the_named_jack_port(jack_server, tmp_path):
    """`--input-ports PATTERN`: rtmir's input is fed by that port only (not system:capture_1), so
    YIN hears the tone a JACK client plays there; a pattern that matches nothing is one line, exit 2."""
    import jack
    import numpy as np

    from jack_tools import SERVER

    src = jack.Client("rtmir_tone", no_start_server=True, servername=SERVER)
    port = src.outports.register("out")
    src.inports.register("in")  # where rtmir's output goes with --output-ports
    phase = [0]

    @src.set_process_callback
    def _process(frames):
        n = np.arange(phase[0], phase[0] + frames)
        port.get_array()[:] = 0.5 * np.sin(2 * np.pi * 220 * n / 48000)
        phase[0] += frames

    src.activate()
    out = tmp_path / "live.jsonl"
    try:
        proc = _live("--task", "yin", "--seconds", "2", "--client-name", "rtmir_ports_test",
                     "--input-ports", "rtmir_tone:out", "--out-channels", "1", "--output-ports", "rtmir_tone:in",
                     "--jsonl", str(out))
        seen: list[set[str]] = []  # PortAudio connects system:capture_1 at start; rtmir rewires it then
        fed: list[set[str]] = []
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            now = {c.name for p in src.get_ports("^rtmir_ports_test:", is_input=True)
                   for c in src.get_all_connections(p)}
            out_now = {c.name for p in src.get_ports("^rtmir_ports_test:", is_output=True)
                       for c in src.get_all_connections(p)}
            if now:
                seen.append(now)
                fed.append(out_now)
            time.sleep(0.05)
        _, err = proc.communicate(timeout=30)
    finally:
        src.deactivate()
        src.close()
    assert proc.returncode == 0, err
    assert len(seen) > 10 and all(x == {"rtmir_tone:out"} for x in seen[3:]), seen
    assert all(x == {"rtmir_tone:in"} for x in fed[3:]), fed  # not system:playback_1
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    voiced = [r["f0_hz"] for r in rows if r["voiced"]]
    assert len(voiced) > len(rows) // 2 and abs(np.median(voiced) - 220) < 2
    proc = _live("--task", "yin", "--seconds", "1", "--input-ports", "nothing_like_this:.*", "--jsonl", str(out))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and len(err.strip().splitlines()) == 1 and "matches 'nothing_like_this" in err, err

"""The ``rtmir`` command: bad input → one clear line, exit 2, nothing half-written; no torch."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def rtmir(*args, cwd=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "rtmir", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


@pytest.fixture
def clip(tmp_path):
    sr = 16000
    t = np.arange(sr) / sr
    path = tmp_path / "clip.wav"
    sf.write(path, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)
    return path


def test_stream_writes_jsonl_per_design(clip, tmp_path):
    out = tmp_path / "pitch.jsonl"
    r = rtmir("stream", str(clip), "--task", "yin", "--jsonl", str(out))
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) > 90
    steady = [row for row in rows if 0.1 < row["t"] < 0.9]
    assert all(row["task"] == "yin" and row["voiced"] for row in steady)
    assert all(abs(1200 * np.log2(row["f0_hz"] / 440)) < 10 for row in steady)
    assert set(rows[0]) == {"task", "node", "t", "f0_hz", "voiced", "confidence"}
    assert all(row["node"] == "yin" for row in rows)


def test_out_dir_gets_events_jsonl(clip, tmp_path):
    r = rtmir("stream", str(clip), "--out-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "events.jsonl").read_text().count("\n") > 90


def _corrupt(tmp_path):
    p = tmp_path / "corrupt.wav"
    p.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage that is not audio")
    return p


def _empty(tmp_path):
    p = tmp_path / "empty.wav"
    sf.write(p, np.zeros((0, 1), np.float32), 16000)
    return p


BAD_INPUTS = {
    "missing-file": (lambda tmp, clip: ["stream", str(tmp / "missing.wav")], "not found"),
    "corrupt-file": (lambda tmp, clip: ["stream", str(_corrupt(tmp))], "cannot read"),
    "empty-file": (lambda tmp, clip: ["stream", str(_empty(tmp))], "empty"),
    "unwritable-out-dir": (lambda tmp, clip: ["stream", str(clip), "--out-dir", str(tmp / "no" / "such")], "does not exist"),
    "unwritable-jsonl": (lambda tmp, clip: ["stream", str(clip), "--jsonl", "/proc/x.jsonl"], "cannot write"),
    "unresolvable-osc": (lambda tmp, clip: ["stream", str(clip), "--osc", "no-such-host.invalid:9000"], "cannot resolve"),
    "malformed-osc": (lambda tmp, clip: ["stream", str(clip), "--osc", "localhost"], "HOST:PORT"),
    "unknown-task": (lambda tmp, clip: ["stream", str(clip), "--task", "nope"], "unknown task"),
    "unknown-model": (lambda tmp, clip: ["stream", str(clip), "--task", "model", "--model", "nope"], "unknown model"),
    "missing-model-file": (lambda tmp, clip: ["stream", str(clip), "--task", "model", "--model", str(tmp / "m.onnx")], "not found"),
    "bad-block": (lambda tmp, clip: ["stream", str(clip), "--block", "0"], "--block"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS), ids=sorted(BAD_INPUTS))
def test_bad_input_is_one_clear_line_exit_2_and_nothing_written(tmp_path, clip, case):
    make_args, message = BAD_INPUTS[case]
    out = tmp_path / "out.jsonl"
    args = make_args(tmp_path, clip)
    if "--jsonl" not in args:
        args += ["--jsonl", str(out)]
    before = set(os.listdir(tmp_path))
    r = rtmir(*args)
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert set(os.listdir(tmp_path)) == before  # nothing half-written


def test_usage_errors_exit_2():
    assert rtmir("frobnicate").returncode == 2
    assert rtmir("stream").returncode == 2


def test_torch_is_never_imported(clip, tmp_path):
    code = (
        "import sys, runpy\n"
        "sys.argv = ['rtmir', 'stream', sys.argv[1], '--jsonl', sys.argv[2]]\n"
        "import rtmir, rtmir.cli.commands, rtmir.sinks.osc\n"
        "try:\n    runpy.run_module('rtmir', run_name='__main__')\n"
        "except SystemExit as e:\n    assert e.code == 0, e.code\n"
        "print('TORCH' if 'torch' in sys.modules else 'CLEAN')\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(clip), str(tmp_path / "e.jsonl")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("CLEAN")


def test_models_lists_the_zoo():
    r = rtmir("models")
    assert r.returncode == 0 and r.stdout.strip()


def test_demo_streams_the_bundled_clip(tmp_path):
    out = tmp_path / "demo.jsonl"
    r = rtmir("demo", "--fast", "--jsonl", str(out), "--osc", "127.0.0.1:9")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) > 1000 and sum(row["voiced"] for row in rows) > 300


def test_wheel_ships_the_demo_clip_and_the_zoo(tmp_path):
    """`pip install .` (not editable) must carry what `rtmir demo` needs."""
    import zipfile

    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp_path), str(root)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    names = zipfile.ZipFile(next(tmp_path.glob("rtmir-*.whl"))).namelist()
    assert "rtmir/data/demo.flac" in names
    shipped = {p.name for p in (root / "rtmir" / "zoo").glob("*.onnx")}
    assert shipped <= {Path(n).name for n in names}
    assert not any(n.startswith(("models/", "export/", "training/", "tests/")) for n in names)


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_stop_signal_ends_a_paced_stream_with_128_plus_n_and_its_outputs_complete(tmp_path, sig):
    sr = 16000
    src = tmp_path / "long.wav"
    sf.write(src, (0.5 * np.sin(2 * np.pi * 440 * np.arange(20 * sr) / sr)).astype(np.float32), sr)
    out = tmp_path / "e.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "rtmir", "stream", str(src), "--task", "yin", "--realtime",
                             "--block", "256", "--jsonl", str(out)], stderr=subprocess.PIPE, text=True)
    part = tmp_path / "e.jsonl.part"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (part.exists() and part.stat().st_size > 1000):
        time.sleep(0.05)
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + getattr(signal, sig), err
    assert f"stopped by {sig}; the outputs are complete" in err and "events from" in err, err
    assert "Traceback" not in err
    rows = [json.loads(line) for line in out.read_text().splitlines()]  # renamed into place, whole lines
    assert 5 < len(rows) < 1000 and not part.exists()  # stopped early: 20 s would be ~2000 YIN hops

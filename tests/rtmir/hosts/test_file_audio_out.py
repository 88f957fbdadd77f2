"""Audio out of file runs: every routed port written to --out-dir, latency compensated, the same
length as the input — a delay line gives back the input exactly; another rate within the
resampler's accuracy."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from graph_nodes import Delay
from graphs import delay_line
from rtmir.core.engine import Engine
from rtmir.core.graph import GraphSpec, build_graph
from rtmir.hosts.file_host import FileHost
from rtmir.sinks.files import AudioFileSink


def rtmir(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "rtmir", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def noise_wav(tmp_path):
    x = (0.3 * np.random.default_rng(3).standard_normal(16000 + 37)).astype(np.float32)
    path = tmp_path / "in.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    return path, x


@pytest.mark.parametrize("block", ["1", "100", "4096"])
def test_a_delay_line_out_dir_file_equals_the_input_exactly(noise_wav, tmp_path, block):
    path, x = noise_wav
    model = delay_line(tmp_path / "delay.onnx", delay=37, hop=8)
    out = tmp_path / "od"
    out.mkdir()
    r = rtmir("stream", str(path), "--task", "model", "--model", str(model), "--out-dir", str(out), "--block", block)
    assert r.returncode == 0, r.stderr
    y, sr = sf.read(out / "delayed.wav", dtype="float32")
    assert sr == 16000 and len(y) == len(x)
    np.testing.assert_array_equal(y, x)  # 37 samples of model latency + 7 of hop buffering removed
    assert (out / "events.jsonl").exists() and not list(out.glob("*.part"))


def test_file_routes_of_a_graph_at_two_rates(tmp_path):
    """48 kHz file, a delay node at 22.05 kHz (fractional host delay) and one at 48 kHz."""
    rate, n = 48000, 48000
    t = np.arange(n) / rate
    x = (0.4 * np.sin(2 * np.pi * 1000.0 * t) + 0.2 * np.sin(2 * np.pi * 3100.0 * t)).astype(np.float32)
    src = tmp_path / "in.wav"
    sf.write(src, x, rate, subtype="FLOAT")
    spec = GraphSpec.from_dict({"nodes": {"lo": {"task": "lo"}, "hi": {"task": "hi"}},
                                "edges": ["input -> lo", "input -> hi"],
                                "routes": ["lo -> file:lo.wav", "hi -> file:hi.wav"]})
    make = {"lo": lambda: Delay(11, 64, 22050), "hi": lambda: Delay(5, 32)}
    engine = Engine(build_graph(spec, lambda ns: make[ns.task]()))
    sinks = [("lo", "audio", AudioFileSink(tmp_path / "lo.wav", rate, 1)),
             ("hi", "audio", AudioFileSink(tmp_path / "hi.wav", rate, 1))]
    summary = FileHost(src, block=512).run(engine, audio_files=sinks)
    for *_, s in sinks:
        s.close()
    hi, _ = sf.read(tmp_path / "hi.wav", dtype="float32")
    np.testing.assert_array_equal(hi, x)
    lo, _ = sf.read(tmp_path / "lo.wav", dtype="float32")
    assert len(lo) == n
    residual = summary["audio_files"]["lo.audio"]["residual_samples"]
    assert 0 < abs(residual) <= 0.5  # 11 samples at 22.05 kHz is not a whole number at 48 kHz
    shifted = t - residual / rate
    expected = 0.4 * np.sin(2 * np.pi * 1000.0 * shifted) + 0.2 * np.sin(2 * np.pi * 3100.0 * shifted)
    settled = slice(2000, n - 2000)
    np.testing.assert_allclose(lo[settled], expected[settled], atol=2e-3)


def test_graph_file_stream_names_nodes_in_jsonl(tmp_path):
    sr = 16000
    t = np.arange(sr) / sr
    src = tmp_path / "a.wav"
    sf.write(src, (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
    g = tmp_path / "g.toml"
    g.write_text('edges = ["input -> a", "input -> b"]\n[nodes.a]\ntask = "yin"\n'
                 '[nodes.b]\ntask = "yin"\nparams = { threshold = 0.05 }\n')
    r = rtmir("stream", str(src), "--graph", str(g), "--jsonl", str(tmp_path / "e.jsonl"))
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert {row["node"] for row in rows} == {"a", "b"} and {row["task"] for row in rows} == {"yin"}
    out = rtmir("graph", str(g))
    assert out.returncode == 0 and "input -> a:" in out.stdout and "threshold=0.15" in out.stdout


@pytest.mark.parametrize("text, message", [
    ('edges = ["input -> a"]\n[nodes.a]\ntask = "yin"\nparams = { threshold = 9 }\n',
     "node a: threshold must be in [0.01, 1], got 9.0"),
    ('edges = ["input -> a"]\n[nodes.a]\ntask = "yin"\nparams = { nope = 1 }\n', "yin has no parameter 'nope'"),
    ('edges = ["a -> a"]\n[nodes.a]\ntask = "yin"\n', "a has no data output"),
    ('edges = ["input -> a"]\nroutes = ["a.events -> file"]\n[nodes.a]\ntask = "yin"\n', "only audio ports can be routed"),
    ("edges = [", "is not valid TOML"),
], ids=["param-range", "param-name", "no-output", "route-events", "toml"])
def test_bad_graph_files_exit_2_with_one_line(tmp_path, text, message):
    g = tmp_path / "g.toml"
    g.write_text(text)
    r = rtmir("graph", str(g))
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_graph_and_task_together_are_refused(tmp_path, noise_wav):
    g = tmp_path / "g.toml"
    g.write_text('edges = ["input -> a"]\n[nodes.a]\ntask = "yin"\n')
    r = rtmir("stream", str(noise_wav[0]), "--graph", str(g), "--task", "yin")
    assert r.returncode == 2 and "give --graph FILE or --task/--model, not both" in r.stderr


def test_a_graph_the_engine_refuses_leaves_no_output_behind(noise_wav, tmp_path):
    """The whole graph is checked before any output is opened (here: an inline node routed to a
    file, which only the engine refuses)."""
    path, _ = noise_wav
    g = tmp_path / "g.toml"
    g.write_text('edges = ["input -> a"]\nroutes = ["a -> file"]\n[nodes.a]\ntask = "delay"\nplacement = "inline"\n')
    out = tmp_path / "od"
    out.mkdir()
    r = rtmir("stream", str(path), "--graph", str(g), "--out-dir", str(out), "--jsonl", str(tmp_path / "e.jsonl"))
    assert r.returncode == 2 and "cannot be routed to a file" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert list(out.iterdir()) == [] and not list(tmp_path.glob("e.jsonl*"))

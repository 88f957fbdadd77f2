"""The generate processor over the shipped codec and a small exported token LM (untrained: what it
plays is noise, but when, how long and how reproducibly it plays is what is tested here): the
modes' hand-overs, silence while listening, the declared latency, start/stop, seeds, and
streaming = offline at every block size."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from rtmir import ProcessSpec, StreamingSession

pytestmark = pytest.mark.torch
RATE, HOP = 24000, 160
MODES = {"continue": 0, "answer": 1, "free": 2}


@pytest.fixture(scope="module")
def lm_path(tmp_path_factory):
    """A 2-layer, 16-wide token LM over the codec's 4 x 1024 codes, exported with a generate card."""
    pytest.importorskip("torch", reason="export needs the train extra")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "export"))  # tests/export helpers
    from tiny_token_models import export_tiny_lm

    return export_tiny_lm(tmp_path_factory.mktemp("gen") / "tiny-lm.onnx")


def _processor(lm_path, **params):
    from rtmir.codec.files import CodecPair
    from rtmir.tasks.generate import GenerateProcessor

    p = GenerateProcessor(StreamingSession(lm_path), CodecPair.open())
    for name, value in params.items():
        p.set_param(name, MODES.get(value, value) if name == "mode" else value)
    p.prepare(ProcessSpec(RATE, 8192, 1))
    return p


def _signal(*parts: tuple[str, float]) -> np.ndarray:
    """Tone (A3 at -12 dBFS) and rest parts, each a whole number of hops long."""
    out = []
    for kind, seconds in parts:
        n = int(round(seconds * RATE / HOP)) * HOP
        t = np.arange(n) / RATE
        out.append(0.25 * np.sin(2 * np.pi * 220 * t) if kind == "tone" else np.zeros(n))
    return np.concatenate(out).astype(np.float32)


def _run(p, x: np.ndarray, block: int) -> tuple[np.ndarray, list]:
    """``x`` through ``p`` in blocks of ``block`` samples (whole hops, as the host's adapter gives)."""
    assert block % HOP == 0 and len(x) % HOP == 0
    out = np.zeros((1, len(x)), np.float32)
    events = []
    for a in range(0, len(x), block):
        b = min(len(x), a + block)
        events += p.process(x[None, a:b], a, out[:, a:b])
    return out[0], events


def _first_and_last_sound(y: np.ndarray) -> tuple[int, int]:
    loud = np.flatnonzero(y != 0)
    return (int(loud[0]), int(loud[-1])) if len(loud) else (-1, -1)


def test_answer_listens_silently_plays_in_the_rest_and_gives_the_turn_back(lm_path):
    p = _processor(lm_path, mode="answer", handover_ms=200, takeback_ms=40, seed=3)
    x = _signal(("tone", 0.5), ("rest", 1.0), ("tone", 0.5), ("rest", 0.1))
    y, events = _run(p, x, 6 * HOP)
    rest, back = int(0.5 * RATE), int(1.5 * RATE)
    first, last = _first_and_last_sound(y)
    assert not y[:rest].any()  # silent while the player plays
    # the take starts at the hop where the input has been quiet for 200 ms, heard the declared latency later
    handover = rest + int(np.ceil(200 / (1000 * HOP / RATE))) * HOP - HOP
    assert first == handover + 3 * HOP  # frame h comes out Q - 1 = 3 steps later (the decoder's 160 are inside its hop)
    assert np.sqrt(np.mean(np.square(y[first:back]))) > 1e-4
    # given back after takeback_ms of input (6 hops of 6.7 ms), its last frame faded out 3 steps later
    assert back < last <= back + p._takeback_hops * HOP + p.latency_samples
    assert not y[last + 1:].any()
    states = [e.values["state"] for e in events]
    assert [s[0] for s in states].count(1.0) >= 1 and states[-1][2] == 1.0  # one take, over
    assert p.takes == 1 and not p.playing


def test_continue_plays_once_and_keeps_going_when_the_input_returns(lm_path):
    p = _processor(lm_path, mode="continue", handover_ms=100)
    y, _ = _run(p, _signal(("tone", 0.3), ("rest", 0.5), ("tone", 0.5), ("rest", 0.5)), 25 * HOP)
    first, last = _first_and_last_sound(y)
    assert 0.3 * RATE < first < 0.5 * RATE and last > len(y) - 2 * HOP
    assert p.takes == 1 and p.playing


def test_free_plays_from_the_start_and_start_stops_and_restarts_it(lm_path):
    p = _processor(lm_path, mode="free")
    x = _signal(("rest", 1.0))
    y, _ = _run(p, x[:RATE // 2], 800)
    assert p.playing and np.sqrt(np.mean(np.square(y[p.latency_samples:]))) > 1e-4
    p.set_param("start", 0)
    y2, _ = _run(p, x[RATE // 2:RATE // 2 + 8000], 800)
    assert not p.playing and y2[:HOP].any() and not y2[p.latency_samples + HOP:].any()  # the frames in flight, then silence
    p.set_param("start", 1)
    y3, _ = _run(p, x[:4000], 800)
    assert p.playing and p.takes == 2 and y3[p.latency_samples + HOP:].any()


def test_a_seed_reproduces_a_take_and_another_seed_changes_it(lm_path):
    x = _signal(("tone", 0.3), ("rest", 0.7))
    p = _processor(lm_path, mode="answer", handover_ms=100, seed=11, top_k=50)
    a, _ = _run(p, x, 12 * HOP)
    p.reset()
    b, _ = _run(p, x, 12 * HOP)
    p.set_param("seed", 12)
    p.reset()
    c, _ = _run(p, x, 12 * HOP)
    np.testing.assert_array_equal(a, b)
    assert a.any() and not np.array_equal(a, c)


@pytest.mark.parametrize("block", [HOP, 7 * HOP, 3 * 4096 // HOP * HOP])
def test_streaming_equals_offline_at_any_block(lm_path, block):
    x = _signal(("tone", 0.4), ("rest", 0.6), ("tone", 0.3), ("rest", 0.4))
    p = _processor(lm_path, mode="answer", handover_ms=150, seed=5, temperature=0.9)
    ref, ref_events = _run(p, x, len(x))
    p.reset()
    y, events = _run(p, x, block)
    np.testing.assert_array_equal(y, ref)
    assert [(e.t, e.values["state"]) for e in events] == [(e.t, e.values["state"]) for e in ref_events]


def test_it_refuses_a_model_that_is_not_a_token_lm_and_the_wrong_rate(lm_path):
    from rtmir.codec.files import CodecPair
    from rtmir.tasks.generate import GenerateProcessor

    with pytest.raises(ValueError, match="not a token LM"):
        GenerateProcessor(CodecPair.open().decoder, CodecPair.open())
    p = GenerateProcessor(StreamingSession(lm_path), CodecPair.open())
    with pytest.raises(ValueError, match="24000 Hz mono"):
        p.prepare(ProcessSpec(48000, 1024, 1))


def _stream(tmp_path, lm_path, wav, block: int, *extra: str) -> tuple[int, str, object]:
    import subprocess
    import sys

    out = tmp_path / f"gen-{block}-{len(extra)}"
    out.mkdir()
    r = subprocess.run([sys.executable, "-m", "rtmir", "stream", str(wav), "--task", "generate", "--model", str(lm_path),
                        "--block", str(block), "--out-dir", str(out), *extra], capture_output=True, text=True, timeout=300)
    return r.returncode, r.stderr, out


def test_rtmir_stream_continues_a_prompt_past_its_end_the_same_at_every_block(tmp_path, lm_path):
    import json

    import soundfile as sf

    rate = 44100
    t = np.arange(rate) / rate
    wav = tmp_path / "prompt.wav"
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), rate)
    takes = {}
    for block in (256, 4096):
        rc, err, out = _stream(tmp_path, lm_path, wav, block, "--mode", "continue", "--seconds", "2", "--seed", "1")
        assert rc == 0, err
        takes[block], file_rate = sf.read(out / "audio.wav", dtype="float32")
        assert file_rate == rate and len(takes[block]) == 3 * rate  # the prompt and the 2 s after it
        states = [json.loads(line)["state"] for line in (out / "events.jsonl").read_text().splitlines()]
        assert states[0][0] == 0.0 and states[-1][0] == 1.0 and states[-1][2] == 1.0
    np.testing.assert_array_equal(takes[256], takes[4096])
    y = takes[256]
    assert not y[:rate].any()  # the prompt is listened to, not played
    assert np.sqrt(np.mean(np.square(y[int(1.4 * rate):]))) > 1e-3  # the continuation


@pytest.mark.parametrize("args, message", [
    (("--task", "yin", "--mode", "free"), "--mode and --seed are for --task generate"),
    (("--seed", "-1"), "--seed: seed must be in"),
    (("--seconds", "-2"), "--seconds must be"),
])
def test_generate_settings_are_refused_for_other_tasks_and_out_of_range(tmp_path, lm_path, args, message):
    import subprocess
    import sys

    import soundfile as sf

    wav = tmp_path / "x.wav"
    sf.write(wav, np.zeros(4800, np.float32), 24000)
    task = () if "--task" in args else ("--task", "generate", "--model", str(lm_path))
    r = subprocess.run([sys.executable, "-m", "rtmir", "stream", str(wav), *task, *args],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr

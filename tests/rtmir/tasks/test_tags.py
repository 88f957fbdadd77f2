"""The tags processor: attack/release smoothing on probability steps, and a (tiny, untrained)
exported tagger streamed through it: streaming = offline at any block, events in the card's
family order at the described instants, live parameters, and ``rtmir stream --task tags``."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from rtmir import BlockAdapter, ProcessSpec, StreamingSession
from rtmir.tasks.tags import TagSmoother, TagsProcessor, one_pole

HOP_S = 0.02


def _crossing(y: np.ndarray, level: float, rising: bool) -> int:
    return int(np.argmax(y >= level if rising else y <= level))


@pytest.mark.parametrize("attack_ms, release_ms", [(50.0, 200.0), (200.0, 40.0)])
def test_steps_cross_half_after_the_time_constant_times_ln2(attack_ms, release_ms):
    s = TagSmoother(2, HOP_S, attack_ms, release_ms)
    p = np.zeros((2, 200))
    p[0, 10:100] = 1.0  # a family enters at frame 10 and leaves at frame 100
    p[1, :] = 0.25  # steady
    y = s(p)
    up = _crossing(y[0], 0.5, True) - 10 + 1  # the step's own frame is the first one updated
    assert up == math.ceil(attack_ms / 1000 * math.log(2) / HOP_S - 1e-9)
    peak = y[0, 99]
    down = _crossing(y[0, 100:], 0.5 * peak, False) + 1
    assert down == math.ceil(release_ms / 1000 * math.log(2) / HOP_S - 1e-9)
    assert abs(y[1, -1] - 0.25) < 1e-6 and (np.diff(y[0, 10:100]) >= 0).all()


def test_zero_ms_passes_through_and_state_carries_across_calls():
    p = np.random.default_rng(0).random((3, 50))
    np.testing.assert_array_equal(TagSmoother(3, HOP_S, 0.0, 0.0)(p), p)
    whole = TagSmoother(3, HOP_S, 30.0, 120.0)(p)
    s = TagSmoother(3, HOP_S, 30.0, 120.0)
    parts = np.concatenate([s(p[:, i:i + 7]).copy() for i in range(0, 50, 7)], axis=1)  # views: copied
    np.testing.assert_allclose(parts, whole, atol=1e-12)
    assert one_pole(0.0, HOP_S) == 1.0 and 0 < one_pole(100.0, HOP_S) < 1


@pytest.fixture(scope="module")
def tiny_tagger(tmp_path_factory):
    """An untrained log-mel -> LSTM tagger exported with a tags card (torch only here)."""
    pytest.importorskip("torch", reason="export needs the train extra")
    import torch

    from export.api import CardFields, export_model
    from models.frontend import LogMelConfig
    from models.nets import FrameModel, FrameModelConfig
    from training.synth.activity import TAGS

    torch.manual_seed(0)
    model = FrameModel(FrameModelConfig(mel=LogMelConfig(n_fft=512, hop_size=320, n_mels=16, method="conv"),
                                        body="lstm", width=8, num_layers=1, n_outputs=len(TAGS), labels=TAGS))
    path = tmp_path_factory.mktemp("tagger") / "tiny-tags.onnx"
    export_model(model, CardFields(name="tiny-tags", task="tags", version="0.0.1"), path)
    return path


def _signal(seconds: float = 3.0) -> np.ndarray:
    rng = np.random.default_rng(1)
    t = np.arange(int(seconds * 16000)) / 16000
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * (t > 1.0) + 0.05 * rng.standard_normal(len(t))
    return x.astype(np.float32)


def _stream(proc: TagsProcessor, x: np.ndarray, block: int) -> list:
    adapter = BlockAdapter(proc)
    adapter.prepare(ProcessSpec(16000, block, 1))
    events = []
    for i in range(0, len(x), block):
        events += adapter.push(x[None, i:i + block])
    return events


@pytest.mark.torch
@pytest.mark.parametrize("block", [1, 64, 1000])
def test_streaming_equals_offline(tiny_tagger, block):
    x = _signal()
    proc = TagsProcessor(StreamingSession(tiny_tagger))
    proc.set_param("attack_ms", 40.0)
    offline = proc.process(x[None, : len(x) // 320 * 320], 0)
    proc.reset()
    streamed = _stream(proc, x, block)
    assert len(streamed) == len(offline) > 100
    np.testing.assert_array_equal([e.t for e in streamed], [e.t for e in offline])
    a = np.array([list(e.values["tags"].values()) for e in streamed])
    b = np.array([list(e.values["tags"].values()) for e in offline])
    assert np.abs(a - b).max() <= 1e-4


@pytest.mark.torch
def test_events_name_every_family_in_card_order_at_the_described_instants(tiny_tagger):
    from training.synth.activity import TAGS

    proc = TagsProcessor(StreamingSession(tiny_tagger))
    assert proc.labels == TAGS and proc.latency_samples == 256
    events = _stream(proc, np.zeros(3200, np.float32), 3200)
    assert [round(e.t * 16000) for e in events] == [k * 320 - 256 for k in range(1, 11)]
    assert all(list(e.values["tags"]) == list(TAGS) and all(0 <= p <= 1 for p in e.values["tags"].values())
               for e in events)
    assert proc.params() == {"attack_ms": 0.0, "release_ms": 100.0}
    proc.set_param("release_ms", 500.0)
    assert proc.params()["release_ms"] == 500.0
    with pytest.raises(KeyError, match="attack_ms"):
        proc.set_param("nope", 1.0)
    specs = {p.name: p for p in proc.describe().params}
    with pytest.raises(ValueError):
        specs["attack_ms"].check(-1.0)


@pytest.mark.torch
def test_reset_restores_the_start_skipping_it_differs_and_nan_never_sticks(tiny_tagger):
    x = _signal(1.0)[None, :16000 // 320 * 320]
    proc = TagsProcessor(StreamingSession(tiny_tagger))
    proc.set_param("release_ms", 300.0)
    first = [e.values for e in proc.process(x, 0)]
    again = [e.values for e in proc.process(x, 0)]  # state carried from the first pass
    proc.reset()
    assert [e.values for e in proc.process(x, 0)] == first and again != first
    logits = np.zeros((13, 3))
    logits[2, 1] = np.nan
    proc.smoother.set_times(0.0, 0.0)
    probs = proc.decode(logits)
    assert np.isfinite(probs).all() and probs[2, 1] == 0.5


@pytest.mark.torch
def test_a_pitch_model_is_refused():
    from rtmir.zoo import ZOO_DIR

    with pytest.raises(ValueError, match="not a tagging model"):
        TagsProcessor(StreamingSession(ZOO_DIR / "pitch-tcn.onnx"))


@pytest.mark.torch
def test_rtmir_stream_writes_tags_objects(tiny_tagger, tmp_path):
    import soundfile as sf

    wav = tmp_path / "in.wav"
    sf.write(wav, _signal(2.0), 16000)
    out = tmp_path / "tags.jsonl"
    r = subprocess.run([sys.executable, "-m", "rtmir", "stream", str(wav), "--task", "tags", "--model", str(tiny_tagger),
                        "--jsonl", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) > 80 and all(row["task"] == "tags" and len(row["tags"]) == 13 for row in rows)
    r = subprocess.run([sys.executable, "-m", "rtmir", "stream", str(wav), "--task", "tags", "--jsonl", str(out)],
                       capture_output=True, text=True, timeout=120)  # the shipped tags-tcn by default
    assert r.returncode == 0, r.stderr
    assert len(json.loads(out.read_text().splitlines()[0])["tags"]) == 13

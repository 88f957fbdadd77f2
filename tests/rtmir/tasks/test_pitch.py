"""The shipped pitch model through the runtime: card, streaming = offline, reset, control, registry.

Runs on ``rtmir/zoo/pitch-tcn.onnx`` (or ``$RTMIR_TEST_PITCH_MODEL``, to test a candidate
before shipping it). No torch.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from rtmir import BlockAdapter, ProcessSpec, StreamingSession
from rtmir.tasks import registry
from rtmir.tasks.pitch import PitchProcessor
from rtmir.zoo import ZOO_DIR

MODEL = Path(os.environ.get("RTMIR_TEST_PITCH_MODEL", ZOO_DIR / "pitch-tcn.onnx"))
SR = 16000


def notes(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """Harmonic notes (A2, E4, C6) with vibrato, then silence, then noise: ``[n]`` float32."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    x = np.zeros(n)
    third = n // 4
    for i, f0 in enumerate((110.0, 329.63, 1046.5)):
        sl = slice(i * third, (i + 1) * third)
        f = f0 * 2 ** (0.3 / 12 * np.sin(2 * np.pi * 5 * t[sl]))
        phase = 2 * np.pi * np.cumsum(f) / SR
        x[sl] = sum(0.3 / h * np.sin(h * phase) for h in range(1, 6))
    x[3 * third + third // 2:] = 0.05 * rng.standard_normal(n - 3 * third - third // 2)
    return x.astype(np.float32)


def stream(proc: PitchProcessor, x: np.ndarray, block: int) -> list:
    adapter = BlockAdapter(proc)
    adapter.prepare(ProcessSpec(SR, block, 1))
    events = []
    for i in range(0, len(x), block):
        events += adapter.push(x[None, i:i + block])
    return events


@pytest.fixture(scope="module")
def proc() -> PitchProcessor:
    return PitchProcessor(StreamingSession(MODEL))


def test_the_card_describes_a_small_low_latency_pitch_model(proc):
    card = proc.session.card
    assert card.name == "pitch-tcn" and card.task == "pitch"
    assert (card.sample_rate, card.channels) == (16000, 1) and card.hop <= 160  # a frame every <= 10 ms
    assert 0 < card.latency_samples <= 160  # <= 10 ms
    assert MODEL.stat().st_size <= 5e6
    sal, voi = card.outputs
    assert (sal.name, voi.name) == ("salience", "voicing") and sal.frame_rate == SR / card.hop
    freqs = np.array([float(f) for f in sal.labels])
    assert freqs[0] <= 30.87 and freqs[-1] >= 4186.0 and len(freqs) == sal.shape[1]  # B0 (5-string bass) .. C8
    np.testing.assert_allclose(1200 * np.diff(np.log2(freqs)), 20.0, atol=0.01)  # 20-cent bins
    for key in ("command", "data", "seed", "git_commit", "date"):
        assert card.training.get(key) not in (None, ""), key
    assert card.training["label_convention"]["name"] == "aligned-v1"  # voiced from the audio, not MIDI times
    assert card.evaluation["rpa"] > 0.9 and 0 < card.evaluation["voicing_threshold"] < 1


@pytest.mark.parametrize("block", [1, 64, 100, 1024], ids=lambda b: f"block{b}")
def test_streaming_equals_offline(proc, block):
    x = notes()
    x = x[: len(x) // proc.hop_size * proc.hop_size]
    proc.reset()
    offline = proc.process(x[None], 0)
    streamed = stream(proc, x, block)
    assert len(streamed) == len(offline) > 0.95 * len(x) / proc.hop_size
    np.testing.assert_array_equal([e.t for e in streamed], [e.t for e in offline])
    conf = np.array([[a.values["confidence"], b.values["confidence"]] for a, b in zip(streamed, offline)])
    assert np.abs(conf[:, 0] - conf[:, 1]).max() <= 1e-4
    f0 = np.array([[a.values["f0_hz"], b.values["f0_hz"]] for a, b in zip(streamed, offline)])
    cents = 1200 * np.abs(np.log2(f0[:, 0] / f0[:, 1]))
    assert cents[conf[:, 1] >= 0.5].max() <= 0.05  # voiced: the same pitch
    assert cents.max() <= 2.0  # flat, near-zero salience (noise, silence) may shift the average slightly


def test_session_outputs_stream_equal_offline():
    session = StreamingSession(MODEL)
    x = notes(2.0)[None]
    whole = {k: v.copy() for k, v in session.process(x).items()}  # views, valid until the next call
    session.reset()
    step = 7 * session.card.hop  # several hops per call, not a divisor of the clip
    parts = [{k: v.copy() for k, v in session.process(x[:, i:i + step]).items()} for i in range(0, x.shape[1], step)]
    for name in ("salience", "voicing"):
        np.testing.assert_allclose(np.concatenate([p[name] for p in parts], axis=-1), whole[name], atol=1e-4)


def test_events_describe_the_instant_latency_before_each_hop_end(proc):
    hop, lat = proc.hop_size, proc.latency_samples
    events = stream(proc, np.zeros(10 * hop, np.float32), 10 * hop)
    assert [round(e.t * SR) for e in events] == [k * hop - lat for k in range(1, 11) if k * hop >= lat]
    assert set(events[0].values) == {"f0_hz", "voiced", "confidence"}


def test_tones_are_tracked_and_silence_is_unvoiced(proc):
    x = notes()
    events = stream(proc, x, 1024)
    quarter = len(x) / 4 / SR
    for i, f0 in enumerate((110.0, 329.63, 1046.5)):
        mid = [e for e in events if i * quarter + 0.15 < e.t < (i + 1) * quarter - 0.05]
        assert np.mean([e.values["voiced"] for e in mid]) > 0.9
        cents = [1200 * np.log2(e.values["f0_hz"] / f0) for e in mid]
        assert np.median(np.abs(cents)) < 30  # the vibrato swings +-30 cents around f0
    silent = [e for e in events if 3 * quarter + 0.05 < e.t < 3.5 * quarter - 0.05]
    assert silent and not any(e.values["voiced"] for e in silent)
    assert proc.process(np.zeros((1, 8000), np.float32), 0) and not any(
        e.values["voiced"] for e in stream(proc, np.zeros(8000, np.float32), 256))


def test_reset_restores_the_start_and_skipping_it_differs(proc):
    x = notes(1.0)
    proc.reset()
    first = proc.process(x[None], 0)
    again = proc.process(x[None], 0)  # state carried from the first pass
    proc.reset()
    fresh = proc.process(x[None], 0)
    assert [e.values for e in fresh] == [e.values for e in first]
    assert [e.values["confidence"] for e in again] != [e.values["confidence"] for e in first]


def test_voicing_threshold_is_a_live_parameter():
    proc = PitchProcessor(StreamingSession(MODEL))
    assert proc.params()["voicing_threshold"] == proc.session.card.evaluation["voicing_threshold"]
    x = notes(1.5)
    proc.prepare(ProcessSpec(SR, 1024, 1))
    proc.set_param("voicing_threshold", 1.01)
    assert not any(e.values["voiced"] for e in proc.process(x[None, :24000], 0))
    proc.set_param("voicing_threshold", 0.0)
    proc.reset()
    assert all(e.values["voiced"] for e in proc.process(x[None, :24000], 0))
    with pytest.raises(KeyError, match="voicing_threshold"):
        proc.set_param("nope", 1.0)


def test_pitch_is_the_default_task_and_builds_the_shipped_model():
    assert registry.DEFAULT_TASK == "pitch"
    proc = registry.build_processor("pitch")
    assert isinstance(proc, PitchProcessor) and proc.session.path.name == "pitch-tcn.onnx"


def test_without_a_shipped_model_the_error_says_use_yin(monkeypatch):
    import rtmir.zoo

    monkeypatch.setattr(rtmir.zoo, "zoo_models", lambda: [])
    with pytest.raises(registry.UnknownTaskError, match="no pitch model shipped.*use --task yin"):
        registry.build_processor("pitch")
    assert registry.build_processor("yin").task == "yin"  # the runtime still works


def test_a_model_that_is_not_a_pitch_model_is_refused(tmp_path):
    class FakeSession:
        class card:
            name, task, outputs = "tagger", "tags", []

    with pytest.raises(ValueError, match="not a pitch model"):
        PitchProcessor(FakeSession())


def test_a_stream_does_not_start_confident_and_wrong(proc):
    """The all-zero initial state gave, for a 440 Hz sine from the first sample, 417 Hz at 0.93 then
    219.5 Hz (an octave down) at 0.91; primed with silence (``PRIME_HOPS``) the first frame is
    unvoiced, no frame is an octave off, and from 60 ms in every frame is voiced."""
    t = np.arange(SR // 2) / SR
    x = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    events = [e for e in stream(proc, x, 256) if e.t < 0.1]
    assert not events[0].values["voiced"]
    cents = [1200 * abs(np.log2(e.values["f0_hz"] / 440)) for e in events if e.values["voiced"]]
    assert all(e.values["voiced"] for e in events if e.t >= 0.06) and max(cents) < 100, cents

"""File sinks (rtmir/sinks/files.py): written beside the target, moved into place on close,
deleted on discard, refused with a reason when the directory is missing."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from rtmir.core.processor import Event
from rtmir.sinks.files import AudioFileSink, JsonlSink, OutputError


def test_events_appear_only_when_closed(tmp_path):
    sink = JsonlSink(tmp_path / "e.jsonl")
    sink.send([Event("pitch", 0.01, {"f0_hz": 440.0}), Event("pitch", 0.02, {"f0_hz": 441.0})])
    assert not (tmp_path / "e.jsonl").exists() and (tmp_path / "e.jsonl.part").exists()
    sink.close()
    sink.close()  # idempotent
    rows = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert [r["f0_hz"] for r in rows] == [440.0, 441.0] and rows[0]["task"] == "pitch"
    assert not (tmp_path / "e.jsonl.part").exists()


def test_audio_is_written_whole_and_discard_leaves_nothing(tmp_path):
    sink = AudioFileSink(tmp_path / "out.wav", 16000, 2)
    block = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 300)).astype(np.float32)
    sink.write(block)
    sink.write(block)
    sink.close()
    y, sr = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)
    assert sr == 16000 and y.shape == (600, 2)
    np.testing.assert_array_equal(y[:300], block.T)

    for sink in (AudioFileSink(tmp_path / "gone.flac", 16000, 1), JsonlSink(tmp_path / "gone.jsonl")):
        sink.discard()
        sink.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]


def test_a_missing_directory_is_refused_with_its_name(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        JsonlSink(tmp_path / "nope" / "e.jsonl")
    with pytest.raises(OutputError, match="does not exist"):
        AudioFileSink(tmp_path / "nope" / "a.wav", 16000, 1)


def test_engine_close_closes_every_sink_even_when_one_fails(tmp_path):
    """A sink that fails to close must not leave the others' files as ``.part``."""
    from rtmir.core.engine import Engine
    from rtmir.tasks.yin import YinProcessor

    class FailsToClose:
        def send(self, events):
            pass

        def status(self, stats):
            pass

        def close(self):
            raise OSError(28, "No space left on device")

    first, last = JsonlSink(tmp_path / "a.jsonl"), JsonlSink(tmp_path / "b.jsonl")
    engine = Engine([YinProcessor()], [first, FailsToClose(), last])
    with pytest.raises(OSError, match="No space"):
        engine.close()
    assert (tmp_path / "a.jsonl").exists() and (tmp_path / "b.jsonl").exists()
    assert not list(tmp_path.glob("*.part"))


def test_two_spellings_of_one_directory_are_one_output(tmp_path):
    from rtmir.sinks.output_path import OutputPlan

    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    plan = OutputPlan()
    plan.claim(tmp_path / "real" / "events.jsonl", "--jsonl")
    with pytest.raises(OutputError, match="would both write"):
        plan.claim(tmp_path / "alias" / "events.jsonl", "--out-dir (events.jsonl)")

"""Whole clips with a task's labels from a synth folder (training/core/data.py), cached."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from training.core.data import LabelReader, load_clips


def fake_synth_folder(root, lengths_s=(1.0, 0.5), sr=44100):
    """A minimal training.synth layout: manifest, and per example mix.flac, labels.npz, meta.json."""
    root.mkdir()
    (root / "manifest.json").write_text(json.dumps({"families": ["piano"]}))
    for i, seconds in enumerate(lengths_s):
        ex = root / f"{i:06d}"
        ex.mkdir()
        t = np.arange(int(sr * seconds)) / sr
        sf.write(ex / "mix.flac", np.stack([np.sin(2 * np.pi * 220 * t), 0.5 * np.sin(2 * np.pi * 220 * t)], 1), sr)
        frames = int(seconds * 100)
        np.savez(ex / "labels.npz", f0_melody=np.full(frames, 220.0 + i, np.float32),
                 activity=np.ones((1, frames), np.uint8))
        (ex / "meta.json").write_text(json.dumps({"sample_rate": sr, "n_frames": frames}))
    (root / "000009.tmp").mkdir()  # an example still being written is never listed
    return root


F0 = LabelReader("f0_melody", lambda labels, meta: labels["f0_melody"])
ACTIVITY = LabelReader("activity", lambda labels, meta: labels["activity"].astype(np.float32))


def test_clips_are_resampled_padded_and_labelled_by_the_task(tmp_path):
    root = fake_synth_folder(tmp_path / "set")
    clips = load_clips(root, F0, 16000)
    assert clips.audio.shape == (2, 16000) and clips.labels.shape == (2, 100) and clips.names == ["000000", "000001"]
    assert np.abs(clips.audio[1, 8000:]).max() == 0.0 and np.abs(clips.audio[1, 100:7900]).max() > 0.7  # downmix 0.75
    assert clips.labels[1, 49] == 221.0 and clips.labels[1, 50] == 0.0
    act = load_clips(root, ACTIVITY, 16000)
    assert act.labels.shape == (2, 1, 100)


def test_the_cache_is_keyed_by_the_label_reader_and_read_back(tmp_path):
    root = fake_synth_folder(tmp_path / "set")
    first = load_clips(root, F0, 16000, tmp_path / "cache")
    assert load_clips(root, F0, 16000, limit=1).audio.shape[0] == 1
    assert len(list((tmp_path / "cache").glob("set-f0_melody-2-*.npz"))) == 1
    for f in root.glob("*/mix.flac"):
        f.unlink()  # a second load must come from the cache
    again = load_clips(root, F0, 16000, tmp_path / "cache")
    assert np.array_equal(first.audio, again.audio) and np.array_equal(first.labels, again.labels)
    with pytest.raises(sf.LibsndfileError):
        load_clips(root, ACTIVITY, 16000, tmp_path / "cache")  # another reader: not the same cache entry


def test_a_folder_that_is_not_a_synth_set_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a training.synth dataset"):
        load_clips(tmp_path, F0, 16000)

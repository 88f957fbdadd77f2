"""FileHost and compressed formats: MP3, Ogg/Vorbis, Opus and FLAC stream sample for sample what
one whole-file read decodes (no dropouts at read boundaries), so a sine is voiced equally often
in every format. Fixtures are encoded into tmp_path at test time by libsndfile itself."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from rtmir import Engine
from rtmir.cli.main import main
from rtmir.core.processor import Processor
from rtmir.hosts.file_host import FileHost

SECONDS, F0 = 3.0, 440.0
FORMATS = {  # name: (libsndfile format, subtype, sample rate: Opus only encodes 8/12/16/24/48 kHz)
    "mp3": ("MP3", "MPEG_LAYER_III", 44100),
    "ogg": ("OGG", "VORBIS", 44100),
    "opus": ("OGG", "OPUS", 48000),
    "flac": ("FLAC", "PCM_16", 44100),
}


class Recorder(Processor):
    """Keeps a copy of every block the engine hands it, at the host's rate and channels."""

    task = "recorder"
    channels = None

    def prepare(self, spec) -> None:
        self.blocks: list[np.ndarray] = []

    def reset(self) -> None:
        self.blocks = []

    def process(self, block, t0, out=None):
        self.blocks.append(block.copy())
        return []

    def signal(self) -> np.ndarray:
        return np.concatenate(self.blocks, axis=1)


@pytest.fixture(scope="module")
def sines(tmp_path_factory) -> dict:
    """A 0.5-amplitude 440 Hz sine, 3 s, encoded in each of ``FORMATS``: {name: path}."""
    assert "MP3" in sf.available_formats(), (
        f"libsndfile {sf.__libsndfile_version__} cannot read MP3; soundfile>=0.12 wheels bundle one that can")
    folder = tmp_path_factory.mktemp("sines")
    paths = {}
    for name, (fmt, subtype, rate) in FORMATS.items():
        t = np.arange(int(SECONDS * rate)) / rate
        paths[name] = folder / f"sine.{name}"
        sf.write(paths[name], (0.5 * np.sin(2 * np.pi * F0 * t)).astype(np.float32), rate,
                 format=fmt, subtype=subtype)
    return paths


def zero_runs(x: np.ndarray, min_samples: int = 32) -> list[tuple[int, int]]:
    """``(start, length)`` of every run of at least ``min_samples`` samples below -80 dBFS."""
    quiet = np.concatenate([[0], (np.abs(x) < 1e-4).astype(np.int8), [0]])
    edges = np.diff(quiet)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(s), int(e - s)) for s, e in zip(starts, ends) if e - s >= min_samples]


@pytest.mark.parametrize("block", [7, 1000, 8192], ids=["block7", "block1000", "block8192"])
@pytest.mark.parametrize("name", list(FORMATS))
def test_streamed_samples_equal_one_whole_file_read(sines, name, block):
    whole, _ = sf.read(sines[name], dtype="float32", always_2d=True)  # one read: no seeks
    rec = Recorder()
    summary = FileHost(sines[name], block=block).run(Engine([rec], []))
    streamed = rec.signal()
    assert streamed.shape == whole.T.shape
    np.testing.assert_array_equal(streamed, whole.T)
    assert summary["audio_seconds"] == pytest.approx(whole.shape[0] / sf.info(sines[name]).samplerate)
    assert not summary["truncated"]


@pytest.mark.parametrize("name", list(FORMATS))
def test_a_streamed_sine_has_no_dropouts(sines, name):
    """Independent of libsndfile's whole-file read: the sine's envelope never drops to silence
    (libsndfile 1.2's MP3 decoder output ~2000 zeros after every seek)."""
    rec = Recorder()
    FileHost(sines[name], block=1024).run(Engine([rec], []))
    x = rec.signal()[0]
    assert zero_runs(x) == []
    settled = x[4096:-4096]  # past the codecs' start-up and tail
    hop = 441  # 10 ms: a whole number of 440 Hz periods (almost) at 44.1 kHz, ~4 at 48 kHz
    peaks = np.abs(settled[: len(settled) // hop * hop]).reshape(-1, hop).max(axis=1)
    assert peaks.min() > 0.4, f"envelope dips to {peaks.min():.3f} at {peaks.argmin() * hop + 4096} samples"


def test_every_format_is_voiced_equally_often_by_yin(sines, tmp_path, capsys):
    share = {}
    for name, path in sines.items():
        out = tmp_path / f"{name}.jsonl"
        assert main(["stream", str(path), "--task", "yin", "--jsonl", str(out)]) == 0
        events = [json.loads(line) for line in out.read_text().splitlines()]
        assert events, name
        share[name] = sum(e["voiced"] for e in events) / len(events)
    assert min(share.values()) > 0.98, share
    assert max(share.values()) - min(share.values()) < 0.01, share
    assert "warning" not in capsys.readouterr().err

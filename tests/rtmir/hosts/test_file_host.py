"""FileHost: unusual but valid files give correct results; bad files give clear errors."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from rtmir import Engine
from rtmir.hosts.file_host import AudioFileError, FileHost, probe
from rtmir.tasks.yin import YinConfig, YinProcessor


class Capture:
    def __init__(self):
        self.events = []

    def send(self, events):
        self.events.extend(events)

    def status(self, stats):
        pass

    def close(self):
        pass


def tone(sr: int, f0: float, seconds: float = 1.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    x = 0.5 * np.sin(2 * np.pi * f0 * t)
    return np.stack([x * (0.5 + 0.1 * c) for c in range(channels)], axis=1).astype(np.float32)


def stream(path, block=1024, processor=None):
    cap = Capture()
    engine = Engine([processor or YinProcessor()], [cap])
    summary = FileHost(path, block=block).run(engine)
    return cap.events, summary


def steady_cents(events, f0, t0=0.15, t1=0.85):
    f = np.array([e.values["f0_hz"] for e in events if t0 < e.t < t1])
    assert len(f) > 80 * (t1 - t0)
    return np.abs(1200 * np.log2(f / f0)).max()


@pytest.mark.parametrize("sr,channels", [(8000, 1), (96000, 1), (44100, 6), (48000, 2)],
                         ids=["8k", "96k", "6ch", "stereo"])
def test_odd_rates_and_channel_counts_stay_within_10_cents(tmp_path, sr, channels):
    path = tmp_path / "x.wav"
    sf.write(path, tone(sr, 330.0, channels=channels), sr, subtype="FLOAT")
    events, summary = stream(path)
    assert steady_cents(events, 330.0) < 10
    assert summary["audio_seconds"] == pytest.approx(1.0)


@pytest.mark.parametrize("sr", [8000, 96000], ids=["8k-to-16k", "96k-to-16k"])
def test_resampled_to_a_fixed_processor_rate(tmp_path, sr):
    path = tmp_path / "x.wav"
    sf.write(path, tone(sr, 220.0), sr, subtype="FLOAT")
    events, _ = stream(path, processor=YinProcessor(YinConfig(sample_rate=16000)))
    assert steady_cents(events, 220.0) < 10
    # event times come from the processor's clock at 16 kHz and still cover the whole second
    assert max(e.t for e in events) == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize("fmt,subtype", [("wav", "PCM_16"), ("flac", "PCM_24"), ("ogg", "VORBIS"), ("aiff", "PCM_16")])
def test_common_formats(tmp_path, fmt, subtype):
    path = tmp_path / f"x.{fmt}"
    sf.write(path, tone(44100, 440.0), 44100, subtype=subtype, format=fmt.upper())
    events, _ = stream(path)
    assert steady_cents(events, 440.0) < 10


def test_nan_and_inf_are_replaced_counted_and_reported(tmp_path):
    x = tone(16000, 440.0)
    x[1000:1010] = np.nan
    x[5000] = np.inf
    x[6000] = -np.inf
    path = tmp_path / "bad.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    events, summary = stream(path)
    assert summary["nonfinite_samples"] == 12
    assert all(np.isfinite(e.values["f0_hz"]) for e in events)
    assert steady_cents(events, 440.0, 0.5, 0.85) < 10


@pytest.mark.parametrize("block", [1, 100, 8192])
def test_block_size_does_not_change_results(tmp_path, block):
    path = tmp_path / "x.wav"
    sf.write(path, tone(16000, 200.0, 0.5), 16000, subtype="FLOAT")
    ref, _ = stream(path, block=1024)
    got, _ = stream(path, block=block)
    assert [(e.t, e.values) for e in got] == [(e.t, e.values) for e in ref]


def test_missing_corrupt_and_empty_files(tmp_path):
    with pytest.raises(AudioFileError, match="not found"):
        probe(tmp_path / "nope.wav")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(AudioFileError, match="cannot read"):
        probe(corrupt)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), np.float32), 16000)
    with pytest.raises(AudioFileError, match="empty"):
        probe(empty)
    with pytest.raises(AudioFileError, match="not a file"):
        probe(tmp_path)

"""FileHost: unusual but valid files give correct results; bad files give clear errors."""
from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile as sf

from rtmir import Engine
from rtmir.hosts.file_host import AudioFileError, FileHost, probe, truncation_warning
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


def cut(path, keep_bytes: int) -> None:
    """Truncate ``path`` to its first ``keep_bytes`` bytes, as an interrupted copy does."""
    path.write_bytes(path.read_bytes()[:keep_bytes])


def wav_3s_holding_1000_bytes(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, tone(44100, 440.0, 3.0), 44100, subtype="PCM_16")  # 44-byte header
    cut(path, 44 + 1000)
    return path, 500, 3.0  # 1000 bytes of 16-bit mono


def wav_10h_header_1s_data(tmp_path):
    path = tmp_path / "tenhours.wav"
    sf.write(path, tone(44100, 440.0, 1.0), 44100, subtype="PCM_16")
    raw = bytearray(path.read_bytes())
    data_bytes = 10 * 3600 * 44100 * 2
    raw[4:8], raw[40:44] = struct.pack("<I", 36 + data_bytes), struct.pack("<I", data_bytes)
    path.write_bytes(bytes(raw))
    return path, 44100, 36000.0


def aiff_3s_cut_to_a_third(tmp_path):
    path = tmp_path / "short.aiff"
    sf.write(path, tone(44100, 440.0, 3.0, channels=2), 44100, format="AIFF", subtype="PCM_24")
    cut(path, path.stat().st_size // 3)
    return path, sf.info(path).frames, 3.0


def rf64_3s_cut_to_a_third(tmp_path):
    path = tmp_path / "short.rf64"
    sf.write(path, tone(48000, 440.0, 3.0), 48000, format="RF64", subtype="FLOAT")
    cut(path, path.stat().st_size // 3)
    return path, sf.info(path).frames, 3.0


def mp3_3s_cut_to_a_third(tmp_path):
    path = tmp_path / "short.mp3"
    sf.write(path, tone(44100, 440.0, 3.0), 44100, format="MP3", subtype="MPEG_LAYER_III")
    cut(path, path.stat().st_size // 3)  # its Xing header still declares 3 s
    return path, len(sf.read(path, dtype="float32")[0]), 3.0


TRUNCATED = [wav_3s_holding_1000_bytes, wav_10h_header_1s_data, aiff_3s_cut_to_a_third, rf64_3s_cut_to_a_third,
             mp3_3s_cut_to_a_third]


@pytest.mark.parametrize("make", TRUNCATED, ids=[m.__name__ for m in TRUNCATED])
def test_truncated_files_stream_their_real_length_and_say_so(tmp_path, make):
    path, real_frames, declared_seconds = make(tmp_path)
    rate = sf.info(path).samplerate
    events, summary = stream(path)
    assert summary["audio_seconds"] == real_frames / rate
    assert summary["declared_seconds"] == pytest.approx(declared_seconds, abs=0.03)
    assert summary["truncated"] is True
    assert truncation_warning(summary) == (
        f"rtmir: warning: the file is truncated: its header declares {declared_seconds:.2f} s "
        f"but only {real_frames / rate:.2f} s of audio could be read and streamed")
    assert all(e.t <= real_frames / rate for e in events)


def test_the_10_hour_header_warning_line(tmp_path):
    path, _, _ = wav_10h_header_1s_data(tmp_path)
    assert truncation_warning(stream(path)[1]) == (
        "rtmir: warning: the file is truncated: its header declares 36000.00 s "
        "but only 1.00 s of audio could be read and streamed")


def test_audio_outputs_of_a_truncated_file_have_its_real_length(tmp_path):
    """An MP3 cut to a third still declares 3 s; the delay-compensated output must stop where
    the input did, not be padded with zeros to the declared length."""
    from graph_nodes import Delay

    path, real_frames, _ = mp3_3s_cut_to_a_third(tmp_path)

    class Collect:
        def __init__(self):
            self.blocks = []

        def write(self, block):
            self.blocks.append(np.array(block))

    sink = Collect()
    engine = Engine([Delay(37, hop=8)], [])
    summary = FileHost(path, block=1000).run(engine, audio_files=[("delay", "audio", sink)])
    assert summary["truncated"]
    assert sum(b.shape[1] for b in sink.blocks) == real_frames


def healthy_wav(tmp_path):
    path = tmp_path / "ok.wav"
    sf.write(path, tone(44100, 440.0), 44100, subtype="PCM_24")
    return path


def streaming_header_wav(tmp_path):
    """Written to a pipe: the sizes in the header are 0xFFFFFFFF ("unknown"), not a length."""
    path = healthy_wav(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[4:8] = raw[40:44] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(raw))
    return path


def healthy_flac(tmp_path):
    path = tmp_path / "ok.flac"
    sf.write(path, tone(44100, 440.0), 44100, format="FLAC", subtype="PCM_16")
    return path


HEALTHY = [healthy_wav, streaming_header_wav, healthy_flac]


@pytest.mark.parametrize("make", HEALTHY, ids=[m.__name__ for m in HEALTHY])
def test_whole_files_are_not_reported_truncated(tmp_path, make):
    _, summary = stream(make(tmp_path))
    assert summary["audio_seconds"] == pytest.approx(1.0)
    assert summary["declared_seconds"] == summary["audio_seconds"]
    assert summary["truncated"] is False
    assert truncation_warning(summary) is None


def test_stopping_early_is_not_truncation(tmp_path):
    path = healthy_wav(tmp_path)
    pushes = iter(range(10**6))
    summary = FileHost(path).run(Engine([YinProcessor()], [Capture()]), stop=lambda: next(pushes) >= 5)
    assert summary["audio_seconds"] == 5 * 1024 / 44100
    assert summary["truncated"] is False


def test_a_header_with_no_data_at_all_is_an_empty_file_that_says_it_was_truncated(tmp_path):
    path, _, _ = wav_3s_holding_1000_bytes(tmp_path)
    cut(path, 44)
    with pytest.raises(AudioFileError, match=r"empty \(no samples\) although its header declares 3.00 s \(truncated\)"):
        probe(path)

"""FileHost: stream an audio file through an engine, block by block.

Reads any file libsndfile reads (wav, flac, ogg, aiff, ...) in host blocks of ``block`` samples
at the file's own rate and channels; each lane resamples/downmixes to what its processor needs.
Faster than real time by default; ``realtime=True`` paces blocks to the wall clock.

Audio outputs. ``run(engine, audio_files=[(node, port, sink), ...])`` writes those aligned audio
ports, **latency compensated**: each file starts at the sample its port's declared delay puts
the input's first sample (``Engine.audio_delay_samples``, rounded), and has exactly as many
samples as the input, so a stem lines up sample for sample with the file it came from. After
the input, zeros are pushed until every file is complete; events describing that padding
(``t`` at or past the input's end) are dropped.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.engine import Engine

log = logging.getLogger(__name__)


class AudioFileError(ValueError):
    """An input file is missing, unreadable, corrupt or empty."""


@dataclass(frozen=True)
class FileInfo:
    """What the file holds: rate (Hz), channels, frames (samples per channel), format name."""

    sample_rate: int
    channels: int
    frames: int
    format: str


def probe(path: str | Path) -> FileInfo:
    """Open ``path`` and describe it.

    Raises:
        AudioFileError: missing, unreadable/corrupt, or empty (no samples).
    """
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise AudioFileError(f"audio file not found: {p}")
    if not p.is_file():
        raise AudioFileError(f"not a file: {p}")
    try:
        info = sf.info(str(p))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioFileError(f"cannot read audio file {p}: {exc}") from exc
    if info.frames <= 0:
        raise AudioFileError(f"audio file {p} is empty (no samples)")
    return FileInfo(int(info.samplerate), int(info.channels), int(info.frames), info.format)


class FileHost:
    """Feed a file to an engine in fixed-size host blocks.

    Args:
        path: the audio file.
        block: host block size in samples (1…8192).
        realtime: pace to the wall clock instead of running as fast as possible.
    """

    def __init__(self, path: str | Path, block: int = 1024, realtime: bool = False) -> None:
        if not 1 <= block <= 8192:
            raise ValueError(f"block must be 1…8192 samples, got {block}")
        self.path = Path(path)
        self.block = block
        self.realtime = realtime
        self.info = probe(self.path)

    def run(self, engine: Engine, stop=None, on_epoch=None, status_every: float = 1.0,
            audio_files: list | None = None) -> dict:
        """Stream the whole file through ``engine`` (prepared here) and close nothing.

        Args:
            engine: the engine; ``prepare`` is called with the file's rate and channels.
            audio_files: ``(node, port, sink)`` triples: aligned audio ports written to
                ``sink.write`` latency compensated (module docstring).
            stop: optional callable returning True to stop early (e.g. on SIGTERM).
            on_epoch: called once with the UNIX time of stream time 0 (paced runs only), e.g.
                to set an OSC sink's ``timetag_epoch``.
            status_every: seconds of audio between ``engine.send_status`` calls.

        Returns:
            Summary: seconds of audio, wall seconds, real-time factor, events, non-finite samples.

        Raises:
            AudioFileError: the file turns out corrupt while reading.
        """
        import soundfile as sf

        info = self.info
        engine.prepare(info.sample_rate, info.channels, self.block)
        writers = [_Compensated(engine, node, port, sink, info.frames) for node, port, sink in (audio_files or [])]
        wall0 = time.perf_counter()
        if self.realtime and on_epoch is not None:
            on_epoch(time.time())
        frames = 0
        next_status = int(status_every * info.sample_rate)
        try:
            with sf.SoundFile(str(self.path)) as f:
                for chunk in _host_blocks(f, self.block):
                    if stop is not None and stop():
                        break
                    engine.push(chunk)
                    for w in writers:
                        w.take(chunk.shape[1])
                    frames += chunk.shape[1]
                    if frames >= next_status:
                        next_status += int(status_every * info.sample_rate)
                        engine.send_status(self._status(engine, frames))
                    if self.realtime:
                        _sleep_until(wall0 + frames / info.sample_rate)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioFileError(f"audio file {self.path} is corrupt after {frames} samples: {exc}") from exc
        if writers:  # pad first: the resamplers' flush must come after the last input
            self._pad(engine, writers, frames)
        engine.finish()
        engine.t_end = None
        wall = time.perf_counter() - wall0
        seconds = frames / info.sample_rate
        return {
            "audio_files": {f"{w.node}.{w.port}": {"delay_samples": w.delay, "residual_samples": w.residual}
                            for w in writers},
            "audio_seconds": seconds,
            "wall_seconds": wall,
            "realtime_factor": wall / seconds if seconds else 0.0,
            "events": engine.stats.events,
            "nonfinite_samples": engine.stats.nonfinite_samples,
        }


    def _pad(self, engine: Engine, writers: list["_Compensated"], frames: int) -> None:
        """Push zeros until every compensated file holds the input's length (events about the
        padding are dropped: ``engine.t_end``, cleared by the caller after ``finish``)."""
        engine.t_end = frames / self.info.sample_rate
        zeros = np.zeros((self.info.channels, self.block), np.float32)
        while any(w.written < w.frames for w in writers):
            engine.push(zeros)
            for w in writers:
                w.take(self.block)

    def _status(self, engine: Engine, frames: int) -> dict:
        audio = frames / self.info.sample_rate
        return {"xruns": 0, "missed_hops": sum(engine.missed_hops().values()),
                "cpu_load": engine.stats.push_seconds / audio, "latency_ms": engine.max_latency_ms()}


class _Compensated:
    """Writes one aligned audio port to a sink, its declared delay removed, input-length long."""

    def __init__(self, engine: Engine, node: str, port: str, sink, frames: int) -> None:
        exact = engine.audio_delay_samples(node)
        self.engine, self.node, self.port, self.sink, self.frames = engine, node, port, sink, frames
        self.delay = int(round(exact))
        self.residual = exact - self.delay  # sub-sample part left (nodes at another rate)
        self.seen = 0  # aligned samples pushed so far
        self.written = 0

    def take(self, n: int) -> None:
        """The engine just pushed ``n`` samples: write the part past the delay, up to ``frames``."""
        sig = self.engine.audio(self.node, self.port)[:, :n]
        start = max(0, self.delay - self.seen)
        stop = min(n, start + self.frames - self.written)
        self.seen += n
        if stop > start:
            self.sink.write(sig[:, start:stop])
            self.written += stop - start


READ_FRAMES = 16384
"""Frames per file read. soundfile seeks around every read (costly for FLAC), so the host reads
large chunks and slices them into host blocks."""


def _host_blocks(f, block: int):
    """Yield ``[C, block]`` float32 arrays (the last may be shorter) read sequentially from ``f``."""
    size = max(block, (READ_FRAMES // block) * block)
    while True:
        data = f.read(size, dtype="float32", always_2d=True)
        if not len(data):
            return
        data = np.ascontiguousarray(data.T)
        for start in range(0, data.shape[1], block):
            yield data[:, start:start + block]


def _sleep_until(deadline: float) -> None:
    delay = deadline - time.perf_counter()
    if delay > 0:
        time.sleep(delay)

"""FileHost: stream an audio file through an engine, block by block.

Reads any file libsndfile reads (wav, flac, ogg, aiff, ...) in host blocks of ``block`` samples
at the file's own rate and channels; each lane resamples/downmixes to what its processor needs.
Faster than real time by default; ``realtime=True`` paces blocks to the wall clock.
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

    def run(self, engine: Engine, stop=None, on_epoch=None, status_every: float = 1.0) -> dict:
        """Stream the whole file through ``engine`` (prepared here) and close nothing.

        Args:
            engine: the engine; ``prepare`` is called with the file's rate and channels.
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
                    frames += chunk.shape[1]
                    if frames >= next_status:
                        next_status += int(status_every * info.sample_rate)
                        engine.send_status(self._status(engine, frames))
                    if self.realtime:
                        _sleep_until(wall0 + frames / info.sample_rate)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioFileError(f"audio file {self.path} is corrupt after {frames} samples: {exc}") from exc
        engine.finish()
        wall = time.perf_counter() - wall0
        seconds = frames / info.sample_rate
        return {
            "audio_seconds": seconds,
            "wall_seconds": wall,
            "realtime_factor": wall / seconds if seconds else 0.0,
            "events": engine.stats.events,
            "nonfinite_samples": engine.stats.nonfinite_samples,
        }


    def _status(self, engine: Engine, frames: int) -> dict:
        audio = frames / self.info.sample_rate
        algorithmic = max((r["algorithmic_ms"] for r in engine.latency_report()), default=0.0)
        return {"xruns": 0, "missed_hops": 0, "cpu_load": engine.stats.push_seconds / audio,
                "latency_ms": algorithmic + 1000.0 * self.block / self.info.sample_rate}


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

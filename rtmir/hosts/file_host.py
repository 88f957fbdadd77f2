"""FileHost: stream an audio file through an engine, block by block.

Reads any file libsndfile reads (wav, flac, ogg, aiff, ...) in host blocks of ``block`` samples
at the file's own rate and channels; each lane resamples/downmixes to what its processor needs.
Faster than real time by default; ``realtime=True`` paces blocks to the wall clock.

Audio outputs. ``run(engine, audio_files=[(node, port, sink), ...])`` writes those aligned audio
ports, **latency compensated**: each file starts at the sample its port's declared delay puts
the input's first sample (``Engine.audio_delay_samples``, rounded), and has exactly as many
samples as the input (the file, then the ``tail_seconds`` of silence streamed after it, if any),
so a stem lines up sample for sample with the file it came from. After the input, zeros are
pushed until every file is complete; events describing that padding (``t`` at or past the
input's end) are dropped.

Odd files. The file is read once, front to back, and never seeked (``_open_sequential``): every
format, compressed or not, decodes exactly as one whole-file read would. What the engine sees is
what could be read: a file shorter than its header declares (truncated WAV/AIFF/FLAC/MP3...)
streams its real length, and the summary says so (``declared_seconds``, ``truncated``;
``truncation_warning`` words it for people).
"""
from __future__ import annotations

import itertools
import logging
import struct
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
    """What the file holds."""

    sample_rate: int  # Hz
    channels: int
    frames: int  # samples per channel libsndfile expects to read (a truncated FLAC/MP3 has fewer)
    format: str  # libsndfile's major format name, e.g. "WAV", "FLAC", "MP3"
    declared_frames: int  # samples per channel the header declares (fewer can be read: truncated)


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
    sample_rate, frames = int(info.samplerate), int(info.frames)
    # libsndfile clamps a WAV/AIFF data chunk to the bytes present, silently: ask the header
    declared = max(frames, _header_frames(p, info.subtype) or 0)
    if frames <= 0:
        hint = f" although its header declares {declared / sample_rate:.2f} s (truncated)" if declared else ""
        raise AudioFileError(f"audio file {p} is empty (no samples){hint}")
    return FileInfo(sample_rate, int(info.channels), frames, info.format, declared)


def truncation_warning(summary: dict) -> str | None:
    """The line to print on stderr when ``FileHost.run`` found the file truncated, else None.

    Args:
        summary: what ``FileHost.run`` returned (keys ``truncated``, ``declared_seconds``,
            ``audio_seconds``).
    """
    if not summary.get("truncated"):
        return None
    return (f"rtmir: warning: the file is truncated: its header declares {summary['declared_seconds']:.2f} s "
            f"but only {summary['audio_seconds']:.2f} s of audio could be read and streamed")


class FileHost:
    """Feed a file to an engine in fixed-size host blocks.

    Args:
        path: the audio file.
        block: host block size in samples (1…8192).
        realtime: pace to the wall clock instead of running as fast as possible.
        tail_seconds: after the file, stream this much silence as if it were more of the file
            (a generator continuing or answering past the prompt's end); counted in
            ``audio_seconds``, and every file output is that much longer.
    """

    def __init__(self, path: str | Path, block: int = 1024, realtime: bool = False, tail_seconds: float = 0.0) -> None:
        if not 1 <= block <= 8192:
            raise ValueError(f"block must be 1…8192 samples, got {block}")
        if not 0.0 <= tail_seconds <= 24 * 3600:
            raise ValueError(f"the silence after the file must be 0 … 86400 s, got {tail_seconds:g}")
        self.path = Path(path)
        self.block = block
        self.realtime = realtime
        self.tail_seconds = tail_seconds
        self.info = probe(self.path)
        self.read_frames = 0  # of the file itself (the tail not counted), set by run

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
            Summary: ``audio_seconds`` (what was read and streamed), ``declared_seconds`` (what
            the header declares), ``truncated`` (the file ended before its declared length),
            wall seconds, real-time factor, events, non-finite samples.

        Raises:
            AudioFileError: the file turns out corrupt while reading.
        """
        info = self.info
        engine.prepare(info.sample_rate, info.channels, self.block)
        writers = [_Compensated(engine, node, port, sink) for node, port, sink in (audio_files or [])]
        wall0 = time.perf_counter()
        if self.realtime and on_epoch is not None:
            on_epoch(time.time())
        frames, at_end = self._stream(engine, writers, stop, status_every, wall0)
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
            "declared_seconds": info.declared_frames / info.sample_rate,
            "tail_seconds": (frames - self.read_frames) / info.sample_rate,
            "truncated": at_end and self.read_frames < info.declared_frames - _slack_frames(info.format),
            "wall_seconds": wall,
            "realtime_factor": wall / seconds if seconds else 0.0,
            "events": engine.stats.events,
            "nonfinite_samples": engine.stats.nonfinite_samples,
        }

    def _stream(self, engine: Engine, writers: list["_Compensated"], stop, status_every: float,
                wall0: float) -> tuple[int, bool]:
        """Push the file's blocks; returns (frames pushed, whether the file's end was reached)."""
        import soundfile as sf

        rate = self.info.sample_rate
        frames = self.read_frames = 0
        next_status = int(status_every * rate)
        tail = int(round(self.tail_seconds * rate))
        silence = np.zeros((self.info.channels, min(self.block, tail)), np.float32)  # the tail's blocks are views
        try:
            with _open_sequential(self.path) as f:
                blocks = _host_blocks(f, self.block)
                tail_blocks = (silence[:, :min(self.block, tail - a)] for a in range(0, tail, self.block))
                for chunk in itertools.chain(blocks, tail_blocks):
                    if stop is not None and stop():
                        return frames, False
                    engine.push(chunk)
                    for w in writers:
                        w.take(chunk.shape[1])
                    frames += chunk.shape[1]
                    if chunk.base is not silence:
                        self.read_frames = frames
                    if frames >= next_status:
                        next_status += int(status_every * rate)
                        engine.send_status(self._status(engine, frames))
                    if self.realtime:
                        _sleep_until(wall0 + frames / rate)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioFileError(f"audio file {self.path} is corrupt after {frames} samples: {exc}") from exc
        return frames, True

    def _pad(self, engine: Engine, writers: list["_Compensated"], frames: int) -> None:
        """Push zeros until every compensated file holds the input's length (events about the
        padding are dropped: ``engine.t_end``, cleared by the caller after ``finish``)."""
        engine.t_end = frames / self.info.sample_rate
        for w in writers:
            w.frames = frames  # the frames really read, not the header's count
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

    def __init__(self, engine: Engine, node: str, port: str, sink) -> None:
        exact = engine.audio_delay_samples(node)
        self.engine, self.node, self.port, self.sink = engine, node, port, sink
        self.frames: int | None = None  # the input's length, known once it has all been read
        self.delay = int(round(exact))
        self.residual = exact - self.delay  # sub-sample part left (nodes at another rate)
        self.seen = 0  # aligned samples pushed so far
        self.written = 0

    def take(self, n: int) -> None:
        """The engine just pushed ``n`` samples: write the part past the delay, up to ``frames``."""
        sig = self.engine.audio(self.node, self.port)[:, :n]
        start = max(0, self.delay - self.seen)
        stop = n if self.frames is None else min(n, start + self.frames - self.written)
        self.seen += n
        if stop > start:
            self.sink.write(sig[:, start:stop])
            self.written += stop - start


READ_FRAMES = 16384
"""Frames per file read: large reads, sliced into host blocks, keep Python's per-read cost low."""


def _open_sequential(path: Path):
    """Open ``path`` for one front-to-back read that never seeks.

    soundfile wraps every read of a seekable file in ``tell()`` and ``seek(pos + n, SEEK_SET)``.
    For PCM that only costs time, but libsndfile's MPEG decoder (1.2.x, via mpg123) restarts at
    every absolute seek and then outputs ~1200-2300 samples of silence: a 440 Hz sine read in
    16384-frame reads had 14609 of 132300 samples zeroed, at every multiple of 16384 (yin: 89 %
    of hops voiced instead of 99.7 %). Declaring the file unseekable makes soundfile read straight
    through, and every format then decodes sample for sample as one whole-file read does.
    """
    import soundfile as sf

    class SequentialSoundFile(sf.SoundFile):
        def seekable(self) -> bool:  # soundfile then never calls sf_seek around reads
            return False

    return SequentialSoundFile(str(path))


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


def _slack_frames(fmt: str) -> int:
    """Frames a healthy file may fall short of its declared length: libsndfile estimates an MP3
    without a length (Xing/LAME) header from its size, to within an MPEG frame or two."""
    return 2 * 1152 if fmt == "MP3" else 0


_PCM_SUBTYPES = frozenset({"PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"})
"""Subtypes whose data chunk holds ``frames * block_align`` bytes, so its size gives the frames."""


def _header_frames(path: Path, subtype: str) -> int | None:
    """Frames a WAV/RF64 or AIFF header declares (None: another format, compressed, or a
    streaming header with no length). Reads only the chunk headers."""
    if subtype not in _PCM_SUBTYPES:
        return None
    with open(path, "rb") as fh:
        form = fh.read(12)
        if form[:4] in (b"RIFF", b"RF64") and form[8:12] == b"WAVE":
            return _wav_frames(fh, rf64=form[:4] == b"RF64")
        if form[:4] == b"FORM" and form[8:12] in (b"AIFF", b"AIFC"):
            return _aiff_frames(fh)
    return None


def _wav_frames(fh, rf64: bool) -> int | None:
    """``data`` bytes / ``fmt`` block align (RF64: the 64-bit size from ``ds64``)."""
    block_align = size64 = None
    for cid, size, at in _iff_chunks(fh, "<"):
        if cid == b"ds64":
            size64 = (_unpack(fh, at, "<QQ") or (None, None))[1]
        elif cid == b"fmt ":
            block_align = (_unpack(fh, at, "<HHIIH") or (0,) * 5)[4]
        elif cid == b"data":
            if rf64 and size == 0xFFFFFFFF:
                size = size64
            if not block_align or size in (None, 0, 0xFFFFFFFF):  # 0 / ~0: written while streaming
                return None
            return size // block_align
    return None


def _aiff_frames(fh) -> int | None:
    """``numSampleFrames`` of the ``COMM`` chunk."""
    for cid, _, at in _iff_chunks(fh, ">"):
        if cid == b"COMM":
            comm = _unpack(fh, at, ">hI")
            return comm[1] if comm else None
    return None


def _iff_chunks(fh, order: str):
    """Yield ``(id, size in bytes, offset of the body)`` of each chunk after a RIFF/IFF file's
    12-byte header; ``order`` is the struct byte order of the sizes ("<" RIFF, ">" IFF)."""
    pos = 12
    while True:
        fh.seek(pos)
        head = fh.read(8)
        if len(head) < 8:
            return
        cid, size = head[:4], struct.unpack(order + "I", head[4:])[0]
        yield cid, size, pos + 8
        pos += 8 + size + (size & 1)  # bodies are padded to an even length


def _unpack(fh, at: int, fmt: str) -> tuple | None:
    """``struct.unpack(fmt)`` of the bytes at offset ``at``, or None past the end of the file."""
    fh.seek(at)
    raw = fh.read(struct.calcsize(fmt))
    return struct.unpack(fmt, raw) if len(raw) == struct.calcsize(fmt) else None


def _sleep_until(deadline: float) -> None:
    delay = deadline - time.perf_counter()
    if delay > 0:
        time.sleep(delay)

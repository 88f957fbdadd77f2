"""``rtmir live --play FILE``: a file played into the live input path, for trying the live
chain (device, callback, worker, output, display) without playing into a microphone. An input
device is still opened: its callback is the clock; what it hears is replaced by the file.

The file is decoded whole before the stream opens (``load``), resampled to the device's rate
(soxr, VHQ, offline) and fitted to the stream's input channels (the same count: as it is;
another: the channels' mean on every channel). In the callback, ``PlayInput.next_block``
hands out the next ``n`` frames in place of the device's input: a view of the preloaded array,
or a preallocated block padded with silence at the end — no allocation of audio, no I/O, no lock.
Stream time, timetags and latency are the live path's, exactly as with a microphone.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .file_host import AudioFileError, _open_sequential, probe


class PlayInput:
    """A decoded file handed to the audio callback block by block.

    Args:
        frames: ``[N, C]`` float32 at the stream's rate and input channel count.
        max_block: the largest block the callback asks for.

    Attributes:
        pos: frames handed out so far (callback-owned).
    """

    def __init__(self, frames: np.ndarray, max_block: int) -> None:
        self.frames = np.ascontiguousarray(frames, np.float32)
        self._tail = np.zeros((max_block, self.frames.shape[1]), np.float32)
        self.pos = 0

    @property
    def length(self) -> int:
        """Frames in the file (at the stream's rate)."""
        return self.frames.shape[0]

    @property
    def done(self) -> bool:
        """Every frame of the file has been handed out."""
        return self.pos >= self.length

    def next_block(self, n: int) -> np.ndarray:
        """The next ``n`` frames ``[n, C]`` (silence after the end). Real-time safe."""
        p = self.pos
        self.pos = p + n
        if p + n <= self.length:
            return self.frames[p:p + n]
        tail = self._tail[:n]
        k = max(0, self.length - p)
        tail[:k] = self.frames[p:p + k]
        tail[k:] = 0.0
        return tail


def load(path: str | Path, sample_rate: int, channels: int, max_block: int) -> PlayInput:
    """Decode ``path`` whole, at ``sample_rate`` Hz with ``channels`` channels.

    Raises:
        AudioFileError: the file cannot be read (one line).
    """
    info = probe(path)  # one clear line for a missing, empty or unreadable file
    try:
        with _open_sequential(Path(path)) as f:  # front to back, never seeked (file_host)
            blocks = []
            while True:
                chunk = f.read(65536, dtype="float32", always_2d=True)
                if not len(chunk):
                    break
                blocks.append(chunk)
        data = np.concatenate(blocks) if blocks else np.zeros((0, info.channels), np.float32)
    except RuntimeError as exc:
        raise AudioFileError(f"--play {path}: cannot decode: {exc}") from None
    if info.sample_rate != sample_rate:
        import soxr

        data = soxr.resample(data, info.sample_rate, sample_rate, quality="VHQ").astype(np.float32)
    if data.shape[1] != channels:
        data = np.repeat(data.mean(axis=1, keepdims=True), channels, axis=1)
    return PlayInput(data, max_block)

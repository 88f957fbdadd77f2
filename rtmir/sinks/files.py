"""File sinks: events as JSON lines, audio as a sound file.

Both write to ``<name>.part`` beside the target and rename on ``close()`` (``discard()`` deletes
it instead), so a run that dies
before it starts writing leaves nothing behind and a finished file is never half-written; a run
stopped mid-stream (Ctrl-C, lost device) still closes, so what was produced is kept.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..core.processor import Event


class OutputError(ValueError):
    """An output file cannot be created (missing or unwritable directory)."""


def _open_part(path: Path, mode: str):
    if not path.parent.is_dir():
        raise OutputError(f"output directory does not exist: {path.parent}")
    if not os.access(path.parent, os.W_OK):
        raise OutputError(f"output directory is not writable: {path.parent}")
    part = path.with_name(path.name + ".part")
    try:
        return part, open(part, mode)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from exc


class JsonlSink:
    """Write one JSON object per event: ``{"task": ..., "t": seconds, ...fields}``.

    Args:
        path: the ``.jsonl`` file (its directory must exist and be writable).

    Raises:
        OutputError: the file cannot be created.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._part, self._file = _open_part(self.path, "w")
        self.lines = 0

    def send(self, events: list[Event]) -> None:
        write = self._file.write
        for event in events:
            write(json.dumps(event.as_json()) + "\n")
        self.lines += len(events)

    def status(self, stats: dict) -> None:
        """Status records are not written to the event file."""

    def close(self) -> None:
        """Flush and move the finished file into place (idempotent)."""
        if self._file.closed:
            return
        self._file.close()
        os.replace(self._part, self.path)

    def discard(self) -> None:
        """Close and delete the unfinished file (a run that failed before streaming)."""
        if not self._file.closed:
            self._file.close()
        Path(self._part).unlink(missing_ok=True)


class AudioFileSink:
    """Write audio blocks ``[C, n]`` to a sound file (format from the extension, float/PCM_24).

    Args:
        path: target file (``.wav``, ``.flac``, ...).
        sample_rate: Hz.
        channels: channels of the blocks written.

    Raises:
        OutputError: the file cannot be created.
    """

    def __init__(self, path: str | Path, sample_rate: int, channels: int) -> None:
        import soundfile as sf

        self.path = Path(path)
        self._part, handle = _open_part(self.path, "wb")
        subtype = "FLOAT" if self.path.suffix.lower() == ".wav" else "PCM_24"
        fmt = self.path.suffix.lstrip(".").upper() or "WAV"
        self._file = sf.SoundFile(handle, "w", sample_rate, channels, subtype=subtype, format=fmt)
        self._handle = handle
        self.frames = 0

    def write(self, block: np.ndarray) -> None:
        """Append ``block`` ``[C, n]`` float32."""
        self._file.write(block.T)
        self.frames += block.shape[1]

    def send(self, events: list[Event]) -> None:
        """Events are not audio: ignored."""

    def status(self, stats: dict) -> None:
        """Nothing to do."""

    def close(self) -> None:
        """Finish the file and move it into place (idempotent)."""
        if self._handle.closed:
            return
        self._file.close()
        self._handle.close()
        os.replace(self._part, self.path)

    def discard(self) -> None:
        """Close and delete the unfinished file (a run that failed before streaming)."""
        if not self._handle.closed:
            self._file.close()
            self._handle.close()
        Path(self._part).unlink(missing_ok=True)

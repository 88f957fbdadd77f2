"""File sinks: events as JSON lines, audio as a sound file.

Where they may write, and how, is ``output_path``'s: both check their target and write to
``<name>.part`` beside it, renamed on ``close()`` (``discard()`` deletes it instead), so a run that
dies before it starts writing leaves nothing behind and a finished file is never half-written; a
run stopped mid-stream (Ctrl-C, lost device) still closes, so what was produced is kept.
``JsonlSink("-")`` writes to standard output.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..core.processor import Event
from .output_path import OutputError, PartFile, check_output  # noqa: F401  (OutputError re-exported)


class JsonlSink:
    """Write one JSON object per event: ``{"task": ..., "t": seconds, ...fields}``.

    Args:
        path: the ``.jsonl`` file (its directory must exist and be writable), or ``-`` for
            standard output.
        option: the command-line option named in errors.
        inputs: the run's input files (refused as a target).

    Raises:
        OutputError: the target is refused (``output_path.check_output``) or cannot be created.
    """

    def __init__(self, path: str | Path, option: str = "--jsonl", inputs=()) -> None:
        target = check_output(path, option, inputs, allow_stdout=True)
        self.path = target
        self._out = PartFile(target, "w", option)
        self._file = self._out.file
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
        self._out.commit()

    def discard(self) -> None:
        """Close and delete the unfinished file (a run that failed before streaming)."""
        self._out.discard()


class AudioFileSink:
    """Write audio blocks ``[C, n]`` to a sound file (format from the extension, float/PCM_24).

    Args:
        path: target file (``.wav``, ``.flac``, ...).
        sample_rate: Hz.
        channels: channels of the blocks written.
        option: the command-line option named in errors.
        inputs: the run's input files (refused as a target).

    Raises:
        OutputError: the target is refused (``output_path.check_output``) or cannot be created.
    """

    def __init__(self, path: str | Path, sample_rate: int, channels: int, option: str = "--out-dir",
                 inputs=()) -> None:
        import soundfile as sf

        self.path = check_output(path, option, inputs)
        self._out = PartFile(self.path, "wb", option)
        subtype = "FLOAT" if self.path.suffix.lower() == ".wav" else "PCM_24"
        fmt = self.path.suffix.lstrip(".").upper() or "WAV"
        try:
            self._file = sf.SoundFile(self._out.file, "w", sample_rate, channels, subtype=subtype, format=fmt)
        except Exception as exc:
            self._out.discard()
            raise OutputError(f"{option}: cannot write {self.path}: {exc}") from None
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
        if not self._out.committed:
            self._file.close()
        self._out.commit()

    def discard(self) -> None:
        """Close and delete the unfinished file (a run that failed before streaming)."""
        if not self._out.committed:
            self._file.close()
        self._out.discard()

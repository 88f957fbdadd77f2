"""Read a folder written by ``python -m training.synth``: its examples, their labels and audio.

The one reader of synth folders (no torch): ``dataset.SynthDataset`` crops through it and
``training.core.data`` loads whole clips through it. An example is complete when its
``meta.json`` exists (the builder writes it last); folders still being written end in ``.tmp``
and are never listed.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr


class SynthFolder:
    """The complete examples of one synth dataset folder, in index order.

    Args:
        root: the folder (holds ``manifest.json`` and ``000000/``, ``000001/``, ...).
        limit: keep only the first ``limit`` examples (None: all).

    Raises:
        FileNotFoundError: ``root`` has no manifest.json, or no complete example.
    """

    def __init__(self, root: str | Path, limit: int | None = None):
        self.root = Path(root)
        if not (self.root / "manifest.json").is_file():
            raise FileNotFoundError(f"{self.root} is not a training.synth dataset (no manifest.json): "
                                    f"build it with python -m training.synth ... --out {self.root}")
        self.manifest = json.loads((self.root / "manifest.json").read_text())
        folders = sorted(p.parent for p in self.root.glob("[0-9]*/meta.json") if not p.parent.name.endswith(".tmp"))
        if not folders:
            raise FileNotFoundError(f"{self.root} holds no complete example")
        self.folders: list[Path] = folders[:limit] if limit else folders

    def __len__(self) -> int:
        return len(self.folders)

    @property
    def names(self) -> list[str]:
        """Example folder names (``"000000"``, ...), in index order."""
        return [f.name for f in self.folders]

    def meta(self, index: int) -> dict:
        """The example's ``meta.json``."""
        return json.loads((self.folders[index] / "meta.json").read_text())

    def labels(self, index: int) -> dict[str, np.ndarray]:
        """Every array of the example's ``labels.npz`` (``f0_<stem>``, ``activity``, ...)."""
        with np.load(self.folders[index] / "labels.npz") as z:
            return {k: z[k] for k in z.files}

    def audio(self, index: int, sample_rate: int | None = None, channels: int = 1, start: int = 0,
              frames: int = -1, file: str = "mix.flac") -> np.ndarray:
        """``[channels, n]`` float32 audio of one file of the example.

        Args:
            index: the example.
            sample_rate: resample to this rate with soxr HQ (None: the file's rate).
            channels: 1 (downmixed *before* resampling: cheaper, and linear so the same
                signal) or 2 (a mono file is duplicated).
            start, frames: the part to read, in samples at the file's rate (-1: to the end).
            file: ``mix.flac`` or ``stems/<name>.flac``.
        """
        x, sr = sf.read(self.folders[index] / file, start=start, frames=frames, dtype="float32", always_2d=True)
        if channels == 1:
            x = x.mean(axis=1, keepdims=True)
        elif x.shape[1] == 1:
            x = np.repeat(x, 2, axis=1)
        if sample_rate and sample_rate != sr:
            x = soxr.resample(x, sr, sample_rate, quality="HQ")
        return np.ascontiguousarray(x.T, dtype=np.float32)

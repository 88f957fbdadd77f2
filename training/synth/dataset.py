"""PyTorch ``Dataset`` over a folder written by ``python -m training.synth`` (random crops).

The only module of ``training.synth`` that imports torch.

Crops start on the label frame grid: a crop of ``crop_frames`` label frames starting at frame s
covers samples ``round(s * sr / 100) ...`` (exact for 16, 32, 44.1 and 48 kHz; within half a
sample at 22.05 kHz). Only the crop is read from the FLAC files.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .folder import SynthFolder
from .labels import FRAME_RATE


@dataclass(frozen=True)
class CropConfig:
    """What each item holds.

    Attributes:
        crop_s: crop length, seconds (a multiple of 10 ms); examples shorter are zero-padded.
        random_crop: a random start (torch's RNG: seed with ``torch.manual_seed``; DataLoader
            workers get their own streams) or always the start (validation).
        sample_rate: resample every item to this rate, Hz (examples may differ after
            augmentation); None keeps the file's rate (then batch only equal rates).
        channels: 1 (downmix) or 2 (a mono file is duplicated).
        f0_stem: the stem whose f0 is returned ("melody" exists in mono and multi sets).
        stems: stems to return as ``stems [S, C, n]`` (missing ones are zeros), or () for none.
    """

    crop_s: float = 4.0
    random_crop: bool = True
    sample_rate: int | None = 44100
    channels: int = 1
    f0_stem: str = "melody"
    stems: tuple[str, ...] = ()


class SynthDataset(Dataset):
    """Examples of a synth dataset folder, cropped.

    Each item is a dict of tensors:
        ``audio`` [C, n] float32 (the mix), ``f0`` [frames] float32 Hz (0 = unvoiced),
        ``activity`` [families, frames] float32 0/1, ``stems`` [S, C, n] float32 (if asked),
        ``start_s`` [] float64 (crop start in the example), ``index`` [] int64.
    with ``frames = crop_s * 100`` and ``n = crop_s * sample_rate``.
    """

    def __init__(self, root: str | Path, config: CropConfig = CropConfig()):
        """Index the complete examples under ``root`` (``folder.SynthFolder``).

        Raises:
            FileNotFoundError: ``root`` has no manifest.json or no complete example.
        """
        self.folder = SynthFolder(root)
        self.root, self.manifest, self.folders = self.folder.root, self.folder.manifest, self.folder.folders
        self.config = config
        self.families = self.manifest["families"]

    def __len__(self) -> int:
        return len(self.folder)

    def _read(self, index: int, file: str, start: int, n: int, sr: int) -> np.ndarray:
        """``[C, crop]`` float32 of one file (at rate ``sr``) of an example, resampled,
        channel-fitted and zero-padded."""
        x = self.folder.audio(index, self.config.sample_rate, self.config.channels, start, n, file)
        out_sr = self.config.sample_rate or sr
        want = int(round(self.config.crop_s * out_sr))
        out = np.zeros((x.shape[0], want), np.float32)
        out[:, : min(want, x.shape[1])] = x[:, :want]
        return out

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        folder = self.folders[index]
        meta = self.folder.meta(index)
        labels = self.folder.labels(index)
        sr, n_frames = meta["sample_rate"], meta["n_frames"]
        crop_frames = int(round(self.config.crop_s * FRAME_RATE))
        max_start = max(0, n_frames - crop_frames)
        start = int(torch.randint(0, max_start + 1, ()).item()) if self.config.random_crop else 0
        s0, n = int(round(start * sr / FRAME_RATE)), int(round(self.config.crop_s * sr))

        def frames(a: np.ndarray) -> np.ndarray:
            out = np.zeros(a.shape[:-1] + (crop_frames,), np.float32)
            part = a[..., start:start + crop_frames]
            out[..., : part.shape[-1]] = part
            return out

        key = f"f0_{self.config.f0_stem}"
        f0 = labels[key] if key in labels else np.zeros(n_frames, np.float32)
        item = {"audio": torch.from_numpy(self._read(index, "mix.flac", s0, n, sr)),
                "f0": torch.from_numpy(frames(f0)),
                "activity": torch.from_numpy(frames(labels["activity"].astype(np.float32))),
                "start_s": torch.tensor(start / FRAME_RATE, dtype=torch.float64),
                "index": torch.tensor(index)}
        if self.config.stems:
            shape = item["audio"].shape
            item["stems"] = torch.stack([
                torch.from_numpy(self._read(index, f"stems/{s}.flac", s0, n, sr))
                if (folder / "stems" / f"{s}.flac").is_file() else torch.zeros(shape)
                for s in self.config.stems])
        return item

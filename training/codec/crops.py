"""The PyTorch ``Dataset`` of codec training crops: augmented mixes, and solo stems.

Each crop starts as a separation crop (``training.separate.crops.StemCrops``: stems remixed across
pieces, gains, drops, EQ, rooms); with ``solo_prob`` the signal is one of its audible stems
alone, else the mix. Its peak is then set to a level drawn from ``level_dbfs`` (a codec must code
quiet and loud takes). Every draw comes from torch's generator, so runs repeat.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from training.separate.crops import StemAugment, StemCrops
from training.separate.data import StemClips


class CodecCrops(Dataset):
    """``audio [1, n]`` float32 crops (``n = crop_s * sample_rate``, a multiple of ``hop``)."""

    def __init__(self, clips: StemClips, crop_s: float, sample_rate: int, hop: int, augment: StemAugment,
                 solo_prob: float, level_dbfs: tuple[float, float]) -> None:
        self.stems = StemCrops(clips, crop_s, sample_rate, hop, augment)
        self.solo_prob, self.level_dbfs = solo_prob, level_dbfs

    def __len__(self) -> int:
        return len(self.stems)

    def __getitem__(self, index: int) -> torch.Tensor:
        mix, stems = self.stems[index]
        x = mix[0]
        if float(torch.rand(())) < self.solo_prob:
            audible = [i for i in range(stems.shape[0]) if float(stems[i].abs().max()) > 1e-4]
            if audible:
                x = stems[audible[int(torch.randint(0, len(audible), ()))]]
        peak = float(x.abs().max())
        if peak > 0:
            lo, hi = self.level_dbfs
            x = x * np.float32(10 ** ((lo + (hi - lo) * float(torch.rand(()))) / 20) / peak)
        return x[None].contiguous()

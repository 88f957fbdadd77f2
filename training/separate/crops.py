"""The PyTorch ``Dataset`` of separation crops: augmented stems and their mix.

Per crop (every draw from torch's generator, so runs repeat; DataLoader workers get their own
streams): a clip and a start; with ``remix_prob`` each stem comes from another random clip and
start (mixes no renderer played, for variety); each stem gets a gain (``gain_db``), is dropped
with ``drop_prob`` (a model must also return silence) and is equalised with ``eq_prob``; with
``room_prob`` every stem goes through one room (the mix stays the sum of the stems); the mix
is scaled to a peak level in ``level_dbfs``, the stems by the same gain.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from training.core import conditions
from training.synth.augment import equalize, reverberate, room_impulse_response

from .data import StemClips


@dataclass(frozen=True)
class StemAugment:
    remix_prob: float = 0.5
    gain_db: tuple[float, float] = (-12.0, 3.0)
    drop_prob: float = 0.1
    eq_prob: float = 0.3
    room_prob: float = 0.3
    level_dbfs: tuple[float, float] = (-30.0, -1.0)


class StemCrops(Dataset):
    """``(mix [1, n], stems [S, n])`` float32 crops of ``clips`` (``n = crop_s * sample_rate``,
    a multiple of ``hop``); ``augment=None`` gives the clip's own stems, unchanged."""

    def __init__(self, clips: StemClips, crop_s: float, sample_rate: int, hop: int, augment: StemAugment | None,
                 epoch_size: int | None = None) -> None:
        self.clips, self.sample_rate, self.augment = clips, sample_rate, augment
        self.n = int(round(crop_s * sample_rate)) // hop * hop
        self.epoch_size = epoch_size or len(clips.stems)

    def __len__(self) -> int:
        return self.epoch_size

    def _u(self, lo_hi: tuple[float, float]) -> float:
        lo, hi = lo_hi
        return lo + (hi - lo) * float(torch.rand(()))

    def _crop(self, clip: int, stem: slice | int) -> np.ndarray:
        total = self.clips.stems.shape[-1]
        start = int(torch.randint(0, max(1, total - self.n + 1), ()))
        x = self.clips.stems[clip, stem, start:start + self.n].astype(np.float32)
        return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, self.n - x.shape[-1])])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.augment
        clip = index % len(self.clips.stems)
        stems = self._crop(clip, slice(None))  # [S, n]
        if a is not None:
            n_clips, s = len(self.clips.stems), stems.shape[0]
            for i in range(s):
                if float(torch.rand(())) < a.remix_prob:
                    stems[i] = self._crop(int(torch.randint(0, n_clips, ())), i)
                gain = 0.0 if float(torch.rand(())) < a.drop_prob else 10 ** (self._u(a.gain_db) / 20)
                stems[i] *= gain
                if gain and float(torch.rand(())) < a.eq_prob:
                    eq = conditions.params("eq", int(torch.randint(0, 2**31, ())))["eq"]
                    stems[i] = equalize(stems[i][None], self.sample_rate, eq)[0]
            if float(torch.rand(())) < a.room_prob:
                room = conditions.params("rooms", int(torch.randint(0, 2**31, ())))["reverb"]
                rir = room_impulse_response(self.sample_rate, 1, room["rt60_s"], room["drr_db"], room["seed"])
                stems = reverberate(stems, np.repeat(rir, s, axis=0)).astype(np.float32)
            peak = float(np.abs(stems.sum(axis=0)).max())
            if peak > 0:
                stems *= np.float32(10 ** (self._u(a.level_dbfs) / 20) / peak)
        mix = stems.sum(axis=0, keepdims=True)
        return torch.from_numpy(np.ascontiguousarray(mix)), torch.from_numpy(np.ascontiguousarray(stems))

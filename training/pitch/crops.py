"""The PyTorch ``Dataset`` of training crops (the targets are aligned to what each output describes)."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from training.core.conditions import AugmentRanges, augment_crop
from training.core.data import Clips

from .data import SAMPLE_RATE
from .targets import LABEL_RATE, f0_at_instants, output_instants

REVERB_PAST_SAMPLES = 8000  # audio before a crop fed to the room, so earlier notes ring into it


class PitchCrops(Dataset):
    """Random crops of ``clips``: ``(audio [1, n] float32, f0 [n // hop] float32 Hz)``.

    Crops start on the label grid (multiples of 10 ms); the f0 of output frame k is the label
    at the instant frame k describes (``targets``). Randomness comes from torch's generator
    (``torch.manual_seed``; DataLoader workers get their own streams), so runs are repeatable.

    Args:
        clips: 16 kHz clips and their f0 labels (``data.load_split``).
        crop_s: crop length, seconds.
        hop: model hop, samples. latency_samples: the model's declared latency.
        ranges: the random training condition (``training.core.conditions.augment_crop``), or None
            for clean crops.
    """

    def __init__(self, clips: Clips, crop_s: float, hop: int, latency_samples: int,
                 ranges: AugmentRanges | None) -> None:
        self.clips = clips
        self.label_samples = SAMPLE_RATE // LABEL_RATE
        self.crop_labels = int(round(crop_s * LABEL_RATE))
        self.crop_samples = self.crop_labels * self.label_samples
        if self.crop_samples % hop:
            raise ValueError(f"crop of {self.crop_samples} samples is not a multiple of hop {hop}")
        self.hop, self.latency_samples, self.ranges = hop, latency_samples, ranges

    def __len__(self) -> int:
        return len(self.clips.audio)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        audio, f0 = self.clips.audio[index], self.clips.labels[index]
        max_start = max(0, len(f0) - self.crop_labels)
        start = int(torch.randint(0, max_start + 1, ()).item()) * self.label_samples
        x = audio[start:start + self.crop_samples]
        x = np.pad(x, (0, self.crop_samples - len(x)))
        if self.ranges is not None:
            rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
            x = augment_crop(x, audio[max(0, start - REVERB_PAST_SAMPLES):start], rng, self.ranges, SAMPLE_RATE)
        frames = self.crop_samples // self.hop
        target = f0_at_instants(f0, output_instants(start, frames, self.hop, self.latency_samples, SAMPLE_RATE))
        return torch.from_numpy(np.ascontiguousarray(x))[None], torch.from_numpy(target)

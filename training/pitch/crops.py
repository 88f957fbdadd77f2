"""The PyTorch ``Dataset`` of training crops (the targets are aligned to what each output describes)."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from training.core.conditions import AugmentRanges, augment_crop
from training.core.data import Clips
from training.synth.oscillators import oscillator_clip

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
        oscillator_prob: share of crops replaced by a synthetic line over ``oscillator_hz``
            (``training.synth.oscillators``; the same augmentation follows).
        oscillator_hz: the lines' voiced f0 range, Hz.
    """

    def __init__(self, clips: Clips, crop_s: float, hop: int, latency_samples: int,
                 ranges: AugmentRanges | None, oscillator_prob: float = 0.0,
                 oscillator_hz: tuple[float, float] = (27.5, 4300.0)) -> None:
        self.oscillator_prob, self.oscillator_hz = oscillator_prob, oscillator_hz
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
        if self.oscillator_prob and float(torch.rand(())) < self.oscillator_prob:
            rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
            audio, f0 = oscillator_clip(rng, self.crop_samples, SAMPLE_RATE, *self.oscillator_hz)
            start = 0
        x = audio[start:start + self.crop_samples]
        x = np.pad(x, (0, self.crop_samples - len(x)))
        if self.ranges is not None:
            rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
            others = ()
            if self.ranges.crowd_prob:  # a crowd is built from other clips of the set
                picks = torch.randint(0, len(self.clips.audio), (6,)).tolist()
                others = [self.clips.audio[i] for i in picks if i != index]
            x = augment_crop(x, audio[max(0, start - REVERB_PAST_SAMPLES):start], rng, self.ranges, SAMPLE_RATE,
                             others)
        frames = self.crop_samples // self.hop
        target = f0_at_instants(f0, output_instants(start, frames, self.hop, self.latency_samples, SAMPLE_RATE))
        return torch.from_numpy(np.ascontiguousarray(x))[None], torch.from_numpy(target)

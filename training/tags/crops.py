"""The PyTorch ``Dataset`` of tagging crops, targets at the instant each output frame describes."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from training.core.conditions import AugmentRanges, augment_crop
from training.core.data import Clips

from .data import SAMPLE_RATE

LABEL_RATE = 100  # label frames per second (training.synth.labels.FRAME_RATE)
REVERB_PAST_SAMPLES = 8000  # audio before a crop fed to the room, so earlier notes ring into it


def targets_at(labels: np.ndarray, start_sample: int, frames: int, hop: int, latency_samples: int) -> np.ndarray:
    """``[n_tags, frames]`` float32: the label frame nearest the instant output frame k describes
    (``start + (k + 1) * hop - latency`` samples); 0 before the clip and past its labels.

    Args:
        labels: ``[n_tags, n_labels]`` at ``LABEL_RATE`` frames per second.
    """
    ends = start_sample + hop * np.arange(1, frames + 1) - latency_samples
    idx = np.round(ends * LABEL_RATE / SAMPLE_RATE).astype(np.int64)
    inside = (idx >= 0) & (idx < labels.shape[-1])
    out = np.zeros((labels.shape[0], frames), np.float32)
    out[:, inside] = labels[:, idx[inside]]
    return out


class TagCrops(Dataset):
    """Random crops of ``clips``: ``(audio [1, n] float32, targets [n_tags, n // hop] float32)``;
    targets of frames that describe an instant before the crop's first sample are NaN (the loss
    leaves them out). Crops start on the label grid. Randomness comes from torch's generator (``torch.manual_seed``;
    DataLoader workers get their own streams), so runs are repeatable.

    Args:
        clips: 16 kHz clips and their tags (``data.load_split``).
        crop_s: crop length, seconds. hop, latency_samples: the model's.
        ranges: the random training condition, or None for clean crops.
    """

    def __init__(self, clips: Clips, crop_s: float, hop: int, latency_samples: int, ranges: AugmentRanges | None):
        self.clips, self.hop, self.latency_samples, self.ranges = clips, hop, latency_samples, ranges
        self.label_samples = SAMPLE_RATE // LABEL_RATE
        self.crop_labels = int(round(crop_s * LABEL_RATE))
        self.crop_samples = self.crop_labels * self.label_samples
        if self.crop_samples % hop:
            raise ValueError(f"crop of {self.crop_samples} samples is not a multiple of hop {hop}")

    def __len__(self) -> int:
        return len(self.clips.audio)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        audio, labels = self.clips.audio[index], self.clips.labels[index]
        max_start = max(0, labels.shape[-1] - self.crop_labels)
        start = int(torch.randint(0, max_start + 1, ()).item()) * self.label_samples
        x = np.pad(audio[start:start + self.crop_samples], (0, max(0, self.crop_samples - (len(audio) - start))))
        if self.ranges is not None:
            rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
            x = augment_crop(x, audio[max(0, start - REVERB_PAST_SAMPLES):start], rng, self.ranges, SAMPLE_RATE)
        frames = self.crop_samples // self.hop
        y = targets_at(labels, start, frames, self.hop, self.latency_samples)
        # a frame describing an instant before the crop is about audio the model never heard: NaN, not scored
        y[:, self.hop * np.arange(1, frames + 1) < self.latency_samples] = np.nan
        return torch.from_numpy(np.ascontiguousarray(x, np.float32))[None], torch.from_numpy(y)

"""Pitch's data: synth folders -> 16 kHz mono clips with their ``f0_melody`` labels.

``load_split`` is ``training.core.data.load_clips`` with pitch's label reader (``f0_melody``,
Hz at 100 frames/s, 0 = unvoiced) at 16 kHz, cached as one ``.npz``. Crops and their
augmentation: ``crops.PitchCrops`` (``training.core.conditions.augment_crop``); validation
conditions: ``training.core.conditions``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from training.core.data import Clips, LabelReader, load_clips

SAMPLE_RATE = 16000

F0_LABELS = LabelReader("f0_melody", lambda labels, meta: labels["f0_melody"].astype(np.float32))
"""Pitch's labels: the melody stem's f0, Hz (0 = unvoiced), 100 frames/s."""

__all__ = ["SAMPLE_RATE", "F0_LABELS", "Clips", "load_split"]


def load_split(root: str | Path, cache_dir: str | Path | None = None, limit: int | None = None) -> Clips:
    """All (or the first ``limit``) examples of a synth folder at 16 kHz with ``labels`` = f0 ``[n, frames]``.

    Raises:
        FileNotFoundError: not a synth dataset, or no complete example.
    """
    return load_clips(root, F0_LABELS, SAMPLE_RATE, cache_dir, limit)

"""Tagging's data: synth folders -> 16 kHz mono clips with their ``tags`` labels.

``load_split`` is ``training.core.data.load_clips`` with the tags reader (``[len(TAGS), frames]``
0/1 at 100 frames/s, measured on the renders: ``training.synth.activity``), cached as one ``.npz``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from training.core.data import Clips, LabelReader, load_clips
from training.synth.activity import CONVENTION

SAMPLE_RATE = 16000

TAG_LABELS = LabelReader(f"tags-{CONVENTION['name']}", lambda labels, meta: labels["tags"].astype(np.float32))
"""Which families are sounding, ``[13, frames]``, rows in ``training.synth.activity.TAGS`` order."""

__all__ = ["SAMPLE_RATE", "TAG_LABELS", "Clips", "load_split"]


def load_split(root: str | Path, cache_dir: str | Path | None = None, limit: int | None = None) -> Clips:
    """All (or the first ``limit``) examples of a synth folder at 16 kHz with ``labels [n, 13, frames]``.

    Raises:
        FileNotFoundError: not a synth dataset, or no complete example.
        KeyError: an example without ``tags`` (rendered before tags were measured: render it again).
    """
    return load_clips(root, TAG_LABELS, SAMPLE_RATE, cache_dir, limit)

"""The notes task's data: synth folders -> 16 kHz mono clips with their note targets, cached as one ``.npz``."""
from __future__ import annotations

from pathlib import Path

from training.core.data import Clips, LabelReader, load_clips
from training.synth.aligned import CONVENTION as ALIGNED

from .labels import CONVENTION, read_targets

SAMPLE_RATE = 16000

NOTE_TARGETS = LabelReader(f"{CONVENTION['name']}-{ALIGNED['name']}", read_targets)
"""Onset / frame / offset / drum targets ``[N_OUTPUTS, frames]`` (``labels.targets``)."""


def load_split(root: str | Path, cache_dir: str | Path | None = None, limit: int | None = None) -> Clips:
    """All (or the first ``limit``) examples of a synth folder at 16 kHz with ``labels [n, N_OUTPUTS, frames]``.

    Raises:
        FileNotFoundError: not a synth dataset, or no complete example.
        KeyError: an example without aligned note spans (render it with ``--labels aligned``).
    """
    return load_clips(root, NOTE_TARGETS, SAMPLE_RATE, cache_dir, limit)

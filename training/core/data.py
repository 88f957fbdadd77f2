"""Synth folders -> whole clips in RAM with a task's labels, cached; crops on the label grid.

``load_clips(root, labels, sample_rate)`` reads every complete example of a
``python -m training.synth`` folder once through ``training.synth.folder.SynthFolder`` (the mix
downmixed, resampled with soxr HQ, which keeps the timing), asks the task's ``LabelReader`` for
its labels (on the 100 frames/s label grid), and caches the result as one ``.npz`` under
``cache_dir`` so later runs start in seconds. Tasks crop from these clips in their own
``Dataset`` (e.g. ``training.pitch.crops``), starting crops on the label grid.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from training.synth.folder import SynthFolder
from training.synth.labels import FRAME_RATE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelReader:
    """What a task reads from each example's labels.

    Attributes:
        name: a short name, part of the cache key (change it when ``read`` changes).
        read: ``(labels.npz arrays, meta.json) -> labels [..., frames]`` float32 at
            ``FRAME_RATE`` frames per second (e.g. pitch: ``f0_melody`` in Hz).
    """

    name: str
    read: Callable[[dict[str, np.ndarray], dict], np.ndarray]


@dataclass(frozen=True)
class Clips:
    """Clips of one split: ``audio [n, samples]`` float32, ``labels [n, ..., frames]`` float32
    (zero-padded to the longest), the example folder names."""

    audio: np.ndarray
    labels: np.ndarray
    names: list[str]

    def head(self, n: int) -> Clips:
        """The first ``n`` clips."""
        return Clips(self.audio[:n], self.labels[:n], self.names[:n])


def _cache_path(folder: SynthFolder, labels: LabelReader, sample_rate: int, cache_dir: str | Path) -> Path:
    key = json.dumps([str(folder.root.resolve()), folder.names, labels.name, sample_rate])
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    return Path(cache_dir) / f"{folder.root.name}-{labels.name}-{len(folder)}-{digest}.npz"


def _stack(items: list[tuple[np.ndarray, np.ndarray]], sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad every clip to the longest label length (audio: that many frames of samples)."""
    n_frames = max(y.shape[-1] for _, y in items)
    n_samples = n_frames * sample_rate // FRAME_RATE
    audio = np.zeros((len(items), n_samples), np.float32)
    labels = np.zeros((len(items), *items[0][1].shape[:-1], n_frames), np.float32)
    for i, (x, y) in enumerate(items):
        audio[i, : min(n_samples, len(x))] = x[:n_samples]
        labels[i, ..., : y.shape[-1]] = y
    return audio, labels


def load_clips(root: str | Path, labels: LabelReader, sample_rate: int, cache_dir: str | Path | None = None,
               limit: int | None = None) -> Clips:
    """All (or the first ``limit``) examples of a synth folder, mono at ``sample_rate``, with labels.

    Clips are zero-padded or cut to the longest label length * ``sample_rate / 100`` samples.

    Raises:
        FileNotFoundError: not a synth dataset, or no complete example.
    """
    folder = SynthFolder(root, limit)
    cache = _cache_path(folder, labels, sample_rate, cache_dir) if cache_dir else None
    if cache is not None and cache.is_file():
        with np.load(cache) as z:
            return Clips(z["audio"], z["labels"], folder.names)
    items = [(folder.audio(i, sample_rate, channels=1)[0], np.asarray(labels.read(folder.labels(i), folder.meta(i)),
                                                                     np.float32))
             for i in tqdm(range(len(folder)), desc=f"reading {folder.root.name}", unit="clip", leave=False)]
    audio, y = _stack(items, sample_rate)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.stem + ".tmp.npz")
        np.savez(tmp, audio=audio, labels=y)
        tmp.replace(cache)
    return Clips(audio, y, folder.names)

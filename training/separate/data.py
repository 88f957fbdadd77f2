"""Separation's data: synth folders -> mono stems at the model's rate, grouped as drums / bass /
other / melody and cached as one ``.npz`` (float16: 10 s x 4 stems x 22.05 kHz is 1.8 MB a clip).

The synth parts map onto the stems as ``GROUPS`` says; the mix is their sum (the renderer's mix
is the sum of its stems, and the no-augment renders hold no noise stem).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from training.synth.folder import SynthFolder

GROUPS: dict[str, tuple[str, ...]] = {
    "drums": ("drums",),
    "bass": ("bass",),
    "other": ("chords", "pad", "noise"),
    "melody": ("melody", "double"),
}
"""Stem -> the synth parts summed into it (``double`` doubles or harmonises the melody line, so it
goes with the lead; a part a piece lacks is silence)."""
STEMS = tuple(GROUPS)


@dataclass(frozen=True)
class StemClips:
    """``stems [n, S, samples]`` float16 (zero-padded to the longest clip) and the example names."""

    stems: np.ndarray
    names: list[str]

    def head(self, n: int) -> StemClips:
        return StemClips(self.stems[:n], self.names[:n])

    def clip(self, i: int) -> np.ndarray:
        """``[S, samples]`` float32 stems of clip ``i``."""
        return self.stems[i].astype(np.float32)


def _cache_path(folder: SynthFolder, sample_rate: int, cache_dir: str | Path) -> Path:
    key = json.dumps([str(folder.root.resolve()), folder.names, GROUPS, sample_rate])
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    return Path(cache_dir) / f"{folder.root.name}-stems-{len(folder)}-{digest}.npz"


def _read(folder: SynthFolder, i: int, sample_rate: int) -> np.ndarray:
    parts = set(folder.meta(i).get("stems", []))
    n = None
    out = []
    for group in GROUPS.values():
        acc = None
        for part in group:
            if part in parts:
                x = folder.audio(i, sample_rate, channels=1, file=f"stems/{part}.flac")[0]
                acc = x if acc is None else acc + x
        out.append(acc)
        n = max(n or 0, 0 if acc is None else len(acc))
    return np.stack([np.zeros(n, np.float32) if x is None else x[:n] for x in out])


def load_stems(root: str | Path, sample_rate: int, cache_dir: str | Path | None = None,
               limit: int | None = None) -> StemClips:
    """All (or the first ``limit``) examples of a synth folder as grouped mono stems at ``sample_rate``.

    Raises:
        FileNotFoundError: not a synth dataset, or no complete example.
    """
    folder = SynthFolder(root, limit)
    cache = _cache_path(folder, sample_rate, cache_dir) if cache_dir else None
    if cache is not None and cache.is_file():
        with np.load(cache) as z:
            return StemClips(z["stems"], folder.names)
    clips = [_read(folder, i, sample_rate)
             for i in tqdm(range(len(folder)), desc=f"reading stems of {folder.root.name}", unit="clip", leave=False)]
    n = max(c.shape[1] for c in clips)
    stems = np.zeros((len(clips), len(GROUPS), n), np.float16)
    for i, c in enumerate(clips):
        stems[i, :, :c.shape[1]] = c
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.stem + ".tmp.npz")
        np.savez(tmp, stems=stems)
        tmp.replace(cache)
    return StemClips(stems, folder.names)

"""Synth folders -> 16 kHz mono clips in RAM, random crops and on-the-fly augmentation.

``load_split`` reads every complete example of a ``python -m training.synth`` folder once
(``mix.flac`` downmixed, resampled to 16 kHz with soxr HQ, which keeps the timing; labels
``f0_melody`` at 100 frames/s) and caches the result as one ``.npz`` next to the data, so later
runs start in seconds. ``PitchCrops`` draws crops that start on the label grid (multiples of 10 ms)
and augments them with training.synth's own functions (EQ, synthetic room, coloured noise)
plus a random level. Validation uses whole clips, optionally degraded (``degrade``).
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy import signal
from tqdm import tqdm

from training.synth.augment import NOISE_COLOURS, coloured_noise, equalize, room_impulse_response

from .config import AugmentRanges
from .targets import LABEL_RATE

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Clips:
    """Clips of one split: ``audio [n, samples]`` float32 at 16 kHz, ``f0 [n, labels]`` Hz."""

    audio: np.ndarray
    f0: np.ndarray
    names: list[str]


def _folders(root: Path, limit: int | None) -> list[Path]:
    if not (root / "manifest.json").is_file():
        raise FileNotFoundError(f"{root} is not a training.synth dataset (no manifest.json): "
                                f"build it with python -m training.synth --kind mono ... --out {root}")
    folders = sorted(p.parent for p in root.glob("[0-9]*/meta.json") if not p.parent.name.endswith(".tmp"))
    if not folders:
        raise FileNotFoundError(f"{root} holds no complete example")
    return folders[:limit] if limit else folders


def _read_clip(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    x, sr = sf.read(folder / "mix.flac", dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if sr != SAMPLE_RATE:
        x = soxr.resample(x, sr, SAMPLE_RATE, quality="HQ")
    return x.astype(np.float32), np.load(folder / "labels.npz")["f0_melody"].astype(np.float32)


def load_split(root: str | Path, cache_dir: str | Path | None = None, limit: int | None = None) -> Clips:
    """All (or the first ``limit``) examples of a synth folder at 16 kHz, cached as one ``.npz``.

    Clips are zero-padded or cut to the longest label length * 160 samples.

    Raises:
        FileNotFoundError: not a synth dataset, or no complete example.
    """
    root = Path(root)
    folders = _folders(root, limit)
    key = hashlib.sha1(json.dumps([str(root.resolve()), [f.name for f in folders]]).encode()).hexdigest()[:12]
    cache = Path(cache_dir) / f"{root.name}-{len(folders)}-{key}.npz" if cache_dir else None
    if cache is not None and cache.is_file():
        with np.load(cache) as z:
            return Clips(z["audio"], z["f0"], [f.name for f in folders])
    clips = [_read_clip(f) for f in tqdm(folders, desc=f"reading {root.name}", unit="clip", leave=False)]
    n_labels = max(len(f0) for _, f0 in clips)
    n_samples = n_labels * SAMPLE_RATE // LABEL_RATE
    audio = np.zeros((len(clips), n_samples), np.float32)
    f0 = np.zeros((len(clips), n_labels), np.float32)
    for i, (x, y) in enumerate(clips):
        audio[i, : min(n_samples, len(x))] = x[:n_samples]
        f0[i, : len(y)] = y
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.stem + ".tmp.npz")
        np.savez(tmp, audio=audio, f0=f0)
        tmp.replace(cache)
    return Clips(audio, f0, [f.name for f in folders])


def augment(x: np.ndarray, past: np.ndarray, rng: np.random.Generator, ranges: AugmentRanges) -> np.ndarray:
    """EQ -> reverb -> coloured noise -> level, on a mono crop ``x [n]`` (``past``: the audio
    just before it, so the room's tail of earlier notes is heard)."""
    u = lambda lo_hi: float(rng.uniform(*lo_hi))  # noqa: E731
    y = np.concatenate([past, x])[None]  # [1, p + n]
    if rng.random() < ranges.eq_prob:
        eq = {"low_shelf_db": u(ranges.eq_db), "low_hz": u((80, 300)), "peak_db": u(ranges.eq_db),
              "peak_hz": float(np.exp(rng.uniform(np.log(300), np.log(4000)))), "peak_q": u((0.5, 2.0)),
              "high_shelf_db": u(ranges.eq_db), "high_hz": u((3000, 7000))}
        y = equalize(y, SAMPLE_RATE, eq)
    if rng.random() < ranges.reverb_prob:
        rir = room_impulse_response(SAMPLE_RATE, 1, u(ranges.rt60_s), u(ranges.drr_db), int(rng.integers(2**31)))
        y = signal.fftconvolve(y, rir, axes=-1)[:, : y.shape[1]]
    y = y[0, len(past):]
    if rng.random() < ranges.noise_prob:
        power = float(np.mean(y.astype(np.float64) ** 2)) + 1e-10
        colour = str(rng.choice(list(NOISE_COLOURS)))
        noise = coloured_noise(rng, (1, len(y)), colour)[0]
        y = y + noise * np.float32(np.sqrt(power / 10 ** (u(ranges.snr_db) / 10)))
    peak = float(np.abs(y).max())
    if peak > 0:
        y = y * np.float32(10 ** (u(ranges.level_dbfs) / 20) / peak)
    return y.astype(np.float32)


CONDITIONS = ("clean", "white10", "pink10", "reverb")
"""The fixed validation conditions ``degrade`` knows."""


def degrade(x: np.ndarray, kind: str, seed: int) -> np.ndarray:
    """A fixed validation condition applied to a whole clip ``x [n]`` at 16 kHz.

    ``clean``; ``white10`` / ``pink10``: white or pink noise at 10 dB SNR (against the clip's
    mean power); ``reverb``: a synthetic room with RT60 1.0 s and a 3 dB direct-to-reverberant
    ratio (training.synth.augment.room_impulse_response).
    """
    rng = np.random.default_rng(seed)
    if kind == "clean":
        return x
    if kind in ("white10", "pink10"):
        power = float(np.mean(x.astype(np.float64) ** 2)) + 1e-12
        noise = coloured_noise(rng, (1, len(x)), "white" if kind == "white10" else "pink")[0]
        return (x + noise * np.float32(np.sqrt(power / 10.0))).astype(np.float32)
    if kind == "reverb":
        rir = room_impulse_response(SAMPLE_RATE, 1, 1.0, 3.0, seed)[0]
        return signal.fftconvolve(x, rir)[: len(x)].astype(np.float32)
    raise ValueError(f"unknown condition {kind!r}: one of {', '.join(CONDITIONS)}")

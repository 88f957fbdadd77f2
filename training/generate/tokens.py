"""The generator's data: synthesized music encoded by the shipped codec into token frames.

A piece becomes ``tokens [frames, stages]`` (int16, codes ``0 .. codebook_size-1``, 150 frames/s for
the shipped codec) by ``rtmir.codec.CodecPair`` (the ONNX encoder the runtime runs, so training
sees exactly the tokens a live input gives). Training pieces come from the codec's stem cache
(``training.separate.data.load_stems`` at the codec's rate) in two takes each: the mix at a peak of
-6..-1 dBFS, and a random subset of its audible stems (a solo with probability ``solo_prob``) at
-20..-1 dBFS, so the model hears full bands and single players at live levels. Validation pieces
are the MuseScore_General renders' mixes as rendered (``SynthFolder.audio``, mono at the codec rate).
The result is cached as one ``.npz`` keyed by its inputs.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rtmir.codec.files import CodecPair

STEM_CACHE = "data/codec/cache"  # where the codec's trainer keeps the stems at its rate (shared)


@dataclass(frozen=True)
class TokenPieces:
    """``tokens [n, frames, stages]`` int16 (padded with ``-1`` after ``lengths[i]`` frames) and names."""

    tokens: np.ndarray
    lengths: np.ndarray
    names: list[str]

    def piece(self, i: int) -> np.ndarray:
        """``[lengths[i], stages]`` int64 codes of piece ``i``."""
        return self.tokens[i, :self.lengths[i]].astype(np.int64)


def encode(pair: CodecPair, audio: np.ndarray, chunk_hops: int = 200) -> np.ndarray:
    """Tokens ``[frames, stages]`` int16 of mono ``audio [n]`` at the codec's rate (``frames = n // hop``;
    a fresh encoder state, as a live input that starts with the piece)."""
    hop = pair.hop
    frames = len(audio) // hop
    out = np.zeros((frames, pair.stages), np.int16)
    pair.encoder.reset()
    for f0 in range(0, frames, chunk_hops):
        f1 = min(frames, f0 + chunk_hops)
        chunk = np.ascontiguousarray(audio[f0 * hop:f1 * hop], np.float32)[None]
        out[f0:f1] = pair.encoder.process(chunk)[pair.tokens_out][0].T
    return out


def _at_peak(x: np.ndarray, dbfs: float) -> np.ndarray:
    peak = float(np.abs(x).max())
    return x if peak <= 0 else (x * np.float32(10 ** (dbfs / 20) / peak)).astype(np.float32)


def _stack(seqs: list[np.ndarray], names: list[str]) -> TokenPieces:
    n = max(len(s) for s in seqs)
    tokens = np.full((len(seqs), n, seqs[0].shape[1]), -1, np.int16)
    for i, s in enumerate(seqs):
        tokens[i, :len(s)] = s
    return TokenPieces(tokens, np.array([len(s) for s in seqs], np.int64), names)


def _cached(path: Path, build) -> TokenPieces:
    if path.is_file():
        with np.load(path) as z:
            return TokenPieces(z["tokens"], z["lengths"], [str(s) for s in z["names"]])
    pieces = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, tokens=pieces.tokens, lengths=pieces.lengths, names=np.array(pieces.names))
    tmp.replace(path)
    return pieces


def _key(*parts) -> str:
    return hashlib.sha1(json.dumps(parts, default=str).encode()).hexdigest()[:12]


def train_tokens(pair: CodecPair, stems_dir: str, cache_dir: str, clips: int, seed: int,
                 solo_prob: float = 0.5, stem_cache: str | None = STEM_CACHE) -> TokenPieces:
    """Two takes (mix, stem subset) of the first ``clips`` training pieces, as tokens (cached in
    ``cache_dir``; the stems themselves in ``stem_cache``, the codec trainer's, or none)."""
    from training.separate.data import load_stems

    path = Path(cache_dir) / f"train-{clips}-{pair.name}-{pair.version}-{_key(stems_dir, clips, seed, solo_prob)}.npz"

    def build() -> TokenPieces:
        stems = load_stems(stems_dir, pair.sample_rate, cache_dir=stem_cache, limit=clips or None)
        rng = np.random.default_rng(seed)
        seqs, names = [], []
        for i in tqdm(range(len(stems.names)), desc="encoding training pieces", unit="piece"):
            s = stems.clip(i)
            audible = [j for j in range(s.shape[0]) if float(np.abs(s[j]).max()) > 1e-4]
            seqs.append(encode(pair, _at_peak(s.sum(0), float(rng.uniform(-6, -1)))))
            names.append(f"{stems.names[i]}/mix")
            if rng.random() < solo_prob:
                pick = [int(rng.choice(audible))]
            else:
                pick = [j for j in audible if rng.random() < 0.6] or [int(rng.choice(audible))]
            seqs.append(encode(pair, _at_peak(s[pick].sum(0), float(rng.uniform(-20, -1)))))
            names.append(f"{stems.names[i]}/" + "+".join(str(j) for j in pick))
        return _stack(seqs, names)

    return _cached(path, build)


def val_tokens(pair: CodecPair, val_dir: str, cache_dir: str, clips: int) -> TokenPieces:
    """The first ``clips`` validation pieces' mixes, as rendered, as tokens (cached)."""
    from training.synth.folder import SynthFolder

    folder = SynthFolder(val_dir, clips or None)
    path = Path(cache_dir) / f"{folder.root.name}-{len(folder)}-{pair.name}-{pair.version}-{_key(val_dir, folder.names)}.npz"

    def build() -> TokenPieces:
        seqs = [encode(pair, folder.audio(i, pair.sample_rate, channels=1)[0])
                for i in tqdm(range(len(folder)), desc="encoding validation pieces", unit="piece")]
        return _stack(seqs, list(folder.names))

    return _cached(path, build)

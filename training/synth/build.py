"""Datasets on disk: one folder per example, a manifest, multiprocessing, resumable.

Layout of ``OUT``::

    OUT/manifest.json              what generated it: kind, split, seed, soundfonts (+ onset
                                   offsets), config, versions; a resume must match it
    OUT/000000/mix.flac            [N, C] 24-bit FLAC, the sum of the stems
    OUT/000000/stems/<name>.flac   each stem ("melody", "bass", "chords", "pad", "drums", "noise")
    OUT/000000/labels.npz          f0_<stem> [frames] float32 Hz (0 = unvoiced), activity
                                   [families, frames] uint8 (MIDI-timed), tags [tags, frames]
                                   uint8 (sounding, ``activity``), notes_* arrays (``write_example``;
                                   ``notes_voiced_from_s/_to_s``, ``notes_attack_s/_release_s`` with ``--labels aligned``)
    OUT/000000/meta.json           seed, soundfont, sample rate, score choices, augmentation, notes
    OUT/000000/score.mid           the MIDI of all tracks

An example is written to ``OUT/000000.tmp/`` and renamed when complete, so a folder without the
``.tmp`` suffix is always complete; a rerun skips those and removes stale ``.tmp`` folders.
Example i draws everything from ``SeedSequence([seed, i])``: the output does not depend on the
number of workers or on the order they run in.
"""
from __future__ import annotations

import json
import logging
import multiprocessing as mp
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import soundfile as sf

from . import activity
from .aligned import (CONVENTION, aligned_f0, clip_ref_db, group_gap_ticks, note_groups, note_spans, render_groups,
                      render_note_groups, sounding_spans)
from .arrange import generate_mono, generate_multi
from .band import generate_band
from .augment import NO_AUGMENTATION, AugmentConfig, apply_augmentation, draw_augmentation
from .gm import FAMILIES
from .labels import FRAME_RATE, Labels, make_labels
from .midi import score_to_midi
from .render import RenderConfig, Renderer, render_stems
from .score import Score

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Version of the on-disk layout (in the manifest)."""

PEAK_DBFS = -6.0
"""Peak level of the rendered mix before augmentation, dBFS (same gain on every stem)."""


@dataclass(frozen=True)
class BuildConfig:
    """What a dataset is made of (all but ``n`` and ``workers`` must match on resume).

    Attributes:
        kind: "mono" (one monophonic instrument), "multi" (drums, bass, chords, melody) or
            "band" (1-6 parts entering, leaving and doubling at their own levels: ``band``).
        split: "train" (FluidR3_GM, TimGM6mb) or "val" (MuseScore_General).
        seed: base seed; example i uses SeedSequence([seed, i]).
        duration_s: length of each example, seconds (a multiple of 10 ms).
        sample_rate: render rate, Hz (44100 or 48000); augmentation may resample.
        augment: draw an augmentation per example (else none).
        augment_config: ranges of the augmentation.
        soundfonts: soundfont names or paths, one drawn per example.
        labels: "midi" (f0 from note-on to note-off, MIDI time) or "aligned" (from each note's
            own render: ``aligned``; the convention is recorded in each example's meta).
    """

    kind: str
    split: str
    seed: int = 0
    duration_s: float = 10.0
    sample_rate: int = 44100
    augment: bool = True
    augment_config: AugmentConfig = field(default_factory=AugmentConfig)
    soundfonts: tuple[str, ...] = ()
    labels: str = "midi"


@dataclass(frozen=True)
class SoundfontInfo:
    """A resolved soundfont: name, path and its onset offset at the render rate (samples)."""

    name: str
    path: str
    offset_samples: int


def generate_score(kind: str, rng: np.random.Generator, duration_s: float) -> Score:
    """The score of one example.

    Raises:
        ValueError: unknown kind.
    """
    if kind == "mono":
        return generate_mono(rng, duration_s)
    if kind == "multi":
        return generate_multi(rng, duration_s)
    if kind == "band":
        return generate_band(rng, duration_s)
    raise ValueError(f"unknown kind {kind!r}: use mono, multi or band")


def _normalize(stems: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float]:
    """Scale every stem by one gain so the mix peaks at ``PEAK_DBFS``; returns the gain."""
    peak = float(np.abs(sum(stems.values())).max())
    gain = 10 ** (PEAK_DBFS / 20) / peak if peak > 0 else 1.0
    return {k: (v * np.float32(gain)).astype(np.float32) for k, v in stems.items()}, gain


def _safe(stems: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float]:
    """Scale every stem down so that no stem nor the mix clips (peak <= 0.99); returns the gain."""
    peak = max(float(np.abs(sum(stems.values())).max()), *(float(np.abs(v).max()) for v in stems.values()))
    gain = min(1.0, 0.99 / peak) if peak > 0 else 1.0
    return {k: (v * np.float32(gain)).astype(np.float32) for k, v in stems.items()}, gain


def synthesize(cfg: BuildConfig, index: int, fonts: list[SoundfontInfo], renderer: Renderer
               ) -> tuple[Score, dict[str, np.ndarray], int, Labels, dict]:
    """Generate, render and augment example ``index`` in memory (``renderer`` renders at
    ``cfg.sample_rate``).

    Returns:
        (score, stems name -> [C, N] float32, sample rate, labels, metadata dict).
    """
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, index]))
    font = fonts[int(rng.integers(len(fonts)))]
    score = generate_score(cfg.kind, rng, cfg.duration_s)
    n_samples = int(round(cfg.duration_s * cfg.sample_rate))
    stems = render_stems(score, Path(font.path), renderer, font.offset_samples, n_samples)
    for name, db in score.meta.get("levels_db", {}).items():  # band parts sit at their own levels
        stems[name] = (stems[name] * np.float32(10 ** (db / 20))).astype(np.float32)
    labels = make_labels(score, cfg.duration_s)
    labels = replace(labels, tags=activity.tag_activity(score, stems, cfg.sample_rate, labels.n_frames,
                                                        clip_ref_db(stems, cfg.sample_rate, labels.n_frames)))
    if cfg.labels == "aligned":  # from the raw renders: one gain for stems and groups alike
        labels = _aligned(score, stems, font, renderer, n_samples, cfg.sample_rate, labels)
    stems, norm_gain = _normalize(stems)
    params = draw_augmentation(rng, cfg.augment_config) if cfg.augment else dict(NO_AUGMENTATION)
    stems, sr = apply_augmentation(stems, cfg.sample_rate, params)
    stems, safety_gain = _safe(stems)
    meta = {"index": index, "seed": [cfg.seed, index], "kind": cfg.kind, "split": cfg.split,
            "soundfont": font.name, "onset_offset_samples": font.offset_samples,
            "render_sample_rate": cfg.sample_rate, "sample_rate": sr, "duration_s": cfg.duration_s,
            "n_samples": next(iter(stems.values())).shape[1], "channels": next(iter(stems.values())).shape[0],
            "frame_rate": FRAME_RATE, "n_frames": labels.n_frames, "families": list(FAMILIES),
            "stems": list(stems), "f0_stems": list(labels.f0), "score": score.meta,
            "bpm": score.bpm, "gain": {"normalize": norm_gain, "safety": safety_gain},
            "augmentation": params, "notes": labels.notes,
            "label_convention": CONVENTION if cfg.labels == "aligned" else {"name": "midi"},
            "tags": list(activity.TAGS), "tags_convention": activity.CONVENTION}
    return score, stems, sr, labels, meta


def _aligned(score: Score, stems: dict[str, np.ndarray], font: SoundfontInfo, renderer: Renderer,
             n_samples: int, sr: int, labels: Labels) -> Labels:
    """``labels`` with every monophonic track's f0 measured on its notes' own renders, and every
    pitched note (monophonic and polyphonic tracks) given ``voiced_from_s``/``voiced_to_s`` (the
    span it sounds at its pitch) and ``attack_s``/``release_s`` (the span it is heard; None:
    never; ``aligned``)."""
    ref_db = clip_ref_db(stems, sr, labels.n_frames)
    f0 = dict(labels.f0)
    voiced: dict[tuple[str, float, int], tuple] = {}
    for track in score.tracks:
        if track.is_drums or not track.notes:
            continue
        assign = note_groups(track, group_gap_ticks(score))
        if track.name in f0:
            groups = render_groups(score, track, Path(font.path), renderer, font.offset_samples, n_samples)
            f0[track.name] = aligned_f0(score, track, groups, sr, labels.n_frames, ref_db)
        else:
            groups = render_note_groups(score, track, Path(font.path), renderer, font.offset_samples, n_samples, assign)
        spans = note_spans(score, track, groups, sr, labels.n_frames, ref_db, assign)
        heard = sounding_spans(score, track, groups, sr, labels.n_frames, ref_db, assign)
        for note, span, sound in zip(track.notes, spans, heard):
            voiced[(track.name, score.seconds(note.onset), note.pitch)] = tuple(
                None if x is None else (x[0] / FRAME_RATE, x[1] / FRAME_RATE) for x in (span, sound))
    notes = []
    for n in labels.notes:
        key = (n["stem"], n["onset_s"], n["pitch"])
        if key in voiced:
            span, sound = voiced[key]
            n = {**n, "voiced_from_s": None if span is None else span[0],
                 "voiced_to_s": None if span is None else span[1],
                 "attack_s": None if sound is None else sound[0], "release_s": None if sound is None else sound[1]}
        notes.append(n)
    return replace(labels, f0=f0, notes=notes)


def _or_nan(x: float | None) -> float:
    return float("nan") if x is None else float(x)


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """``np.savez_compressed`` with every member dated 1980-01-01: the same arrays give the same
    bytes (numpy stamps the time of writing), so datasets compare by checksum."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, value in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with z.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)


def write_example(folder: Path, score: Score, stems: dict[str, np.ndarray], sr: int, labels: Labels,
                  meta: dict) -> None:
    """Write one example's files into ``folder`` (created)."""
    (folder / "stems").mkdir(parents=True, exist_ok=True)
    sf.write(folder / "mix.flac", sum(stems.values()).T, sr, format="FLAC", subtype="PCM_24")
    for name, audio in stems.items():
        sf.write(folder / "stems" / f"{name}.flac", audio.T, sr, format="FLAC", subtype="PCM_24")
    stem_names = [t.name for t in score.tracks]
    notes = labels.notes
    save_npz(
        folder / "labels.npz", activity=labels.activity, tags=labels.tags,
        **{f"f0_{name}": f0 for name, f0 in labels.f0.items()},
        notes_onset_s=np.array([n["onset_s"] for n in notes], np.float64),
        notes_offset_s=np.array([n["offset_s"] for n in notes], np.float64),
        notes_pitch=np.array([n["pitch"] for n in notes], np.int16),
        notes_velocity=np.array([n["velocity"] for n in notes], np.int16),
        notes_program=np.array([n["program"] for n in notes], np.int16),
        notes_stem=np.array([stem_names.index(n["stem"]) for n in notes], np.int16),
        # aligned labels: the span each pitched note sounds at its pitch (NaN: never, or not measured)
        notes_voiced_from_s=np.array([_or_nan(n.get("voiced_from_s")) for n in notes], np.float64),
        notes_voiced_to_s=np.array([_or_nan(n.get("voiced_to_s")) for n in notes], np.float64),
        notes_attack_s=np.array([_or_nan(n.get("attack_s")) for n in notes], np.float64),
        notes_release_s=np.array([_or_nan(n.get("release_s")) for n in notes], np.float64))
    (folder / "score.mid").write_bytes(score_to_midi(score))
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))


def example_dir(out: Path, index: int) -> Path:
    """Folder of a complete example."""
    return out / f"{index:06d}"


def make_example(cfg: BuildConfig, out: Path, index: int, fonts: list[SoundfontInfo], renderer: Renderer) -> float:
    """Synthesize and write example ``index`` atomically; returns its duration, seconds."""
    tmp = out / f"{index:06d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    write_example(tmp, *synthesize(cfg, index, fonts, renderer))
    tmp.rename(example_dir(out, index))
    return cfg.duration_s


_WORKER_RENDERER: Renderer | None = None
"""The renderer of a pool worker process (set by ``_init_worker``; soundfonts stay loaded
across the examples that process makes)."""


def _init_worker(render_config: RenderConfig) -> None:
    """Pool initializer: one renderer per worker process."""
    global _WORKER_RENDERER
    _WORKER_RENDERER = Renderer(render_config)


def _worker(job: tuple) -> float:
    """Pool entry point (module level so it pickles)."""
    return make_example(*job, _WORKER_RENDERER)


def pending(out: Path, n: int) -> list[int]:
    """Indices < n without a complete example folder; removes stale ``.tmp`` folders."""
    for stale in out.glob("*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    return [i for i in range(n) if not (example_dir(out, i) / "meta.json").is_file()]


def run_jobs(cfg: BuildConfig, out: Path, indices: list[int], fonts: list[SoundfontInfo], workers: int,
             progress=None, backend: str = "lib") -> None:
    """Make the examples ``indices`` with ``workers`` processes; ``progress(seconds)`` is called
    after each one (e.g. a tqdm update). ``backend``: "lib" or "cli" (same output)."""
    render_config = RenderConfig(cfg.sample_rate, backend=backend)
    jobs = [(cfg, out, i, fonts) for i in indices]
    if workers <= 1:
        renderer = Renderer(render_config)
        try:
            for job in jobs:
                secs = make_example(*job, renderer)
                if progress:
                    progress(secs)
        finally:
            renderer.close()
        return
    with mp.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=(render_config,)) as pool:
        for secs in pool.imap_unordered(_worker, jobs):
            if progress:
                progress(secs)


def config_record(cfg: BuildConfig) -> dict:
    """The manifest's record of a config (JSON)."""
    record = asdict(cfg)
    record["augment_config"] = asdict(cfg.augment_config)
    record["soundfonts"] = list(cfg.soundfonts)
    return record

"""The training loop: AdamW on a wall-clock budget, periodic validation, early stopping.

Loss per crop (``loss_terms``): ``salience_weight`` x the mean BCE over bins against a
Gaussian-blurred target (std ``blur_cents``), on voiced frames only (the first ``onset_hops``
frames of each note weighted ``onset_weight``: a live tracker is judged most where it is
slowest), plus ``voicing_weight`` x the voicing BCE on all frames. A step whose loss or
gradient is not finite is skipped and counted (one such run turned NaN after 3700 steps and
never recovered). ``init_checkpoint`` may hold a smaller model of the same frontend: it is
grown into the configured one without changing its outputs (``warm_start``).
The learning rate warms up linearly, then follows a cosine over the time budget (so a
slower machine sees the same schedule, shortened). The best checkpoint by ``rpa + oa`` on the
validation clips is kept in ``export/checkpoint.py``'s format, with the training record the card
needs (command, data, seed, git commit, date, curves).
"""
from __future__ import annotations

import json
import logging
import math
import subprocess
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from export.checkpoint import load_checkpoint, save_checkpoint
from models.pitch import PitchTCN, bin_frequencies_hz
from rtmir.tasks.pitch import cents_to_hz, decode_salience, hz_to_cents

from .config import TrainConfig
from .crops import PitchCrops
from .data import CONDITIONS, SAMPLE_RATE, Clips, degrade, load_split
from .metrics import on_label_grid, score_frames
from .targets import output_instants
from .warm_start import check_same, grow_into

log = logging.getLogger(__name__)

THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.05), 2)  # voicing thresholds tried on validation


def loss_terms(model: PitchTCN, audio: torch.Tensor, f0: torch.Tensor, bin_cents: torch.Tensor,
               config: TrainConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """The training loss of a batch ``audio [B, 1, n]``, ``f0 [B, T]`` Hz (0 = unvoiced)."""
    logits, _ = model.logits(audio)  # [B, n_bins + 1, T]
    sal, voi = logits[:, :-1], logits[:, -1]
    voiced = f0 > 0
    cents = 1200.0 * torch.log2(torch.where(voiced, f0, torch.full_like(f0, 10.0)) / 10.0)  # [B, T]
    target = torch.exp(-0.5 * ((bin_cents[None, :, None] - cents[:, None, :]) / config.blur_cents) ** 2)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(sal, target, reduction="none").mean(dim=1)  # [B, T]
    weight = voiced.float()
    if config.onset_weight != 1.0:
        weight = weight * (1.0 + (config.onset_weight - 1.0) * near_onset(cents, voiced, config.onset_hops))
    sal_loss = (bce * weight).sum() / weight.sum().clamp(min=1e-6)
    voi_loss = torch.nn.functional.binary_cross_entropy_with_logits(voi, voiced.float())
    loss = config.salience_weight * sal_loss + config.voicing_weight * voi_loss
    return loss, {"salience": float(sal_loss.detach()), "voicing": float(voi_loss.detach())}


def near_onset(cents: torch.Tensor, voiced: torch.Tensor, hops: int) -> torch.Tensor:
    """1.0 on voiced frames less than ``hops`` frames after an onset, else 0.0 (``[B, T]``).

    An onset is a voiced frame after an unvoiced one, or a pitch change of more than 40 cents
    from the previous frame (a semitone step is split over two 5 ms targets by interpolation).
    """
    prev_v = torch.nn.functional.pad(voiced[:, :-1], (1, 0), value=False)
    jump = torch.nn.functional.pad((cents[:, 1:] - cents[:, :-1]).abs() > 40.0, (1, 0), value=False)
    onset = (voiced & (~prev_v | jump)).float()[:, None]  # [B, 1, T]
    spread = torch.nn.functional.max_pool1d(torch.nn.functional.pad(onset, (hops - 1, 0)), hops, stride=1)
    return spread[:, 0] * voiced.float()


@torch.no_grad()
def predict(model: PitchTCN, audio: np.ndarray, batch: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Offline outputs for whole clips ``audio [n, samples]`` -> ``(salience [n, bins, T], voicing [n, T])``."""
    model.eval()
    sal, voi = [], []
    for i in range(0, len(audio), batch):
        s, v, _ = model(torch.from_numpy(audio[i:i + batch])[:, None])
        sal.append(s.numpy())
        voi.append(v[:, 0].numpy())
    return np.concatenate(sal), np.concatenate(voi)


def score_clips(salience: np.ndarray, voicing: np.ndarray, f0_labels: np.ndarray, hop: int,
                latency_samples: int) -> dict[str, float]:
    """Scores of decoded outputs on the label grid, pooled over clips, for every threshold in
    ``THRESHOLDS``; returns the figures at the threshold with the best overall accuracy, and
    ``threshold``. Figures use the same decoder as ``rtmir.tasks.pitch``."""
    bin_cents = hz_to_cents(bin_frequencies_hz(salience.shape[1]))
    refs, f0s, vois = [], [], []
    instants = output_instants(0, salience.shape[2], hop, latency_samples, SAMPLE_RATE)
    for s, v, lab in zip(salience, voicing, f0_labels):
        idx, ref = on_label_grid(lab, instants)
        cents, _ = decode_salience(s[:, idx], bin_cents)
        refs.append(ref)
        f0s.append(np.nan_to_num(cents_to_hz(cents), nan=0.0))
        vois.append(v[idx])
    ref, est, voi = np.concatenate(refs), np.concatenate(f0s), np.concatenate(vois)
    best = max((score_frames(ref, est, voi >= th) | {"threshold": float(th)} for th in THRESHOLDS),
               key=lambda r: r["oa"])
    return best


def validate(model: PitchTCN, clips: Clips, conditions: tuple[str, ...] = ("clean",), seed: int = 0
             ) -> dict[str, dict[str, float]]:
    """``{condition: scores}`` over ``clips`` (conditions from ``data.degrade``)."""
    out = {}
    for kind in conditions:
        audio = np.stack([degrade(x, kind, seed + i) for i, x in enumerate(clips.audio)])
        sal, voi = predict(model, audio)
        out[kind] = score_clips(sal, voi, clips.f0, model.hop, model.latency_samples)
    return out


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                              cwd=Path(__file__).resolve().parent).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@dataclass
class RunResult:
    """What ``train`` returns: the losses per step, the validation history, the best checkpoint."""

    losses: list[float]
    history: list[dict]
    best_path: Path | None
    steps: int
    minutes: float


def learning_rate(config: TrainConfig, step: int, elapsed_s: float) -> float:
    warm = min(1.0, (step + 1) / max(1, config.warmup_steps))
    progress = min(1.0, elapsed_s / (60.0 * config.max_minutes))
    return config.lr * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def _loader(config: TrainConfig, clips: Clips, model: PitchTCN) -> DataLoader:
    crops = PitchCrops(clips, config.crop_s, model.hop, model.latency_samples, config.augment)
    return DataLoader(crops, batch_size=config.batch_size, shuffle=True, drop_last=len(clips.audio) >= config.batch_size,
                      num_workers=config.loader_workers, persistent_workers=config.loader_workers > 0)


def train(config: TrainConfig, command: str = "", data_recipe: str = "") -> RunResult:
    """Train from scratch; write ``best.safetensors`` and ``history.jsonl`` under ``out_dir``."""
    unknown = [kind for kind in config.val_conditions if kind not in CONDITIONS]
    if unknown or not config.val_conditions:  # fail now, not at the first validation
        raise ValueError(f"val_conditions {list(config.val_conditions)}: name one or more of {', '.join(CONDITIONS)}"
                         + (f" (unknown condition {unknown[0]!r})" if unknown else ""))
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    torch.set_num_threads(config.threads)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_clips = load_split(config.train_dir, config.cache_dir)
    val_all = load_split(config.val_dir, config.cache_dir)
    val = Clips(val_all.audio[:config.val_clips], val_all.f0[:config.val_clips], val_all.names[:config.val_clips])
    model = PitchTCN(config.model)
    if config.init_checkpoint:
        start_from = load_checkpoint(config.init_checkpoint)
        if start_from.config == config.model:
            model.load_state_dict(start_from.state_dict())
        else:
            grown = grow_into(model, start_from)
            diff = check_same(model, start_from)
            tqdm.write(f"grown from {config.init_checkpoint}: {len(grown)} tensors, max output change {diff:.2g}")
    bin_cents = torch.from_numpy(hz_to_cents(bin_frequencies_hz(config.model.n_bins))).float()
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loader = _loader(config, train_clips, model)
    record = {"command": command, "data": data_recipe, "seed": config.seed, "git_commit": git_commit(),
              "config": asdict(config), "train_clips": len(train_clips.audio), "val_clips": len(val.audio)}
    losses, history, skipped = [], [], 0
    best_score, best_path, bad = -1.0, None, 0
    start = time.monotonic()
    next_val = 60.0 * config.val_every_minutes
    step, stop = 0, False
    budget_s = 60.0 * config.max_minutes
    bar = tqdm(total=int(budget_s), unit="s", desc="training (time budget)")
    while not stop:
        for audio, f0 in loader:
            model.train()
            elapsed = time.monotonic() - start
            for group in opt.param_groups:
                group["lr"] = learning_rate(config, step, elapsed)
            loss, parts = loss_terms(model, audio, f0, bin_cents, config)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            step += 1
            if not (torch.isfinite(loss) and torch.isfinite(norm)):
                skipped += 1  # never let one bad batch poison the weights
                continue
            opt.step()
            losses.append(float(loss.detach()))
            bar.n = min(int(elapsed), int(budget_s))
            bar.set_postfix(step=step, loss=f"{np.mean(losses[-20:]):.3f}", sal=f"{parts['salience']:.4f}",
                            voi=f"{parts['voicing']:.3f}", refresh=True)
            last = step >= config.max_steps or elapsed >= budget_s
            if elapsed >= next_val or last:
                next_val = elapsed + 60.0 * config.val_every_minutes
                by_condition = validate(model, val, config.val_conditions)
                scores = by_condition[config.val_conditions[0]]
                entry = {"step": step, "minutes": round(elapsed / 60, 2), "loss": float(np.mean(losses[-50:])),
                         "skipped_steps": skipped, **scores}
                if len(by_condition) > 1:
                    entry["conditions"] = by_condition
                history.append(entry)
                with open(out_dir / "history.jsonl", "a") as f:
                    f.write(json.dumps(entry) + "\n")
                tqdm.write(f"val step {step} ({entry['minutes']} min): " + "; ".join(
                    f"{kind} rpa {s['rpa']:.4f} rca {s['rca']:.4f} oa {s['oa']:.4f} (threshold {s['threshold']})"
                    for kind, s in by_condition.items()) + f" loss {entry['loss']:.4f}")
                score = float(np.mean([s["rpa"] + s["oa"] for s in by_condition.values()]))
                if score > best_score:
                    best_score, bad = score, 0
                    record.update({"date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                   "steps": step, "train_minutes": entry["minutes"], "history": history,
                                   "voicing_threshold": scores["threshold"]})
                    best_path = save_checkpoint(model, out_dir / "best.safetensors", training=record)
                else:
                    bad += 1
                    stop = bad >= config.patience
            if last or stop:
                stop = True
                break
    bar.close()
    return RunResult(losses, history, best_path, step, (time.monotonic() - start) / 60)

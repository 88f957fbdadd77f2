"""The pitch task on the training core: model, loss, batches, validation, checkpoint.

Loss per crop (``loss_terms``): ``salience_weight`` x the mean BCE over bins against a
Gaussian-blurred target (std ``blur_cents``), on voiced frames only (the first ``onset_hops``
frames of each note weighted ``onset_weight``: a live tracker is judged most where it is
slowest), plus ``voicing_weight`` x the voicing BCE on all frames. ``init_checkpoint`` may hold
a smaller model of the same frontend: it is grown into the configured one without changing its
outputs (``warm_start``). Validation decodes whole clips under each of ``val_conditions``
(``training.core.conditions``, clip i seeded ``i``) with the runtime's decoder and scores them on
the label grid; the score the core maximises is the mean ``rpa + oa`` over the conditions, and the
best checkpoint records the first condition's best voicing threshold.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from export.checkpoint import load_checkpoint, save_checkpoint
from models.pitch import F_MIN_HZ, PitchTCN, bin_frequencies_hz
from rtmir.tasks.pitch import cents_to_hz, decode_salience, hz_to_cents
from training.core import conditions
from training.core.data import Clips
from training.core.distributed import make_loader
from training.core.task import Validation

from .config import TrainConfig
from .crops import PitchCrops
from .data import SAMPLE_RATE
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
                latency_samples: int, fmin_hz: float = F_MIN_HZ) -> dict[str, float]:
    """Scores of decoded outputs on the label grid, pooled over clips, for every threshold in
    ``THRESHOLDS``; returns the figures at the threshold with the best overall accuracy, and
    ``threshold``. Figures use the same decoder as ``rtmir.tasks.pitch``."""
    bin_cents = hz_to_cents(bin_frequencies_hz(salience.shape[1], fmin_hz))
    refs, f0s, vois = [], [], []
    instants = output_instants(0, salience.shape[2], hop, latency_samples, SAMPLE_RATE)
    for s, v, lab in zip(salience, voicing, f0_labels):
        idx, ref = on_label_grid(lab, instants)
        cents, _ = decode_salience(s[:, idx], bin_cents)
        refs.append(ref)
        f0s.append(np.nan_to_num(cents_to_hz(cents), nan=0.0))
        vois.append(v[idx])
    ref, est, voi = np.concatenate(refs), np.concatenate(f0s), np.concatenate(vois)
    return max((score_frames(ref, est, voi >= th) | {"threshold": float(th)} for th in THRESHOLDS),
               key=lambda r: r["oa"])


def validate(model: PitchTCN, clips: Clips, names: tuple[str, ...] = ("clean",), seed: int = 0
             ) -> dict[str, dict[str, float]]:
    """``{condition: scores}`` over ``clips`` (clip i under ``conditions.degrade(.., seed + i)``)."""
    out = {}
    for name in names:
        audio = np.stack([conditions.degrade(x, name, seed + i, SAMPLE_RATE,
                                             pool=conditions.pool_without(clips.audio, i))
                          for i, x in enumerate(clips.audio)])
        sal, voi = predict(model, audio)
        out[name] = score_clips(sal, voi, clips.labels, model.hop, model.latency_samples, model.config.fmin_hz)
    return out


class PitchTask:
    """``training.core.task.Task`` for the streaming pitch model.

    Args:
        config: the run's config. train, val: clips (``data.load_split``); ``val`` is used whole.
    """

    def __init__(self, config: TrainConfig, train: Clips, val: Clips):
        self.config, self.train, self.val = config, train, val
        self.bin_cents = torch.from_numpy(hz_to_cents(bin_frequencies_hz(config.model.n_bins, config.model.fmin_hz))).float()
        self._loader: DataLoader | None = None

    def build_model(self) -> PitchTCN:
        model = PitchTCN(self.config.model)
        if self.config.init_checkpoint:
            start_from = load_checkpoint(self.config.init_checkpoint)
            if start_from.config == self.config.model:
                model.load_state_dict(start_from.state_dict())
            else:
                grown = grow_into(model, start_from)
                diff = check_same(model, start_from)
                log.warning("grown from %s: %d tensors, max output change %.2g",
                            self.config.init_checkpoint, len(grown), diff)
        return model

    def batches(self, model: PitchTCN) -> DataLoader:
        if self._loader is None:  # one loader for the run (its workers persist across epochs)
            c = self.config
            crops = PitchCrops(self.train, c.crop_s, model.hop, model.latency_samples, c.augment,
                               c.oscillator_prob, c.oscillator_hz)
            self._loader = make_loader(crops, batch_size=c.batch_size, shuffle=True,
                                       drop_last=len(self.train.audio) >= c.batch_size, num_workers=c.loader_workers,
                                       persistent_workers=c.loader_workers > 0, seed=c.seed)
        return self._loader

    def loss(self, model: PitchTCN, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        audio, f0 = batch
        return loss_terms(model, audio, f0, self.bin_cents, self.config)

    def validate(self, model: PitchTCN) -> Validation:
        by_condition = validate(model, self.val, self.config.val_conditions)
        score = float(np.mean([s["rpa"] + s["oa"] for s in by_condition.values()]))
        first = by_condition[self.config.val_conditions[0]]
        return Validation(by_condition, score, {"voicing_threshold": first["threshold"]})

    def save_best(self, model: PitchTCN, path: Path, record: dict[str, Any]) -> Path:
        return save_checkpoint(model, path, training=record)

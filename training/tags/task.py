"""The tagging task on the training core: model, loss, batches, validation, checkpoint.

Loss: binary cross-entropy of each family's logit against whether it is sounding at the instant
the output frame describes (``crops.targets_at``), mean over families and frames. Validation runs
whole clips offline under each of ``val_conditions`` (clip i seeded ``i``) and scores the raw
probabilities (zero initial state, no smoothing: a training figure; ``evaluate`` scores what the
runtime gives) on the label grid: the core maximises the mean macro ROC-AUC over the conditions.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from export.checkpoint import save_checkpoint
from models.nets import FrameModel
from training.core import conditions
from training.core.data import Clips
from training.core.distributed import make_loader
from training.core.task import Validation, warm_started
from training.synth.activity import TAGS

from .config import TagsConfig
from .crops import TagCrops, targets_at
from .data import SAMPLE_RATE
from .metrics import macro, per_family


@torch.no_grad()
def predict(model: FrameModel, audio: np.ndarray, batch: int = 8) -> np.ndarray:
    """Offline probabilities ``[n, n_tags, frames]`` for whole clips ``audio [n, samples]``."""
    model.eval()
    n = audio.shape[1] // model.hop * model.hop
    out = []
    for i in range(0, len(audio), batch):
        logits, _ = model(torch.from_numpy(np.ascontiguousarray(audio[i:i + batch, :n]))[:, None])
        out.append(torch.sigmoid(logits).numpy())
    return np.concatenate(out)


def score_clips(probs: np.ndarray, labels: np.ndarray, hop: int, latency_samples: int) -> dict[str, Any]:
    """Macro and per-family ROC-AUC / AP of ``probs [n, n_tags, T]`` against ``labels [n, n_tags,
    n_labels]``, frames pooled over clips (each output frame against the label of its instant)."""
    refs = [targets_at(lab, 0, p.shape[-1], hop, latency_samples) for p, lab in zip(probs, labels)]
    fams = per_family(np.concatenate(refs, axis=-1), np.concatenate(list(probs), axis=-1), TAGS)
    return {"auc": macro(fams, "auc"), "ap": macro(fams, "ap"), "families": fams}


def target_latency(model: FrameModel, config: TagsConfig) -> int:
    """Samples between a frame's last input sample and the instant it is trained to describe:
    the model's latency plus the config's ``lookahead_s``."""
    return model.latency_samples + int(round(config.lookahead_s * SAMPLE_RATE))


def validate(model: FrameModel, clips: Clips, names: tuple[str, ...] = ("clean",), seed: int = 0,
             latency_samples: int | None = None) -> dict[str, dict]:
    """``{condition: scores}`` over ``clips`` (clip i under ``conditions.degrade(.., seed + i)``),
    each frame against the label ``latency_samples`` (default: the model's) before its end."""
    latency = model.latency_samples if latency_samples is None else latency_samples
    out = {}
    for name in names:
        audio = np.stack([conditions.degrade(x, name, seed + i, SAMPLE_RATE) for i, x in enumerate(clips.audio)])
        out[name] = score_clips(predict(model, audio), clips.labels, model.hop, latency)
    return out


class TagsTask:
    """``training.core.task.Task`` for the streaming tagger.

    Args:
        config: the run's config. train, val: clips (``data.load_split``); ``val`` is used whole.
    """

    def __init__(self, config: TagsConfig, train: Clips, val: Clips):
        self.config, self.train, self.val = config, train, val
        self._loader: DataLoader | None = None

    def build_model(self) -> FrameModel:
        """A fresh model, or ``init_checkpoint``'s weights (same model config, else ValueError)."""
        return warm_started(FrameModel(self.config.model), self.config.init_checkpoint)

    def batches(self, model: FrameModel) -> DataLoader:
        if self._loader is None:  # one loader for the run (its workers persist across epochs)
            c = self.config
            crops = TagCrops(self.train, c.crop_s, model.hop, target_latency(model, c), c.augment)
            self._loader = make_loader(crops, batch_size=c.batch_size, shuffle=True,
                                       drop_last=len(self.train.audio) >= c.batch_size, num_workers=c.loader_workers,
                                       persistent_workers=c.loader_workers > 0, seed=c.seed)
        return self._loader

    def loss(self, model: FrameModel, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        audio, target = batch
        logits, _ = model(audio)
        scored = torch.isfinite(target)  # frames describing instants before the crop are NaN
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[scored], target[scored])
        return loss, {"bce": float(loss.detach())}

    def validate(self, model: FrameModel) -> Validation:
        by_condition = validate(model, self.val, self.config.val_conditions,
                                latency_samples=target_latency(model, self.config))
        flat = {name: {k: v for k, v in ({"auc": s["auc"], "ap": s["ap"]}
                                         | {f"auc_{f}": r["auc"] for f, r in s["families"].items()}).items()
                       if np.isfinite(v)}  # JSON has no NaN (a family without both classes has no AUC)
                for name, s in by_condition.items()}
        score = np.nanmean([s["auc"] for s in by_condition.values()])
        return Validation(flat, float(score) if np.isfinite(score) else 0.0)

    def save_best(self, model: FrameModel, path: Path, record: dict[str, Any]) -> Path:
        return save_checkpoint(model, path, training=record)

"""The notes task on the training core: model, loss, batches, validation, checkpoint.

Loss: binary cross-entropy of the onset, frame, offset and drum rows against the targets of
the instant each output frame describes (``latency_samples`` before its hop's end): the mean of
each group, weighted by ``loss_weights`` and summed. Validation runs whole clips offline,
decodes them with the runtime's ``NoteDecoder`` at each of ``val_onset_thresholds`` (frame
threshold 0.2 then; one threshold alone ranks checkpoints by how their probabilities happen to
sit against it) and scores the best pooled onset F1 of the pitched notes (``metrics``); the core
maximises its mean over ``val_conditions``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from export.checkpoint import save_checkpoint
from models.nets import FrameModel
from rtmir.tasks.note_decoder import DRUM, FRAME, N_PITCHES, OFFSET, ONSET
from training.core import conditions
from training.core.data import Clips
from training.core.distributed import make_loader
from training.core.task import Validation, warm_started
from training.tags.crops import TagCrops  # crops of any [rows, frames] labels, targets at each frame's instant
from training.tags.task import predict  # offline sigmoid outputs of a FrameModel over whole clips

from .config import NotesConfig
from .data import SAMPLE_RATE
from .labels import Note
from .metrics import NoteScore, transcribe

GROUPS = {"onset": slice(ONSET, ONSET + N_PITCHES), "frame": slice(FRAME, FRAME + N_PITCHES),
          "offset": slice(OFFSET, OFFSET + N_PITCHES), "drums": slice(DRUM, None)}


def score_probs(probs: np.ndarray, refs: list[list[Note]], hop: int, latency_samples: int,
                thresholds: dict[str, float] | None = None) -> dict:
    """Pooled note figures (``metrics.NoteScore.figures``) of clips' probabilities against their notes."""
    score = NoteScore()
    for p, ref in zip(probs, refs):
        score.add(ref, transcribe(p, hop, latency_samples, SAMPLE_RATE, thresholds))
    return score.figures()


class NotesTask:
    """``training.core.task.Task`` for the streaming transcriber.

    Args:
        config: the run's config. train, val: clips (``data.load_split``). val_notes: each val
            clip's reference notes (``labels.example_notes``).
    """

    def __init__(self, config: NotesConfig, train: Clips, val: Clips, val_notes: list[list[Note]]):
        self.config, self.train, self.val, self.val_notes = config, train, val, val_notes
        self._loader: DataLoader | None = None

    def build_model(self) -> FrameModel:
        return warm_started(FrameModel(self.config.model), self.config.init_checkpoint)

    def batches(self, model: FrameModel) -> DataLoader:
        if self._loader is None:
            c = self.config
            crops = TagCrops(self.train, c.crop_s, model.hop, model.latency_samples, c.augment)
            self._loader = make_loader(crops, batch_size=c.batch_size, shuffle=True,
                                       drop_last=len(self.train.audio) >= c.batch_size, num_workers=c.loader_workers,
                                       persistent_workers=c.loader_workers > 0, seed=c.seed)
        return self._loader

    def loss(self, model: FrameModel, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        audio, target = batch
        logits, _ = model(audio)
        scored = torch.isfinite(target[:, 0])  # [B, T]: frames describing instants inside the crop
        parts = {}
        for name, rows in GROUPS.items():
            lg, tg = logits[:, rows].transpose(1, 2)[scored], target[:, rows].transpose(1, 2)[scored]
            parts[name] = torch.nn.functional.binary_cross_entropy_with_logits(lg, tg)
        w = self.config.loss_weights
        loss = sum(w.get(k, 1.0) * v for k, v in parts.items())
        return loss, {k: float(v.detach()) for k, v in parts.items()}

    def validate(self, model: FrameModel) -> Validation:
        by_condition = {}
        for name in self.config.val_conditions:
            audio = np.stack([conditions.degrade(x, name, i, SAMPLE_RATE) for i, x in enumerate(self.val.audio)])
            probs = predict(model, audio)
            trials = [({"onset_threshold": th, "frame_threshold": 0.2} if len(self.config.val_onset_thresholds) > 1
                       else {"onset_threshold": th}) for th in self.config.val_onset_thresholds]
            scored = [(t, score_probs(probs, self.val_notes, model.hop, model.latency_samples, t)) for t in trials]
            chosen, f = max(scored, key=lambda tf: tf[1]["onset"]["f1"])
            by_condition[name] = {"onset_f1": f["onset"]["f1"], "onset_offset_f1": f["onset_offset"]["f1"],
                                  "onset_threshold": chosen["onset_threshold"],
                                  "onset_precision": f["onset"]["precision"], "onset_recall": f["onset"]["recall"]}
            by_condition[name] |= {f"drum_f1_{k}": v["f1"] for k, v in f["drums"].items() if v["n_ref"]}
        score = float(np.mean([s["onset_f1"] for s in by_condition.values()]))
        return Validation(by_condition, score)

    def save_best(self, model: FrameModel, path: Path, record: dict[str, Any]) -> Path:
        return save_checkpoint(model, path, training=record)

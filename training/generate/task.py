"""The token-LM task on the training core: windows of delay-patterned pieces, next-step cross-entropy.

Each piece's frames are put in the delay pattern once (``models.token_lm.delay_pattern``, start
symbols before and after); a training item is a random window of ``crop_frames + 1`` steps, the
input its first ``crop_frames`` and the target its last. Targets that are start symbols are not
scored. Validation runs each MuseScore_General piece whole, offline (the rolling cache applies
past ``cache_frames``), and reports the mean negative log-likelihood per code in nats, overall
and per stage; the score is minus the overall figure.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from export.checkpoint import save_checkpoint
from models.token_lm import TokenLM, delay_pattern
from training.core.distributed import make_loader, process_rank, rank_seed
from training.core.task import Validation, warm_started

from .config import GenerateTrainConfig
from .tokens import TokenPieces

IGNORE = -100


def patterned(pieces: TokenPieces, start: int) -> list[torch.Tensor]:
    """Each piece as delay-pattern steps ``[Q, F + Q - 1]`` int64."""
    return [delay_pattern(torch.from_numpy(pieces.piece(i).T.copy())[None], start)[0]
            for i in range(len(pieces.names))]


def targets_of(steps: torch.Tensor, start: int) -> torch.Tensor:
    """``steps`` with start symbols replaced by the ignored index (they are not predicted)."""
    return steps.masked_fill(steps == start, IGNORE)


class StepWindows(Dataset):
    """Random ``[Q, n + 1]`` windows of the patterned pieces (``len``: windows per epoch)."""

    def __init__(self, steps: list[torch.Tensor], n: int, seed: int) -> None:
        self.steps = [s for s in steps if s.shape[1] > n + 1]
        if not self.steps:
            raise ValueError(f"no piece longer than {n + 1} steps")
        self.n = n
        self.generator = torch.Generator().manual_seed(seed)
        self.windows = sum(s.shape[1] // n for s in self.steps)

    def __len__(self) -> int:
        return self.windows

    def __getitem__(self, index: int) -> torch.Tensor:
        s = self.steps[int(torch.randint(0, len(self.steps), (), generator=self.generator))]
        o = int(torch.randint(0, s.shape[1] - self.n, (), generator=self.generator))
        return s[:, o:o + self.n + 1]


class GenerateTask:
    """``training.core.task.Task`` for the token LM. ``train``, ``val``: encoded pieces."""

    def __init__(self, config: GenerateTrainConfig, train: TokenPieces, val: TokenPieces) -> None:
        self.config = config
        start = config.model.codebook_size
        self.train = patterned(train, start)
        self.val = patterned(val, start)
        self._loader: DataLoader | None = None

    def build_model(self) -> TokenLM:
        return warm_started(TokenLM(self.config.model), self.config.init_checkpoint)

    def batches(self, model: TokenLM) -> DataLoader:
        if self._loader is None:
            c = self.config
            # the windows come from the dataset's own generator, not from the index: one stream per rank
            windows = StepWindows(self.train, c.crop_frames, rank_seed(c.seed + 1, process_rank()))
            self._loader = make_loader(windows, batch_size=c.batch_size, shuffle=False, drop_last=True, seed=c.seed)
        return self._loader

    def loss(self, model: TokenLM, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        model.train()
        logits, _ = model(batch[:, :, :-1])
        per_stage = stage_nll(logits, targets_of(batch[:, :, 1:], model.config.codebook_size))
        loss = per_stage.mean()
        return loss, {f"nll_{q + 1}": float(v) for q, v in enumerate(per_stage.detach())}

    @torch.no_grad()
    def validate(self, model: TokenLM) -> Validation:
        model.eval()
        totals = torch.zeros(model.config.n_stages)
        counts = torch.zeros(model.config.n_stages)
        for steps in self.val:
            logits, _ = model(steps[None, :, :-1])
            tgt = targets_of(steps[None, :, 1:], model.config.codebook_size)
            s, n = stage_nll(logits, tgt, reduce=False)
            totals += s
            counts += n
        nll = totals / counts.clamp_min(1)
        figures = {f"nll_{q + 1}": float(v) for q, v in enumerate(nll)}
        figures["nll"] = float(totals.sum() / counts.sum().clamp_min(1))
        return Validation({"msg": figures}, -figures["nll"])

    def save_best(self, model: TokenLM, path: Path, record: dict[str, Any]) -> Path:
        return save_checkpoint(model, path, training=record)


def stage_nll(logits: torch.Tensor, targets: torch.Tensor, reduce: bool = True):
    """Cross-entropy (nats) per stage of ``logits [B, Q, V, T]`` against ``targets [B, Q, T]``
    (``IGNORE`` not scored): the per-stage means ``[Q]``, or with ``reduce=False`` the per-stage
    sums and counts."""
    ce = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=IGNORE, reduction="none")  # [B, Q, T]
    keep = (targets != IGNORE).to(ce.dtype)
    sums, counts = (ce * keep).sum(dim=(0, 2)), keep.sum(dim=(0, 2))
    return (sums / counts.clamp_min(1)) if reduce else (sums, counts)

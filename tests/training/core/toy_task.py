"""A second task on the training core, in its own folder: a task definition, a config, metrics.

Linear regression ``y = x @ w_true + 0.1 * noise`` with a 4 -> 1 linear model. It is not a copy
of the loop: it defines only what ``training.core.task.Task`` asks for. Switches let the tests
make steps non-finite, script the validation scores, or crash after some steps.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from training.core import conditions
from training.core.task import Validation

W_TRUE = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])


class Crash(RuntimeError):
    """Raised by the toy task to simulate an interruption."""


@dataclass(frozen=True)
class ToyConfig:
    """The toy task's own config (the loop's is ``LoopConfig``)."""

    n_train: int = 64
    batch_size: int = 8
    nan_at_batches: tuple[int, ...] = ()  # 1-based batch counts whose loss is made NaN
    scripted_scores: tuple[float, ...] = ()  # validation scores to return instead of -mse, in order
    crash_after_batches: int = 0  # raise Crash when this many batches have been trained (0: never)
    val_conditions: tuple[str, ...] = ("clean", "white10")


def mse(pred: torch.Tensor, target: torch.Tensor) -> float:
    """The toy task's metric: mean squared error."""
    return float(((pred - target) ** 2).mean())


class ToyTask:
    """``training.core.task.Task`` for the regression. Its validation treats the 16 inputs of a
    validation set as a "clip" and degrades them with ``training.core.conditions``."""

    def __init__(self, config: ToyConfig):
        self.config = config
        g = torch.Generator().manual_seed(123)  # fixed data, independent of the run's seed
        self.x = torch.randn(config.n_train, 4, generator=g)
        self.y = self.x @ W_TRUE + 0.1 * torch.randn(config.n_train, 1, generator=g)
        self.val_x = torch.randn(16, 4, generator=g)
        self.val_y = self.val_x @ W_TRUE
        self.batches_seen = 0
        self.validations = 0
        self.saved: list[int] = []

    def build_model(self) -> nn.Module:
        return nn.Linear(4, 1)

    def batches(self, model: nn.Module) -> DataLoader:
        return DataLoader(TensorDataset(self.x, self.y), batch_size=self.config.batch_size, shuffle=True,
                          drop_last=True)

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        self.batches_seen += 1
        if self.config.crash_after_batches and self.batches_seen > self.config.crash_after_batches:
            raise Crash(f"interrupted before batch {self.batches_seen}")
        x, y = batch
        loss = ((model(x) - y) ** 2).mean()
        if self.batches_seen in self.config.nan_at_batches:
            loss = loss * float("nan")
        return loss, {"mse": float(loss.detach())}

    @torch.no_grad()
    def validate(self, model: nn.Module) -> Validation:
        model.eval()
        by = {}
        for name in self.config.val_conditions:
            x = conditions.degrade(self.val_x.numpy().T.copy(), name, 0).T  # [features, n] as "audio"
            by[name] = {"mse": mse(model(torch.from_numpy(np.ascontiguousarray(x))), self.val_y)}
        self.validations += 1
        if self.config.scripted_scores:
            score = self.config.scripted_scores[self.validations - 1]
        else:
            score = -float(np.mean([s["mse"] for s in by.values()]))
        return Validation(by, score, {"toy": True})

    def save_best(self, model: nn.Module, path: Path, record: dict[str, Any]) -> Path:
        torch.save({"model": model.state_dict(), "record": record}, path)
        self.saved.append(record["steps"])
        return path

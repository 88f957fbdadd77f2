"""The training loop every task shares: ``fit(task, config, record)``.

AdamW; the learning rate warms up linearly over ``warmup_steps``, then follows a cosine from
``lr`` to ``final_lr_fraction * lr`` over the budget — wall-clock (``schedule="time"``: a slower
machine sees the same schedule, shortened) or steps (``"steps"``: the same on every machine).
Gradients are clipped to ``clip_norm``; a step whose loss or gradient norm is not finite is
skipped and counted (one pitch run turned NaN after 3700 steps and never recovered). The task
validates every ``val_every_minutes`` (and/or ``val_every_steps``) and after the last step; the
best validation's checkpoint is kept (``task.save_best``), and training stops after
``patience`` validations without a better score. ``OUT/history.jsonl`` holds one line per
validation.

Resume: at each validation and each epoch end (at most every ``resume_every_minutes``)
``OUT/resume.pt`` records the weights, the optimiser, the counters, the history and the random
states at the start of the epoch and now. A run that finds a ``resume.pt`` written with the
same training record config continues from it (the epoch's batches already trained on are drawn
again, not trained on, so the data stream goes on as if uninterrupted); another config there is
refused. A run that ends normally removes it. Continuing is exact when the loader draws its
randomness in this process or re-seeds its workers every epoch; DataLoader workers kept across
epochs (``persistent_workers``) carry random state this file cannot hold, so there it continues
with equivalent but different draws.

Under ``torchrun`` (``training.core.distributed``) every rank trains on its shard of the data
with the gradients averaged over the ranks, so all ranks hold the same weights after every step.
The ranks build the model from the same seed and take rank 0's weights; rank 0 keeps the random
stream of a 1-process run, the others draw their own augmentations. The ranks agree on the
elapsed time (the largest), hence on the learning rate, on when to validate and on when to
stop; a step is skipped on all ranks when the mean loss or the norm is not finite. Only rank 0
validates and writes the files (best checkpoint, history, ``resume.pt``): it shares the outcome
with the others and reads ``resume.pt`` for them (no shared filesystem needed). ``resume.pt``
holds the world size and every rank's random states: resumed with as many ranks, each rank
continues its own stream exactly; with another world size, the weights, the optimiser, the
counters and the history continue, the interrupted epoch goes on from the same share of its
examples, with equivalent but different draws.
"""
from __future__ import annotations

import itertools
import json
import logging
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from . import distributed as ddp
from .distributed import World
from .provenance import utc_now
from .task import Task, Validation

log = logging.getLogger(__name__)

RESUME_FILE = "resume.pt"
HISTORY_FILE = "history.jsonl"


@dataclass(frozen=True)
class LoopConfig:
    """How ``fit`` trains (task-agnostic)."""

    out_dir: str  # best checkpoint, history.jsonl, resume.pt
    seed: int = 0  # torch, numpy and random are seeded with it before the model is built
    lr: float = 2e-3  # AdamW peak learning rate
    weight_decay: float = 1e-4
    warmup_steps: int = 200  # linear warm-up, then the cosine
    final_lr_fraction: float = 0.05  # the cosine ends at this fraction of lr
    max_minutes: float = 50.0  # wall-clock budget (validation included)
    max_steps: int = 1_000_000  # step budget (steps skipped as non-finite count)
    schedule: str = "time"  # the cosine runs over "time" (max_minutes) or "steps" (max_steps)
    clip_norm: float = 1.0  # gradient norm clipping
    val_every_minutes: float = 6.0  # periodic validation by time ...
    val_every_steps: int = 0  # ... and/or by steps (0: by time only)
    patience: int = 4  # stop after this many validations without a better score
    threads: int = 2  # torch.set_num_threads
    resume_every_minutes: float = 1.0  # epoch ends write resume.pt at most this often (0: every one)
    best_name: str = "best.safetensors"  # the best checkpoint's file name under out_dir

    def __post_init__(self) -> None:
        if self.schedule not in ("time", "steps"):
            raise ValueError(f"schedule {self.schedule!r}: use 'time' or 'steps'")


@dataclass
class RunResult:
    """What ``fit`` returns: the loss of every trained step, the validation history, the best
    checkpoint (None if no validation ran, and on ranks other than 0: rank 0 wrote it), steps
    taken (skipped ones included), minutes. Under torchrun the losses are the means over the ranks
    and every rank holds the same history."""

    losses: list[float]
    history: list[dict]
    best_path: Path | None
    steps: int
    minutes: float
    skipped_steps: int = 0
    resumed_at_step: int | None = None


def learning_rate(config: LoopConfig, step: int, elapsed_s: float) -> float:
    """The learning rate of step ``step`` (0-based) taken ``elapsed_s`` into the run."""
    warm = min(1.0, (step + 1) / max(1, config.warmup_steps))
    if config.schedule == "time":
        progress = min(1.0, elapsed_s / (60.0 * config.max_minutes))
    else:
        progress = min(1.0, step / max(1, config.max_steps))
    f = config.final_lr_fraction
    return config.lr * warm * (f + (1 - f) * 0.5 * (1 + math.cos(math.pi * progress)))


def _rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def _seed(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


@dataclass
class _State:
    """Everything about a run in progress that ``resume.pt`` holds besides weights."""

    step: int = 0
    epoch: int = 0
    batches_in_epoch: int = 0  # drawn from this epoch's iterator (skipped steps included)
    elapsed_s: float = 0.0
    next_val_s: float = 0.0
    next_val_step: int = 0
    skipped: int = 0
    best_score: float = -math.inf
    bad: int = 0
    losses: list[float] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)
    best_path: str | None = None
    epoch_rng: dict[str, Any] | None = None  # random states right before this epoch's iterator
    last_resume_save_s: float = 0.0


class _Run:
    """One ``fit`` call: the model, the optimiser, the state and the files under ``out``."""

    def __init__(self, task: Task, config: LoopConfig, record: dict[str, Any], world: World):
        self.task, self.config, self.record, self.world = task, config, record, world
        self.out = Path(config.out_dir)
        if world.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
        _seed(config.seed)  # every rank: the same initialisation
        torch.set_num_threads(max(1, config.threads // world.local_world_size))  # the ranks share the cores
        self.model = task.build_model()
        ddp.broadcast_module(self.model, world)  # rank 0's weights, whatever build_model read or drew
        if world.rank:  # rank 0 keeps the stream of a 1-process run; the others draw their own crops
            _seed(ddp.rank_seed(config.seed, world.rank))
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.state = _State(next_val_s=60.0 * config.val_every_minutes, next_val_step=config.val_every_steps or 0)
        self.resumed_at: int | None = None
        self.resume_rng: dict[str, Any] | None = None  # restored once the interrupted epoch is drawn again
        self.start = time.monotonic()

    # -- resume --------------------------------------------------------------------------------
    def _resume_path(self) -> Path:
        path = self.out / RESUME_FILE
        if path.exists() and not path.is_file():
            raise ValueError(f"{path} exists and is not a regular file: remove it or use another out_dir")
        return path

    def save_resume(self) -> None:
        """Write ``resume.pt`` atomically (a temporary file, then a rename) on rank 0, with every
        rank's random states. Under torchrun every rank calls it at the same step."""
        self.state.elapsed_s = ddp.agree_max(time.monotonic() - self.start, self.world)
        self.state.last_resume_save_s = self.state.elapsed_s
        ranks = ddp.gather_object({"epoch_rng": self.state.epoch_rng, "rng": _rng_state()}, self.world)
        if self.world.rank:
            return
        path = self._resume_path()
        blob = {"config": self.record.get("config"), "model": self.model.state_dict(),
                "optimizer": self.opt.state_dict(), "state": self.state.__dict__, "rng": ranks[0]["rng"],
                "world_size": self.world.world_size, "ranks": ranks}
        tmp = path.with_name(path.name + ".part")
        torch.save(blob, tmp)
        os.replace(tmp, path)

    def _read_resume(self) -> dict[str, Any] | None:
        path = self._resume_path()
        if not path.is_file():
            return None
        blob = torch.load(path, weights_only=False)  # our own file: holds numpy/python RNG states
        if blob["config"] != self.record.get("config"):
            raise ValueError(f"{path} holds an interrupted run of another config: remove it to start "
                             f"afresh, or use another out_dir")
        return blob

    def try_resume(self) -> bool:
        """Load ``resume.pt`` if there is one (rank 0 reads it for every rank); True when resuming.
        ``self.resume_rng`` is then the random state to restore after the current epoch's batches
        have been drawn again (None with another world size: the draws just go on).

        Raises:
            ValueError: it was written by a run of another config.
        """
        blob, error = None, None
        if self.world.rank == 0:
            try:
                blob = self._read_resume()
            except ValueError as exc:  # raised on every rank, not only on rank 0
                error = str(exc)
        blob, error = ddp.broadcast_object((blob, error), self.world)
        if error:
            raise ValueError(error)
        if blob is None:
            return False
        self.model.load_state_dict(blob["model"])
        self.opt.load_state_dict(blob["optimizer"])
        self.state = _State(**blob["state"])
        if self.world.rank:
            self.state.best_path = None  # rank 0's file
        self.start = time.monotonic() - self.state.elapsed_s
        self.resumed_at = self.state.step
        if self.world.rank == 0:
            log.warning("resuming %s at step %d (%.1f min)", self.out, self.state.step, self.state.elapsed_s / 60)
        self._restore_streams(blob)
        return True

    def _restore_streams(self, blob: dict[str, Any]) -> None:
        """This rank's random states from ``blob``: its own when the world size is the same; else
        the state rank r had (a fresh seed for a new rank), and the interrupted epoch goes on
        after the same share of its batches."""
        saved, world, s = blob.get("world_size", 1), self.world, self.state
        ranks = blob.get("ranks") or [{"epoch_rng": s.epoch_rng, "rng": blob["rng"]}]
        if saved == world.world_size:
            s.epoch_rng, self.resume_rng = ranks[world.rank]["epoch_rng"], ranks[world.rank]["rng"]
            return
        if world.rank == 0:
            log.warning("resume.pt was written by %d processes, this run has %d: the weights, optimiser, counters "
                        "and history continue; the data stream goes on with equivalent but different draws",
                        saved, world.world_size)
        if world.rank < len(ranks):
            _set_rng_state(ranks[world.rank]["rng"])
        else:
            _seed(ddp.rank_seed(self.config.seed + s.step, world.rank))
        s.epoch_rng, self.resume_rng = _rng_state(), None
        s.batches_in_epoch = s.batches_in_epoch * saved // world.world_size

    # -- steps and validation ------------------------------------------------------------------
    def train_step(self, batch: Any, elapsed: float) -> bool:
        """One optimiser step; False (and counted) when the loss or the gradient is not finite."""
        self.model.train()
        for group in self.opt.param_groups:
            group["lr"] = learning_rate(self.config, self.state.step, elapsed)
        loss, self.parts = self.task.loss(self.model, batch)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        loss = ddp.average_gradients(self.model.parameters(), self.world, loss)  # the mean over the ranks
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_norm)
        self.state.step += 1
        if not (torch.isfinite(loss) and torch.isfinite(norm)):  # the same on every rank: all skip
            self.state.skipped += 1  # never let one bad batch poison the weights
            return False
        self.opt.step()
        ddp.broadcast_module(self.model, self.world, buffers_only=True)
        self.state.losses.append(float(loss))
        return True

    def validation_due(self, elapsed: float, last: bool) -> bool:
        s, c = self.state, self.config
        by_steps = bool(c.val_every_steps) and s.step >= s.next_val_step
        return last or elapsed >= s.next_val_s or by_steps

    def validate(self, elapsed: float) -> bool:
        """Validate on rank 0 and share the outcome with every rank; True when patience ran out."""
        s, c = self.state, self.config
        s.next_val_s = elapsed + 60.0 * c.val_every_minutes
        s.next_val_step = s.step + c.val_every_steps
        stop = self._validate_here(elapsed) if self.world.rank == 0 else False
        stop, s.best_score, s.bad, s.history = ddp.broadcast_object((stop, s.best_score, s.bad, s.history),
                                                                    self.world)
        return stop

    def _validate_here(self, elapsed: float) -> bool:
        """Validate, log, keep the best checkpoint; True when patience ran out."""
        s, c = self.state, self.config
        result: Validation = self.task.validate(self.model)
        first = next(iter(result.by_condition.values()))
        entry = {"step": s.step, "minutes": round(elapsed / 60, 2), "loss": float(np.mean(s.losses[-50:])),
                 "skipped_steps": s.skipped, **first}
        if len(result.by_condition) > 1:
            entry["conditions"] = result.by_condition
        s.history.append(entry)
        (self.out / HISTORY_FILE).write_text("".join(json.dumps(e) + "\n" for e in s.history))
        log.info("val step %d (%.2f min) loss %.4f score %.4f: %s", s.step, entry["minutes"], entry["loss"],
                 result.score, _describe(result.by_condition))
        if result.score > s.best_score:
            s.best_score, s.bad = result.score, 0
            self.record.update({"date": utc_now(), "steps": s.step, "train_minutes": entry["minutes"],
                                "history": s.history, **result.extra})
            s.best_path = str(self.task.save_best(self.model, self.out / c.best_name, self.record))
            return False
        s.bad += 1
        return s.bad >= c.patience


def _describe(by_condition: dict[str, dict[str, float]]) -> str:
    return "; ".join(f"{cond} " + " ".join(f"{k} {v:.4f}" for k, v in scores.items() if isinstance(v, float))
                     for cond, scores in by_condition.items())


def _epoch(run: _Run, bar: tqdm, resuming: bool) -> bool:
    """Train through one epoch of ``task.batches``; True when the run is over."""
    s, c = run.state, run.config
    budget_s = 60.0 * c.max_minutes
    if not resuming:
        s.epoch_rng, s.batches_in_epoch = _rng_state(), 0
    else:
        _set_rng_state(s.epoch_rng)
    loader = run.task.batches(run.model)
    set_epoch = getattr(getattr(loader, "sampler", None), "set_epoch", None)
    if set_epoch is not None:  # a DistributedSampler: this epoch's shards
        set_epoch(s.epoch)
    it = iter(loader)
    if resuming and s.batches_in_epoch:  # saved mid-epoch (an epoch-end save is its start)
        for _ in itertools.islice(it, s.batches_in_epoch):  # draw again what was trained on before
            pass
        if run.resume_rng is not None:
            _set_rng_state(run.resume_rng)
    for batch in it:
        s.batches_in_epoch += 1
        elapsed = ddp.agree_max(time.monotonic() - run.start, run.world)
        if not run.train_step(batch, elapsed):
            continue
        bar.n = min(int(elapsed), int(budget_s))
        bar.set_postfix(step=s.step, loss=f"{np.mean(s.losses[-20:]):.3f}",
                        **{k: f"{v:.4f}" for k, v in run.parts.items()}, refresh=True)
        last = s.step >= c.max_steps or elapsed >= budget_s
        if run.validation_due(elapsed, last):
            stop = run.validate(elapsed)
            if last or stop:
                return True
            run.save_resume()
        elif last:
            return True
    if s.batches_in_epoch == 0:
        raise ValueError("the task's batches() yielded nothing: too few training examples for one batch?")
    s.epoch += 1
    s.batches_in_epoch = 0
    if ddp.agree_max(time.monotonic() - run.start, run.world) - s.last_resume_save_s >= 60.0 * c.resume_every_minutes:
        s.epoch_rng = _rng_state()  # the next epoch starts here: saved state = next epoch's start
        run.save_resume()
    return False


def fit(task: Task, config: LoopConfig, record: dict[str, Any] | None = None) -> RunResult:
    """Train ``task``'s model under ``config``; the best checkpoint goes to ``OUT/<best_name>``.

    Under torchrun (``WORLD_SIZE`` > 1) every rank calls it: the process group is joined here (and
    left at the end if joined here); rank 0 writes the files.

    Args:
        task: the task definition (``training.core.task.Task``).
        config: budget, schedule, validation, patience, seed, out_dir.
        record: the training record stored with the best checkpoint (``provenance.training_record``);
            its ``config`` also identifies the run for resuming. Updated in place at each best.

    Raises:
        ValueError: ``out_dir`` holds an interrupted run of another config; an epoch without batches.
    """
    world, finished = ddp.init_world(), False
    try:
        run = _Run(task, config, dict(record or {}), world)
        resuming = run.try_resume()
        bar = tqdm(total=int(60.0 * config.max_minutes) if config.schedule == "time" else None, unit="s",
                   desc=f"training ({config.schedule} budget)", initial=int(run.state.elapsed_s),
                   disable=world.rank != 0)
        try:
            while not _epoch(run, bar, resuming):
                resuming = False
        finally:
            bar.close()
        path = run.out / RESUME_FILE
        if world.rank == 0 and path.is_file():
            path.unlink()  # ended normally: nothing to resume
        finished = True
    finally:
        ddp.close_world(world, finished)
    s = run.state
    return RunResult(s.losses, s.history, Path(s.best_path) if s.best_path else None, s.step,
                     (time.monotonic() - run.start) / 60, s.skipped, run.resumed_at)

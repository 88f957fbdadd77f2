"""The training core's loop on a second task (tests/training/core/toy_task.py): budgets, the
schedule, non-finite steps, patience, the best checkpoint, history and resuming."""
from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch  # the train extra; these tests are marked torch

from training.core.loop import HISTORY_FILE, RESUME_FILE, LoopConfig, fit, learning_rate

from .toy_task import Crash, ToyConfig, ToyTask

pytestmark = pytest.mark.torch


def loop(tmp_path, **kw) -> LoopConfig:
    base = dict(out_dir=str(tmp_path / "run"), seed=3, lr=0.3, warmup_steps=2, max_steps=40, schedule="steps",
                max_minutes=10.0, val_every_minutes=1e6, val_every_steps=10, patience=100, threads=1,
                resume_every_minutes=0.0, best_name="best.pt")
    return LoopConfig(**{**base, **kw})


def test_trains_to_the_step_budget_validates_every_n_steps_and_keeps_the_best(tmp_path):
    task = ToyTask(ToyConfig())
    result = fit(task, loop(tmp_path), {"config": {"toy": 1}, "command": "pytest"})
    assert result.steps == 40 and len(result.losses) == 40 and result.skipped_steps == 0
    assert [e["step"] for e in result.history] == [10, 20, 30, 40]
    assert sum(result.losses[-5:]) < 0.1 * sum(result.losses[:5])  # it learns the regression
    lines = [json.loads(x) for x in (tmp_path / "run" / HISTORY_FILE).read_text().splitlines()]
    assert lines == json.loads(json.dumps(result.history))
    assert set(lines[0]["conditions"]) == {"clean", "white10"} and lines[0]["mse"] == lines[0]["conditions"]["clean"]["mse"]
    saved = torch.load(result.best_path)
    assert saved["record"]["command"] == "pytest" and saved["record"]["toy"] is True
    assert saved["record"]["steps"] == task.saved[-1] and task.saved == sorted(task.saved)
    assert not (tmp_path / "run" / RESUME_FILE).exists()  # ended normally: nothing to resume


def test_a_time_budget_stops_the_run(tmp_path):
    result = fit(ToyTask(ToyConfig()), loop(tmp_path, schedule="time", max_minutes=0.5 / 60, max_steps=10**9,
                                            val_every_steps=0))
    assert 0 < result.steps < 10**9 and result.minutes == pytest.approx(0.5 / 60, abs=0.02)
    assert len(result.history) == 1  # the final validation only


def test_warm_up_then_cosine_to_the_final_fraction():
    c = LoopConfig(out_dir="x", lr=1.0, warmup_steps=10, max_steps=100, schedule="steps", final_lr_fraction=0.05)
    assert learning_rate(c, 0, 0.0) == pytest.approx(0.1)
    assert learning_rate(c, 9, 0.0) == pytest.approx(1.0 * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * 0.09))))
    assert learning_rate(c, 50, 0.0) == pytest.approx(0.05 + 0.95 * 0.5)
    assert learning_rate(c, 100, 0.0) == pytest.approx(0.05)
    t = dataclasses.replace(c, schedule="time", max_minutes=1.0)
    assert learning_rate(t, 50, 30.0) == pytest.approx(0.05 + 0.95 * 0.5)  # time, not steps, drives it
    with pytest.raises(ValueError, match="schedule"):
        LoopConfig(out_dir="x", schedule="epochs")


def test_non_finite_steps_are_skipped_counted_and_leave_the_weights_alone(tmp_path):
    clean = fit(ToyTask(ToyConfig()), loop(tmp_path / "a", max_steps=12, val_every_steps=0))
    nan = fit(ToyTask(ToyConfig(nan_at_batches=(5, 6))), loop(tmp_path / "b", max_steps=12, val_every_steps=0))
    assert nan.steps == 12 and nan.skipped_steps == 2 and len(nan.losses) == 10
    assert all(math.isfinite(x) for x in nan.losses) and nan.history[-1]["skipped_steps"] == 2
    assert nan.losses[:4] == clean.losses[:4]  # identical until the bad batches
    assert math.isfinite(nan.history[-1]["mse"])


def test_patience_stops_after_that_many_validations_without_a_better_score(tmp_path):
    task = ToyTask(ToyConfig(scripted_scores=(1.0, 2.0, 1.5, 1.9, 1.2, 9.0)))
    result = fit(task, loop(tmp_path, max_steps=60, patience=3))
    assert [e["step"] for e in result.history] == [10, 20, 30, 40, 50]  # 3 without beating 2.0: stop
    assert result.steps == 50 and task.saved == [10, 20]
    assert torch.load(result.best_path)["record"]["steps"] == 20


@pytest.mark.parametrize("crash_after, resumed_at", [(7, None), (12, 10), (17, 16), (23, 20)],
                         ids=["before-any-save", "mid-epoch-after-a-validation", "after-an-epoch-end", "later"])
def test_an_interrupted_run_resumes_to_the_same_result(tmp_path, crash_after, resumed_at):
    # 8 batches per epoch; resume.pt is written at each epoch end (steps 8, 16, ...) and validation (10, 20, ...)
    whole = fit(ToyTask(ToyConfig()), loop(tmp_path / "whole"))
    with pytest.raises(Crash):
        fit(ToyTask(ToyConfig(crash_after_batches=crash_after)), loop(tmp_path / "cut"))
    assert (tmp_path / "cut" / "run" / RESUME_FILE).is_file() == (resumed_at is not None)
    resumed = fit(ToyTask(ToyConfig()), loop(tmp_path / "cut"))
    assert resumed.resumed_at_step == resumed_at
    assert resumed.losses == whole.losses  # bit for bit: same batches, same weights, same optimiser
    strip = lambda h: [{k: v for k, v in e.items() if k != "minutes"} for e in h]  # noqa: E731
    assert strip(resumed.history) == strip(whole.history)
    a, b = torch.load(whole.best_path)["model"], torch.load(resumed.best_path)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_without_replaying_the_epoch_a_resumed_run_would_differ(tmp_path, monkeypatch):
    """The replay of the interrupted epoch's batches is what makes resuming exact."""
    import training.core.loop as core_loop

    whole = fit(ToyTask(ToyConfig()), loop(tmp_path / "whole"))
    with pytest.raises(Crash):
        fit(ToyTask(ToyConfig(crash_after_batches=12)), loop(tmp_path / "cut"))
    real_set = core_loop._set_rng_state
    monkeypatch.setattr(core_loop, "_set_rng_state", lambda state: None)  # no random state restored
    resumed = fit(ToyTask(ToyConfig()), loop(tmp_path / "cut"))
    monkeypatch.setattr(core_loop, "_set_rng_state", real_set)
    assert resumed.losses[:10] == whole.losses[:10] and resumed.losses[10:] != whole.losses[10:]


def test_resuming_refuses_a_run_of_another_config(tmp_path):
    with pytest.raises(Crash):
        fit(ToyTask(ToyConfig(crash_after_batches=12)), loop(tmp_path), {"config": {"lr": 1}})
    with pytest.raises(ValueError, match="another config"):
        fit(ToyTask(ToyConfig()), loop(tmp_path), {"config": {"lr": 2}})


def test_an_epoch_without_batches_is_an_error_not_a_hang(tmp_path):
    with pytest.raises(ValueError, match="yielded nothing"):
        fit(ToyTask(ToyConfig(n_train=4)), loop(tmp_path))  # fewer examples than one batch

"""The training core under torchrun (2 CPU processes, gloo, loopback): identical weights on every
rank after every step, each rank on its shard, files from rank 0 only, resuming with the same
and with another world size (issue #19). The runs are ``ddp_toy_run.py`` and
``ddp_collectives.py`` launched by the installed torch's ``torch.distributed.run``."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from training.core import distributed as ddp
from training.core.loop import HISTORY_FILE, RESUME_FILE

pytestmark = pytest.mark.torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
STEPS = 12  # 64 examples, 8 a batch: 4 batches an epoch per rank on 2 ranks, 8 on 1
NAN_AT = 3  # rank 1's loss of its 3rd batch is NaN: both ranks skip step 3
CRASH_AFTER = 7  # the interrupted run's last resume.pt is the validation at step 5 (mid-epoch)


def launch(script: str, nproc: int, *args: str) -> subprocess.CompletedProcess:
    """Run ``script`` on ``nproc`` ranks (torchrun; 1: a plain process); fails the test on an error."""
    head = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"] if nproc > 1 \
        else [sys.executable]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([*head, str(HERE / script), *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def toy_run(nproc: int, out: Path, report: Path, *args: str) -> tuple[list[dict], str]:
    proc = launch("ddp_toy_run.py", nproc, "--out", str(out), "--report", str(report),
                  "--max-steps", str(STEPS), *args)
    return [json.loads((report / f"rank{r}.json").read_text()) for r in range(nproc)], proc.stderr


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> tuple[Path, list[dict]]:
    base = tmp_path_factory.mktemp("whole")
    reports, _ = toy_run(2, base / "out", base / "report", "--nan-on-rank1", str(NAN_AT))
    return base / "out", reports


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory) -> tuple[Path, list[dict]]:
    base = tmp_path_factory.mktemp("interrupted")
    reports, _ = toy_run(2, base / "out", base / "report", "--nan-on-rank1", str(NAN_AT),
                         "--crash-after", str(CRASH_AFTER))
    assert all(r["crashed"] for r in reports) and (base / "out" / "rank0" / RESUME_FILE).is_file()
    return base / "out", reports


def test_both_ranks_hold_the_same_weights_after_every_step(whole):
    _, (r0, r1) = whole
    seen0, seen1 = ([s["weights"] for s in r["steps"]] for r in (r0, r1))
    assert len(seen0) == STEPS and seen0 == seen1  # the weights each step's loss saw
    assert len(set(seen0)) == STEPS - 1 and seen0[NAN_AT] == seen0[NAN_AT - 1]  # only the NaN step left them
    for r in (r0, r1):  # rank 1's NaN made both ranks skip the step
        assert r["result"]["steps"] == STEPS and r["result"]["skipped_steps"] == 1
    assert r0["result"]["losses"] == r1["result"]["losses"] and len(r0["result"]["losses"]) == STEPS - 1


def test_each_rank_reads_its_shard_of_every_epoch(whole):
    _, (r0, r1) = whole
    for epoch in (1, 2, 3):
        mine, theirs = ([i for s in r["steps"] if s["epoch"] == epoch for i in s["indices"]] for r in (r0, r1))
        assert len(mine) == len(theirs) == 32 and not set(mine) & set(theirs)
        assert sorted(mine + theirs) == list(range(64))  # together: the whole epoch, once
    first = [s["indices"] for s in r0["steps"] if s["epoch"] == 1]
    assert first != [s["indices"] for s in r0["steps"] if s["epoch"] == 2]  # reshuffled each epoch


def test_only_rank_0_writes_files_and_every_rank_agrees_on_the_history(whole):
    out, (r0, r1) = whole
    assert not (out / "rank1").exists()  # rank 1's out_dir: never written
    assert sorted(p.name for p in (out / "rank0").iterdir()) == ["best.pt", HISTORY_FILE]  # resume.pt removed
    lines = [json.loads(x) for x in (out / "rank0" / HISTORY_FILE).read_text().splitlines()]
    assert [e["step"] for e in lines] == [5, 10, 12] and lines == r0["result"]["history"] == r1["result"]["history"]
    assert r0["result"]["best_path"] == str(out / "rank0" / "best.pt") and r1["result"]["best_path"] is None


def test_fit_leaves_no_process_group_behind_after_a_normal_end_or_an_error(whole, interrupted):
    # gloo's threads still running at the interpreter's exit aborted it now and then (SIGABRT)
    for r in whole[1] + interrupted[1]:
        assert r["threads"] is not None and not [n for n in r["threads"] if "gloo" in n], r["threads"]


def test_resumed_with_as_many_ranks_the_run_continues_exactly(whole, interrupted, tmp_path):
    shutil.copytree(interrupted[0], tmp_path / "out")
    reports, _ = toy_run(2, tmp_path / "out", tmp_path / "report")
    strip = lambda h: [{k: v for k, v in e.items() if k != "minutes"} for e in h]  # noqa: E731
    for resumed, ref in zip(reports, whole[1]):
        assert resumed["result"]["resumed_at_step"] == 5
        assert resumed["result"]["losses"] == ref["result"]["losses"]  # bit for bit
        assert strip(resumed["result"]["history"]) == strip(ref["result"]["history"])
        assert resumed["steps"] == [{**s, "epoch": s["epoch"] - 1} for s in ref["steps"][5:]]  # same batches, weights


def test_resumed_with_another_world_size_the_run_continues_from_the_saved_step(interrupted, tmp_path):
    out, (cut0, _) = interrupted
    saved = [json.loads(x) for x in (out / "rank0" / HISTORY_FILE).read_text().splitlines()]
    shutil.copytree(out, tmp_path / "out")
    (one,), stderr = toy_run(1, tmp_path / "out", tmp_path / "report")
    result = one["result"]
    assert result["resumed_at_step"] == 5 and result["steps"] == STEPS and "written by 2 processes" in stderr
    assert [e["step"] for e in result["history"]] == [5, 10, 12] and result["history"][0] == saved[0]
    assert one["steps"][0]["weights"] == cut0["steps"][5]["weights"]  # the weights saved at step 5
    # the interrupted epoch goes on after its share trained (1 batch on each of 2 ranks = 2 of 8 here)
    assert [s["epoch"] for s in one["steps"]] == [1] * 6 + [2]
    assert not (tmp_path / "out" / "rank0" / RESUME_FILE).exists()


def test_the_collectives_on_two_ranks(tmp_path):
    launch("ddp_collectives.py", 2, str(tmp_path))
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["world_size"] == 2 and r0["backend"] == "gloo"
    assert r0["weights"] == r1["weights"] and r1["weights"][-1] == [10.0]  # rank 0's parameters and buffers
    for r in (r0, r1):
        assert r["used"] == [1.5, 3.0] and r["one"] == [2.0, 3.0] and r["none"]  # DDP's mean; unused stays None
        assert r["loss"] == 4.5 and r["max"] == 1.0 and r["object"] == {"from": 0}
    assert r0["gathered"] == [0, 10] and r1["gathered"] is None


def test_one_process_draws_the_batches_of_a_plain_shuffled_loader(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    world = ddp.init_world()
    assert world == ddp.World() and not world.distributed
    data = TensorDataset(torch.arange(20))
    torch.manual_seed(7)
    ours = [b[0].tolist() for _ in range(2) for b in ddp.make_loader(data, 4, shuffle=True, drop_last=True, seed=1)]
    torch.manual_seed(7)
    plain = [b[0].tolist() for _ in range(2) for b in DataLoader(data, batch_size=4, shuffle=True, drop_last=True)]
    assert ours == plain and ours[:5] != ours[5:]
    assert ddp.shard_sampler(data, True, 0, True) is None


def test_one_process_helpers_change_nothing():
    world = ddp.World()
    p = torch.nn.Parameter(torch.ones(3))
    p.grad = torch.tensor([1.0, 2.0, 3.0])
    loss = torch.tensor(2.0, requires_grad=True)
    mean = ddp.average_gradients([p], world, loss)
    assert p.grad.tolist() == [1.0, 2.0, 3.0] and float(mean) == 2.0 and not mean.requires_grad
    assert ddp.agree_max(1.5, world) == 1.5 and ddp.broadcast_object("x", world) == "x"
    assert ddp.gather_object(3, world) == [3] and ddp.rank_seed(5, 0) == 5 and ddp.rank_seed(5, 1) != 5

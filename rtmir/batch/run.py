"""The batch driver: which inputs are still to do, local worker processes or Ray actors,
the manifest, the progress bar, and a clean stop on Ctrl-C/SIGTERM (``hosts.stop_signals``).

Local workers are ``spawn``-ed processes (one per core by default; one with ``--workers 1``),
each with its own graph and its thread pools (OpenBLAS, OpenMP) at one thread (20 % faster per
file than two threads on small matrices, and one core per worker). They ignore SIGINT so that a
Ctrl-C reaches only the driver, which stops them, removes the results they were writing and
leaves the manifest consistent: rerunning the command resumes. Ray actors: ``cluster``.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from ..hosts.stop_signals import StopSignals
from .inputs import Job
from .manifest import Manifest
from .worker import Analyser, BatchOptions

log = logging.getLogger(__name__)


@dataclass
class BatchReport:
    """What one ``run_batch`` did: counts of this run's inputs by outcome, the audio seconds
    analysed, wall seconds, workers, the errors (file, line) and the stopping signal if any."""

    inputs: int = 0
    before: int = 0  # listed by the manifest already (done, same or error): not read again
    done: int = 0
    same: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    errors_before: list[tuple[str, str]] = field(default_factory=list)
    audio_s: float = 0.0
    wall_s: float = 0.0
    workers: int = 0
    backend: str = "local"
    signum: int | None = None

    @property
    def finished(self) -> int:
        return self.done + self.same + len(self.errors)


def sweep_parts(out: Path) -> int:
    """Remove the ``.part`` files under ``OUT/jsonl`` and ``OUT/parquet`` (results a stopped or
    killed run was writing); returns how many."""
    removed = 0
    for sub in ("jsonl", "parquet"):
        if not (out / sub).is_dir() or (out / sub).is_symlink():  # never sweep through a link
            continue
        for root, _, files in os.walk(out / sub):  # (links to folders inside are not followed)
            for name in files:
                p = Path(root) / name
                if name.endswith(".part") and p.is_file() and not p.is_symlink():
                    p.unlink()
                    removed += 1
    return removed


def plan(jobs: list[Job], manifest: Manifest, retry_errors: bool, report: BatchReport) -> list[Job]:
    """The jobs still to do (the manifest's known files skipped: counted in ``report``)."""
    todo = []
    for job in jobs:
        entry = manifest.known(job.path, job.size, job.mtime_ns)
        if entry is None or (entry["status"] == "error" and retry_errors):
            todo.append(job)
            continue
        report.before += 1
        if entry["status"] == "error":
            report.errors_before.append((job.path, entry.get("error", "")))
    return todo


# -- local worker processes --------------------------------------------------------------------
#: thread-pool sizes set to 1 for local workers (Ray does the same for its actors)
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
_ANALYSER: Analyser | None = None


def _init_local(options: BatchOptions, out: str, known: dict) -> None:
    global _ANALYSER
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    _ANALYSER = Analyser(options, out, known)


def _analyse_local(job: Job) -> dict:
    return _ANALYSER.analyse(job)


def _crashed(job: Job) -> dict:
    return {"file": job.path, "name": job.name, "size": job.size, "mtime_ns": job.mtime_ns, "status": "error",
            "error": "the worker process died analysing this file (a crash in a decoder or a model)"}


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate the pool's processes now (mid-file on a signal: their .part files are swept)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14+
    if terminate is not None:
        terminate()
    else:
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def _pool_pass(queue: deque, workers: int, init: tuple, record, signals) -> list[Job]:
    """Run ``queue``'s jobs on a fresh pool of ``workers`` spawned processes until it is empty,
    a stop signal comes, or a worker dies; returns the jobs in flight when one died."""
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_local, initargs=init)
    pending: dict = {}
    try:
        while queue or pending:
            while queue and len(pending) < 2 * workers:  # one running, one queued per worker
                job = queue.popleft()
                pending[pool.submit(_analyse_local, job)] = job
            if signals.raised:
                return []
            finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in finished:
                job = pending.pop(future)
                try:
                    entry = future.result()
                except BrokenProcessPool:
                    return [job, *pending.values()]
                record(entry)
        return []
    finally:
        _stop_workers(pool)


def _run_local(todo: list[Job], options: BatchOptions, out: Path, known: dict, workers: int, record, signals) -> None:
    """``todo`` on ``workers`` local processes. When a worker dies (a crash in native code), the
    files it may have held are analysed again one at a time, so only the file that kills a
    worker is recorded as failing; the others go on."""
    if not todo:
        return
    saved = {v: os.environ.get(v) for v in THREAD_VARS}
    for var in THREAD_VARS:  # one core per worker: BLAS/OpenMP pools of their own would oversubscribe
        os.environ.setdefault(var, "1")  # (inherited by the spawned workers; a value the user set is kept)
    init = (options, str(out), known)
    queue, suspects = deque(todo), deque()
    try:
        while (queue or suspects) and not signals.raised:
            if suspects:  # alone on a pool of its own: a crash now is this file's
                job = suspects.popleft()
                if _pool_pass(deque([job]), 1, init, record, signals):
                    record(_crashed(job))
            else:
                suspects.extend(_pool_pass(queue, workers, init, record, signals))
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


# -- the driver --------------------------------------------------------------------------------
def run_batch(jobs: list[Job], options: BatchOptions, out: Path, manifest: Manifest, workers: int,
              ray_address: str | None = None, retry_errors: bool = False, progress=None) -> BatchReport:
    """Analyse every job not done yet; record each in ``manifest`` as it finishes.

    Args:
        workers: local processes, or Ray actors with ``ray_address`` (connected by
            ``cluster.ray_workers`` first).
        progress: called with the report after each file (e.g. a progress bar's update).

    Returns:
        The report (``signum`` set when a stop signal ended it early).
    """
    report = BatchReport(inputs=len(jobs), workers=workers, backend="ray" if ray_address else "local")
    sweep_parts(out)  # what a killed run left
    todo = plan(jobs, manifest, retry_errors, report)
    t0 = time.perf_counter()

    def record(entry: dict) -> None:
        entry["at"] = round(time.time(), 3)  # when it finished (UNIX time): rates, ordering
        manifest.append(entry)
        if entry["status"] == "error":
            report.errors.append((entry["file"], entry["error"]))
        else:
            setattr(report, entry["status"], getattr(report, entry["status"]) + 1)
            if entry["status"] == "done":
                report.audio_s += entry["audio_s"]
        report.wall_s = time.perf_counter() - t0
        if progress is not None:
            progress(report)

    if ray_address:
        from .cluster import run_on_ray as runner
    else:
        runner = _run_local
    with StopSignals() as signals:
        try:
            runner(todo, options, out, manifest.known_results(), workers, record, signals)
        finally:
            report.signum = signals.signum
            report.wall_s = time.perf_counter() - t0
            if signals.raised:
                if ray_address:
                    time.sleep(1.0)  # ray.kill is asynchronous: let the actors' processes go first
                sweep_parts(out)
    return report

"""The batch driver: which inputs are still to do, local worker processes or Ray actors,
the manifest, the progress bar, and a clean stop on Ctrl-C/SIGTERM (``hosts.stop_signals``).

Local workers are ``spawn``-ed processes (one per core by default; one with ``--workers 1``),
each with its own graph and its thread pools (OpenBLAS, OpenMP) at one thread — 20 % faster per
file than two threads on small matrices, and one core per worker; they ignore SIGINT so that a Ctrl-C reaches only the driver, which stops them, removes the
results they were writing and leaves the manifest consistent: rerunning the command resumes.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import time
from collections import deque
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
        for root, _, files in os.walk(out / sub):
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


def _init_local(options: BatchOptions, out: str, done: dict) -> None:
    global _ANALYSER
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    _ANALYSER = Analyser(options, out, done)


def _analyse_local(job: Job) -> dict:
    return _ANALYSER.analyse(job)


def _run_local(todo: list[Job], options: BatchOptions, out: Path, done: dict, workers: int, record, signals) -> None:
    if not todo:
        return
    for var in THREAD_VARS:  # one core per worker: BLAS/OpenMP pools of their own would oversubscribe
        os.environ.setdefault(var, "1")  # (inherited by the spawned workers; a value the user set is kept)
    pool = mp.get_context("spawn").Pool(workers, initializer=_init_local, initargs=(options, str(out), done))
    try:
        results = pool.imap_unordered(_analyse_local, todo, chunksize=1)
        for _ in range(len(todo)):
            while True:
                if signals.raised:
                    return
                try:
                    entry = results.next(timeout=0.2)
                    break
                except mp.TimeoutError:
                    continue
            record(entry)
    finally:
        pool.terminate()  # stops workers mid-file on a signal; their .part files are swept
        pool.join()


# -- Ray ---------------------------------------------------------------------------------------
class RaySetupError(ValueError):
    """Ray is missing or no cluster answers at ``--ray`` (one line, exit 2)."""


def _connect_ray(address: str):
    try:
        import ray
    except ImportError:
        raise RaySetupError("--ray needs the 'ray' module: pip install 'rtmir[batch]'") from None
    if address != "auto":
        _probe(address)
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False,
                 configure_logging=True)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RaySetupError(f"--ray {address}: no Ray cluster answers ({str(exc).splitlines()[0]}); "
                            f"start one with `ray start --head` or give its HOST:PORT") from None
    return ray


def _probe(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast, with one line, when nothing listens at ``HOST:PORT`` (Ray itself retries
    for minutes)."""
    import socket

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RaySetupError(f"--ray {address}: give auto or the head's HOST:PORT (e.g. 10.0.0.5:6379)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise RaySetupError(f"--ray {address}: no Ray cluster answers ({exc.strerror or exc}); "
                            f"start one with `ray start --head` or give its HOST:PORT") from None


def ray_workers(address: str, workers: int | None) -> int:
    """Connect to the cluster at ``address``; the number of actors to run (``workers`` or one
    per CPU of the cluster)."""
    ray = _connect_ray(address)
    return workers or max(1, int(ray.cluster_resources().get("CPU", 1)))


def _run_ray(todo: list[Job], options: BatchOptions, out: Path, done: dict, workers: int, record, signals) -> None:
    import ray
    from ray.exceptions import RayActorError, RayTaskError

    actor_class = ray.remote(num_cpus=1)(Analyser)
    done_ref = ray.put(done)
    actors = [actor_class.remote(options, str(out), done_ref) for _ in range(workers)]
    queue, pending = deque(todo), {}

    def submit(actor) -> None:
        if queue:
            job = queue.popleft()
            pending[actor.analyse.remote(job)] = (actor, job)

    try:
        for actor in actors:
            for _ in range(2):  # one running, one queued: no idle gap between files
                submit(actor)
        while pending:
            if signals.raised:
                return
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.2)
            for ref in ready:
                actor, job = pending.pop(ref)
                try:
                    entry = ray.get(ref)
                except (RayActorError, RayTaskError) as exc:
                    entry = {"file": job.path, "name": job.name, "size": job.size, "mtime_ns": job.mtime_ns,
                             "status": "error", "error": f"the Ray worker failed: {str(exc).splitlines()[0]}"}
                    ray.kill(actor)
                    actor = actor_class.remote(options, str(out), done_ref)
                record(entry)
                submit(actor)
    finally:
        for actor in actors:
            ray.kill(actor)
        ray.shutdown()


# -- the driver --------------------------------------------------------------------------------
def run_batch(jobs: list[Job], options: BatchOptions, out: Path, manifest: Manifest, workers: int,
              ray_address: str | None = None, retry_errors: bool = False, progress=None) -> BatchReport:
    """Analyse every job not done yet; record each in ``manifest`` as it finishes.

    Args:
        workers: local processes, or Ray actors with ``ray_address`` (connected by
            ``ray_workers`` first).
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

    runner = _run_ray if ray_address else _run_local
    with StopSignals() as signals:
        try:
            runner(todo, options, out, dict(manifest.done), workers, record, signals)
        finally:
            report.signum = signals.signum
            report.wall_s = time.perf_counter() - t0
            if signals.raised:
                sweep_parts(out)
    return report

"""``rtmir batch --ray``: the batch's workers as actors of a Ray cluster (the ``batch`` extra).

One actor per cluster CPU (or ``--workers``), two files in flight per actor. Ray is imported
only here and only with ``--ray``. An actor that dies takes its files in flight with it: each is
tried again once on a fresh actor, then recorded as an error; actors that keep dying before they
finish anything (a model missing on a node) stop the batch with one line.
"""
from __future__ import annotations

import logging
import socket
from collections import deque
from pathlib import Path

from .inputs import Job
from .worker import Analyser, BatchOptions

#: tries of a file whose actor died under it
ATTEMPTS = 2


class RaySetupError(ValueError):
    """Ray is missing, no cluster answers at ``--ray``, or its actors cannot start (one line, exit 2)."""


def probe(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast, with one line, when nothing listens at ``HOST:PORT`` (Ray itself retries for
    minutes).

    Raises:
        RaySetupError: a malformed address, or nothing listening.
    """
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RaySetupError(f"--ray {address}: give auto or the head's HOST:PORT (e.g. 10.0.0.5:6379)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise RaySetupError(f"--ray {address}: no Ray cluster answers ({exc.strerror or exc}); "
                            f"start one with `ray start --head` or give its HOST:PORT") from None


def connect(address: str):
    """``ray``, connected to the cluster at ``address`` (``auto``: the one ``ray start`` made here).

    Raises:
        RaySetupError: no ray module or no cluster.
    """
    try:
        import ray
    except ImportError:
        raise RaySetupError("--ray needs the 'ray' module: pip install 'rtmir[batch]'") from None
    if address != "auto":
        probe(address)
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RaySetupError(f"--ray {address}: no Ray cluster answers ({str(exc).splitlines()[0]}); "
                            f"start one with `ray start --head` or give its HOST:PORT") from None
    return ray


def ray_workers(address: str, workers: int | None) -> int:
    """Connect to the cluster at ``address``; the number of actors to run (``workers`` or one
    per CPU of the cluster)."""
    ray = connect(address)
    return workers or max(1, int(ray.cluster_resources().get("CPU", 1)))


def _failed(job: Job, why: str) -> dict:
    return {"file": job.path, "name": job.name, "size": job.size, "mtime_ns": job.mtime_ns, "status": "error",
            "error": why}


def run_on_ray(todo: list[Job], options: BatchOptions, out: Path, known: dict, workers: int, record, signals) -> None:
    """Analyse ``todo`` on ``workers`` actors (connected by ``ray_workers``); ``record(entry)``
    as each finishes; returns early when ``signals.raised`` (every actor killed)."""
    import ray
    from ray.exceptions import RayActorError, RayError

    actor_class = ray.remote(num_cpus=1)(Analyser)
    known_ref = ray.put(known)
    actors = [actor_class.remote(options, str(out), known_ref) for _ in range(workers)]
    queue, pending, tries = deque(todo), {}, {}
    replaced: dict[int, object] = {}  # id of a dead actor's handle -> its replacement
    deaths_in_a_row = 0

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
                    deaths_in_a_row = 0
                except RayError as exc:
                    tries[job.path] = tries.get(job.path, 0) + 1
                    if isinstance(exc, RayActorError):
                        if id(actor) in replaced:  # its other file in flight: the actor is replaced already
                            actor = replaced[id(actor)]
                        else:
                            deaths_in_a_row += 1
                            if deaths_in_a_row > 2 * workers:
                                raise RaySetupError(f"--ray: the batch's actors die before finishing a file "
                                                    f"({str(exc).splitlines()[0]}); are rtmir and its models "
                                                    f"installed on every node?") from None
                            fresh = actor_class.remote(options, str(out), known_ref)
                            actors[actors.index(actor)] = replaced[id(actor)] = fresh
                            actor = fresh
                    if tries[job.path] < ATTEMPTS:
                        queue.appendleft(job)
                        submit(actor)
                        continue
                    entry = _failed(job, f"the Ray worker failed: {str(exc).splitlines()[0]}")
                record(entry)
                submit(actor)
    finally:
        for actor in actors:
            ray.kill(actor)
        ray.shutdown()

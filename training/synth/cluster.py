"""Rendering a dataset on a Ray cluster: ``python -m training.synth ... --ray auto|HOST:PORT``.

One actor per CPU keeps a FluidSynth renderer loaded; actor ``make(index)`` synthesizes example
``index`` exactly as a local worker does (everything drawn from ``SeedSequence([seed, index])``)
and returns the example's files as bytes, which this process writes to ``OUT/NNNNNN.tmp/`` and
renames: ``OUT`` need not be shared with the cluster, and the dataset is byte for byte the one a
local render makes. The soundfonts must be at the same paths on every node (the Debian
packages). Ray is imported only here (``pip install 'rtmir[batch]'``).
"""
from __future__ import annotations

import logging
import shutil
import tempfile
from collections import deque
from pathlib import Path

from .build import BuildConfig, SoundfontInfo, example_dir, synthesize, write_example
from .render import RenderConfig, Renderer


class ClusterError(ValueError):
    """Ray is missing or no cluster answers (one line, exit 2)."""


class RenderActor:
    """A Ray actor: a renderer at the build's rate, and the examples it is asked for."""

    def __init__(self, cfg: BuildConfig, fonts: list[SoundfontInfo], backend: str = "lib") -> None:
        self.cfg, self.fonts = cfg, fonts
        self.renderer = Renderer(RenderConfig(cfg.sample_rate, backend=backend))

    def make(self, index: int) -> dict[str, bytes]:
        """Example ``index``'s files, ``{relative path: bytes}``."""
        with tempfile.TemporaryDirectory(prefix="rtmir-synth-") as tmp:
            folder = Path(tmp) / "example"
            write_example(folder, *synthesize(self.cfg, index, self.fonts, self.renderer))
            return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def check_address(address: str) -> None:
    """Refuse, with one line, a ``--ray`` value with no ray module or no cluster listening.

    Raises:
        ClusterError: see above.
    """
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise ClusterError("--ray needs the 'ray' module: pip install 'rtmir[batch]'")
    if address != "auto":
        from rtmir.batch.cluster import RaySetupError, probe

        try:
            probe(address)
        except RaySetupError as exc:
            raise ClusterError(str(exc)) from None


def connect(address: str):
    """``ray`` connected to the cluster at ``address``.

    Raises:
        ClusterError: no ray module, or no cluster there.
    """
    check_address(address)
    import ray

    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(f"--ray {address}: no Ray cluster answers ({str(exc).splitlines()[0]})") from None
    return ray


def write_files(out: Path, index: int, files: dict[str, bytes]) -> None:
    """Write one example's files to ``OUT/NNNNNN.tmp/`` and rename it complete."""
    tmp = out / f"{index:06d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for rel, data in files.items():
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    tmp.rename(example_dir(out, index))


def run_on_ray(cfg: BuildConfig, out: Path, indices: list[int], fonts: list[SoundfontInfo], address: str,
               actors: int | None = None, progress=None) -> int:
    """Make the examples ``indices`` on the cluster at ``address`` with ``actors`` actors (default
    one per cluster CPU); ``progress(seconds)`` after each. Returns the number of actors.

    Raises:
        ClusterError: no cluster. RuntimeError: an example failed on the cluster (its index).
    """
    ray = connect(address)
    try:
        n = actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
        remote = ray.remote(num_cpus=1)(RenderActor)
        workers = [remote.remote(cfg, fonts) for _ in range(n)]
        queue, pending = deque(indices), {}

        def submit(worker) -> None:
            if queue:
                i = queue.popleft()
                pending[worker.make.remote(i)] = (worker, i)

        for w in workers:
            for _ in range(2):  # one rendering, one queued
                submit(w)
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            worker, index = pending.pop(ready[0])
            try:
                files = ray.get(ready[0])
            except Exception as exc:
                raise RuntimeError(f"example {index} failed on the cluster: {str(exc).splitlines()[0]}") from None
            write_files(out, index, files)
            if progress:
                progress(cfg.duration_s)
            submit(worker)
        return n
    finally:
        ray.shutdown()

"""One batch worker: the graph built once, then any number of files, each through a fresh
engine exactly as ``rtmir stream FILE`` runs it (same graph, block and sinks' formatting).

The same class runs in a local worker process and as a Ray actor; it writes the file's outputs
under ``OUT`` itself (on a cluster ``OUT`` and the inputs must be at the same paths on every
node: a shared mount) and returns the manifest entry.
"""
from __future__ import annotations

import argparse
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from ..core.engine import Engine
from ..hosts.file_host import FileHost, truncation_warning
from ..sinks.files import JsonlSink
from ..sinks.output_path import OutputError
from .inputs import Job
from .manifest import sha256_of
from .tables import TableSink


@dataclass(frozen=True)
class BatchOptions:
    """What every file of a batch is analysed with (``batch.json`` records it).

    Attributes:
        tasks: ``--task`` values (empty: the default task, or ``graph``).
        model: ``--model`` (zoo name or .onnx path), or None.
        graph: ``--graph`` TOML path, or None.
        block: host block, samples (results do not depend on it: streaming = offline).
        fmin_hz / fmax_hz: ``--fmin`` / ``--fmax``, or None.
        parquet: write the Parquet tables too.
    """

    tasks: tuple[str, ...] = ()
    model: str | None = None
    graph: str | None = None
    block: int = 4096
    fmin_hz: float | None = None
    fmax_hz: float | None = None
    parquet: bool = True

    def namespace(self) -> argparse.Namespace:
        """The options as ``rtmir stream``'s parsed arguments (for ``cli.common``)."""
        return argparse.Namespace(task=list(self.tasks) or None, model=self.model, graph=self.graph,
                                  fmin=self.fmin_hz, fmax=self.fmax_hz, mode=None, seed=None, block=self.block)


def build_graph(options: BatchOptions):
    """The graph ``rtmir stream`` builds from the same options.

    Raises:
        the errors of ``cli.common.build_graph_from_args`` (one line each).
    """
    from ..cli.common import build_graph_from_args

    return build_graph_from_args(options.namespace())


def one_line(exc: BaseException) -> str:
    """An exception as one line for the manifest."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return first if isinstance(exc, (ValueError, OSError)) and first else f"{type(exc).__name__}: {first}"


def safe_parent(root: Path, name: str) -> Path:
    """``root/name``'s folder, created component by component below ``root`` (``OUT``, which
    may be a link the user named), never through a link or a non-folder (``rtmir`` does not
    write through links).

    Raises:
        OutputError: a component is a link or not a folder.
    """
    at = root
    for part in Path(name).parent.parts:
        at = at / part
        try:
            os.mkdir(at)
        except FileExistsError:
            pass
        mode = os.lstat(at).st_mode
        if not stat.S_ISDIR(mode):
            what = "a symbolic link" if stat.S_ISLNK(mode) else "not a folder"
            raise OutputError(f"--out: {at} is {what}; rtmir does not write through it")
    return at


def _real_file_below(root: Path, path: Path) -> bool:
    """``path`` is a regular file reached from ``root`` through real folders only (no link)."""
    at = root
    for part in path.relative_to(root).parts[:-1]:
        at = at / part
        if at.is_symlink() or not at.is_dir():
            return False
    return path.is_file() and not path.is_symlink()


def targets_of(out: Path, name: str, nodes: list[str]) -> tuple[Path, dict[str, Path]]:
    """Where a file's results go: its JSONL and each node's Parquet table."""
    return out / "jsonl" / f"{name}.jsonl", {n: out / "parquet" / n / f"{name}.parquet" for n in nodes}


class Analyser:
    """Analyses files with one graph (built here, once).

    Args:
        options: the batch's options. out: ``OUT``. known: what ``OUT`` holds already
            (``Manifest.known_results``): ``done``, sha256 -> the entry whose results hold those
            bytes (a file with them is not analysed again); ``names``, result name -> (input, sha256)
            of the results under it (another input's are never overwritten while it exists).
    """

    def __init__(self, options: BatchOptions, out: str, known: dict | None = None) -> None:
        known = known or {}
        self.options, self.out = options, Path(out)
        self.done, self.names = dict(known.get("done", {})), dict(known.get("names", {}))
        self.graph = build_graph(options)
        self.nodes = [n.name for n in self.graph.nodes]

    def analyse(self, job: Job) -> dict:
        """Analyse one file and write its results; returns its manifest entry (never raises for
        a bad file: the entry's status is ``error`` with a one-line ``error``)."""
        t0 = time.perf_counter()
        entry = {"file": job.path, "name": job.name, "size": job.size, "mtime_ns": job.mtime_ns}
        try:
            entry["sha256"] = sha = sha256_of(job.path)
            prior = self.done.get(sha)
            if prior is not None and self._outputs_exist(prior):
                entry.update(status="same", same_as=prior["name"], audio_s=prior.get("audio_s", 0.0), events=0)
                return entry
            owner, _ = self.names.get(job.name, (job.path, sha))
            if owner != job.path and os.path.exists(owner):  # never overwrite another input's results
                entry.update(status="error", error=f"its result name {job.name} holds {owner} in this --out; "
                                                   f"use another --out, or name a folder above both")
                return entry
            entry.update(self._stream(job))
            entry["status"] = "done"
            self.done[sha], self.names[job.name] = entry, (job.path, sha)
        except Exception as exc:  # any failure of one file is that file's, never the batch's
            entry.update(status="error", error=one_line(exc))
            self._remove_results(job.name)  # an earlier run's results are not this content's
        entry["wall_s"] = round(time.perf_counter() - t0, 4)
        return entry

    def _remove_results(self, name: str) -> None:
        jsonl, parquet = targets_of(self.out, name, self.nodes)
        for path in (jsonl, *parquet.values()):
            if _real_file_below(self.out, path):
                path.unlink()

    def _outputs_exist(self, entry: dict) -> bool:
        jsonl, _ = targets_of(self.out, entry["name"], [])
        return jsonl.is_file()

    def _stream(self, job: Job) -> dict:
        jsonl_path, parquet = targets_of(self.out, job.name, self.nodes)
        host = FileHost(job.path, block=self.options.block)  # probes the file first
        engine = Engine(self.graph)
        safe_parent(self.out, f"jsonl/{job.name}")
        jsonl = JsonlSink(jsonl_path, "--out (jsonl)", inputs=(job.path,))
        table = TableSink(job.path) if self.options.parquet else None
        engine.add_sinks([jsonl] + ([table] if table is not None else []))
        try:
            summary = host.run(engine)
            if table is not None:
                for node in table.columns:
                    safe_parent(self.out, f"parquet/{node}/{job.name}")
                table.write(parquet)
                for node in set(self.nodes) - set(table.columns):  # no events now: no stale table
                    stale = parquet[node]
                    if stale.is_file() and not stale.is_symlink():
                        stale.unlink()
        except BaseException:
            jsonl.discard()
            raise
        engine.close()  # the JSONL into place
        return {"audio_s": round(summary["audio_seconds"], 6), "events": summary["events"],
                "rows": dict(table.rows) if table is not None else {},
                "warning": truncation_warning(summary) or (
                    f"replaced {summary['nonfinite_samples']} non-finite samples with 0"
                    if summary["nonfinite_samples"] else None)}

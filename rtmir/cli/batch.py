"""``rtmir batch``: the ``rtmir stream`` graph over files, folders and globs (``rtmir/batch``).

    rtmir batch ~/music --task pitch --task tags --out results/ [--workers N | --ray auto|HOST:PORT]

Exit codes: 0 every input analysed (now or before); 2 bad usage (one line, nothing written) or
some input could not be analysed (each named with its one-line error; the rest were done and
the manifest records them); 128 + N when signal N stopped it (rerun the command to resume).
"""
from __future__ import annotations

import argparse
import math
import os
import re
import sys
from pathlib import Path

from .common import UsageError, check_block

#: input errors listed by name at the end of a run (the manifest holds them all)
SHOWN_ERRORS = 10


def add_parser(sub) -> argparse.ArgumentParser:
    """Add the ``batch`` subcommand to ``sub`` (an argparse subparsers object)."""
    from ..tasks.registry import DEFAULT_TASK, TASKS

    p = sub.add_parser("batch", help="analyse many files (folders, globs) on local cores or a Ray cluster, resumable",
                       description="Each file gets exactly the events `rtmir stream FILE --jsonl` gives, as "
                                   "OUT/jsonl/NAME.jsonl and rows of OUT/parquet/NODE/NAME.parquet; "
                                   "OUT/manifest.jsonl records what is done (rerun to resume).")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files, folders (searched recursively), globs")
    p.add_argument("--out", required=True, metavar="DIR", help="results folder (created; resumed if it holds a batch)")
    p.add_argument("--task", action="append", metavar="T",
                   help=f"processor to run (repeatable; default {DEFAULT_TASK}): " + ", ".join(sorted(TASKS)))
    p.add_argument("--model", metavar="NAME|PATH", help="zoo model name or .onnx path (for --task model)")
    p.add_argument("--graph", metavar="FILE.toml", help="a graph of nodes (instead of --task)")
    p.add_argument("--block", type=int, default=4096, metavar="N", help="host block in samples (default 4096, as stream)")
    p.add_argument("--fmin", type=float, metavar="HZ", help="lowest pitch searched by pitch and yin")
    p.add_argument("--fmax", type=float, metavar="HZ", help="highest pitch searched by pitch and yin")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes (default: one per core) or, with --ray, actors (default: one per cluster CPU)")
    p.add_argument("--ray", metavar="auto|HOST:PORT", help="run the workers on this Ray cluster (pip install 'rtmir[batch]')")
    p.add_argument("--no-parquet", action="store_true", help="JSONL only (no pyarrow needed)")
    p.add_argument("--retry-errors", action="store_true", help="analyse again the inputs the manifest records as failed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    return p


def _options(args):
    from ..batch.worker import BatchOptions

    check_block(args.block)
    for name in ("fmin", "fmax"):
        value = getattr(args, name)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UsageError(f"--{name} must be a positive frequency in Hz, got {value:g}")
    if args.workers is not None and not 1 <= args.workers <= 4096:
        raise UsageError(f"--workers must be 1…4096, got {args.workers}")
    if not args.no_parquet:
        from ..batch.tables import have_pyarrow

        if not have_pyarrow():
            raise UsageError("the Parquet tables need pyarrow: pip install 'rtmir[batch]', or give --no-parquet")
    return BatchOptions(tasks=tuple(args.task or ()), model=args.model, graph=args.graph, block=args.block,
                        fmin_hz=args.fmin, fmax_hz=args.fmax, parquet=not args.no_parquet)


def _digest(path: str | Path) -> str:
    from ..batch.manifest import sha256_of

    return sha256_of(path)[:16]


def config_record(options, graph) -> dict:
    """``batch.json``: what decides the results (options, rtmir, every model's bytes)."""
    from .. import __version__
    from ..zoo import zoo_models

    models = {p.name: _digest(p) for p in zoo_models()}
    for value in (options.model, options.graph) + tuple(n.spec.model for n in graph.nodes if getattr(n.spec, "model", None)):
        if value and Path(value).is_file():
            models[str(Path(value).resolve())] = _digest(value)
    return {"rtmir": __version__, "tasks": list(options.tasks), "model": options.model,
            "graph": options.graph and _digest(options.graph),
            "nodes": [n.name for n in graph.nodes], "block": options.block, "fmin_hz": options.fmin_hz,
            "fmax_hz": options.fmax_hz, "parquet": options.parquet, "models": models}


def _out_dir(text: str) -> Path:
    from ..sinks.output_path import OutputError

    if text == "":
        raise OutputError("--out: empty path")
    out = Path(text)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--out: cannot create {out}: {exc.strerror}") from None
    if not out.is_dir():
        raise OutputError(f"--out: {out} is not a folder")
    if not os.access(out, os.W_OK):
        raise OutputError(f"--out: folder is not writable: {out}")
    return out


def run(args) -> int:
    """``rtmir batch``: everything checked first (one line, exit 2), then the batch."""
    from ..batch.inputs import expand, jobs_of
    from ..batch.manifest import Manifest, open_config
    from ..batch.cluster import ray_workers
    from ..batch.run import run_batch
    from ..batch.worker import build_graph

    options = _options(args)
    graph = build_graph(options)  # a bad task, model or graph: one line before anything is written
    for node in graph.nodes:  # each node's table is a folder under OUT/parquet
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", node.name):
            raise UsageError(f"graph node {node.name!r}: rtmir batch needs node names of letters, digits, '_', '-' "
                             f"and '.' (each names a folder of results)")
    jobs = jobs_of(expand(args.inputs))
    if args.ray:  # a cluster that does not answer: one line before OUT is made
        workers = ray_workers(args.ray, args.workers)
    else:
        workers = args.workers or len(os.sched_getaffinity(0))
    out = _out_dir(args.out)
    open_config(out, config_record(options, graph))
    manifest = Manifest(out)
    try:
        with _progress(len(jobs), show=not args.no_progress and sys.stderr.isatty()) as update:
            report = run_batch(jobs, options, out, manifest, workers, args.ray, args.retry_errors, update)
    finally:
        manifest.close()
    return _summary(report, out)


class _progress:
    """A rich progress bar on stderr (files done, files/s, audio hours/s, ETA); a no-op
    when not shown."""

    def __init__(self, total: int, show: bool) -> None:
        self.total, self.show = total, show

    def __enter__(self):
        if not self.show:
            return lambda report: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("rtmir batch"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                            TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True))
        self.bar.start()
        self.task = self.bar.add_task("batch", total=self.total, rate="")

        def update(report) -> None:
            wall = max(report.wall_s, 1e-9)
            rate = (f"{report.finished / wall:.2f} files/s · {report.audio_s / 3600 / wall:.4f} audio h/s "
                    f"({report.audio_s / wall:.0f}× real time)")
            self.bar.update(self.task, completed=report.before + report.finished, rate=rate)

        self.bar.update(self.task, completed=0)
        return update

    def __exit__(self, *exc) -> None:
        if self.show:
            self.bar.stop()


def _summary(report, out: Path) -> int:
    from .common import stopped_by

    wall_h = report.wall_s / 3600
    rate = f" ({report.audio_s / 3600 / wall_h:.1f} audio h per wall h)" if wall_h > 0 and report.audio_s else ""
    where = f"{report.workers} Ray actor{'s' * (report.workers != 1)}" if report.backend == "ray" else \
        f"{report.workers} worker{'s' * (report.workers != 1)}"
    print(f"rtmir batch: {report.inputs} inputs: {report.done} analysed, {report.same} same bytes as one done, "
          f"{len(report.errors)} failed, {report.before} done before; {report.audio_s / 3600:.3f} h of audio in "
          f"{report.wall_s:.1f} s{rate} with {where}; results in {out}", file=sys.stderr)
    errors = report.errors + report.errors_before
    for path, line in errors[:SHOWN_ERRORS]:
        print(f"rtmir: {path}: {line}", file=sys.stderr)
    if len(errors) > SHOWN_ERRORS:
        print(f"rtmir: … and {len(errors) - SHOWN_ERRORS} more in {out / 'manifest.jsonl'}", file=sys.stderr)
    if report.errors_before:
        print(f"rtmir: {len(report.errors_before)} failed in an earlier run (--retry-errors tries them again)",
              file=sys.stderr)
    if report.signum is not None:
        left = report.inputs - report.before - report.finished
        print(f"rtmir: {left} inputs left: run the same command again to resume", file=sys.stderr)
        return stopped_by(report.signum)
    return 2 if errors else 0

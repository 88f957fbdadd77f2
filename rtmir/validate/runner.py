"""Which subjects ``rtmir validate`` checks, running every check on each, and the report.

    --task T [--model M]   the registry's processor T (over model M)
    --model PATH|NAME      the raw model processor (``--task model``) over that file
    --graph G              the whole graph G, and each audio-fed or generator node of it alone
    --all                  every registry task that builds without arguments, and ``model``
                           over every model in the zoo

Each check gets its own generator seeded from (seed, check, subject), so one cell of the table
can be re-run alone (``--check NAME``) and gives the same figure.
"""
from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..core.graph import HOST, Endpoint, GraphSpec, build_graph
from . import checks, latency, robustness
from .harness import Subject, facts
from .levels import Level, level
from .result import FAIL, NA, PASS, Context, Result

log = logging.getLogger(__name__)

#: Every check, in table order: name → function(Context) -> Result (the keys are
#: ``levels.CHECK_NAMES``, which the command line lists without importing the engine).
CHECKS: dict[str, Callable[[Context], Result]] = {
    "blocks": checks.blocks,
    "rates": checks.rates,
    "stream": checks.stream_offline,
    "reset": checks.reset,
    "instances": checks.instances,
    "threads": checks.threads,
    "determinism": checks.determinism,
    "silence": robustness.silence,
    "extremes": robustness.extremes,
    "params": robustness.params,
    "refuse": robustness.refuse,
    "latency": latency.latency,
    "timing": robustness.timing,
}


# -- subjects ---------------------------------------------------------------------------------
def task_subject(task: str, model: str | None = None) -> Subject:
    """The registry's processor ``task`` (over ``model``), built once now so a bad name fails
    before any check runs. Named after the task, plus the model's file stem when the task
    opened the model given (``pitch:my-model``, ``model:pitch-tcn``).

    Raises:
        UnknownTaskError, ModelError: as ``tasks.registry.build_processor``.
    """
    from ..session import StreamingSession
    from ..tasks.registry import build_processor

    probe = build_processor(task, model)
    uses_model = model and isinstance(getattr(probe, "session", None), StreamingSession)
    name = f"{task}:{Path(model).stem}" if uses_model else task
    return Subject.of(name, lambda: build_processor(task, model))


def model_subject(model: str) -> Subject:
    """``--task model`` over ``model`` (a zoo name or an .onnx path), named ``model:<stem>``."""
    return task_subject("model", model)


def graph_subjects(path: str) -> list[Subject]:
    """The whole graph file, then each of its nodes alone on the host input (nodes stepping on
    tokens from an upstream node are checked within the whole graph only).

    Raises:
        GraphError, UnknownTaskError, ModelError: the graph does not build.
    """
    from ..tasks.registry import make_node

    spec = GraphSpec.from_toml(path)
    graph = build_graph(spec, make_node)  # checks it now
    name = Path(path).name
    out = [Subject(name, lambda: build_graph(spec, make_node))]
    for g in graph.nodes:
        fed = [p for p in g.desc.inputs if p.is_data and p.name in g.sources]
        if fed and fed[0].kind != "audio":
            continue
        # the node as written (params, placement, miss policy), alone on the host input
        alone = GraphSpec((g.spec,), ((Endpoint(HOST), Endpoint(g.name)),) if fed else ())
        out.append(Subject(f"{name}:{g.name}", lambda one=alone: build_graph(one, make_node)))
    return out


def all_subjects() -> tuple[list[Subject], list[str]]:
    """Every registry task that builds without arguments, then ``model`` over each zoo model;
    and a note for each task that could not be built."""
    from ..core.graph import GraphError
    from ..tasks.registry import TASKS, UnknownTaskError
    from ..zoo import read_card_file, zoo_models

    subjects, notes = [], []
    for task in TASKS:
        if task == "model":
            for p in zoo_models():
                fed = [i.kind for i in read_card_file(p).inputs if i.kind != "audio"]
                if fed:  # e.g. a codec decoder: its tokens come from another node, not the host
                    notes.append(f"model:{p.stem}: not validated alone: it takes {fed[0]}, not audio "
                                 f"(the task that feeds it validates it)")
                else:
                    subjects.append(model_subject(str(p)))
            continue
        try:
            subject = task_subject(task)
            subject.build()
            subjects.append(subject)
        except UnknownTaskError as exc:
            notes.append(f"{task}: not validated: {exc}")
        except GraphError as exc:  # a processor the host input cannot feed (tokens in)
            notes.append(f"{task}: not validated alone: {exc} (the task that feeds it validates it)")
    return subjects, notes


# -- running ----------------------------------------------------------------------------------
def _rng(seed: int, check: str, subject: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(check.encode()), zlib.crc32(subject.encode())])


def run_checks(subject: Subject, lvl: Level, seed: int = 0, only: list[str] | None = None,
               progress: Callable[[Result], None] | None = None) -> list[Result]:
    """Run the checks named in ``only`` (default: all, in ``CHECKS`` order) on ``subject``.

    A check that raises fails, with the exception as its figure (a processor that throws on a
    host's input fails the check that gave it that input).
    """
    info = facts(subject)
    results = []
    for name, check in CHECKS.items():
        if only is not None and name not in only:
            continue
        start = time.perf_counter()
        try:
            r = check(Context(subject, info, lvl, _rng(seed, name, subject.name)))
        except Exception as exc:  # the subject failed this check by raising
            log.debug("%s / %s raised", subject.name, name, exc_info=True)
            r = Result(name, subject.name, FAIL, f"raised {type(exc).__name__}: {' '.join(str(exc).split())}")
        r.seconds = time.perf_counter() - start
        results.append(r)
        if progress is not None:
            progress(r)
    return results


@dataclass
class Report:
    """Results of one ``rtmir validate`` run."""

    level: Level
    seed: int
    subjects: list[str]
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if r.status == FAIL]

    def as_json(self) -> dict:
        counts = {s: sum(r.status == s for r in self.results) for s in (PASS, FAIL, NA)}
        return {"strictness": self.level.strictness, "seed": self.seed, "level": self.level.as_json(),
                "processors": self.subjects, "checks": list(CHECKS), "seconds": round(self.seconds, 2),
                "summary": counts, "notes": self.notes, "results": [r.as_json() for r in self.results]}


def validate(subjects: list[Subject], strictness: int, seed: int = 0, only: list[str] | None = None,
             progress: Callable[[Result], None] | None = None,
             starting: Callable[[Subject], None] | None = None) -> Report:
    """Run the checks on every subject at ``strictness``; ``starting(subject)`` is called before
    a subject's checks, ``progress(result)`` after each check.

    Raises:
        ValueError: strictness outside 1…10, or an unknown check name in ``only``.
    """
    lvl = level(strictness)
    unknown = sorted(set(only or ()) - set(CHECKS))
    if unknown:
        raise ValueError(f"unknown check(s) {', '.join(unknown)}: choose from {', '.join(CHECKS)}")
    report = Report(lvl, seed, [s.name for s in subjects])
    start = time.perf_counter()
    for s in subjects:
        if starting is not None:
            starting(s)
        report.results += run_checks(s, lvl, seed, only, progress)
    report.seconds = time.perf_counter() - start
    return report


# -- the table --------------------------------------------------------------------------------
def format_table(report: Report) -> str:
    """The figures, one line per (processor, check), then the check × processor grid."""
    lines = [f"rtmir validate: {report.level.summary()}; seed {report.seed}", ""]
    width = max((len(c) for c in CHECKS), default=6)
    for subject in report.subjects:
        lines.append(subject)
        for r in (r for r in report.results if r.subject == subject):
            mark = r.status.upper() if r.status == FAIL else r.status
            lines.append(f"  {r.check:<{width}}  {mark:<4}  {r.figure}  [{r.seconds:.1f} s]")
        lines.append("")
    ran = [c for c in CHECKS if any(r.check == c for r in report.results)]
    cols = [max(len(s), 4) for s in report.subjects]
    lines.append(" " * (width + 4) + "  ".join(s.ljust(w) for s, w in zip(report.subjects, cols)))
    cell = {(r.subject, r.check): (r.status.upper() if r.status == FAIL else r.status) for r in report.results}
    for c in ran:
        lines.append(f"  {c:<{width}}" + "".join("  " + cell.get((s, c), "-").ljust(w)
                                               for s, w in zip(report.subjects, cols)))
    lines.append("")
    lines += report.notes
    n_fail = len(report.failed)
    lines.append(f"{len(report.results)} checks in {report.seconds:.1f} s: "
                 f"{sum(r.status == PASS for r in report.results)} pass, {n_fail} fail, "
                 f"{sum(r.status == NA for r in report.results)} n/a")
    return "\n".join(lines)

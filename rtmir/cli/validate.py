"""``rtmir validate``: run the pluginval-style checks (``rtmir/validate``, docs/VALIDATE.md).

    rtmir validate [--task T | --model PATH | --graph G | --all] [--strictness 1..10] [--json FILE]

Prints one line per (processor, check) with its figure, then the check × processor grid.
Exit codes: 0 every check passed or does not apply; 1 a check failed; 2 bad usage (one line,
raised as ``UsageError``; unknown tasks, models and graphs raise their own user errors).
"""
from __future__ import annotations

import argparse
import json
import sys

from ..sinks.output_path import OutputPlan, PartFile
from .common import UsageError

EXIT_FAILED = 1


def add_parser(sub) -> argparse.ArgumentParser:
    """Add the ``validate`` subcommand to ``sub`` (an argparse subparsers object)."""
    from ..tasks.registry import TASKS
    from ..validate.levels import CHECK_NAMES

    p = sub.add_parser("validate", help="check every processor the way hosts drive it (pluginval-style)",
                       description="Random block sizes 1…8192, rates 8k…192k, 1/2/6 channels, reset, two "
                                   "instances, threads, silence, NaN/Inf/DC/noise, parameter fuzz, latency, "
                                   "stream = offline. Exit 1 if a check fails. Levels: docs/VALIDATE.md.")
    p.add_argument("--task", action="append", metavar="T",
                   help="processor to validate (repeatable): " + ", ".join(sorted(TASKS)))
    p.add_argument("--model", metavar="NAME|PATH",
                   help="zoo model or .onnx file: alone, the raw model processor; with --task, its model")
    p.add_argument("--graph", metavar="FILE.toml", help="a graph: the whole graph and each node alone")
    p.add_argument("--all", action="store_true",
                   help="every task that builds without arguments, and the model task over every zoo model")
    p.add_argument("--strictness", type=int, default=5, metavar="1..10",
                   help="how much is run (default 5, what every task must pass; CI runs 3)")
    p.add_argument("--check", action="append", metavar="NAME",
                   help="run only this check (repeatable): " + ", ".join(CHECK_NAMES))
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    return p


def subjects(args) -> tuple[list, list[str]]:
    """The subjects the options name, and notes on tasks ``--all`` could not build.

    Raises:
        UsageError: no target, or targets that do not combine.
        UnknownTaskError, ModelError, GraphError: a target that does not build.
    """
    from ..validate.runner import all_subjects, graph_subjects, model_subject, task_subject

    tasks, model, graph = args.task or [], args.model, args.graph
    if args.all:
        if tasks or model or graph:
            raise UsageError("--all validates everything: give it without --task, --model or --graph")
        return all_subjects()
    if graph:
        if tasks or model:
            raise UsageError("give --graph FILE or --task/--model, not both")
        return graph_subjects(graph), []
    if tasks:
        return [task_subject(t, model) for t in tasks], []
    if model:
        return [model_subject(model)], []
    raise UsageError("nothing to validate: give --task T, --model NAME|PATH, --graph FILE or --all")


def run(args) -> int:
    """Validate what ``args`` names; print the table; 0 all passed, 1 a check failed.

    Raises:
        UsageError: bad strictness, unknown check, bad targets.
        OutputError: ``--json`` refused or not creatable (``sinks.output_path``; checked first).
    """
    from ..validate.runner import CHECKS, format_table, validate

    if not 1 <= args.strictness <= 10:
        raise UsageError(f"--strictness must be 1…10, got {args.strictness}")
    unknown = sorted(set(args.check or ()) - set(CHECKS))
    if unknown:
        raise UsageError(f"--check: unknown check {unknown[0]!r}: choose from {', '.join(CHECKS)}")
    targets, notes = subjects(args)
    out = None if args.json is None else PartFile(OutputPlan().claim(args.json, "--json"), "w", "--json")

    def starting(subject) -> None:
        print(f"rtmir: validating {subject.name} …", file=sys.stderr, flush=True)

    try:
        report = validate(targets, args.strictness, seed=args.seed, only=args.check, starting=starting)
        report.notes += notes
        print(format_table(report))
        if out is not None:
            out.file.write(json.dumps(report.as_json(), indent=2) + "\n")
    except BaseException:
        if out is not None:
            out.discard()
        raise
    if out is not None:
        out.commit()
    return EXIT_FAILED if report.failed else 0

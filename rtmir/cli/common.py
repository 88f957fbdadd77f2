"""What every ``rtmir`` command shares: the graph from ``--task``/``--graph``, sinks, control.

Every input is validated before any output is opened, so a bad input leaves nothing
half-written; errors are raised as ``UsageError`` and the types in ``commands.USER_ERRORS``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..core.engine import Engine
from ..core.graph import parallel_graph
from ..core.graph import Graph, GraphError, GraphSpec, Route, build_graph
from ..sinks.files import AudioFileSink, JsonlSink, OutputError
from ..tasks.registry import DEFAULT_TASK, build_processor, make_node


class UsageError(ValueError):
    """A command-line value is out of range or malformed."""


class DeviceLost(RuntimeError):
    """The audio device stopped mid-stream (outputs were flushed)."""


def check_block(block: int) -> None:
    if not 1 <= block <= 8192:
        raise UsageError(f"--block must be 1…8192 samples, got {block}")


def build_processors(args) -> list:
    """One processor per ``--task`` (default: the default task)."""
    return [build_processor(t, args.model) for t in (args.task or [DEFAULT_TASK])]


def build_graph_from_args(args, files: bool = False) -> Graph:
    """The graph of ``--graph FILE``, or the short form of ``--task`` (parallel nodes).

    With ``files`` (``--out-dir`` on a file stream) the short form routes every audio port to
    a file as well as to consecutive output channels.

    Raises:
        UsageError: both ``--graph`` and ``--task``.
        GraphError: the graph does not check.
    """
    if getattr(args, "graph", None):
        if args.task:
            raise UsageError("give --graph FILE or --task, not both")
        return build_graph(GraphSpec.from_toml(args.graph), make_node)
    graph = parallel_graph(build_processors(args))
    if files:
        graph.routes += [Route(r.src, file="") for r in list(graph.routes) if r.channel]
    return graph


def audio_file_sinks(graph: Graph, out_dir: str | None, sample_rate: int, inputs: tuple[Path, ...] = ()
                     ) -> list[tuple[str, str, AudioFileSink]]:
    """One ``AudioFileSink`` per file route, in ``out_dir``: ``<port>.wav``, or
    ``<node>_<port>.wav`` when two routed nodes share a port name, or the route's own name.

    Raises:
        UsageError: file routes without ``--out-dir``, two routes to one name, or a name that
            is one of the inputs.
        OutputError: a file cannot be created (those made so far are discarded).
    """
    routes = [r for r in graph.routes if r.file is not None]
    if not routes:
        return []
    if not out_dir:
        raise UsageError("the graph routes audio to files: give --out-dir DIR")
    ports = [r.src.port for r in routes]
    made: list[tuple[str, str, AudioFileSink]] = []
    names: set[str] = set()
    try:
        for r in routes:
            name = r.file or (f"{r.src.port}.wav" if ports.count(r.src.port) == 1 else f"{r.src.node}_{r.src.port}.wav")
            path = Path(out_dir) / name
            if name in names or name == "events.jsonl":
                raise UsageError(f"two outputs would be written to {path}: name the routes (file:NAME.wav)")
            if any(path.resolve() == i.resolve() for i in inputs):
                raise UsageError(f"output {path} is an input of this run: choose another --out-dir")
            names.add(name)
            node = graph.node(r.src.node)
            width = node.desc.output(r.src.port).width or node.processor.output_channels or 1
            made.append((r.src.node, r.src.port, AudioFileSink(path, sample_rate, width)))
    except Exception:
        for *_, sink in made:
            sink.discard()
        raise
    return made


def build_sinks(args, timetag_epoch: float | None) -> list:
    """Sinks named on the command line, in the order: OSC, JSONL, out-dir. Validates each."""
    sinks = []
    try:
        if args.osc:
            from ..sinks.osc import OscSink, parse_destination

            host, port = parse_destination(args.osc)
            sinks.append(OscSink(host, port, prefix=args.osc_prefix, timetag_epoch=timetag_epoch))
        if args.jsonl:
            sinks.append(JsonlSink(args.jsonl))
        if args.out_dir:
            out = Path(args.out_dir)
            if not out.is_dir():
                raise OutputError(f"--out-dir does not exist or is not a directory: {out}")
            sinks.append(JsonlSink(out / "events.jsonl"))
    except Exception:
        for s in sinks:
            discard(s)
        raise
    return sinks


def build_control(args):
    """The OSC control server on 127.0.0.1 when ``--control-port`` is given, else None."""
    if args.control_port is None:
        return None
    from ..control import ControlServer

    server = ControlServer(port=args.control_port, prefix=args.osc_prefix)
    print(f"rtmir: control on 127.0.0.1:{server.port}", file=sys.stderr)
    return server


def epoch_setter(sinks: list):
    """A callback giving every sink with a ``timetag_epoch`` the stream's start time."""
    def set_epoch(epoch: float) -> None:
        for s in sinks:
            if hasattr(s, "timetag_epoch"):
                s.timetag_epoch = epoch
    return set_epoch


def discard(sink) -> None:
    """Drop what a sink made for a run that failed before streaming (files: deleted)."""
    if hasattr(sink, "discard"):
        sink.discard()
    else:
        sink.close()


def parse_miss_policy(text: str) -> str | dict[str, str]:
    """``"hold"`` → "hold"; ``"yin=hold,model=dry"`` → {"yin": "hold", "model": "dry"}."""
    from ..core.ports import MISS_POLICIES

    if "=" not in text:
        policy: str | dict[str, str] = text
        values = [text]
    else:
        pairs = [item.partition("=") for item in text.split(",")]
        policy = {task.strip(): value.strip() for task, _, value in pairs}
        values = list(policy.values())
    bad = [v for v in values if v not in MISS_POLICIES]
    if bad:
        raise UsageError(f"--miss-policy: unknown policy {bad[0]!r}: use {', '.join(MISS_POLICIES)} (or TASK=POLICY,...)")
    return policy


def make_engine(graph, sinks: list, **kwargs) -> Engine:
    """``Engine(graph or processors, sinks, **kwargs)``; a bad ``--miss-policy`` becomes a
    ``UsageError`` naming the option (other errors pass through as they are)."""
    from ..core.ports import DescriptionError

    try:
        return Engine(graph, sinks, **kwargs)
    except (GraphError, DescriptionError):
        raise
    except ValueError as exc:
        if "miss policy" not in str(exc):
            raise
        raise UsageError(f"--miss-policy: {exc}") from None

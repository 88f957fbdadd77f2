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
from ..sinks.files import AudioFileSink, JsonlSink
from ..sinks.output_path import OutputError, OutputPlan
from ..tasks.registry import DEFAULT_TASK, build_processor, make_node


class UsageError(ValueError):
    """A command-line value is out of range or malformed."""


class DeviceLost(RuntimeError):
    """The audio device stopped mid-stream (outputs were flushed)."""


def check_block(block: int) -> None:
    if not 1 <= block <= 8192:
        raise UsageError(f"--block must be 1…8192 samples, got {block}")


#: the tasks that open ``--model``
MODEL_TASKS = ("pitch", "tags", "notes", "separate", "codec", "codec_encode", "codec_decode", "generate", "model")


def check_tasks(args) -> list[str]:
    """The ``--task`` list (default: the default task), refused when a task repeats (every
    event would be sent twice: use a graph to run two instances) or ``--model`` is given to
    tasks that do not open one."""
    tasks = list(args.task or [DEFAULT_TASK])
    twice = sorted({t for t in tasks if tasks.count(t) > 1})
    if twice:
        raise UsageError(f"--task {twice[0]} given twice (every event would be sent twice); "
                         f"run two instances as two nodes of a --graph")
    if getattr(args, "model", None) is not None and not any(t in MODEL_TASKS for t in tasks):
        raise UsageError(f"--model is for --task {' or '.join(MODEL_TASKS)}, not for {', '.join(tasks)}")
    return tasks


def build_processors(args) -> list:
    """One processor per ``--task`` (default: the default task), checked by ``check_tasks``,
    with ``--fmin/--fmax`` applied (``with_pitch_range``)."""
    tasks = check_tasks(args)
    if (getattr(args, "mode", None) is not None or getattr(args, "seed", None) is not None) and "generate" not in tasks:
        raise UsageError("--mode and --seed are for --task generate")
    return [with_generate_settings(with_pitch_range(build_processor(t, args.model), args), args) for t in tasks]


def with_generate_settings(p, args):
    """``p`` with ``--mode`` and ``--seed`` applied when it is the generate processor."""
    if p.task != "generate":
        return p
    from ..tasks.generate import MODES

    if getattr(args, "mode", None) is not None:
        p.set_param("mode", MODES.index(args.mode))
    if getattr(args, "seed", None) is not None:
        try:
            p.set_param("seed", p.describe().param("seed").check(args.seed))
        except ValueError as exc:
            raise UsageError(f"--seed: {exc}") from None
    return p


def with_pitch_range(p, args):
    """``p`` searching pitch only within ``--fmin``…``--fmax`` Hz (when given): a pitch model's
    ``fmin_hz``/``fmax_hz`` parameters (range-checked), YIN's search range (rebuilt).

    Raises:
        UsageError: a processor with no pitch range, or a range outside what it can search.
    """
    fmin, fmax = getattr(args, "fmin", None), getattr(args, "fmax", None)
    if fmin is None and fmax is None:
        return p
    from dataclasses import replace

    from ..tasks.yin import YinProcessor

    if isinstance(p, YinProcessor):
        cfg = replace(p.config, fmin_hz=fmin or p.config.fmin_hz, fmax_hz=fmax or p.config.fmax_hz)
        if not 0 < cfg.fmin_hz < cfg.fmax_hz <= 20000:
            raise UsageError(f"--fmin/--fmax: yin needs 0 < fmin < fmax <= 20000 Hz, got {cfg.fmin_hz:g}, {cfg.fmax_hz:g}")
        return YinProcessor(cfg)
    specs = {q.name: q for q in p.describe().params}
    if "fmin_hz" not in specs:
        raise UsageError(f"--fmin/--fmax: task {p.task} has no pitch range")
    if fmin is not None and fmax is not None and not fmin < fmax:
        raise UsageError(f"--fmin/--fmax: --fmin must be below --fmax, got {fmin:g} and {fmax:g}")
    try:
        for name, value in (("fmin_hz", fmin), ("fmax_hz", fmax)):
            if value is not None:
                p.set_param(name, specs[name].check(value))
    except ValueError as exc:
        raise UsageError(f"--fmin/--fmax: {exc}") from None
    return p


def build_graph_from_args(args, files: bool = False) -> Graph:
    """The graph of ``--graph FILE``, or the short form of ``--task`` (parallel nodes).

    With ``files`` (``--out-dir`` on a file stream) the short form routes every audio port to
    a file as well as to consecutive output channels.

    Raises:
        UsageError: both ``--graph`` and ``--task``.
        GraphError: the graph does not check.
    """
    if getattr(args, "graph", None):
        if args.task or getattr(args, "model", None):
            raise UsageError("give --graph FILE or --task/--model, not both (a graph node names its own model)")
        if getattr(args, "fmin", None) is not None or getattr(args, "fmax", None) is not None:
            raise UsageError("--fmin/--fmax are for --task; in a graph give the node params fmin_hz/fmax_hz")
        return build_graph(GraphSpec.from_toml(args.graph), make_node)
    graph = parallel_graph(build_processors(args))
    if files:
        graph.routes += [Route(r.src, file="") for r in list(graph.routes) if r.channel]
    return graph


def run_inputs(args, *audio: Path) -> tuple[Path, ...]:
    """Every file the run reads — the audio input(s), ``--play``, ``--graph`` and the models it
    names, ``--model`` when it is a path, the shipped models — so that no output may replace one."""
    from ..zoo import zoo_models

    files = list(audio) + list(zoo_models())
    for value in (getattr(args, "play", None), getattr(args, "graph", None), getattr(args, "model", None)):
        if value and Path(value).exists():
            files.append(Path(value))
    graph = getattr(args, "graph", None)
    if graph and Path(graph).is_file():
        try:
            spec = GraphSpec.from_toml(graph)
        except Exception:  # a graph that does not parse is refused elsewhere, with its own line
            spec = None
        for node in (spec.nodes if spec is not None else []):
            if node.model and Path(node.model).exists():
                files.append(Path(node.model))
    return tuple(files)


def output_plan(args, inputs: tuple[Path, ...] = ()) -> OutputPlan:
    """Every output the command line names, claimed before any work (``output_path``): ``--jsonl``
    (``-`` = standard output) and ``--out-dir``'s ``events.jsonl``; audio file routes are claimed
    by ``audio_file_sinks`` on the same plan.

    Raises:
        OutputError: a refused target, a collision, or ``--out-dir`` not a directory.
    """
    plan = OutputPlan(inputs)
    if getattr(args, "jsonl", None) is not None:
        plan.claim(args.jsonl, "--jsonl", allow_stdout=True)
    if getattr(args, "out_dir", None) is not None:
        out = Path(args.out_dir)
        if args.out_dir == "" or not out.is_dir():
            raise OutputError(f"--out-dir does not exist or is not a directory: {args.out_dir!r}")
        plan.claim(out / "events.jsonl", "--out-dir (events.jsonl)")
    if getattr(args, "midi_file", None) is not None:
        plan.claim(args.midi_file, "--midi-file")
    return plan


def voice_config(args):
    """The MIDI voice rules from ``--mpe``, ``--bend-range``, ``--midi-channel`` (checked)."""
    from ..midi.voice import VoiceConfig

    if not 1 <= args.midi_channel <= 16:
        raise UsageError(f"--midi-channel must be 1…16, got {args.midi_channel}")
    if not 1 <= args.bend_range <= 96:
        raise UsageError(f"--bend-range must be 1…96 semitones, got {args.bend_range}")
    return VoiceConfig(bend_range=args.bend_range, channel=args.midi_channel - 1, mpe=args.mpe)


def midi_sinks(args, graph: Graph, plan: OutputPlan) -> list:
    """``--midi-file`` and (live) ``--midi jack:NAME`` sinks, after checking that the graph has a
    pitch or notes node and the options are sound; none when no MIDI option is given.

    Raises:
        UsageError, MidiSetupError, OutputError: one line each, before anything is opened.
    """
    from ..sinks.midi import MidiFileSink, MidiSetupError, nodes_of

    port = getattr(args, "midi", None)
    if args.midi_file is None and port is None:
        if args.mpe:
            raise UsageError("--mpe is for MIDI out: add --midi-file FILE.mid" + (" or --midi jack:NAME" if hasattr(args, "midi") else ""))
        return []
    config = voice_config(args)
    if not nodes_of(graph, "pitch") and not nodes_of(graph, "notes"):
        raise MidiSetupError("MIDI out needs a pitch or notes node: --task pitch, yin or notes")
    if getattr(args, "midi_connect", []) and port is None:
        raise UsageError("--midi-connect is for a JACK MIDI port: add --midi jack:NAME")
    if port is not None and not port.startswith("jack:"):
        raise UsageError(f"--midi {port}: use jack:NAME (a JACK MIDI port; ALSA virtual ports are not supported yet)")
    sinks = []
    try:
        if args.midi_file is not None:
            sinks.append(MidiFileSink(args.midi_file, config, inputs=plan.inputs))
        if port is not None:
            from ..sinks.midi_jack import JackMidiSink

            sinks.append(JackMidiSink(port[len("jack:"):], config))
            for dest in getattr(args, "midi_connect", []):
                sinks[-1].connect(dest)
            print(f"rtmir: MIDI out on JACK port {sinks[-1].name}", file=sys.stderr)
    except Exception:
        for s in sinks:
            discard(s)
        raise
    return sinks


def audio_file_sinks(graph: Graph, out_dir: str | None, sample_rate: int, plan: OutputPlan
                     ) -> list[tuple[str, str, AudioFileSink]]:
    """One ``AudioFileSink`` per file route, in ``out_dir``: ``<port>.wav``, or
    ``<node>_<port>.wav`` when two routed nodes share a port name, or the route's own name.

    Raises:
        UsageError: file routes without ``--out-dir``.
        OutputError: two outputs on one name, an input as a target, or a file that cannot be
            created (those made so far are discarded).
    """
    routes = [r for r in graph.routes if r.file is not None]
    if not routes:
        return []
    if not out_dir:
        raise UsageError("the graph routes audio to files: give --out-dir DIR")
    ports = [r.src.port for r in routes]
    made: list[tuple[str, str, AudioFileSink]] = []
    try:
        for r in routes:
            name = r.file or (f"{r.src.port}.wav" if ports.count(r.src.port) == 1 else f"{r.src.node}_{r.src.port}.wav")
            option = f"--out-dir ({r.src.node}.{r.src.port})"
            path = plan.claim(Path(out_dir) / name, option)
            node = graph.node(r.src.node)
            width = node.desc.output(r.src.port).width or node.processor.output_channels or 1
            made.append((r.src.node, r.src.port, AudioFileSink(path, sample_rate, width, option, plan.inputs)))
    except Exception:
        for *_, sink in made:
            sink.discard()
        raise
    return made


def build_sinks(args, timetag_epoch: float | None, plan: OutputPlan) -> list:
    """Sinks named on the command line, in the order: OSC, JSONL, out-dir (targets from ``plan``).

    Raises:
        OscError, OutputError: a bad destination or a file that cannot be created (those made
            so far are discarded).
    """
    sinks = []
    try:
        if args.osc:
            from ..sinks.osc import OscSink, parse_destination

            host, port = parse_destination(args.osc)
            sinks.append(OscSink(host, port, prefix=args.osc_prefix, timetag_epoch=timetag_epoch))
        if args.jsonl is not None:
            sinks.append(JsonlSink(args.jsonl, "--jsonl", plan.inputs))
        if args.out_dir is not None:
            sinks.append(JsonlSink(Path(args.out_dir) / "events.jsonl", "--out-dir (events.jsonl)", plan.inputs))
    except Exception:
        for s in sinks:
            discard(s)
        raise
    return sinks


def check_ports(args) -> None:
    """``--osc HOST:PORT`` (a host is required) and ``--control-port`` (0…65535) checked up front."""
    if getattr(args, "osc", None) is not None:
        from ..sinks.osc import parse_destination

        host = args.osc.rpartition(":")[0]
        parse_destination(args.osc)
        if host in ("", "[]"):
            raise UsageError(f"--osc {args.osc}: give the host too, e.g. 127.0.0.1{args.osc}")
    port = getattr(args, "control_port", None)
    if port is not None and not 0 <= port <= 65535:
        raise UsageError(f"--control-port must be 0…65535 (0 = any free port), got {port}")


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


def stopped_by(signum: int | None) -> int:
    """The exit code of a run a stop signal ended (128 + its number, with a line on stderr
    saying so), or 0 (``hosts.stop_signals``)."""
    if signum is None:
        return 0
    import signal

    print(f"rtmir: stopped by {signal.Signals(signum).name}; the outputs are complete", file=sys.stderr)
    return 128 + signum

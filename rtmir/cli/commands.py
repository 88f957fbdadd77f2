"""What each ``rtmir`` command does. Inputs are validated before any output is opened, so a bad
input leaves nothing half-written; errors are raised as the types in ``USER_ERRORS`` and turned
into one line on stderr and exit code 2 by ``main``."""
from __future__ import annotations

import json
import logging
import math
import shlex
import sys
from pathlib import Path

from ..batch.inputs import BatchInputError
from ..batch.manifest import ConfigMismatch
from ..batch.cluster import RaySetupError
from ..bench.jack import JackError
from ..codec.container import ContainerError
from ..codec.files import CodecError
from ..core.engine import Engine
from ..core.graph import GraphError
from ..core.channels import ChannelError
from ..core.node import RateError
from ..hosts.devices import AudioDeviceError
from ..hosts.file_host import AudioFileError, FileHost, truncation_warning
from ..hosts.stop_signals import StopSignals
from ..session import ModelError
from ..sinks.midi import MidiSetupError
from ..sinks.output_path import OutputError, OutputPlan, PartFile
from ..sinks.osc_format import OscError
from ..tasks.registry import UnknownTaskError
from . import live
from .common import (DeviceLost, UsageError, audio_file_sinks, build_control, build_graph_from_args,  # noqa: F401
                     check_tasks,
                     build_processors, build_sinks, check_block, check_ports, discard, epoch_setter,
                     make_engine, midi_sinks, output_plan, parse_miss_policy, run_inputs, stopped_by)

log = logging.getLogger("rtmir")
DEMO_CLIP = Path(__file__).resolve().parent.parent / "data" / "demo.flac"

USER_ERRORS: tuple[type[Exception], ...] = (
    AudioFileError, ModelError, OutputError, UnknownTaskError, ChannelError, UsageError, OscError,
    AudioDeviceError, RateError, JackError, GraphError, ContainerError, CodecError, MidiSetupError,
    BatchInputError, ConfigMismatch, RaySetupError,
)


def run(args) -> int:
    """Dispatch one parsed command; returns the exit code."""
    handler = {"demo": cmd_demo, "stream": cmd_stream, "live": cmd_live, "bench": cmd_bench,
               "models": cmd_models, "devices": cmd_devices, "graph": cmd_graph, "validate": cmd_validate,
               "codec": cmd_codec, "batch": cmd_batch}[args.command]
    return handler(args)


def stream_file(args, path: Path, realtime: bool) -> int:
    check_block(args.block)
    check_ports(args)
    tail = getattr(args, "seconds", 0.0) or 0.0
    if not 0.0 <= tail <= 86400:
        raise UsageError(f"--seconds must be 0 … 86400 (silence after the file), got {tail:g}")
    host = FileHost(path, block=args.block, realtime=realtime, tail_seconds=tail)  # probes the file first
    graph = build_graph_from_args(args, files=bool(args.out_dir))
    engine = Engine(graph)  # checks the whole graph before any output is opened
    engine.prepare(host.info.sample_rate, host.info.channels, args.block)  # channels, rates: now
    plan = output_plan(args, inputs=run_inputs(args, path))  # every output checked before one is opened
    sinks = build_sinks(args, None, plan)
    audio: list = []
    try:
        sinks += midi_sinks(args, graph, plan)
        audio = audio_file_sinks(graph, args.out_dir, host.info.sample_rate, plan)
        engine.control = build_control(args)
    except Exception:
        for s in sinks + [sink for *_, sink in audio]:
            discard(s)
        raise
    engine.add_sinks(sinks + [sink for *_, sink in audio])
    with StopSignals() as signals:  # SIGINT/SIGTERM/SIGHUP stop the stream; outputs are closed, not lost
        try:
            summary = host.run(engine, stop=lambda: signals.raised, on_epoch=epoch_setter(sinks), audio_files=audio)
        except BaseException:
            if not engine.stats.samples_in:  # nothing streamed: nothing to keep
                for s in engine.sinks:
                    discard(s)
            engine.close()
            raise
        engine.close()
    _report(summary, engine)
    return stopped_by(signals.signum)


def _report(summary: dict, engine: Engine) -> None:
    print(
        f"rtmir: {summary['events']} events from {summary['audio_seconds']:.2f} s of audio "
        f"in {summary['wall_seconds']:.2f} s (real-time factor {summary['realtime_factor']:.3f})",
        file=sys.stderr,
    )
    if (line := truncation_warning(summary)):
        print(line, file=sys.stderr)
    if summary["nonfinite_samples"]:
        print(f"rtmir: warning: replaced {summary['nonfinite_samples']} non-finite samples (NaN/Inf) with 0",
              file=sys.stderr)
    for sink in engine.sinks:
        errors = getattr(sink, "send_errors", 0)
        if not errors:
            continue
        hint = ""
        if "refused" in (sink.last_error or "").lower():
            hint = (f": nothing was listening on {sink.host}:{sink.port} "
                    f"(try `oscdump {sink.port}` or examples/pd/rtmir_receive.pd)")
        print(f"rtmir: warning: {errors} of {errors + sink.sent} OSC packets could not be sent{hint}", file=sys.stderr)


def cmd_stream(args) -> int:
    return stream_file(args, Path(args.file), args.realtime)


def cmd_demo(args) -> int:
    if not DEMO_CLIP.is_file():
        raise AudioFileError(f"the bundled demo clip is missing from the installation: {DEMO_CLIP}")
    print(f"rtmir demo: {DEMO_CLIP.name} → OSC {args.osc}", file=sys.stderr)
    return stream_file(args, DEMO_CLIP, realtime=not args.fast)


def cmd_models(args) -> int:
    from ..zoo import read_card_file, zoo_models

    paths = zoo_models()
    if not paths:
        print("no models shipped yet (tasks without a model: yin)")
        return 0
    for path in paths:
        card = read_card_file(path)
        print(f"{card.name:<18} {card.task:<10} v{card.version:<8} {card.sample_rate} Hz hop {card.hop} "
              f"latency {1000 * card.latency_samples / card.sample_rate:.1f} ms  {path.stat().st_size / 1e6:.2f} MB")
        if card.description:
            print(f"    {card.description}")
    return 0


def cmd_bench(args) -> int:
    from ..bench.run import BenchConfig, run_bench

    if args.startup is not None:
        return _bench_startup(args)
    blocks = tuple(args.block or BenchConfig.blocks)
    for b in blocks:
        check_block(b)
    _check_bench_args(args)
    check_tasks(args)
    policy = parse_miss_policy(args.miss_policy)
    make_engine(build_processors(args), [], miss_policy=policy, placement=args.placement)  # bad input fails here
    cfg = BenchConfig(blocks=blocks, sample_rate=args.sample_rate, seconds=args.seconds, e2e=args.e2e,
                      e2e_block=args.e2e_block, e2e_seconds=args.e2e_seconds, load_test=args.load_test,
                      load_seconds=args.load_seconds, miss_policy=policy, deadline_ms=args.deadline_ms,
                      overhead=args.overhead, placement=args.placement,
                      command="rtmir " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    outputs = _open_bench_outputs(args)  # checked and created before the bench runs
    try:
        doc = run_bench(lambda: build_processors(args), cfg)
        from ..bench.text import summary_text

        print(summary_text(doc))
        if "json" in outputs:
            outputs["json"].file.write(json.dumps(doc, indent=1))
        if "plot" in outputs:
            from ..bench.plot import write_plot

            write_plot(doc, outputs["plot"].file)
    except BaseException:
        for out in outputs.values():
            out.discard()
        raise
    for out in outputs.values():
        out.commit()
    return 0


def _bench_startup(args) -> int:
    """``rtmir bench --startup N``: the startup-xrun table (``bench.startup``), row by row."""
    from ..bench.startup import startup_rows

    if not 1 <= args.startup <= 100:
        raise UsageError(f"--startup must be 1…100 trials, got {args.startup}")
    _need("jack", "--startup")
    tasks = check_tasks(args)
    for line in startup_rows(args.startup, tasks, block=args.e2e_block):
        print(line, flush=True)
    return 0


def _open_bench_outputs(args) -> dict:
    """``--json``/``--plot`` claimed and their ``.part`` files created (``output_path``)."""
    plan, outputs = OutputPlan(run_inputs(args)), {}
    try:
        for key, opt, mode in (("json", "--json", "w"), ("plot", "--plot", "wb")):
            value = getattr(args, key)
            if value is not None:
                outputs[key] = PartFile(plan.claim(value, opt), mode, opt)
    except BaseException:
        for out in outputs.values():
            out.discard()
        raise
    return outputs


def _check_bench_args(args) -> None:
    """Every bench option checked before anything runs (one clear line each)."""
    finite = all(math.isfinite(x) for x in (args.seconds, args.e2e_seconds, args.load_seconds))
    if not finite or args.seconds <= 0.6 or args.e2e_seconds < 1.0 or args.load_seconds <= 0:
        raise UsageError("--seconds must be > 0.6 (0.5 s is warm-up), --e2e-seconds >= 1, --load-seconds > 0, all finite")
    if not 16 <= args.e2e_block <= 8192:
        raise UsageError(f"--e2e-block must be 16…8192 samples, got {args.e2e_block}")
    if args.deadline_ms is not None and not (args.deadline_ms > 0 and math.isfinite(args.deadline_ms)):
        raise UsageError(f"--deadline-ms must be positive and finite, got {args.deadline_ms}")
    if args.sample_rate is not None and not 8000 <= args.sample_rate <= 384000:
        raise UsageError(f"--sample-rate must be 8000…384000 Hz, got {args.sample_rate}")
    if args.plot:
        if not args.plot.lower().endswith(".png"):
            raise UsageError(f"--plot writes PNG: give a .png file name, got {args.plot}")
        _need("matplotlib", "--plot")
    if args.e2e or args.load_test:
        _need("jack", "--e2e/--load-test")


def _need(module: str, option: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise UsageError(f"{option} needs the {module!r} module: pip install 'rtmir[bench]'")


def cmd_live(args) -> int:
    return live.run_live(args)


def cmd_graph(args) -> int:
    """Print a graph's nodes, ports, edges, routes and the latency of every path."""
    from .graph_text import graph_text

    graph = build_graph_from_args(args)
    engine = Engine(graph)
    engine.prepare(args.sample_rate, args.channels, args.block)
    print(graph_text(engine))
    return 0


def cmd_batch(args) -> int:
    from .batch import run as run_batch

    return run_batch(args)


def cmd_codec(args) -> int:
    from .codec import run as run_codec

    return run_codec(args)


def cmd_validate(args) -> int:
    from .validate import run as run_validate

    return run_validate(args)


def cmd_devices(args) -> int:
    from ..hosts.devices import format_devices

    print(format_devices())
    return 0

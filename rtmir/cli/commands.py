"""What each ``rtmir`` command does. Inputs are validated before any output is opened, so a bad
input leaves nothing half-written; errors are raised as the types in ``USER_ERRORS`` and turned
into one line on stderr and exit code 2 by ``main``."""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import sys
from pathlib import Path

from ..core.engine import Engine
from ..core.lane import ChannelError
from ..hosts.file_host import AudioFileError, FileHost
from ..session import ModelError
from ..sinks.files import JsonlSink, OutputError
from ..sinks.osc_format import OscError
from ..hosts.devices import AudioDeviceError
from ..tasks.registry import DEFAULT_TASK, UnknownTaskError, build_processor

log = logging.getLogger("rtmir")
DEMO_CLIP = Path(__file__).resolve().parent.parent / "data" / "demo.flac"


class UsageError(ValueError):
    """A command-line value is out of range or malformed."""


class DeviceLost(RuntimeError):
    """The audio device stopped mid-stream (outputs were flushed)."""


USER_ERRORS: tuple[type[Exception], ...] = (
    AudioFileError, ModelError, OutputError, UnknownTaskError, ChannelError, UsageError, OscError,
    AudioDeviceError,
)


def run(args) -> int:
    """Dispatch one parsed command; returns the exit code."""
    handler = {"demo": cmd_demo, "stream": cmd_stream, "live": cmd_live, "bench": cmd_bench,
               "models": cmd_models, "devices": cmd_devices}[args.command]
    return handler(args)


def check_block(block: int) -> None:
    if not 1 <= block <= 8192:
        raise UsageError(f"--block must be 1…8192 samples, got {block}")


def build_processors(args) -> list:
    """One processor per ``--task`` (default: the default task)."""
    return [build_processor(t, args.model) for t in (args.task or [DEFAULT_TASK])]


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
            _discard(s)
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


def _discard(sink) -> None:
    part = getattr(sink, "_part", None)
    sink.close()
    if part is not None:
        Path(sink.path).unlink(missing_ok=True)


def _stop_flag():
    """A callable that turns True after SIGTERM (installed on the main thread only)."""
    stopped = {"flag": False}

    def on_term(signum, frame):
        stopped["flag"] = True

    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:
        pass  # not the main thread: no handler
    return lambda: stopped["flag"]


def stream_file(args, path: Path, realtime: bool) -> int:
    check_block(args.block)
    host = FileHost(path, block=args.block, realtime=realtime)  # probes the file first
    processors = build_processors(args)
    sinks = build_sinks(args, None)
    engine = Engine(processors, sinks, control=build_control(args))
    try:
        summary = host.run(engine, stop=_stop_flag(), on_epoch=epoch_setter(sinks))
    finally:
        engine.close()
    _report(summary, engine)
    return 0


def _report(summary: dict, engine: Engine) -> None:
    print(
        f"rtmir: {summary['events']} events from {summary['audio_seconds']:.2f} s of audio "
        f"in {summary['wall_seconds']:.2f} s (real-time factor {summary['realtime_factor']:.3f})",
        file=sys.stderr,
    )
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
    from ..bench.compute import bench_compute

    blocks = args.block or [64, 128, 512]
    for b in blocks:
        check_block(b)
    rows = []
    for b in blocks:
        rows += bench_compute(lambda: build_processors(args), b, args.sample_rate, args.seconds)
    print(f"{'processor':<10} {'block':>5} {'rate':>6} {'hop':>5} {'p50 µs':>8} {'p99 µs':>8} {'p99.9':>8} "
          f"{'max µs':>8} {'RTF':>7} {'budget µs':>9}")
    for r in rows:
        print(f"{r.processor:<10} {r.block:>5} {r.sample_rate:>6} {r.hop_size:>5} {r.p50_us:>8.1f} {r.p99_us:>8.1f} "
              f"{r.p999_us:>8.1f} {r.max_us:>8.1f} {r.rtf:>7.4f} {r.block_budget_us:>9.0f}")
    if args.json:
        import datetime
        import shlex

        meta = {"command": "rtmir " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
                "date": datetime.datetime.now().isoformat(timespec="seconds"),
                "load_average_1min": os.getloadavg()[0]}
        Path(args.json).write_text(json.dumps({"meta": meta, "rows": [dataclasses.asdict(r) for r in rows]}, indent=2))
    return 0


def cmd_live(args) -> int:
    from . import live

    return live.run_live(args)


def cmd_devices(args) -> int:
    from ..hosts.devices import format_devices

    print(format_devices())
    return 0

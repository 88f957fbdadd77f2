"""``rtmir live``: a live input → the graph → OSC/JSONL/audio out, with a terminal display."""
from __future__ import annotations

import sys

from ..core.engine import Engine
from ..hosts.devices import AudioDeviceError
from ..hosts.live_host import DeviceLostError, LiveHost
from ..sinks.display import DisplaySink
from . import common


def run_live(args) -> int:
    """Run until Ctrl-C, SIGTERM, ``--seconds``, or the device is lost (→ ``common.DeviceLost``)."""
    common.check_block(args.block)
    if args.deadline_ms is not None and args.deadline_ms <= 0:
        raise common.UsageError(f"--deadline-ms must be positive, got {args.deadline_ms}")
    if args.in_channels < 1 or (args.out_channels is not None and args.out_channels < 1):
        raise common.UsageError("--in-channels and --out-channels must be at least 1")
    policy = common.parse_miss_policy(args.miss_policy)
    graph = common.build_graph_from_args(args)
    host = LiveHost(device=_device(args.device), block=args.block, sample_rate=args.sample_rate,
                    channels=args.in_channels, deadline_ms=args.deadline_ms,
                    output=args.out_channels is not None, out_channels=args.out_channels)
    sinks = common.build_sinks(args, None)
    display = None if args.no_display or not sys.stderr.isatty() else DisplaySink()
    try:
        engine = common.make_engine(graph, sinks + ([display] if display else []),
                                    control=common.build_control(args), miss_policy=policy)
    except Exception:
        for s in sinks:
            common.discard(s)
        raise

    def streamed_enough() -> bool:  # seconds of audio streamed, not of wall time (opening excluded)
        return host.settings is not None and host.frames_in >= args.seconds * host.settings.sample_rate

    stop = streamed_enough if args.seconds else None
    try:
        summary = _run(host, engine, stop, common.epoch_setter(sinks), display)
    except DeviceLostError as exc:
        engine.close()
        raise common.DeviceLost(str(exc)) from exc
    except AudioDeviceError:
        engine.close()
        for s in sinks:
            common.discard(s)
        raise
    engine.close()
    print(f"rtmir: {summary.get('seconds', 0.0):.1f} s live, {summary.get('events', 0)} events, "
          f"{summary.get('xruns', 0)} xruns, {summary.get('missed_blocks', 0)} missed blocks "
          f"({summary.get('stop_reason', 'stop')})", file=sys.stderr)
    return 0


def _run(host: LiveHost, engine: Engine, stop, on_epoch, display) -> dict:
    if display is None:
        return host.run(engine, stop=stop, on_epoch=on_epoch)
    from rich.console import Console
    from rich.live import Live

    with Live(get_renderable=display.render, console=Console(stderr=True), refresh_per_second=4, transient=True):
        return host.run(engine, stop=stop, on_epoch=on_epoch)


def _device(text: str | None):
    if text is None:
        return None
    return int(text) if text.isdigit() else text

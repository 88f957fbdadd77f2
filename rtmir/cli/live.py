"""``rtmir live``: a live input → the graph → OSC/JSONL/audio out, with a terminal display."""
from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from ..core.engine import Engine
from ..hosts.devices import set_jack_client_name
from ..hosts.file_host import probe
from ..hosts import jack_ports
from ..hosts.live_host import DeviceLostError, LiveHost
from ..hosts.stop_signals import StopSignals
from ..sinks.display import DisplaySink
from . import common


#: seconds ``--play`` runs on after the file's last sample, so the last results arrive
PLAY_TAIL_S = 0.5


def run_live(args) -> int:
    """Run until Ctrl-C, SIGTERM, SIGHUP, ``--seconds``, the end of ``--play``, or the device is
    lost (→ ``common.DeviceLost``). Outputs: kept (closed, renamed) once audio has streamed;
    discarded on any failure before that."""
    host, graph, policy, inputs = _prepare_host(args)
    plan = common.output_plan(args, common.run_inputs(args, *inputs))
    sinks = common.build_sinks(args, None, plan)
    try:
        sinks += common.midi_sinks(args, graph, plan)
    except BaseException:
        for s in sinks:
            common.discard(s)
        raise
    display = None if args.no_display or not sys.stderr.isatty() else DisplaySink()
    try:
        engine = common.make_engine(graph, sinks + ([display] if display else []),
                                    control=common.build_control(args), miss_policy=policy)
    except BaseException:
        for s in sinks:
            common.discard(s)
        raise
    with StopSignals() as signals:  # also while the device opens and the worker drains
        try:
            summary = _run(host, engine, _stop_rule(args, host, signals), common.epoch_setter(sinks), display)
        except BaseException as exc:
            if not host.frames_in:  # nothing streamed: the outputs go, then the engine closes
                for s in sinks:
                    common.discard(s)
            engine.close()
            if isinstance(exc, DeviceLostError):
                raise common.DeviceLost(str(exc)) from exc
            raise
        engine.close()
    print(f"rtmir: {summary.get('seconds', 0.0):.1f} s live, {summary.get('events', 0)} events, "
          f"{summary.get('xruns', 0)} xruns ({summary.get('xruns_first_second', 0)} in the first second), "
          f"{summary.get('missed_blocks', 0)} missed blocks, "
          f"{summary.get('missed_hops', 0)} missed hops "
          f"({summary.get('stop_reason', 'stop')})", file=sys.stderr)
    for s in sinks:
        if hasattr(s, "late"):  # JACK MIDI: every message at its declared latency, or counted
            print(f"rtmir: MIDI {s.name}: {s.sent} messages at {s.latency_ms():.1f} ms, {s.late} late "
                  f"(at most {1000.0 * s.max_late_frames / host.settings.sample_rate:.1f} ms), {s.dropped} dropped",
                  file=sys.stderr)
    if summary.get("stop_reason") == "interrupt":  # Ctrl-C seen as KeyboardInterrupt
        return common.stopped_by(signal.SIGINT)
    return common.stopped_by(summary.get("signal") or signals.signum)


def _prepare_host(args):
    """Every option checked, the graph built and the ``LiveHost`` made — nothing opened yet."""
    _check_numbers(args)
    common.check_ports(args)
    inputs = ()
    if args.play is not None:
        probe(args.play)  # one clear line for a missing or unreadable file, before any output
        inputs = (Path(args.play),)
    policy = common.parse_miss_policy(args.miss_policy)
    graph = common.build_graph_from_args(args)
    if args.client_name is not None:
        set_jack_client_name(args.client_name)
    if args.output_ports and args.out_channels is None:
        raise common.UsageError("--output-ports needs --out-channels N (what to play on them)")
    ports = None
    if args.input_ports or args.output_ports:
        ports = jack_ports.resolve(args.input_ports, args.output_ports)  # before any output is opened
    host = LiveHost(device=_device(args.device), block=args.block, sample_rate=args.sample_rate,
                    channels=args.in_channels, deadline_ms=args.deadline_ms,
                    output=args.out_channels is not None, out_channels=args.out_channels, play=args.play,
                    jack_ports=ports)
    return host, graph, policy, inputs


def _stop_rule(args, host: LiveHost, signals: StopSignals):
    """What ends the run: a stop signal, ``--seconds`` of audio, or the end of ``--play`` (+ a tail)."""
    played_at: list[float] = []

    def streamed_enough() -> bool:  # seconds of audio streamed, not of wall time (opening excluded)
        return host.settings is not None and host.frames_in >= args.seconds * host.settings.sample_rate

    def played() -> bool:  # the whole file went in, then PLAY_TAIL_S for the last results
        if host.play_done and not played_at:
            played_at.append(time.monotonic())
        return bool(played_at) and time.monotonic() - played_at[0] >= PLAY_TAIL_S

    checks = [c for c, on in ((streamed_enough, args.seconds), (played, args.play is not None)) if on]
    return lambda: signals.raised or any(c() for c in checks)


def _check_numbers(args) -> None:
    """Every number of ``rtmir live`` range-checked before a device is opened (one line each)."""
    if not 16 <= args.block <= 8192:
        raise common.UsageError(f"--block must be 16…8192 samples for live audio, got {args.block}")
    if args.sample_rate is not None and not 8000 <= args.sample_rate <= 384000:
        raise common.UsageError(f"--sample-rate must be 8000…384000 Hz, got {args.sample_rate}")
    if not 1 <= args.in_channels <= 64 or (args.out_channels is not None and not 1 <= args.out_channels <= 64):
        raise common.UsageError("--in-channels and --out-channels must be 1…64")
    if args.seconds is not None and not 0 < args.seconds < 1e7:
        raise common.UsageError(f"--seconds must be positive, got {args.seconds}")
    if args.deadline_ms is not None:
        block_ms = 1000.0 * args.block / (args.sample_rate or 48000)
        if not args.deadline_ms >= block_ms:  # NaN too
            raise common.UsageError(
                f"--deadline-ms {args.deadline_ms:g} is under one block ({block_ms:.2f} ms at "
                f"{args.sample_rate or 48000} Hz): every block would be missed")


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

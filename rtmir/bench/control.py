"""Control latency through a real audio server: an OSC control message → the first output
sample it changes, recorded from rtmir's JACK output port.

    sender ──UDP /rtmir/ctl/<node>/<param> v──► ControlServer ─► (next push) engine ─► node
    Player (silence in; stamps every cycle's (JACK frame, wall time)) ─► rtmir ─► Recorder

Each trial sends ``on`` at a wall time ``t``, waits ``hold_s``, sends ``off`` and waits again.
``t`` is mapped to a JACK frame through the player's per-cycle stamps (interpolated), and the
latency is the JACK frames from there to the first sample of the recording that is not silent
(``|x| > floor``) at or after it. That is what a performer hears: the wait for the worker's next
block, the node's own reaction (for ``generate``: the first generated frame comes out ``Q - 1``
frames later), resampling, the output ring and PortAudio's block. The resolution is one JACK
period (the cycle stamps). Nothing here is real-time code.

    python -m rtmir.bench.control --json out.json [--task generate] [--model PATH] [--trials 10]

The figures go to the JSON file; a one-line summary is logged.
"""
from __future__ import annotations

import argparse
import json
import logging
import socket
import sys
import time
from pathlib import Path

import numpy as np

from ..control import ControlServer
from ..core.engine import Engine
from ..hosts.live_host import LiveHost
from .e2e import _finish, _NullSink, _run_in_thread
from .jack import Player, Recorder, jack_server, wait_for

log = logging.getLogger(__name__)
FLOOR = 1e-6  # an output sample above this is "changed" (generated audio, not silence)


def _message(address: str, value: float) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    b = OscMessageBuilder(address)
    b.add_arg(float(value), "f")
    return b.build().dgram


def control_latency(make_processors, node: str, param: str, on: float, off: float, *, trials: int = 10,
                    hold_s: float = 0.5, block: int = 128, sample_rate: int = 48000, server: str | None = None) -> dict:
    """Milliseconds from sending ``/rtmir/ctl/<node>/<param> on`` to the first changed output sample.

    Args:
        make_processors: builds the processors (a fresh engine per call).
        node, param: the control address; ``on`` must make the output sound, ``off`` silence it.
        trials: on/off pairs (``hold_s`` each).
        block: host block = JACK period of a server started here.

    Returns:
        ``{"trials", "latency_ms": [...], "p50_ms", "max_ms", "period_ms", "run": {...}}``.
    """
    with jack_server(server, sample_rate, block) as (name, _started):
        control = ControlServer(port=0)
        engine = Engine(make_processors(), [_NullSink()], control=control)
        host = LiveHost(block=block, sample_rate=sample_rate, output=True, out_channels=1, watchdog_seconds=5.0)
        seconds = 2.0 + trials * 2 * hold_s + 1.0
        thread, stop, result = _run_in_thread(host, engine)
        player = Player(np.zeros(int(seconds * sample_rate) + sample_rate, np.float32), host, name)
        rec = Recorder(int(seconds * sample_rate), name)
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        address = f"/rtmir/ctl/{node}/{param}"
        sends: list[float] = []
        try:
            player.client.activate()
            rec.client.activate()
            wait_for(lambda: host.frames_in > 10 * block or "error" in result, 20, "first callbacks")
            if "error" in result:
                raise result["error"]
            player.wire_to_rtmir()
            rec.wire_from_rtmir(0)
            player.armed = True
            rec.start_time = -1
            sender.sendto(_message(address, off), ("127.0.0.1", control.port))
            time.sleep(1.0)
            for _ in range(trials):
                sends.append(time.time())
                sender.sendto(_message(address, on), ("127.0.0.1", control.port))
                time.sleep(hold_s)
                sender.sendto(_message(address, off), ("127.0.0.1", control.port))
                time.sleep(hold_s)
        finally:
            sender.close()
            summary = _finish(thread, stop, result, [player.client, rec.client])
            control.close()
    n = min(player.cycles, len(player.cycle_frames))
    walls, frames = player.cycle_walls[:n], player.cycle_frames[:n]
    latencies = []
    for t in sends:
        at = int(round(np.interp(t, walls, frames))) - rec.start_time  # recorder index of the send
        loud = np.flatnonzero(np.abs(rec.data[max(at, 0):]) > FLOOR)
        latencies.append(1000.0 * float(loud[0]) / sample_rate if len(loud) else None)
    got = [x for x in latencies if x is not None]
    return {"node": node, "param": param, "on": on, "off": off, "trials": trials, "block": block,
            "sample_rate": sample_rate, "period_ms": 1000.0 * block / sample_rate, "latency_ms": latencies,
            "p50_ms": float(np.median(got)) if got else None, "max_ms": float(max(got)) if got else None,
            "applied": control.applied, "run": {k: summary.get(k) for k in ("xruns", "missed_hops", "callbacks")}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rtmir.bench.control", description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="generate")
    ap.add_argument("--model")
    ap.add_argument("--param", default="start")
    ap.add_argument("--on", type=float, default=1.0)
    ap.add_argument("--off", type=float, default=0.0)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--block", type=int, default=128)
    ap.add_argument("--json", required=True, help="write the figures here")
    args = ap.parse_args(argv)
    from ..tasks.registry import build_processor

    def make():
        p = build_processor(args.task, args.model)
        if args.task == "generate":
            p.set_param("mode", 0)  # continue over a silent input: it never hands over by itself
        return [p]

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = control_latency(make, args.task, args.param, args.on, args.off, trials=args.trials, block=args.block)
    Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    log.info("%s.%s %g: p50 %s ms, max %s ms over %d trials (xruns %s) -> %s", args.task, args.param, args.on,
             out["p50_ms"], out["max_ms"], args.trials, out["run"]["xruns"], args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

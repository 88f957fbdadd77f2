"""Print what rtmir sends over OSC: pitch as note names, tags, status.

    python examples/receive_osc.py --port 9000          # then: rtmir demo  (or rtmir live)

Stops after --seconds (default: run until Ctrl-C) or after --count messages.
"""
from __future__ import annotations

import argparse
import math
import time

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer

NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]


def describe_pitch(f0: float, confidence: float, midi: float) -> str:
    if f0 <= 0:
        return f"pitch  unvoiced        conf {confidence:.2f}"
    n = round(midi)
    return f"pitch  {NAMES[n % 12]}{n // 12 - 1:<2} {f0:8.2f} Hz  conf {confidence:.2f}  ({100 * (midi - n):+.0f} cents)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000, help="UDP port to listen on (default 9000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--seconds", type=float, help="stop after this many seconds")
    parser.add_argument("--count", type=int, help="stop after this many messages")
    args = parser.parse_args()

    seen = {"n": 0}
    dispatcher = Dispatcher()

    def on_pitch(address, f0, confidence, midi):
        seen["n"] += 1
        print(describe_pitch(f0, confidence, midi), flush=True)

    def on_tags(address, *pairs):
        seen["n"] += 1
        print("tags   " + "  ".join(f"{pairs[i]} {pairs[i + 1]:.2f}" for i in range(0, len(pairs), 2)), flush=True)

    def on_status(address, *values):
        seen["n"] += 1
        print("status " + " ".join(str(v) for v in values), flush=True)

    dispatcher.map("/rtmir/pitch", on_pitch)
    dispatcher.map("/rtmir/tags", on_tags)
    dispatcher.map("/rtmir/status", on_status)
    server = BlockingOSCUDPServer((args.host, args.port), dispatcher)
    server.timeout = 0.1
    deadline = time.monotonic() + args.seconds if args.seconds else math.inf
    try:
        while time.monotonic() < deadline and (args.count is None or seen["n"] < args.count):
            server.handle_request()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

"""``rtmir`` command line: demo, stream, live, bench, models, devices (DESIGN.md).

Exit codes: 0 ok; 2 bad usage or input, with one line on stderr; 3 audio device lost mid-stream.
"""
from __future__ import annotations

import argparse
import logging
import sys

from ..tasks.registry import DEFAULT_TASK, TASKS

EXIT_USAGE = 2
EXIT_DEVICE_LOST = 3


def _common(p: argparse.ArgumentParser, block_default: int) -> None:
    p.add_argument("--task", action="append", metavar="T",
                   help=f"processor to run (repeatable; default {DEFAULT_TASK}): " + ", ".join(sorted(TASKS)))
    p.add_argument("--model", metavar="NAME|PATH", help="zoo model name or .onnx path (for --task model)")
    p.add_argument("--block", type=int, default=block_default, metavar="N", help=f"host block size in samples (default {block_default})")
    p.add_argument("--osc", metavar="HOST:PORT", help="send OSC to HOST:PORT (e.g. 127.0.0.1:9000)")
    p.add_argument("--osc-prefix", default="/rtmir", help="OSC address prefix (default /rtmir)")
    p.add_argument("--control-port", type=int, metavar="PORT",
                   help="listen for /rtmir/ctl/... on 127.0.0.1:PORT (0 = any free port)")
    p.add_argument("--jsonl", metavar="FILE", help="write one JSON object per event")
    p.add_argument("--out-dir", metavar="DIR", help="write events.jsonl (and audio outputs) into DIR")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rtmir", description="Real-time music information retrieval over OSC.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="stream the bundled clip through the default task, OSC to 127.0.0.1:9000")
    _common(p, 256)
    p.add_argument("--fast", action="store_true", help="run faster than real time")
    p.set_defaults(osc="127.0.0.1:9000")

    p = sub.add_parser("stream", help="stream an audio file (wav/flac/ogg/aiff) block by block")
    p.add_argument("file")
    _common(p, 1024)
    p.add_argument("--realtime", action="store_true", help="pace to the wall clock (default: as fast as possible)")

    p = sub.add_parser("live", help="run on a live input device (microphone) with a live display")
    _common(p, 128)
    p.add_argument("--device", help="input device name or index (see `rtmir devices`)")
    p.add_argument("--sample-rate", type=int, help="device sample rate (default: the device's)")
    p.add_argument("--channels", type=int, default=1, help="input channels (default 1)")
    p.add_argument("--seconds", type=float, help="stop after this many seconds")
    p.add_argument("--no-display", action="store_true", help="no terminal display")

    p = sub.add_parser("bench", help="per-hop compute time (p50/p99/max) and real-time factor")
    p.add_argument("--task", action="append", metavar="T")
    p.add_argument("--model", metavar="NAME|PATH")
    p.add_argument("--block", type=int, action="append", metavar="N", help="host block sizes (repeatable)")
    p.add_argument("--sample-rate", type=int, default=48000)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")

    sub.add_parser("models", help="list the shipped models (from their cards)")
    sub.add_parser("devices", help="list audio devices, defaults marked")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rtmir`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
                        format="rtmir: %(levelname)s: %(message)s")
    from . import commands

    try:
        return commands.run(args)
    except commands.DeviceLost as exc:
        print(f"rtmir: error: {exc}", file=sys.stderr)
        return EXIT_DEVICE_LOST
    except commands.USER_ERRORS as exc:
        print(f"rtmir: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

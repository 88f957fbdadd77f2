"""``rtmir`` command line: demo, stream, batch, live, bench, graph, codec, validate, models, devices (DESIGN.md).

Exit codes: 0 ok; 2 bad usage or input, with one line on stderr; 3 audio device lost mid-stream;
128 + N when signal N stopped the run (130 SIGINT, 143 SIGTERM, 129 SIGHUP; the outputs are
complete: ``hosts.stop_signals``); 141 when standard output was closed under ``--jsonl -``.
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
    p.add_argument("--graph", metavar="FILE.toml", help="a graph of nodes, edges and routes (instead of --task)")
    p.add_argument("--block", type=int, default=block_default, metavar="N", help=f"host block size in samples (default {block_default})")
    p.add_argument("--osc", metavar="HOST:PORT", help="send OSC to HOST:PORT (e.g. 127.0.0.1:9000)")
    p.add_argument("--osc-prefix", default="/rtmir", help="OSC address prefix (default /rtmir)")
    p.add_argument("--control-port", type=int, metavar="PORT",
                   help="listen for /rtmir/ctl/... on 127.0.0.1:PORT (0 = any free port)")
    p.add_argument("--fmin", type=float, metavar="HZ", help="lowest pitch searched by pitch and yin (default: all they can)")
    p.add_argument("--fmax", type=float, metavar="HZ", help="highest pitch searched by pitch and yin")
    p.add_argument("--mode", choices=("continue", "answer", "free"),
                   help="--task generate: continue after the prompt, answer in the input's rests, or play freely "
                        "(default answer)")
    p.add_argument("--seed", type=int, metavar="N", help="--task generate: the sampling seed (a seed repeats a take)")
    p.add_argument("--jsonl", metavar="FILE", help="write one JSON object per event")
    p.add_argument("--out-dir", metavar="DIR",
                   help="write events.jsonl and every audio port routed to a file into DIR (latency compensated)")
    p.add_argument("--midi-file", metavar="FILE.mid",
                   help="write the pitch node's notes (with pitch bend) as a Standard MIDI File, at the audio's times")
    p.add_argument("--mpe", action="store_true", help="MIDI: one MPE member channel per note (lower zone, 15 members)")
    p.add_argument("--bend-range", type=int, default=2, metavar="N",
                   help="MIDI without --mpe: pitch bend range, ± semitones (default 2; MPE members use 48)")
    p.add_argument("--midi-channel", type=int, default=1, metavar="N", help="MIDI channel 1..16 without --mpe (default 1)")
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
    # files have no deadline: big blocks give a model more hops per call (its per-call cost is
    # mostly fixed); results are the same at any block size (streaming = offline)
    _common(p, 4096)
    p.add_argument("--realtime", action="store_true", help="pace to the wall clock (default: as fast as possible)")
    p.add_argument("--seconds", type=float, default=0.0, metavar="S",
                   help="after the file, stream S seconds of silence (for --task generate to continue or answer "
                        "past the prompt; outputs are that much longer)")

    p = sub.add_parser("live", help="run on a live input device (microphone) with a live display")
    _common(p, 128)
    p.add_argument("--device", help="input device name or index (see `rtmir devices`)")
    p.add_argument("--sample-rate", type=int, help="device sample rate (default: the device's)")
    p.add_argument("--in-channels", "--channels", dest="in_channels", type=int, default=1,
                   help="input channels (default 1)")
    p.add_argument("--out-channels", type=int, metavar="N",
                   help="play the routed audio (or the dry input) on N output channels")
    p.add_argument("--seconds", type=float, help="stop after this many seconds of audio")
    p.add_argument("--client-name", metavar="NAME",
                   help="the JACK client's name (default PortAudio's: 'PortAudio')")
    p.add_argument("--input-ports", action="append", metavar="PATTERN",
                   help="JACK ports (names or regular expressions, repeatable; 'none') feeding inputs 1, 2, ... "
                        "instead of system:capture_*")
    p.add_argument("--output-ports", action="append", metavar="PATTERN",
                   help="JACK ports (repeatable; 'none') that outputs 1, 2, ... feed instead of system:playback_*")
    p.add_argument("--play", metavar="FILE",
                   help="play FILE into the live input path in place of what the input device hears (the device still runs the clock); stops after it")
    p.add_argument("--midi", metavar="jack:NAME",
                   help="MIDI out on the JACK MIDI port rtmir-midi:NAME, frame-accurate at a declared latency")
    p.add_argument("--midi-connect", action="append", default=[], metavar="PORT",
                   help="connect the --midi port to this JACK MIDI input (repeatable), e.g. 'Your Synth:midi_in'")
    p.add_argument("--no-display", action="store_true", help="no terminal display")
    p.add_argument("--miss-policy", default="skip", metavar="P",
                   help="what a hop the worker is too late for yields: skip, hold or dry, or TASK=P,... (default skip)")
    p.add_argument("--deadline-ms", type=float, metavar="MS",
                   help="a block older than this is missed (default: none for event-only runs)")

    p = sub.add_parser("bench", help="latency benchmark: compute per hop, end to end through JACK, load test")
    p.add_argument("--task", action="append", metavar="T", help="processor to measure (repeatable: a set run side by side)")
    p.add_argument("--model", metavar="NAME|PATH", help="zoo model name or .onnx path (for --task model)")
    p.add_argument("--block", type=int, action="append", metavar="N",
                   help="host block sizes of the compute sweep (repeatable; default 32 64 128 256 512 1024 2048)")
    p.add_argument("--sample-rate", type=int, default=48000, help="host rate in Hz (default 48000)")
    p.add_argument("--seconds", type=float, default=10.0, help="compute test signal per block, s (default 10)")
    p.add_argument("--json", metavar="FILE", help="write the results (schema in docs/BENCH_SCHEMA.md)")
    p.add_argument("--plot", metavar="FILE.png", help="write the figure (needs matplotlib: the bench extra)")
    p.add_argument("--e2e", action="store_true",
                   help="also measure end to end through JACK (dummy server started if none runs)")
    p.add_argument("--e2e-block", type=int, default=128, metavar="N", help="block = JACK period of --e2e and --load-test (default 128)")
    p.add_argument("--e2e-seconds", type=float, default=3.0, help="signal length of each e2e run, s (default 3)")
    p.add_argument("--load-test", action="store_true", help="find how many instances run without extra xruns")
    p.add_argument("--placement", choices=("worker", "inline"),
                   help="run every node there in the e2e runs (inline: in the audio callback; audio-only nodes)")
    p.add_argument("--overhead", action="store_true",
                   help="also time the engine's own cost per push (5 trivial nodes, block 64)")
    p.add_argument("--load-seconds", type=float, default=60.0, help="seconds per load trial (default 60)")
    p.add_argument("--startup", type=int, metavar="TRIALS",
                   help="only measure the xruns at the start of `rtmir live` per --task against a bare stream "
                        "(TRIALS fresh processes each, through JACK)")
    p.add_argument("--miss-policy", default="skip", metavar="P",
                   help="what a missed hop yields: skip, hold or dry, or TASK=P,TASK=P (default skip)")
    p.add_argument("--deadline-ms", type=float, metavar="MS",
                   help="a block older than this is missed (default: when its output is due)")

    p = sub.add_parser("graph", help="print a graph's nodes, ports, edges, routes and the latency of every path")
    p.add_argument("graph", metavar="FILE.toml")
    p.add_argument("--task", action="append", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--sample-rate", type=int, default=48000, help="host rate in Hz (default 48000)")
    p.add_argument("--channels", type=int, default=1, help="host input channels (default 1)")
    p.add_argument("--block", type=int, default=256, help="host block in samples (default 256)")

    from .batch import add_parser as add_batch
    from .codec import add_parser as add_codec
    from .validate import add_parser as add_validate

    add_batch(sub)
    add_codec(sub)
    add_validate(sub)
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
    except KeyboardInterrupt:  # before or after a run (during one, hosts.stop_signals stops it cleanly)
        print("rtmir: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `--jsonl - | head`: the reader left; quiet, like any Unix filter
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE


if __name__ == "__main__":
    sys.exit(main())

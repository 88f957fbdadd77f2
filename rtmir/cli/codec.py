"""``rtmir codec encode|decode``: audio files to ``.rtq`` token files and back (``rtmir.codec.files``).

    rtmir codec encode take.wav take.rtq --kbps 6     # 1.5, 3, 4.5 or 6 kbps (the shipped codec: 1-4 stages)
    rtmir codec decode take.rtq take_decoded.wav      # the input's rate and length, delay compensated
    rtmir codec decode damaged.rtq out.wav --conceal  # conceal blocks that fail their CRC

Exit codes: 0 done; 2 bad input or output (one line: a damaged file names the byte offset).
SIGINT, SIGTERM and SIGHUP stop it with nothing written and exit 128 + N (the output is renamed into
place only when complete). No output may replace the input or the codec's model files.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..codec.container import ContainerError


def add_parser(sub) -> argparse.ArgumentParser:
    """Add the ``codec`` subcommand (``encode``, ``decode``) to ``sub``."""
    p = sub.add_parser("codec", help="encode audio files to .rtq token files at 1.5-6 kbps, and decode them")
    actions = p.add_subparsers(dest="codec_action", required=True, metavar="ACTION")
    e = actions.add_parser("encode", help="audio file (any rate; channels averaged) -> .rtq")
    e.add_argument("input")
    e.add_argument("output")
    e.add_argument("--kbps", type=float, default=6.0, help="bitrate: 1.5, 3, 4.5 or 6 (default 6)")
    d = actions.add_parser("decode", help=".rtq -> WAV (float32, the encoded file's rate and length)")
    d.add_argument("input")
    d.add_argument("output")
    d.add_argument("--conceal", action="store_true",
                   help="conceal blocks that fail their CRC (hold and fade) instead of stopping")
    for q in (e, d):
        q.add_argument("--model", metavar="NAME|PATH", help="codec zoo name (default codec) or the encoder NAME-enc.onnx")
    return p


def run(args) -> int:
    """Run ``rtmir codec ACTION``; user errors raise (``main`` prints one line, exit 2)."""
    from ..codec.files import CodecPair, Stopped, decode_file, encode_file
    from ..hosts.stop_signals import StopSignals

    pair = CodecPair.open(args.model)
    start = time.perf_counter()
    with StopSignals() as signals:
        try:
            return _run(args, pair, start, lambda: signals.raised, encode_file, decode_file)
        except Stopped:
            print(f"rtmir: stopped by {signals.name}: nothing written", file=sys.stderr)
            return 128 + int(signals.signum)


def _run(args, pair, start: float, stop, encode_file, decode_file) -> int:
    if args.codec_action == "encode":
        header = encode_file(args.input, args.output, pair, args.kbps, stop=stop)
        seconds = header.source_frames / header.source_rate
        size = Path(args.output).stat().st_size
        print(f"{args.output}: {seconds:.2f} s at {header.payload_kbps:g} kbps ({header.stages} of {header.model_stages} "
              f"stages, {size * 8 / seconds / 1000:.2f} kbps with framing), codec {pair.name} {pair.version}, "
              f"{time.perf_counter() - start:.2f} s", file=sys.stderr)
        return 0
    report = decode_file(args.input, args.output, pair, conceal=args.conceal, stop=stop)
    h = report.header
    note = f", {report.concealed} frames concealed" if report.concealed else ""
    print(f"{args.output}: {h.source_frames / h.source_rate:.2f} s at {h.source_rate} Hz from {h.payload_kbps:g} kbps"
          f"{note}, {time.perf_counter() - start:.2f} s", file=sys.stderr)
    return 0


__all__ = ["ContainerError", "add_parser", "run"]

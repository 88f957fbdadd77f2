"""Xruns at the start of a live stream: ``rtmir live`` against a bare PortAudio duplex stream,
each trial a fresh process, on a JACK server (a dummy one is started if none answers).

    python -m rtmir.bench.startup --trials 5 --task yin --task pitch

Prints one Markdown row per kind of run: trials, xruns in the first second (mean, max) and over
the whole run (mean, max). A bare stream copies input to output and does nothing else, so what
rtmir flags beyond it is rtmir's.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys

from .jack import jack_server

BARE = r'''
import sys, time, sounddevice as sd
block, rate, seconds = int(sys.argv[1]), 48000, float(sys.argv[2])
at = []
n = [0]
def cb(indata, outdata, frames, ti, status):
    if status:
        at.append(n[0])
    n[0] += 1
    outdata[:] = indata
with sd.Stream(samplerate=rate, blocksize=block, channels=1, dtype="float32", callback=cb):
    time.sleep(seconds)
first = sum(1 for k in at if k < rate // block)
print(f"{len(at)} xruns ({first} in the first second)", file=sys.stderr)
'''
LINE = re.compile(r"(\d+) xruns \((\d+) in the first second\)")


def trial(cmd: list[str]) -> tuple[int, int]:
    """(xruns in the first second, xruns in all) of one run of ``cmd``."""
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    m = LINE.search(r.stderr)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.strip()[-300:]}")
    return int(m.group(2)), int(m.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--task", action="append", help="rtmir live --task (repeatable: one row each)")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--block", type=int, default=128)
    args = parser.parse_args()
    runs = {"bare PortAudio duplex stream": [sys.executable, "-c", BARE, str(args.block), str(args.seconds)]}
    for task in args.task or ["yin"]:
        runs[f"rtmir live --task {task} --out-channels 1"] = [
            sys.executable, "-m", "rtmir", "live", "--task", task, "--no-display", "--out-channels", "1",
            "--block", str(args.block), "--seconds", str(args.seconds)]
    print("| run | trials | xruns in the first second: mean (max) | xruns in the run: mean (max) |")
    print("|---|---|---|---|")
    with jack_server(period=args.block):
        for name, cmd in runs.items():
            got = [trial(cmd) for _ in range(args.trials)]
            first, total = [g[0] for g in got], [g[1] for g in got]
            print(f"| {name} | {len(got)} | {sum(first) / len(got):.1f} ({max(first)}) | "
                  f"{sum(total) / len(got):.1f} ({max(total)}) |", flush=True)


if __name__ == "__main__":
    main()

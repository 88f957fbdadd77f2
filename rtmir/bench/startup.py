"""Xruns at the start of a live stream: ``rtmir live`` against a bare PortAudio duplex stream,
each trial a fresh process, on a JACK server (a dummy one is started if none answers).

    rtmir bench --startup 5 --task yin --task pitch

One Markdown row per kind of run (``startup_rows``; the CLI prints them): trials, xruns in the first second (mean, max) and over
the whole run (mean, max). A bare stream copies input to output and does nothing else, so what
rtmir flags beyond it is rtmir's.
"""
from __future__ import annotations

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
sys.stderr.write(f"{len(at)} xruns ({first} in the first second)\n")
'''
LINE = re.compile(r"(\d+) xruns \((\d+) in the first second\)")


def trial(cmd: list[str]) -> tuple[int, int]:
    """(xruns in the first second, xruns in all) of one run of ``cmd``."""
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    m = LINE.search(r.stderr)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.strip()[-300:]}")
    return int(m.group(2)), int(m.group(1))


def startup_rows(trials: int, tasks: list[str], seconds: float = 3.0, block: int = 128):
    """Yield the Markdown table's lines, a row as each kind of run is measured (``trials`` fresh
    processes each: a bare stream, then ``rtmir live --task T --out-channels 1`` per task)."""
    runs = {"bare PortAudio duplex stream": [sys.executable, "-c", BARE, str(block), str(seconds)]}
    for task in tasks:
        runs[f"rtmir live --task {task} --out-channels 1"] = [
            sys.executable, "-m", "rtmir", "live", "--task", task, "--no-display", "--out-channels", "1",
            "--block", str(block), "--seconds", str(seconds)]
    yield "| run | trials | xruns in the first second: mean (max) | xruns in the run: mean (max) |"
    yield "|---|---|---|---|"
    with jack_server(period=block):
        for name, cmd in runs.items():
            got = [trial(cmd) for _ in range(trials)]
            first, total = [g[0] for g in got], [g[1] for g in got]
            yield (f"| {name} | {len(got)} | {sum(first) / len(got):.1f} ({max(first)}) | "
                   f"{sum(total) / len(got):.1f} ({max(total)}) |")

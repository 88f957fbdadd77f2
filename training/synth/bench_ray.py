"""Rendering throughput locally (1 and 2 processes) and on a local 2-CPU Ray cluster, with the
datasets compared file by file (SHA-256).

    python -m training.synth.bench_ray [--n 12] [--duration 10] [--kind band] [--md FILE] [--json FILE]

Each mode is the whole ``python -m training.synth`` command's wall clock (start-up, soundfont
loading and onset measurement included); throughput is seconds of audio per wall second.
Needs FluidSynth, the train soundfonts and ``ray`` (the batch extra).
"""
from __future__ import annotations

import argparse
import hashlib
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rtmir.bench.report import write_figures


def _checksums(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "manifest.json"}


def run(n: int, duration: float, kind: str) -> dict:
    """Each mode once; the figures and whether the datasets are identical."""
    from rtmir.bench.ray_head import LoopbackRayHead

    base = [sys.executable, "-m", "training.synth", "--kind", kind, "--split", "train", "--n", str(n),
            "--duration", f"{duration:g}", "--labels", "aligned", "--seed", "11"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="rtmir-synth-bench-") as tmp:
        tmp = Path(tmp)

        def timed(name: str, extra: list[str], out: Path) -> None:
            t0 = time.perf_counter()
            r = subprocess.run(base + extra + ["--out", str(out)], capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if r.returncode != 0:
                raise RuntimeError(f"{name}: {r.stderr[-2000:]}")
            rows.append({"mode": name, "wall_s": round(wall, 2), "audio_s_per_wall_s": round(n * duration / wall, 2),
                         "identical": _checksums(out) == _checksums(tmp / "w1") if (tmp / "w1").exists() else True})

        timed("1 process", ["--workers", "1"], tmp / "w1")
        timed("2 processes", ["--workers", "2"], tmp / "w2")
        with LoopbackRayHead(cpus=2) as address:
            timed("Ray, local 2-CPU cluster (2 actors)", ["--ray", address], tmp / "ray")
    return {"n": n, "duration_s": duration, "kind": kind, "modes": rows}


def markdown(r: dict, command: str) -> str:
    lines = ["### Rendering a dataset (`training.synth`), locally and on Ray", "",
             f"`{command}` — {time.strftime('%Y-%m-%d %H:%M')}: {r['n']} {r['kind']} examples × {r['duration_s']:g} s, "
             "aligned labels, FluidR3_GM and TimGM6mb; the whole command's wall clock.", "",
             "| mode | wall s | s of audio per wall s | files identical to 1 process (SHA-256) |", "|---|---|---|---|"]
    lines += [f"| {m['mode']} | {m['wall_s']:.1f} | {m['audio_s_per_wall_s']:.1f} | {'yes' if m['identical'] else 'NO'} |"
              for m in r["modes"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.synth.bench_ray", description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--kind", default="band")
    ap.add_argument("--md")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    result = run(args.n, args.duration, args.kind)
    command = "python -m training.synth.bench_ray " + shlex.join(argv if argv is not None else sys.argv[1:])
    write_figures(markdown(result, command), result, args.md, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

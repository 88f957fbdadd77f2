"""Batch throughput: ``rtmir stream`` in a shell loop vs ``rtmir batch`` with 1 and 2 local
workers and on a local 2-CPU Ray cluster, over one library of real audio; results compared.

    python -m rtmir.bench.batch_throughput [--files 12] [--seconds 60] [--task pitch --task tags --task notes]
        [--md docs/results/scale_out_batch.md] [--json docs/results/scale_out_batch.json]

Each mode is timed as a user sees it: the whole command's wall clock, start-up included. The
library is the bundled clip tiled to ``--seconds`` per file, each file at its own gain (other
bytes: no file is skipped as a copy). Throughput is audio hours per wall hour. Ray's per-file
overhead is (Ray wall - local 2-worker wall) / files, also as a share of the local time per file.
Needs the batch extra (pyarrow, ray).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from .report import write_figures

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo.flac"


def make_library(folder: Path, files: int, seconds: float) -> list[Path]:
    """``files`` FLAC files of ``seconds`` each: the bundled clip tiled, file i at gain 1 - 0.01 i."""
    audio, sr = sf.read(DEMO, dtype="float32", always_2d=True)
    n = int(seconds * sr)
    tiled = np.tile(audio, (int(np.ceil(n / len(audio))), 1))[:n]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(files):
        p = folder / f"track{i:03d}.flac"
        sf.write(p, tiled * (1 - 0.01 * i), sr)
        paths.append(p)
    return paths


def _timed(cmd: list[str] | str, shell: bool = False) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, shell=shell, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{cmd if shell else shlex.join(cmd)} failed: {r.stderr[-2000:]}")
    return wall


def _same(a: Path, b: Path) -> bool:
    files = sorted(p.relative_to(a) for p in a.rglob("*.jsonl"))
    return bool(files) and all((a / f).read_bytes() == (b / f).read_bytes() for f in files)


CEILING_CODE = """
import time, numpy as np
x = np.random.default_rng(0).random((256, 256), dtype=np.float32)
t = time.perf_counter()
for _ in range(2000):
    y = np.tanh(x @ x.T * 0.001)
import sys; sys.stdout.write(repr(time.perf_counter() - t))
"""


def parallel_ceiling(repeats: int = 3) -> float:
    """What this machine gives two processes: the speed-up of two independent copies of a
    single-threaded numpy loop over one copy (medians of ``repeats``; 2.0 = two full cores)."""
    env = {**os.environ, **{v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
    cmd = [sys.executable, "-c", CEILING_CODE]
    one, two = [], []
    for _ in range(repeats):
        one.append(float(subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout))
        procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        two.append(max(float(p.communicate()[0]) for p in procs))
    return round(2 * float(np.median(one)) / float(np.median(two)), 3)


def steady_rate(out: Path, workers: int) -> tuple[float, float]:
    """(audio h per wall h, wall s per file) between the first ``workers`` results and the last,
    from the manifest's finishing times: the rate once every worker runs (start-up excluded)."""
    entries = sorted((json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()),
                     key=lambda e: e["at"])
    later = entries[workers:]
    span = entries[-1]["at"] - entries[workers - 1]["at"]
    audio = sum(e["audio_s"] for e in later)
    return audio / span, span / len(later)


def run(files: int, seconds: float, tasks: list[str], ray: bool, repeats: int = 3) -> dict:
    """The stream loop once, the local batch modes ``repeats`` times each, interleaved (1 worker,
    2 workers, ...), then ``repeats`` Ray runs (a Ray head's own processes running only then),
    over one library; medians of each mode's figures."""
    task_args = [a for t in tasks for a in ("--task", t)]
    rtmir = [sys.executable, "-m", "rtmir"]
    with tempfile.TemporaryDirectory(prefix="rtmir-batch-bench-") as tmp:
        tmp = Path(tmp)
        library = make_library(tmp / "lib", files, seconds)
        audio_h = files * seconds / 3600
        loop_out = tmp / "loop" / "jsonl"
        loop_out.mkdir(parents=True)
        script = "; ".join(shlex.join(rtmir + ["stream", str(p), *task_args, "--jsonl", str(loop_out / f"{p.name}.jsonl")])
                           for p in library)
        rows = [("`rtmir stream` in a shell loop", [_timed(script, shell=True)], [tmp / "loop"], None)]
        modes = [("`rtmir batch --workers 1`", ["--workers", "1"], 1), ("`rtmir batch --workers 2`", ["--workers", "2"], 2)]
        runs: dict[str, tuple[list, list, list]] = {}

        def batch(name: str, extra: list[str], workers: int) -> None:
            walls, outs, steadies = runs.setdefault(name, ([], [], []))
            out = tmp / f"{name.split()[-1].strip('`')}-{len(walls)}"
            walls.append(_timed(rtmir + ["batch", str(tmp / "lib"), *task_args, "--out", str(out), *extra,
                                         "--no-progress"]))
            outs.append(out)
            steadies.append(steady_rate(out, workers))

        for _ in range(repeats):  # the local modes first, with no Ray processes on the machine
            for mode in modes:
                batch(*mode)
        if ray:
            from .ray_head import LoopbackRayHead

            with LoopbackRayHead(cpus=2) as address:
                for _ in range(repeats):
                    batch("`rtmir batch --ray` (local 2-CPU cluster, 2 actors)", ["--ray", address], 2)
        rows += [(name, *figures) for name, figures in runs.items()]

        def med(values):
            return float(np.median(values))

        figures = []
        for name, walls, outs, steadies in rows:
            figures.append({"mode": name, "runs": len(walls), "walls_s": [round(w, 2) for w in walls],
                            "wall_s": round(med(walls), 2), "audio_h_per_wall_h": round(audio_h / (med(walls) / 3600), 1),
                            "steady_x_realtime": steadies and round(med([s[0] for s in steadies]), 2),
                            "steady_s_per_file": steadies and round(med([s[1] for s in steadies]), 3),
                            "identical_to_loop": all(_same(tmp / "loop", o) for o in outs)})
        one = figures[1]
        for f in figures:
            f["vs_one_worker"] = round(one["wall_s"] / f["wall_s"], 3)
            f["steady_vs_one_worker"] = f["steady_x_realtime"] and round(f["steady_x_realtime"] / one["steady_x_realtime"], 3)
        result = {"files": files, "seconds_per_file": seconds, "tasks": tasks, "cores": len(os.sched_getaffinity(0)),
                  "repeats": repeats, "modes": figures, "two_process_ceiling": parallel_ceiling()}
        if ray:
            local2, on_ray = figures[2], figures[3]
            extra = on_ray["steady_s_per_file"] - local2["steady_s_per_file"]
            result["ray_overhead_s_per_file"] = round(extra, 3)
            result["ray_overhead_share"] = round(extra / local2["steady_s_per_file"], 4)
            result["ray_fixed_s"] = round((on_ray["wall_s"] - local2["wall_s"]) - files * extra, 2)
    return result


def markdown(r: dict, command: str) -> str:
    """The ``## `` section for docs/BENCHMARKS.md."""
    lines = ["## Scale-out: batch analysis", "",
             f"`{command}` — {time.strftime('%Y-%m-%d %H:%M')}, {r['cores']} cores, {r['files']} files × "
             f"{r['seconds_per_file']:g} s ({', '.join(r['tasks'])}); wall clock of the whole command, start-up included; "
             f"each batch mode run {r['repeats']} times (the local ones interleaved, before the Ray head starts), medians shown.",
             "", "| mode | wall s | audio h / wall h | vs 1 worker | steady audio h / wall h | steady vs 1 worker "
                 "| steady s per file | events identical to the stream loop |",
             "|---|---|---|---|---|---|---|---|"]
    for m in r["modes"]:
        steady = (f"{m['steady_x_realtime']:.0f} | {m['steady_vs_one_worker']:.2f}× | {m['steady_s_per_file']:.2f}"
                  if m["steady_x_realtime"] else "– | – | –")
        lines.append(f"| {m['mode']} | {m['wall_s']:.1f} | {m['audio_h_per_wall_h']:.0f} | {m['vs_one_worker']:.2f}× | "
                     f"{steady} | {'yes' if m['identical_to_loop'] else 'NO'} |")
    lines += ["", "Walls of every run (s): " + "; ".join(f"{m['mode']} {', '.join(f'{w:.1f}' for w in m['walls_s'])}"
                                                   for m in r["modes"]) + "."]
    lines += ["", f"This machine's own ceiling for two processes: two independent copies of a single-threaded "
                  f"numpy loop run {r['two_process_ceiling']:.2f}× as fast as one (2.00 would be two whole cores)."]
    lines += ["", "*Steady*: from the manifest's finishing times, between the first result of every worker and "
                  "the last (start-up excluded: Python, imports and the graph, about 1.5 s per process)."]
    if "ray_overhead_s_per_file" in r:
        lines += ["", f"Ray against 2 local workers, steady: {r['ray_overhead_s_per_file'] * 1000:+.0f} ms per file "
                      f"({100 * r['ray_overhead_share']:+.1f} % of the local time per file); once per run: "
                      f"{r['ray_fixed_s']:+.1f} s (connecting to the cluster, actors starting)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rtmir.bench.batch_throughput", description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=60.0, help="seconds of audio per file (default 60)")
    ap.add_argument("--task", action="append", help="default: pitch, tags, notes")
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray cluster run")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each batch mode, interleaved (default 3)")
    ap.add_argument("--md", help="write the BENCHMARKS.md section here")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    if args.files < 5 or args.repeats < 1:
        ap.error("--files must be at least 5 (the steady rate needs results after every worker's first) and --repeats >= 1")
    result = run(args.files, args.seconds, args.task or ["pitch", "tags", "notes"], ray=not args.no_ray,
                 repeats=args.repeats)
    command = "python -m rtmir.bench.batch_throughput " + shlex.join(argv if argv is not None else sys.argv[1:])
    write_figures(markdown(result, command.strip()), result, args.md, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

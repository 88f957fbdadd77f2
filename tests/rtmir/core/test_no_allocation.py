"""The engine's hot path allocates no buffers per push: channel maps, step buffers, resamplers,
aligners and routing reuse what ``prepare`` allocated (tracemalloc sees NumPy's allocations)."""
from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np

from graph_nodes import Delay
from rtmir.bench.overhead import trivial_processors
from rtmir.core.engine import Engine


def _measure() -> tuple[int, int]:
    """(peak, lasting) bytes traced over 200 pushes of 9 nodes at block 4096, after a warm-up."""
    block = 4096
    procs = trivial_processors() + [Delay(5, 16, rate=16000, task="resampled"), Delay(3, 8, task="mono"),
                                    Delay(4, 1, task="cb")]
    engine = Engine(procs)
    engine.nodes[-1].placement = "inline"  # the callback's part too
    engine.prepare(48000, 2, block)
    inline = engine.attach_inline()
    x = (0.1 * np.random.default_rng(0).standard_normal((2, block))).astype(np.float32)
    out = np.zeros((engine.output_channels, block), np.float32)
    for _ in range(20):  # warm-up: first calls of each size
        engine.push(x, out)
        inline.process(x, out)
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(200):
            engine.push(x, out)
            inline.process(x, out)
        now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base, now - base


def test_pushes_allocate_no_block_sized_buffers():
    """Block 4096: a stereo float32 block is 32 KiB, the 16 kHz path's 1366 samples 5.3 KiB; the
    bound (4 KiB) leaves room only for Python's small objects (views, lists, floats: 2.7 KiB at
    the peak of a push of these 9 nodes, measured). tracemalloc counts every thread's
    allocations, so the measurement runs in a process of its own: threads other tests left
    (servers, receivers) once pushed a run in the whole suite to 4.1 KiB."""
    here = Path(__file__).resolve()
    code = (f"import sys; sys.path[:0] = [{str(here.parents[3])!r}, {str(here.parents[2])!r}, "
            f"{str(here.parents[1])!r}]; import runpy; m = runpy.run_path({str(here)!r}); print(*m['_measure']())")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    peak, lasting = (int(v) for v in r.stdout.split())
    assert peak < 4 * 1024, f"a push allocated {peak} bytes at its peak"
    assert lasting < 2 * 1024  # and nothing accumulates

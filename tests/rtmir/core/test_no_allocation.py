"""The engine's hot path allocates no buffers per push: channel maps, step buffers, resamplers,
aligners and routing reuse what ``prepare`` allocated (tracemalloc sees NumPy's allocations)."""
from __future__ import annotations

import tracemalloc

import numpy as np

from graph_nodes import Delay
from rtmir.bench.overhead import trivial_processors
from rtmir.core.engine import Engine


def test_pushes_allocate_no_block_sized_buffers():
    """Block 4096: a stereo float32 block is 32 KiB, the 16 kHz path's 1366 samples 5.3 KiB; the
    bound (4 KiB) leaves room only for Python's small objects (views, lists, floats: ~2.4 KiB
    at the peak of a push of these 9 nodes, measured)."""
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
    assert peak - base < 4 * 1024, f"a push allocated {peak - base} bytes at its peak"
    assert now - base < 2 * 1024  # and nothing accumulates

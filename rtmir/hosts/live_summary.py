"""The summary of a ``LiveHost`` run: its counters, as one dict (also read mid-run)."""
from __future__ import annotations

import time

import numpy as np

from .live_worker import TIMES


def summary(host, reason: str) -> dict:
    """Counters of ``host``'s run: why it stopped (``reason``), xruns (and in the first second),
    callbacks, misses by kind, compute percentiles (ms), load, latencies (ms), the timetag epoch."""
    side, worker, s = host._side, host._worker, host.settings
    stats = worker.engine.stats
    mean_ms, jitter_ms = side.jitter_ms()
    intervals = side.intervals_ms()
    missed_hops = worker.engine.missed_hops()
    deadline = host.deadline_frames()
    recent = worker.push_ms[: min(worker.pushes, TIMES)]
    wall = time.perf_counter() - host._started
    return {
        "stop_reason": reason, "signal": host._signal, "device": s.name, "sample_rate": s.sample_rate, "block": host.block,
        "seconds": side.in_ring.write_pos / s.sample_rate, "wall_seconds": wall,
        "callbacks": side.callbacks, "xruns": side.xruns,
        # flagged in the first second of callbacks (a stream's start: JACK's graph reorders)
        "xruns_first_second": int(np.count_nonzero(
            side.xrun_at[:min(side.xruns, len(side.xrun_at))] < s.sample_rate // host.block)),
        "input_overflows": int(side.flags[0]), "input_underflows": int(side.flags[1]),
        "output_underflows": int(side.flags[2]), "output_overflows": int(side.flags[3]),
        "missed_blocks": side.in_ring.dropped_writes, "missed_frames": side.in_ring.dropped_frames,
        "late_blocks": side.late_blocks, "nonfinite_samples": stats.nonfinite_samples,
        "ahead_late_blocks": 0 if host._ahead is None else host._ahead.late_blocks,
        "events": stats.events, "pushes": worker.pushes,
        "compute_ms_p50": float(np.percentile(recent, 50)) if len(recent) else 0.0,
        "compute_ms_p99": float(np.percentile(recent, 99)) if len(recent) else 0.0,
        "compute_ms_max": worker.max_push_ms,
        "cpu_load": worker.busy_s / wall if wall > 0 else 0.0,
        "callback_interval_ms": mean_ms, "callback_jitter_ms": jitter_ms,
        "callback_interval_max_ms": float(intervals.max()) if len(intervals) else 0.0,
        "missed_hops": sum(missed_hops.values()), "missed_hops_by_processor": missed_hops,
        "missed_pushes": worker.engine.missed_pushes,
        "miss_policies": worker.engine.miss_policies(),
        "deadline_ms": None if deadline is None else 1000.0 * deadline / s.sample_rate,
        "engine_output_channels": worker.engine.output_channels, "out_channels": s.out_channels,
        "device_latency_ms": [1000.0 * x for x in host._device_latency],
        "output_latency_ms": 1000.0 * (sum(host._device_latency) + host.output_latency_blocks * host.block
                                       / s.sample_rate) if host.output else None,
        "timetag_epoch": side.epoch,
    }

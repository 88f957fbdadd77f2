"""The summary of a ``LiveHost`` run (its counters, as one dict, also read mid-run) and the
``/status`` record the worker sends about once a second."""
from __future__ import annotations

import time

import numpy as np

from .live_worker import TIMES, median_push_ms


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


def status(host, cpu_load: float) -> dict:
    """The ``/status`` record: xruns, missed hops (dropped and late blocks included), the
    worker's busy fraction, the input latency (ms: device + the slowest path's declared latency +
    the median push) and ``nodes`` (``node_figures``)."""
    side, engine = host._side, host._worker.engine
    missed = side.in_ring.dropped_writes + side.late_blocks + sum(engine.missed_hops().values())
    latency_ms = 1000.0 * host._device_latency[0] + engine.max_latency_ms() + median_push_ms(host._worker)
    return {"xruns": side.xruns, "missed_hops": missed, "cpu_load": cpu_load, "latency_ms": latency_ms,
            "nodes": node_figures(host)}


def node_figures(host) -> dict[str, dict[str, float]]:
    """Each reporting node's ``measured()`` figures; one that writes audio also gets
    ``buffer_ahead_ms``: how far its output is written ahead of what the callback plays now
    (the worker's output ring, or the ahead thread's ring; negative when late)."""
    engine, side = host._worker.engine, host._side
    figures = engine.measured()
    if not figures or side.out_ring is None:
        return figures
    rate, played = host.settings.sample_rate, side.in_ring.write_pos
    for node in engine.nodes:
        if node.name not in figures or not any(p.kind == "audio" for p in node.desc.outputs):
            continue
        if node.placement == "ahead" and host._ahead is not None:
            ahead = host._ahead.pos - played
        elif node.placement == "inline":
            ahead = 0  # written in the callback that plays it
        else:
            ahead = host._worker.pos - (played - side.latency_frames)
        figures[node.name]["buffer_ahead_ms"] = 1000.0 * ahead / rate
    return figures

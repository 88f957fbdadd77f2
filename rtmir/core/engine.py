"""Engine: host blocks in, events out to the sinks — the part every host shares.

    host ──block──► Engine.push ── sanitise (NaN/Inf → 0, counted)
                                 ├─► Lane(processor 1) ─► events ┐
                                 ├─► Lane(processor 2) ─► events ├─► sinks (OSC, JSONL, ...)
                                 └─► ...                         ┘

The engine runs on whatever thread the host gives it (the file host's thread, the live host's
worker — never the audio callback). It counts what went wrong instead of raising mid-stream.

Audio. Processors with ``output_channels > 0`` write their output side by side::

    out [engine.output_channels, n]:  rows 0..k1-1 = audio processor 1, rows k1..k1+k2-1 = 2, ...

(event processors take no rows). Each lane's audio is delayed by its adapter (``hop - 1``) plus
the processor's own ``latency_samples``; ``latency_report`` lists both.

Missed deadlines. ``push(block, missed=True)`` (the live host is behind) makes every lane apply
its miss policy instead of running its processor; ``miss_policy`` is one policy for all or a
``{task: policy}`` mapping (see ``lane.py``).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .lane import MISS_POLICIES, Lane
from .processor import Event, Processor

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where events go. ``send`` is called once per engine push with that push's events."""

    def send(self, events: list[Event]) -> None: ...

    def status(self, stats: dict) -> None: ...

    def close(self) -> None: ...


@dataclass
class EngineStats:
    """Counters of one stream.

    Attributes:
        samples_in: host samples pushed (per channel).
        nonfinite_samples: NaN/Inf samples replaced by 0.
        events: events emitted.
        push_seconds: wall seconds spent in ``push`` (compute), summed.
        max_push_seconds: the slowest single push.
    """

    samples_in: int = 0
    nonfinite_samples: int = 0
    events: int = 0
    push_seconds: float = 0.0
    max_push_seconds: float = 0.0
    extra: dict = field(default_factory=dict)


class Engine:
    """Run a set of processors side by side on one input and deliver their events to sinks.

    Args:
        processors: processors fed the same input (each gets its own lane).
        sinks: receivers of every event.
        resample_quality: for lanes whose processor needs another rate: "low-latency" (default;
            the same in files and live, ~1 ms hold) or a soxr quality ("HQ", ...).
        control: optional ``ControlServer``; its queued commands are applied at the start of
            every push (on the engine's thread, between hops).
        miss_policy: "skip", "hold" or "dry" for every processor, or ``{task: policy}`` (tasks not
            named get "skip").

    Raises:
        ValueError: no processors, or an unknown miss policy.
    """

    def __init__(self, processors: list[Processor], sinks: list[Sink] = (), resample_quality: str = "low-latency",
                 control=None, miss_policy: str | dict[str, str] = "skip") -> None:
        if not processors:
            raise ValueError("an engine needs at least one processor")
        self.processors = list(processors)
        self.sinks = list(sinks)
        policies = _policies(miss_policy, self.processors)
        self.lanes = [Lane(p, resample_quality, pol) for p, pol in zip(self.processors, policies)]
        self.stats = EngineStats()
        self.host_rate = 0
        self.max_block = 0
        self.output_channels = 0
        self.missed_pushes = 0
        self._rows: list[tuple[Lane, int, int]] = []
        self._scratch = np.zeros((0, 0), np.float32)
        self.control = control

    def prepare(self, host_rate: int, host_channels: int, max_block: int) -> None:
        """Prepare every lane for host blocks up to ``max_block`` samples.

        Raises:
            ChannelError: a processor's channels cannot be fed from ``host_channels``.
        """
        self.host_rate = host_rate
        self.max_block = max_block
        for lane in self.lanes:
            lane.prepare(host_rate, host_channels, max_block)
        self._rows, row = [], 0
        for lane in self.lanes:
            k = lane.processor.output_channels
            if k:
                self._rows.append((lane, row, row + k))
                row += k
        self.output_channels = row
        self._scratch = np.zeros((row, max_block), np.float32)  # audio when push gets no ``out``

    def reset(self) -> None:
        """Reset every lane (buffers, resamplers, processors' state)."""
        for lane in self.lanes:
            lane.reset()

    def push(self, block: np.ndarray, out: np.ndarray | None = None, missed: bool = False) -> list[Event]:
        """Process one host block ``[C, n]`` float32 and send the resulting events.

        Non-finite samples are replaced by 0 in place and counted.

        Args:
            block: host audio, ``n <= max_block``.
            out: ``[C_out, n]`` with ``C_out >= output_channels`` to receive the audio
                processors' output (rows past ``output_channels`` are zeroed), or None.
            missed: the host is behind its deadline: apply each lane's miss policy instead of
                running the processors (the sample clock still advances).
        """
        start = time.perf_counter()
        if self.control is not None:
            self.control.drain(self)
        if not np.isfinite(block).all():
            bad = ~np.isfinite(block)
            self.stats.nonfinite_samples += int(bad.sum())
            block[bad] = 0.0
        n = block.shape[1]
        self.stats.samples_in += n
        self.missed_pushes += bool(missed)
        sink = self._scratch[:, :n] if out is None else out
        events: list[Event] = []
        rows = iter(self._rows)
        audio = next(rows, None)
        for lane in self.lanes:
            if audio is not None and audio[0] is lane:
                events.extend(lane.push(block, sink[audio[1]:audio[2], :n], missed))
                audio = next(rows, None)
            else:
                events.extend(lane.push(block, None, missed))
        if out is not None and out.shape[0] > self.output_channels:
            out[self.output_channels:] = 0.0
        self._deliver(events)
        took = time.perf_counter() - start
        self.stats.push_seconds += took
        self.stats.max_push_seconds = max(self.stats.max_push_seconds, took)
        return events

    def finish(self) -> list[Event]:
        """End of input: flush what the resamplers held back and send it."""
        events: list[Event] = []
        for lane in self.lanes:
            events.extend(lane.flush())
        self._deliver(events)
        return events

    def _deliver(self, events: list[Event]) -> None:
        if not events:
            return
        events.sort(key=lambda e: e.t)
        self.stats.events += len(events)
        for sink in self.sinks:
            sink.send(events)

    def send_status(self, extra: dict) -> None:
        """Send a status record (xruns, misses, load, latency) to every sink."""
        for sink in self.sinks:
            sink.status(extra)

    def close(self) -> None:
        """Close every sink (flush files, close sockets) and the control server."""
        for sink in self.sinks:
            sink.close()
        if self.control is not None:
            self.control.close()

    def missed_hops(self) -> dict[str, int]:
        """Hops each processor missed (keys ``task`` or ``task#i`` when a task repeats)."""
        return {key: lane.missed_hops for key, lane in zip(self.lane_keys(), self.lanes)}

    def lane_keys(self) -> list[str]:
        """One unique name per lane: the task, suffixed ``#i`` (0-based) when a task repeats."""
        tasks = [lane.processor.task for lane in self.lanes]
        seen: dict[str, int] = {}
        keys = []
        for task in tasks:
            i = seen.get(task, 0)
            seen[task] = i + 1
            keys.append(task if tasks.count(task) == 1 else f"{task}#{i}")
        return keys

    def latency_report(self) -> list[dict]:
        """Per processor, the declared latencies (DESIGN.md "Latency, named"), after ``prepare``.

        ``algorithmic`` is the processor's own; ``buffering`` = the host block (the longest a
        sample waits for its block to be complete) + the adapter's audio delay (``hop - 1``,
        audio processors only) + the resampler's hold. The live host adds its own output
        latency and the device's; ``rtmir bench`` adds measured compute. ``hop_ms`` is the hop
        span, for reference (an event processor's hop wait is inside ``algorithmic``).
        """
        rows = []
        host = self.host_rate or 1
        for key, lane in zip(self.lane_keys(), self.lanes):
            p = lane.processor
            hold_ms = 1000.0 * lane.resampler_delay_samples / host
            block_ms = 1000.0 * self.max_block / host
            adapter_ms = 1000.0 * lane.adapter.audio_latency_samples / lane.rate
            rows.append({
                "processor": key, "sample_rate": lane.rate, "hop_size": p.hop_size,
                "output_channels": p.output_channels, "miss_policy": lane.miss_policy,
                "algorithmic_samples": p.latency_samples,
                "algorithmic_ms": 1000.0 * p.latency_samples / lane.rate,
                "hop_buffering_ms": 1000.0 * p.hop_size / lane.rate,
                "host_block_ms": block_ms, "adapter_audio_ms": adapter_ms, "resampler_ms": hold_ms,
                "buffering_ms": block_ms + adapter_ms + hold_ms,
            })
        return rows

    def apply_control(self, task: str, param: str, value: float) -> None:
        """Set ``param`` on every processor of ``task``.

        Raises:
            KeyError: no processor of that task, or it has no such parameter.
        """
        matched = [p for p in self.processors if p.task == task]
        if not matched:
            raise KeyError(f"no processor for task {task!r}")
        for p in matched:
            p.set_param(param, value)


def _policies(miss_policy: str | dict[str, str], processors: list[Processor]) -> list[str]:
    """One policy per processor from a single name or a ``{task: policy}`` mapping."""
    if isinstance(miss_policy, str):
        return [miss_policy] * len(processors)
    tasks = {p.task for p in processors}
    unknown = sorted(set(miss_policy) - tasks)
    if unknown:
        raise ValueError(f"miss policy given for {unknown}, which no processor has (tasks: {sorted(tasks)})")
    bad = sorted(v for v in miss_policy.values() if v not in MISS_POLICIES)
    if bad:
        raise ValueError(f"unknown miss policy {bad[0]!r}: use one of {', '.join(MISS_POLICIES)}")
    return [miss_policy.get(p.task, "skip") for p in processors]

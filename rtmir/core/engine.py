"""Engine: host blocks in, events out to the sinks — the part every host shares.

    host ──block──► Engine.push ── sanitise (NaN/Inf → 0, counted)
                                 ├─► Lane(processor 1) ─► events ┐
                                 ├─► Lane(processor 2) ─► events ├─► sinks (OSC, JSONL, ...)
                                 └─► ...                         ┘

The engine runs on whatever thread the host gives it (the file host's thread, the live host's
worker — never the audio callback). It counts what went wrong instead of raising mid-stream.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .lane import Lane
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
        resample_quality: soxr quality for lanes whose processor needs another rate.
        control: optional ``ControlServer``; its queued commands are applied at the start of
            every push (on the engine's thread, between hops).
    """

    def __init__(self, processors: list[Processor], sinks: list[Sink] = (), resample_quality: str = "HQ",
                 control=None) -> None:
        if not processors:
            raise ValueError("an engine needs at least one processor")
        self.processors = list(processors)
        self.sinks = list(sinks)
        self.lanes = [Lane(p, resample_quality) for p in self.processors]
        self.stats = EngineStats()
        self.host_rate = 0
        self.control = control

    def prepare(self, host_rate: int, host_channels: int, max_block: int) -> None:
        """Prepare every lane for host blocks up to ``max_block`` samples.

        Raises:
            ChannelError: a processor's channels cannot be fed from ``host_channels``.
        """
        self.host_rate = host_rate
        for lane in self.lanes:
            lane.prepare(host_rate, host_channels, max_block)

    def reset(self) -> None:
        """Reset every lane (buffers, resamplers, processors' state)."""
        for lane in self.lanes:
            lane.reset()

    def push(self, block: np.ndarray) -> list[Event]:
        """Process one host block ``[C, n]`` float32 and send the resulting events.

        Non-finite samples are replaced by 0 in place and counted.
        """
        start = time.perf_counter()
        if self.control is not None:
            self.control.drain(self)
        if not np.isfinite(block).all():
            bad = ~np.isfinite(block)
            self.stats.nonfinite_samples += int(bad.sum())
            block[bad] = 0.0
        self.stats.samples_in += block.shape[1]
        events: list[Event] = []
        for lane in self.lanes:
            events.extend(lane.push(block))
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

    def latency_report(self) -> list[dict]:
        """Per processor: algorithmic and buffering latency in samples and ms at its own rate."""
        rows = []
        for lane in self.lanes:
            p = lane.processor
            hold = lane.resampler_delay_samples
            rows.append(
                {
                    "processor": p.task,
                    "sample_rate": lane.rate,
                    "hop_size": p.hop_size,
                    "algorithmic_samples": p.latency_samples,
                    "algorithmic_ms": 1000.0 * p.latency_samples / lane.rate,
                    "hop_buffering_ms": 1000.0 * p.hop_size / lane.rate,
                    "resampler_ms": 1000.0 * hold / self.host_rate if self.host_rate else 0.0,
                }
            )
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

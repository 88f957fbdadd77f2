"""Node: one processor in a running graph — its input path, whole steps, outputs, misses.

    source signal (host input or an upstream port, this push)
        │ audio:  channel map (pass / mean to mono / copy mono) → resampler to the node's rate
        │ tokens: frames as the upstream produced them
        ▼ step buffer: whole steps only (audio: ``hop`` samples; tokens: one frame)
    processor.process(chunk, t0, out)  ─► events (node name set, ``t`` moved back by the
        │                                  delay of the node's audio input, if any)
        ▼
    produced[port]: what this push made, at the node's rate (audio k·hop samples, tokens k frames)
        │ audio ports that are routed or consumed: Aligner (resampler to the host's rate + a FIFO
        ▼ primed with the path's declared delay): exactly n host samples per push

Missed hops. When the host is behind, or this node's own compute lag is over its deadline
(``deadline_s``), the node does not run its processor on the push but applies its policy:

    policy   events of each missed step                         data outputs of each missed step
    skip     none                                               zeros
    hold     the last event again, ``t`` of that step, "held"   the last computed step repeated
    dry      none                                               the input (audio → audio only)

The sample clock advances exactly as if the steps had run, so later events keep their ``t``;
every missed step is counted in ``missed_hops``. Lag: each push adds the node's compute time
and subtracts its budget, ``BUDGET_SHARE`` of the push's audio duration (never below 0); a node
over its deadline misses until it has paid its excess back. So a node that needs more than its
share of the worker runs on some pushes only, counted, and the others keep their time.
"""
from __future__ import annotations

import time

import numpy as np

from .channels import channel_map, fit_channels, mean_into
from .fifo import Fifo, shift_left
from .graph import Graph, GraphNode
from .ports import MISS_POLICIES, Port
from .processor import Event, ProcessSpec
from .resample import make_resampler


_NO_EVENTS: list = []  # returned (never mutated) when a push completes no step

#: The share of real time a node with a deadline may use on average before it misses hops.
BUDGET_SHARE = 0.5


class RateError(ValueError):
    """A node's rate cannot be reached (token input without a fixed rate, soxr on an audio path)."""


class Node:
    """A prepared graph node (see the module docstring).

    Args:
        gnode: the built graph node (processor, description, sources).
        miss_policy: "skip", "hold" or "dry".
        resample_quality: "low-latency" or a soxr quality (event-only nodes).
        deadline_s: compute lag (s) past which the node misses; None = never.
    """

    def __init__(self, gnode: GraphNode, miss_policy: str = "skip", resample_quality: str = "low-latency",
                 deadline_s: float | None = None) -> None:
        if miss_policy not in MISS_POLICIES:
            raise ValueError(f"unknown miss policy {miss_policy!r}: use one of {', '.join(MISS_POLICIES)}")
        self.name, self.processor, self.desc = gnode.name, gnode.processor, gnode.desc
        data_in = [p for p in self.desc.inputs if p.is_data and p.name in gnode.sources]
        self.in_port: Port = data_in[0] if data_in else Port("audio", "audio")
        self.source = gnode.sources.get(self.in_port.name)
        self.miss_policy, self.resample_quality, self.deadline_s = miss_policy, resample_quality, deadline_s
        self.data_outputs = [p for p in self.desc.outputs if p.is_data]
        # legacy processors (one ``audio`` output) get ``out`` as one array, others a dict
        self._legacy_out = [p.name for p in self.data_outputs] == ["audio"]
        self.missed_hops = 0
        self.lag_s = 0.0
        self._produced_steps = 0
        self.t_offset_s = 0.0  # delay of the audio this node hears (set by the engine)
        self.pushed_s = 0.0  # stream seconds pushed in so far (never reset: time stays monotonic)
        self._t_base_s = 0.0  # stream time of the processor's sample 0 (moved on by ``reset``)
        self.aligners: dict[str, "Aligner"] = {}
        self.produced: dict[str, np.ndarray] = {}

    # -- prepare ---------------------------------------------------------------------------
    def prepare(self, host_rate: int, src_width: int, max_units: int) -> None:
        """Allocate for sources of ``src_width`` rows and at most ``max_units`` per push.

        ``max_units``: host samples (audio) or upstream frames (tokens) per push.

        Raises:
            ChannelError, RateError: the source cannot feed this processor.
        """
        p = self.processor
        self.host_rate = host_rate
        tokens = self.in_port.kind != "audio"
        if tokens and not p.sample_rate:
            raise RateError(f"{self.name}: a token-fed node needs a fixed sample_rate")
        self.rate = p.sample_rate or host_rate
        self.channels = src_width if tokens else (p.channels or src_width)
        self._map = "pass" if tokens else channel_map(src_width, self.channels)
        self._resampler = None
        self.resampler_hold = 0
        units = max_units
        if not tokens and self.rate != host_rate:
            if self.data_outputs and self.resample_quality != "low-latency":
                raise RateError(f"{self.name} makes audio at {self.rate} Hz: its input resampler must be the "
                                f"low-latency one (its delay is exact), not soxr {self.resample_quality}")
            self._resampler = make_resampler(host_rate, self.rate, self.channels, self.resample_quality)
            self.resampler_hold = self._resampler.hold_samples
            self._resampler.prepare(max_units)  # allocate now, never in push
            # the most one push (or a soxr flush of what it held) can give at the node's rate
            units = int(np.ceil((max_units + self.resampler_hold) * self.rate / host_rate)) + 8
        self._mono = np.zeros((1, max(max_units, 1)), np.float32)
        self._copies = np.zeros((self.channels, max(max_units, 1)), np.float32)
        # prepare first: a processor's hop may depend on the rate it is given (YIN); it then
        # gets calls of at most ``spec.max_block`` samples (and at least one hop)
        hop0 = getattr(p, "hop_size", 1) or 1
        spec_block = max(units, 1) * (hop0 if tokens else 1)
        p.prepare(ProcessSpec(self.rate, spec_block, self.channels))
        self.hop = p.hop_size
        self.per_step = 1 if tokens else self.hop
        self.max_call_steps = max(1, spec_block // self.hop)
        max_steps = max(1, (units + self.per_step) // self.per_step)
        dtype = np.int64 if tokens else np.float32
        self._buf = np.zeros((self.channels, max_steps * self.per_step + self.per_step), dtype)
        self._scratch = np.zeros(self._buf.shape[1], dtype)
        self.max_steps = max_steps
        self._units = {o.name: (self.hop if o.kind == "audio" else 1) for o in self.data_outputs}
        self._out = {o.name: np.zeros((self.width_of(o), max_steps * self._units[o.name]), self._dtype(o))
                     for o in self.data_outputs}
        self._last = {o.name: np.zeros((self.width_of(o), self._units[o.name]), self._dtype(o))
                      for o in self.data_outputs}
        self._out_audio = self._out.get("audio")
        self.pushed_s = 0.0  # a new run starts at stream time 0
        self.reset()

    def width_of(self, port: Port) -> int:
        """Rows of an output port's arrays (legacy audio processors: ``output_channels``)."""
        if port.name == "audio" and self._legacy_out:
            return self.processor.output_channels or port.width or 1
        return port.width or 1

    @staticmethod
    def _dtype(port: Port):
        return np.int64 if port.kind == "tokens" else np.float32

    def reset(self) -> None:
        """Forget buffered input, reset the processor and every aligner; stream time goes on:
        the processor's clock restarts at 0 and events are stamped from the stream time of the
        next sample pushed (the miss counter keeps counting too: both belong to the run)."""
        self._t_base_s = self.pushed_s
        if self._resampler is not None:
            self._resampler.reset()
        self._fill = 0
        self.steps = 0
        self._have_last = False
        self._last_event: Event | None = None
        self._last_end = 0
        self.lag_s = 0.0  # ``missed_hops`` is the run's count: a reset keeps it
        for a in self.aligners.values():
            a.reset()
        self._set_produced(0)
        self.processor.reset()

    # -- push ------------------------------------------------------------------------------
    def push(self, data: np.ndarray, duration_s: float, missed: bool = False) -> list[Event]:
        """Feed this push's source data; run (or miss) every whole step now ready.

        Args:
            data: audio ``[C_src, n]`` (host rate) or tokens ``[Q, k]``.
            duration_s: the push's audio duration (for the lag account).
            missed: the host is behind: miss whatever the lag says.

        Returns:
            The events of the steps run (or held), ``node`` set.
        """
        self.pushed_s += duration_s
        x = data if self._map == "pass" else self._map_channels(data)
        if self._resampler is not None:
            x = self._resampler.process(x)
        if self.deadline_s is None:  # no lag account: the common case costs no clock reads
            return self._miss(x) if missed else self._run(x)
        late = missed or self.lag_s > self.deadline_s
        start = time.perf_counter()
        events = self._miss(x) if late else self._run(x)
        self.lag_s = max(0.0, self.lag_s + time.perf_counter() - start - BUDGET_SHARE * duration_s)
        return events

    def flush(self) -> list[Event]:
        """End of input: push the resampler's held-back tail through."""
        if self._resampler is None:
            return []
        return self._run(self._resampler.flush())

    def _steps_ready(self, x: np.ndarray) -> int:
        m = x.shape[1]
        if self._fill + m > self._buf.shape[1]:
            raise OverflowError(f"{self.name}: {m} units in one push exceed the prepared size")
        self._buf[:, self._fill:self._fill + m] = x
        self._fill += m
        return self._fill // self.per_step

    def _consume(self, steps: int) -> None:
        used = steps * self.per_step
        self._fill = shift_left(self._buf, used, self._fill, self._scratch) if self._fill > used else 0
        self.steps += steps

    def _run(self, x: np.ndarray) -> list[Event]:
        steps = self._steps_ready(x)
        if not steps:
            if self._produced_steps:
                self._set_produced(0)
            return _NO_EVENTS
        if steps <= self.max_call_steps:  # the usual case: one call
            if self._legacy_out:
                out = self._out_audio[:, :steps * self.hop]
            else:
                out = self._out_views(0, steps) if self._out else None
            events = self.processor.process(self._buf[:, :steps * self.per_step], self.steps * self.hop, out)
        else:
            events = []
            done = 0
            while done < steps:
                k = min(steps - done, self.max_call_steps)
                chunk = self._buf[:, done * self.per_step:(done + k) * self.per_step]
                got = self.processor.process(chunk, (self.steps + done) * self.hop, self._out_views(done, k))
                if got:
                    events.extend(got)
                done += k
        if self.miss_policy == "hold":  # what a missed step repeats
            for name, arr in self._out.items():
                u = self._units[name]
                self._last[name][:] = arr[:, (steps - 1) * u:steps * u]
            self._have_last = bool(self._out)
        self._consume(steps)
        self._set_produced(steps)
        if events:
            events = self._stamp(events)
            if events:
                self._last_event = events[-1]
                self._last_end = self.steps
        return events

    def _out_views(self, done: int, k: int):
        """``out`` for one call: None, one array (legacy audio processors) or a dict."""
        if not self._out:
            return None
        if self._legacy_out:
            return self._out_audio[:, done * self.hop:(done + k) * self.hop]
        return {name: arr[:, done * self._units[name]:(done + k) * self._units[name]]
                for name, arr in self._out.items()}

    def _set_produced(self, steps: int) -> None:
        self._produced_steps = steps
        if self._out:
            for name, arr in self._out.items():
                self.produced[name] = arr[:, :steps * self._units[name]]

    def _stamp(self, events: list[Event]) -> list[Event]:
        """Name the node and move ``t`` onto stream time (less the delay of what the node hears);
        events that then describe audio from before the node (re)started (an upstream delay's
        priming) are dropped, as every processor drops its own."""
        name, base, delayed = self.name, self._t_base_s, self.t_offset_s > 0
        offset = self.t_offset_s - base
        early = False
        for e in events:
            e.node = name
            if offset:
                e.t -= offset
            if delayed and e.t < base:
                early = True
        return [e for e in events if e.t >= base] if early else events

    def _miss(self, x: np.ndarray) -> list[Event]:
        steps = self._steps_ready(x)
        first = self.steps
        for name, arr in self._out.items():
            u = self._units[name]
            dst = arr[:, :steps * u]
            if self.miss_policy == "hold" and self._have_last:
                dst.reshape(dst.shape[0], steps, u)[:] = self._last[name][:, None, :]
            elif self.miss_policy == "dry" and self.in_port.kind == "audio" and name == "audio":
                fit_channels(self._buf[:, :steps * self.per_step], dst)
            else:
                dst.fill(0)
        self._consume(steps)
        self._set_produced(steps)
        self.missed_hops += steps
        last = self._last_event
        if self.miss_policy != "hold" or last is None or not steps:
            return []
        # the missed step k describes last.t + (its end - the end of the last computed push)
        hop_s = self.hop / self.rate
        return [Event(last.task, last.t + (first + k + 1 - self._last_end) * hop_s,
                      {**last.values, "held": True}, self.name) for k in range(steps)]

    def _map_channels(self, block: np.ndarray) -> np.ndarray:
        if self._map == "pass":
            return block
        n = block.shape[1]
        if self._map == "mean":
            out = self._mono[:, :n]
            mean_into(block, out[0])
            return out
        out = self._copies[:, :n]
        out[:] = block  # mono repeated onto every channel
        return out


class Aligner:
    """A node's audio output as exactly ``n`` host-rate samples per push, with a fixed delay.

    Args:
        width: channels.
        node_rate, host_rate: Hz.
        delay_samples: host samples of priming: the most the path can fall behind (computed by
            ``latency.alignment_delay``), so ``pop`` never runs dry.
        max_block: largest host block.
        max_produced: the most samples the node produces in one push (at its rate).
    """

    def __init__(self, width: int, node_rate: int, host_rate: int, delay_samples: int, max_block: int,
                 max_produced: int) -> None:
        self.resampler = make_resampler(node_rate, host_rate, width, "low-latency") if node_rate != host_rate else None
        if self.resampler is not None:
            self.resampler.prepare(max_produced)
        self.fifo = Fifo(width, delay_samples + 2 * max_block + 8192, primed=delay_samples)
        self.out = np.zeros((width, max_block), np.float32)
        self.delay_samples = delay_samples
        self.underruns = 0

    def reset(self) -> None:
        if self.resampler is not None:
            self.resampler.reset()
        self.fifo.reset()

    def push(self, produced: np.ndarray, n: int) -> np.ndarray:
        """Add what the node produced this push; return the next ``n`` host samples (a view)."""
        y = produced if self.resampler is None else self.resampler.process(produced)
        self.fifo.push(y)
        out = self.out[:, :n]
        self.underruns += bool(self.fifo.pop_into(out))
        return out


def resolve_policies(miss_policy: str | dict[str, str], graph: Graph) -> list[str]:
    """One policy per node of ``graph`` from a name or a ``{task or node: policy}`` mapping; a
    node's own ``miss_policy`` (graph file) wins.

    Raises:
        ValueError: an unknown policy, or a mapping key that names no node or task.
    """
    if isinstance(miss_policy, str):
        if miss_policy not in MISS_POLICIES:
            raise ValueError(f"unknown miss policy {miss_policy!r}: use one of {', '.join(MISS_POLICIES)}")
        given: dict[str, str] = {}
        default = miss_policy
    else:
        known = {n.name for n in graph.nodes} | {n.processor.task for n in graph.nodes}
        unknown = sorted(set(miss_policy) - known)
        if unknown:
            raise ValueError(f"miss policy given for {unknown}, which no processor has (tasks: {sorted(known)})")
        given, default = miss_policy, "skip"
    out = []
    for n in graph.nodes:
        pol = n.spec.miss_policy or given.get(n.name) or given.get(n.processor.task) or default
        if pol not in MISS_POLICIES:
            raise ValueError(f"unknown miss policy {pol!r}: use one of {', '.join(MISS_POLICIES)}")
        out.append(pol)
    return out

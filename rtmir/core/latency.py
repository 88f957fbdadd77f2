"""Latency of every path through a graph — computed here, once, and nowhere else.

Two figures per node, both exact consequences of the graph (no measurement):

``alignment_delay`` — how far a node's audio output can fall behind the host clock. Every stage
turns a cumulative count of host samples ``N`` into a cumulative count of what it has emitted:

    host N ─► resampler to the node's rate ─► whole steps ─► steps·hop at the node's rate
           (tokens: the upstream's steps)                    ─► resampler back to the host rate

The low-latency resampler emits output ``j`` once input ``floor(j·down/up) + half`` has arrived,
so every count is a floor of a linear function of ``N``, and the host-rate count ``g(N)`` is known
for every ``N``. The output FIFO is primed with ``D = max_N (N − g(N))`` zeros: the least delay
that never starves, whatever the block sizes. For a node at the host's rate, ``D = hop − 1``.
The deficit ``N − g(N)`` is periodic (``period_samples``: at most ``down · hop`` host samples for
a rate ratio ``up/down``), so it is evaluated over two periods; where that would exceed
``MAX_HORIZON_S``, ``D`` is the larger of what was seen and a closed-form bound (never short).

``signal delay`` — how late, in seconds, a node's output is relative to the host input:

    delay(audio out of X) = in_delay(X) + latency_samples(X) / rate(X) + D(X) / host_rate
    in_delay(X)           = 0 (host input) · delay of the upstream audio port · for tokens, the
                            upstream's in_delay + its latency_samples / rate (frames keep their time)

Events of X are stamped ``t`` of the *host input* they describe (the engine subtracts
``in_delay(X)``), so an event's latency is ``in_delay + algorithmic + buffering``.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import numpy as np

from .resample import StreamingResampler

#: Host seconds over which the count functions are evaluated at least, and at most.
MIN_HORIZON_S, MAX_HORIZON_S = 2.0, 20.0


def period_samples(host_rate: int, rate: int, hop: int) -> int:
    """Host samples after which an audio-fed node's deficit ``N − g(N)`` repeats exactly."""
    g = gcd(host_rate, rate)
    up, down = rate // g, host_rate // g
    return down * hop // gcd(up, hop)


def deficit_bound(host_rate: int, rate: int, hop: int) -> int:
    """An upper bound of ``D`` for an audio-fed node (both resamplers' holds, one hop, rounding)."""
    if rate == host_rate:
        return hop - 1
    h_in = StreamingResampler(host_rate, rate).half
    h_out = StreamingResampler(rate, host_rate).half
    return int(np.ceil(1 + h_in + (hop + h_out) * host_rate / rate)) + 1


def resampled_count(n_in: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Outputs ``StreamingResampler(rate_in, rate_out)`` has emitted after ``n_in`` inputs."""
    if rate_in == rate_out:
        return n_in
    half = StreamingResampler(rate_in, rate_out).half
    g = gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    return np.where(n_in > half, (n_in - 1 - half) * up // down + 1, 0)


@dataclass(frozen=True)
class NodeTiming:
    """What the engine needs to know about one prepared node's timing.

    Attributes:
        node: node name.
        rate: the node's sample rate (Hz).
        hop: samples per step.
        latency_samples: the processor's algorithmic latency at ``rate``.
        in_delay_s: delay of what the node hears, relative to the host input (s).
        alignment_samples: ``D``, host samples of FIFO priming of its audio outputs (0 if none).
        resampler_hold_samples: input samples its input resampler holds back (host rate).
        path: node names from the host input to this node.
        host_rate: the host's rate (Hz).
    """

    node: str
    rate: int
    hop: int
    latency_samples: int
    in_delay_s: float
    alignment_samples: int
    resampler_hold_samples: int
    path: tuple[str, ...]
    host_rate: int

    @property
    def out_delay_s(self) -> float:
        """Delay of the node's aligned audio outputs relative to the host input (s)."""
        return self.in_delay_s + self.latency_samples / self.rate + self.alignment_samples / self.host_rate

    def out_delay_samples(self) -> float:
        """``out_delay_s`` in host samples (fractional when the node runs at another rate;
        whole numbers come out exact, not off by float rounding)."""
        x = self.out_delay_s * self.host_rate
        return float(round(x)) if abs(x - round(x)) < 1e-6 else x


class StepCounts:
    """Cumulative step counts of each node over ``N = 0 … horizon`` host samples.

    Args:
        host_rate: Hz.
        periods: the deficit period (``period_samples``) of every audio-fed node; the horizon
            covers two of the longest, between ``MIN_HORIZON_S`` and ``MAX_HORIZON_S``.
    """

    def __init__(self, host_rate: int, periods: list[int] = ()) -> None:
        self.host_rate = host_rate
        lo, hi = int(MIN_HORIZON_S * host_rate), int(MAX_HORIZON_S * host_rate)
        self.horizon = min(hi, max([lo] + [2 * p + 8192 for p in periods]))
        self.n = np.arange(self.horizon + 1, dtype=np.int64)
        self.steps: dict[str, np.ndarray] = {}

    def add(self, node: str, rate: int, per_step: int, token_source: str | None) -> np.ndarray:
        """Record and return the node's steps: from audio (``per_step`` = hop) or tokens."""
        if token_source is not None:
            units = self.steps[token_source]
        else:
            units = resampled_count(self.n, self.host_rate, rate)
        steps = units // per_step
        self.steps[node] = steps
        return steps

    def alignment_delay(self, node: str, rate: int, hop: int, tokens: bool = False) -> int:
        """``D`` for the node's audio outputs (module docstring)."""
        produced = self.steps[node] * hop
        host = resampled_count(produced, rate, self.host_rate)
        seen = int(max(0, (self.n - host).max()))
        if not tokens and 2 * period_samples(self.host_rate, rate, hop) + 8192 > self.horizon:
            return max(seen, deficit_bound(self.host_rate, rate, hop))  # too long to evaluate
        return seen


def node_timing(node: str, rate: int, hop: int, latency_samples: int, upstream: NodeTiming | None,
                tokens: bool, alignment: int, hold: int, host_rate: int) -> NodeTiming:
    """A node's timing from its upstream's (None: fed by the host input; module docstring)."""
    if upstream is None:
        in_delay, path = 0.0, ()
    elif tokens:  # frames keep their time: the upstream's input delay + its own latency
        in_delay, path = upstream.in_delay_s + upstream.latency_samples / upstream.rate, upstream.path
    else:  # an aligned audio port
        in_delay, path = upstream.out_delay_s, upstream.path
    return NodeTiming(node, rate, hop, latency_samples, in_delay, alignment, hold, path + (node,), host_rate)


def live_output_samples(row: dict, output_ring_samples: int, device_block: int) -> int:
    """Host samples from a sample at the live input to the same sample leaving on an output, for
    an audio row of ``latency_row``: its delay + the live host's output ring (none inline) +
    PortAudio's one block on JACK (PLATFORM.md)."""
    ring = 0 if row.get("placement") == "inline" else output_ring_samples
    return int(round(row["audio_delay_samples"])) + ring + device_block


def latency_row(t: NodeTiming, host_block: int, output_channels: int, miss_policy: str) -> dict:
    """One row of ``Engine.latency_report`` (the keys DESIGN.md's "Latency, named" uses), in ms.

    ``buffering_ms`` = the host block (the longest a sample waits for its block) + the audio
    alignment (``D``: the adapter's hop − 1 and the resamplers' holds, audio nodes) or the input
    resampler's hold (event nodes). ``upstream_ms`` is the delay of what the node hears.
    """
    host = t.host_rate
    block_ms = 1000.0 * host_block / host
    hold_ms = 1000.0 * t.resampler_hold_samples / host
    align_ms = 1000.0 * t.alignment_samples / host if output_channels else 0.0
    adapter_ms = max(0.0, align_ms - hold_ms) if output_channels else 0.0
    row = {
        "processor": t.node, "path": list(t.path), "sample_rate": t.rate, "hop_size": t.hop,
        "output_channels": output_channels, "miss_policy": miss_policy,
        "algorithmic_samples": t.latency_samples, "algorithmic_ms": 1000.0 * t.latency_samples / t.rate,
        "upstream_ms": 1000.0 * t.in_delay_s, "hop_buffering_ms": 1000.0 * t.hop / t.rate,
        "host_block_ms": block_ms, "adapter_audio_ms": adapter_ms, "resampler_ms": hold_ms,
        "buffering_ms": block_ms + (align_ms if output_channels else hold_ms),
    }
    if output_channels:
        row["audio_delay_samples"] = t.out_delay_samples()
    return row


def total_ms(row: dict) -> float:
    """Declared latency of a ``latency_row`` (ms): what the node hears late + its own + buffering."""
    return row["upstream_ms"] + row["algorithmic_ms"] + row["buffering_ms"]

"""Load test: how many processor instances run side by side in real time without trouble.

A trial runs ``n`` copies of the processor set in one engine through ``LiveHost`` (duplex, block
128 by default) for ``seconds`` on the JACK server, and passes when

    xruns <= baseline xruns + allowance   and   no missed hops, dropped or late blocks,

where the baseline is a bare pass-through stream (callback copies in → out) measured in the same
run, just before the trials. Both count only after ``warmup_s`` (stream start-up, first pushes). ``allowance`` absorbs this VM's scheduler noise (PLATFORM.md: 13–21
flagged callbacks per 20 s with an idle engine): ``max(margin, baseline // 4)``.

Search: n = 1, 2, 4, ... until a trial fails (or ``max_instances``), then bisection between the
last pass and the first failure. A failing count is tried a second time before it counts as
failed (scheduler bursts on a shared VM are transient; a processor that is too slow fails
twice). Every trial is reported.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from ..core.engine import Engine
from ..core.processor import Processor
from ..hosts.live_host import LiveHost
from .jack import bare_passthrough

#: counters reported as the difference between the end and the end of the warm-up
COUNTERS = ("xruns", "callbacks", "missed_hops", "missed_blocks", "late_blocks")
TRIAL_KEYS = ("cpu_load", "callback_interval_max_ms", "callback_jitter_ms", "compute_ms_p99", "compute_ms_max")


@dataclass(frozen=True)
class LoadConfig:
    """Attributes: block (samples), sample_rate (Hz), seconds per trial, max_instances (cap on n),
    margin (least xrun allowance over the baseline), miss_policy (the engine's)."""

    block: int = 128
    sample_rate: int = 48000
    seconds: float = 60.0
    max_instances: int = 64
    margin: int = 3
    miss_policy: str | dict = "skip"
    warmup_s: float = 1.0


class NoOp(Processor):
    """The host floor's processor: 10 ms hops, no work, no events."""

    task = "noop"
    channels = 1

    def prepare(self, spec) -> None:
        self.hop_size = max(1, spec.sample_rate // 100)

    def process(self, block, t0, out=None) -> list:
        return []

    def reset(self) -> None:
        pass


class _NullSink:
    def send(self, events) -> None: ...

    def status(self, stats) -> None: ...

    def close(self) -> None: ...


def trial(make_processors, n: int, cfg: LoadConfig) -> dict:
    """Run ``n`` copies of ``make_processors()`` for ``cfg.seconds``; the summary's key figures."""
    procs = [p for _ in range(n) for p in make_processors()]
    engine = Engine(procs, [_NullSink()], miss_policy=cfg.miss_policy)
    host = LiveHost(block=cfg.block, sample_rate=cfg.sample_rate, output=True)
    start = time.monotonic()
    warm: dict = {}

    def stop() -> bool:  # polled on this thread every 50 ms by host.run
        now = time.monotonic() - start
        if not warm and now >= cfg.warmup_s and host.frames_in:
            warm.update(host.summary("warmup"))
        return now > cfg.warmup_s + cfg.seconds

    summary = host.run(engine, stop=stop, status_every=1.0)
    counts = {k: summary[k] - warm.get(k, 0) for k in COUNTERS}
    return {"instances": n, "processors": len(procs), **counts, **{k: summary[k] for k in TRIAL_KEYS},
            "warmup": {k: warm.get(k, 0) for k in COUNTERS}}


def load_test(make_processors, cfg: LoadConfig) -> dict:
    """Find the largest passing instance count (see the module docstring).

    Returns:
        ``{"baseline", "allowance", "trials", "max_instances_ok", "config"}``; ``max_instances_ok``
        is 0 when even one instance fails.
    """
    base = bare_passthrough(cfg.seconds, cfg.sample_rate, cfg.block, cfg.warmup_s)
    floor = trial(lambda: [NoOp()], 1, cfg)
    allowance = max(cfg.margin, base["xruns"] // 4, int(cfg.seconds // 6))
    audio = any(p.output_channels for p in make_processors())

    def misses(r: dict) -> int:
        return r["missed_hops"] + (r["late_blocks"] if audio else 0)

    trials: list[dict] = []

    def ok(n: int) -> bool:
        for _ in range(2):
            r = trial(make_processors, n, cfg)
            r["passed"] = (r["xruns"] <= base["xruns"] + allowance and r["missed_blocks"] == 0
                           and misses(r) <= misses(floor) + allowance)
            trials.append(r)
            if r["passed"]:
                return True
        return False

    good, bad, n = 0, None, 1
    while n <= cfg.max_instances:
        if not ok(n):
            bad = n
            break
        good, n = n, 2 * n
    while bad is not None and bad - good > 1:
        mid = (good + bad) // 2
        if ok(mid):
            good = mid
        else:
            bad = mid
    return {"baseline": base, "host_floor": floor, "allowance": allowance, "late_blocks_count": audio,
            "trials": trials, "max_instances_ok": good,
            "first_failing": bad, "config": {"block": cfg.block, "sample_rate": cfg.sample_rate,
                                             "seconds": cfg.seconds, "max_instances": cfg.max_instances}}

"""``rtmir bench``: one JSON document with every latency figure, in a stable, versioned schema.

    compute sweep (no audio server) ──► rows, histograms, latency breakdown per block
    --e2e        (JACK dummy server) ──► e2e: audio lag (freewheel exact + real time), OSC latency
    --load-test  (JACK dummy server) ──► load: largest instance count vs a bare stream

The schema is documented in docs/BENCH_SCHEMA.md; ``SCHEMA_VERSION`` changes whenever a key is
renamed or removed (adding keys keeps it). ``check_schema`` is what the tests hold it to.
"""
from __future__ import annotations

import dataclasses
import datetime
import os
from dataclasses import dataclass

from ..core.engine import Engine
from .compute import HIST_EDGES_US, ComputeResult, bench_compute

SCHEMA_VERSION = 1
#: required keys: of the document, of meta, of a compute row, of a latency row, of e2e, of load
TOP_KEYS = ("schema_version", "meta", "rows", "histograms", "latency", "e2e", "load")
META_KEYS = ("command", "date", "machine", "load_average_1min", "load_average_end_1min", "sample_rate",
             "seconds", "blocks", "processors")
ROW_KEYS = tuple(f.name for f in dataclasses.fields(ComputeResult))
LATENCY_KEYS = ("processor", "block", "algorithmic_ms", "buffering_ms", "host_block_ms", "adapter_audio_ms",
                "resampler_ms", "compute_p50_ms", "compute_p99_ms", "device_ms", "total_p99_ms")
E2E_KEYS = ("server", "started_server", "block", "baseline", "audio_freewheel", "audio_realtime", "events")
LOAD_KEYS = ("baseline", "allowance", "trials", "max_instances_ok", "first_failing", "config")


@dataclass(frozen=True)
class BenchConfig:
    """What ``rtmir bench`` measures.

    Attributes:
        blocks: host block sizes of the compute sweep (samples).
        sample_rate: host rate (Hz).
        seconds: compute test signal length per block (s).
        e2e: also measure end to end through JACK.
        e2e_block: block (= JACK period) of the e2e and load runs.
        e2e_seconds: signal length of each e2e run (s).
        load_test: also run the load test.
        overhead: also time the engine's own cost per push (``bench/overhead.py``).
        placement: every node's placement in the e2e runs ("worker", "inline"; None: their own).
        load_seconds: seconds per load trial.
        miss_policy: the engine's miss policy in e2e and load runs.
        deadline_ms: LiveHost deadline in e2e runs (None: its default).
        command: the command line, recorded in meta.
    """

    blocks: tuple[int, ...] = (32, 64, 128, 256, 512, 1024, 2048)
    sample_rate: int = 48000
    seconds: float = 10.0
    e2e: bool = False
    e2e_block: int = 128
    e2e_seconds: float = 3.0
    load_test: bool = False
    load_seconds: float = 60.0
    miss_policy: str | dict = "skip"
    deadline_ms: float | None = None
    command: str = ""
    overhead: bool = False
    placement: str | None = None


def run_bench(make_processors, cfg: BenchConfig) -> dict:
    """Measure everything ``cfg`` asks for; returns the schema-``SCHEMA_VERSION`` document."""
    from .report import machine

    load_start = os.getloadavg()[0]
    rows, hists = [], []
    for block in cfg.blocks:
        rows += [dataclasses.asdict(r) for r in bench_compute(make_processors, block, cfg.sample_rate,
                                                              cfg.seconds, histograms=hists)]
    e2e = _e2e(make_processors, cfg) if cfg.e2e else None
    load = _load(make_processors, cfg) if cfg.load_test else None
    meta = {"command": cfg.command, "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "machine": machine(), "load_average_1min": load_start, "load_average_end_1min": os.getloadavg()[0],
            "sample_rate": cfg.sample_rate, "seconds": cfg.seconds, "blocks": list(cfg.blocks),
            "processors": sorted({r["processor"] for r in rows} - {"engine"})}
    return {"schema_version": SCHEMA_VERSION, "meta": meta, "rows": rows,
            "histograms": {"edges_us": HIST_EDGES_US.tolist(), "rows": hists},
            "latency": latency_rows(make_processors, cfg, rows, e2e), "e2e": e2e, "load": load,
            "overhead": _overhead() if cfg.overhead else None}


def _overhead() -> dict:
    from .overhead import engine_overhead

    return engine_overhead()


def latency_rows(make_processors, cfg: BenchConfig, rows: list[dict], e2e: dict | None) -> list[dict]:
    """The named latencies per processor and block (ms): declared parts + measured compute.

    ``device_ms`` comes from the e2e run (None without ``--e2e``): for event processors the
    input latency (the wait for a captured period), for audio processors the reported output
    latency (the input period and the host block overlap: one block waits once). ``total_p99_ms``
    = algorithmic + buffering + compute p99 + device (0 if unknown).
    """
    dev_in, dev_out = _device_ms(e2e)
    compute = {(r["processor"], r["block"]): r for r in rows}
    out = []
    for block in cfg.blocks:
        engine = Engine(make_processors())
        engine.prepare(cfg.sample_rate, 1, block)
        for lat in engine.latency_report():
            c = compute.get((lat["processor"], block), {})
            p50, p99 = c.get("p50_us", 0.0) / 1000.0, c.get("p99_us", 0.0) / 1000.0
            device = dev_out if lat["output_channels"] else dev_in
            out.append({"processor": lat["processor"], "block": block, "algorithmic_ms": lat["algorithmic_ms"],
                        "buffering_ms": lat["buffering_ms"], "host_block_ms": lat["host_block_ms"],
                        "adapter_audio_ms": lat["adapter_audio_ms"], "resampler_ms": lat["resampler_ms"],
                        "compute_p50_ms": p50, "compute_p99_ms": p99, "device_ms": device,
                        "total_p99_ms": lat["algorithmic_ms"] + lat["buffering_ms"] + p99 + (device or 0.0)})
    return out


def _device_ms(e2e: dict | None) -> tuple[float | None, float | None]:
    """(input, output) device latency in ms from an e2e run, or (None, None).

    PortAudio's reported figures, with the input at least one block: a sample reaches the
    callback only once its period is captured (PortAudio's JACK backend reports 0 there).
    """
    for key in ("events", "audio_realtime", "audio_freewheel"):
        run = ((e2e or {}).get(key) or {}).get("run") or {}
        if run.get("device_latency_ms"):
            block_ms = 1000.0 * e2e["block"] / (e2e.get("sample_rate") or 48000)
            dev_in, dev_out = (float(x) for x in run["device_latency_ms"][:2])
            return max(dev_in, block_ms), dev_out
    return None, None


def _e2e(make_processors, cfg: BenchConfig) -> dict:
    from .e2e import E2EConfig, audio_latency, event_latency
    from .jack import bare_passthrough, jack_server

    audio = any(p.output_channels for p in make_processors())
    events = any(not p.output_channels for p in make_processors())
    with jack_server(rate=cfg.sample_rate, period=cfg.e2e_block) as (name, started):
        ecfg = E2EConfig(cfg.e2e_block, cfg.sample_rate, cfg.e2e_seconds, name, cfg.miss_policy, cfg.deadline_ms,
                         cfg.placement)
        base = bare_passthrough(cfg.e2e_seconds, cfg.sample_rate, cfg.e2e_block)
        return {"server": name, "started_server": started, "block": cfg.e2e_block,
                "sample_rate": cfg.sample_rate, "baseline": base,
                "audio_freewheel": audio_latency(make_processors, ecfg, freewheel=True) if audio else None,
                "audio_realtime": audio_latency(make_processors, ecfg, freewheel=False) if audio else None,
                "events": event_latency(make_processors, ecfg) if events else None}


def _load(make_processors, cfg: BenchConfig) -> dict:
    from .jack import jack_server
    from .load import LoadConfig, load_test

    with jack_server(rate=cfg.sample_rate, period=cfg.e2e_block) as (name, started):
        lcfg = LoadConfig(cfg.e2e_block, cfg.sample_rate, cfg.load_seconds, miss_policy=cfg.miss_policy)
        return {**load_test(make_processors, lcfg), "server": name}


def check_schema(doc: dict) -> list[str]:
    """Keys the document lacks, as ``"path.key"`` strings (empty: it follows the schema)."""
    missing = [k for k in TOP_KEYS if k not in doc]
    missing += [f"meta.{k}" for k in META_KEYS if k not in doc.get("meta", {})]
    for i, row in enumerate(doc.get("rows", [])):
        missing += [f"rows[{i}].{k}" for k in ROW_KEYS if k not in row]
    for i, row in enumerate(doc.get("latency", [])):
        missing += [f"latency[{i}].{k}" for k in LATENCY_KEYS if k not in row]
    if doc.get("e2e"):
        missing += [f"e2e.{k}" for k in E2E_KEYS if k not in doc["e2e"]]
    if doc.get("load"):
        missing += [f"load.{k}" for k in LOAD_KEYS if k not in doc["load"]]
    if doc.get("schema_version") != SCHEMA_VERSION:
        missing.append(f"schema_version == {SCHEMA_VERSION}")
    return missing

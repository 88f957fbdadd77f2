"""A bench JSON document as text: a terminal summary and the Markdown for docs/BENCHMARKS.md."""
from __future__ import annotations


def compute_table(rows: list[dict]) -> str:
    """Markdown table of compute rows (``rows`` of a bench document)."""
    head = ("| processor | block | rate | hop | p50 µs | p99 µs | p99.9 µs | max µs | RTF | block budget µs | warm-up calls (max µs) |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n")
    body = "".join(
        f"| {r['processor']} | {r['block']} | {r['sample_rate']} | {r['hop_size']} | {r['p50_us']:.0f} | "
        f"{r['p99_us']:.0f} | {r['p999_us']:.0f} | {r['max_us']:.0f} | {r['rtf']:.4f} | {r['block_budget_us']:.0f} | "
        f"{r.get('warmup_calls', 0)} ({r.get('warmup_max_us', 0.0):.0f}) |\n"
        for r in rows
    )
    return head + body


def latency_table(rows: list[dict]) -> str:
    """Markdown table of the named latencies (ms) per processor and block."""
    head = ("| processor | block | algorithmic | buffering (block + adapter + resampler) | compute p50 | compute p99 "
            "| device | total (p99) |\n|---|---|---|---|---|---|---|---|\n")

    def ms(x):
        return "—" if x is None else f"{x:.2f}"

    return head + "".join(
        f"| {r['processor']} | {r['block']} | {ms(r['algorithmic_ms'])} | {ms(r['buffering_ms'])} "
        f"({ms(r['host_block_ms'])} + {ms(r['adapter_audio_ms'])} + {ms(r['resampler_ms'])}) | "
        f"{ms(r['compute_p50_ms'])} | {ms(r['compute_p99_ms'])} | {ms(r['device_ms'])} | {ms(r['total_p99_ms'])} |\n"
        for r in rows)


def e2e_text(e2e: dict | None) -> str:
    """Markdown paragraphs for the end-to-end section."""
    if not e2e:
        return ""
    base = e2e["baseline"]
    out = [f"JACK server `{e2e['server']}` ({'started by the bench' if e2e['started_server'] else 'already running'}), "
           f"block {e2e['block']}. Bare pass-through stream in the same run: {base['xruns']} xruns in "
           f"{base['callbacks']} callbacks, callback interval max {base['callback_interval_max_ms']:.2f} ms.\n"]
    for key in ("audio_freewheel", "audio_realtime"):
        a = e2e.get(key)
        if a:
            d, r = a["declared"], a["run"]
            out.append(f"- **audio, {a['mode']}**: {a['clicks_back']}/{a['clicks']} clicks back at lags "
                       f"{a['lags_samples']} samples (declared {d['total_samples']} = algorithmic "
                       f"{d['algorithmic_samples']} + adapter {d['adapter_samples']} + output ring "
                       f"{d['output_ring_samples']} + PortAudio {d['portaudio_samples']}; exact: {a['exact']}); "
                       f"{_run_line(r)}")
    ev = e2e.get("events")
    if ev:
        s, t, o, d = (ev["arrival_minus_audio_ms"], ev["timetag_minus_player_ms"],
                      ev["onset_to_first_voiced_ms"], ev["declared"])
        tg = ev["arrival_minus_timetag_ms"]
        out.append(f"- **OSC events, real time**: {s.get('count', 0)} events; arrival − audio p50 "
                   f"{s.get('p50', 0):.2f} ms, p99 {s.get('p99', 0):.2f} ms, std (jitter) {s.get('std', 0):.2f} ms, "
                   f"max {s.get('max', 0):.2f} ms; declared band {d['min_ms']:.2f}…{d['max_ms']:.2f} ms "
                   f"(algorithmic {d['algorithmic_ms']:.2f} + block {d['buffering_ms']:.2f} + device in "
                   f"{d['device_input_ms']:.2f} + nap + compute p99 {d['compute_p99_ms']:.2f} + 1): within: "
                   f"{ev['within_declared']}. Arrival − OSC timetag: p50 {tg.get('p50', 0):.2f} ms, std "
                   f"{tg.get('std', 0):.2f} ms. Timetag vs the player's clock: {t.get('mean', 0):+.2f} ms "
                   f"(std {t.get('std', 0):.2f})"
                   + (f", of which the capture latency the timetags account for {-ev['capture_latency_ms']:+.2f} ms "
                      f"(residual {ev['timetag_residual_ms'].get('mean', 0):+.2f} ms)" if "capture_latency_ms" in ev else "")
                   + (f"; stream time behind JACK time by up to {ev['stream_slip_ms']['max']:.2f} ms (cycles rtmir "
                      f"was not run for)" if ev.get("stream_slip_ms", {}).get("max") else "")
                   + f"; JACK clock vs wall {ev['jack_clock_ppm']:+.0f} ppm."
                   + (f" Burst onset → first voiced event arrival: p50 {o['p50']:.2f} ms, std {o['std']:.2f} ms "
                      f"({o['count']}/{ev['bursts']} bursts)." if o.get("count") else "")
                   + f" {_run_line(ev['run'])}")
    return "\n".join(out) + "\n"


def _run_line(r: dict) -> str:
    return (f"xruns {r['xruns']}, late blocks {r['late_blocks']}, missed hops {r['missed_hops']} "
            f"(policies {r['miss_policies']}), callback interval max {r['callback_interval_max_ms']:.2f} ms.")


def load_text(load: dict | None) -> str:
    """Markdown for the load test."""
    if not load:
        return ""
    base, c, fl = load["baseline"], load["config"], load.get("host_floor")
    floor = (f" Host floor (LiveHost + a no-op processor): {fl['xruns']} xruns, {fl['late_blocks']} late blocks, "
             f"{fl['missed_hops']} missed hops." if fl else "")
    head = (f"Block {c['block']}, {c['seconds']:.0f} s per trial. Bare pass-through baseline: {base['xruns']} xruns "
            f"in {base['callbacks']} callbacks.{floor} Allowance +{load['allowance']}; late output blocks "
            f"{'count' if load.get('late_blocks_count', True) else 'do not count (event processors: dry monitor)'}. "
            f"**Largest passing instance count: {load['max_instances_ok']}** "
            f"(first failing: {load['first_failing']}).\n\n"
            "| instances | processors | xruns | missed hops | late blocks | dropped blocks | worker load | "
            "callback max ms | passed |\n|---|---|---|---|---|---|---|---|---|\n")
    return head + "".join(
        f"| {t['instances']} | {t['processors']} | {t['xruns']} | {t['missed_hops']} | {t['late_blocks']} | "
        f"{t['missed_blocks']} | {t['cpu_load']:.2f} | {t['callback_interval_max_ms']:.2f} | {t['passed']} |\n"
        for t in load["trials"])


def markdown(doc: dict, title: str) -> str:
    """The whole Markdown section of one bench document."""
    m = doc["meta"]
    parts = [f"## {title}\n",
             f"`{m['command']}` — {m['date']}, load average {m['load_average_1min']:.2f} at start, "
             f"{m['load_average_end_1min']:.2f} at end (schema {doc['schema_version']}).\n",
             "### Compute per hop (the `engine` row is per host block)\n", compute_table(doc["rows"]),
             "### Latency, named (ms)\n", latency_table(doc["latency"])]
    if doc.get("e2e"):
        parts += ["### End to end\n", e2e_text(doc["e2e"])]
    if doc.get("load"):
        parts += ["### Load test\n", load_text(doc["load"])]
    if doc.get("overhead"):
        o = doc["overhead"]
        parts += ["### Engine overhead\n",
                  f"{o['nodes']} trivial nodes at block {o['block']} ({o['sample_rate']} Hz), {o['pushes']} pushes: "
                  f"p50 {o['p50_us']:.1f} µs, p99 {o['p99_us']:.1f} µs, max {o['max_us']:.0f} µs per push.\n"]
    return "\n".join(parts)


def summary_text(doc: dict) -> str:
    """What ``rtmir bench`` prints: the same Markdown (readable as plain text)."""
    return markdown(doc, "rtmir bench")

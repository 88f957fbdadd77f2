"""Declared latency = measured latency, per kind of output.

Audio ports: an impulse. Its peak in the aligned host-rate output (parabolic, sub-sample) must
lie where ``Engine.audio_delay_samples`` (the processor's latency + the engine's alignment and
resampling, computed by ``core/latency.py``) says: within half a sample at the host rate, or
half a sample plus one node sample when the node runs at another rate.

Event ports: a step. The events' ``t`` says which instant of the input they describe; the
processor declares how far past that instant it looked (``latency_samples``). Silence, then a
3-partial tone (220, 110, 440 Hz in turn) starting at a random instant::

    input      ____________|~~~~~~~~~~~~~~~~~~~~~     onset at t_on
    activity   ____________/‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾     |v(t) - before| / |plateau - before|
                           ^ t_react: first crossing of 0.5 (linear between events)

A notes node (a transcriber) emits only note changes: its reaction is its first note-on.
Otherwise ``activity`` is the distance of each event's values from the silent baseline, scaled by the
tone's plateau: the ``confidence`` of a pitch-kind port; for any other kind each numeric field
(a model's output) on its own, and the earliest field's reaction counts — a model whose outputs
integrate a long past (pitch-tcn v2's salience over a 256 ms window) settles them later than the
one that reports the onset, which is not look-ahead. An event that honestly describes instant
``t`` reacts at ``t ≈ t_on``; one whose processor declares ``d`` samples less look-ahead than it
has reacts ``d`` later (every field of it). So

    measured latency = declared + median(t_react - t_on)     and it must hold that
    |measured - declared| <= one hop                          (the events' time granularity)

A node with several audio ports (a separator's stems) declares one delay for all of them, and
the port that passes most of the impulse is held to it (the drums stem of a click); the others
come out of the same path but pass little or nothing of a click (a trained separator's bass), so
their peak says what they passed, not when. A node none of whose ports responds fails.

A raw model output (result "raw": ``--task model``) has no decoder that fixes which instant of
its window it reports, so it only has to react within the look-ahead it declares:
``-hop <= measured <= declared + hop``. tags-lstm 0.1.0's raw logits (a log-mel of a 64 ms window
stamped at its centre) move half way when the onset is ~10 ms into the window, 10 ms measured
against 32 declared; its ``--task tags`` probabilities measure 32 ms.

Measured here on the shipped processors: pitch-tcn v2 reacts ~9 ms after the onset (hop 10 ms;
its labels, aligned-v1, voice a note from the first frame whose window of at least 20 ms centred
on it is periodic, so a tone is voiced half a window in; v1.3.0, on MIDI-timed labels, reacted
within ±3 ms); YIN 1…8 ms after it (hop 10 ms), because its difference function looks one window plus
one period ahead of the frame start, so the audio it hears is centred (tau_max - period) / 2
samples before the frame centre it stamps (7 ms for 220 Hz at any rate).
"""
from __future__ import annotations

import numpy as np

from .harness import Run
from .levels import HOST_RATE, MAX_BLOCK
from .result import Context, Result
from .signals import harmonic_step, random_blocks

RAW = "raw"  # the result of a raw model's event port

STEP_FREQUENCIES = (220.0, 110.0, 440.0)
ONSET_S = 0.6  # silence before the tone (the baseline)
TONE_S = 0.7  # tone length after the onset (the plateau: its last 0.35 s)
REACT = 0.5  # the activity crossing that counts as the reaction
IMPULSE_AT_S = 0.3


def latency(ctx: Context) -> Result:
    """Every event port and every audio port of every node that hears the input: the
    measured latency equals the declared one (module docstring: step for events, impulse for
    audio). Generators (no input) are not late to anything: n/a."""
    if not ctx.facts.listens:
        return ctx.na("latency", "a generator: no input to be late to")
    timed = [n for n in ctx.facts.nodes if not n.generator and not n.desc.extra.get("answers")]
    if not timed:  # its output is not the input delayed: when it speaks is its hand-over (its own tests)
        return ctx.na("latency", "a generator that answers the input: no delayed copy of the input to time")
    kinds = {n.name: n.desc.result for n in timed}
    parts, problems = [], []
    events = {name: kind for name, kind in kinds.items() if kind is not None}
    if events:
        p, f = _events(ctx, events)
        parts += f
        problems += p
    p, f = _audio(ctx, [n.name for n in timed])
    parts += f
    problems += p
    if not parts and not problems:
        return ctx.na("latency", "no event or audio output to measure (tokens only)")
    return ctx.result("latency", not problems, "; ".join(problems[:2] if problems else parts))


def _events(ctx: Context, kinds: dict[str, str]) -> tuple[list[str], list[str]]:
    """Step trials; per node: problems and the figure."""
    reactions: dict[str, list[float | None]] = {name: [] for name in kinds}
    timing: dict[str, tuple[float, float]] = {}
    for k in range(ctx.level.onsets):
        onset = ONSET_S + float(ctx.rng.uniform(0.0, 0.01))
        x = harmonic_step(HOST_RATE, onset, onset + TONE_S, STEP_FREQUENCIES[k % len(STEP_FREQUENCIES)])
        run = Run(ctx.subject, HOST_RATE, 1, MAX_BLOCK).prepare()
        run.feed(x, random_blocks(x.shape[1], ctx.rng, MAX_BLOCK))
        out = run.output()
        for node in run.engine.nodes:
            if node.name in kinds:
                timing[node.name] = (node.processor.latency_samples / node.rate, node.hop / node.rate)
                mine = [(t, v) for name, t, v in out.events if name == node.name]
                reactions[node.name].append(_reaction(mine, onset, kinds[node.name]))
    problems, parts = [], []
    for name, got in reactions.items():
        declared, hop = timing[name]
        seen = [r for r in got if r is not None]
        if len(seen) < len(got):
            problems.append(f"{name}: no event reacted to the tone onset in {len(got) - len(seen)} of "
                            f"{len(got)} trials")
            continue
        measured = declared + float(np.median(seen))
        what = {"pitch": "confidence", "notes": "first note-on"}.get(kinds[name], "earliest output")
        text = (f"{name} events: declared {1000 * declared:.1f} ms, measured {1000 * measured:.1f} ms "
                f"(tone onset, {what} at 50 %, median of {len(seen)}; hop {1000 * hop:g} ms)")
        if kinds[name] == RAW:  # a raw output may react anywhere within the look-ahead it declares
            ok = -hop <= measured <= declared + hop
            text += "; raw output: within its declared look-ahead" if ok else ""
        else:
            ok = abs(measured - declared) <= hop
        (parts if ok else problems).append(text)
    return problems, parts


def _fields(values: dict, kind: str) -> dict[str, np.ndarray]:
    """The numbers an event's activity is measured on, per field (module docstring)."""
    if kind == "pitch":
        return {"confidence": np.array([float(values["confidence"])])}
    out = {}
    for key in sorted(values):
        v = values[key]
        if isinstance(v, dict):
            v = [v[k] for k in sorted(v)]
        if isinstance(v, (bool, np.bool_, str)) or v is None:
            continue
        try:
            out[key] = np.ravel(np.asarray(v, np.float64))
        except (TypeError, ValueError):
            continue
    return out


def _reaction(events: list[tuple[float, dict]], onset: float, kind: str) -> float | None:
    """Seconds from the onset to the first 50 % crossing of the activity of the earliest field
    (each field — a model output — on its own), or None when no field reacts; for notes, to the
    first note-on from 0.1 s before the onset (a transcriber says nothing during silence)."""
    if kind == "notes":
        ons = [t for t, v in events if v.get("on") and t >= onset - 0.1]
        return float(ons[0] - onset) if ons else None
    if not events:
        return None
    per_field = [_fields(v, kind) for _, v in events]
    keys = set(per_field[0]).intersection(*per_field[1:])
    ts = np.array([t for t, _ in events])
    times = [_field_reaction(ts, np.stack([f[k] for f in per_field]), onset) for k in sorted(keys)]
    times = [t for t in times if t is not None]
    return min(times) if times else None


def _field_reaction(ts: np.ndarray, vals: np.ndarray, onset: float) -> float | None:
    """Seconds from the onset to the first 50 % crossing of one field's activity, or None."""
    before = vals[(ts >= 0.1) & (ts < onset - 0.1)]
    plateau = vals[(ts >= onset + TONE_S / 2) & (ts < onset + TONE_S - 0.05)]
    if not len(before) or not len(plateau):
        return None
    base = np.median(before, axis=0)
    span = float(np.linalg.norm(np.median(plateau, axis=0) - base))
    if not np.isfinite(span) or span < 1e-6:
        return None
    act = np.linalg.norm(vals - base, axis=1) / span
    idx = np.flatnonzero((ts >= onset - 0.1) & (act >= REACT))
    if not idx.size:
        return None
    k = int(idx[0])
    if k == 0 or act[k] == act[k - 1]:
        return float(ts[k] - onset)
    t = ts[k - 1] + (REACT - act[k - 1]) / (act[k] - act[k - 1]) * (ts[k] - ts[k - 1])
    return float(t - onset)


def _audio(ctx: Context, names: list[str]) -> tuple[list[str], list[str]]:
    """Impulse through every aligned audio port of ``names``; problems and the figure."""
    probe = Run(ctx.subject, HOST_RATE, 1, MAX_BLOCK).prepare()
    ports = [(n, p) for n in probe.engine.nodes if n.name in names for p in n.aligners]
    if not ports:
        return [], []
    longest = max(probe.engine.audio_delay_samples(n.name) for n, _ in ports)
    at = int(IMPULSE_AT_S * HOST_RATE) + int(ctx.rng.integers(0, 100))
    x = np.zeros((1, at + int(longest) + int(0.3 * HOST_RATE)), np.float32)
    x[0, at] = 0.5
    probe.feed(x, random_blocks(x.shape[1], ctx.rng, MAX_BLOCK))
    out = probe.output()
    problems, parts = [], []
    strength = {(node.name, port): float(np.abs(out.audio[f"{node.name}.{port}"]).max()) for node, port in ports}
    timed = {}  # node -> its port with the strongest response (a separator's drums for a click)
    for (name, port), peak in strength.items():
        if peak >= 1e-6 and peak > strength.get((name, timed.get(name)), -1.0):
            timed[name] = port
    for node, port in ports:
        declared = probe.engine.audio_delay_samples(node.name)
        tol = 0.5 if node.rate == HOST_RATE else 0.5 + HOST_RATE / node.rate
        if node.name not in timed:
            problems.append(f"{node.name}.{port}: no response to an impulse")
            continue
        if timed[node.name] != port:  # the same path as the timed port; its own peak says what it passed
            parts.append(f"{node.name}.{port}: timed by {node.name}.{timed[node.name]}")
            continue
        measured = _peak(out.audio[f"{node.name}.{port}"])
        text = (f"{node.name}.{port}: impulse back after {measured - at:.1f} samples, declared {declared:.1f} "
                f"(tol {tol:.1f})")
        (parts if abs(measured - at - declared) <= tol else problems).append(text)
    return problems, parts


def _peak(y: np.ndarray) -> float | None:
    """Sub-sample index of the largest |sample| over all rows (parabolic), or None if silent."""
    mag = np.abs(y.astype(np.float64))
    row = mag[int(mag.max(axis=1).argmax())]
    q = int(row.argmax())
    if row[q] < 1e-6:
        return None
    if 0 < q < row.size - 1:
        a, b, c = row[q - 1], row[q], row[q + 1]
        denom = a - 2 * b + c
        if denom < 0:
            return q + 0.5 * (a - c) / denom
    return float(q)

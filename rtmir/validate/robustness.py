"""Robustness checks: hostile input, long silence, parameter automation, refused values, timing.

Each function takes a ``Context`` and returns one ``Result``; its docstring is its promise.
"""
from __future__ import annotations

import math

import numpy as np

from .harness import Run, nonfinite, stream
from .levels import HOST_RATE, MAX_BLOCK
from .result import Context, Result
from .signals import fixed_blocks, on_channels, programme, random_blocks

#: Host block of ``silence`` (a live-sized buffer; every push is timed).
SILENCE_BLOCK = 512
#: Full-scale noise before the silence, s: state that decays towards denormals needs a past.
BURST_SECONDS = 0.5
#: Most a long-running instance's push may cost relative to a fresh one's (medians, see silence).
SLOWDOWN_LIMIT = 2.0
#: The control instance of ``silence`` is reset this often (s of audio): it never ages.
CONTROL_RESET_S = 1.0
#: Seconds of each hostile signal in ``extremes``.
EXTREME_SECONDS = 0.5


def silence(ctx: Context) -> Result:
    """0.5 s of full-scale noise, then ``level.silence_seconds`` of digital silence in
    512-sample blocks at 48 kHz: every output finite, and no slowdown (denormals, growing
    state). Criterion, robust on a loaded machine: over the last quarter of the silence a
    *control* instance, reset every second, is pushed the same silence in turn with the subject
    (the order alternating), so both are timed at the same moments; the median of ``subject
    push time / control push time`` must be at most 2. A machine slowing down slows
    both; an instance that has aged (state decayed into denormals, a history that grows) is
    slower than one that has not. A ratio over 2 is measured again on fresh instances and fails
    only if it repeats. A notes node (a transcriber) must end, by its own note-offs, every note
    the burst started: silence leaves no hanging note."""
    rate = HOST_RATE
    burst = ctx.rng.uniform(-1.0, 1.0, (1, int(BURST_SECONDS * rate))).astype(np.float32)
    quiet = np.zeros((1, int(ctx.level.silence_seconds * rate)), np.float32)
    ratios = []
    for _ in range(2):
        problems, ratio, median, hanging = _aging(ctx, burst, quiet)
        if problems:
            return ctx.result("silence", False, f"non-finite output in silence: {', '.join(problems[:2])}")
        if hanging:
            return ctx.result("silence", False, f"notes still on after {ctx.level.silence_seconds:g} s of silence: "
                                                f"{', '.join(hanging[:3])}")
        ratios.append(ratio)
        if ratio <= SLOWDOWN_LIMIT:
            break
    note = " (input unused: a generator)" if not ctx.facts.listens else ""
    figure = (f"{ctx.level.silence_seconds:g} s{note}: finite; last quarter's push vs a fresh instance's "
              f"{' then '.join(f'{r:.2f}×' for r in ratios)} (limit {SLOWDOWN_LIMIT:g}×, median {1e6 * median:.0f} µs)")
    return ctx.result("silence", ratios[-1] <= SLOWDOWN_LIMIT, figure)


def _aging(ctx: Context, burst: np.ndarray, quiet: np.ndarray) -> tuple[list[str], float, float, list[str]]:
    """The burst then the silence on the subject, a control instance in turn with it over the
    last quarter: problems, the median time ratio there, the subject's median push time there,
    the notes its notes nodes left on (``hanging_notes``)."""
    rate = HOST_RATE
    subject = Run(ctx.subject, rate, 1, SILENCE_BLOCK).prepare()
    control = Run(ctx.subject, rate, 1, SILENCE_BLOCK).prepare()
    subject.feed(burst, fixed_blocks(burst.shape[1], SILENCE_BLOCK))
    seq = fixed_blocks(quiet.shape[1], SILENCE_BLOCK)
    every = max(1, int(CONTROL_RESET_S * rate) // SILENCE_BLOCK)
    timed = len(seq) - max(1, len(seq) // 4)  # the control joins for the last quarter
    mine, theirs = [], []
    pos = 0
    for i, n in enumerate(seq):
        block = quiet[:, pos:pos + n]
        pos += n
        if i < timed:
            subject.push(block)
            continue
        if (i - timed) % every == 0:
            control.engine.reset()
        if i % 2:
            theirs.append(control.push(block))
            mine.append(subject.push(block))
        else:
            mine.append(subject.push(block))
            theirs.append(control.push(block))
    problems = nonfinite(subject.output())
    last_s, last_c = np.asarray(mine), np.asarray(theirs)
    ratio = float(np.median(last_s / np.maximum(last_c, 1e-9)))
    return problems, ratio, float(np.median(last_s)), hanging_notes(subject)


def hanging_notes(run: Run) -> list[str]:
    """``"<node>: note <pitch>"`` for every note a notes node turned on and has not turned off
    (its own events since the run began)."""
    nodes = {n.name for n in run.engine.nodes if n.desc.result == "notes"}
    on: set[tuple[str, int, int]] = set()
    for name, _, values in run.output().events:
        if name in nodes:
            key = (name, int(values["pitch"]), int(values["drum"]))
            (on.add if values["on"] else on.discard)(key)
    return [f"{name}: {'drum ' if drum else ''}note {pitch}" for name, pitch, drum in sorted(on)]


def _with_nonfinite(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """``x`` on two channels with NaN, +Inf and -Inf runs in the first; and how many."""
    y = on_channels(x, 2)
    n = y.shape[1]
    inserted = 0
    for value, frac, length in ((np.nan, 0.1, 64), (np.inf, 0.4, 1), (-np.inf, 0.7, 300)):
        start = int(n * frac) + int(rng.integers(0, 100))
        seg = y[0, start:start + length]
        seg[:] = value
        inserted += seg.size
    return y, inserted


def extremes(ctx: Context) -> Result:
    """Through the engine as hosts use it: NaN/±Inf runs in one channel of a stereo programme
    (the engine replaces them by 0 and counts each; the count must match), full-scale uniform
    noise, DC at +1 and -1, and ±1 at Nyquist: every output stays finite."""
    if not ctx.facts.listens:
        return ctx.na("extremes", "no audio input (a generator: the host block is only its clock)")
    n = int(EXTREME_SECONDS * HOST_RATE)
    x, inserted = _with_nonfinite(programme(HOST_RATE, ctx.level.seconds, ctx.rng), ctx.rng)
    cases = {
        "nan/inf": x,
        "noise": ctx.rng.uniform(-1.0, 1.0, (1, n)).astype(np.float32),
        "dc+1": np.ones((1, n), np.float32),
        "dc-1": -np.ones((1, n), np.float32),
        "nyquist": np.where(np.arange(n) % 2 == 0, 1.0, -1.0).astype(np.float32)[None],
    }
    problems = []
    for name, sig in cases.items():
        out = stream(ctx.subject, sig, HOST_RATE, random_blocks(sig.shape[1], ctx.rng, MAX_BLOCK), MAX_BLOCK)
        problems += [f"{name}: non-finite {w}" for w in nonfinite(out)]
        if name == "nan/inf" and out.nonfinite_replaced != inserted:
            problems.append(f"nan/inf: {out.nonfinite_replaced} samples replaced, {inserted} inserted")
    figure = f"{', '.join(cases)}: finite; {inserted} non-finite input samples replaced by the engine"
    return ctx.result("extremes", not problems, "; ".join(problems[:2]) if problems else figure)


def timing(ctx: Context) -> Result:
    """Event times follow the time convention (``core/processor.py``): ``t >= 0`` (nothing
    describes audio before the stream began), non-decreasing per node, on the node's hop grid
    (gaps are whole hops); every audio port gives one host sample per input sample. At 48 and
    44.1 kHz, random blocks."""
    problems: list[str] = []
    count = 0
    for rate in (HOST_RATE, 44100):
        x = programme(rate, ctx.level.seconds, ctx.rng)
        run = Run(ctx.subject, rate, 1, MAX_BLOCK).prepare()
        run.feed(x, random_blocks(x.shape[1], ctx.rng, MAX_BLOCK))
        out = run.output()
        count += len(out.events)
        for node in run.engine.nodes:
            ts = np.array([t for name, t, _ in out.events if name == node.name])
            problems += [f"{node.name} at {rate} Hz: {p}" for p in _time_problems(ts, node.hop / node.rate)]
        for key, a in out.audio.items():
            if a.shape[1] != out.samples_in:
                problems.append(f"{key}: {a.shape[1]} samples out for {out.samples_in} in")
        if out.underruns:
            problems.append(f"{rate} Hz: audio aligner ran dry on {out.underruns} pushes")
    figure = f"{count} events: t >= 0, in order, on the hop grid; audio 1 sample per sample"
    return ctx.result("timing", not problems, "; ".join(problems[:2]) if problems else figure)


def _time_problems(ts: np.ndarray, hop_s: float) -> list[str]:
    if ts.size == 0:
        return []
    out = []
    if ts.min() < 0:
        out.append(f"{int((ts < 0).sum())} event(s) before the stream began (first t = {ts.min() * 1000:.2f} ms)")
    gaps = np.diff(ts)
    if gaps.size and gaps.min() < 0:
        out.append("events out of order")
    steps = gaps / hop_s
    if gaps.size and np.abs(steps - np.round(steps)).max() > 1e-6:
        out.append(f"gaps are not whole hops of {hop_s * 1000:g} ms")
    return out


def _values(ctx: Context) -> list[tuple[str, object, float]]:
    """``(node, Param, value)``: low, default and high of every parameter, then random values
    in range, shuffled."""
    out = []
    for node, p in ctx.facts.params:
        vals = [p.low, p.default, p.high] + list(ctx.rng.uniform(p.low, p.high, ctx.level.fuzz_values))
        out += [(node, p, float(v)) for v in vals]
    order = ctx.rng.permutation(len(out))
    return [out[i] for i in order]


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def params(ctx: Context) -> Result:
    """Every declared parameter (``describe().params``) starts at its declared default, or at
    the value the graph file sets (as ``params()`` reports it), takes its low, default, high and ``level.fuzz_values`` random
    in-range values through ``engine.apply_control`` between pushes of a programme (random
    blocks, 48 kHz) without error, reads each back from ``params()``, and the output stays
    finite throughout."""
    if not ctx.facts.params:
        return ctx.na("params", "declares no parameters")
    x = programme(HOST_RATE, ctx.level.seconds, ctx.rng)
    seq = random_blocks(x.shape[1], ctx.rng, MAX_BLOCK)
    run = Run(ctx.subject, HOST_RATE, 1, MAX_BLOCK).prepare()
    procs = {n.name: n.processor for n in run.engine.nodes}
    problems = []
    initial = {n.name: n.initial for n in ctx.facts.nodes}
    for node, p in ctx.facts.params:
        now = procs[node].params().get(p.name)
        expected = initial[node].get(p.name, p.default)
        if now is None:
            problems.append(f"{node}.{p.name} is not reported by params()")
        elif not _close(now, expected):
            what = "set by the graph" if p.name in initial[node] else "declared default"
            problems.append(f"{node}.{p.name} is {now:g} after construction, {what} {expected:g}")
    changes = _values(ctx)
    per_push = math.ceil(len(changes) / max(1, len(seq) // 2))  # all within the first half

    def between(i: int) -> None:
        for node, p, v in changes[i * per_push:(i + 1) * per_push]:
            run.engine.apply_control(node, p.name, v)
            got = procs[node].params().get(p.name)
            if got is None or not _close(got, v):
                problems.append(f"{node}.{p.name} set to {v:g}, params() reports {got}")

    run.feed(x, seq, between)
    problems += [f"non-finite {w}" for w in nonfinite(run.output())]
    figure = (f"{len(ctx.facts.params)} param(s), {len(changes)} changes mid-stream: finite, read back, "
              "defaults as declared")
    return ctx.result("params", not problems, "; ".join(dict.fromkeys(problems[:2])) if problems else figure)


def refuse(ctx: Context) -> Result:
    """``engine.apply_control`` refuses what a host must not set: an unknown parameter name
    (KeyError, on every node), and for each declared parameter values just below ``low`` and
    above ``high``, NaN, +Inf and -Inf (ValueError), leaving ``params()`` unchanged; the
    bounds themselves are accepted."""
    run = Run(ctx.subject, HOST_RATE, 1, SILENCE_BLOCK).prepare()
    procs = {n.name: n.processor for n in run.engine.nodes}
    problems = []
    tried = bounds = 0
    for node in procs:
        tried += 1
        if not _raises(KeyError, run.engine.apply_control, node, "no_such_parameter", 0.5):
            problems.append(f"{node}: an unknown parameter name was accepted")
    for node, p in ctx.facts.params:
        step = max(1e-3, 0.01 * (p.high - p.low))
        for v in (p.low - step, p.high + step, math.nan, math.inf, -math.inf):
            tried += 1
            before = dict(procs[node].params())
            if not _raises(ValueError, run.engine.apply_control, node, p.name, v):
                problems.append(f"{node}.{p.name} = {v:g} accepted (range [{p.low:g}, {p.high:g}])")
            elif procs[node].params() != before:
                problems.append(f"{node}.{p.name} = {v:g} refused but params() changed")
        for v in (p.low, p.high):
            bounds += 1
            if _raises(Exception, run.engine.apply_control, node, p.name, v):
                problems.append(f"{node}.{p.name} = {v:g} (a bound) refused")
    figure = f"{tried} bad names/values refused, params() unchanged; {bounds} bounds accepted"
    return ctx.result("refuse", not problems, "; ".join(problems[:2]) if problems else figure)


def _raises(kind: type[BaseException], fn, *args) -> bool:
    try:
        fn(*args)
    except kind:
        return True
    return False


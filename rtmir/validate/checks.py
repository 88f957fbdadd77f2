"""Equivalence checks: what a host may vary must not change what a subject says.

Each function takes a ``Context`` and returns one ``Result``; its docstring is its promise.
"Bit for bit" means ``compare(...).ok(0.0)``: equal event counts, nodes, times, fields and
values, equal audio and tokens. "Within tolerance" means ``TOL_MODEL`` (1e-4) for a subject
that runs an ONNX model and ``TOL_DSP`` (1e-6) otherwise, on ``Diff.max_diff`` (absolute up
to 1, relative above: Hz); booleans, integers, tokens, counts and times stay exact.
"""
from __future__ import annotations

import threading
import time

import numpy as np

from .harness import TOL_MODEL, Diff, Output, Run, compare, nonfinite, stream
from .levels import HOST_RATE, MAX_BLOCK
from .result import Context, Result
from .signals import fixed_blocks, on_channels, programme, random_blocks

#: The reference host block of ``blocks`` (a common host buffer).
REFERENCE_BLOCK = 512
#: Seconds of programme per configuration in ``rates``.
RATE_SECONDS = 1.0


def _worst(diffs: list[Diff]) -> Diff:
    out = Diff()
    for d in diffs:
        out.max_diff = max(out.max_diff, d.max_diff)
        out.problems += d.problems
    return out


def _sane(out: Output, where: str) -> list[str]:
    """Problems every output must be free of: non-finite values, aligners running dry."""
    bad = [f"{where}: non-finite {w}" for w in nonfinite(out)]
    if out.underruns:
        bad.append(f"{where}: audio aligner ran dry on {out.underruns} pushes")
    return bad


def blocks(ctx: Context) -> Result:
    """Random host block sequences (1…8192 samples, the size changing every push; see
    ``signals.random_blocks``) give the output of fixed 512-sample blocks at 48 kHz, mono:
    same events at the same times, values within tolerance, finite, no aligner underrun."""
    x = programme(HOST_RATE, ctx.level.seconds, ctx.rng)
    n = x.shape[1]
    ref = stream(ctx.subject, x, HOST_RATE, fixed_blocks(n, REFERENCE_BLOCK))
    problems = _sane(ref, "512-sample blocks")
    diffs, pushes = [], 0
    for i in range(ctx.level.sequences):
        seq = random_blocks(n, ctx.rng, MAX_BLOCK)
        pushes += len(seq)
        out = stream(ctx.subject, x, HOST_RATE, seq, MAX_BLOCK)
        problems += _sane(out, f"sequence {i}")
        diffs.append(compare(ref, out, pitch_nodes=ctx.facts.pitch_nodes))
    d = _worst(diffs)
    tol = ctx.facts.tolerance
    ok = d.ok(tol) and not problems
    figure = (f"{ctx.level.sequences} sequence(s), {pushes} pushes of 1…{MAX_BLOCK} vs {REFERENCE_BLOCK}: "
              f"{d.text()} (tol {tol:.0e})")
    return ctx.result("blocks", ok, "; ".join(problems[:2]) if problems else figure)


def _widen(mono: Output, width_of: dict[str, int]) -> Output:
    """``mono`` with each one-row audio port repeated to ``width_of[port]`` rows (a processor
    that takes the host's channels gives C rows for C copies of the mono input)."""
    audio = {k: (np.repeat(a, width_of[k], axis=0) if a.shape[0] == 1 and width_of.get(k, 1) > 1 else a)
             for k, a in mono.audio.items()}
    return Output(mono.events, audio, mono.tokens)


def rates(ctx: Context) -> Result:
    """At every host rate and channel count of the level (the engine resamples and downmixes):
    no error, finite output, no aligner underrun; C identical channels give the mono output
    within tolerance; events per second agree across rates within 5 % (+3 events) — frame
    events only: a notes node's note changes depend on what each rate leaves of the programme
    (8 kHz keeps nothing above 4 kHz), so they are not counted. The figure
    also gives the slowest mono run's compute time per second of audio (information only: it
    depends on the machine)."""
    problems: list[str] = []
    counts: dict[int, float] = {}
    load: dict[int, float] = {}
    worst = 0.0
    for rate in ctx.level.rates:
        x = programme(rate, RATE_SECONDS, ctx.rng)
        seq = random_blocks(x.shape[1], ctx.rng, MAX_BLOCK)
        start = time.perf_counter()
        mono = stream(ctx.subject, x, rate, seq, MAX_BLOCK)
        load[rate] = (time.perf_counter() - start) / RATE_SECONDS
        problems += _sane(mono, f"{rate} Hz mono")
        counts[rate] = sum(1 for e in mono.events if e[0] not in ctx.facts.change_nodes) / RATE_SECONDS
        for c in ctx.level.channels:
            if c == 1:
                continue
            out = stream(ctx.subject, on_channels(x, c), rate, seq, MAX_BLOCK)
            problems += _sane(out, f"{rate} Hz × {c}")
            widened = _widen(mono, {k: a.shape[0] for k, a in out.audio.items()})
            d = compare(widened, out, pitch_nodes=ctx.facts.pitch_nodes)
            worst = max(worst, d.max_diff)
            if not d.ok(ctx.facts.tolerance):
                problems.append(f"{rate} Hz × {c} ch vs mono: {d.text()}")
    median = float(np.median(list(counts.values())))
    for rate, per_s in counts.items():
        if abs(per_s - median) > 0.05 * median + 3:
            problems.append(f"{per_s:g} events/s at {rate} Hz vs {median:g} at the others")
    slow = max(load, key=load.get)
    figure = (f"{len(counts)} rate(s) × channels {'/'.join(map(str, ctx.level.channels))}: C ch vs mono "
              f"max Δ {worst:.1e}, {median:g} frame events/s; slowest {slow} Hz: {load[slow]:.2f} s per s of audio")
    return ctx.result("rates", not problems, "; ".join(problems[:2]) if problems else figure)


def stream_offline(ctx: Context) -> Result:
    """Models only: at the model's own rate (no resampler in the path), random host block
    sequences give the output of one block holding the whole signal (offline): values within
    1e-4 (DESIGN.md contract 1), tokens, booleans, counts and times exact."""
    models = [n for n in ctx.facts.nodes if n.model]
    if not models:
        return ctx.na("stream", "no ONNX model (block-size exactness of DSP is the blocks check)")
    rate = models[0].model_rate
    x = programme(rate, ctx.level.seconds, ctx.rng)
    n = x.shape[1]
    offline = stream(ctx.subject, x, rate, [n], n)
    problems = _sane(offline, "offline")
    diffs = []
    for i in range(ctx.level.sequences):
        out = stream(ctx.subject, x, rate, random_blocks(n, ctx.rng, MAX_BLOCK), MAX_BLOCK)
        problems += _sane(out, f"sequence {i}")
        diffs.append(compare(offline, out, pitch_nodes=ctx.facts.pitch_nodes))
    d = _worst(diffs)
    ok = d.ok(TOL_MODEL) and not problems
    figure = f"{ctx.level.sequences} sequence(s) at {rate} Hz vs one {n}-sample block: {d.text()} (tol 1e-04)"
    return ctx.result("stream", ok, "; ".join(problems[:2]) if problems else figure)


def after_reset(fresh: Output, after: Output, reset_s: float) -> tuple[Diff, str]:
    """Compare what came after a reset with a fresh run: values bit for bit, and times going on
    from the stream time of the reset (``reset_s``): stream time never goes back (a reset clears
    state, not the clock), so times restarting at 0 are a failure."""
    if not fresh.events:
        return compare(fresh, after), "no events"
    shifted = compare(fresh, after, shift_s=reset_s)
    if not shifted.problems:
        return shifted, "times go on"
    if reset_s and not compare(fresh, after).problems:
        shifted.problems.insert(0, "stream time went back to 0 at the reset")
    return shifted, ""


def reset(ctx: Context) -> Result:
    """After ``engine.reset()`` mid-stream (mid-tone, at a random block), the output equals a
    fresh instance's on the same input and blocks, bit for bit (times: ``after_reset``). The
    figure says whether skipping the reset would have changed the output (if not, the check
    proved little)."""
    before = programme(HOST_RATE, ctx.level.seconds, ctx.rng)
    before = before[:, :int(before.shape[1] * ctx.rng.uniform(0.2, 0.4))]  # ends inside the glide
    after = programme(HOST_RATE, ctx.level.seconds, ctx.rng)
    seq_a = random_blocks(before.shape[1], ctx.rng, MAX_BLOCK)
    seq_b = random_blocks(after.shape[1], ctx.rng, MAX_BLOCK)
    fresh = stream(ctx.subject, after, HOST_RATE, seq_b, MAX_BLOCK)
    outs = []
    for do_reset in (True, False):
        run = Run(ctx.subject, HOST_RATE, 1, MAX_BLOCK).prepare()
        run.feed(before, seq_a)
        if do_reset:
            run.engine.reset()
        run.restart()
        run.feed(after, seq_b)
        outs.append(run.output())
    d, clock = after_reset(fresh, outs[0], before.shape[1] / HOST_RATE)
    skipped = compare(fresh, outs[1], times=False)
    note = "without it the output differs" if not skipped.ok(0.0) else "(the output does not depend on the past)"
    return ctx.result("reset", d.ok(0.0), f"after reset vs fresh: {d.text()} ({clock}); {note}")


def instances(ctx: Context) -> Result:
    """Two instances prepared side by side (48 kHz mono, 44.1 kHz stereo) and pushed in turn,
    each with its own input and blocks, give each one's output alone, bit for bit (no shared
    or class-level state)."""
    setups = [(HOST_RATE, 1), (44100, 2)]
    signals = [on_channels(programme(r, ctx.level.seconds, ctx.rng), c) for r, c in setups]
    seqs = [random_blocks(x.shape[1], ctx.rng, MAX_BLOCK) for x in signals]
    alone = [stream(ctx.subject, x, r, s, MAX_BLOCK) for x, (r, _), s in zip(signals, setups, seqs)]
    runs = [Run(ctx.subject, r, c, MAX_BLOCK).prepare() for r, c in setups]
    pos = [0, 0]
    for i in range(max(len(s) for s in seqs)):
        for k in (0, 1):
            if i < len(seqs[k]):
                n = seqs[k][i]
                runs[k].push(signals[k][:, pos[k]:pos[k] + n])
                pos[k] += n
    diffs = [compare(a, r.output()) for a, r in zip(alone, runs)]
    d = _worst(diffs)
    return ctx.result("instances", d.ok(0.0), f"interleaved vs alone: {d.text()}")


def threads(ctx: Context) -> Result:
    """Built and prepared on one thread, pushed on a second, reset on a third and pushed again
    on the caller's: each pass equals a run done on one thread, bit for bit."""
    x = programme(HOST_RATE, ctx.level.seconds, ctx.rng)
    seq = random_blocks(x.shape[1], ctx.rng, MAX_BLOCK)
    ref = stream(ctx.subject, x, HOST_RATE, seq, MAX_BLOCK)
    box: dict = {}

    def prepare() -> None:
        box["run"] = Run(ctx.subject, HOST_RATE, 1, MAX_BLOCK).prepare()

    def push() -> None:
        box["run"].feed(x, seq)
        box["first"] = box["run"].output()

    def reset_() -> None:
        box["run"].engine.reset()
        box["run"].restart()

    for step in (prepare, push, reset_):
        error = _on_thread(step)
        if error is not None:
            return ctx.result("threads", False, f"{step.__name__.strip('_')} on its own thread raised {error}")
    box["run"].feed(x, seq)
    again, _ = after_reset(ref, box["run"].output(), x.shape[1] / HOST_RATE)
    d = _worst([compare(ref, box["first"]), again])
    return ctx.result("threads", d.ok(0.0), f"prepare/push/reset on 3 threads vs 1: {d.text()}")


def _on_thread(fn) -> str | None:
    """Run ``fn`` on a new thread; the exception it raised, as text, or None."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except Exception as exc:  # reported as the check's failure
            errors.append(exc)

    t = threading.Thread(target=target, name=f"rtmir-validate-{fn.__name__}")
    t.start()
    t.join()
    return f"{type(errors[0]).__name__}: {errors[0]}" if errors else None


def determinism(ctx: Context) -> Result:
    """Two fresh instances fed the same input in the same blocks give the same output, bit for
    bit (no unseeded randomness, no dependence on the wall clock or on memory addresses)."""
    pairs = max(1, ctx.level.sequences // 2)
    diffs = []
    for _ in range(pairs):
        x = programme(HOST_RATE, ctx.level.seconds, ctx.rng)
        seq = random_blocks(x.shape[1], ctx.rng, MAX_BLOCK)
        diffs.append(compare(stream(ctx.subject, x, HOST_RATE, seq, MAX_BLOCK),
                             stream(ctx.subject, x, HOST_RATE, seq, MAX_BLOCK)))
    d = _worst(diffs)
    return ctx.result("determinism", d.ok(0.0), f"{pairs} pair(s) of runs: {d.text()}")

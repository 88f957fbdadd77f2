"""End-to-end latency through a real audio server: JACK (dummy driver) → LiveHost → audio / OSC.

    Player ──clicks / tone bursts──► rtmir input ─► LiveHost(worker: engine) ─┬─► output port ─► Recorder   (a)
                                                                              └─► OscSink ─UDP─► OscReceiver (b)

(a) ``audio_latency``: a click train in, rtmir's audio output recorded; the lag of each click is
    exact in freewheel (JACK waits for every client each cycle) and measured in real time too.
    Declared lag = output ring (``output_latency_blocks * block``) + PortAudio's own block
    (PLATFORM.md) + the adapter's ``hop - 1`` + the processor's ``latency_samples``.
(b) ``event_latency`` (real time): tone bursts in; the receiver stamps each datagram with the
    kernel's arrival time. Per event, ``arrival − audio``: the wall time at which the audio the
    event describes came to exist in the graph, found by mapping its JACK frame to wall time
    through the player's ``(last_frame_time, time.time())`` stamp of every cycle (interpolated
    locally, so stalls of the dummy driver are followed). Beside it ``arrival − timetag``:
    the timetag is ``epoch + t``, i.e. it assumes the device's sample clock runs at wall-clock
    speed; the difference between the two (``timetag_minus_player_ms`` at each burst onset, and
    ``jack_clock_ppm``) is how far the device clock strays — on this VM the dummy driver loses
    time when the scheduler stalls it, a sound card drifts by tens of ppm. The epoch is set back
    by the capture latency PortAudio reports for the first input sample (``capture_latency_ms``:
    one period on the dummy driver's ``system:capture`` ports, which the stream is wired to when it
    starts); the player feeds rtmir directly, with no capture stage, so its audio is that much
    *younger* and ``timetag_minus_player_ms`` ≈ −``capture_latency_ms``. Stream time counts the
    frames the callback was given, so each JACK cycle rtmir's client did not run (a loaded
    machine) makes later timetags one period early: the player measures that as
    ``stream_slip_ms`` (``Player.slip_at``), the audio's JACK frame above includes it, and
    ``timetag_residual_ms`` is what is left once capture latency and slip are added back. For pitch
    events the onset latency (burst start → first voiced event's arrival) is reported too.

Both report xruns, missed hops (and each processor's miss policy) and the callback intervals of
the run. Nothing here is real-time code; it drives and observes the real-time parts.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np

from ..core.engine import Engine
from ..hosts.live_host import LiveHost
from ..sinks.osc import OscSink
from .jack import BENCH_SERVER, Player, Recorder, wait_for
from .osc_receiver import OscReceiver

#: summary keys copied into every e2e result (what the engine did, and how the stream behaved)
RUN_KEYS = ("xruns", "callbacks", "late_blocks", "missed_blocks", "missed_hops", "missed_hops_by_processor",
            "miss_policies", "deadline_ms", "callback_interval_ms", "callback_jitter_ms",
            "callback_interval_max_ms", "compute_ms_p50", "compute_ms_p99", "compute_ms_max", "device_latency_ms")
CLICK_EVERY_S = 0.1


@dataclass(frozen=True)
class E2EConfig:
    """One end-to-end measurement.

    Attributes:
        block: host block = JACK period (samples).
        sample_rate: Hz (the server's).
        seconds: signal length (s).
        server: JACK server name.
        miss_policy: the engine's miss policy (str or {task: policy}).
        deadline_ms: LiveHost deadline (None: its default).
        placement: every node's placement ("worker", "inline"), None: the graph's.
    """

    block: int = 128
    sample_rate: int = 48000
    seconds: float = 3.0
    server: str = BENCH_SERVER
    miss_policy: str | dict = "skip"
    deadline_ms: float | None = None
    placement: str | None = None


class _NullSink:
    def send(self, events) -> None: ...

    def status(self, stats) -> None: ...

    def close(self) -> None: ...


def click_train(cfg: E2EConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(signal, click positions)``: unit impulses every 100 ms from 20 ms on."""
    x = np.zeros(int(cfg.seconds * cfg.sample_rate), np.float32)
    at = np.arange(int(0.02 * cfg.sample_rate), len(x) - cfg.sample_rate // 20, int(CLICK_EVERY_S * cfg.sample_rate))
    x[at] = 1.0
    return x, at


def tone_bursts(cfg: E2EConfig, hz: float = 440.0, on_s: float = 0.15, every_s: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """``(signal, onsets)``: 0.5-amplitude sine bursts of ``on_s`` every ``every_s``, from 0.2 s."""
    rate = cfg.sample_rate
    x = np.zeros(int(cfg.seconds * rate), np.float32)
    onsets = np.arange(int(0.2 * rate), len(x) - int(on_s * rate), int(every_s * rate))
    burst = 0.5 * np.sin(2 * np.pi * hz * np.arange(int(on_s * rate)) / rate).astype(np.float32)
    for k in onsets:
        x[k:k + len(burst)] = burst
    return x, onsets


def _run_in_thread(host: LiveHost, engine: Engine, **kwargs):
    stop, result = threading.Event(), {}

    def target() -> None:
        try:
            result["summary"] = host.run(engine, stop=stop.is_set, **kwargs)
        except Exception as exc:  # re-raised by the caller
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True, name="rtmir-bench-host")
    thread.start()
    return thread, stop, result


def _finish(thread, stop, result, clients) -> dict:
    stop.set()
    thread.join(15)
    for c in clients:
        c.deactivate()
        c.close()
    if "error" in result:
        raise result["error"]
    if thread.is_alive():
        raise TimeoutError("the live host did not stop within 15 s")
    return result["summary"]


def audio_latency(make_processors, cfg: E2EConfig, freewheel: bool) -> dict:
    """Clicks through the engine's first audio channel; lag of every click (samples).

    In freewheel the output ring holds the whole signal (the worker may lag the graph by design)
    and there is no deadline; in real time the host's defaults apply (2 blocks, deadline = due).
    """
    signal, at = click_train(cfg)
    engine = Engine(make_processors(), [_NullSink()], miss_policy=cfg.miss_policy, placement=cfg.placement)
    ring_blocks = math.ceil((cfg.seconds + 0.5) * cfg.sample_rate / cfg.block) if freewheel else 2
    channels = max([1] + [r.channel - 1 + (engine.graph.node(r.src.node).desc.output(r.src.port).width or 1)
                          for r in engine.graph.routes if r.channel])  # every routed channel (four stems) is recorded
    host = LiveHost(block=cfg.block, sample_rate=cfg.sample_rate, output=True, out_channels=channels,
                    output_latency_blocks=ring_blocks, ring_seconds=cfg.seconds + 4.0, watchdog_seconds=5.0,
                    deadline_ms=math.inf if freewheel else cfg.deadline_ms)
    thread, stop, result = _run_in_thread(host, engine)
    player = Player(signal, host, cfg.server)
    frames = len(signal) + (ring_blocks + 4) * cfg.block + cfg.sample_rate // 4
    recs = [Recorder(frames, cfg.server, name=f"rtmir_rec{ch}") for ch in range(channels)]
    try:
        player.client.activate()
        for rec in recs:
            rec.client.activate()
        wait_for(lambda: host.frames_in > 10 * cfg.block or "error" in result, 10, "first callbacks")
        if "error" in result:
            raise result["error"]
        player.wire_to_rtmir()
        for ch, rec in enumerate(recs):
            rec.wire_from_rtmir(ch)
        if freewheel:
            player.set_freewheel(True)
        player.armed = True
        for rec in recs:
            rec.start_time = -1
        wait_for(lambda: all(r.pos >= len(r.data) - cfg.block for r in recs), 60, "the recording")
    finally:
        if freewheel and player.freewheel_on:
            player.set_freewheel(False)
        summary = _finish(thread, stop, result, [player.client] + [r.client for r in recs])
    declared = _declared_audio(engine, host, cfg)
    per_channel = [_click_lags(r.data, at, r.start_time - player.jack_time, declared["total_samples"], cfg)
                   for r in recs]
    lags = per_channel[0]
    return {"mode": "freewheel" if freewheel else "realtime", "block": cfg.block, "clicks": int(len(at)),
            "clicks_back": int(len(lags)), "lags_samples": sorted(set(lags)), "lags_each": lags,
            "lags_by_channel": [sorted(set(c)) for c in per_channel],
            "lag_ms_p50": 1000.0 * float(np.median(lags)) / cfg.sample_rate if lags else None,
            "declared": declared, "exact": bool(lags) and set(lags) == {declared["total_samples"]},
            "run": {k: summary.get(k) for k in RUN_KEYS}}


def _declared_audio(engine: Engine, host: LiveHost, cfg: E2EConfig) -> dict:
    """The lag a click should come back with, split into named parts (samples)."""
    from ..core.latency import live_output_samples

    row = next(r for r in engine.latency_report() if r["output_channels"])
    ring = host.output_latency_blocks * cfg.block
    total = live_output_samples(row, ring, cfg.block)  # the one latency module says it all
    parts = {"algorithmic_samples": row["algorithmic_samples"],
             "adapter_samples": int(round(row["audio_delay_samples"])) - row["algorithmic_samples"],
             "output_ring_samples": 0 if row["placement"] == "inline" else ring,
             "portaudio_samples": cfg.block}  # PortAudio's JACK backend adds one block (PLATFORM.md)
    assert sum(parts.values()) == total
    return {**parts, "total_samples": total, "processor": row["processor"], "placement": row["placement"]}


def _click_lags(rec: np.ndarray, at: np.ndarray, offset: int, expected: int, cfg: E2EConfig) -> list[int]:
    """Lag of each click found within half a click spacing of ``expected`` (missing: not listed)."""
    half = int(CLICK_EVERY_S * cfg.sample_rate) // 2
    peak = float(np.max(np.abs(rec))) if rec.size else 0.0
    lags = []
    for a in at:
        lo = a + expected - half - offset
        seg = rec[max(lo, 0):max(lo + 2 * half, 0)]
        hits = np.flatnonzero(np.abs(seg) > 0.5 * peak) if peak > 0 else []
        if len(hits):
            lags.append(int(max(lo, 0) + hits[0] + offset - a))
    return lags


def event_latency(make_processors, cfg: E2EConfig) -> dict:
    """Tone bursts in real time; OSC arrival − timetag per event, timetag check, onset latency."""
    signal, onsets = tone_bursts(cfg)
    receiver = OscReceiver()
    receiver.start()
    osc = OscSink("127.0.0.1", receiver.port)
    engine = Engine(make_processors(), [osc], miss_policy=cfg.miss_policy)
    host = LiveHost(block=cfg.block, sample_rate=cfg.sample_rate, output=True, watchdog_seconds=5.0,
                    deadline_ms=cfg.deadline_ms)
    thread, stop, result = _run_in_thread(host, engine, on_epoch=lambda e: setattr(osc, "timetag_epoch", e))
    player = Player(signal, host, cfg.server)
    try:
        player.client.activate()
        wait_for(lambda: host.frames_in > 10 * cfg.block or "error" in result, 10, "first callbacks")
        if "error" in result:
            raise result["error"]
        player.wire_to_rtmir()
        player.armed = True
        wait_for(lambda: player.done or "error" in result, cfg.seconds + 10, "the player")
        time.sleep(0.3)  # the last events
    finally:
        summary = _finish(thread, stop, result, [player.client])
        engine.close()
        time.sleep(0.1)
        receiver.stop()
    n = player.cycles
    pairs = np.stack([player.cycle_frames[:n], player.cycle_walls[:n]], axis=1)
    report = _event_figures(receiver, host, player, onsets, pairs, cfg)
    report["declared"] = _declared_events(engine, summary, cfg)
    report["run"] = {k: summary.get(k) for k in RUN_KEYS}
    p50 = report["arrival_minus_audio_ms"].get("p50")
    report["within_declared"] = (p50 is not None and
                                 report["declared"]["min_ms"] <= p50 <= report["declared"]["max_ms"])
    return report


def _stats_ms(x: np.ndarray) -> dict:
    if not len(x):
        return {"count": 0}
    q = np.percentile(x, [50, 99])
    return {"count": int(len(x)), "mean": float(x.mean()), "std": float(x.std()), "p50": float(q[0]),
            "p99": float(q[1]), "min": float(x.min()), "max": float(x.max())}


def _event_figures(receiver: OscReceiver, host: LiveHost, player: Player, onsets, pairs, cfg: E2EConfig) -> dict:
    rate = cfg.sample_rate
    msgs = [(tt, addr, args, arr) for (tt, addr, args), arr in zip(receiver.messages, receiver.arrivals)
            if not addr.endswith("/status")]
    f = pairs  # (JACK frame at a cycle's start, wall s when that cycle ran), every player cycle

    def wall(jack_frame):  # local interpolation: follows the dummy driver's stalls
        return np.interp(jack_frame, f[:, 0], f[:, 1], left=np.nan, right=np.nan)

    def jack_frame(timetag):  # timetag = epoch + stream frame / rate; + the cycles rtmir never ran
        stream = np.round((timetag - host.timetag_epoch) * rate).astype(np.int64)
        return player.jack_time + stream - player.start_frame + player.slip_at(stream)

    tags = np.array([m[0] for m in msgs])
    arrivals = np.array([m[3] for m in msgs])
    audio_wall = wall(jack_frame(tags)) if len(msgs) else np.zeros(0)
    ok = np.isfinite(audio_wall)
    on_wall = wall(player.jack_time + onsets)
    on_stream = player.start_frame + onsets
    on_slip = player.slip_at(on_stream)  # the onset reached the stream this much earlier
    on_tag = host.timetag_epoch + (on_stream - on_slip) / rate  # the timetag rtmir gave it
    slip_ms = 1000.0 * player.slip_at(np.round((tags - host.timetag_epoch) * rate).astype(np.int64)) / rate
    slope = np.polyfit(f[:, 0] - f[0, 0], f[:, 1] - f[0, 1], 1)[0]
    return {"mode": "realtime", "block": cfg.block, "events": len(msgs), "bursts": int(len(onsets)),
            "kernel_arrival_stamps": receiver.kernel_stamps,
            "arrival_minus_audio_ms": _stats_ms(1000.0 * (arrivals[ok] - audio_wall[ok])),
            "arrival_minus_timetag_ms": _stats_ms(1000.0 * (arrivals - tags)),
            "timetag_minus_player_ms": _stats_ms(1000.0 * (on_tag - on_wall)[np.isfinite(on_wall)]),
            "capture_latency_ms": 1000.0 * host.capture_age_s,
            "stream_slip_ms": _stats_ms(slip_ms),
            "timetag_residual_ms": _stats_ms(1000.0 * (on_tag - on_wall + host.capture_age_s + on_slip / rate)
                                             [np.isfinite(on_wall)]),
            "onset_to_first_voiced_ms": _stats_ms(_onset_ms(msgs, on_wall)),
            "jack_clock_ppm": 1e6 * (slope * rate - 1.0)}


def _onset_ms(msgs, on_wall) -> np.ndarray:
    """Burst onset (wall) → arrival of the first voiced pitch event describing audio after it."""
    pitch = [(tt, arr) for tt, addr, args, arr in msgs if addr.endswith("/pitch") and args and args[0] > 0]
    out = []
    for w in on_wall[np.isfinite(on_wall)]:
        first = next((arr for tt, arr in pitch if arr > w and tt > w - 0.05), None)
        if first is not None and first - w < 0.25:
            out.append(1000.0 * (first - w))
    return np.array(out)


def _declared_events(engine: Engine, summary: dict, cfg: E2EConfig) -> dict:
    """The band ``arrival − audio`` should fall in (ms), from declared and measured parts.

    min: algorithmic − host block. A JACK client renders a whole period at its cycle's start, so
         the last samples of a block exist up to one block before their nominal time (a sound
         card delivers them a period *after*: add PortAudio's input latency there).
    max: algorithmic + host block (waiting for the block) + the device's input latency
         + a quarter block (the worker's nap) + compute p99 + 1 ms (UDP, scheduling).

    The device's input latency is PortAudio's figure, but at least one block: a sample cannot
    reach the callback before its period has been captured (PortAudio's JACK backend reports 0;
    the measured timetag − player offset, about −1 block, is that capture period).
    """
    block_ms = 1000.0 * cfg.block / cfg.sample_rate
    algo = max((r["upstream_ms"] + r["algorithmic_ms"] for r in engine.latency_report() if not r["output_channels"]),
               default=0.0)
    device_in = max((summary.get("device_latency_ms") or [0.0])[0], block_ms)
    compute = summary.get("compute_ms_p99", 0.0)
    return {"algorithmic_ms": algo, "buffering_ms": block_ms, "device_input_ms": device_in,
            "compute_p99_ms": compute, "min_ms": algo - block_ms,
            "max_ms": algo + block_ms + device_in + block_ms / 4 + compute + 1.0}

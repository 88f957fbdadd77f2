"""The two real-time halves of ``LiveHost``: what the PortAudio callback runs and the worker thread.

    audio thread: AudioSide.duplex / .capture        worker thread: Worker
    ──────────────────────────────────────────        ─────────────────────
    indata ──copy──► InputRing (drop + count if full)  ──► whole blocks ──► Engine.push ──► sinks
    outdata ◄─copy── DelayRing at pos − latency        ◄── engine audio (or dry) at its stream pos
    count callbacks, xrun flags, callback times        status every ~1 s, push timings

Deadline. Before pushing the block that starts at stream frame ``pos`` the worker compares it
with the callback's input position ``w``: if ``w - pos > deadline_frames`` the block is stale
(with the default deadline, its output has already been played as silence) and the engine gets
``missed=True``: each processor's miss policy (skip / hold / dry) runs instead of the processor,
which is cheap, so the worker catches up instead of falling further behind.

Real-time safety: ``AudioSide.duplex``/``capture`` copy into preallocated numpy rings and bump
ints — no array allocation, no lock, no logging, no waiting; only the rare xrun path reads the
status flags. The worker may allocate (it runs the engine) but never spins: it sleeps a quarter
of a block when no whole block is ready.
"""
from __future__ import annotations

import threading
import time

import numpy as np

from ..core.engine import Engine, EngineStats
from ..core.channels import fit_channels
from .ring import DelayRing, InputRing

#: callback timestamps and push durations kept for jitter and percentiles (a power of two)
TIMES = 8192
#: xruns whose callback index is kept (when they happen: at start, or later)
XRUNS_KEPT = 64


class AudioSide:
    """State the PortAudio callback touches: rings, counters, the first-callback time stamp.

    ``duplex``/``capture`` run on the audio thread and are real-time safe: they copy into
    preallocated rings and bump ints; the rare xrun path reads the status flags.
    """

    def __init__(self, in_ring: InputRing, out_ring: DelayRing | None, latency_frames: int, stop_exc) -> None:
        self.in_ring, self.out_ring = in_ring, out_ring
        self.latency_frames = latency_frames
        self.stop_exc = stop_exc  # sd.CallbackStop: ends the stream from inside, gently
        self.stopping = False
        self.callbacks = 0
        self.xruns = 0
        self.flags = np.zeros(4, np.int64)  # in overflow, in underflow, out underflow, out overflow
        self.xrun_at = np.zeros(XRUNS_KEPT, np.int64)  # the callback index of the first xruns
        self.late_blocks = 0
        self.epoch: float | None = None
        self.capture_age_s = 0.0  # what the epoch subtracted: the first input sample's age
        self.times = np.zeros(TIMES)
        self.inline = None  # the engine's InlinePart: nodes run here, in the callback
        self.play = None  # hosts.play.PlayInput: a file in place of the device's input
        self.ahead = None  # hosts.ahead.AheadPart: generated rows, copied here
        self.clock = None  # () -> JACK frame time of this cycle's start (a JACK MIDI sink's), or None
        self.jack_offset: int | None = None  # JACK frame − stream frame of the latest callback
        self._cycle_frame = -1  # that cycle's JACK frame, and how far into it the callback's block starts
        self._cycle_sub = self._cycle_n = 0

    def duplex(self, indata, outdata, frames, time_info, status) -> None:
        if self.stopping:
            outdata.fill(0.0)
            raise self.stop_exc
        pos = self.in_ring.write_pos
        indata = self._capture(indata, time_info, status)  # the device's frames, or --play's
        if not self.out_ring.read_into(pos - self.latency_frames, outdata) and pos >= self.latency_frames:
            self.late_blocks += 1
        if self.inline is not None:  # [frames, C] buffers seen as [C, frames]: no copies
            self.inline.process(indata.T, outdata.T)
        if self.ahead is not None:  # generators ran ahead: copy their rows at this position
            self.ahead.read_into(pos, outdata)

    def capture(self, indata, frames, time_info, status) -> None:
        if self.stopping:
            raise self.stop_exc
        self._capture(indata, time_info, status)

    def _capture(self, indata, time_info, status):
        if self.epoch is None:
            age = time_info.currentTime - time_info.inputBufferAdcTime
            self.capture_age_s = age if 0.0 < age < 1.0 else 0.0
            self.epoch = time.time() - self.capture_age_s
        if status:
            self._count(status)
        if self.clock is not None:
            self._stamp_jack_time(indata.shape[0])
        if self.play is not None:  # --play: the file's next frames stand in for the device's
            indata = self.play.next_block(indata.shape[0])
        self.in_ring.write(indata)  # drops (and counts) when full, never waits
        self.times[self.callbacks & (TIMES - 1)] = time.perf_counter()
        self.callbacks += 1
        return indata

    def _stamp_jack_time(self, frames: int) -> None:
        """``jack_offset`` for this block: the JACK frame its first sample entered the graph at,
        minus its stream frame. PortAudio may split a JACK cycle into several callbacks (block =
        period / k): those after the first start further into the cycle."""
        frame = self.clock()
        if frame == self._cycle_frame:
            self._cycle_sub += self._cycle_n
        else:
            self._cycle_frame, self._cycle_sub = frame, 0
        self._cycle_n = frames
        self.jack_offset = frame + self._cycle_sub - self.in_ring.write_pos

    def _count(self, status) -> None:
        if self.xruns < XRUNS_KEPT:
            self.xrun_at[self.xruns] = self.callbacks
        self.xruns += 1
        for i, flag in enumerate((status.input_overflow, status.input_underflow,
                                  status.output_underflow, status.output_overflow)):
            if flag:
                self.flags[i] += 1

    def intervals_ms(self) -> np.ndarray:
        """The recent inter-callback intervals (ms), oldest first (not real-time safe: allocates)."""
        n = min(self.callbacks, TIMES)
        if n < 2:
            return np.zeros(0)
        if self.callbacks <= TIMES:
            t = self.times[:n]
        else:  # oldest first
            k = self.callbacks & (TIMES - 1)
            t = np.concatenate([self.times[k:], self.times[:k]])
        return np.diff(t) * 1000.0

    def jitter_ms(self) -> tuple[float, float]:
        """Mean and standard deviation (ms) of the recent inter-callback intervals."""
        d = self.intervals_ms()
        if len(d) < 2:
            return 0.0, 0.0
        return float(d.mean()), float(d.std())


class Worker(threading.Thread):
    """Pulls whole host blocks from the input ring and runs ``engine.push``.

    Sleeps a quarter of a block when the ring is empty (never spins); after ``halt`` it drains
    what is left (partial last block included) and exits. Also writes the output (the engine's
    audio processors, or the dry input when it has none) and sends ``engine.send_status`` every
    ``status_every`` seconds. ``deadline_frames`` (None: never) marks stale blocks as missed.
    """

    def __init__(self, host, engine: Engine, side: AudioSide, status_every: float, on_epoch,
                 deadline_frames: int | None = None) -> None:
        super().__init__(name="rtmir-live-worker", daemon=True)
        self.host, self.engine, self.side = host, engine, side
        self.status_every, self.on_epoch = status_every, on_epoch
        self.halt = threading.Event()
        self.error: BaseException | None = None
        ch, block = side.in_ring.channels, host.block
        self.buf = np.zeros((ch, block), np.float32)  # [C, block], what engine.push sees
        self.frames = self.buf.T  # [block, C] view: the ring's frame-major layout
        out_ch = side.out_ring.channels if side.out_ring is not None else ch
        self.out_buf = np.zeros((out_ch, block), np.float32)  # engine audio, [C_out, block]
        self.out_frames = self.out_buf.T
        self.audio = side.out_ring is not None and engine.output_channels > 0
        self.deadline_frames = deadline_frames
        self.push_ms = np.zeros(TIMES)
        self.pushes = 0
        self.max_push_ms = 0.0
        self.busy_s = 0.0
        self.pos = 0  # stream frames consumed

    def run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # handed to the main thread, re-raised there after shutdown
            self.error = exc

    def _loop(self) -> None:
        nap = self.host.block / self.host.settings.sample_rate / 4
        while self.side.epoch is None and not self.halt.is_set():
            time.sleep(nap)
        if self.on_epoch is not None and self.side.epoch is not None:
            self.on_epoch(self.side.epoch)
        window_start, window_busy = time.perf_counter(), self.busy_s
        while True:
            draining = self.halt.is_set()
            if self._step(partial=draining):
                continue
            if draining:
                return
            now = time.perf_counter()
            if now - window_start >= self.status_every:
                load = (self.busy_s - window_busy) / (now - window_start)
                self.engine.send_status(self.host.status(load))
                window_start, window_busy = now, self.busy_s
            time.sleep(nap)

    def _step(self, partial: bool) -> bool:
        """Push one block (or a gap's silence); False when nothing (whole) is ready."""
        ring = self.side.in_ring
        gap = ring.next_gap()
        if gap is not None and gap[0] == ring.read_pos:
            self._push_silence(ring.skip_gap())
            return True
        if ring.readable() < self.buf.shape[1] and not partial:
            return False
        n = ring.read_into(self.frames)
        if n:
            self._push(n)
        return n > 0

    def _stale(self) -> bool:
        """Whether the block starting at ``self.pos`` is past its deadline (see module docstring)."""
        return self.deadline_frames is not None and self.side.in_ring.write_pos - self.pos > self.deadline_frames

    def _push_silence(self, frames: int) -> None:
        self.buf.fill(0.0)
        while frames > 0:
            n = min(frames, self.buf.shape[1])
            self._push(n)
            frames -= n

    def _push(self, n: int) -> None:
        block = self.buf[:, :n]
        missed = self._stale()
        start = time.perf_counter()
        if self.audio:
            self.engine.push(block, self.out_buf[:, :n], missed)
        else:
            self.engine.push(block, None, missed)
        took = time.perf_counter() - start
        if self.audio:
            self.side.out_ring.write(self.pos, self.out_frames[:n])
        elif self.side.out_ring is not None:  # dry, sanitised by push, fitted to the outputs
            fit_channels(block, self.out_buf[:, :n])
            self.side.out_ring.write(self.pos, self.out_frames[:n])
        self.pos += n
        ms = took * 1000.0
        self.push_ms[self.pushes & (TIMES - 1)] = ms
        self.pushes += 1
        self.busy_s += took
        self.max_push_ms = max(self.max_push_ms, ms)


def median_push_ms(worker: Worker | None) -> float:
    if worker is None or worker.pushes == 0:
        return 0.0
    return float(np.median(worker.push_ms[: min(worker.pushes, TIMES)]))


def warm_up(engine: Engine, steps: int = 4) -> None:
    """After ``engine.prepare`` and before ``attach_inline``/``detach_ahead``: push host blocks of
    silence until every node has run ``steps`` steps (at least ``steps`` blocks, at most about a
    second more), then prepare again — so that first calls (onnxruntime's first runs, numba
    dispatch, caches) are paid before the stream, not in its first blocks, where the worker holds
    the GIL the callback needs (pitch on JACK: 10.4 xruns in a cold stream's first second, 0.0
    warmed; ``rtmir bench --startup``). Nothing reaches the sinks, no control is drained;
    state, stream time, miss counters and stats are as after ``prepare``."""
    sinks, control = engine.sinks, engine.control
    engine.sinks, engine.control = [], None
    try:
        silence = np.zeros((engine.host_channels, engine.max_block), np.float32)
        limit = steps + int(np.ceil(engine.host_rate / engine.max_block))
        for k in range(limit):  # a hop may span blocks
            engine.push(silence)
            if k + 1 >= steps and all(n.steps >= steps for n in engine.nodes):
                break
    finally:
        engine.sinks, engine.control = sinks, control
    engine.prepare(engine.host_rate, engine.host_channels, engine.max_block)
    for node in engine.nodes:
        node.missed_hops = 0
    engine.stats = EngineStats()

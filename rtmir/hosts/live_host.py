"""LiveHost: a PortAudio (sounddevice) stream feeding an engine in real time (DESIGN.md, contract 3).

    PortAudio callback (audio thread)        worker thread                 main thread
    ─────────────────────────────────        ─────────────                 ───────────
    indata ──copy──► InputRing ─────────────► read whole blocks ──► Engine.push ──► sinks
    outdata ◄─copy── DelayRing ◄──────────── engine audio, at pos + latency watchdog, SIGTERM,
    count callbacks and xrun flags           status every ~1 s              Ctrl-C, stop()

The callback only copies and counts: no array allocation, no lock, no logging, never waits. A
full input ring drops the block (counted, ``missed_blocks``); the worker replaces the hole with
silence so stream time stays exact. Output (``output=True``) is the engine's audio — the audio
processors' outputs on consecutive channels, see ``Engine`` — or the dry input when no processor
makes audio, delayed by ``output_latency_blocks`` host blocks (a fixed, declared latency; nodes
placed ``inline`` run in the callback itself and skip that delay, ``core/placement.py``); frames
the worker has not written in time play as silence and are counted (``late_blocks``) — the
latency never drifts. A block the worker reaches after its deadline (default: when its output is
already due) is not computed: each processor's miss policy answers for it and its hops are
counted (``missed_hops``), so a slow processor never stalls the stream.

Stream time: events carry ``t`` = samples since the first callback / rate. ``timetag_epoch`` (UNIX
seconds of stream time 0) comes from the first callback: the wall clock minus the age of its first
input sample (``currentTime - inputBufferAdcTime``, kept as ``capture_age_s``), so OSC bundles can
carry true timetags: the instant the sound reached the device's converter, not the callback's.

Device loss (PLATFORM.md: with JACK, callbacks just stop, ``stream.active`` turns False, and
``stop()``/``close()``/``Pa_Terminate`` hang): the main thread's watchdog sees no callback for
``watchdog_seconds``, the worker drains, the engine finishes and **closes** (sinks flushed), the
dead stream is abandoned (never closed; sounddevice's exit handler is unregistered so the
interpreter can still exit) and ``DeviceLostError`` is raised. PortAudio is unusable in that
process afterwards: the CLI prints the one line and exits non-zero.
"""
from __future__ import annotations

import atexit
import faulthandler
import logging
import sys
import time
from pathlib import Path

import numpy as np

from ..core.engine import Engine
from .ahead import AheadPart
from .devices import AudioDeviceError, StreamSettings, _sd, resolve_stream
from .live_worker import AudioSide, Worker, warm_up
from .ring import DelayRing, InputRing
from .stop_signals import StopSignals

log = logging.getLogger(__name__)

__all__ = ["LiveHost", "AudioDeviceError", "DeviceLostError"]

#: GIL switch interval while streaming: the callback thread gets the GIL back within ~0.5 ms
#: instead of 5 ms (PLATFORM.md: cut pure-Python damage to the callback ~50×). Restored after.
SWITCH_INTERVAL_S = 0.0005
#: Seconds ``faulthandler`` lets a shutdown step take before it dumps the stacks and exits.
SHUTDOWN_GUARD_S = 5.0
_POLL_S = 0.05


class DeviceLostError(RuntimeError):
    """The audio device stopped delivering audio mid-stream (server killed, device unplugged).

    Raised after the engine was finished and closed (sinks flushed). ``summary`` holds the run's
    summary. PortAudio cannot be used again in this process.
    """

    def __init__(self, message: str, summary: dict) -> None:
        super().__init__(message)
        self.summary = summary


class LiveHost:
    """Run an engine on a live input device (or a duplex device with ``output=True``).

    Args:
        device: PortAudio device index or name (None: the default input).
        block: host block in samples (the callback's and the worker's block; on JACK use the
            server's period, PLATFORM.md).
        sample_rate: Hz, or None for the device's default.
        channels: input channels.
        output: open a duplex stream playing the engine's routed audio (or the dry input when
            nothing is routed) with a fixed latency of ``output_latency_blocks * block`` samples
            plus the device's own.
        out_channels: output channels (None: as many as ``channels``); any count, independent
            of the input's.
        ring_seconds: input ring capacity; the worker may fall this far behind before blocks are
            dropped (freewheeling JACK tests need the whole signal to fit).
        watchdog_seconds: no callback for this long (or the stream turned inactive) = device lost.
        ahead_blocks: how many blocks ahead of playback the thread of ``ahead`` nodes (generators,
            ``hosts/ahead.py``) keeps their output.
        output_latency_blocks: host blocks of slack the worker has to deliver output (≥ 1).
        deadline_ms: a block whose input is older than this when the worker reaches it is
            missed (miss policies apply). None: the output latency with ``output``, no deadline
            without; ``math.inf``: never (freewheeling runs, where the worker lags by design).
        jack_ports: a ``hosts.jack_ports.PortPlan`` (resolved before the run): JACK ports
            the stream is rewired to once started, in place of PortAudio's own connections.
        play: an audio file played into the input path in place of the device's input
            (``hosts/play.py``), decoded and resampled before the stream opens; ``play_done``
            says when it has all been heard.

    Raises:
        ValueError: bad block, channels, ring, watchdog or deadline sizes.
    """

    def __init__(self, device: int | str | None = None, block: int = 128, sample_rate: int | None = None,
                 channels: int = 1, output: bool = False, ring_seconds: float = 2.0,
                 watchdog_seconds: float = 2.0, output_latency_blocks: int = 2,
                 deadline_ms: float | None = None, out_channels: int | None = None, ahead_blocks: int = 8,
                 play: str | Path | None = None, jack_ports=None) -> None:
        if not 16 <= block <= 8192:
            raise ValueError(f"block must be 16…8192 samples, got {block}")
        if out_channels is not None and out_channels < 1:
            raise ValueError(f"out_channels must be positive, got {out_channels}")
        if channels < 1 or ring_seconds <= 0 or watchdog_seconds <= 0 or output_latency_blocks < 1:
            raise ValueError("channels, ring_seconds, watchdog_seconds and output_latency_blocks must be positive")
        if deadline_ms is not None and not deadline_ms > 0:
            raise ValueError(f"deadline_ms must be positive (or None), got {deadline_ms}")
        self.deadline_ms, self.play, self.jack_ports = deadline_ms, play, jack_ports
        self.wired: dict[str, list[str]] = {}  # JACK port → its connections, after jack_ports
        self.device, self.block, self.sample_rate = device, block, sample_rate
        self.channels, self.output = channels, output
        self.out_channels = (out_channels or channels) if output else 0
        if ahead_blocks < 1:
            raise ValueError(f"ahead_blocks must be at least 1, got {ahead_blocks}")
        self.ahead_blocks = ahead_blocks
        self.ring_seconds, self.watchdog_seconds = ring_seconds, watchdog_seconds
        self.output_latency_blocks = output_latency_blocks  # the output slack (also JACK MIDI's)
        self.settings: StreamSettings | None = None
        self._side: AudioSide | None = None
        self._worker: Worker | None = None
        self._ahead: AheadPart | None = None
        self._stream, self._signal = None, None  # the stream; the stop signal that ended the run
        self._device_latency = (0.0, 0.0)

    # -- live figures (any thread) ----------------------------------------------------------
    @property
    def timetag_epoch(self) -> float | None:
        """UNIX seconds of stream time 0 (the first callback's first sample); None before it."""
        return None if self._side is None else self._side.epoch

    @property
    def capture_age_s(self) -> float:
        """Seconds ``timetag_epoch`` was set back from the first callback's wall time: PortAudio's
        ``currentTime - inputBufferAdcTime`` then (the capture path's latency, e.g. one period on
        JACK's ``system:capture`` ports; 0 when the device reports none or nothing is known yet)."""
        return 0.0 if self._side is None else self._side.capture_age_s

    @property
    def frames_in(self) -> int:
        """Stream frames the callback has delivered (stored or dropped) so far."""
        return 0 if self._side is None else self._side.in_ring.write_pos

    @property
    def play_done(self) -> bool:
        """With ``play``: the whole file has gone into the stream (False before the run)."""
        side = self._side
        return side is not None and side.play is not None and side.play.done

    @property
    def frames_processed(self) -> int:
        """Stream frames the worker has pushed through the engine so far."""
        return 0 if self._worker is None else self._worker.pos

    @property
    def callbacks(self) -> int:
        """Audio callbacks so far."""
        return 0 if self._side is None else self._side.callbacks

    def xruns_since(self, callback: int) -> int:
        """Xruns flagged at or after callback index ``callback``. Only the first ``XRUNS_KEPT``
        are time-stamped: any beyond them count as after (an upper bound, never an undercount)."""
        side = self._side
        if side is None:
            return 0
        kept = min(side.xruns, len(side.xrun_at))
        return int(np.count_nonzero(side.xrun_at[:kept] >= callback)) + side.xruns - kept

    def callback_intervals_ms(self) -> "np.ndarray":
        """The last (up to 8192) intervals between callbacks, ms, oldest first (allocates)."""
        return np.zeros(0) if self._side is None else self._side.intervals_ms()

    def status(self, cpu_load: float) -> dict:
        """The ``/status`` record (``live_summary.status``): xruns, missed hops, worker busy
        fraction, latency (ms), and the figures nodes measure of themselves."""
        from .live_summary import status

        return status(self, cpu_load)

    # -- the run ----------------------------------------------------------------------------
    def run(self, engine: Engine, stop=None, status_every: float = 1.0, on_epoch=None) -> dict:
        """Stream until ``stop()`` is true, a stop signal (SIGINT, SIGTERM, SIGHUP:
        ``stop_signals``), or the device is lost.

        Prepares ``engine`` at the device's rate and channels; on a normal stop the stream is
        closed, the worker drains the ring and ``engine.finish()`` runs (the caller closes the
        engine). Call from the main thread to get the stop signals handled.

        Args:
            engine: the engine to feed (prepared here).
            stop: optional callable polled every 50 ms; True ends the run.
            status_every: seconds between ``engine.send_status`` calls (from the worker).
            on_epoch: optional callable given ``timetag_epoch`` from the worker thread, once,
                before the first ``engine.push`` (e.g. ``lambda e: setattr(osc, "timetag_epoch", e)``).

        Returns:
            The summary (see ``summary``) with ``stop_reason`` "stop", "interrupt" (a
            ``KeyboardInterrupt`` off the main thread) or the stop signal's name in lower case
            ("sigint", "sigterm", "sighup"; ``stop_signals``), and ``signal`` (its number or None).

        Raises:
            AudioDeviceError: no/unknown device, refused rate or channels, stream not opened, or more
                engine audio channels than stream channels.
            DeviceLostError: the device stopped delivering audio (engine already closed).
            Exception: whatever the engine raised in the worker, after a clean shutdown.
        """
        sd = _sd()
        self.settings = resolve_stream(self.device, self.channels, self.sample_rate, self.output, self.out_channels)
        engine.prepare(self.settings.sample_rate, self.channels, self.block)
        self._check_output(engine)
        warm_up(engine)  # first calls now, not in the stream's first blocks (startup xruns)
        self._build(sd, engine, status_every, on_epoch)
        stream = self._open(sd)
        old_switch = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        try:
            with StopSignals() as signals:
                reason = self._supervise(stream, stop, signals)
        except Exception:  # e.g. from ``stop()``: close the stream, then let it through
            self._shutdown(stream, engine)
            raise
        finally:
            sys.setswitchinterval(old_switch)
        if reason == "device_lost":
            self._lose_device(engine)
        self._shutdown(stream, engine)
        return self.summary(reason)

    def _check_output(self, engine: Engine) -> None:
        if self.output and engine.output_channels > self.out_channels:
            raise AudioDeviceError(
                f"the graph routes audio to {engine.output_channels} output channels but the stream has "
                f"{self.out_channels}: open it with --out-channels {engine.output_channels}"
            )

    def _build(self, sd, engine: Engine, status_every: float, on_epoch) -> None:
        rate, block, ch = self.settings.sample_rate, self.block, self.channels
        deadline = self.deadline_frames()
        if deadline is not None and deadline < block:
            raise AudioDeviceError(f"--deadline-ms {self.deadline_ms:g} is under one block ({1000 * block / rate:.2f} ms "
                                   f"at the device's {rate} Hz): every block would be missed")
        in_ring = InputRing(max(int(self.ring_seconds * rate), 4 * block), ch)
        latency = self.output_latency_blocks * block
        out_ring = DelayRing(latency + 8 * block, self.out_channels) if self.output else None
        self._side = AudioSide(in_ring, out_ring, latency, sd.CallbackStop)
        if self.play is not None:
            from .play import load

            self._side.play = load(self.play, rate, ch, block)
        for sink in engine.sinks:  # JACK MIDI: the callback stamps JACK time, messages go at a fixed latency
            if hasattr(sink, "bind_live"):
                sink.bind_live(self._side, rate, latency, engine)
        if self.output:  # nodes placed inline run in the callback, their rows skip the output ring
            self._side.inline = engine.attach_inline()
        plan, rows = engine.detach_ahead()  # generators: their own thread, ahead of playback
        if plan and self.output:
            side = self._side
            self._ahead = AheadPart(plan, rows, block, rate, ch, self.ahead_blocks * block,
                                    lambda: side.in_ring.write_pos)
            engine.defer_control(self._ahead.nodes, self._ahead)
            self._side.ahead = self._ahead
        self._worker = Worker(self, engine, self._side, status_every, on_epoch, self.deadline_frames())
        self._started = time.perf_counter()

    def deadline_frames(self) -> int | None:
        """The worker's deadline in stream frames (None: no deadline); after the rate is known."""
        if self.deadline_ms is None:
            return self.output_latency_blocks * self.block if self.output else None
        if self.deadline_ms == float("inf"):
            return None
        return max(1, round(self.deadline_ms * self.settings.sample_rate / 1000.0))

    def _open(self, sd):
        s, side = self.settings, self._side
        kind = sd.Stream if s.output else sd.InputStream
        callback = side.duplex if s.output else side.capture
        channels = (s.channels, s.out_channels) if s.output else s.channels
        try:
            stream = kind(device=s.device, samplerate=s.sample_rate, blocksize=self.block,
                          channels=channels, dtype="float32", callback=callback)
        except sd.PortAudioError as exc:
            raise AudioDeviceError(f"cannot open audio device {s.name!r}: {exc}") from None
        latency = stream.latency
        self._device_latency = tuple(latency) if s.output else (float(latency), 0.0)
        self._worker.start()
        if self._ahead is not None:
            self._ahead.start()  # fills its lead before the first callback asks
        try:
            stream.start()
        except sd.PortAudioError as exc:
            self._worker.halt.set()
            stream.close()
            raise AudioDeviceError(f"cannot start audio device {s.name!r}: {exc}") from None
        self._stream = stream
        if self.jack_ports is not None:
            from .devices import jack_client_name
            from .jack_ports import apply

            try:
                self.wired = apply(self.jack_ports, jack_client_name(), s.channels, s.out_channels if s.output else 0)
            except Exception as exc:  # the stream is not ours to keep: close it, one line
                self._worker.halt.set()
                stream.abort()
                stream.close()
                raise AudioDeviceError(f"cannot wire the JACK ports: {exc}") from None
        log.info("live: %s, %d Hz, block %d, %d ch, output=%s", s.name, s.sample_rate, self.block,
                 s.channels, s.output)
        return stream

    def _supervise(self, stream, stop, signals: StopSignals) -> str:
        """Main-thread loop: returns why the run ends."""
        side, worker = self._side, self._worker
        seen, seen_at = -1, time.perf_counter()
        try:
            while True:
                time.sleep(_POLL_S)
                now = time.perf_counter()
                if side.callbacks != seen:
                    seen, seen_at = side.callbacks, now
                elif now - seen_at > self.watchdog_seconds or not stream.active:
                    self._lost_after = now - seen_at
                    return "device_lost"
                if signals.raised:
                    self._signal = signals.signum
                    return signals.name.lower()
                ahead = self._ahead
                if ahead is not None and (ahead.error is not None or not ahead.is_alive()):
                    return "worker_error"
                if worker.error is not None or not worker.is_alive():
                    return "worker_error"
                if stop is not None and stop():
                    return "stop"
        except KeyboardInterrupt:
            return "interrupt"

    def _drain(self, engine: Engine) -> None:
        """Stop the ahead thread; let the worker push what is left in the ring, then flush."""
        if self._ahead is not None:
            self._ahead.halt.set()
            self._ahead.join(SHUTDOWN_GUARD_S)
        self._worker.halt.set()
        self._worker.join()
        if self._worker.error is None:
            engine.finish()

    def _lose_device(self, engine: Engine) -> None:
        """Device gone: silence the callback, flush and close the engine, abandon the stream."""
        self._side.stopping = True
        faulthandler.dump_traceback_later(SHUTDOWN_GUARD_S + self.ring_seconds, exit=True)
        try:
            self._drain(engine)
            engine.close()
        finally:
            faulthandler.cancel_dump_traceback_later()
        # Closing a stream whose server died hangs, and so does sounddevice's atexit
        # Pa_Terminate: abandon the stream and let the interpreter exit without it.
        sd = _sd()
        atexit.unregister(sd._exit_handler)
        summary = self.summary("device_lost")
        raise DeviceLostError(
            f"audio device stopped delivering audio (no callback for {self._lost_after:.1f} s after "
            f"{summary['callbacks']} callbacks): was the JACK/PulseAudio server stopped or the device unplugged?",
            summary,
        )

    def _shutdown(self, stream, engine: Engine) -> None:
        """Normal stop: end the stream from inside the callback, close it, drain the worker."""
        self._side.stopping = True  # next callback raises CallbackStop: no thread cancellation
        faulthandler.dump_traceback_later(SHUTDOWN_GUARD_S, exit=True)
        try:
            deadline = time.perf_counter() + 1.0
            while stream.active and time.perf_counter() < deadline:
                time.sleep(0.005)
            if stream.active:
                stream.abort()
            stream.close()
        finally:
            faulthandler.cancel_dump_traceback_later()
        self._drain(engine)
        if self._worker.error is not None:
            raise self._worker.error
        if self._ahead is not None and self._ahead.error is not None:
            raise self._ahead.error

    def summary(self, reason: str) -> dict:
        """Counters of the run (also available mid-run; ``live_summary``)."""
        from .live_summary import summary

        return summary(self, reason)

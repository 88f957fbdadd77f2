"""A JACK dummy-driver server and the JACK clients ``rtmir bench --e2e`` plays and records with.

    Player (JACK client) ──signal──► rtmir's PortAudio input ─► LiveHost ─► engine ─► OSC ─► OscReceiver
                                     rtmir's PortAudio output ─────────────────────────────► Recorder

The recipe and its traps are in PLATFORM.md ("Audio without hardware"): a fixed server name (JACK
has 8 slots), SIGTERM so jackd cleans /dev/shm, PortAudio re-initialised to see a server started
after ``import sounddevice`` and *terminated before* the server dies (else its exit handler
aborts), the dummy driver does not loop playback to capture (so clients are wired by hand).

``JACK-Client`` (module ``jack``) is imported lazily: it is in the ``bench`` extra, not the runtime.
The JACK process callbacks here are measurement tools, not rtmir's real-time path: they index
preallocated arrays and never log, but they run Python (the GIL) like rtmir's own callback.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


#: The server ``rtmir bench`` starts when none answers (the tests use "rtmir_test").
BENCH_SERVER = "rtmir_bench"


class JackError(RuntimeError):
    """The JACK server could not be started or used."""


def jack_env(name: str) -> dict[str, str]:
    """Environment that makes JACK clients (and PortAudio) use server ``name`` and never start one."""
    return {"JACK_DEFAULT_SERVER": name, "JACK_NO_START_SERVER": "1", "JACK_NO_AUDIO_RESERVATION": "1"}


class JackServer:
    """One ``jackd -d dummy`` server; this process's PortAudio follows it.

    Args:
        name: server name (fixed names reclaim a crashed run's slot).
        rate: Hz.
        period: frames per JACK cycle (use it as rtmir's block, PLATFORM.md).

    ``start`` launches it, waits until it answers and re-initialises PortAudio; ``stop`` releases
    PortAudio first, then signals jackd, waits, and re-initialises PortAudio without a server.
    The caller puts ``jack_env(name)`` into ``os.environ`` before ``start``.
    """

    def __init__(self, name: str = BENCH_SERVER, rate: int = 48000, period: int = 128) -> None:
        self.name, self.rate, self.period = name, rate, period
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="jackd-", suffix=".log", delete=False)

    @property
    def command(self) -> list[str]:
        return ["jackd", "-n", self.name, "-R", "-P", "70", "-t", "2000", "-d", "dummy",
                "-r", str(self.rate), "-p", str(self.period), "-C", "2", "-P", "4"]  # 4 out: a separator's stems

    def answers(self, timeout_s: float = 0) -> bool:
        """Whether the server answers (``jack_wait -c`` now, or ``-w`` for up to ``timeout_s``)."""
        args = ["jack_wait", "-c"] if timeout_s == 0 else ["jack_wait", "-w", "-t", str(int(timeout_s))]
        try:
            out = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s + 5,
                                 env={**os.environ, **jack_env(self.name)})
        except FileNotFoundError:
            raise JackError("jack_wait not found: install jackd2 (apt-get install jackd2)") from None
        return out.stdout.strip().splitlines()[:1] in (["running"], ["server is available"])

    def start(self) -> None:
        """Start jackd; JackError if one of that name already runs or it does not come up in 5 s."""
        if self.answers():
            raise JackError(f"a JACK server named {self.name!r} is already running (another run?)")
        try:
            self.proc = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT,
                                         env={**os.environ, **jack_env(self.name)})
        except FileNotFoundError:
            raise JackError("jackd not found: install jackd2 (apt-get install jackd2)") from None
        self.pid_file.write_text(f"{self.proc.pid}\n")
        if not self.answers(timeout_s=5):
            self.stop()
            raise JackError(f"jackd did not come up in 5 s; its log: {self.tail()}")
        portaudio_restart()

    @property
    def pid_file(self) -> Path:
        """Where ``start`` records the server's pid, so that a later run (``.ci/run``) can stop
        exactly the server an interrupted run left behind — never processes by name."""
        return Path(tempfile.gettempdir()) / f"rtmir-jackd-{self.name}.pid"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Release PortAudio, end jackd with ``sig`` (SIGKILL after 5 s), re-initialise PortAudio."""
        portaudio_terminate()
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)  # in case it was frozen
            self.proc.send_signal(sig)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None
            self.pid_file.unlink(missing_ok=True)
        portaudio_initialize()

    def freeze(self) -> None:
        """Release PortAudio, then SIGSTOP jackd (callbacks stop, streams still look active)."""
        portaudio_terminate()
        self.proc.send_signal(signal.SIGSTOP)

    def tail(self, chars: int = 2000) -> str:
        with open(self.log.name, errors="replace") as f:
            return f.read()[-chars:]


@contextlib.contextmanager
def jack_server(name: str | None = None, rate: int = 48000, period: int = 128):
    """A JACK server for the ``with`` block: an existing one if it answers, else a dummy one.

    Args:
        name: server to use or start; None: ``$JACK_DEFAULT_SERVER`` (or "default") if it
            answers, else a dummy server named ``BENCH_SERVER`` is started.
        rate, period: of a server started here (an existing server keeps its own).

    Yields:
        ``(server name, started)``: ``started`` tells whether this call started it (and will stop it).
    """
    if name is None:
        name = os.environ.get("JACK_DEFAULT_SERVER") or "default"
        if not JackServer(name).answers():
            name = BENCH_SERVER
    old = {k: os.environ.get(k) for k in jack_env(name)}
    os.environ.update(jack_env(name))
    server = JackServer(name, rate, period)
    started = not server.answers()
    try:
        if started:
            server.start()
        else:
            portaudio_restart()
        yield name, started
    finally:
        if started:
            server.stop()
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def portaudio_terminate() -> None:
    import sounddevice as sd

    while sd._initialized:
        sd._terminate()


def portaudio_initialize() -> None:
    import sounddevice as sd

    sd._initialize()


def portaudio_restart() -> None:
    """Re-enumerate devices (a server started after ``import sounddevice`` becomes visible)."""
    portaudio_terminate()
    portaudio_initialize()


def wait_for(predicate, timeout_s: float, what: str, poll_s: float = 0.01) -> None:
    """Poll until ``predicate()``; TimeoutError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(poll_s)


def rtmir_ports(client, is_input: bool) -> list:
    """rtmir's PortAudio ports (everything but ``system:*`` and our own ``rtmir_*`` clients)."""
    ports = client.get_ports(is_audio=True, is_input=is_input, is_output=not is_input)
    return [p for p in ports if not p.name.startswith(("system:", "rtmir_"))]


class Player:
    """A JACK client playing ``signal`` once armed; notes rtmir's stream frame at its first sample.

    Sample ``j`` of the signal is played at JACK frame ``jack_time + j``, and (the JACK graph adds
    no latency) reaches rtmir's stream at frame ``start_frame + j``. In freewheel JACK runs the
    graph in order and waits for it, so ``start_frame`` is exact there. Every cycle also stamps
    ``(last_frame_time, time.time())`` into ``cycle_frames``/``cycle_walls`` (``cycles`` used):
    the wall time at which that cycle's audio came to exist in the graph, and rtmir's
    ``frames_in`` then into ``cycle_stream``, from which ``slip_at`` measures how far rtmir's stream
    time has fallen behind JACK time (cycles its callback never ran for; see ``slip_at``).

    Args:
        signal: mono float32 samples.
        host: the ``LiveHost`` (its ``frames_in`` gives ``start_frame``).
        server: JACK server name.
    """

    def __init__(self, signal: np.ndarray, host, server: str = BENCH_SERVER) -> None:
        import jack

        self.signal, self.host = signal, host
        self.client = jack.Client("rtmir_player", no_start_server=True, servername=server)
        self.port = self.client.outports.register("out")
        self.armed = self.done = False
        self.pos, self.start_frame, self.jack_time = 0, None, None
        self.freewheel = threading.Event()
        self.freewheel_on = False
        self.cycle_frames = np.zeros(1 << 16)
        self.cycle_walls = np.zeros(1 << 16)
        self.cycle_stream = np.zeros(1 << 16, np.int64)
        self.cycles = 0
        self.arm_cycle: int | None = None
        self.client.set_process_callback(self._process)
        self.client.set_freewheel_callback(self._freewheel)

    def _freewheel(self, starting: bool) -> None:
        self.freewheel_on = starting
        self.freewheel.set()

    def _process(self, frames: int) -> None:
        i = self.cycles
        if i < len(self.cycle_frames):
            self.cycle_walls[i] = time.time()
            self.cycle_frames[i] = self.client.last_frame_time
            self.cycle_stream[i] = self.host.frames_in
            self.cycles = i + 1
        buf = self.port.get_array()
        if not self.armed or self.done:
            buf.fill(0.0)
            return
        if self.start_frame is None:
            self.start_frame = self.host.frames_in
            self.jack_time = self.client.last_frame_time
            self.arm_cycle = i
        # index by JACK time, not by cycles seen: a missed cycle must not shift the signal
        self.pos = self.client.last_frame_time - self.jack_time
        chunk = self.signal[self.pos:self.pos + frames]
        buf[:len(chunk)] = chunk
        buf[len(chunk):] = 0.0
        self.done = self.pos + frames >= len(self.signal)

    def slip_at(self, stream_frames) -> np.ndarray:
        """Frames rtmir's stream time had fallen behind JACK time, since the player started, when
        rtmir's stream reached each of ``stream_frames`` (array-like of ints; ``[n]`` int64).

        Stream time counts the frames the callback was given; a JACK cycle in which rtmir's client
        did not run (a loaded machine) is never delivered, so later audio reaches the stream a
        period earlier in stream frames than ``start_frame + j`` says. Per player cycle,
        ``last_frame_time − frames_in`` grows by a period for each such cycle, and by a period
        *transiently* while rtmir runs a cycle late; the suffix minimum keeps only what persists.
        Relative to the arm cycle's ``jack_time − start_frame`` (so ``−period`` from the start when
        rtmir ran that cycle late); zero before the player started and while nothing was lost.
        """
        x = np.asarray(stream_frames, np.int64)
        if self.arm_cycle is None or self.cycles <= self.arm_cycle:
            return np.zeros(x.shape, np.int64)
        a, n = self.arm_cycle, min(self.cycles, len(self.cycle_frames))
        offset = self.cycle_frames[a:n].astype(np.int64) - self.cycle_stream[a:n]
        lasting = np.minimum.accumulate(offset[::-1])[::-1]
        slip = lasting - offset[0]
        i = np.searchsorted(self.cycle_stream[a:n], x, side="right") - 1
        return np.where(i >= 0, slip[np.clip(i, 0, None)], 0)

    def wire_to_rtmir(self) -> None:
        """Replace PortAudio's auto-connection to system:capture_* by player → rtmir's first input."""
        rtmir_in = rtmir_ports(self.client, is_input=True)
        if not rtmir_in:
            raise JackError("rtmir's PortAudio input port is not on the JACK graph")
        for other in self.client.get_all_connections(rtmir_in[0]):
            self.client.disconnect(other, rtmir_in[0])
        self.client.connect(self.port.name, rtmir_in[0])

    def set_freewheel(self, on: bool) -> None:
        self.freewheel.clear()
        self.client.set_freewheel(on)
        if not self.freewheel.wait(5) or self.freewheel_on is not on:
            raise JackError("JACK did not confirm the freewheel change")


class Recorder:
    """A JACK client recording one port, indexed by JACK frame time from ``start_time``.

    Set ``start_time = -1`` to arm: the next cycle is sample 0 (``start_time`` becomes its frame).
    """

    def __init__(self, frames: int, server: str = BENCH_SERVER, name: str = "rtmir_rec") -> None:
        import jack

        self.client = jack.Client(name, no_start_server=True, servername=server)
        self.port = self.client.inports.register("in")
        self.data = np.zeros(frames, np.float32)
        self.start_time: int | None = None
        self.pos = 0
        self.client.set_process_callback(self._process)

    def _process(self, frames: int) -> None:
        if self.start_time is None:
            return
        if self.start_time == -1:
            self.start_time = self.client.last_frame_time
        pos = self.client.last_frame_time - self.start_time
        if pos < len(self.data):  # the part that fits: a cycle skipped near the end must not stall it
            n = min(frames, len(self.data) - pos)
            self.data[pos:pos + n] = self.port.get_array()[:n]
            self.pos = pos + n

    def wire_from_rtmir(self, channel: int = 0) -> None:
        """Connect rtmir's output port ``channel`` to this recorder."""
        outs = rtmir_ports(self.client, is_input=False)
        if len(outs) <= channel:
            raise JackError(f"rtmir has {len(outs)} output ports on the JACK graph, need channel {channel}")
        self.client.connect(outs[channel], self.port)


def bare_passthrough(seconds: float, rate: int, block: int, warmup_s: float = 0.0) -> dict:
    """The baseline: a plain duplex sounddevice stream whose callback copies in → out.

    Args:
        seconds: measured time, after ``warmup_s`` (whose xruns are reported apart).

    Returns:
        ``callbacks``, ``xruns`` (after warm-up), ``xruns_warmup``, ``callback_interval_ms``
        (mean), ``callback_jitter_ms`` (std), ``callback_interval_max_ms`` and
        ``callback_intervals_over_10ms`` (how many intervals exceeded 10 ms; after warm-up).
    """
    import sounddevice as sd

    times = np.zeros(int(seconds * rate / block) + 1000)
    counts = {"callbacks": 0, "xruns": 0}

    def callback(indata, outdata, frames, time_info, status):
        if status:
            counts["xruns"] += 1
        outdata[:] = indata
        if counts["callbacks"] < len(times):
            times[counts["callbacks"]] = time.perf_counter()
        counts["callbacks"] += 1

    with sd.Stream(samplerate=rate, blocksize=block, channels=1, dtype="float32", callback=callback):
        time.sleep(warmup_s)
        warm_xruns, warm_calls = counts["xruns"], counts["callbacks"]
        time.sleep(seconds)
    d = np.diff(times[warm_calls:min(counts["callbacks"], len(times))]) * 1000.0
    return {"callbacks": counts["callbacks"] - warm_calls, "xruns": counts["xruns"] - warm_xruns,
            "xruns_warmup": warm_xruns, "callback_interval_ms": float(d.mean()),
            "callback_jitter_ms": float(d.std()), "callback_interval_max_ms": float(d.max()),
            "callback_intervals_over_10ms": int((d > 10.0).sum())}

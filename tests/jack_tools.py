"""Test helpers for real audio: a JACK dummy-driver server, JACK clients that play and record
(``Player``, ``Recorder``), an OSC receiver, a tiny processor and a capturing sink.

The server recipe and its traps are in /work/shared/PLATFORM.md ("Audio without hardware"):
fixed server name (8 slots), SIGTERM to clean /dev/shm, PortAudio must be re-initialised to see
a server started after import — and must be *terminated before* the server dies, or its exit
handler asserts (``pa_jack.c: Terminate: Assertion `err == 0'``) and aborts the process.
"""
from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import numpy as np

from rtmir.core.processor import Event, ProcessSpec, Processor
from rtmir.sinks.osc_format import NTP_UNIX_OFFSET_S

SERVER = "rtmir_test"
RATE = 48000
PERIOD = 128
JACKD = ["jackd", "-n", SERVER, "-R", "-P", "70", "-t", "2000",
         "-d", "dummy", "-r", str(RATE), "-p", str(PERIOD), "-C", "2", "-P", "2"]
ENV = {"JACK_DEFAULT_SERVER": SERVER, "JACK_NO_START_SERVER": "1", "JACK_NO_AUDIO_RESERVATION": "1"}


class JackError(RuntimeError):
    """The test JACK server could not be started (a failure, never a skip)."""


class JackServer:
    """One ``jackd -d dummy`` named ``rtmir_test``; this process's PortAudio follows it.

    ``start`` launches it, waits until it answers and re-initialises PortAudio; ``stop`` releases
    PortAudio first, then signals jackd, waits, and re-initialises PortAudio without a server.
    Requires ``ENV`` in ``os.environ``.
    """

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="jackd-", suffix=".log", delete=False)

    def start(self) -> None:
        if _answers(timeout_s=0):
            raise JackError(f"a JACK server named {SERVER!r} is already running (another test run?)")
        self.proc = subprocess.Popen(JACKD, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **ENV})
        if not _answers(timeout_s=5):
            self.stop()
            raise JackError(f"jackd did not come up in 5 s; its log: {self.tail()}")
        _portaudio_terminate()
        _portaudio_initialize()  # enumerate the new server

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Release PortAudio here, end jackd with ``sig`` (SIGKILL after 5 s), re-initialise PortAudio.

        Afterwards PortAudio is initialised without a server, as right after import, so later
        tests and the exit handler find it in a normal state.
        """
        _portaudio_terminate()
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)  # in case it was frozen
            self.proc.send_signal(sig)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None
        _portaudio_initialize()

    def freeze(self) -> None:
        """Release PortAudio here, then SIGSTOP jackd: its clients stop getting callbacks while
        their streams still look active (the watchdog's case). ``stop`` thaws it first."""
        _portaudio_terminate()
        self.proc.send_signal(signal.SIGSTOP)

    def tail(self, chars: int = 2000) -> str:
        with open(self.log.name, errors="replace") as f:
            return f.read()[-chars:]


def _portaudio_terminate() -> None:
    import sounddevice as sd

    while sd._initialized:
        sd._terminate()


def _portaudio_initialize() -> None:
    import sounddevice as sd

    sd._initialize()


def _answers(timeout_s: float) -> bool:
    """Whether the server answers (``jack_wait -c`` now, or ``-w`` for up to ``timeout_s``)."""
    args = ["jack_wait", "-c"] if timeout_s == 0 else ["jack_wait", "-w", "-t", str(int(timeout_s))]
    out = subprocess.run(args, capture_output=True, text=True, env={**os.environ, **ENV}, timeout=timeout_s + 5)
    first = out.stdout.strip().splitlines()[:1]
    return first in (["running"], ["server is available"])


def wait_for(predicate, timeout_s: float, what: str, poll_s: float = 0.01) -> None:
    """Poll until ``predicate()``; AssertionError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(poll_s)


class RmsProcessor(Processor):
    """Test processor: one event per hop with the hop's RMS (task "rms", value ``rms``)."""

    task = "rms"
    channels = 1

    def __init__(self, hop_size: int = 480) -> None:
        self.hop_size = hop_size
        self.latency_samples = 0
        self._rate = 0

    def prepare(self, spec: ProcessSpec) -> None:
        self._rate = spec.sample_rate

    def reset(self) -> None:
        pass

    def process(self, block: np.ndarray, t0: int, out: np.ndarray | None = None) -> list[Event]:
        hops = block[0].reshape(-1, self.hop_size)
        rms = np.sqrt(np.mean(hops * hops, axis=1))
        return [Event(self.task, (t0 + i * self.hop_size) / self._rate, {"rms": float(r)})
                for i, r in enumerate(rms)]


class CaptureSink:
    """Keeps every event and status record; ``closed`` tells whether the engine closed it."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.statuses: list[dict] = []
        self.closed = False

    def send(self, events: list[Event]) -> None:
        self.events.extend(events)

    def status(self, stats: dict) -> None:
        self.statuses.append(dict(stats))

    def close(self) -> None:
        self.closed = True


class OscReceiver(threading.Thread):
    """UDP receiver keeping ``(timetag unix seconds, address, args)`` of every bundled message."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.messages: list[tuple[float, str, list]] = []
        self.running = True

    def run(self) -> None:
        from pythonosc.osc_bundle import OscBundle

        while self.running:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not OscBundle.dgram_is_bundle(data):
                continue
            tt = struct.unpack(">Q", data[8:16])[0] / 2**32 - NTP_UNIX_OFFSET_S
            for msg in OscBundle(data):
                self.messages.append((tt, msg.address, list(msg.params)))

    def stop(self) -> None:
        self.running = False
        self.join(2)
        self.sock.close()


class Player:
    """A JACK client playing ``signal`` once armed; notes rtmir's stream frame at its first sample.

    In freewheel JACK runs the graph in order (player → PortAudio) and waits for it, so the
    frames rtmir has received when the player's first signal cycle runs is exactly where the
    signal starts in rtmir's stream time.
    """

    def __init__(self, signal: np.ndarray, host) -> None:
        import jack

        self.signal, self.host = signal, host
        self.client = jack.Client("rtmir_player", no_start_server=True, servername=SERVER)
        self.port = self.client.outports.register("out")
        self.armed = self.done = False
        self.pos, self.start_frame = 0, None
        self.freewheel = threading.Event()
        self.freewheel_on = False
        self.client.set_process_callback(self._process)
        self.client.set_freewheel_callback(self._freewheel)

    def _freewheel(self, starting: bool) -> None:
        self.freewheel_on = starting
        self.freewheel.set()

    def _process(self, frames: int) -> None:
        buf = self.port.get_array()
        if not self.armed or self.done:
            buf.fill(0.0)
            return
        if self.start_frame is None:
            self.start_frame = self.host.frames_in
            self.jack_time = self.client.last_frame_time
        # index by JACK time, not by cycles seen: a cycle this client misses under load must not
        # shift the rest of the signal
        self.pos = self.client.last_frame_time - self.jack_time
        chunk = self.signal[self.pos:self.pos + frames]
        buf[:len(chunk)] = chunk
        buf[len(chunk):] = 0.0
        self.done = self.pos + frames >= len(self.signal)

    def wire_to_rtmir(self) -> None:
        """Replace PortAudio's auto-connection to system:capture_* by player → rtmir input."""
        ours = self.port.name
        rtmir_in = [p for p in self.client.get_ports(is_audio=True, is_input=True)
                    if not p.name.startswith(("system:", "rtmir_"))]
        assert len(rtmir_in) == 1, f"expected one PortAudio input port, got {[p.name for p in rtmir_in]}"
        for other in self.client.get_all_connections(rtmir_in[0]):
            self.client.disconnect(other, rtmir_in[0])
        self.client.connect(ours, rtmir_in[0])

    def set_freewheel(self, on: bool) -> None:
        self.freewheel.clear()
        self.client.set_freewheel(on)
        assert self.freewheel.wait(5), "JACK did not confirm the freewheel change"
        assert self.freewheel_on is on


class Recorder:
    """A JACK client recording rtmir's output port, with the JACK frame time of each cycle."""

    def __init__(self, frames: int) -> None:
        import jack

        self.client = jack.Client("rtmir_rec", no_start_server=True, servername=SERVER)
        self.port = self.client.inports.register("in")
        self.data = np.zeros(frames, np.float32)
        self.start_time: int | None = None
        self.pos = 0
        self.client.set_process_callback(self._process)

    def _process(self, frames: int) -> None:
        if self.start_time is None:
            return
        if self.start_time == -1:  # armed: this cycle is sample 0
            self.start_time = self.client.last_frame_time
        pos = self.client.last_frame_time - self.start_time  # by JACK time (see Player)
        if pos + frames <= len(self.data):
            self.data[pos:pos + frames] = self.port.get_array()
            self.pos = pos + frames

"""Test helpers for real audio: a JACK dummy-driver server, a tiny processor, a capturing sink.

The server recipe and its traps are in /work/shared/PLATFORM.md ("Audio without hardware"):
fixed server name (8 slots), SIGTERM to clean /dev/shm, PortAudio must be re-initialised to see
a server started after import — and must be *terminated before* the server dies, or its exit
handler asserts (``pa_jack.c: Terminate: Assertion `err == 0'``) and aborts the process.
"""
from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time

import numpy as np

from rtmir.core.processor import Event, ProcessSpec, Processor

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
    PortAudio first, then signals jackd and waits. Requires ``ENV`` in ``os.environ``.
    """

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="jackd-", suffix=".log", delete=False)
        self._pa_live = False

    def start(self) -> None:
        if _answers(timeout_s=0):
            raise JackError(f"a JACK server named {SERVER!r} is already running (another test run?)")
        self.proc = subprocess.Popen(JACKD, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **ENV})
        if not _answers(timeout_s=5):
            self.stop()
            raise JackError(f"jackd did not come up in 5 s; its log: {self.tail()}")
        self._portaudio(up=True)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Release PortAudio here, then end jackd with ``sig`` and wait (SIGKILL after 5 s)."""
        self._portaudio(up=False)
        if self.proc is None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def _portaudio(self, up: bool) -> None:
        import sounddevice as sd

        if up and not self._pa_live:
            sd._terminate()
            sd._initialize()
        elif not up and self._pa_live:
            sd._terminate()
        self._pa_live = up

    def tail(self, chars: int = 2000) -> str:
        with open(self.log.name, errors="replace") as f:
            return f.read()[-chars:]


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

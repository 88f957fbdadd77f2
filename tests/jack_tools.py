"""Test helpers for real audio: the JACK harness of ``rtmir.bench.jack`` bound to the test server
name, a tiny processor and a capturing sink.

The server recipe and its traps are in /work/shared/PLATFORM.md ("Audio without hardware"):
fixed server name (8 slots), SIGTERM to clean /dev/shm, PortAudio must be re-initialised to see
a server started after import — and must be *terminated before* the server dies, or its exit
handler asserts (``pa_jack.c: Terminate: Assertion `err == 0'``) and aborts the process.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

from rtmir.bench import jack as _jack
from rtmir.bench.jack import JackError, OscReceiver  # noqa: F401  (re-exported for the tests)
from rtmir.core.processor import Event, ProcessSpec, Processor

SERVER = "rtmir_test"
RATE = 48000
PERIOD = 128
ENV = _jack.jack_env(SERVER)
JACKD = _jack.JackServer(SERVER, RATE, PERIOD).command


class JackServer(_jack.JackServer):
    """The test server: ``jackd -d dummy`` named ``rtmir_test``, 48 kHz, period 128, 2 in / 2 out.

    Requires ``ENV`` in ``os.environ`` (the fixture sets it).
    """

    def __init__(self) -> None:
        super().__init__(SERVER, RATE, PERIOD)


def _answers(timeout_s: float) -> bool:
    return _jack.JackServer(SERVER).answers(timeout_s)


Player = functools.partial(_jack.Player, server=SERVER)
Recorder = functools.partial(_jack.Recorder, server=SERVER)


wait_for = _jack.wait_for  # one copy: rtmir/bench/jack.py (raises TimeoutError)


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




@pytest.fixture(scope="module")
def jack_server():
    """A running JACK dummy server (48 kHz, period 128, 2 in/2 out); PortAudio re-initialised to see it.

    Never skipped: if jackd cannot start the fixture fails. Tests that kill the server must
    restart it (``jack_server.start()``) before they end.
    """
    mp = pytest.MonkeyPatch()
    for key, value in ENV.items():
        mp.setenv(key, value)
    server = JackServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()
        mp.undo()

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
from rtmir.bench.e2e import _run_in_thread as run_in_thread  # noqa: F401  (re-exported for the tests)
from rtmir.bench.jack import JackError  # noqa: F401  (re-exported for the tests)
from rtmir.bench.osc_receiver import OscReceiver  # noqa: F401  (re-exported for the tests)
from rtmir.core.processor import Event, ProcessSpec, Processor

SERVER = "rtmir_test"
RATE = 48000
PERIOD = 128
ENV = _jack.jack_env(SERVER)
JACKD = _jack.JackServer(SERVER, RATE, PERIOD).command


class JackServer(_jack.JackServer):
    """The test server: ``jackd -d dummy`` named ``rtmir_test``, 48 kHz, period 128, 2 in / 4 out.

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
    """A running JACK dummy server (48 kHz, period 128, 2 in/4 out); PortAudio re-initialised to see it.

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


def impulse_lags(rec, player, at: np.ndarray, lo: int, hi: int, path_frames: int) -> tuple[list, list]:
    """Lags (samples) of the impulses found in ``rec``, each against the player impulse ``at[k]``
    ``lo ≤ lag < hi`` before it, and the same lags less what rtmir's stream slipped while the
    impulse was inside it (``path_frames`` of stream: ``Player.slip_at`` at both ends).

    Recorder sample i is JACK frame ``rec.start_time + i``; player sample j is ``player.jack_time + j``.
    """
    found = np.flatnonzero(rec.data > 0.5) + (rec.start_time - player.jack_time)
    pairs = [(int(f - a), int(a)) for f in found for a in at if lo <= f - a < hi]
    s_in = np.array([player.start_frame + a for _, a in pairs], np.int64)
    s_in -= player.slip_at(s_in)
    slipped = player.slip_at(s_in + path_frames) - player.slip_at(s_in)
    return [lag for lag, _ in pairs], [lag - int(sl) for (lag, _), sl in zip(pairs, slipped)]


def assert_fixed_lag(each: list, net: list, expected: int, xruns: int, what="") -> None:
    """Every impulse back at exactly ``expected`` samples. When the run had xruns, the measured slip
    is taken out of each (``net``: one period later per cycle rtmir's client was not run for while
    the impulse was inside it — [384, 512, 640] with 384 expected, once in CI) and whole periods
    either way are allowed around cycles it ran late (up to three: two, then three — 640 expected, 1024
    once — seen in clean-clone CI on the loaded 2-core machine); a
    lag off by anything but whole periods fails, and most must still be exact."""
    if xruns == 0:
        assert sorted(set(each)) == [expected], (what, sorted(set(each)))
    else:
        assert all((lag - expected) % PERIOD == 0 and abs(lag - expected) <= 3 * PERIOD for lag in net), \
            (what, each, net)
        assert net.count(expected) > len(net) // 2, (what, each, net)


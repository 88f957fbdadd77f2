"""JACK fixture for the live-host tests: a real ``jackd -d dummy`` (PLATFORM.md), never skipped.

If jackd cannot start, the fixture fails (CI installs jackd2). The server name is fixed
(``rtmir_test``) so a crashed run's slot is reclaimed; only one test run at a time can use it.
"""
from __future__ import annotations

import pytest

from jack_tools import ENV, JackServer


@pytest.fixture(scope="module")
def jack_server():
    """A running JACK dummy server (48 kHz, period 128, 2 in/2 out); PortAudio re-initialised to see it.

    Tests that kill the server must restart it (``jack_server.start()``) before they end.
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

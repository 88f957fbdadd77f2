"""JACK fixture for the live-host tests: a real ``jackd -d dummy`` (PLATFORM.md), never skipped.

If jackd cannot start, the fixture fails (CI installs jackd2). The server name is fixed
(``rtmir_test``) so a crashed run's slot is reclaimed; only one test run at a time can use it.
The fixture lives in ``tests/jack_tools.py`` (shared with tests/rtmir/bench).
"""
from __future__ import annotations

from jack_tools import jack_server  # noqa: F401

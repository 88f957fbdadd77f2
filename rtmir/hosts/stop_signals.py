"""SIGINT, SIGTERM and SIGHUP as a flag: a run polls ``raised`` and stops cleanly at the next
block instead of being killed mid-write, so every output is complete when the process exits.

The convention (both ``rtmir stream`` and ``rtmir live``): the run stops, outputs are closed and
renamed into place, the summary is printed with a line naming the signal, and the exit code is
128 + the signal's number — 130 (SIGINT, Ctrl-C), 143 (SIGTERM), 129 (SIGHUP).
"""
from __future__ import annotations

import signal
import threading

#: the signals that stop a run cleanly
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopSignals:
    """Within ``with``: the first stop signal sets ``raised`` instead of killing; a second one
    gets the default action (a run that hangs can still be stopped). Main thread only; elsewhere
    nothing is installed and Ctrl-C stays a ``KeyboardInterrupt``."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, object] = {}

    @property
    def raised(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        """``"SIGINT"`` etc., or "" when none came."""
        return "" if self.signum is None else signal.Signals(self.signum).name

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.signum is None:
            self.signum = signum
            return
        # a second one: the run did not stop in time — let the signal do what it does by default
        import os

        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()

"""SIGTERM as a flag: a run polls ``raised`` and stops cleanly instead of being killed mid-write."""
from __future__ import annotations

import signal
import threading


class SigtermFlag:
    """Within ``with``: SIGTERM sets ``raised`` instead of killing (main thread only)."""

    def __init__(self) -> None:
        self.raised = False
        self._old = None

    def __enter__(self) -> "SigtermFlag":
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.raised = True

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)

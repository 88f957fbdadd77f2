"""OSC control input: ``/rtmir/ctl/...`` datagrams → a queue the engine's thread drains.

    UDP 127.0.0.1:port ─► receiver thread (parse, validate, count) ─► SimpleQueue
                                                                          │
    engine thread, between pushes:  control.drain(engine) ◄───────────────┘
                                      ├─ ("reset",)                → engine.reset()
                                      └─ ("param", task, name, v)  → engine.apply_control(task, name, v)

Addresses (prefix ``/rtmir`` by default):

- ``/rtmir/ctl/reset`` — no argument, or one number (non-zero resets; 0 is ignored, so a
  TouchOSC-style button that sends 1 on press and 0 on release resets once).
- ``/rtmir/ctl/<task>/<param> <number>`` — exactly one int32/float argument, finite.

Anything else (garbage datagrams, unknown addresses, wrong argument count or type) is counted in
``malformed`` and ignored. Commands the engine refuses (``KeyError``/``ValueError``: no such task
or parameter, bad value) are counted in ``rejected`` and logged once per (task, param). Bundle
timetags are ignored: commands apply at the next ``drain``.

Real-time notes: the receiver thread sleeps in ``select`` and runs Python only when a datagram
arrives; ``drain`` takes no lock (``SimpleQueue``) and costs ~0.1 µs when the queue is empty.
"""
from __future__ import annotations

import logging
import math
import queue
import select
import socket
import threading
from typing import Protocol

from pythonosc.osc_packet import OscPacket, ParseError

from .sinks.osc_format import OscError, check_prefix

__all__ = ["ControlServer", "Controllable", "OscError"]

log = logging.getLogger(__name__)

#: Commands waiting beyond this are dropped (and counted): a flood must not grow memory.
MAX_PENDING = 1024
_MAX_DATAGRAM = 65536


class Controllable(Protocol):
    """What ``drain`` drives (``rtmir.core.engine.Engine`` is one)."""

    def reset(self) -> None: ...

    def apply_control(self, task: str, param: str, value: float) -> None: ...


class ControlServer:
    """Receive OSC control messages on a UDP port in a daemon thread.

    Args:
        port: UDP port to bind; 0 picks a free one (read it back from ``port``).
        host: address to bind. ``127.0.0.1`` (default) accepts only local senders; ``0.0.0.0``
            opens control to the network — do it only on a trusted network.
        prefix: address prefix (``/rtmir``): control lives under ``<prefix>/ctl/``.

    Attributes:
        port: the bound port.
        received: datagrams received.
        malformed: messages/datagrams ignored as malformed (see module docstring).
        dropped: commands dropped because ``MAX_PENDING`` were waiting.
        applied: commands ``drain`` applied.
        rejected: commands the engine refused.

    Raises:
        OscError: (a ``ValueError``) bad prefix, or the port cannot be bound (in use, no permission).
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1", prefix: str = "/rtmir") -> None:
        self._ctl = check_prefix(prefix) + "/ctl/"
        self.commands: queue.SimpleQueue = queue.SimpleQueue()
        self.received = self.malformed = self.dropped = self.applied = self.rejected = 0
        self._warned: set[tuple[str, str]] = set()
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((host, port))
        except (OSError, OverflowError) as exc:
            self._sock.close()
            raise OscError(f"cannot listen for OSC control on {host}:{port}: {exc}") from None
        self.host, self.port = host, self._sock.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._run, name=f"rtmir-osc-control:{self.port}", daemon=True)
        self._thread.start()
        log.info("OSC control listening on %s:%d (%s...)", self.host, self.port, self._ctl)

    # -- receiver thread ------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            ready, _, _ = select.select([self._sock, self._wake_r], [], [])
            if self._wake_r in ready:
                return
            try:
                data = self._sock.recv(_MAX_DATAGRAM)
            except OSError:  # e.g. ICMP error queued on the socket: nothing to read, carry on
                continue
            self.received += 1
            self.handle_datagram(data)

    def handle_datagram(self, data: bytes) -> None:
        """Parse one datagram (message or bundle) and queue its commands. Never raises."""
        try:
            messages = [timed.message for timed in OscPacket(data).messages]
        except (ParseError, ValueError, IndexError, TypeError, OverflowError) as exc:
            self.malformed += 1
            log.debug("malformed OSC control datagram (%d bytes): %s", len(data), exc)
            return
        for msg in messages:
            command = self._command(msg.address, list(msg.params))
            if command is None:
                self.malformed += 1
                log.debug("ignored OSC control message %s %r", msg.address, list(msg.params))
            elif command[0] == "ignore":
                continue
            elif self.commands.qsize() >= MAX_PENDING:
                self.dropped += 1
            else:
                self.commands.put(command)

    def _command(self, address: str, args: list) -> tuple | None:
        """``("reset",)``, ``("param", task, name, value)``, ``("ignore",)`` or None (malformed)."""
        if not address.startswith(self._ctl):
            return None
        parts = address[len(self._ctl):].split("/")
        numbers = [a for a in args if isinstance(a, (int, float)) and not isinstance(a, bool)]
        if len(numbers) != len(args) or not all(math.isfinite(a) for a in numbers):
            return None
        if parts == ["reset"]:
            if not args:
                return ("reset",)
            if len(args) == 1:
                return ("reset",) if args[0] != 0 else ("ignore",)
            return None
        if len(parts) == 2 and all(parts) and len(args) == 1:
            return ("param", parts[0], parts[1], float(args[0]))
        return None

    # -- engine thread --------------------------------------------------------------------
    def drain(self, engine: Controllable) -> int:
        """Apply every queued command to ``engine``, in arrival order. Call between pushes.

        Returns:
            How many commands were taken off the queue (applied or rejected).
        """
        taken = 0
        while not self.commands.empty():  # one consumer: empty() then get() cannot race
            command = self.commands.get_nowait()
            taken += 1
            if command[0] == "reset":
                engine.reset()
                self.applied += 1
                continue
            _, task, name, value = command
            try:
                engine.apply_control(task, name, value)
                self.applied += 1
            except (KeyError, ValueError) as exc:
                self.rejected += 1
                if (task, name) not in self._warned and len(self._warned) < 64:
                    self._warned.add((task, name))
                    log.warning("OSC control %s%s/%s %g rejected: %s", self._ctl, task, name, value, exc)
        return taken

    def close(self) -> None:
        """Stop the receiver thread and close the socket (idempotent; waits at most 1 s)."""
        if self._thread.is_alive():
            try:
                self._wake_w.send(b"x")
            except OSError:
                pass  # already closed
            self._thread.join(timeout=1.0)
        for s in (self._sock, self._wake_r, self._wake_w):
            s.close()

    def __enter__(self) -> "ControlServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""``OscSink``: rtmir events as OSC bundles over UDP, one bundle per hop (docs/OSC.md).

    Engine.push ─► OscSink.send(events) ─► EventFormatter.bundles ─► socket.send (non-blocking)
                                            one datagram per distinct t, timetag = epoch + t

The socket is UDP, non-blocking and ``connect``-ed to the destination resolved once at
construction: a send never blocks and never does a DNS lookup, and the kernel reports ICMP errors
(``ECONNREFUSED`` when nothing listens on a local port, ``ENETUNREACH``/``EHOSTUNREACH``) on
later sends. Send errors are counted in ``send_errors``, with one ``logging`` warning per sink —
never an exception into the engine, never a log line per packet.
"""
from __future__ import annotations

import logging
import socket

from ..core.processor import Event
from .osc_format import EventFormatter, OscError

__all__ = ["OscSink", "OscError", "parse_destination", "resolve"]

log = logging.getLogger(__name__)


def parse_destination(text: str) -> tuple[str, int]:
    """``"HOST:PORT"`` (``--osc``) → ``(host, port)``; IPv6 as ``[::1]:9000``; ``":9000"`` = localhost.

    Raises:
        OscError: no port, or a port that is not a number in 1..65535.
    """
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise OscError(f"bad OSC destination {text!r}: use HOST:PORT, e.g. 127.0.0.1:9000")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return host or "127.0.0.1", int(port_text)


def resolve(host: str, port: int) -> tuple[int, tuple]:
    """Resolve ``host:port`` for UDP once, preferring IPv4 (what Pd and Max listen on).

    Returns:
        ``(address family, socket address)``.

    Raises:
        OscError: bad port, or the host cannot be resolved.
    """
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise OscError(f"bad OSC port {port!r}: use 1..65535")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OscError(f"cannot resolve OSC host {host!r}: {exc}") from None
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return infos[0][0], infos[0][4]


class OscSink:
    """Send events as OSC 1.0 bundles over UDP.

    Args:
        host: destination name or address (resolved once, here).
        port: destination UDP port (1..65535).
        prefix: address prefix of every message (``/rtmir``).
        timetag_epoch: UNIX wall-clock seconds at stream time 0; each hop's bundle carries the
            timetag ``timetag_epoch + t``. ``None`` (faster-than-real-time file streams): the
            timetag is "immediately" (1).

    Attributes:
        address: the resolved socket address.
        sent: datagrams handed to the OS.
        send_errors: datagrams the OS refused (unreachable, refused, buffer full, too big).
        last_error: text of the last send error, or None.
        formatter: the ``EventFormatter`` (its ``skipped_values`` counts unformattable values).

    Raises:
        OscError: (a ``ValueError``) unresolvable host, bad port or bad prefix.

    Real-time notes: ``send`` and ``status`` never block and never raise for network errors;
    their cost is a few µs per hop (see docs/OSC.md for the figure). One thread at a time.
    """

    def __init__(self, host: str, port: int, prefix: str = "/rtmir", timetag_epoch: float | None = None) -> None:
        self.formatter = EventFormatter(prefix)
        family, self.address = resolve(host, port)
        self.host, self.port = host, port
        self.timetag_epoch = timetag_epoch
        self.sent = 0
        self.send_errors = 0
        self.last_error: str | None = None
        self._sounding: dict[tuple[str, int, int], Event] = {}  # notes nodes: (node, pitch, drum) -> its note-on
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        if family == socket.AF_INET:
            # Broadcast destinations (x.x.x.255) are common in OSC setups.
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        try:
            self._sock.connect(self.address)
            self._send = self._sock.send
        except OSError as exc:  # no route yet: keep going, count failures per datagram
            self._error(exc)
            self._send = self._send_to

    def _send_to(self, datagram: bytes) -> None:
        self._sock.sendto(datagram, self.address)

    def _error(self, exc: OSError) -> None:
        self.send_errors += 1
        self.last_error = str(exc)
        if self.send_errors == 1:
            log.warning(
                "OSC send to %s:%s failed (%s); further failures are only counted (send_errors)",
                self.host, self.port, exc,
            )

    def _deliver(self, datagram: bytes) -> None:
        try:
            self._send(datagram)
            self.sent += 1
        except OSError as exc:  # includes BlockingIOError (buffer full) and ConnectionRefusedError
            self._error(exc)

    def bind_graph(self, graph) -> None:
        """Address each node's results by its declared kind (``EventFormatter.bind_graph``)."""
        self.formatter.bind_graph(graph)

    def send(self, events: list[Event]) -> None:
        """Send one bundle per distinct ``t`` in ``events`` (sorted by ``t``, as the engine gives)."""
        for event in events:
            if "on" in event.values and self.formatter.route(event)[0] == "notes":
                v = event.values
                key = (event.node or event.task, int(v.get("pitch", 0)), int(bool(v.get("drum"))))
                if v["on"]:
                    self._sounding[key] = event
                else:
                    self._sounding.pop(key, None)
        for datagram in self.formatter.bundles(events, self.timetag_epoch):
            self._deliver(datagram)

    def reset(self) -> None:
        """The engine was reset: a note-off now (timetag "immediately") for every note a notes
        node turned on and has not turned off, so no receiver keeps a hanging note."""
        if not self._sounding:
            return
        offs = [Event(e.task, 0.0, {**e.values, "on": 0, "velocity": 0}, e.node) for e in self._sounding.values()]
        self._sounding = {}
        for datagram in self.formatter.bundles(offs, None):  # one bundle, "immediately"
            self._deliver(datagram)

    def status(self, stats: dict) -> None:
        """Send ``/status`` (a plain message) from ``xruns``, ``missed_hops``, ``cpu_load``, ``latency_ms``,
        then ``/<node>/live`` for each node that measures figures of its own (``stats["nodes"]``)."""
        self._deliver(self.formatter.status(stats))
        for datagram in self.formatter.node_figures(stats):
            self._deliver(datagram)

    def close(self) -> None:
        """End every sounding note (``reset``), close the socket (idempotent). Later sends are
        counted as errors."""
        if self._sock.fileno() >= 0:
            self.reset()
        self._sock.close()

    def __enter__(self) -> "OscSink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""The OSC receiver the bench measures arrivals with: every bundled message of a UDP port, with
the kernel's receive time of its datagram."""
from __future__ import annotations

import socket
import struct
import threading
import time

from ..sinks.osc_format import NTP_UNIX_OFFSET_S

#: Linux ``SO_TIMESTAMP`` / ``SCM_TIMESTAMP``: the kernel's receive time of a datagram.
_SO_TIMESTAMP = 29


class OscReceiver(threading.Thread):
    """UDP receiver on 127.0.0.1 keeping ``(timetag, address, args)`` of every bundled message,
    and in ``arrivals`` the kernel's receive time (UNIX s) of its datagram.

    The arrival time comes from ``SO_TIMESTAMP`` (stamped by the kernel as the datagram lands,
    so this thread's waits for the GIL do not count); ``time.time()`` after ``recv`` elsewhere.
    """

    def __init__(self) -> None:
        super().__init__(daemon=True, name="rtmir-osc-receiver")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMP, 1)
            self.kernel_stamps = True
        except OSError:
            self.kernel_stamps = False
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.messages: list[tuple[float, str, list]] = []
        self.arrivals: list[float] = []
        self.running = True

    def _recv(self) -> tuple[bytes, float]:
        data, ancdata, _flags, _addr = self.sock.recvmsg(65536, 64)
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMP and len(payload) >= 16:
                sec, usec = struct.unpack("qq", payload[:16])
                return data, sec + usec * 1e-6
        return data, time.time()

    def run(self) -> None:
        from pythonosc.osc_bundle import OscBundle

        while self.running:
            try:
                data, arrived = self._recv()
            except socket.timeout:
                continue
            except OSError:
                return
            if not OscBundle.dgram_is_bundle(data):
                continue
            tt = struct.unpack(">Q", data[8:16])[0] / 2**32 - NTP_UNIX_OFFSET_S
            for msg in OscBundle(data):
                self.messages.append((tt, msg.address, list(msg.params)))
                self.arrivals.append(arrived)

    def stop(self) -> None:
        self.running = False
        self.join(2)
        self.sock.close()

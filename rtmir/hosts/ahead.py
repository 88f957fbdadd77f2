"""The ahead placement: generators run in their own thread, ahead of playback.

    ahead thread:  node.push(zeros) ─► aligner ─► AheadRing at stream position g   (g ≤ w + lead)
    callback:      outdata rows ◄── AheadRing at the callback's position w (copies only)

A generator (no data input, audio out: ``core/placement.py``) does not wait for the input, so
its audio for stream frame ``p`` can be made before ``p`` is played: the thread keeps
``lead_frames`` written ahead of the callback's position and sleeps otherwise. The callback
copies the rows at its own position: no worker, no output ring, no compute in the callback. A
generator that falls behind plays silence for that block, counted in ``late_blocks``; the
others never notice. The samples are those the same graph gives in a file (same aligners).
"""
from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from .ring import DelayRing


class AheadPart(threading.Thread):
    """Runs an engine's ahead nodes (``Engine.detach_ahead``) for a live host.

    Args:
        plan: the ahead nodes' plan steps.
        rows: ``(lo, hi, key)`` output rows they write.
        block: host block (frames per step of the thread).
        host_rate: Hz.
        channels: host input channels (the zeros the generators are fed as a clock).
        lead_frames: how far ahead of playback the thread keeps the output.
        position: callable giving the callback's stream position (frames).
    """

    def __init__(self, plan: list, rows: list, block: int, host_rate: int, channels: int, lead_frames: int,
                 position) -> None:
        super().__init__(name="rtmir-ahead", daemon=True)
        self.plan, self.rows, self.block, self.host_rate = plan, rows, block, host_rate
        self.nodes = [step[0] for step in plan]
        self.lead_frames, self.position = lead_frames, position
        self.width = sum(hi - lo for lo, hi, _ in rows)
        self.ring = DelayRing(lead_frames + 8 * block, self.width)
        self._zeros = np.zeros((channels, block), np.float32)
        self._frames = np.zeros((block, self.width), np.float32)  # one step, frame-major
        self._read = np.zeros((8192, self.width), np.float32)  # the callback's copy
        self._aligned: dict = {}
        self.pending: deque = deque(maxlen=256)
        self.halt = threading.Event()
        self.error: BaseException | None = None
        self.pos = 0  # frames generated
        self.late_blocks = 0

    def set_param(self, node, name: str, value: float) -> None:
        """Change a parameter of an ahead node before its next step (any thread)."""
        self.pending.append((node.processor, name, value))

    def run(self) -> None:
        nap = self.block / self.host_rate / 4
        try:
            while not self.halt.is_set():
                if self.pos < self.position() + self.lead_frames:
                    self.step()
                else:
                    time.sleep(nap)
        except Exception as exc:  # handed to the host, raised there after shutdown
            self.error = exc

    def step(self) -> None:
        """Generate one block at stream position ``pos`` and store it."""
        while self.pending:
            processor, name, value = self.pending.popleft()
            processor.set_param(name, value)
        n, aligned = self.block, self._aligned
        for node, _, _, outs in self.plan:
            node.push(self._zeros, n / self.host_rate)
            for okey, aligner in outs:
                aligned[okey] = aligner.push(node.produced[okey[1]], n)
        col = 0
        for lo, hi, key in self.rows:
            self._frames[:, col:col + hi - lo] = aligned[key].T
            col += hi - lo
        self.ring.write(self.pos, self._frames)
        self.pos += n

    def read_into(self, pos: int, outdata: np.ndarray) -> None:
        """Callback: copy the generated rows for stream ``[pos, pos + n)`` into ``outdata [n, C]``."""
        n = outdata.shape[0]
        buf = self._read[:n]
        if not self.ring.read_into(pos, buf):
            self.late_blocks += 1
        col = 0
        for lo, hi, _ in self.rows:
            outdata[:, lo:hi] = buf[:, col:col + hi - lo]
            col += hi - lo

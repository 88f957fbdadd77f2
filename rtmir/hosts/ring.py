"""Lock-free single-producer / single-consumer rings between the audio callback and the worker.

Both rings hold frame-major audio ``[capacity, channels]`` float32 (PortAudio's layout, so the
callback copies contiguous rows). Positions are *stream frames* counted from 0 as unbounded
Python ints; a frame at position ``p`` lives in row ``p % capacity``::

        read_pos (consumer only)            write_pos (producer only)
            │                                   │
    ... ────▼───────── readable ────────────────▼──── free ────... (modulo capacity)

Why no lock: each index has exactly one writer thread, and in CPython rebinding an attribute to
a new int is atomic. The producer copies the data *first* and publishes ``write_pos`` *after*; the
consumer reads ``write_pos`` once, copies, then publishes ``read_pos``. Nothing ever waits.

``InputRing`` (callback → worker) drops a whole write when it does not fit (the worker is too
slow) and records the gap, so the consumer can keep stream time exact (it pushes silence for the
missing frames). ``DelayRing`` (worker → callback) is indexed by stream position instead of being
a FIFO, so output keeps a fixed latency: the callback asks for the frames of a given position and
gets silence, counted, when the worker has not written them yet.

Real-time safety: ``InputRing.write`` and ``DelayRing.read_into`` are the callback-side methods;
they allocate no arrays, take no lock, never block, never log.
"""
from __future__ import annotations

import numpy as np


class InputRing:
    """Callback → worker audio FIFO that drops (and records) writes that do not fit.

    Args:
        capacity_frames: frames the ring holds (≥ the largest single write).
        channels: channels per frame.
        max_gaps: pending gap records kept; more pending gaps than this are still counted but
            merged into the newest record (stream time stays exact, their positions blur).

    Attributes (producer-owned): ``write_pos``, ``dropped_writes``, ``dropped_frames``.
    Attributes (consumer-owned): ``read_pos``.
    """

    def __init__(self, capacity_frames: int, channels: int, max_gaps: int = 256) -> None:
        if capacity_frames < 1 or channels < 1:
            raise ValueError(f"need capacity_frames ≥ 1 and channels ≥ 1, got {capacity_frames}, {channels}")
        self.capacity = int(capacity_frames)
        self.channels = int(channels)
        self._buf = np.zeros((self.capacity, self.channels), np.float32)
        # A gap = (position where it starts, frames missing). Position is in stream frames,
        # i.e. the dropped frames count as if they had been written.
        self._gap_pos = np.zeros(max_gaps, np.int64)
        self._gap_len = np.zeros(max_gaps, np.int64)
        self._max_gaps = max_gaps
        self.gaps_written = 0  # producer
        self.gaps_read = 0  # consumer
        self.write_pos = 0  # producer: stream frames written or dropped
        self.stored_pos = 0  # producer: frames actually stored (ring index space)
        self.read_pos = 0  # consumer: stream frames consumed (including gaps)
        self.loaded_pos = 0  # consumer: stored frames consumed
        self.dropped_writes = 0
        self.dropped_frames = 0

    # -- producer side (audio callback) ---------------------------------------------------------
    def write(self, frames: np.ndarray) -> bool:
        """Append ``frames`` ``[n, channels]``; drop all of them if they do not fit. RT-safe.

        Returns:
            True if stored, False if dropped (counted, and recorded as a gap).
        """
        n = frames.shape[0]
        stored = self.stored_pos
        if stored + n - self.loaded_pos > self.capacity:
            self._record_gap(n)
            return False
        i = stored % self.capacity
        first = min(n, self.capacity - i)
        self._buf[i:i + first] = frames[:first]
        if first < n:
            self._buf[:n - first] = frames[first:]
        self.stored_pos = stored + n
        self.write_pos += n  # publish last: the consumer trusts frames below write_pos
        return True

    def _record_gap(self, n: int) -> None:
        self.dropped_writes += 1
        self.dropped_frames += n
        k = self.gaps_written
        if k - self.gaps_read < self._max_gaps:
            self._gap_pos[k % self._max_gaps] = self.write_pos
            self._gap_len[k % self._max_gaps] = n
            self.gaps_written = k + 1
        else:  # gap table full: lengthen the newest record (time stays exact)
            self._gap_len[(k - 1) % self._max_gaps] += n
        self.write_pos += n

    # -- consumer side (worker) -------------------------------------------------------------
    def readable(self) -> int:
        """Stream frames available to the consumer now (stored frames plus pending gaps)."""
        return self.write_pos - self.read_pos

    def next_gap(self) -> tuple[int, int] | None:
        """``(position, frames)`` of the oldest pending gap, or None."""
        if self.gaps_read == self.gaps_written:
            return None
        k = self.gaps_read % self._max_gaps
        return int(self._gap_pos[k]), int(self._gap_len[k])

    def skip_gap(self) -> int:
        """Consume the oldest pending gap (its position must equal ``read_pos``); returns frames."""
        pos, n = self.next_gap()
        if pos != self.read_pos:
            raise RuntimeError(f"gap at {pos} is not at the read position {self.read_pos}")
        self.read_pos += n
        self.gaps_read += 1
        return n

    def read_into(self, out: np.ndarray) -> int:
        """Copy up to ``out.shape[0]`` stored frames into ``out`` ``[n, channels]``, stopping at
        the next gap. Returns the frames copied (0 when empty or a gap is next)."""
        # Snapshot write_pos *before* looking at gaps: the producer records a gap before it
        # moves write_pos past it, so every gap below this snapshot is visible below.
        limit = self.write_pos
        gap = self.next_gap()
        if gap is not None:
            limit = min(limit, gap[0])
        n = min(out.shape[0], limit - self.read_pos)
        if n <= 0:
            return 0
        i = self.loaded_pos % self.capacity
        first = min(n, self.capacity - i)
        out[:first] = self._buf[i:i + first]
        if first < n:
            out[first:n] = self._buf[:n - first]
        self.loaded_pos += n
        self.read_pos += n  # publish last: frees the rows for the producer
        return n


class DelayRing:
    """Worker → callback audio addressed by stream position, for output with a fixed latency.

    The worker writes the output for stream frames ``[p, p + n)``; the callback reads the frames
    for position ``q = input_position - latency`` and gets them only if all were written,
    otherwise silence (and the caller counts a late block). Late data is never played later, so
    the latency never drifts.

    Args:
        capacity_frames: must exceed ``latency + 2 * max block`` (checked by the host).
        channels: output channels.
    """

    def __init__(self, capacity_frames: int, channels: int) -> None:
        self.capacity = int(capacity_frames)
        self.channels = int(channels)
        self._buf = np.zeros((self.capacity, self.channels), np.float32)
        self.written_pos = 0  # producer (worker): output known for all frames below this

    def write(self, pos: int, frames: np.ndarray) -> None:
        """Store output ``frames`` ``[n, channels]`` for stream positions ``[pos, pos + n)``."""
        n = frames.shape[0]
        i = pos % self.capacity
        first = min(n, self.capacity - i)
        self._buf[i:i + first] = frames[:first]
        if first < n:
            self._buf[:n - first] = frames[first:]
        self.written_pos = pos + n

    def read_into(self, pos: int, out: np.ndarray) -> bool:
        """Fill ``out`` ``[n, channels]`` with the output for ``[pos, pos + n)``. RT-safe.

        Returns:
            True if the worker had written it; False (``out`` zeroed) if it is late or ``pos``
            is before the stream started.
        """
        n = out.shape[0]
        if pos < 0 or self.written_pos < pos + n:
            out.fill(0.0)
            return False
        i = pos % self.capacity
        first = min(n, self.capacity - i)
        out[:first] = self._buf[i:i + first]
        if first < n:
            out[first:] = self._buf[:n - first]
        return True

"""SPSC rings of the live host: wraparound, counted overflow with exact stream time, fixed-delay reads."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtmir.hosts.ring import DelayRing, InputRing


def frames(start: int, n: int, channels: int = 2) -> np.ndarray:
    """Frames whose value is their stream position (channel c holds -position for c = 1)."""
    pos = np.arange(start, start + n, dtype=np.float32)
    return np.stack([pos, -pos][:channels], axis=1)


def drain(ring: InputRing, block: int) -> tuple[np.ndarray, int]:
    """Read everything: (stored frames in order, gap frames skipped)."""
    got, gaps = [], 0
    out = np.zeros((block, ring.channels), np.float32)
    while ring.readable():
        gap = ring.next_gap()
        if gap is not None and gap[0] == ring.read_pos:
            gaps += ring.skip_gap()
            continue
        n = ring.read_into(out)
        assert n > 0
        got.append(out[:n].copy())
    return (np.concatenate(got) if got else np.zeros((0, ring.channels), np.float32)), gaps


def test_wraparound_keeps_order():
    ring = InputRing(10, 2)
    out = np.zeros((4, 2), np.float32)
    pos = 0
    for _ in range(7):  # 7 × 6 frames through a 10-frame ring: wraps several times
        assert ring.write(frames(pos, 6))
        assert ring.read_into(out) == 4
        np.testing.assert_array_equal(out, frames(pos, 4))
        assert ring.read_into(out[:3]) == 2  # only 2 left
        np.testing.assert_array_equal(out[:2], frames(pos + 4, 2))
        pos += 6
    assert ring.read_pos == ring.write_pos == 42 and ring.dropped_writes == 0


def test_overflow_drops_whole_write_and_records_gap():
    ring = InputRing(8, 1)
    assert ring.write(frames(0, 6, 1))
    assert not ring.write(frames(6, 4, 1))  # 10 > 8: dropped, never partially written
    assert ring.dropped_writes == 1 and ring.dropped_frames == 4
    assert ring.write(frames(10, 2, 1))  # fits again (6 + 2 = 8)
    got, gaps = drain(ring, 3)
    assert gaps == 4
    np.testing.assert_array_equal(got[:, 0], [0, 1, 2, 3, 4, 5, 10, 11])
    assert ring.read_pos == 12  # stream time counts the hole


def test_read_stops_at_gap():
    ring = InputRing(4, 1)
    ring.write(frames(0, 3, 1))
    ring.write(frames(3, 3, 1))  # dropped: gap at 3
    out = np.zeros((4, 1), np.float32)
    assert ring.read_into(out) == 3
    assert ring.read_into(out) == 0 and ring.next_gap() == (3, 3)
    assert ring.skip_gap() == 3 and ring.readable() == 0


def test_skip_gap_refuses_wrong_position():
    ring = InputRing(4, 1)
    ring.write(frames(0, 3, 1))
    ring.write(frames(3, 3, 1))
    with pytest.raises(RuntimeError, match="not at the read position"):
        ring.skip_gap()


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(1, 64),
    ops=st.lists(st.tuples(st.booleans(), st.integers(1, 40)), min_size=1, max_size=80),
)
def test_random_block_sizes_lose_and_duplicate_nothing(capacity, ops):
    """Interleaved writes/reads of random sizes: stored frames come out once, in order; dropped
    writes are exactly the gaps; stream time = frames written + frames dropped."""
    ring = InputRing(capacity, 2)
    pos, expected, read, gaps = 0, [], [], 0
    for is_write, n in ops:
        if is_write:
            if ring.write(frames(pos, n)):
                expected.append(np.arange(pos, pos + n))
            pos += n
        else:
            out = np.zeros((n, 2), np.float32)
            gap = ring.next_gap()
            if gap is not None and gap[0] == ring.read_pos:
                gaps += ring.skip_gap()
            else:
                k = ring.read_into(out)
                read.append(out[:k, 0].copy())
                np.testing.assert_array_equal(out[:k, 1], -out[:k, 0])
    rest, more_gaps = drain(ring, 7)
    got = np.concatenate(read + [rest[:, 0]])
    want = np.concatenate(expected) if expected else np.zeros(0)
    np.testing.assert_array_equal(got, want)
    assert gaps + more_gaps == ring.dropped_frames
    assert ring.read_pos == ring.write_pos == pos


def test_threads_spsc_stress():
    """A real producer thread and consumer thread: every frame arrives once, in order."""
    ring = InputRing(300, 1)
    block = 128
    total = 1563 * block
    got = np.zeros(total, np.float32)
    stored = []

    def produce() -> None:
        for start in range(0, total, block):
            if ring.write(frames(start, block, 1)):
                stored.append(start)

    producer = threading.Thread(target=produce)
    producer.start()
    out = np.zeros((64, 1), np.float32)
    n_got = 0
    while producer.is_alive() or ring.readable():
        gap = ring.next_gap()
        if gap is not None and gap[0] == ring.read_pos:
            ring.skip_gap()
            continue
        k = ring.read_into(out)
        got[n_got:n_got + k] = out[:k, 0]
        n_got += k
    producer.join()
    want = np.concatenate([np.arange(s, s + block) for s in stored])
    np.testing.assert_array_equal(got[:n_got], want)
    assert ring.read_pos == total


def test_delay_ring_fixed_latency_and_late_blocks():
    ring = DelayRing(64, 1)
    out = np.zeros((8, 1), np.float32)
    assert not ring.read_into(-8, out) and not out.any()  # before the stream start: silence
    ring.write(0, frames(0, 8, 1))
    ring.write(8, frames(8, 8, 1))
    assert ring.read_into(0, out)
    np.testing.assert_array_equal(out[:, 0], np.arange(8))
    assert not ring.read_into(12, out) and not out.any()  # [12, 20) not all written: late → silence
    for p in range(16, 200, 8):  # wraps the 64-frame ring many times at a fixed delay of 16
        ring.write(p, frames(p, 8, 1))
        assert ring.read_into(p - 8, out)
        np.testing.assert_array_equal(out[:, 0], np.arange(p - 8, p))

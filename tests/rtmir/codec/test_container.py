"""The ``.rtq`` container: codes round-trip bit for bit, and every kind of damage is one clear
``ContainerError`` naming the byte offset (never garbage codes)."""
from __future__ import annotations

import io
import zlib

import numpy as np
import pytest

from rtmir.codec.container import (ContainerError, Header, pack_codes, payload_bytes, read_blocks, read_header,
                                   unpack_codes, write_block, write_header)


def _header(frames: int, stages: int = 2, per_block: int = 7) -> Header:
    return Header(24000, 44100, 12345, 160, 160, stages, 4, 10, frames, "codec", "0.1.0", per_block)


def _file(frames: int = 20, stages: int = 2, per_block: int = 7, seed: int = 0) -> tuple[bytes, np.ndarray]:
    codes = np.random.default_rng(seed).integers(0, 1024, (frames, stages))
    f = io.BytesIO()
    write_header(f, _header(frames, stages, per_block))
    for i, start in enumerate(range(0, frames, per_block)):
        write_block(f, i, codes[start:start + per_block], 10)
    return f.getvalue(), codes


def _read_all(data: bytes) -> tuple[Header, list]:
    f = io.BytesIO(data)
    header = read_header(f)
    return header, list(read_blocks(f, header, f.tell()))


@pytest.mark.parametrize("bits", [1, 3, 10, 12, 16])
def test_codes_round_trip_bit_for_bit(bits):
    codes = np.random.default_rng(bits).integers(0, 1 << bits, (37, 3))
    packed = pack_codes(codes, bits)
    assert len(packed) == payload_bytes(37, 3, bits)
    assert np.array_equal(unpack_codes(packed, 37, 3, bits), codes)


def test_a_code_that_does_not_fit_is_refused():
    with pytest.raises(ValueError, match="0..1023"):
        pack_codes(np.array([[1024]]), 10)


def test_a_file_reads_back_as_written():
    data, codes = _file()
    header, blocks = _read_all(data)
    assert header == _header(20)
    assert [b[0] for b in blocks] == [7, 7, 6] and all(b[2] == "" for b in blocks)
    assert np.array_equal(np.concatenate([b[1] for b in blocks]), codes)


def test_the_payload_is_the_bitrate():
    h = _header(150, stages=4)
    assert h.payload_kbps == pytest.approx(6.0)
    assert payload_bytes(150, 4, 10) * 8 == 6000  # one second of 6 kbps codes


def test_every_truncation_is_an_error_with_its_offset():
    data, _ = _file()
    for cut in range(len(data)):
        with pytest.raises(ContainerError) as err:
            _read_all(data[:cut])
        assert "byte" in str(err.value), (cut, str(err.value))


def test_bytes_after_the_last_block_are_an_error():
    data, _ = _file()
    with pytest.raises(ContainerError, match=f"byte {len(data)}: data after the last block"):
        _read_all(data + b"\x00")


def test_not_an_rtq_file():
    with pytest.raises(ContainerError, match="not an rtmir codec file"):
        _read_all(b"RIFF" + bytes(100))


def test_a_future_version_is_refused():
    data, _ = _file()
    with pytest.raises(ContainerError, match="version 2"):
        _read_all(data[:4] + (2).to_bytes(2, "little") + data[6:])


def test_a_damaged_header_fails_its_crc():
    data, _ = _file()
    broken = bytearray(data)
    broken[12] ^= 0x01  # the source rate
    with pytest.raises(ContainerError, match="header CRC mismatch"):
        _read_all(bytes(broken))


def test_a_damaged_block_is_reported_not_returned():
    data, codes = _file()
    header_size = len(_header(20).pack())
    block_size = 2 + 4 + 2 + payload_bytes(7, 2, 10) + 4
    broken = bytearray(data)
    broken[header_size + block_size + 12] ^= 0x10  # inside block 1's payload
    _, blocks = _read_all(bytes(broken))
    assert blocks[1][1] is None and f"byte {header_size + block_size}: block 1 fails its CRC" in blocks[1][2]
    assert np.array_equal(blocks[0][1], codes[:7]) and np.array_equal(blocks[2][1], codes[14:])


def test_blocks_out_of_order_are_refused():
    data, _ = _file()
    header_size = len(_header(20).pack())
    block_size = 2 + 4 + 2 + payload_bytes(7, 2, 10) + 4
    b0 = data[header_size:header_size + block_size]
    b1 = data[header_size + block_size:header_size + 2 * block_size]
    swapped = data[:header_size] + b1 + b0 + data[header_size + 2 * block_size:]
    with pytest.raises(ContainerError, match=f"byte {header_size}: block 1 where block 0 belongs"):
        _read_all(swapped)


def test_a_lost_sync_mark_is_refused():
    data, _ = _file()
    header_size = len(_header(20).pack())
    broken = data[:header_size] + b"xx" + data[header_size + 2:]
    with pytest.raises(ContainerError, match="no sync mark"):
        _read_all(broken)


def test_a_block_that_declares_too_many_frames_is_refused():
    data, _ = _file()
    header_size = len(_header(20).pack())
    body = (0).to_bytes(4, "little") + (9).to_bytes(2, "little")  # 9 frames in a 7-frame file layout
    broken = data[:header_size] + b"\xa5Z" + body + data[header_size + 8:]
    with pytest.raises(ContainerError, match="declares 9 frames"):
        _read_all(broken)


def test_name_lengths_that_overrun_the_header_are_refused_even_with_a_good_crc():
    good = _header(20).pack()
    body = bytearray(good[:-4])
    fixed = 38  # the fixed part: the name length byte follows it
    body[fixed] = 200  # the name would run past the header
    broken = bytes(body) + zlib.crc32(bytes(body)).to_bytes(4, "little")
    with pytest.raises(ContainerError, match="do not fill the header"):
        read_header(io.BytesIO(broken))

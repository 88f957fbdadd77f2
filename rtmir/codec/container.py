"""The ``.rtq`` container: codec tokens in CRC-checked blocks, readable without the model.

Layout (all integers little-endian)::

    header   magic "RTQ\\x00" · version u16 · header bytes u16 · codec rate u32 (Hz) ·
             source rate u32 (Hz) · source frames u64 (samples per channel of the input) ·
             hop u16 (codec samples per token frame) · latency u16 (decoder latency, samples) ·
             stages u8 (codes stored per frame) · model stages u8 · code bits u8 · reserved u8 ·
             token frames u32 · frames per block u16 · model name length u8 · model name ·
             model version length u8 · model version · CRC-32 of everything before it (u32)
    block    sync "\\xa5Z" · index u32 · frames u16 · payload · CRC-32 of index..payload (u32)
    payload  frames x stages codes, code_bits each, most significant bit first, frame-major,
             zero-padded to a whole byte

The payload is exactly the bitrate (6 kbps: 150 frames/s x 4 stages x 10 bits); the header and
block framing add 12 bytes per block (96 bit/s at 150 frames a block). Every way a file can be
damaged - another magic, a version from the future, a header or block CRC mismatch, a block out
of order, a file that ends early or has bytes after its last block - is a ``ContainerError``
naming the byte offset; nothing here ever returns codes it did not read intact.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import numpy as np

MAGIC = b"RTQ\x00"
VERSION = 1
SYNC = b"\xa5Z"
FRAMES_PER_BLOCK = 150
_FIXED = struct.Struct("<4sHHIIQHHBBBBIH")
_BLOCK_HEAD = struct.Struct("<2sIH")
_CRC = struct.Struct("<I")


class ContainerError(ValueError):
    """A ``.rtq`` file that is not one, or is damaged (the message names the byte offset)."""


@dataclass(frozen=True)
class Header:
    """What a ``.rtq`` file says about itself."""

    codec_rate: int  # Hz of the codec
    source_rate: int  # Hz of the encoded file (decode writes at this rate)
    source_frames: int  # samples per channel of the encoded file (decode writes exactly this many)
    hop: int  # codec samples per token frame
    latency: int  # the decoder's latency (samples at codec_rate), compensated by decode
    stages: int  # codes stored per frame (the bitrate)
    model_stages: int  # stages the model has (the rest decode as "left out")
    code_bits: int  # bits per code
    frames: int  # token frames in the file
    model: str  # the codec (zoo name) that made it
    model_version: str
    frames_per_block: int = FRAMES_PER_BLOCK

    @property
    def payload_kbps(self) -> float:
        """Bits of codes per second of audio, in kbps."""
        return self.codec_rate / self.hop * self.stages * self.code_bits / 1000

    def pack(self) -> bytes:
        name, version = self.model.encode(), self.model_version.encode()
        if len(name) > 255 or len(version) > 255:
            raise ValueError("model name and version must be at most 255 bytes")
        size = _FIXED.size + 2 + len(name) + len(version) + _CRC.size
        body = _FIXED.pack(MAGIC, VERSION, size, self.codec_rate, self.source_rate, self.source_frames, self.hop,
                           self.latency, self.stages, self.model_stages, self.code_bits, 0, self.frames,
                           self.frames_per_block)
        body += bytes([len(name)]) + name + bytes([len(version)]) + version
        return body + _CRC.pack(zlib.crc32(body))


def payload_bytes(frames: int, stages: int, bits: int) -> int:
    """Bytes of a block payload holding ``frames x stages`` codes of ``bits`` bits."""
    return -(-frames * stages * bits // 8)


def pack_codes(codes: np.ndarray, bits: int) -> bytes:
    """``codes [frames, stages]`` (ints in ``0 .. 2**bits - 1``) as a bit string, MSB first.

    Raises:
        ValueError: a code does not fit in ``bits`` bits.
    """
    flat = np.asarray(codes, np.int64).ravel()
    if flat.size and (flat.min() < 0 or flat.max() >= 1 << bits):
        raise ValueError(f"codes must lie in 0..{(1 << bits) - 1}")
    shifts = np.arange(bits - 1, -1, -1, dtype=np.int64)
    return np.packbits(((flat[:, None] >> shifts) & 1).astype(np.uint8).ravel()).tobytes()


def unpack_codes(payload: bytes, frames: int, stages: int, bits: int) -> np.ndarray:
    """The inverse of ``pack_codes``: ``[frames, stages]`` int64."""
    n = frames * stages
    raw = np.unpackbits(np.frombuffer(payload, np.uint8))[:n * bits].reshape(n, bits).astype(np.int64)
    return (raw << np.arange(bits - 1, -1, -1, dtype=np.int64)).sum(axis=1).reshape(frames, stages)


def write_header(f: BinaryIO, header: Header) -> None:
    f.write(header.pack())


def write_block(f: BinaryIO, index: int, codes: np.ndarray, bits: int) -> None:
    """One block of ``codes [frames, stages]``."""
    body = _BLOCK_HEAD.pack(SYNC, index, codes.shape[0])[2:] + pack_codes(codes, bits)
    f.write(SYNC + body + _CRC.pack(zlib.crc32(body)))


def _read(f: BinaryIO, n: int, offset: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise ContainerError(f"truncated at byte {offset + len(data)}: {what} needs {n} bytes, "
                             f"the file has {len(data)} more")
    return data


def read_header(f: BinaryIO) -> Header:
    """The header at the start of ``f``.

    Raises:
        ContainerError: not an ``.rtq`` file, another version, damaged or truncated header.
    """
    start = _read(f, 4, 0, "the magic")
    if start != MAGIC:
        raise ContainerError(f"not an rtmir codec file (.rtq): byte 0 holds {start!r}, not {MAGIC!r}")
    fixed = start + _read(f, _FIXED.size - 4, 4, "the header")
    (_, version, size, codec_rate, source_rate, source_frames, hop, latency, stages, model_stages, bits, _,
     frames, per_block) = _FIXED.unpack(fixed)
    if size < _FIXED.size + 2 + _CRC.size or size > _FIXED.size + 2 + 2 * 255 + _CRC.size:
        why = f".rtq version {version}; this rtmir reads version {VERSION}" if version != VERSION else \
            f"header size {size} is impossible (damaged header)"
        raise ContainerError(f"byte {4 if version != VERSION else 6}: {why}")
    rest = _read(f, size - _FIXED.size, _FIXED.size, "the header")
    body, crc = fixed + rest[:-_CRC.size], _CRC.unpack(rest[-_CRC.size:])[0]
    if version != VERSION:  # another layout: its CRC says nothing to this reader
        raise ContainerError(f"byte 4: .rtq version {version}; this rtmir reads version {VERSION}")
    if zlib.crc32(body) != crc:
        raise ContainerError(f"byte {size - _CRC.size}: header CRC mismatch (the header is damaged)")
    name_len = body[_FIXED.size]
    if _FIXED.size + 2 + name_len > len(body) or _FIXED.size + 2 + name_len + body[_FIXED.size + 1 + name_len] \
            != len(body):
        raise ContainerError(f"byte {_FIXED.size}: the model name and version do not fill the header (damaged header)")
    name = body[_FIXED.size + 1:_FIXED.size + 1 + name_len]
    version_len = body[_FIXED.size + 1 + name_len]
    model_version = body[_FIXED.size + 2 + name_len:_FIXED.size + 2 + name_len + version_len]
    if not (0 < stages <= model_stages) or not (0 < bits <= 16) or not hop or not per_block or not codec_rate \
            or not source_rate:
        raise ContainerError("byte 8: the header's fields are inconsistent (damaged or not made by rtmir)")
    return Header(codec_rate, source_rate, source_frames, hop, latency, stages, model_stages, bits, frames,
                  name.decode("utf-8", "replace"), model_version.decode("utf-8", "replace"), per_block)


def read_blocks(f: BinaryIO, header: Header, offset: int) -> Iterator[tuple[int, np.ndarray | None, str]]:
    """Yield ``(frames, codes [frames, stages] or None, problem)`` per block after the header
    (``offset``: the header's size). A block that fails its CRC yields ``None`` codes and says
    why (so a caller may conceal it); the structure itself (sync, order, sizes, the end of the
    file) is checked and raises.

    Raises:
        ContainerError: a missing sync mark, a block out of order or of a wrong size, a file that
            ends early, or bytes after the last block.
    """
    left, index = header.frames, 0
    while left > 0:
        head = _read(f, _BLOCK_HEAD.size, offset, f"block {index}'s head")
        sync, got, frames = _BLOCK_HEAD.unpack(head)
        if sync != SYNC:
            raise ContainerError(f"byte {offset}: block {index} has no sync mark (damaged or cut file)")
        if got != index:
            raise ContainerError(f"byte {offset}: block {got} where block {index} belongs (blocks lost or reordered)")
        if not 0 < frames <= min(left, header.frames_per_block):
            raise ContainerError(f"byte {offset}: block {index} declares {frames} frames (damaged block head)")
        n = payload_bytes(frames, header.stages, header.code_bits)
        payload = _read(f, n + _CRC.size, offset + _BLOCK_HEAD.size, f"block {index}")
        body = head[2:] + payload[:n]
        if zlib.crc32(body) != _CRC.unpack(payload[n:])[0]:
            yield frames, None, f"byte {offset}: block {index} fails its CRC (corrupt data)"
        else:
            yield frames, unpack_codes(payload[:n], frames, header.stages, header.code_bits), ""
        offset += _BLOCK_HEAD.size + n + _CRC.size
        left -= frames
        index += 1
    extra = f.read(1)
    if extra:
        raise ContainerError(f"byte {offset}: data after the last block (the header declares {header.frames} frames)")

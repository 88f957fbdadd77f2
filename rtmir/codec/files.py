"""Whole files through the codec: ``encode_file`` (audio -> ``.rtq``) and ``decode_file`` (``.rtq`` -> WAV).

The shipped codec is two models (``codec-enc.onnx``: audio -> tokens, ``codec-dec.onnx``: tokens ->
audio), opened together as a ``CodecPair``. Both are called one hop at a time, as live, so the
tokens of a file are bit-identical to the tokens ``rtmir live --task codec`` sends for the same
audio at any block size::

    encode: file (any rate, channels averaged to mono) ─ resample to the codec rate ─ encoder per hop
            ─ the first ``stages`` codes of each frame ─ .rtq blocks (CRC each)
    decode: .rtq ─ tokens (stages left out: the absent code) ─ decoder per hop ─ drop its latency
            ─ resample to the file's rate ─ exactly the input's length (it lines up sample for sample)

Encoding codes ``latency`` samples of silence after the file so that its last samples come out
of the decoder. A damaged ``.rtq`` stops decoding with the byte offset (``ContainerError``);
with ``conceal=True`` a block that fails its CRC is concealed instead (hold the last frame and
fade, ``rtmir.codec.conceal``) and counted. Outputs are written to ``NAME.part`` and renamed
when complete (``sinks.output_path``): an interrupted or failed run leaves nothing.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.resample import StreamingResampler
from ..session import ModelError, StreamingSession
from ..sinks.output_path import PartFile, check_output
from .conceal import Concealer
from .container import ContainerError, Header, read_blocks, read_header, write_block, write_header

CODEC_MODEL = "codec"
"""Zoo name of the shipped codec: ``codec-enc.onnx`` and ``codec-dec.onnx``."""
READ_BLOCK = 1 << 16  # input samples per read


@dataclass
class CodecPair:
    """The encoder and decoder of one codec, checked to fit each other.

    Attributes:
        name, version: the pair's zoo name (the files' stem less ``-enc``/``-dec``) and version.
        sample_rate, hop: the codec's rate (Hz) and samples per token frame.
        latency: the decoder's latency in samples (output sample p describes input sample p - latency).
        stages: codes per frame the encoder makes. codebook_size: values a code takes
            (``codebook_size`` itself is the decoder's "stage left out"). code_bits: bits per code.
    """

    encoder: StreamingSession
    decoder: StreamingSession
    name: str
    version: str
    sample_rate: int
    hop: int
    latency: int
    stages: int
    codebook_size: int

    @property
    def code_bits(self) -> int:
        return max(1, math.ceil(math.log2(self.codebook_size)))

    @property
    def stage_kbps(self) -> float:
        """kbps each stage adds."""
        return self.sample_rate / self.hop * self.code_bits / 1000

    def stages_for(self, kbps: float) -> int:
        """The number of stages that make ``kbps`` (within 1 %).

        Raises:
            ValueError: not a bitrate of this codec (the message lists them).
        """
        n = round(kbps / self.stage_kbps) if math.isfinite(kbps) else 0
        if not 1 <= n <= self.stages or abs(kbps - n * self.stage_kbps) > 0.01 * n * self.stage_kbps:
            allowed = ", ".join(f"{self.stage_kbps * (i + 1):g}" for i in range(self.stages))
            raise ValueError(f"--kbps {kbps:g} is not a bitrate of codec {self.name}: use one of {allowed}")
        return n

    @classmethod
    def open(cls, model: str | None = None) -> CodecPair:
        """Open ``model``: a zoo name (default ``codec``: ``codec-enc`` + ``codec-dec``) or the path
        of an encoder ``X-enc.onnx`` with its decoder ``X-dec.onnx`` beside it.

        Raises:
            ModelError: a file is missing, or the two are not an encoder and decoder that fit.
        """
        from ..zoo import ZOO_DIR

        base = Path(model) if model and (model.endswith(".onnx") or "/" in model) else None
        if base is not None:
            if not base.name.endswith("-enc.onnx"):
                raise ModelError(f"--model {base}: give the encoder, a file named NAME-enc.onnx with NAME-dec.onnx beside it")
            enc_path, dec_path = base, base.with_name(base.name[:-len("-enc.onnx")] + "-dec.onnx")
            name = base.name[:-len("-enc.onnx")]
        else:
            name = model or CODEC_MODEL
            enc_path, dec_path = ZOO_DIR / f"{name}-enc.onnx", ZOO_DIR / f"{name}-dec.onnx"
        for p in (enc_path, dec_path):
            if not p.is_file():
                raise ModelError(f"codec model file not found: {p}" + ("" if base else " (is the codec shipped?)"))
        enc, dec = StreamingSession(enc_path), StreamingSession(dec_path)
        return cls._check(enc, dec, name)

    @classmethod
    def _check(cls, enc: StreamingSession, dec: StreamingSession, name: str) -> CodecPair:
        ec, dc = enc.card, dec.card
        tokens_out = [o for o in ec.outputs if o.unit == "code"]
        tokens_in = [i for i in dc.inputs if i.kind == "tokens"]
        audio_out = [o for o in dc.outputs if o.unit == "audio"]
        if ec.task != "codec" or dc.task != "codec" or len(tokens_out) != 1 or len(tokens_in) != 1 or not audio_out:
            raise ModelError(f"{ec.name} / {dc.name} are not a codec encoder (audio -> tokens) and decoder "
                             f"(tokens -> audio)")
        stages = int(tokens_out[0].shape[1])
        vocab = tokens_in[0].vocab_size
        if (ec.sample_rate, ec.hop, ec.channels) != (dc.sample_rate, dc.hop, 1) or ec.channels != 1 \
                or int(tokens_in[0].shape[1]) != stages or not vocab or vocab < 2 or ec.version != dc.version:
            raise ModelError(f"{ec.name} {ec.version} and {dc.name} {dc.version} do not fit each other "
                             f"(rate, hop, stages, vocabulary or version differ)")
        return cls(enc, dec, name, ec.version, ec.sample_rate, ec.hop, dc.latency_samples, stages, vocab - 1)

    def reset(self) -> None:
        self.encoder.reset()
        self.decoder.reset()

    def encode_hop(self, audio: np.ndarray) -> np.ndarray:
        """Tokens ``[stages]`` of one hop of mono audio ``[hop]`` (a view: copy to keep)."""
        out = self.encoder.process(audio[None])
        return next(iter(out.values()))[0, :, 0]

    def decode_hop(self, tokens: np.ndarray) -> np.ndarray:
        """One hop of audio ``[hop]`` from tokens ``[stages]`` (a view: copy to keep)."""
        out = self.decoder.step({"tokens": tokens[:, None]})
        return out["audio"][0, 0]


@dataclass(frozen=True)
class DecodeReport:
    """What ``decode_file`` did: frames decoded, frames concealed (damaged blocks), the header."""

    frames: int
    concealed: int
    header: Header


def _mono_blocks(path: Path):
    """``(sample rate, frames, iterator of mono float32 blocks)`` of an audio file."""
    import soundfile as sf

    from ..hosts.file_host import probe

    info = probe(path)

    def blocks():
        with sf.SoundFile(str(path)) as f:
            while True:
                x = f.read(READ_BLOCK, dtype="float32", always_2d=True)
                if not len(x):
                    return
                yield np.ascontiguousarray(x.mean(axis=1, dtype=np.float32))

    return info.sample_rate, info.frames, blocks()


class _Resampled:
    """Chunks at ``rate_in`` -> the same signal at ``rate_out``, aligned (nothing held back at the end)."""

    def __init__(self, rate_in: int, rate_out: int) -> None:
        self.r = None if rate_in == rate_out else StreamingResampler(rate_in, rate_out, 1)

    def push(self, x: np.ndarray) -> np.ndarray:
        """The output samples ``x`` completes (a new array)."""
        return x.copy() if self.r is None else self.r.process(x[None])[0].copy()

    def flush(self) -> np.ndarray:
        """The samples still held back (computed against zeros after the end), and a few more."""
        if self.r is None:
            return np.zeros(0, np.float32)
        return self.push(np.zeros(self.r.hold_samples + 2, np.float32))


def encode_file(src: str | Path, dst: str | Path, pair: CodecPair, kbps: float, inputs=()) -> Header:
    """Encode the audio file ``src`` into the ``.rtq`` file ``dst`` at ``kbps``.

    Raises:
        AudioFileError: ``src`` is missing, unreadable or empty.
        OutputError: ``dst`` may not be written (an input, a link, a directory...).
        ValueError: ``kbps`` is not one of the codec's bitrates.
    """
    stages = pair.stages_for(kbps)
    target = check_output(dst, "output", inputs=(src, *inputs))
    rate, frames_in, blocks = _mono_blocks(Path(src))
    pair.reset()
    hop = pair.hop
    header = Header(pair.sample_rate, rate, frames_in, hop, pair.latency, stages, pair.stages, pair.code_bits, 0,
                    pair.name, pair.version)
    out = PartFile(target, "wb", "output")
    try:
        write_header(out.file, header)
        res = _Resampled(rate, pair.sample_rate)
        n_codec = -(-frames_in * pair.sample_rate // rate)  # codec-rate samples the file spans
        total_frames = -(-(n_codec + pair.latency) // hop)
        pending = np.zeros(0, np.float32)
        block = np.zeros((header.frames_per_block, stages), np.int64)
        filled = written = index = 0

        def chunks():
            for x in blocks:
                yield res.push(x)
            yield res.flush()
            while True:  # silence after the file: the decoder's latency, then whole hops
                yield np.zeros(hop * header.frames_per_block, np.float32)

        for x in chunks():
            pending = np.concatenate([pending, x]) if len(pending) else x
            k = 0
            while k + hop <= len(pending) and written + filled < total_frames:
                block[filled] = pair.encode_hop(pending[k:k + hop])[:stages]
                filled += 1
                k += hop
                if filled == header.frames_per_block:
                    write_block(out.file, index, block, pair.code_bits)
                    written, filled, index = written + filled, 0, index + 1
            pending = pending[k:]
            if written + filled >= total_frames:
                break
        if filled:
            write_block(out.file, index, block[:filled], pair.code_bits)
            written += filled
        header = dataclasses.replace(header, frames=written)
        out.file.seek(0)
        write_header(out.file, header)
        out.commit()
    finally:
        out.discard()
    return header


def decode_file(src: str | Path, dst: str | Path, pair: CodecPair, conceal: bool = False, inputs=()) -> DecodeReport:
    """Decode the ``.rtq`` file ``src`` into the WAV file ``dst`` (float32, the encoded file's rate
    and exact length, delay compensated).

    Raises:
        ContainerError: ``src`` is not an ``.rtq`` file or is damaged (the byte offset is named;
            a block failing its CRC is concealed instead when ``conceal``).
        ModelError: the file was made by another codec or version than ``pair``.
        OutputError: ``dst`` may not be written.
    """
    import soundfile as sf

    src = Path(src)
    if not src.is_file():
        raise ContainerError(f"codec file not found: {src}")
    target = check_output(dst, "output", inputs=(src, *inputs))
    with open(src, "rb") as f:
        header = read_header(f)
        if (header.model, header.model_version) != (pair.name, pair.version) or header.hop != pair.hop \
                or header.codec_rate != pair.sample_rate or header.model_stages != pair.stages:
            raise ModelError(f"{src} was made by codec {header.model} {header.model_version}; this is "
                             f"{pair.name} {pair.version}: decode it with the codec that made it")
        offset = f.tell()
        pair.reset()
        hider = Concealer(pair.stages, pair.hop, pair.codebook_size)
        tokens = np.full(pair.stages, pair.codebook_size, np.int64)
        res = _Resampled(pair.sample_rate, header.source_rate)
        out = PartFile(target, "wb", "output")
        try:
            with sf.SoundFile(out.file, "w", header.source_rate, 1, "FLOAT", format="WAV") as wav:
                skip, left = header.latency, header.source_frames
                hop_out = np.zeros(pair.hop, np.float32)
                for frames, codes, problem in read_blocks(f, header, offset):
                    if codes is None and not conceal:
                        raise ContainerError(f"{src}: {problem}; decode with --conceal to conceal damaged blocks")
                    audio = np.zeros(frames * pair.hop, np.float32)
                    for j in range(frames):
                        if codes is None:
                            frame = hider.tokens(None)
                        else:
                            tokens[:header.stages] = codes[j]
                            frame = hider.tokens(tokens)
                        hop_out[:] = pair.decode_hop(frame)
                        hider.apply(hop_out)
                        audio[j * pair.hop:(j + 1) * pair.hop] = hop_out
                    audio = audio[skip:]
                    skip = max(0, skip - frames * pair.hop)
                    y = res.push(audio)[:left]
                    wav.write(y)
                    left -= len(y)
                y = res.flush()[:left]
                wav.write(y)
                left -= len(y)
                if left > 0:  # the resampler's last fraction of a sample
                    wav.write(np.zeros(left, np.float32))
            out.commit()
        finally:
            out.discard()
    return DecodeReport(header.frames, hider.lost, header)

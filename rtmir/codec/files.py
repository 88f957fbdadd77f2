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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.resample import StreamingResampler
from ..session import ModelError, StreamingSession
from ..sinks.output_path import PartFile, check_output
from .conceal import Concealer
from .container import ContainerError, Header, read_blocks, read_header, write_block, write_header

class CodecError(ValueError):
    """A request the codec cannot serve (a bitrate it does not have, an output it cannot write)."""


class Stopped(Exception):
    """``stop()`` said to stop: the output was discarded."""


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
    tokens_out: str = "tokens"
    audio_out: str = "audio"
    tokens_in: str = "tokens"

    @property
    def paths(self) -> tuple[Path, Path]:
        """The encoder's and the decoder's files (inputs no output may replace)."""
        return self.encoder.path, self.decoder.path

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
            CodecError: not a bitrate of this codec (the message lists them).
        """
        n = round(kbps / self.stage_kbps) if math.isfinite(kbps) else 0
        if not 1 <= n <= self.stages or abs(kbps - n * self.stage_kbps) > 0.01 * n * self.stage_kbps:
            allowed = ", ".join(f"{self.stage_kbps * (i + 1):g}" for i in range(self.stages))
            raise CodecError(f"--kbps {kbps:g} is not a bitrate of codec {self.name}: use one of {allowed}")
        return n

    @classmethod
    def open(cls, model: str | None = None) -> CodecPair:
        """Open ``model``: a zoo name (default ``codec``, or ``codec-enc``: ``codec-enc`` + ``codec-dec``) or the path
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
            name = name[:-len("-enc")] if name.endswith("-enc") else name  # "codec-enc" names the pair too
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
                or int(tokens_in[0].shape[1]) != stages or not vocab or vocab < 2 or ec.version != dc.version \
                or int(audio_out[0].shape[1]) != 1:
            raise ModelError(f"{ec.name} {ec.version} and {dc.name} {dc.version} do not fit each other "
                             f"(rate, hop, stages, vocabulary or version differ)")
        return cls(enc, dec, name, ec.version, ec.sample_rate, ec.hop, dc.latency_samples, stages, vocab - 1,
                   tokens_out[0].name, audio_out[0].name, tokens_in[0].name)

    def reset(self) -> None:
        self.encoder.reset()
        self.decoder.reset()

    def encode_hop(self, audio: np.ndarray) -> np.ndarray:
        """Tokens ``[stages]`` of one hop of mono audio ``[hop]`` (a view: copy to keep)."""
        return self.encoder.process(audio[None])[self.tokens_out][0, :, 0]

    def decode_hop(self, tokens: np.ndarray) -> np.ndarray:
        """One hop of audio ``[hop]`` from tokens ``[stages]`` (a view: copy to keep)."""
        return self.decoder.step({self.tokens_in: tokens[:, None]})[self.audio_out][0, 0]


@dataclass(frozen=True)
class DecodeReport:
    """What ``decode_file`` did: frames decoded, frames concealed (damaged blocks), the header."""

    frames: int
    concealed: int
    header: Header


def _mono_blocks(path: Path):
    """``(sample rate, iterator of mono float32 blocks)`` of an audio file (channels averaged as
    the engine does: summed in float64, rounded once).

    Raises (the iterator too): AudioFileError: missing, unreadable, empty or damaged mid-file.
    """
    import soundfile as sf

    from ..core.channels import mean_into
    from ..hosts.file_host import AudioFileError, probe

    info = probe(path)

    def blocks():
        try:
            with sf.SoundFile(str(path)) as f:
                while True:
                    x = f.read(READ_BLOCK, dtype="float32", always_2d=True)
                    if not len(x):
                        return
                    mono = np.empty(len(x), np.float32)
                    mean_into(np.ascontiguousarray(x.T), mono)
                    yield mono
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioFileError(f"cannot read audio file {path}: {exc}") from exc

    return info.sample_rate, blocks()


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


def expected_frames(source_frames: int, source_rate: int, codec_rate: int, latency: int, hop: int) -> int:
    """Token frames that code ``source_frames`` samples at ``source_rate``: the codec-rate samples
    they span plus the decoder's ``latency``, in whole hops."""
    n_codec = -(-source_frames * codec_rate // source_rate)
    return -(-(n_codec + latency) // hop)


def encode_file(src: str | Path, dst: str | Path, pair: CodecPair, kbps: float, inputs=(),
                stop: Callable[[], bool] | None = None) -> Header:
    """Encode the audio file ``src`` into the ``.rtq`` file ``dst`` at ``kbps``.

    ``stop`` (polled every read block) ends the run early: the output is discarded, ``Stopped``.

    Raises:
        AudioFileError: ``src`` is missing, unreadable or empty.
        OutputError: ``dst`` may not be written (an input, a model, a link, a directory...).
        CodecError: ``kbps`` is not one of the codec's bitrates.
        Stopped: ``stop()`` returned True.
    """
    stages = pair.stages_for(kbps)
    target = check_output(dst, "output", inputs=(src, *pair.paths, *inputs))
    rate, blocks = _mono_blocks(Path(src))
    pair.reset()
    hop = pair.hop
    header = Header(pair.sample_rate, rate, 0, hop, pair.latency, stages, pair.stages, pair.code_bits, 0,
                    pair.name, pair.version)
    out = PartFile(target, "wb", "output")
    try:
        write_header(out.file, header)
        res = _Resampled(rate, pair.sample_rate)
        block = np.zeros((header.frames_per_block, stages), np.int64)
        filled = written = index = 0
        n_read, total = 0, None  # total frames: known once the input has ended

        def chunks():
            nonlocal n_read, total
            for x in blocks:
                if stop is not None and stop():
                    raise Stopped()
                n_read += len(x)
                yield res.push(x)
            yield res.flush()
            total = expected_frames(n_read, rate, pair.sample_rate, pair.latency, hop)
            while True:  # silence after the file: the decoder's latency, then whole hops
                yield np.zeros(hop * header.frames_per_block, np.float32)

        pending = np.zeros(0, np.float32)
        for x in chunks():
            pending = np.concatenate([pending, x])
            k = 0
            while k + hop <= len(pending) and (total is None or written + filled < total):
                block[filled] = pair.encode_hop(pending[k:k + hop])[:stages]
                filled += 1
                k += hop
                if filled == header.frames_per_block:
                    write_block(out.file, index, block, pair.code_bits)
                    written, filled, index = written + filled, 0, index + 1
            pending = pending[k:]
            if total is not None and written + filled >= total:
                break
        if filled:
            write_block(out.file, index, block[:filled], pair.code_bits)
            written += filled
        header = dataclasses.replace(header, frames=written, source_frames=n_read)
        out.file.seek(0)
        write_header(out.file, header)
        out.commit()
    finally:
        out.discard()
    return header


def decode_file(src: str | Path, dst: str | Path, pair: CodecPair, conceal: bool = False, inputs=(),
                stop: Callable[[], bool] | None = None) -> DecodeReport:
    """Decode the ``.rtq`` file ``src`` into the WAV file ``dst`` (float32, the encoded file's rate
    and exact length, delay compensated).

    Raises:
        ContainerError: ``src`` is not an ``.rtq`` file or is damaged (the byte offset is named;
            a block failing its CRC is concealed instead when ``conceal``).
        ModelError: the file was made by another codec or version than ``pair``.
        CodecError: ``dst`` is not named ``.wav``.
        OutputError: ``dst`` may not be written.
        Stopped: ``stop()`` (polled every block) returned True: the output was discarded.
    """
    import soundfile as sf

    src = Path(src)
    if not src.is_file():
        raise ContainerError(f"codec file not found: {src}")
    if Path(dst).suffix.lower() != ".wav":
        raise CodecError(f"output {dst}: decode writes WAV; name the output NAME.wav")
    target = check_output(dst, "output", inputs=(src, *pair.paths, *inputs))
    try:
        f = open(src, "rb")
    except OSError as exc:
        raise ContainerError(f"cannot read {src}: {exc.strerror}") from None
    with f:
        header = read_header(f)
        if (header.model, header.model_version) != (pair.name, pair.version) or header.hop != pair.hop \
                or header.codec_rate != pair.sample_rate or header.model_stages != pair.stages \
                or header.code_bits != pair.code_bits or header.latency != pair.latency:
            raise ModelError(f"{src} was made by codec {header.model} {header.model_version}; this is "
                             f"{pair.name} {pair.version}: decode it with the codec that made it")
        want = expected_frames(header.source_frames, header.source_rate, header.codec_rate, header.latency, header.hop)
        if header.frames != want:
            raise ContainerError(f"{src}: byte 32: the header declares {header.frames} token frames for "
                                 f"{header.source_frames} samples, which take {want} (damaged header)")
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
                    if stop is not None and stop():
                        raise Stopped()
                    if codes is not None and codes.max(initial=0) >= pair.codebook_size:
                        codes, problem = None, f"a block holds codes past {pair.codebook_size - 1} (damaged data)"
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
                if left > 0:  # the resampler's last fraction of a sample (frames were checked above)
                    wav.write(np.zeros(left, np.float32))
            out.commit()
        finally:
            out.discard()
    return DecodeReport(header.frames, hider.lost, header)

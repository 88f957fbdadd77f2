"""Codec processors: ``--task codec`` (encode -> decode live), ``codec_encode`` and ``codec_decode``
(the two halves, for graphs where tokens cross an edge: ``"enc.tokens -> dec.tokens"``).

The models are the shipped encoder/decoder pair (``rtmir.codec.files.CodecPair``: 24 kHz mono,
160-sample hop, 4 stages of 1024 codes). Each is called one hop at a time, whatever the host's
block, so tokens are bit-identical at every block size and equal to ``rtmir codec encode``'s.

Parameters (live over OSC, ``/rtmir/ctl/codec/kbps f 3``):
    kbps    1.5 .. 6: the stages sent (rounded down to whole stages of 1.5 kbps; the rest are "left
            out"); ``params()`` reads back the value set
    loss    0 .. 1: probability that a frame is lost between encoder and decoder (a simulated
            network link, seeded: a run repeats); lost frames are concealed (hold the last frame,
            fade 6 dB per frame, ``rtmir.codec.conceal``) and counted
    (``codec_decode`` has ``loss`` too; ``codec_encode`` has ``kbps``)

Ports: ``codec``: audio in; audio (the decoded signal), tokens (``[stages, frames]``, what was
sent: stages left out hold the absent code ``codebook_size``) and events out. Latency: the
decoder's ``W - H`` = 160 samples (6.7 ms; 13.3 ms with the hop's buffering).

Events (result "raw": ``/rtmir/codec/tokens f f f f``, ``/rtmir/codec/stages``, ``/rtmir/codec/lost``),
one per token frame: ``{"tokens": [codes of every stage], "stages": sent, "lost": concealed so far}``,
stamped ``(end of the frame's hop - latency) / sample_rate`` (``(t0 + k * hop) / sample_rate`` for the
shipped codec, whose latency is one hop: the centre of the frame's analysis window, which covers
the hop before and its own). ``codec_encode``
(latency 0) stamps the end of the hop, ``(t0 + (k + 1) * hop) / sample_rate``, and has no ``lost``.
"""
from __future__ import annotations

import numpy as np

from ..codec.conceal import Concealer
from ..codec.files import CodecPair
from ..core.ports import Description, Param, Port
from ..core.processor import Event, ProcessSpec, Processor

LOSS_SEED = 0x5EED


class _CodecBase(Processor):
    """What the three share: the pair, kbps -> stages, the loss simulation, events."""

    channels = 1
    result = "raw"

    def __init__(self, pair: CodecPair, task: str, params: tuple[str, ...]) -> None:
        self.pair = pair
        self.session = pair.decoder if task == "codec_decode" else pair.encoder  # what the validator times and checks
        self.task = task
        self.sample_rate, self.hop_size = pair.sample_rate, pair.hop
        top = pair.stage_kbps * pair.stages
        specs = {"kbps": Param("kbps", top, pair.stage_kbps, top, "kbps"), "loss": Param("loss", 0.0, 0.0, 1.0)}
        self.param_specs = tuple(specs[p] for p in params)
        self._values = {p.name: p.default for p in self.param_specs}
        self.stages_sent = pair.stages
        self.concealer = Concealer(pair.stages, pair.hop, pair.codebook_size)
        self._rng = np.random.default_rng(LOSS_SEED)
        self._tokens = np.full(pair.stages, pair.codebook_size, np.int64)
        self._hop = np.zeros(pair.hop, np.float32)  # one decoded hop (concealed even when not routed)

    def set_param(self, name: str, value: float) -> None:
        if name not in self._values:
            raise KeyError(f"{self.task} has no parameter {name!r} ({', '.join(self._values)})")
        self._values[name] = float(value)
        if name == "kbps":
            self.stages_sent = max(1, min(self.pair.stages, int(value / self.pair.stage_kbps + 1e-6)))

    def params(self) -> dict[str, float]:
        return dict(self._values)

    def _reset_common(self) -> None:
        self.concealer.reset()
        self._rng = np.random.default_rng(LOSS_SEED)

    def _send(self, tokens: np.ndarray) -> np.ndarray:
        """The tokens as sent: the stages beyond ``kbps`` replaced by the absent code."""
        self._tokens[:] = tokens
        self._tokens[self.stages_sent:] = self.pair.codebook_size
        return self._tokens

    def _receive(self, tokens: np.ndarray) -> np.ndarray:
        """Through the (simulated) link: the tokens to decode, concealed when the frame is lost."""
        loss = self._values.get("loss", 0.0)
        lost = loss > 0.0 and self._rng.random() < loss
        return self.concealer.tokens(None if lost else tokens)

    def _encode(self, block: np.ndarray, k: int, out) -> np.ndarray:
        """Encode hop ``k`` of ``block``; the tokens as sent, also written to the tokens port if routed."""
        hop = self.hop_size
        sent = self._send(self.pair.encode_hop(block[0, k * hop:(k + 1) * hop]))
        if isinstance(out, dict) and "tokens" in out:
            out["tokens"][:, k] = sent
        return sent

    def _event(self, t0: int, k: int, tokens: np.ndarray, lost: bool) -> Event:
        values = {"tokens": tokens.tolist(), "stages": int((tokens < self.pair.codebook_size).sum())}
        if lost:
            values["lost"] = self.concealer.lost
        return Event(self.task, (t0 + (k + 1) * self.hop_size - self.latency_samples) / self.sample_rate, values)

    def _decode(self, tokens: np.ndarray, out, k: int) -> None:
        """Decode one frame, conceal, write hop ``k`` of the audio output if it is routed."""
        self._hop[:] = self.pair.decode_hop(tokens)
        self.concealer.apply(self._hop)
        dst = out.get("audio") if isinstance(out, dict) else out
        if dst is not None:
            dst[0, k * self.hop_size:(k + 1) * self.hop_size] = self._hop

    def _check_rate(self, spec: ProcessSpec) -> None:
        if spec.sample_rate != self.sample_rate or spec.channels != 1:
            raise ValueError(f"{self.task} needs {self.sample_rate} Hz mono, got {spec.sample_rate} Hz x {spec.channels} ch")


class CodecProcessor(_CodecBase):
    """Encode -> (simulated link) -> decode, live: ``--task codec``."""

    def __init__(self, pair: CodecPair) -> None:
        super().__init__(pair, "codec", ("kbps", "loss"))
        self.latency_samples = pair.latency
        self.output_channels = 1

    def describe(self) -> Description:
        sr, hop, q = self.sample_rate, self.hop_size, self.pair.stages
        return Description(self.task, (Port("audio", "audio", 1, sr, hop),),
                           (Port("audio", "audio", 1, sr, hop), Port("tokens", "tokens", q, sr, hop),
                            Port("events", "events", result=self.result)),
                           self.param_specs, self.latency_samples)

    def prepare(self, spec: ProcessSpec) -> None:
        self._check_rate(spec)
        self.pair.encoder.prepare(1)
        self.pair.decoder.prepare(1)
        self.pair.encode_hop(np.zeros(self.hop_size, np.float32))  # first-run allocations here
        self.pair.decode_hop(self._tokens)
        self.reset()

    def reset(self) -> None:
        self.pair.reset()
        self._reset_common()

    def process(self, block: np.ndarray, t0: int, out=None) -> list[Event]:
        hop = self.hop_size
        events = []
        for k in range(block.shape[1] // hop):
            sent = self._encode(block, k, out)
            received = self._receive(sent)
            events.append(self._event(t0, k, sent, lost=True))
            self._decode(received, out, k)
        return events


class CodecEncodeProcessor(_CodecBase):
    """Audio in, tokens out: ``codec_encode`` (latency 0: frame ``k`` is known at the end of hop ``k``)."""

    def __init__(self, pair: CodecPair) -> None:
        super().__init__(pair, "codec_encode", ("kbps",))
        self.latency_samples = 0

    def describe(self) -> Description:
        sr, hop = self.sample_rate, self.hop_size
        return Description(self.task, (Port("audio", "audio", 1, sr, hop),),
                           (Port("tokens", "tokens", self.pair.stages, sr, hop), Port("events", "events", result=self.result)),
                           self.param_specs, self.latency_samples)

    def prepare(self, spec: ProcessSpec) -> None:
        self._check_rate(spec)
        self.pair.encoder.prepare(1)
        self.pair.encode_hop(np.zeros(self.hop_size, np.float32))
        self.reset()

    def reset(self) -> None:
        self.pair.encoder.reset()
        self._reset_common()

    def process(self, block: np.ndarray, t0: int, out=None) -> list[Event]:
        hop = self.hop_size
        events = []
        for k in range(block.shape[1] // hop):
            events.append(self._event(t0, k, self._encode(block, k, out), lost=False))
        return events


class CodecDecodeProcessor(_CodecBase):
    """Tokens in, audio out: ``codec_decode`` (latency ``W - H``; lost frames concealed with ``loss``)."""

    result = None

    def __init__(self, pair: CodecPair) -> None:
        super().__init__(pair, "codec_decode", ("loss",))
        self.latency_samples = pair.latency
        self.output_channels = 1

    def describe(self) -> Description:
        sr, hop = self.sample_rate, self.hop_size
        return Description(self.task, (Port("tokens", "tokens", self.pair.stages, sr, hop),),
                           (Port("audio", "audio", 1, sr, hop),), self.param_specs, self.latency_samples)

    def prepare(self, spec: ProcessSpec) -> None:
        self.pair.decoder.prepare(1)
        self.pair.decode_hop(self._tokens)
        self.reset()

    def reset(self) -> None:
        self.pair.decoder.reset()
        self._reset_common()

    def process(self, block: np.ndarray, t0: int, out=None) -> list[Event]:
        for k in range(block.shape[1]):
            self._decode(self._receive(block[:, k]), out, k)
        return []

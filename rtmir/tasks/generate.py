"""Live generation (``--task generate``): the token LM continues or answers the input, as audio.

    input hop (24 kHz, 160 samples) ─► codec encoder ─► tokens ─┐ (given while listening)
                                                                ▼
                                       TokenGenerator (LM + KV cache, sampled while playing)
                                                                ▼  frame t - 3
                                       codec decoder ─► gain ramp ─► audio out (silent while listening)

Every hop is encoded, stepped through the LM and decoded, listening or playing, so the encoder,
the LM's cache and the decoder are always warm and a hand-over is immediate: the first generated
frame follows the last heard one in the same cache. While listening the output is silent; while
playing it is the generated frames, faded in over their first hop and out over their last.

Modes (``mode``):
    0 continue  listen until the input has been quiet (below ``threshold_db``) for ``handover_ms``
                after being active, then keep generating until ``start`` is set to 0
    1 answer    the same hand-over, and give the turn back when the input is active again for
                ``takeback_ms`` (call and response)
    2 free      generate from the start (the first frame is silence's tokens); the input is ignored

Parameters (live over OSC, ``/rtmir/ctl/generate/temperature f 0.8``): ``mode``; ``start`` (setting
1 starts playing now in any mode, 0 stops now and listens, applied at the next hop; the mode's own
hand-overs go on afterwards: answer plays in the next rest);
``temperature`` (0 = greedy), ``top_k`` (0 = all), ``top_p``, ``seed`` (the draws are keyed by
seed and step, so a seed reproduces a take at any block size); ``gain_db``; ``threshold_db``,
``handover_ms``, ``takeback_ms``.

Latency: ``latency_samples`` = the LM's delay pattern (``Q - 1`` frames: a frame's last code is
drawn ``Q - 1`` steps after its first) + the decoder's latency: (3 + 1) x 160 = 640 samples,
26.7 ms for the shipped models. A take starts ``handover_ms`` after the input falls quiet, plus
that latency.

Events (result "raw", ``/rtmir/generate/state f f f``): ``state = [playing, position_s, takes]``
every ``STATE_EVERY_HOPS`` hops (100 ms) and at every start or stop: playing 0/1, the seconds
generated in this take, the takes started since the reset; stamped ``(end of the hop - latency)
/ 24000``. Results are a function of the input, the parameters and the seed only (stream =
offline), so the measured throughput is not among them: ``codes_per_s`` (attribute, updated at
every state) is Q per hop over the wall time the hops took since the last state (encoder + LM +
sampling + decoder; 600 = real time for the shipped codec). Live, it goes out with the host's
status record (``measured()``: ``/rtmir/generate/live tokens_per_s buffer_ahead_ms``), about once
a second, with how far the generated audio is written ahead of playback.

Per hop this runs three model calls (encoder, LM, decoder), so the worker placement is the one it needs: the live host's worker
runs it behind the callback, and a late hop is counted and handled by the node's miss policy.
"""
from __future__ import annotations

import time

import numpy as np

from ..codec.files import CodecPair
from ..core.ports import Description, Param, Port
from ..core.processor import Event, ProcessSpec, Processor
from ..session import StreamingSession
from .token_generator import TokenGenerator

MODES = ("continue", "answer", "free")
STATE_EVERY_HOPS = 15  # 100 ms at 150 frames/s
SILENCE_HOPS = 8  # hops of zeros the encoder reads to give silence's tokens


class GenerateProcessor(Processor):
    """The token LM over a codec pair, as a processor: audio in, generated audio and state out.

    Args:
        session: the token LM (``models/token_lm.py`` exported; its card's task is ``generate``).
        pair: the codec whose tokens the LM reads (the shipped ``codec``).
    """

    task = "generate"
    channels = 1
    output_channels = 1
    result = "raw"
    param_specs = (
        Param("mode", 1.0, 0.0, 2.0), Param("start", 0.0, 0.0, 1.0),
        Param("temperature", 1.0, 0.0, 2.0), Param("top_k", 250.0, 0.0, 1024.0), Param("top_p", 1.0, 0.01, 1.0),
        Param("seed", 0.0, 0.0, 2.0 ** 31 - 1), Param("gain_db", 0.0, -60.0, 12.0, "dB"),
        Param("threshold_db", -45.0, -120.0, 0.0, "dBFS"), Param("handover_ms", 300.0, 0.0, 10000.0, "ms"),
        Param("takeback_ms", 40.0, 0.0, 2000.0, "ms"))

    def __init__(self, session: StreamingSession, pair: CodecPair) -> None:
        if session.card.task != "generate":
            raise ValueError(f"{session.card.name} is a {session.card.task} model, not a token LM (task generate)")
        self.session, self.pair = session, pair
        self.gen = TokenGenerator(session, pair.stages, pair.codebook_size)
        self.sample_rate, self.hop_size = pair.sample_rate, pair.hop
        self.latency_samples = self.gen.delay_frames * pair.hop + pair.latency
        self._values = {p.name: p.default for p in self.param_specs}
        self._start_request: float | None = None
        self._silence = np.zeros(pair.stages, np.int64)
        self._hop = np.zeros(pair.hop, np.float32)
        self._ramp = (np.arange(pair.hop, dtype=np.float32) + 1) / pair.hop  # 1/hop .. 1
        self._edge = np.zeros(pair.hop, np.float32)  # one hop's gain ramp at a take's edge
        self._apply_sampling()
        self.reset_state()

    # -- parameters ---------------------------------------------------------------------------
    def set_param(self, name: str, value: float) -> None:
        if name not in self._values:
            raise KeyError(f"generate has no parameter {name!r} ({', '.join(self._values)})")
        value = float(value)  # kept as given (params() reads it back); mode, start, top_k, seed are used rounded
        self._values[name] = value
        if name == "start":
            self._start_request = float(round(value))
        self._apply_sampling()

    def params(self) -> dict[str, float]:
        return dict(self._values)

    def _apply_sampling(self) -> None:
        v = self._values
        self.gen.temperature, self.gen.top_k, self.gen.top_p = v["temperature"], int(round(v["top_k"])), v["top_p"]
        self.gen.seed = int(round(v["seed"]))
        self._gain = float(10 ** (v["gain_db"] / 20))
        self._threshold = float(10 ** (v["threshold_db"] / 20))  # RMS, linear
        hop_ms = 1000 * self.hop_size / self.sample_rate
        self._handover_hops = int(np.ceil(v["handover_ms"] / hop_ms))
        self._takeback_hops = max(1, int(np.ceil(v["takeback_ms"] / hop_ms)))

    @property
    def mode(self) -> str:
        return MODES[int(round(self._values["mode"]))]

    # -- life cycle ---------------------------------------------------------------------------
    def describe(self) -> Description:
        sr, hop = self.sample_rate, self.hop_size
        return Description(self.task, (Port("audio", "audio", 1, sr, hop),),
                           (Port("audio", "audio", 1, sr, hop), Port("events", "events", result=self.result)),
                           self.param_specs, self.latency_samples, extra={"answers": True})

    def prepare(self, spec: ProcessSpec) -> None:
        if spec.sample_rate != self.sample_rate or spec.channels != 1:
            raise ValueError(f"generate needs {self.sample_rate} Hz mono, got {spec.sample_rate} Hz x {spec.channels} ch")
        self.session.prepare(1)
        self.pair.encoder.prepare(1)
        self.pair.decoder.prepare(1)
        self.pair.reset()
        zeros = np.zeros(self.hop_size, np.float32)
        for _ in range(SILENCE_HOPS):
            self._silence[:] = self.pair.encode_hop(zeros)
        self.reset()

    def reset(self) -> None:
        self.pair.reset()
        self.reset_state()

    def reset_state(self) -> None:
        """Step 0: the cache, the counters and the take forgotten; the parameters kept."""
        self.gen.reset()
        self.playing = False
        self.takes = 0
        self._heard = False  # the input was active since the reset (or the last take)
        self._quiet = self._loud = 0  # consecutive quiet / active hops
        self._frame_gain = np.zeros(self.gen.stages + 1, np.float32)  # gain of frames by frame % (Q + 1)
        self._position = 0  # frames generated in this take
        self._hops = 0
        self._interval_hops, self._compute_s = 0, 0.0
        self.codes_per_s = 0.0
        self._start_request = None

    def measured(self) -> dict[str, float]:
        """``tokens_per_s``: codes made per second of this node's compute (encoder + LM + sampling
        + decoder) over the last state interval; ``Q x 150`` (600 for the shipped codec) is real time."""
        return {"tokens_per_s": self.codes_per_s}

    # -- streaming ----------------------------------------------------------------------------
    def process(self, block: np.ndarray, t0: int, out=None) -> list[Event]:
        hop = self.hop_size
        events: list[Event] = []
        for k in range(block.shape[1] // hop):
            x = block[0, k * hop:(k + 1) * hop]
            a = time.perf_counter()
            changed = self._turn(float(np.sqrt(np.dot(x, x) / hop)))  # RMS without a temporary
            tokens = self.pair.encode_hop(x)
            if self.mode == "free":
                tokens = self._silence  # free: what it is given (only its first frame) is silence
            given = None if self.playing and self.gen.step else tokens  # the first frame is always given
            frame = self.gen.advance(given)
            self._hops += 1
            if self.playing:
                self._position += 1
            f = self.gen.step - 1 - self.gen.delay_frames  # the frame that came out
            self._hop[:] = 0.0 if frame is None else self.pair.decode_hop(frame)
            self._apply_gain(f)
            if out is not None:
                out[0, k * hop:(k + 1) * hop] = self._hop
            self._compute_s += time.perf_counter() - a
            self._interval_hops += 1
            if changed or self._hops % STATE_EVERY_HOPS == 0:
                events.append(self._state(t0 + (k + 1) * hop))
        return events

    def _turn(self, rms: float) -> bool:
        """Update the activity counters and decide listening / playing for this hop; True on a change."""
        active = rms > self._threshold
        self._loud, self._quiet = (self._loud + 1, 0) if active else (0, self._quiet + 1)
        self._heard = self._heard or active
        want = self.playing
        if self._start_request is not None:
            want, self._start_request = bool(self._start_request), None
        elif not self.playing:
            if self.mode == "free":
                want = self.takes == 0  # from the first hop; once stopped, only ``start`` restarts it
            else:  # continue hands over once per reset, answer at every rest
                want = self._heard and self._quiet >= max(1, self._handover_hops) \
                    and (self.mode == "answer" or self.takes == 0)
        elif self.mode == "answer" and self._loud >= self._takeback_hops:
            want = False
        if want == self.playing:
            return False
        self.playing = want
        if want:
            self.takes += 1
            self._position = 0
        else:
            self._heard = False
        return True

    def _apply_gain(self, f: int) -> None:
        """Scale the decoded hop of frame ``f``: ``gain`` if generated, 0 if given, linear ramps at
        the edges of a take (in over its first hop, out over its last)."""
        q1 = len(self._frame_gain)
        t = self.gen.step - 1  # the frame just stepped: its given/sampled state is known
        self._frame_gain[t % q1] = 0.0 if self.gen.frame_given(t) else self._gain
        if f < 0:
            self._hop[:] = 0.0
            return
        g = self._frame_gain[f % q1]
        before = self._frame_gain[(f - 1) % q1] if f >= 1 else 0.0
        after = self._frame_gain[(f + 1) % q1]
        start, end = min(g, before), min(g, after)
        if start == end:
            self._hop *= start
        else:
            np.multiply(self._ramp, end - start, out=self._edge)
            self._edge += start
            self._hop *= self._edge

    def _state(self, end: int) -> Event:
        if self._compute_s > 0:
            self.codes_per_s = self.gen.stages * self._interval_hops / self._compute_s
        playing = 1.0 if self.playing else 0.0
        values = {"state": [playing, self._position * self.hop_size / self.sample_rate, float(self.takes)]}
        self._interval_hops, self._compute_s = 0, 0.0
        return Event("generate", (end - self.latency_samples) / self.sample_rate, values)

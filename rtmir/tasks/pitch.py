"""Neural pitch processor (``--task pitch``): a streamed salience model + a vectorised decoder.

The model (``rtmir/zoo/pitch-tcn.onnx``, trained by ``training/pitch``) gives per hop a
``salience [1, n_bins, frames]`` over log-spaced pitch bins (the card's labels are the bin
centres in Hz) and a ``voicing [1, 1, frames]`` probability. The decoder turns each frame into:

- ``f0_hz``: the salience-weighted mean, in cents, of the ``2 * radius + 1`` bins around the
  peak (CREPE's local average), given even when unvoiced;
- ``confidence``: the voicing probability;
- ``voiced``: ``confidence >= voicing_threshold`` (chosen on validation, adjustable live:
  ``set_param("voicing_threshold", v)`` <- ``/rtmir/ctl/pitch/voicing_threshold``).

``fmin_hz``/``fmax_hz`` (``--fmin/--fmax``, live over OSC) restrict the search: the peak is
looked for among the bins in range only, and the confidence is scaled by the in-range peak's
share of the frame's overall peak salience — a pitch the model hears outside the range comes
out with low confidence (unvoiced), not as the nearest wrong pitch inside it. The two are
independent (two knobs): ``fmin_hz`` above ``fmax_hz`` is an empty range, every frame unvoiced.

Events (task "pitch") carry the same fields as YIN's, stamped with the instant each frame
describes: ``(end of its hop - latency_samples) / sample_rate``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.ports import Param
from ..core.processor import Event, ProcessSpec, Processor
from ..session import StreamingSession
from .pitch_kernel import decode_frames

DEFAULT_VOICING_THRESHOLD = 0.5
PRIME_HOPS = 16
"""Hops of silence a fresh or reset model is run on before the stream: its state is then the one
silence leaves, as before any note mid-stream — not the all-zero state no input produces, from
which the first two frames of every stream came out confident and wrong (a 440 Hz sine: 417 Hz
at 0.93, then 219.5 Hz at 0.91; primed: 415 Hz at 0.17, unvoiced, then the model's own onset)."""


@dataclass(frozen=True)
class PitchDecoderConfig:
    """Decoder settings.

    Attributes:
        radius_bins: bins each side of the peak in the weighted average (4 = +-80 cents).
        voicing_threshold: voicing probability at or above which a frame is voiced (left at
            the default, the model card's ``evaluation.voicing_threshold`` is used if present).
    """

    radius_bins: int = 4
    voicing_threshold: float = DEFAULT_VOICING_THRESHOLD


def decode_salience(salience: np.ndarray, bin_cents: np.ndarray, radius_bins: int = 4
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Local weighted average around the peak of every frame, all frames at once.

    The window is ``peak +- radius_bins``, narrowed symmetrically at the ends of the grid (the
    kernel ``pitch_kernel.decode_frames``, which the processor calls on its own buffers).

    Args:
        salience: ``[n_bins, frames]`` non-negative (probabilities).
        bin_cents: ``[n_bins]`` bin centres in cents (any fixed reference, e.g. 10 Hz).
        radius_bins: bins each side of the peak to average over.

    Returns:
        ``(cents [frames], peak [frames])``: the weighted mean in cents (NaN where the window
        holds no salience at all) and the peak salience.
    """
    frames = salience.shape[1]
    cents, peak, overall = np.empty(frames), np.empty(frames), np.empty(frames)
    decode_frames(np.asarray(salience), np.asarray(bin_cents, np.float64), radius_bins, 0, salience.shape[0] - 1,
                  cents, peak, overall)
    return cents, peak


def cents_to_hz(cents: np.ndarray, ref_hz: float = 10.0) -> np.ndarray:
    """Cents above ``ref_hz`` -> Hz (NaN stays NaN)."""
    return ref_hz * np.exp2(np.asarray(cents) / 1200.0)


def hz_to_cents(hz: np.ndarray, ref_hz: float = 10.0) -> np.ndarray:
    """Hz -> cents above ``ref_hz``."""
    return 1200.0 * np.log2(np.asarray(hz, dtype=np.float64) / ref_hz)


class PitchProcessor(Processor):
    """A pitch model streamed by a ``StreamingSession``, decoded to f0/voiced/confidence events.

    Args:
        session: an opened session of a model whose card has task "pitch" and outputs
            ``salience`` (labels = bin centres in Hz) and ``voicing``.
        config: decoder settings; ``voicing_threshold`` can change live.

    Raises:
        ValueError: the model's card does not describe a pitch model.
    """

    task = "pitch"
    channels = 1
    result = "pitch"
    param_specs = (Param("voicing_threshold", DEFAULT_VOICING_THRESHOLD, 0.0, 1.0, "probability"),)

    def __init__(self, session: StreamingSession, config: PitchDecoderConfig = PitchDecoderConfig()) -> None:
        card = session.card
        names = {o.name: o for o in card.outputs}
        if card.task != "pitch" or "salience" not in names or "voicing" not in names:
            raise ValueError(f"model {card.name} is not a pitch model (task {card.task!r}, outputs {sorted(names)})")
        labels = names["salience"].labels
        if not labels:
            raise ValueError(f"model {card.name}: salience output has no bin frequencies as labels")
        self.session = session
        self.config = config
        self._primer = np.zeros((card.channels, PRIME_HOPS * card.hop), np.float32)
        self.sample_rate = card.sample_rate
        self.channels = card.channels
        self.hop_size = card.hop
        self.latency_samples = card.latency_samples
        self.bin_cents = hz_to_cents(np.array([float(f) for f in labels]))
        # the threshold chosen on validation travels in the card; an explicit config wins
        chosen = card.evaluation.get("voicing_threshold")
        default = config.voicing_threshold == DEFAULT_VOICING_THRESHOLD and chosen is not None
        self._threshold = float(chosen if default else config.voicing_threshold)
        bins_hz = np.array([float(f) for f in labels])
        self._range = (float(bins_hz.min()), float(bins_hz.max()))
        self._fmin, self._fmax = self._range
        self._bins_hz = bins_hz
        self._lo, self._hi = 0, len(bins_hz) - 1  # the searched bins (lo > hi: none)
        self._frames = np.empty((3, 0))  # cents, in-range peak, overall peak per frame (grown in prepare)
        # the declared defaults are the values after construction (the card's threshold, usually)
        lo, hi = self._range
        self.param_specs = (Param("voicing_threshold", self._threshold, 0.0, 1.0, "probability"),
                            Param("fmin_hz", lo, lo, hi, "Hz"), Param("fmax_hz", hi, lo, hi, "Hz"))
        self.reset()  # primed from the start (``PRIME_HOPS``)

    def prepare(self, spec: ProcessSpec) -> None:
        if spec.sample_rate != self.sample_rate or spec.channels != self.channels:
            raise ValueError(f"pitch model needs {self.sample_rate} Hz mono, got {spec.sample_rate} Hz × {spec.channels} ch")
        from .model import prepare_session

        prepare_session(self.session, spec.max_block)
        self.session.prepare(PRIME_HOPS)  # the primer's chunk is bound too (reset allocates nothing)
        self._buffers(max(PRIME_HOPS, -(-spec.max_block // self.hop_size)))
        self.reset()
        # warm up onnxruntime (first-run allocations) and the decoder's kernel here, never in process()
        outs = self.session.process(np.zeros((self.channels, self.hop_size), np.float32))
        self.decode(outs["salience"][0], outs["voicing"][0, 0])
        self.reset()

    def _buffers(self, frames: int) -> None:
        if self._frames.shape[1] < frames:
            self._frames = np.empty((3, frames))

    def reset(self) -> None:
        """Back to the state ``PRIME_HOPS`` of silence leave (what the stream starts from)."""
        self.session.reset()
        self.session.process(self._primer)

    def decode(self, salience: np.ndarray, voicing: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``salience [n_bins, T]``, ``voicing [T]`` -> ``(f0_hz, voiced, confidence)``, each ``[T]``."""
        frames = salience.shape[1]
        self._buffers(frames)
        cents, inside, overall = self._frames[0, :frames], self._frames[1, :frames], self._frames[2, :frames]
        decode_frames(salience, self.bin_cents, self.config.radius_bins, self._lo, self._hi, cents, inside, overall)
        if self._lo > 0 or self._hi < len(self._bins_hz) - 1:  # what the model hears outside the range lowers the confidence
            voicing = voicing * np.divide(inside, overall, out=np.zeros_like(inside), where=overall > 0)
        f0 = cents_to_hz(cents)
        f0[np.isnan(f0)] = 0.0
        return f0, voicing >= self._threshold, voicing

    def process(self, block: np.ndarray, t0: int, out: np.ndarray | None = None) -> list[Event]:
        outs = self.session.process(block)
        f0, voiced, conf = self.decode(outs["salience"][0], outs["voicing"][0, 0])
        hop, sr, task = self.hop_size, self.sample_rate, self.task
        first = t0 + hop - self.latency_samples  # instant described by this chunk's first frame
        skip = 0 if first >= 0 else min(len(f0), -(first // hop))  # frames describing t < 0
        return [Event(task, (first + hop * k) / sr, {"f0_hz": f, "voiced": v, "confidence": c})
                for k, f, v, c in zip(range(skip, len(f0)), f0[skip:].tolist(), voiced[skip:].tolist(),
                                      conf[skip:].tolist())]

    def set_param(self, name: str, value: float) -> None:
        if name == "voicing_threshold":
            self._threshold = float(value)
        elif name in ("fmin_hz", "fmax_hz"):  # independent, like two knobs: fmin > fmax = an empty range
            if name == "fmin_hz":
                self._fmin = float(value)
            else:
                self._fmax = float(value)
            inside = np.nonzero((self._bins_hz >= self._fmin) & (self._bins_hz <= self._fmax))[0]
            self._lo, self._hi = (int(inside[0]), int(inside[-1])) if len(inside) else (1, 0)
        else:
            raise KeyError(f"pitch has no parameter {name!r} (voicing_threshold, fmin_hz, fmax_hz)")

    def params(self) -> dict[str, float]:
        return {"voicing_threshold": self._threshold, "fmin_hz": self._fmin, "fmax_hz": self._fmax}

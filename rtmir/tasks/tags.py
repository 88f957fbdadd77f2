"""Instrument tagging processor (``--task tags``): a streamed tagger + attack/release smoothing.

The model (``rtmir/zoo/tags-tcn.onnx``, trained by ``training/tags``) gives per hop
``logits [1, n_tags, frames]``, one per instrument family (the card's labels, e.g. piano, bass,
drums). The decoder turns each frame into probabilities (sigmoid) and smooths each family with
a one-pole follower whose time constant is ``attack_ms`` while the probability rises and
``release_ms`` while it falls (``TagSmoother``; 0 ms passes the model's value through). Both
change live (``/rtmir/ctl/tags/attack_ms``, ``/rtmir/ctl/tags/release_ms``).

Events (task "tags", result "tags") carry ``{"tags": {name: probability, ...}}`` in the card's
order, stamped with the instant each frame describes: ``(end of its hop - latency_samples) /
sample_rate``. Smoothing is causal and runs on the same frames in the same order whatever the
block size, so streaming equals offline.
"""
from __future__ import annotations

import math

import numpy as np

from ..core.ports import Param
from ..core.processor import Event, ProcessSpec, Processor
from ..session import StreamingSession

PRIME_HOPS = 16
"""Hops of silence a fresh or reset model runs on before the stream (its state is then the one
silence leaves, not the all-zero state no input produces)."""
DEFAULT_ATTACK_MS = 0.0
DEFAULT_RELEASE_MS = 100.0
MAX_SMOOTHING_MS = 5000.0


def one_pole(time_constant_ms: float, hop_s: float) -> float:
    """The per-frame coefficient of a one-pole follower (1.0 at 0 ms: no smoothing)."""
    return 1.0 if time_constant_ms <= 0 else 1.0 - math.exp(-hop_s / (time_constant_ms / 1000.0))


class TagSmoother:
    """Per-family attack/release follower over probability frames.

    ``y[k] = y[k-1] + a * (p[k] - y[k-1])`` with ``a`` from ``attack_ms`` where ``p[k] > y[k-1]``
    and from ``release_ms`` elsewhere: after a step from 0 to 1, the n-th frame (the step's own
    frame is the first) is the first at or above 0.5, with n = max(1, ceil(attack_ms * ln 2 / hop))
    (a fall likewise with ``release_ms``). State: ``y`` (``[n_tags]``), 0 after ``reset``. Works
    in buffers sized by ``reserve`` (``__call__`` allocates only when given more frames).

    Args:
        n_tags: families. hop_s: seconds per frame.
    """

    def __init__(self, n_tags: int, hop_s: float, attack_ms: float = DEFAULT_ATTACK_MS,
                 release_ms: float = DEFAULT_RELEASE_MS) -> None:
        self.hop_s = hop_s
        self.y = np.zeros(n_tags)
        self._d, self._coef, self._up_mask = np.zeros(n_tags), np.zeros(n_tags), np.zeros(n_tags, bool)
        self._out = np.zeros((n_tags, 0))
        self.set_times(attack_ms, release_ms)

    def reserve(self, frames: int) -> None:
        """Size the output buffer for calls of up to ``frames`` frames."""
        if self._out.shape[1] < frames:
            self._out = np.zeros((len(self.y), frames))

    def set_times(self, attack_ms: float, release_ms: float) -> None:
        """New time constants (ms), used from the next frame."""
        self.attack_ms, self.release_ms = float(attack_ms), float(release_ms)
        self._up, self._down = one_pole(self.attack_ms, self.hop_s), one_pole(self.release_ms, self.hop_s)

    def reset(self) -> None:
        self.y[:] = 0.0

    def __call__(self, probs: np.ndarray) -> np.ndarray:
        """``probs [n_tags, T]`` -> smoothed ``[n_tags, T]``, state carried: a view of the
        smoother's buffer, valid until the next call."""
        frames = probs.shape[1]
        self.reserve(frames)
        out, y, d, coef, rising = self._out[:, :frames], self.y, self._d, self._coef, self._up_mask
        for k in range(frames):
            np.subtract(probs[:, k], y, out=d)
            np.greater(d, 0.0, out=rising)
            coef.fill(self._down)
            np.copyto(coef, self._up, where=rising)
            np.multiply(coef, d, out=d)
            y += d
            out[:, k] = y
        return out


class TagsProcessor(Processor):
    """A tagging model streamed by a ``StreamingSession``, decoded to smoothed family probabilities.

    Args:
        session: an opened session of a model whose card has task "tags" and an output
            ``logits`` whose labels are the family names.

    Raises:
        ValueError: the card does not describe a tagging model.
    """

    task = "tags"
    channels = 1
    result = "tags"

    def __init__(self, session: StreamingSession) -> None:
        card = session.card
        outputs = {o.name: o for o in card.outputs}
        logits = outputs.get("logits")
        if card.task != "tags" or logits is None or not logits.labels:
            raise ValueError(f"model {card.name} is not a tagging model (task {card.task!r}, outputs {sorted(outputs)})")
        self.session = session
        self.labels = tuple(logits.labels)
        self.sample_rate, self.channels, self.hop_size = card.sample_rate, card.channels, card.hop
        self.latency_samples = card.latency_samples
        self._primer = np.zeros((card.channels, PRIME_HOPS * card.hop), np.float32)
        self.smoother = TagSmoother(len(self.labels), card.hop / card.sample_rate)
        self._probs = np.zeros((len(self.labels), PRIME_HOPS))
        self.param_specs = (Param("attack_ms", DEFAULT_ATTACK_MS, 0.0, MAX_SMOOTHING_MS, "ms"),
                            Param("release_ms", DEFAULT_RELEASE_MS, 0.0, MAX_SMOOTHING_MS, "ms"))
        self.reset()

    def prepare(self, spec: ProcessSpec) -> None:
        if spec.sample_rate != self.sample_rate or spec.channels != self.channels:
            raise ValueError(f"tags model needs {self.sample_rate} Hz mono, got {spec.sample_rate} Hz × {spec.channels} ch")
        from .model import prepare_session

        prepare_session(self.session, spec.max_block)
        self.session.prepare(PRIME_HOPS)
        frames = max(PRIME_HOPS, -(-spec.max_block // self.hop_size))
        self.smoother.reserve(frames)
        self._probs = np.zeros((len(self.labels), frames))
        self.reset()
        self.session.process(np.zeros((self.channels, self.hop_size), np.float32))  # first-run allocations here
        self.reset()

    def reset(self) -> None:
        """Back to the state ``PRIME_HOPS`` of silence leave; the smoothing starts from 0."""
        self.session.reset()
        self.session.process(self._primer)
        self.smoother.reset()

    def decode(self, logits: np.ndarray) -> np.ndarray:
        """``logits [n_tags, T]`` -> smoothed probabilities ``[n_tags, T]`` (state carried; a view,
        valid until the next call). A non-finite logit counts as 0 (probability 0.5) for that
        frame, so it never sticks in the smoothing state."""
        frames = logits.shape[1]
        if self._probs.shape[1] < frames:
            self._probs = np.zeros((len(self.labels), frames))
        from .model import probabilities_into

        return self.smoother(probabilities_into(logits, self._probs[:, :frames]))

    def process(self, block: np.ndarray, t0: int, out: np.ndarray | None = None) -> list[Event]:
        probs = self.decode(self.session.process(block)["logits"][0])
        hop, sr = self.hop_size, self.sample_rate
        first = t0 + hop - self.latency_samples  # instant described by this chunk's first frame
        skip = 0 if first >= 0 else min(probs.shape[1], -(first // hop))  # frames describing t < 0
        labels = self.labels
        return [Event(self.task, (first + hop * k) / sr, {"tags": dict(zip(labels, probs[:, k].tolist()))})
                for k in range(skip, probs.shape[1])]

    def set_param(self, name: str, value: float) -> None:
        if name == "attack_ms":
            self.smoother.set_times(value, self.smoother.release_ms)
        elif name == "release_ms":
            self.smoother.set_times(self.smoother.attack_ms, value)
        else:
            raise KeyError(f"tags has no parameter {name!r} (attack_ms, release_ms)")

    def params(self) -> dict[str, float]:
        return {"attack_ms": self.smoother.attack_ms, "release_ms": self.smoother.release_ms}

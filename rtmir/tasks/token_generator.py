"""The token LM run one frame at a time: frames that are given (a prompt, the live input) are read,
the others are sampled, through one KV cache.

The model (``models/token_lm.py``, exported with its cache as state) reads one step per codec
frame in the delay pattern, ``x[t, q] = c[t - q, q]`` (the start symbol ``V`` where ``t - q < 0``),
and its logits at step ``t`` predict ``x[t + 1]``. ``TokenGenerator.advance(frame)`` makes step
``t``: each code of ``x[t]`` is the given frame's where its frame was given, else a draw from the
previous step's logits (``rtmir.tasks.sampler.sample`` with the step number as the RNG counter);
then it runs the model on ``x[t]`` and returns frame ``t - (Q - 1)``, whose last stage ``x[t]``
just decided (``None`` for the first ``Q - 1`` steps). So a frame comes out ``Q - 1`` frames after
its first code: ``delay_frames`` (20 ms for the shipped 4-stage codec at 150 frames/s).

The first frame must be given (the model has no start-of-piece step); ``free`` generation starts
from a short prompt of silence's tokens. Torch-free; one ``StreamingSession.step`` per frame.
"""
from __future__ import annotations

import numpy as np

from ..session import StreamingSession
from .sampler import sample


def delay_steps(frames: np.ndarray, codebook_size: int, steps: int) -> np.ndarray:
    """The first ``steps`` model inputs ``[Q, steps]`` int64 of ``frames [F, Q]`` in the delay
    pattern: ``x[q, t] = frames[t - q, q]``, the start symbol ``codebook_size`` where ``t - q`` is
    before 0 or past the last frame (numpy's ``models.token_lm.delay_pattern``)."""
    f, q = frames.shape
    x = np.full((q, steps), codebook_size, np.int64)
    for k in range(min(q, steps)):
        m = min(f, steps - k)
        x[k, k:k + m] = frames[:m, k]
    return x


class TokenGenerator:
    """Steps a token LM session (``tokens [Q, 1]`` in, ``logits [1, Q, V, 1]`` out).

    Attributes:
        stages, codebook_size: Q and V. step: steps run since the last reset (the RNG counter).
        temperature, top_k, top_p, seed: the sampling settings (read at every step).
    """

    def __init__(self, session: StreamingSession, stages: int, codebook_size: int) -> None:
        self.session = session
        self.stages, self.codebook_size = stages, codebook_size
        inputs = [p for p in session.card.inputs if p.kind == "tokens"]
        outputs = [o for o in session.card.outputs if o.unit == "logit"]
        if len(inputs) != 1 or len(outputs) != 1 or inputs[0].vocab_size != codebook_size + 1:
            raise ValueError(f"{session.card.name} is not a token LM over {stages} x {codebook_size} codes")
        self._in, self._out = inputs[0].name, outputs[0].name
        self.temperature, self.top_k, self.top_p, self.seed = 1.0, 0, 1.0, 0
        self._x = np.zeros((stages, 1), np.int64)
        self._codes = np.zeros((stages, stages), np.int64)  # [frame % Q, stage]: decided codes
        self._given = np.zeros(stages, bool)  # [frame % Q]: that frame was given
        self._logits: np.ndarray | None = None
        self.reset()

    @property
    def delay_frames(self) -> int:
        return self.stages - 1

    def frame_given(self, frame: int) -> bool:
        """Whether ``frame`` was given (not sampled); for the frames still in the window,
        ``step - Q <= frame < step`` (those whose first code is decided).

        Raises:
            ValueError: ``frame`` outside that window.
        """
        if not self.step - self.stages <= frame < self.step or frame < 0:
            raise ValueError(f"frame {frame} is outside the window [{self.step - self.stages}, {self.step})")
        return bool(self._given[frame % self.stages])

    def reset(self) -> None:
        """A fresh cache, step 0; the settings are kept."""
        self.session.reset()
        self.step = 0
        self._logits = None
        self._given[:] = False

    def prime(self, frames: np.ndarray) -> None:
        """Read a prompt ``frames [F, Q]`` (F >= 1) right after a reset, in one model call: the same
        cache and logits as ``F`` calls of ``advance(frame)``, without their outputs.

        Raises:
            ValueError: not right after a reset, or no frame.
        """
        q, n = self.stages, len(frames)
        if self.step or n < 1:
            raise ValueError("prime a prompt of at least one frame right after a reset")
        out = self.session.step({self._in: delay_steps(frames, self.codebook_size, n)})[self._out]
        self._logits = np.array(np.asarray(out)[0, :, :, -1])
        for f in range(max(0, n - q), n):
            self._codes[f % q] = frames[f]
            self._given[f % q] = True
        self.step = n

    def advance(self, frame: np.ndarray | None = None) -> np.ndarray | None:
        """Make step ``step`` with frame ``step`` given (``[Q]`` codes) or to be generated (``None``);
        returns frame ``step - (Q - 1)`` (``[Q]`` int64, a view: copy to keep) or ``None`` before it.

        Raises:
            ValueError: the first frame after a reset is not given.
        """
        t, q = self.step, self.stages
        draws = None
        if frame is None and self._logits is None:
            raise ValueError("the first frame after a reset must be given (a prompt)")
        slot = t % q
        self._given[slot] = frame is not None
        if frame is not None:
            self._codes[slot] = frame
        for k in range(q):
            f = t - k
            if f < 0:
                self._x[k, 0] = self.codebook_size
                continue
            s = f % q
            if not self._given[s]:
                if draws is None:
                    draws = sample(self._logits, self.temperature, self.top_k, self.top_p, self.seed, t)
                self._codes[s, k] = draws[k]
            self._x[k, 0] = self._codes[s, k]
        out = self.session.step({self._in: self._x})[self._out]
        self._logits = np.asarray(out).reshape(q, self.codebook_size)
        self.step = t + 1
        done = t - (q - 1)
        return self._codes[done % q] if done >= 0 else None

"""StreamingSession: one exported model, its card and its carried state (DESIGN.md, contract 3).

The session knows nothing about tasks. It opens an ONNX file that follows contract 2
(``audio [1, C, N]`` + ``state_in.*`` → outputs + ``state_out.*``), reads the card, owns the
state and feeds it back on every call::

    call k:   audio_k, state_k  ──►  model  ──►  outputs_k, state_{k+1}
              (N = j * hop)                      (state_{k+1} becomes the next state_in)

State arrays are allocated once (two sets used alternately, "ping-pong"), so a call allocates
only what onnxruntime returns for the outputs.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .card import CARD_KEY, CardError, ModelCard

log = logging.getLogger(__name__)

AUDIO_INPUT = "audio"
STATE_IN = "state_in."
STATE_OUT = "state_out."


class ModelError(ValueError):
    """A model file is missing, unreadable, or does not follow contract 2."""


def _open_session(path: Path, intra_op_threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = intra_op_threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several private exception types
        raise ModelError(f"cannot load model {path}: {str(exc).splitlines()[0]}") from exc


def read_card(session: ort.InferenceSession, path: Path) -> ModelCard:
    """Read and validate the card stored in a loaded session's metadata.

    Raises:
        ModelError: the file has no card or an invalid one.
    """
    meta = session.get_modelmeta().custom_metadata_map
    if CARD_KEY not in meta:
        raise ModelError(f"model {path} has no '{CARD_KEY}' card in its metadata: export it with export/")
    try:
        return ModelCard.from_json(meta[CARD_KEY])
    except CardError as exc:
        raise ModelError(f"model {path}: {exc}") from exc


class StreamingSession:
    """Run an exported streaming model hop by hop with its state carried.

    Args:
        path: the ``.onnx`` file.
        intra_op_threads: onnxruntime threads for one call (1 for real-time use).

    Raises:
        ModelError: missing file, not an ONNX model, no/invalid card, or inputs/outputs that do
            not match the card.
    """

    def __init__(self, path: str | Path, intra_op_threads: int = 1) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"model file not found: {self.path}")
        self._session = _open_session(self.path, intra_op_threads)
        self.card = read_card(self._session, self.path)
        self._check_signature()
        self._state_in_names = [STATE_IN + s.name for s in self.card.state]
        self._output_names = [o.name for o in self.card.outputs] + [STATE_OUT + s.name for s in self.card.state]
        # two preallocated state sets, used alternately: no allocation for state per call
        self._state = [
            [np.zeros(s.shape, dtype=np.dtype(s.dtype)) for s in self.card.state] for _ in range(2)
        ]
        self._current = 0
        self._feeds: dict[str, np.ndarray] = {}

    def _check_signature(self) -> None:
        inputs = {i.name: i for i in self._session.get_inputs()}
        outputs = {o.name for o in self._session.get_outputs()}
        expected_in = {AUDIO_INPUT} | {STATE_IN + s.name for s in self.card.state}
        expected_out = {o.name for o in self.card.outputs} | {STATE_OUT + s.name for s in self.card.state}
        if set(inputs) != expected_in:
            raise ModelError(
                f"model {self.path}: inputs {sorted(inputs)} do not match its card {sorted(expected_in)}"
            )
        if not expected_out <= outputs:
            raise ModelError(
                f"model {self.path}: outputs {sorted(outputs)} lack {sorted(expected_out - outputs)} named by its card"
            )

    @property
    def hop(self) -> int:
        """Samples per model step; ``process`` takes positive multiples of it."""
        return self.card.hop

    @property
    def sample_rate(self) -> int:
        return self.card.sample_rate

    @property
    def channels(self) -> int:
        return self.card.channels

    @property
    def latency_samples(self) -> int:
        return self.card.latency_samples

    def process(self, audio: np.ndarray) -> dict[str, np.ndarray]:
        """Run one chunk and carry the state.

        Args:
            audio: ``[C, N]`` float32 at ``sample_rate``, ``C == channels``, ``N`` a positive
                multiple of ``hop``.

        Returns:
            ``{output name: array}`` for every output in the card (batch axis kept, time last).
            Arrays are owned by the caller.

        Raises:
            ValueError: wrong channel count or a length that is not a positive multiple of hop.
        """
        if audio.ndim != 2 or audio.shape[0] != self.card.channels:
            raise ValueError(f"audio must be [{self.card.channels}, N], got {list(audio.shape)}")
        n = audio.shape[1]
        if n <= 0 or n % self.card.hop:
            raise ValueError(f"audio length {n} is not a positive multiple of hop {self.card.hop}")
        feeds = self._feeds
        feeds[AUDIO_INPUT] = np.ascontiguousarray(audio, dtype=np.float32)[None]
        for name, arr in zip(self._state_in_names, self._state[self._current]):
            feeds[name] = arr
        results = self._session.run(self._output_names, feeds)
        n_out = len(self.card.outputs)
        nxt = self._state[1 - self._current]
        for dst, src in zip(nxt, results[n_out:]):
            np.copyto(dst, src, casting="same_kind")
        self._current = 1 - self._current
        return {o.name: r for o, r in zip(self.card.outputs, results[:n_out])}

    def reset(self) -> None:
        """Return to the initial (zero) state, as if freshly opened."""
        for group in self._state:
            for arr in group:
                arr.fill(0)
        self._current = 0

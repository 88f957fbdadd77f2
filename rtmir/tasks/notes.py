"""Polyphonic notes processor (``--task notes``): a streamed transcriber + the causal note decoder.

The model (``rtmir/zoo/notes-tcn.onnx``, trained by ``training/notes``) gives per hop
``probs [1, N_OUTPUTS, frames]`` (or ``logits``, then their sigmoid is taken) in
``note_decoder``'s layout (onset, frame and offset of 88 pitches, 6 drum classes), each frame
describing the instant ``latency_samples`` before its hop's end. ``NoteDecoder`` turns the
probabilities into note-ons and note-offs frame by frame.

Events (task "notes", result "notes"), one per change, stamped with the instant of the audio it
describes: ``{"on": 0|1, "pitch": MIDI note (a GM drum note for a hit), "velocity": 0..127,
"drum": 0|1}``; a note-off sorts before a note-on of the same frame. ``reset`` forgets the
notes sounding; the sinks end them (the MIDI sinks and the OSC sink keep what they turned on
and send the note-offs on the engine's reset and on close). The decoder runs on the same frames
in the same order whatever the block size, so streaming equals offline. Thresholds change live (``/rtmir/ctl/<node>/onset_threshold`` ...).
"""
from __future__ import annotations

import numpy as np

from ..core.ports import Param
from ..core.processor import Event, ProcessSpec, Processor
from ..session import StreamingSession
from .model import prepare_session, probabilities_into
from .note_decoder import DEFAULTS, N_OUTPUTS, NoteDecoder

PRIME_HOPS = 16
"""Hops of silence a fresh or reset model runs on before the stream."""


class NotesProcessor(Processor):
    """A notes model streamed by a ``StreamingSession``, decoded to note events.

    Args:
        session: an opened session of a model whose card has task "notes" and an output
            ``probs`` (or ``logits``) of ``N_OUTPUTS`` rows. The card's ``evaluation.<name>`` for each of the
            decoder's thresholds (chosen on the validation set), when present, replace its defaults.

    Raises:
        ValueError: the card does not describe a notes model.
    """

    task = "notes"
    channels = 1
    result = "notes"

    def __init__(self, session: StreamingSession) -> None:
        card = session.card
        outputs = {o.name: o for o in card.outputs}
        self._output = "probs" if "probs" in outputs else "logits"
        head = outputs.get(self._output)
        if card.task != "notes" or head is None or tuple(head.shape[1:2]) != (N_OUTPUTS,):
            raise ValueError(f"model {card.name} is not a notes model (task {card.task!r}, outputs {sorted(outputs)})")
        self.session = session
        self.sample_rate, self.channels, self.hop_size = card.sample_rate, card.channels, card.hop
        self.latency_samples = card.latency_samples
        chosen = {k: float(v) for k, v in (card.evaluation or {}).items() if k in DEFAULTS}
        self.decoder = NoteDecoder(**chosen)
        self.param_specs = tuple(Param(name, value, 0.0, 1.0, "probability") for name, value in self.decoder.thresholds.items())
        self._primer = np.zeros((card.channels, PRIME_HOPS * card.hop), np.float32)
        self._probs = np.zeros((N_OUTPUTS, PRIME_HOPS))
        self.reset()

    def prepare(self, spec: ProcessSpec) -> None:
        if spec.sample_rate != self.sample_rate or spec.channels != self.channels:
            raise ValueError(f"notes model needs {self.sample_rate} Hz mono, "
                             f"got {spec.sample_rate} Hz × {spec.channels} ch")
        prepare_session(self.session, spec.max_block)
        self.session.prepare(PRIME_HOPS)
        self._probs = np.zeros((N_OUTPUTS, max(PRIME_HOPS, -(-spec.max_block // self.hop_size))))
        self.reset()
        self.session.process(np.zeros((self.channels, self.hop_size), np.float32))  # first-run allocations here
        self.reset()

    def reset(self) -> None:
        """Back to the state ``PRIME_HOPS`` of silence leave, no note sounding (the sinks end the
        notes they turned on: module docstring)."""
        self.decoder.reset()
        self.session.reset()
        self.session.process(self._primer)

    def probabilities(self, head: np.ndarray) -> np.ndarray:
        """The model's ``probs`` (or the sigmoid of its ``logits``) ``[N_OUTPUTS, T]``; a
        non-finite value counts as probability 0.5 for that frame. A view, valid until the next call."""
        frames = head.shape[1]
        if self._probs.shape[1] < frames:
            self._probs = np.zeros((N_OUTPUTS, frames))
        out = self._probs[:, :frames]
        if self._output == "logits":
            return probabilities_into(head, out)
        np.copyto(out, head)
        return np.nan_to_num(out, copy=False, nan=0.5, posinf=1.0, neginf=0.0)

    def process(self, block: np.ndarray, t0: int, out: np.ndarray | None = None) -> list[Event]:
        probs = self.probabilities(self.session.process(block)[self._output][0])
        hop, sr = self.hop_size, self.sample_rate
        first = t0 + hop - self.latency_samples  # instant described by this chunk's first frame
        changes = self.decoder(probs)
        return [Event(self.task, max(0, first + hop * c.frame) / sr,
                      {"on": int(c.on), "pitch": c.pitch, "velocity": c.velocity, "drum": int(c.drum)})
                for c in changes]

    def set_param(self, name: str, value: float) -> None:
        self.decoder.set_thresholds(**{name: value})

    def params(self) -> dict[str, float]:
        return dict(self.decoder.thresholds)

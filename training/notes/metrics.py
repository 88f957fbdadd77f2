"""Note figures (no torch): probabilities -> notes with the runtime's decoder, and note F1 pooled
over clips with ``mir_eval``'s matching (onset within 50 ms; onset+offset: offset within
max(50 ms, 20 % of the note) as well), drum onset F1 per class."""
from __future__ import annotations

import numpy as np
from mir_eval.transcription import match_notes
from mir_eval.util import match_events, midi_to_hz

from rtmir.tasks.note_decoder import DRUMS, NoteDecoder, drum_class, notes_from_changes

from .labels import Note

ONSET_TOLERANCE_S = 0.05


def transcribe(probs: np.ndarray, hop: int, latency_samples: int, sample_rate: int,
               thresholds: dict[str, float] | None = None) -> list[Note]:
    """Notes of one clip's probabilities ``[N_OUTPUTS, frames]`` through ``NoteDecoder``; frame k
    describes ``((k + 1) * hop - latency_samples) / sample_rate`` s (the runtime's stamps)."""
    decoder = NoteDecoder(**(thresholds or {}))
    changes = decoder(probs)
    t = lambda k: ((k + 1) * hop - latency_samples) / sample_rate  # noqa: E731
    end = t(probs.shape[1] - 1)
    return [Note(a, b, p, v, "", d) for a, b, p, v, d in notes_from_changes([(t(c.frame), c) for c in changes], end)]


class Counts:
    """Matched / reference / estimated counts, pooled over clips; ``f1()`` etc. from them."""

    def __init__(self) -> None:
        self.tp = self.ref = self.est = 0

    def add(self, tp: int, ref: int, est: int) -> None:
        self.tp, self.ref, self.est = self.tp + tp, self.ref + ref, self.est + est

    def precision(self) -> float:
        return self.tp / self.est if self.est else 0.0

    def recall(self) -> float:
        return self.tp / self.ref if self.ref else 0.0

    def f1(self) -> float:
        return 2 * self.tp / (self.ref + self.est) if self.ref + self.est else 0.0

    def figures(self) -> dict[str, float]:
        return {"f1": self.f1(), "precision": self.precision(), "recall": self.recall(), "n_ref": self.ref}


class NoteScore:
    """Pooled note figures of many clips: ``onset`` and ``onset_offset`` over pitched notes,
    ``drums[name]`` per class."""

    def __init__(self) -> None:
        self.onset, self.onset_offset = Counts(), Counts()
        self.drums = {name: Counts() for name, _, _ in DRUMS}

    def add(self, ref: list[Note], est: list[Note]) -> None:
        """Score one clip's estimated notes against its reference."""
        r, e = [n for n in ref if not n.drum], [n for n in est if not n.drum]
        for counts, ratio in ((self.onset, None), (self.onset_offset, 0.2)):
            tp = len(_match(r, e, ratio)) if r and e else 0
            counts.add(tp, len(r), len(e))
        for i, (name, _, _) in enumerate(DRUMS):
            rt = np.array([n.onset_s for n in ref if n.drum and drum_class(n.pitch) == i])
            et = np.array([n.onset_s for n in est if n.drum and drum_class(n.pitch) == i])
            tp = len(match_events(rt, et, ONSET_TOLERANCE_S)) if len(rt) and len(et) else 0
            self.drums[name].add(tp, len(rt), len(et))

    def figures(self) -> dict:
        drums = {k: v.figures() for k, v in self.drums.items()}
        main = [drums[k]["f1"] for k in ("kick", "snare", "hihat_closed") if drums[k]["n_ref"]]
        return {"onset": self.onset.figures(), "onset_offset": self.onset_offset.figures(), "drums": drums,
                "drums_f1_kick_snare_hihat": float(np.mean(main)) if main else float("nan")}


def _match(ref: list[Note], est: list[Note], offset_ratio: float | None) -> list:
    def arrays(notes):
        iv = np.array([[n.onset_s, max(n.offset_s, n.onset_s + 1e-3)] for n in notes])
        return iv, midi_to_hz(np.array([n.pitch for n in notes], np.float64))
    (ri, rp), (ei, ep) = arrays(ref), arrays(est)
    return match_notes(ri, rp, ei, ep, onset_tolerance=ONSET_TOLERANCE_S, offset_ratio=offset_ratio)

"""The notes task's labels: note lists and frame targets from an example's aligned labels (no torch).

Every pitched note comes from ``labels.npz`` with the span it is heard (``training.synth.aligned``:
``notes_attack_s`` .. ``notes_release_s``); a note never heard (NaN) is no note. Drum hits keep their MIDI onsets (the render is shifted by the
soundfont's measured note-on delay) and map to ``rtmir.tasks.note_decoder.DRUMS``.

Targets ``[N_OUTPUTS, frames]`` at 100 frames/s in the decoder's layout: onset 1 on the attack
frame and the next (``ONSET_FRAMES``), frame 1 from the attack until the span's end, offset 1 on
the span's last frame and the next, a drum hit 1 on its frame and the next.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtmir.tasks.note_decoder import DRUM, DRUMS, FRAME, LOWEST_PITCH, N_OUTPUTS, N_PITCHES, OFFSET, ONSET, drum_class
from training.synth.labels import FRAME_RATE

ONSET_FRAMES = 2
"""Frames an onset, offset or drum target covers (10 ms each)."""
CONVENTION = {"name": "notes-aligned-v1", "onset_frames": ONSET_FRAMES, "frame_rate": FRAME_RATE,
              "drums": [name for name, _, _ in DRUMS]}


@dataclass(frozen=True)
class Note:
    """One reference note: seconds, MIDI pitch (a GM drum note for a drum hit), the stem it is in."""

    onset_s: float
    offset_s: float
    pitch: int
    velocity: int
    stem: str
    drum: bool


def example_notes(labels: dict[str, np.ndarray], meta: dict) -> list[Note]:
    """The example's notes (module docstring): pitched notes that sound, and drum hits of a
    modelled class (offset = onset + 10 ms); sorted by onset."""
    stem_of = meta["stems"]  # the score's tracks first, in order (``notes_stem`` indexes them)
    out = []
    attack, to = labels["notes_attack_s"], labels["notes_release_s"]
    for i in range(len(labels["notes_pitch"])):
        stem = stem_of[int(labels["notes_stem"][i])]
        pitch, vel = int(labels["notes_pitch"][i]), int(labels["notes_velocity"][i])
        if labels["notes_program"][i] < 0:  # drums
            if drum_class(pitch) is not None:
                t = float(labels["notes_onset_s"][i])
                out.append(Note(t, t + 1.0 / FRAME_RATE, pitch, vel, stem, True))
        elif np.isfinite(attack[i]) and LOWEST_PITCH <= pitch < LOWEST_PITCH + N_PITCHES:
            out.append(Note(float(attack[i]), float(to[i]), pitch, vel, stem, False))
    return sorted(out, key=lambda n: (n.onset_s, n.pitch))


def targets(notes: list[Note], n_frames: int) -> np.ndarray:
    """``[N_OUTPUTS, n_frames]`` float32 targets of ``notes`` (module docstring)."""
    y = np.zeros((N_OUTPUTS, n_frames), np.float32)
    for n in notes:
        k0 = int(round(n.onset_s * FRAME_RATE))
        if k0 >= n_frames:
            continue
        if n.drum:
            y[DRUM + drum_class(n.pitch), k0:k0 + ONSET_FRAMES] = 1.0
            continue
        i = n.pitch - LOWEST_PITCH
        k1 = max(k0 + 1, int(round(n.offset_s * FRAME_RATE)))
        y[ONSET + i, k0:k0 + ONSET_FRAMES] = 1.0
        y[FRAME + i, k0:k1] = 1.0
        y[OFFSET + i, k1 - 1:k1 - 1 + ONSET_FRAMES] = 1.0
    return y


def read_targets(labels: dict[str, np.ndarray], meta: dict) -> np.ndarray:
    """``training.core.data.LabelReader`` entry: the example's targets ``[N_OUTPUTS, frames]``."""
    return targets(example_notes(labels, meta), int(meta["n_frames"]))

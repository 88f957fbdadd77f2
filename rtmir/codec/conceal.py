"""Packet-loss concealment for token streams: hold the last frame, fade its audio out.

Per token frame: a frame that arrived is decoded as it is; a lost frame (``None``) is replaced by
the last frame that arrived (the decoder keeps sounding what it last heard: a spectral freeze),
and the audio of the k-th frame lost in a row is faded by ``fade_db`` per frame, reaching silence
(gain 0) once under ``-60 dB``. When frames arrive again the gain ramps back to 1 over one hop.
Every gain change is a linear ramp across the hop, so concealment never clicks. Before any frame
arrived a lost frame is silence (gain 0, every stage left out), and the first frame ramps in.

Allocation-free after construction: one ``[stages]`` token buffer and one ``[hop]`` ramp.
"""
from __future__ import annotations

import numpy as np

SILENT_DB = -60.0


class Concealer:
    """Hold-and-fade concealment of lost token frames.

    Args:
        stages: codes per frame. hop: audio samples per frame. absent: the code that means
            "stage left out" (the codebook size). fade_db: attenuation per lost frame (dB).
    """

    def __init__(self, stages: int, hop: int, absent: int, fade_db: float = 6.0) -> None:
        self.hop, self.absent = hop, absent
        self.step = 10 ** (-fade_db / 20)
        self.floor = 10 ** (SILENT_DB / 20)
        self._held = np.full(stages, absent, np.int64)
        self._ramp = np.linspace(0.0, 1.0, hop + 1, dtype=np.float32)[1:]  # reaches the new gain at the hop's end
        self._row = np.zeros(hop, np.float32)
        self.reset()

    def reset(self) -> None:
        self._held[:] = self.absent
        self.gain = self._target = 1.0
        self.run = 0  # frames lost in a row
        self.lost = 0  # frames concealed since the start
        self._received = False

    def tokens(self, frame: np.ndarray | None) -> np.ndarray:
        """The tokens to decode for this frame (``frame`` ``[stages]``, or None when it was lost);
        sets the gain ``apply`` ramps to."""
        if frame is None:
            self.lost += 1
            self.run += 1
            g = self.step ** self.run
            self._target = g if g >= self.floor and self._received else 0.0
            if not self._received:  # nothing has sounded yet: silence from the first sample
                self.gain = 0.0
            return self._held
        self._received = True
        self._held[:] = frame
        self.run = 0
        self._target = 1.0
        return self._held

    def apply(self, audio: np.ndarray) -> None:
        """Scale this frame's decoded audio ``[hop]`` in place, ramping from the last gain."""
        start, target = self.gain, self._target
        if start == target == 1.0:
            return
        np.multiply(self._ramp, np.float32(target - start), out=self._row)
        self._row += np.float32(start)
        audio *= self._row
        self.gain = target

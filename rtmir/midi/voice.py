"""The pitch tracker as a MIDI voice (``--task pitch --midi ...``): frames → notes with pitch bend.

Per pitch frame (``f0_hz``, ``voiced``, ``t``; hop ``hop_s``) the voice keeps at most one note
sounding:

    unvoiced ──onset_frames voiced──► note on (nearest to their median pitch; bend = the rest)
    sounding ──every frame──────────► pitch bend when it moved by ≥ ``bend_step`` (1/8192 units)
    sounding ──a step over ``jump_semitones``, beyond the bend range, or (``legato`` off) any
               new nearest note, then retrigger_frames on it──► note off + note on (the new note)
    sounding ──release_frames unvoiced──► note off

Every message is stamped with the instant of the *first* frame that decided it (the onset's
first voiced frame, the release's first unvoiced one), so a file places notes where the audio
has them; a live port can only send a decision after its last frame, so the voice declares
``decision_frames`` = the largest of the three counts minus 1, times the hop, as extra latency.

MPE (``mpe=True``): each note gets the next member channel of a lower zone (1..15 members, manager
channel 0), its bend goes on that channel before its note on, and ``setup()`` sends the MPE
Configuration Message; otherwise every note plays on ``channel`` with the bend range set by RPN 0.

Note-offs are guaranteed: ``all_off(t)`` ends the sounding note (stop, reset, end of stream); a
missed hop sends nothing, so the note holds until frames arrive again.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from . import messages as m
from .messages import MidiMessage


@dataclass(frozen=True)
class VoiceConfig:
    """How pitch frames become notes.

    The defaults (3 / 2 / 3 frames) were chosen on melodies rendered with FluidR3_GM (a training
    soundfont), then checked on MuseScore_General: onset F1 of the pitch model's voice 0.818 there,
    against 0.765 with 2 / 2 / 2 (``training.notes.voice_eval``). They cost one more decision frame
    of live latency (10 ms for pitch-tcn).

    Attributes:
        onset_frames: consecutive voiced frames before a note starts (debounces clicks).
        release_frames: consecutive unvoiced frames before it ends (bridges a dropout).
        retrigger_frames: consecutive frames nearest another note before it is played as a new note.
        bend_range: ± semitones of a full bend (RPN 0 set to it; MPE members: 48 by the MPE spec).
        legato: True: a pitch that moves smoothly (no step over ``jump_semitones`` between frames)
            and stays within the bend range bends the note (a glide, vibrato); a step is a new
            note. False: every change of nearest note is a new note (a keyboard-like voice).
        jump_semitones: a frame-to-frame step larger than this starts a new note (legato).
        velocity: note-on velocity 1..127 (pitch frames carry no loudness).
        channel: 0-based channel without MPE.
        mpe: one member channel per note (see module docstring).
        mpe_members: member channels of the MPE zone (1..15: channels 1..members).
        bend_step: smallest change, in 14-bit bend units, that is sent (8 ≈ 0.2 cents at ±2).
    """

    onset_frames: int = 3
    release_frames: int = 2
    retrigger_frames: int = 3
    bend_range: int = 2
    legato: bool = True
    jump_semitones: float = 0.6
    velocity: int = 100
    channel: int = 0
    mpe: bool = False
    mpe_members: int = 15
    bend_step: int = 8

    def __post_init__(self) -> None:
        for name in ("onset_frames", "release_frames", "retrigger_frames"):
            if not 1 <= getattr(self, name) <= 100:
                raise ValueError(f"{name} must be 1..100 frames, got {getattr(self, name)}")
        if not 1 <= self.bend_range <= 96 or not 1 <= self.velocity <= 127 or not 0 <= self.channel <= 15:
            raise ValueError("bend_range must be 1..96 semitones, velocity 1..127, channel 0..15")
        if not 1 <= self.mpe_members <= 15 or self.bend_step < 1:
            raise ValueError("mpe_members must be 1..15 and bend_step positive")

    @property
    def decision_frames(self) -> int:
        """Frames after its stamped instant that a message can be decided (live latency, frames)."""
        return max(self.onset_frames, self.release_frames, self.retrigger_frames) - 1

    @property
    def member_bend_range(self) -> int:
        """The bend range the voice computes bends for: 48 on MPE member channels, else ``bend_range``."""
        return 48 if self.mpe else self.bend_range


def midi_of(f0_hz: float) -> float:
    """Fractional MIDI note of ``f0_hz`` (69 = A4 = 440 Hz); NaN for a non-positive or NaN f0."""
    if not f0_hz > 0.0 or not math.isfinite(f0_hz):
        return math.nan
    return 69.0 + 12.0 * (math.log2(f0_hz) - math.log2(440.0))


class PitchVoice:
    """Pitch frames of one node → MIDI messages (see module docstring).

    Args:
        config: the voice's rules.
        node: the node name stamped on its messages.

    Not thread-safe: one thread feeds it (the engine's sinks run on the worker).
    """

    def __init__(self, config: VoiceConfig = VoiceConfig(), node: str = "") -> None:
        self.config, self.node = config, node
        self._member = 0  # the last MPE member channel used (0 = none yet)
        self._window = [0.0] * config.onset_frames  # the onset's pitches (MIDI), for its median
        self.reset_state()

    @property
    def decision_frames(self) -> int:
        """Frames past a frame a message may wait for (``VoiceConfig.decision_frames``)."""
        return self.config.decision_frames

    def reset_state(self) -> None:
        """Forget the frames (no note sounding). Send ``all_off`` first if one may be."""
        self.note: int | None = None  # sounding note number
        self.channel = self.config.channel
        self._bend = m.BEND_CENTRE
        self._run = 0  # length of the current run of frames pointing away from the state
        self._run_t = 0.0  # the instant of that run's first frame
        self._run_note: int | None = None
        self._last_midi = math.nan  # the previous frame's pitch (MIDI) while a note sounds

    def setup(self, t: float = 0.0) -> list[MidiMessage]:
        """Messages a receiver needs before the first note: MPE zone or bend range (RPN 0)."""
        c = self.config
        if c.mpe:
            data = m.mpe_zone_setup(c.mpe_members) + m.bend_range_setup(0, 2)
            for ch in range(1, c.mpe_members + 1):
                data += m.bend_range_setup(ch, 48)
        else:
            data = m.bend_range_setup(c.channel, c.bend_range)
        return [MidiMessage(t, d, self.node) for d in data]

    def frame(self, t: float, f0_hz: float, voiced: bool) -> list[MidiMessage]:
        """One pitch frame (``t`` = the instant it describes) → the messages it decides."""
        midi = midi_of(f0_hz) if voiced else math.nan
        nearest = None if math.isnan(midi) else int(round(midi))
        if self.note is None:
            return self._idle(t, midi, nearest)
        if nearest is None:
            return self._releasing(t)
        last, self._last_midi = self._last_midi, midi
        c = self.config
        pending = self._run > 0 and self._run_note == nearest
        jumped = abs(midi - last) > c.jump_semitones or abs(midi - self.note) > c.member_bend_range
        if nearest != self.note and (pending or jumped or not c.legato):
            return self._retriggering(t, midi, nearest)
        self._run = 0
        return self._bend_to(t, midi)

    def all_off(self, t: float) -> list[MidiMessage]:
        """End the sounding note now (stamped ``t``) and centre its bend; nothing if none sounds."""
        out = []
        if self.note is not None:
            out = [MidiMessage(t, m.note_off(self.channel, self.note), self.node)]
            if self._bend != m.BEND_CENTRE:
                out.append(MidiMessage(t, m.pitch_bend(self.channel, m.BEND_CENTRE), self.node))
        self.reset_state()
        return out

    # -- the three states -----------------------------------------------------------------
    def _count(self, t: float, note: int | None) -> int:
        """Extend (or restart) the run of frames pointing at ``note``; returns its length."""
        if self._run == 0 or note != self._run_note:
            self._run, self._run_t, self._run_note = 0, t, note
        self._run += 1
        return self._run

    def _idle(self, t: float, midi: float, nearest: int | None) -> list[MidiMessage]:
        if nearest is None:
            self._run = 0
            return []
        n = self._count(t, 0)  # any voiced frame counts towards an onset
        self._window[(n - 1) % len(self._window)] = midi
        if n < self.config.onset_frames:
            return []
        start = self._run_t
        self._run = 0
        pitch = sorted(self._window[:n])[(n - 1) // 2]  # the window's median: a note's first frames scatter
        return self._start(start, pitch, int(round(pitch)))

    def _releasing(self, t: float) -> list[MidiMessage]:
        if self._count(t, None) < self.config.release_frames:
            return []
        return self.all_off(self._run_t)

    def _retriggering(self, t: float, midi: float, nearest: int) -> list[MidiMessage]:
        if self._count(t, nearest) < self.config.retrigger_frames:
            return []
        start = self._run_t
        out = self.all_off(start)
        return out + self._start(start, midi, nearest)

    def _start(self, t: float, midi: float, note: int) -> list[MidiMessage]:
        c = self.config
        if c.mpe:
            self._member = self._member % c.mpe_members + 1
            self.channel = self._member
        self.note, self._last_midi = note, midi
        out = self._bend_to(t, midi, force=c.mpe or self._bend != m.BEND_CENTRE)
        return out + [MidiMessage(t, m.note_on(self.channel, note, c.velocity), self.node)]

    def _bend_to(self, t: float, midi: float, force: bool = False) -> list[MidiMessage]:
        value = m.bend_value(midi - self.note, self.config.member_bend_range)
        if not force and abs(value - self._bend) < self.config.bend_step:
            return []
        self._bend = value
        return [MidiMessage(t, m.pitch_bend(self.channel, value), self.node)]

"""MIDI sinks: the results of a graph's pitch and notes nodes as MIDI, in a Standard MIDI File or live.

    Engine.push ─► MidiSink.send(events) ─► PitchVoice per pitch node ─► MidiMessage (t) ─► transport
                                            NoteVoice per notes node      file: at t · JACK: at t + latency

``MidiSink`` does the conversion (``rtmir.midi.voice``: one voice per node whose events are of
kind "pitch" — the neural tracker and YIN — on its own channel, or MPE member channels;
``rtmir.midi.notes``: one per node of kind "notes" — the transcriber — on the next channel,
its drum hits on channel 10) and guarantees note-offs: ``reset()`` (the engine's reset, ``/rtmir/ctl/reset``) and ``close()``
(stop, end of stream, a lost device) end every sounding note. Transports subclass it and take
messages through ``_deliver``. ``MidiFileSink`` is here; the JACK port is ``midi_jack``.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..core.processor import Event
from ..midi.messages import MidiMessage
from ..midi.notes import DRUM_CHANNEL, NoteVoice
from ..midi.voice import PitchVoice, VoiceConfig
from .output_path import OutputError, PartFile, check_output

#: SMF resolution: 960 ticks per quarter at 120 bpm = 1920 ticks per second (0.52 ms)
TICKS_PER_BEAT = 960
TEMPO_US = 500_000


class MidiSetupError(ValueError):
    """A MIDI output cannot be made (no pitch node, a missing package, no port): one line, exit 2."""


def nodes_of(graph, result: str) -> list[str]:
    """Names of the graph's nodes whose events are of kind ``result`` (in graph order)."""
    return [n.name for n in graph.nodes if n.desc.result == result]


class MidiSink:
    """Pitch events → MIDI messages, handed to ``_deliver`` (a transport's).

    Args:
        config: the voice rules (``VoiceConfig``); without MPE, the i-th pitch node plays on
            ``config.channel + i``.

    Raises (from ``bind_graph``):
        MidiSetupError: the graph has no pitch node, or more than 16 channels would be needed.
    """

    def __init__(self, config: VoiceConfig = VoiceConfig()) -> None:
        self.config = config
        self.voices: dict[str, PitchVoice | NoteVoice] = {}
        self.messages = 0
        self._last_t = 0.0

    def bind_graph(self, graph) -> None:
        """Make a voice per pitch and notes node and send their setup (bend range or MPE zone)."""
        names, notes = nodes_of(graph, "pitch"), nodes_of(graph, "notes")
        if not names and not notes:
            raise MidiSetupError("MIDI out needs a pitch or notes node (--task pitch, yin or notes)")
        if self.config.mpe and (len(names) != 1 or notes):
            raise MidiSetupError(f"--mpe plays one pitch node, the graph has {len(names)} and {len(notes)} notes nodes")
        channels = [ch for ch in range(self.config.channel, 16) if ch != DRUM_CHANNEL or not notes]
        if len(names) + len(notes) > len(channels):
            raise MidiSetupError(f"{len(names) + len(notes)} pitch and notes nodes from channel "
                                 f"{self.config.channel + 1} need more than the channels left")
        self.voices = {name: PitchVoice(replace(self.config, channel=channels[i]), name) for i, name in enumerate(names)}
        self.voices |= {name: NoteVoice(channels[len(names) + i], name) for i, name in enumerate(notes)}
        for voice in self.voices.values():
            self._deliver(voice.setup(0.0), immediate=True)

    def send(self, events: list[Event]) -> None:
        """Feed each pitch node's frames to its voice; deliver what they decide."""
        voices = self.voices
        for event in events:
            voice = voices.get(event.node)
            if voice is None:
                continue
            v = event.values
            if isinstance(voice, NoteVoice):
                out = voice.event(event.t, bool(v.get("on")), int(v.get("pitch", 0)), int(v.get("velocity", 0)),
                                  bool(v.get("drum")))
            else:
                out = voice.frame(event.t, float(v.get("f0_hz", 0.0)), bool(v.get("voiced", False)))
            self._last_t = event.t
            if out:
                self._deliver(out)

    def status(self, stats: dict) -> None:
        """Status records are not MIDI."""

    def reset(self) -> None:
        """The engine was reset: every sounding note ends now (at the last frame seen)."""
        self._all_off(immediate=True)

    def _all_off(self, immediate: bool) -> None:
        for voice in self.voices.values():
            out = voice.all_off(self._last_t)
            if out:
                self._deliver(out, immediate=immediate)

    def _deliver(self, messages: list[MidiMessage], immediate: bool = False) -> None:
        """Take ``messages`` (in time order); ``immediate``: send now, not at their time (live)."""
        raise NotImplementedError


class MidiFileSink(MidiSink):
    """A Standard MIDI File (type 0, 960 ticks per beat at 120 bpm: 0.52 ms per tick), every
    message at ``t``, the instant of the audio it describes (so it lines up with the input).

    Written like every rtmir output (``output_path``): checked first, ``NAME.part`` while
    streaming, moved into place by ``close()`` (which ends every sounding note first),
    deleted by ``discard()``.

    Args:
        path: the ``.mid`` file.
        config: voice rules.
        option: the command-line option named in errors.
        inputs: the run's input files (refused as a target).

    Raises:
        MidiSetupError: ``mido`` is not installed (``pip install 'rtmir[midi]'``).
        OutputError: the target is refused or cannot be created.
    """

    def __init__(self, path: str | Path, config: VoiceConfig = VoiceConfig(), option: str = "--midi-file",
                 inputs=()) -> None:
        try:
            import mido  # noqa: F401
        except ImportError:
            raise MidiSetupError(f"{option} needs the mido package: pip install 'rtmir[midi]'") from None
        super().__init__(config)
        self.path = check_output(path, option, inputs)
        if self.path.suffix.lower() not in (".mid", ".midi", ".smf"):
            raise OutputError(f"{option}: {self.path} is not a MIDI file name (use .mid)")
        self._option = option
        self._out = PartFile(self.path, "wb", option)
        self._held: list[MidiMessage] = []

    def _deliver(self, messages: list[MidiMessage], immediate: bool = False) -> None:
        self._held.extend(messages)
        self.messages += len(messages)

    def close(self) -> None:
        """End every sounding note, write the file and move it into place (idempotent)."""
        if self._out.committed:
            return
        self._all_off(immediate=False)
        self._write()
        self._out.commit()

    def discard(self) -> None:
        """Delete the unfinished file (a run that failed before streaming)."""
        self._out.discard()

    def _write(self) -> None:
        import mido

        track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=TEMPO_US, time=0)])
        per_s = TICKS_PER_BEAT * 1_000_000 / TEMPO_US
        now = 0
        for msg in sorted(self._held, key=lambda x: x.t):  # stable: a note's off stays before the next on
            tick = max(0, round(msg.t * per_s))
            track.append(mido.Message.from_bytes(list(msg.data), time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
        song = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT, tracks=[track])
        song.save(file=self._out.file)

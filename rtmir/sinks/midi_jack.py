"""``--midi jack:NAME``: MIDI out on a JACK MIDI port, frame-accurate, at a fixed declared latency.

    worker thread                                   JACK process callback (client "rtmir-midi")
    ─────────────                                   ───────────────────────────────────────────
    MidiSink.send ─► message, due stream frame ─►  queue (preallocated slots, one writer, one reader)
                                                   ─► due + (JACK frame − stream frame) ─► write at
                                                      its offset in the cycle it falls in

Timing. A message describing the audio at stream time ``t`` is due at stream frame
``t × rate + latency_frames(node)``, where ``latency_frames`` = the node's declared latency
(``core.latency.total_ms``: upstream + algorithmic + buffering) + the voice's decision frames +
the live host's output slack (``output_latency_blocks`` blocks, the same slack audio output has to
cover compute). The live host's audio callback stamps, every callback, JACK's frame time of the
first frame it was given (``AudioSide.jack_offset`` = JACK frame − stream frame), so the port
writes each message at exactly ``due + jack_offset`` in JACK time: the event sits ``latency_frames``
after the audio that caused it entered rtmir's input port, whatever the worker's jitter. A message
the worker delivered too late for its frame goes out at the start of the next cycle and is counted
(``late``, ``max_late_frames``) — never dropped, never a stall.

Real-time safety of the callback: it reads ints and preallocated slots and calls JACK's event
writer; no lock, no allocation of arrays, no logging. Setup and note-off messages on reset and
close are "immediate": they go out in the next cycle.
"""
from __future__ import annotations

import time

from ..midi.messages import MidiMessage
from ..midi.voice import VoiceConfig
from .midi import MidiSetupError, MidiSink

#: queue slots (a power of two); messages beyond it are counted as dropped (about 40 s of bends)
SLOTS = 4096
#: how long ``close`` waits for the queue to empty (seconds)
FLUSH_S = 1.0


class JackMidiSink(MidiSink):
    """Pitch and notes voices on a JACK MIDI output port ``<client>:<port>``.

    Args:
        port: the port's short name (``--midi jack:NAME`` → ``rtmir-midi:NAME``).
        config: voice rules.
        client_name: the JACK client to register.
        server: JACK server name (None: the default, ``$JACK_DEFAULT_SERVER``).

    Attributes:
        sent, late, dropped: messages written, written after their frame, lost to a full queue.
        max_late_frames: the latest a message was written past its due frame.
        latency_frames: per node, the declared latency its messages are due at (after ``bind_live``).

    Raises:
        MidiSetupError: no JACK-Client package, or no JACK server to register with.
    """

    def __init__(self, port: str, config: VoiceConfig = VoiceConfig(), client_name: str = "rtmir-midi",
                 server: str | None = None) -> None:
        try:
            import jack
        except ImportError:
            raise MidiSetupError("--midi jack:NAME needs the JACK-Client package: pip install 'rtmir[midi]'") from None
        super().__init__(config)
        if not port or ":" in port:
            raise MidiSetupError(f"--midi jack:NAME: bad port name {port!r} (a short name, no ':')")
        kwargs = {"servername": server} if server else {}
        try:
            self.client = jack.Client(client_name, no_start_server=True, **kwargs)
        except jack.JackError as exc:
            raise MidiSetupError(f"--midi jack:{port}: no JACK server to register with ({exc})") from None
        self._jack_error = jack.JackError
        self.port = self.client.midi_outports.register(port)
        self.name = self.port.name
        self._due: list[int | None] = [None] * SLOTS
        self._data: list[bytes] = [b""] * SLOTS
        self._head = self._tail = 0
        self.sent = self.late = self.dropped = self.max_late_frames = 0
        self.cycles = 0
        self._closed = False
        self.latency_frames: dict[str, int] = {}
        self._rate: int | None = None
        self._side = None  # the live host's AudioSide: its jack_offset = JACK frame − stream frame
        self.client.set_process_callback(self._process)
        self.client.activate()

    def connect(self, destination: str) -> None:
        """Connect the port to the JACK MIDI input ``destination`` (``client:port``).

        Raises:
            MidiSetupError: no such MIDI input, or JACK refused the connection.
        """
        found = self.client.get_ports(destination, is_midi=True, is_input=True)
        if not any(p.name == destination for p in found):
            raise MidiSetupError(f"--midi-connect {destination}: no JACK MIDI input of that name")
        try:
            self.client.connect(self.port, destination)
        except self._jack_error as exc:
            raise MidiSetupError(f"--midi-connect {destination}: {exc}") from None

    # -- binding (before the stream) -------------------------------------------------------
    def frame_clock(self) -> int:
        """JACK's frame time of the current cycle's first frame (for the audio callback)."""
        return self.client.last_frame_time

    def bind_live(self, side, rate: int, slack_frames: int, engine) -> None:
        """Called by the live host after ``engine.prepare``, before the stream starts: the audio
        callback (``side``, a ``live_worker.AudioSide``) stamps JACK time with this client's clock
        into ``side.jack_offset``, which the port reads.

        Args:
            side: the live host's audio side.
            rate: the stream's sample rate (Hz).
            slack_frames: the host's output slack (frames).
            engine: the prepared engine (its latency report gives each node's declared latency).
        """
        from ..core.latency import total_ms

        rows = {r["processor"]: r for r in engine.latency_report()}
        for name, voice in self.voices.items():
            hop_frames = rows[name]["hop_buffering_ms"] * rate / 1000.0
            declared = total_ms(rows[name]) * rate / 1000.0 + voice.decision_frames * hop_frames
            self.latency_frames[name] = int(round(declared)) + slack_frames
        side.clock = self.frame_clock
        self._rate, self._side = rate, side

    def latency_ms(self) -> float:
        """The largest declared latency of the port (ms), 0 before ``bind_live``."""
        if not self._rate or not self.latency_frames:
            return 0.0
        return 1000.0 * max(self.latency_frames.values()) / self._rate

    # -- worker side ------------------------------------------------------------------------
    def _deliver(self, messages: list[MidiMessage], immediate: bool = False) -> None:
        rate = self._rate
        for msg in messages:
            if self._head - self._tail >= SLOTS:
                self.dropped += 1
                continue
            i = self._head & (SLOTS - 1)
            due = None
            if not immediate and rate is not None:
                due = round(msg.t * rate) + self.latency_frames.get(msg.node, 0)
            self._due[i], self._data[i] = due, msg.data
            self._head += 1  # published last: the callback never sees a half-written slot
            self.messages += 1

    # -- JACK process callback (real-time) ---------------------------------------------------
    def _process(self, frames: int) -> None:
        self.port.clear_buffer()
        self.cycles += 1
        tail, head = self._tail, self._head
        if tail == head:
            return
        offset = self._side.jack_offset if self._side is not None else None
        start = self.client.last_frame_time
        at_least = 0
        while tail != head:
            i = tail & (SLOTS - 1)
            due = self._due[i]
            if due is None:
                at = 0
            else:
                if offset is None:  # the stream has not started: no JACK time for it yet
                    break
                due += offset
                if due >= start + frames:
                    break
                at = due - start
                if at < 0:
                    self.late += 1
                    self.max_late_frames = max(self.max_late_frames, -at)
                    at = 0
            at = max(at, at_least)  # JACK wants events in time order within a cycle
            try:
                self.port.write_midi_event(at, self._data[i])
            except self._jack_error:  # the port's buffer is full this cycle: the rest next cycle
                break
            at_least = at
            tail += 1
            self.sent += 1
        self._tail = tail

    # -- end --------------------------------------------------------------------------------
    def close(self) -> None:
        """End every sounding note, wait (≤ 1 s) until the port has written everything, close."""
        if self._closed:
            return
        self._closed = True
        self._all_off(immediate=True)
        deadline, seen = time.monotonic() + FLUSH_S, self.cycles
        alive_at = time.monotonic()
        while self._tail != self._head and time.monotonic() < deadline:
            time.sleep(0.005)
            if self.cycles != seen:
                seen, alive_at = self.cycles, time.monotonic()
            elif time.monotonic() - alive_at > 0.25:  # the server stopped running cycles
                return  # deactivating a client of a dead server can hang: leave it
        self.client.deactivate()
        self.client.close()

    def discard(self) -> None:
        """Nothing was streamed: close the client."""
        self.close()

"""MIDI out: results turned into MIDI messages (``voice``: the pitch tracker as a MIDI voice) and
the transports that deliver them (``rtmir/sinks/midi_file.py``, ``rtmir/sinks/midi_jack.py``)."""

"""The ``rtmir devices`` table (pure formatting; the JACK listing is in test_live_jack.py)."""
from __future__ import annotations

from rtmir.hosts.devices import NO_DEVICES, format_devices

ROWS = [
    {"index": 0, "name": "system", "hostapi": "JACK Audio Connection Kit", "max_input_channels": 2,
     "max_output_channels": 2, "default_samplerate": 48000.0, "default_input": True, "default_output": False},
    {"index": 3, "name": "USB mic", "hostapi": "ALSA", "max_input_channels": 1,
     "max_output_channels": 0, "default_samplerate": 44100.0, "default_input": False, "default_output": True},
]


def test_table_marks_defaults_and_shows_channels_and_rates():
    lines = format_devices(ROWS).splitlines()
    assert lines[1].startswith(">    0  system") and lines[1].split()[-3:] == ["2", "2", "48000"]
    assert lines[2].startswith(" <   3  USB mic") and lines[2].split()[-3:] == ["1", "0", "44100"]
    assert lines[-1] == "> default input, < default output"


def test_no_devices_is_one_clear_line():
    assert format_devices([]) == NO_DEVICES and "\n" not in NO_DEVICES

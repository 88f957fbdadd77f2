"""The terminal display's rows: a bar per family for tags, note name and confidence for pitch."""
from __future__ import annotations

from rtmir.core.processor import Event
from rtmir.sinks.display import DisplaySink, bar, note_name


def test_bars_are_proportional_in_eighths_and_clamped():
    assert bar(0.0) == " " * 10 + " 0.00"
    assert bar(1.0) == "█" * 10 + " 1.00"
    assert bar(0.55).startswith("█████▌") and bar(0.55).endswith("0.55")
    assert bar(1.7) == bar(1.0) and bar(-1) == bar(0.0)


def test_tags_rows_show_every_family_in_the_models_order():
    e = Event("tags", 1.0, {"tags": {"piano": 0.9, "bass": 0.1, "drums": 0.5}})
    value, conf = DisplaySink.describe(e, "tags")
    lines = value.split("\n")
    assert [line.split()[0] for line in lines] == ["piano", "bass", "drums"] and conf == ""
    assert lines[0].endswith("0.90") and lines[1].startswith("bass ") and len({len(x) for x in lines}) == 1


def test_pitch_rows_name_the_note():
    value, conf = DisplaySink.describe(Event("pitch", 0.5, {"f0_hz": 440.0, "voiced": True, "confidence": 0.8}), "pitch")
    assert value.startswith("A4 +0¢") and conf.endswith("0.80") and note_name(0.0) == ""

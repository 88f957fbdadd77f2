"""``--fmin/--fmax``: the pitch model searches only the range and says unvoiced for a pitch it
hears outside it (never the nearest wrong pitch inside); YIN searches its range at any fmin."""
from __future__ import annotations

import numpy as np
import pytest

from jack_tools import CaptureSink
from rtmir.core.engine import Engine
from rtmir.tasks.registry import build_processor
from rtmir.tasks.yin import YinConfig, YinProcessor

RATE = 44100


def _events(proc, f0: float = 440.0):
    t = np.arange(2 * RATE) / RATE
    x = (0.5 * np.sin(2 * np.pi * f0 * t)).astype(np.float32)[None, :]
    sink = CaptureSink()
    engine = Engine([proc], [sink])
    engine.prepare(RATE, 1, 4096)
    for i in range(0, x.shape[1], 4096):
        engine.push(np.ascontiguousarray(x[:, i:i + 4096]))
    return [e.values for e in sink.events if 0.2 < e.t < 1.8]


@pytest.mark.parametrize("lo, hi, voiced", [(None, None, True), (300.0, 1000.0, True), (100.0, 300.0, False),
                                              (600.0, None, False)])
def test_the_pitch_model_searches_the_range_and_is_unvoiced_outside_it(lo, hi, voiced):
    p = build_processor("pitch")
    for name, value in (("fmin_hz", lo), ("fmax_hz", hi)):
        if value is not None:
            p.set_param(name, value)
    ev = _events(p)
    share = np.mean([e["voiced"] for e in ev])
    if voiced:
        assert share > 0.95 and abs(np.median([e["f0_hz"] for e in ev]) - 440) < 3
    else:  # the model hears 440 Hz, outside: low confidence, not a wrong pitch inside the range
        assert share < 0.02 and np.median([e["confidence"] for e in ev]) < 0.2


def test_the_range_is_declared_checked_and_an_inverted_one_is_empty():
    p = build_processor("pitch")
    specs = {q.name: q for q in p.describe().params}
    lo, hi = specs["fmin_hz"].low, specs["fmax_hz"].high
    assert (specs["fmin_hz"].default, specs["fmax_hz"].default) == (lo, hi) and lo < 40 and hi > 4000
    with pytest.raises(ValueError):
        specs["fmin_hz"].check(lo / 2)
    p.set_param("fmax_hz", 500.0)
    p.set_param("fmin_hz", 600.0)  # two independent knobs: the range is empty now
    assert p.params()["fmin_hz"] == 600.0
    assert not any(e["voiced"] for e in _events(p))


@pytest.mark.parametrize("fmin", [300.0, 400.0])
def test_yin_streams_with_a_high_fmin(fmin):
    """A frame shorter than a hop once left samples unread (a broadcast error at fmin 300)."""
    ev = _events(YinProcessor(YinConfig(fmin_hz=fmin, fmax_hz=1000.0)))
    assert np.mean([e["voiced"] for e in ev]) > 0.95
    assert abs(np.median([e["f0_hz"] for e in ev]) - 440) < 1

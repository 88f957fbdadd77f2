"""Fixtures for training.synth tests.

Tests marked ``fluidsynth`` render audio with FluidSynth (libfluidsynth and the CLI) and the three
soundfonts (Debian: fluidsynth, fluid-soundfont-gm, timgm6mb-soundfont,
musescore-general-soundfont); they fail, never skip, where those are missing. Select or deselect
them with ``-m fluidsynth``. Markers are registered in pyproject.toml.
"""
from __future__ import annotations

import functools
from pathlib import Path

import pytest

from training.synth.render import RenderConfig, Renderer, measure_onset_offset
from training.synth.soundfonts import resolve_soundfont


@pytest.fixture(scope="session")
def renderer():
    """A 44.1 kHz lib-backend renderer shared by the session (soundfonts stay loaded)."""
    r = Renderer(RenderConfig(44100))
    yield r
    r.close()


@pytest.fixture(scope="session")
def fonts(renderer):
    """Callable: soundfont name -> (path, onset offset in samples at 44.1 kHz), measured once."""

    @functools.lru_cache(maxsize=None)
    def font(name: str) -> tuple[Path, int]:
        path = resolve_soundfont(name)
        return path, measure_onset_offset(path, renderer)

    return font

"""An in-process FluidSynth (libfluidsynth via ctypes) that keeps a soundfont loaded.

The CLI reloads the soundfont for every file: 0.2 s for FluidR3_GM, but ~1.7 s for the compressed
MuseScore_General.sf3, per stem. ``LibSynth`` loads it once and renders many MIDI files with the
same settings as ``fluidsynth -ni -R 0 -C 0 -F out -r SR -g GAIN`` (the CLI's fast render: the
MIDI player timed by the synth's sample clock, 64-sample blocks). Each file is played by a fresh
synth that shares the loaded soundfont, so it starts exactly as a fresh CLI process does;
``tests/training/synth`` checks the output equals the CLI's.

Not thread-safe; one ``LibSynth`` per process.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

import numpy as np

BLOCK = 64
"""FluidSynth's internal block (its MIDI player runs once per block), samples."""

_LOG_LEVELS = range(5)  # FLUID_PANIC .. FLUID_DBG


class LibFluidError(RuntimeError):
    """libfluidsynth is missing, or refused a soundfont or a MIDI file."""


def _load() -> ctypes.CDLL:
    """Open libfluidsynth and declare the functions used.

    Raises:
        LibFluidError: not installed.
    """
    name = ctypes.util.find_library("fluidsynth")
    if name is None:
        raise LibFluidError("libfluidsynth not found: install it (apt-get install libfluidsynth3)")
    lib = ctypes.CDLL(name)
    p, i, s = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
    sigs = {
        "new_fluid_settings": (p, []), "delete_fluid_settings": (None, [p]),
        "fluid_settings_setint": (i, [p, s, i]), "fluid_settings_setnum": (i, [p, s, ctypes.c_double]),
        "fluid_settings_setstr": (i, [p, s, s]),
        "new_fluid_synth": (p, [p]), "delete_fluid_synth": (None, [p]),
        "fluid_synth_sfload": (i, [p, s, i]), "fluid_synth_get_sfont_by_id": (p, [p, i]),
        "fluid_synth_add_sfont": (i, [p, p]), "fluid_synth_remove_sfont": (i, [p, p]),
        "fluid_synth_write_float": (i, [p, i, p, i, i, p, i, i]),
        "new_fluid_player": (p, [p]), "delete_fluid_player": (None, [p]),
        "fluid_player_add_mem": (i, [p, p, ctypes.c_size_t]), "fluid_player_play": (i, [p]),
        "fluid_player_get_status": (i, [p]), "fluid_player_stop": (i, [p]),
        "fluid_set_log_function": (p, [i, p, p]),
    }
    for fn, (res, args) in sigs.items():
        getattr(lib, fn).restype = res
        getattr(lib, fn).argtypes = args
    for level in _LOG_LEVELS:  # silence FluidSynth's own logging (errors surface as return codes)
        lib.fluid_set_log_function(level, None, None)
    return lib


class LibSynth:
    """One soundfont kept loaded in-process; every file is played by a fresh synth sharing it.

    A fresh synth per file (cheap: the samples stay in the loaded soundfont), written one 64-sample
    block per call like the CLI's file renderer, reproduces the CLI exactly. (Reusing one synth
    does not: its mixer renders ahead, so a reset synth still hands out blocks rendered before the
    reset. Writing many blocks per call does not either: queued note-offs then wait for the next
    call.)

    Args:
        soundfont: .sf2/.sf3 path.
        sample_rate: Hz.
        gain: master gain (the CLI's ``-g``).

    Raises:
        LibFluidError: libfluidsynth missing or the soundfont failed to load.
    """

    def __init__(self, soundfont: Path, sample_rate: int, gain: float):
        self._lib = _load()
        lib = self._lib
        self._settings = lib.new_fluid_settings()
        lib.fluid_settings_setnum(self._settings, b"synth.sample-rate", float(sample_rate))
        lib.fluid_settings_setnum(self._settings, b"synth.gain", float(gain))
        lib.fluid_settings_setint(self._settings, b"synth.reverb.active", 0)
        lib.fluid_settings_setint(self._settings, b"synth.chorus.active", 0)
        lib.fluid_settings_setint(self._settings, b"synth.lock-memory", 0)
        lib.fluid_settings_setstr(self._settings, b"player.timing-source", b"sample")
        self._holder = lib.new_fluid_synth(self._settings)  # owns the loaded soundfont
        sfont_id = lib.fluid_synth_sfload(self._holder, str(soundfont).encode(), 0) if self._holder else -1
        if sfont_id < 0:
            self.close()
            raise LibFluidError(f"libfluidsynth could not load {soundfont}")
        self._sfont = lib.fluid_synth_get_sfont_by_id(self._holder, sfont_id)
        self.sample_rate = sample_rate

    def render(self, midi: bytes, n_samples: int) -> np.ndarray:
        """Play a MIDI file from the start for ``n_samples`` samples.

        Returns:
            ``[2, n_samples]`` float32, equal to the CLI's render (``render.render_midi_cli``) cut
            to that length.

        Raises:
            LibFluidError: the MIDI file was refused.
        """
        lib = self._lib
        synth = lib.new_fluid_synth(self._settings)
        player = None
        try:
            if not synth or lib.fluid_synth_add_sfont(synth, self._sfont) < 0:
                raise LibFluidError("libfluidsynth could not start a synth")
            player = lib.new_fluid_player(synth)
            buf = ctypes.create_string_buffer(midi, len(midi))
            if not player or lib.fluid_player_add_mem(player, buf, len(midi)) != 0 or lib.fluid_player_play(player) != 0:
                raise LibFluidError("libfluidsynth refused a MIDI file")
            out = np.zeros((2, -(-n_samples // BLOCK) * BLOCK), np.float32)
            left, right, write = out[0].ctypes.data, out[1].ctypes.data, lib.fluid_synth_write_float
            for byte_offset in range(0, out.shape[1] * 4, BLOCK * 4):  # one block per call, as the CLI
                write(synth, BLOCK, left + byte_offset, 0, 1, right + byte_offset, 0, 1)
            return out[:, :n_samples]
        finally:
            if player:
                lib.fluid_player_stop(player)
                lib.delete_fluid_player(player)
            if synth:
                lib.fluid_synth_remove_sfont(synth, self._sfont)  # the holder still owns it
                lib.delete_fluid_synth(synth)

    def close(self) -> None:
        """Free the synth holding the soundfont, and the settings (idempotent)."""
        if getattr(self, "_holder", None):
            self._lib.delete_fluid_synth(self._holder)
            self._holder = None
        if getattr(self, "_settings", None):
            self._lib.delete_fluid_settings(self._settings)
            self._settings = None

    def __del__(self):
        self.close()

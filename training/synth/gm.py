"""General MIDI: program numbers, instrument families and realistic playing ranges.

Program numbers are 0-based (0 = Acoustic Grand Piano, the GM spec's "1"). Drums are not a
program: they are MIDI channel 10 (index 9), and form the family ``"drums"``.

Only the families listed in ``FAMILIES`` are generated; GM's synth-effects, ethnic, percussive and
sound-effects programs (96..127) are never drawn, so every note belongs to one of these families.
"""
from __future__ import annotations

from dataclasses import dataclass

FAMILIES: tuple[str, ...] = (
    "piano", "chromatic_percussion", "organ", "guitar", "bass", "strings", "ensemble",
    "brass", "reed", "pipe", "synth_lead", "synth_pad", "drums",
)
"""Instrument families, in the order of the family-activity label's rows."""

DRUM_CHANNEL = 9
"""MIDI channel index of GM percussion (channel 10 in 1-based numbering)."""


@dataclass(frozen=True)
class Instrument:
    """One GM melodic instrument as the generators use it.

    Attributes:
        program: GM program number, 0..95.
        name: GM name.
        low: lowest MIDI note it plays (its realistic range, not the soundfont's).
        high: highest MIDI note it plays.
        continuous: True if the pitch can bend and sustain (bowed, blown, sung, synth): vibrato
            and glides are only generated for these.
        roles: which parts it may play: "melody", "bass", "chords".
    """

    program: int
    name: str
    low: int
    high: int
    continuous: bool
    roles: tuple[str, ...]

    @property
    def family(self) -> str:
        """The instrument family (one of ``FAMILIES``)."""
        return family_of_program(self.program)


def family_of_program(program: int) -> str:
    """Family of a GM program (0..95); GM groups programs by eights.

    Raises:
        ValueError: program outside 0..95 (families we do not generate).
    """
    if not 0 <= program < 96:
        raise ValueError(f"GM program {program} is outside the generated families (0..95)")
    return FAMILIES[program // 8]


M, B, C = ("melody",), ("bass",), ("chords",)
MC = ("melody", "chords")

# program, name, low, high, continuous pitch, roles. Ranges: orchestration references (e.g.
# Adler), narrowed to the comfortable register so the rendered samples stay realistic, except
# where the pitch v2 issue needs the real extremes: piano A0-C8, 5-string bass B0, contrabass
# with its C extension, organ pedals C1, tuba D1, piccolo and celesta to C8, violin to G7.
_TABLE: tuple[tuple[int, str, int, int, bool, tuple[str, ...]], ...] = (
    (0, "Acoustic Grand Piano", 21, 108, False, MC),
    (1, "Bright Acoustic Piano", 21, 108, False, MC),
    (2, "Electric Grand Piano", 21, 108, False, MC),
    (4, "Electric Piano 1", 28, 100, False, MC),
    (5, "Electric Piano 2", 28, 100, False, MC),
    (6, "Harpsichord", 29, 89, False, MC),
    (8, "Celesta", 60, 108, False, M),
    (9, "Glockenspiel", 79, 108, False, M),
    (11, "Vibraphone", 53, 89, False, MC),
    (12, "Marimba", 36, 96, False, MC),
    (13, "Xylophone", 65, 108, False, M),
    (16, "Drawbar Organ", 24, 96, True, MC),
    (17, "Percussive Organ", 24, 96, False, MC),
    (18, "Rock Organ", 24, 96, True, MC),
    (19, "Church Organ", 24, 96, True, MC),
    (21, "Accordion", 53, 89, True, MC),
    (22, "Harmonica", 60, 96, True, M),
    (24, "Acoustic Guitar (nylon)", 40, 83, False, MC),
    (25, "Acoustic Guitar (steel)", 40, 83, False, MC),
    (26, "Electric Guitar (jazz)", 40, 86, False, MC),
    (27, "Electric Guitar (clean)", 40, 86, False, MC),
    (29, "Overdriven Guitar", 40, 86, True, M),
    (32, "Acoustic Bass", 28, 67, False, B),
    (33, "Electric Bass (finger)", 23, 67, False, B),
    (34, "Electric Bass (pick)", 23, 67, False, B),
    (35, "Fretless Bass", 23, 67, True, B),
    (38, "Synth Bass 1", 24, 60, False, B),
    (39, "Synth Bass 2", 24, 60, False, B),
    (40, "Violin", 55, 103, True, M),
    (41, "Viola", 48, 88, True, M),
    (42, "Cello", 36, 81, True, M),
    (43, "Contrabass", 24, 60, True, B),
    (45, "Pizzicato Strings", 36, 84, False, M),
    (46, "Orchestral Harp", 36, 96, False, MC),
    (48, "String Ensemble 1", 36, 91, True, C),
    (49, "String Ensemble 2", 36, 91, True, C),
    (50, "Synth Strings 1", 36, 91, True, C),
    (52, "Choir Aahs", 48, 79, True, C),
    (53, "Voice Oohs", 48, 79, True, M),
    (56, "Trumpet", 54, 84, True, M),
    (57, "Trombone", 40, 72, True, M),
    (58, "Tuba", 26, 60, True, B),
    (59, "Muted Trumpet", 54, 82, True, M),
    (60, "French Horn", 41, 77, True, M),
    (61, "Brass Section", 40, 84, True, C),
    (64, "Soprano Sax", 56, 87, True, M),
    (65, "Alto Sax", 49, 80, True, M),
    (66, "Tenor Sax", 44, 75, True, M),
    (67, "Baritone Sax", 36, 69, True, M),
    (68, "Oboe", 58, 91, True, M),
    (69, "English Horn", 52, 81, True, M),
    (70, "Bassoon", 34, 75, True, M),
    (71, "Clarinet", 50, 91, True, M),
    (72, "Piccolo", 74, 108, True, M),
    (73, "Flute", 60, 98, True, M),
    (74, "Recorder", 60, 86, True, M),
    (75, "Pan Flute", 60, 91, True, M),
    (77, "Shakuhachi", 55, 84, True, M),
    (78, "Whistle", 72, 103, True, M),
    (79, "Ocarina", 60, 84, True, M),
    (80, "Lead 1 (square)", 48, 96, True, M),
    (81, "Lead 2 (sawtooth)", 48, 96, True, M),
    (82, "Lead 3 (calliope)", 55, 96, True, M),
    (85, "Lead 6 (voice)", 48, 84, True, M),
    (87, "Lead 8 (bass + lead)", 40, 84, True, M),
    (88, "Pad 1 (new age)", 40, 88, True, C),
    (89, "Pad 2 (warm)", 40, 88, True, C),
    (90, "Pad 3 (polysynth)", 40, 88, True, C),
    (91, "Pad 4 (choir)", 40, 84, True, C),
    (92, "Pad 5 (bowed)", 40, 88, True, C),
    (94, "Pad 7 (halo)", 40, 88, True, C),
    (95, "Pad 8 (sweep)", 40, 88, True, C),
)

INSTRUMENTS: tuple[Instrument, ...] = tuple(Instrument(*row) for row in _TABLE)
"""Every melodic instrument the generators may draw, ordered by program."""

BY_PROGRAM: dict[int, Instrument] = {inst.program: inst for inst in INSTRUMENTS}
"""Instrument of each program in ``INSTRUMENTS``."""


def instruments_for(role: str) -> tuple[Instrument, ...]:
    """Instruments that may play ``role`` ("melody", "bass" or "chords")."""
    return tuple(inst for inst in INSTRUMENTS if role in inst.roles)


def mono_instruments() -> tuple[Instrument, ...]:
    """Instruments for monophonic clips: every melody and bass instrument (all 12 melodic
    families appear; synth pads and ensembles play single lines too)."""
    return INSTRUMENTS


# GM percussion key map (channel 10), the notes the drum patterns use.
KICK, SIDE_STICK, SNARE, CLAP, SNARE_2 = 36, 37, 38, 39, 40
TOM_LOW, HAT_CLOSED, TOM_MID, HAT_PEDAL, TOM_HIGH, HAT_OPEN = 45, 42, 47, 44, 50, 46
CRASH, RIDE, RIDE_BELL, TAMBOURINE, COWBELL = 49, 51, 53, 54, 56
BONGO_HI, BONGO_LO, CONGA_MUTE, CONGA_OPEN, CONGA_LO = 60, 61, 62, 63, 64
SHAKER, CLAVES, CABASA = 70, 75, 69

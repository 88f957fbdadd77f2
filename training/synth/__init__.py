"""Multi-stem music synthesized from MIDI with FluidSynth, with exact labels (issue #4).

Like Slakh2100, but generated here: seeded MIDI (monophonic melodies, or multi-track pieces with
drums, bass, comping and a melody) is rendered stem by stem with General MIDI soundfonts, so f0,
notes, instrument families and stems are known exactly.

Modules, one concern each:

- ``gm``: General MIDI programs, families and instrument ranges.
- ``score``: the in-memory score (notes, pitch bends, tracks; integer MIDI ticks).
- ``midi``: score -> Standard MIDI File bytes (deterministic).
- ``theory``: scales, modes, chords and progressions.
- ``melody`` / ``drums`` / ``arrange``: the generators (monophonic melody, drum patterns,
  multi-track pieces).
- ``soundfonts``: soundfont paths by name.
- ``render``: FluidSynth rendering of stems and onset-offset measurement.
- ``labels``: f0 (100 frames/s), note lists and family activity from a score.
- ``augment``: gain, noise, reverb, EQ, channels and sample-rate changes, applied to every stem.
- ``build``: one example on disk, and a whole dataset (multiprocessing, resumable, manifest).
- ``dataset``: the PyTorch ``Dataset`` (the only module that imports torch).
- ``bench``: rendering throughput and label alignment per soundfont.

CLI: ``python -m training.synth --kind mono|multi --split train|val --n N --out DIR``.
"""

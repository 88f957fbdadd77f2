"""Notes → MIDI (issue #18): evaluations of rtmir's MIDI voices (the polyphonic model comes next)."""

"""Strictness: how much ``rtmir validate`` runs, from 1 (a smoke test) to 10 (a long soak).

Like pluginval's strictness, a higher level runs the same checks on more material; it never
loosens a tolerance. 5 is what every shipped task must pass; CI runs 3.

    level  block sequences  run length  host rates (Hz)                    channels  silence  fuzz  onsets
      1          1            1.00 s    48000                              1 2        12 s     2      3
      2          2            1.25 s    44100 48000                        1 2 6      24 s     3      3
      3          3            1.50 s    8000 44100 48000                   1 2 6      36 s     4      3
      4          4            1.75 s    8000 44100 48000 96000             1 2 6      48 s     5      6
      5          5            2.00 s    all six: 8000 … 192000             1 2 6      60 s     6      6
      …          s          1 + (s-1)/4 all six                            1 2 6    12·s s    s+1  3·(1+s//4)
     10         10            3.25 s    all six                            1 2 6     120 s    11      9
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

#: Every host rate a processor must run at (the engine resamples to the processor's own).
ALL_RATES = (8000, 22050, 44100, 48000, 96000, 192000)
#: Host channel counts (the engine downmixes to mono or copies mono, as the processor needs).
ALL_CHANNELS = (1, 2, 6)
#: The host rate of checks that are not about rates (the live default).
HOST_RATE = 48000
#: Largest host block a host may push (``FileHost`` refuses more); random sequences reach it.
MAX_BLOCK = 8192

#: The checks, in table order (``runner.CHECKS`` maps each to its function).
CHECK_NAMES = ("blocks", "rates", "stream", "reset", "instances", "threads", "determinism", "silence", "extremes",
               "params", "refuse", "latency", "timing")

_RATES_BY_LEVEL = {1: (48000,), 2: (44100, 48000), 3: (8000, 44100, 48000), 4: (8000, 44100, 48000, 96000)}


@dataclass(frozen=True)
class Level:
    """What one strictness level runs.

    Attributes:
        strictness: 1…10.
        sequences: random host block sequences per comparison (``blocks``, ``stream``).
        seconds: length of the test programme in the equality checks, s.
        rates: host rates covered by ``rates`` (Hz).
        channels: host channel counts covered by ``rates``.
        silence_seconds: audio of silence in ``silence``, s (60 at level 5: "a minute").
        fuzz_values: random in-range values per parameter in ``params``, besides low, default, high.
        onsets: tone onsets (trials) measured per event port in ``latency``.
    """

    strictness: int
    sequences: int
    seconds: float
    rates: tuple[int, ...]
    channels: tuple[int, ...]
    silence_seconds: float
    fuzz_values: int
    onsets: int

    def as_json(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """One line: what this level runs."""
        rates = "/".join(f"{r // 1000 if r % 1000 == 0 else r / 1000:g}k" for r in self.rates)
        return (f"strictness {self.strictness}: {self.sequences} block sequence(s), {self.seconds:g} s runs, "
                f"rates {rates} Hz, channels {'/'.join(map(str, self.channels))}, "
                f"{self.silence_seconds:g} s of silence, {self.fuzz_values} fuzz values, {self.onsets} onsets")


def level(strictness: int) -> Level:
    """The ``Level`` of ``strictness`` (table in the module docstring).

    Raises:
        ValueError: ``strictness`` outside 1…10.
    """
    s = int(strictness)
    if not 1 <= s <= 10:
        raise ValueError(f"strictness must be 1…10, got {strictness}")
    return Level(
        strictness=s,
        sequences=s,
        seconds=1.0 + (s - 1) / 4,
        rates=_RATES_BY_LEVEL.get(s, ALL_RATES),
        channels=(1, 2) if s == 1 else ALL_CHANNELS,
        silence_seconds=12.0 * s,
        fuzz_values=s + 1,
        onsets=3 * (1 + s // 4),
    )

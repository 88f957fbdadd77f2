"""What one check says about one subject, and what every check is given."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .harness import Facts, Subject
from .levels import Level

PASS, FAIL, NA = "pass", "fail", "n/a"


@dataclass
class Result:
    """One cell of the table.

    Attributes:
        check: the check's name ("blocks", "reset", ...).
        subject: the subject's name.
        status: ``PASS``, ``FAIL`` or ``NA`` (the check does not apply; ``figure`` says why).
        figure: what was measured (or why it does not apply), one line.
        seconds: wall time the check took.
    """

    check: str
    subject: str
    status: str
    figure: str
    seconds: float = 0.0

    def as_json(self) -> dict:
        return {"check": self.check, "processor": self.subject, "status": self.status, "figure": self.figure,
                "seconds": round(self.seconds, 3)}


@dataclass
class Context:
    """What a check is given: the subject, its facts, the level and its own seeded generator."""

    subject: Subject
    facts: Facts
    level: Level
    rng: np.random.Generator

    def result(self, check: str, ok: bool, figure: str) -> Result:
        return Result(check, self.subject.name, PASS if ok else FAIL, figure)

    def na(self, check: str, why: str) -> Result:
        return Result(check, self.subject.name, NA, why)

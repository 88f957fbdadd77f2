"""Fixtures the training tests share."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def band_set(tmp_path_factory):
    """Six 3 s band pieces rendered with TimGM6mb (no augmentation): the smoke runs' data."""
    from training.synth.__main__ import main as synth_main

    out = tmp_path_factory.mktemp("band-smoke") / "band"
    rc = synth_main(["--kind", "band", "--split", "train", "--n", "6", "--duration", "3", "--seed", "5",
                     "--out", str(out), "--workers", "1", "--no-augment", "--soundfont", "TimGM6mb"])
    assert rc == 0
    return out

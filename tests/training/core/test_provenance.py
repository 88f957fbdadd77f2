"""A training record names its datasets from their own manifests (training/core/provenance.py)."""
from __future__ import annotations

import json

from training.core.provenance import dataset_record


def test_dataset_record_reads_command_soundfonts_and_label_convention(tmp_path):
    root = tmp_path / "set"
    (root / "000001").mkdir(parents=True)
    (root / "000000").mkdir()
    (root / "manifest.json").write_text(json.dumps({
        "n": 2, "command": ["python", "-m", "training.synth", "--n", "2", "--labels", "aligned"],
        "soundfonts": [{"name": "TimGM6mb", "path": "/x.sf2"}]}))
    (root / "000000" / "meta.json").write_text(json.dumps({"label_convention": {"name": "aligned-v1", "periods": 3}}))
    (root / "000001" / "meta.json").write_text(json.dumps({"label_convention": {"name": "other"}}))
    rec = dataset_record(root)
    assert rec == {"command": "python -m training.synth --n 2 --labels aligned", "n": 2, "soundfonts": ["TimGM6mb"],
                   "label_convention": {"name": "aligned-v1", "periods": 3}}


def test_older_folders_read_as_midi_timed_and_a_missing_manifest_as_nothing(tmp_path):
    root = tmp_path / "old"
    (root / "000000").mkdir(parents=True)
    (root / "manifest.json").write_text(json.dumps({"n": 1, "command": ["synth"]}))
    (root / "000000" / "meta.json").write_text("{}")
    assert dataset_record(root)["label_convention"] == {"name": "midi"}
    assert dataset_record(tmp_path / "nowhere") == {}

"""Checkpoints (safetensors + config, no code executed) and the ``python -m export`` CLI."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from export import CheckpointError, load_checkpoint, save_checkpoint
from export.__main__ import main
from export.checkpoint import CONFIG_KEY, FAMILY_KEY
from rtmir.session import StreamingSession
from tiny_families import build

pytestmark = pytest.mark.torch


@pytest.mark.parametrize("name", ["mel_lstm", "codec"])
def test_checkpoint_rebuilds_the_same_model(tmp_path, name: str) -> None:
    model = build(name)
    path = save_checkpoint(model, tmp_path / "m.safetensors", training={"seed": 3})
    loaded = load_checkpoint(path)
    assert loaded.config == model.config
    audio = torch.randn(1, 1, 4 * model.hop)
    with torch.no_grad():
        for a, b in zip(model(audio)[:-1], loaded(audio)[:-1]):
            assert torch.equal(a, b)


def test_unknown_config_field_is_refused(tmp_path) -> None:
    model = build("rvq")
    raw = json.loads(json.dumps({**__import__("dataclasses").asdict(model.config), "hopp": 3}))
    path = tmp_path / "bad.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path),
              metadata={FAMILY_KEY: "rvq", CONFIG_KEY: json.dumps(raw)})
    with pytest.raises(CheckpointError, match="unknown fields \\['hopp'\\]"):
        load_checkpoint(path)


def test_cli_exports_a_checkpoint(tmp_path, capsys) -> None:
    ckpt = save_checkpoint(build("mel_tcn"), tmp_path / "tcn.safetensors",
                           training={"command": "x", "data": "y", "seed": 0, "git_commit": "z", "date": "d"})
    out = tmp_path / "zoo" / "pitch-tiny.onnx"
    assert main([str(ckpt), "--out", str(out), "--task", "pitch", "--verify-hops", "12"]) == 0
    card = StreamingSession(out).card
    assert card.name == "pitch-tiny" and card.task == "pitch" and card.training["seed"] == 0
    assert card.training["export"]["command"].startswith("python -m export ")
    assert "verified" in capsys.readouterr().out


def test_cli_fails_with_one_line_and_exit_2(tmp_path, capsys) -> None:
    bad = tmp_path / "junk.safetensors"
    bad.write_bytes(b"not a checkpoint")
    out = tmp_path / "x.onnx"
    assert main([str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("export: cannot read checkpoint") and "\n" not in err
    assert not out.exists()

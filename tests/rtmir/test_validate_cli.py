"""``rtmir validate`` as a command: the table, JSON through output_path, exit codes, bad usage
in one line, and CI's ``--all --strictness 3`` through the real command line."""
from __future__ import annotations

import argparse
import json

import pytest

from graphs import forgetful
from rtmir.cli import validate as cli
from rtmir.cli.common import UsageError
from rtmir.sinks.output_path import OutputError
from rtmir.validate.runner import CHECKS
from test_validate import KNOWN


def parse(*argv):
    parser = argparse.ArgumentParser(prog="rtmir")
    cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["validate", *argv])


def test_command_prints_the_table_writes_json_and_exits_0(tmp_path, capsys):
    out = tmp_path / "v.json"
    assert cli.run(parse("--task", "delay", "--strictness", "1", "--json", str(out))) == 0
    text = capsys.readouterr().out
    assert "strictness 1" in text and "delay" in text and "FAIL" not in text
    data = json.loads(out.read_text())
    assert data["strictness"] == 1 and data["processors"] == ["delay"]
    assert {r["check"] for r in data["results"]} == set(CHECKS)
    assert data["summary"]["fail"] == 0 and data["summary"]["n/a"] == 2  # stream, params


def test_command_exits_1_when_a_check_fails(tmp_path, capsys):
    path = forgetful(tmp_path / "forget.onnx")
    out = tmp_path / "v.json"
    assert cli.run(parse("--model", str(path), "--check", "stream", "--strictness", "1", "--json", str(out))) == 1
    assert "FAIL" in capsys.readouterr().out
    [row] = json.loads(out.read_text())["results"]
    assert row["processor"] == "model:forget" and row["status"] == "fail"


@pytest.mark.parametrize("argv, message", [
    ((), "nothing to validate"),
    (("--task", "delay", "--strictness", "0"), "--strictness must be 1…10, got 0"),
    (("--task", "delay", "--strictness", "11"), "--strictness must be 1…10, got 11"),
    (("--all", "--task", "yin"), "--all validates everything"),
    (("--graph", "g.toml", "--task", "yin"), "not both"),
    (("--task", "delay", "--check", "bogus"), "unknown check 'bogus'"),
    (("--task", "delay", "--json", "/no/such/dir/v.json"), "does not exist"),
    (("--task", "delay", "--json", "/proc/v.json"), "cannot write"),
    (("--task", "delay", "--json", "/dev/null"), "device node"),
], ids=["no-target", "strictness-0", "strictness-11", "all-and-task", "graph-and-task", "bad-check", "json-dir", "json-proc",
                                "json-device"])
def test_bad_usage_is_one_line(argv, message):
    with pytest.raises((UsageError, OutputError)) as info:
        cli.run(parse(*argv))
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.slow
def test_all_at_ci_strictness_passes(tmp_path):
    """CI's command, ``rtmir validate --all --strictness 3`` (about 35 s on the 2-core machine),
    through the real command line: exit 0, every check passes or does not apply."""
    import subprocess
    import sys

    out = tmp_path / "all.json"
    r = subprocess.run([sys.executable, "-m", "rtmir", "validate", "--all", "--strictness", "3", "--json", str(out)],
                       capture_output=True, text=True, timeout=600)
    data = json.loads(out.read_text())
    failed = {(r["processor"].split(":")[0], r["check"]) for r in data["results"] if r["status"] == "fail"}
    assert failed == set(KNOWN) and r.returncode == (1 if KNOWN else 0), r.stdout[-3000:]
    # pitch, yin, tags, notes, separate, codec, codec_encode, generate, model: codec-enc, notes-tcn, pitch-tcn,
    # sep-tcn, tags-tcn; delay, tone (codec_decode, model:codec-dec and model:gen-lm take tokens: validated through
    # codec and generate)
    assert len(data["results"]) == 15 * len(CHECKS)

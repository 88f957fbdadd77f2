"""``python -m training.synth --ray``: a dataset rendered by actors of a real loopback Ray
cluster is byte for byte the dataset a local render makes (every file's SHA-256 compared)."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from ray_cluster import free_ports, ray_cluster  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[3]
COMMON = ["--kind", "band", "--split", "train", "--soundfont", "TimGM6mb", "--soundfont", "FluidR3_GM",
          "--duration", "2", "--n", "4", "--labels", "aligned", "--seed", "5"]


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "training.synth", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def checksums(root: Path) -> dict[str, str]:
    """SHA-256 of every example file (the manifest records how it was made, not what: left out)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "manifest.json"}


@pytest.mark.fluidsynth
@pytest.mark.ray
def test_a_ray_render_is_the_local_render_byte_for_byte(ray_cluster, tmp_path):  # noqa: F811
    local, remote = tmp_path / "local", tmp_path / "ray"
    r = run(*COMMON, "--workers", "1", "--out", local)
    assert r.returncode == 0, r.stderr
    r = run(*COMMON, "--ray", ray_cluster, "--out", remote)
    assert r.returncode == 0, r.stderr
    a, b = checksums(local), checksums(remote)
    assert len(a) >= 4 * 5 and a == b  # mix, stems, labels, meta, score of every example
    r = run(*COMMON, "--ray", ray_cluster, "--out", remote)
    assert r.returncode == 0 and "4 of 4 examples already complete" in r.stderr


def test_no_cluster_is_one_line_exit_2_before_anything_is_written(tmp_path):
    port = free_ports(1)[0]
    r = run(*COMMON, "--ray", f"127.0.0.1:{port}", "--out", tmp_path / "out")
    assert r.returncode == 2 and "no Ray cluster answers" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()

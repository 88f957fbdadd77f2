"""``rtmir batch --ray`` on a real 2-CPU Ray cluster this test session starts on loopback:
the same bytes as local workers (and so as ``rtmir stream``), resumable, and a clear line when
no cluster answers."""
from __future__ import annotations

import pytest

from ray_cluster import free_ports, ray_cluster  # noqa: F401  (fixture)

from .batch_lib import make_library, manifest, rtmir

pytestmark = pytest.mark.ray


def test_ray_actors_give_the_bytes_local_workers_give_and_resume(ray_cluster, tmp_path):  # noqa: F811
    files = make_library(tmp_path / "lib")
    local, remote = tmp_path / "local", tmp_path / "ray"
    r = rtmir("batch", tmp_path / "lib", "--task", "pitch", "--task", "tags", "--out", local, "--workers", 1)
    assert r.returncode == 0, r.stderr
    r = rtmir("batch", tmp_path / "lib", "--task", "pitch", "--task", "tags", "--out", remote, "--ray", ray_cluster)
    assert r.returncode == 0, r.stderr
    assert "3 analysed" in r.stderr and "with 2 Ray actors" in r.stderr
    for path in sorted((local / "jsonl").rglob("*.jsonl")) + sorted((local / "parquet").rglob("*.parquet")):
        twin = remote / path.relative_to(local)
        if path.suffix == ".jsonl":
            assert twin.read_bytes() == path.read_bytes(), path
        else:
            import pyarrow.parquet as pq

            assert pq.read_table(twin).equals(pq.read_table(path)), path
    assert len(list((remote / "jsonl").rglob("*.jsonl"))) == len(files)
    r = rtmir("batch", tmp_path / "lib", "--task", "pitch", "--task", "tags", "--out", remote, "--ray", ray_cluster)
    assert r.returncode == 0 and "3 done before" in r.stderr, r.stderr
    assert len(manifest(remote)) == 3


def test_no_cluster_at_the_address_is_one_line_and_exit_2(tmp_path):
    files = make_library(tmp_path / "lib")
    port = free_ports(1)[0]
    r = rtmir("batch", files[2], "--task", "yin", "--out", tmp_path / "r", "--ray", f"127.0.0.1:{port}", timeout=120)
    assert r.returncode == 2 and "no Ray cluster answers" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "r").exists()  # refused before anything was written

"""A real Ray cluster on loopback for the tests: ``ray start --head --block`` in a process
group of its own (2 CPUs, free ports, its own temp folder), stopped by signalling exactly that
group — never ``ray stop``, which stops every Ray process on the machine by name."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _ray_cli() -> str:
    return str(Path(sys.executable).with_name("ray"))


@pytest.fixture(scope="session")
def ray_cluster():
    """The address (``127.0.0.1:PORT``) of a 2-CPU Ray head this fixture started; stopped after
    the session."""
    pytest.importorskip("ray", reason="the batch extra (ray) is not installed")
    temp = tempfile.mkdtemp(prefix="rtmir-ray-")  # short: Ray's socket paths must fit 107 bytes
    gcs, dash, node, obj, metrics, agent_l, agent_g, env = _free_ports(8)
    cmd = [_ray_cli(), "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(gcs),
           "--num-cpus", "2", "--num-gpus", "0", "--object-store-memory", str(200 * 2**20),
           "--include-dashboard", "false", "--dashboard-port", str(dash),
           "--node-manager-port", str(node), "--object-manager-port", str(obj), "--metrics-export-port", str(metrics),
           "--dashboard-agent-listen-port", str(agent_l), "--dashboard-agent-grpc-port", str(agent_g),
           "--runtime-env-agent-port", str(env), "--disable-usage-stats", "--temp-dir", temp]
    env_vars = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    log = open(Path(temp) / "head.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env_vars)
    address = f"127.0.0.1:{gcs}"
    try:
        _wait_ready(proc, address, Path(temp) / "head.log")
        yield address
    finally:
        _stop_group(proc)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def _wait_ready(proc: subprocess.Popen, address: str, log: Path, timeout: float = 90.0) -> None:
    code = ("import ray, logging; ray.init(address=%r, logging_level=logging.ERROR, log_to_driver=False); "
            "assert ray.cluster_resources().get('CPU') == 2; ray.shutdown()" % address)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ray start exited with {proc.returncode}: {log.read_text()[-2000:]}")
        if "--block" in log.read_text() or "Ray runtime started" in log.read_text():
            r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
            if r.returncode == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"the Ray head at {address} did not come up in {timeout:g} s: {log.read_text()[-2000:]}")


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the head's process group (what this fixture started), then SIGKILL to what is
    left of it after 20 s."""
    pgid = proc.pid  # start_new_session: the group's id is the leader's pid
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)

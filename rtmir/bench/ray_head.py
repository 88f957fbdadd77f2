"""A Ray head on loopback for tests and benchmarks: ``ray start --head --block`` in a process
group of its own (N CPUs, free ports, its own temp folder), stopped by signalling exactly that
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


def free_ports(n: int) -> list[int]:
    """``n`` TCP ports free on 127.0.0.1 now."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class LoopbackRayHead:
    """``with LoopbackRayHead(cpus=2) as address:`` a Ray cluster at ``127.0.0.1:PORT``.

    Raises:
        RuntimeError: it did not come up within ``timeout_s`` (its log's tail).
    """

    def __init__(self, cpus: int = 2, object_store_mb: int = 200, timeout_s: float = 90.0) -> None:
        self.cpus, self.object_store_mb, self.timeout_s = cpus, object_store_mb, timeout_s
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> str:
        self.temp = tempfile.mkdtemp(prefix="rtmir-ray-")  # short: Ray's socket paths must fit 107 bytes
        gcs, dash, node, obj, metrics, agent_l, agent_g, env = free_ports(8)
        cmd = [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
               "--node-ip-address", "127.0.0.1", "--port", str(gcs), "--num-cpus", str(self.cpus), "--num-gpus", "0",
               "--object-store-memory", str(self.object_store_mb * 2**20), "--include-dashboard", "false",
               "--dashboard-port", str(dash), "--node-manager-port", str(node), "--object-manager-port", str(obj),
               "--metrics-export-port", str(metrics), "--dashboard-agent-listen-port", str(agent_l),
               "--dashboard-agent-grpc-port", str(agent_g), "--runtime-env-agent-port", str(env),
               "--disable-usage-stats", "--temp-dir", self.temp]
        self.log_path = Path(self.temp) / "head.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
                                     env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
        self.address = f"127.0.0.1:{gcs}"
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self.address

    def _wait_ready(self) -> None:
        code = ("import ray, logging; ray.init(address=%r, logging_level=logging.ERROR, log_to_driver=False); "
                "assert ray.cluster_resources().get('CPU') == %d; ray.shutdown()" % (self.address, self.cpus))
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ray start exited with {self.proc.returncode}: {self.log_path.read_text()[-2000:]}")
            if "--block" in self.log_path.read_text():  # printed once the head runs
                r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
                if r.returncode == 0:
                    return
            time.sleep(0.5)
        raise RuntimeError(f"the Ray head at {self.address} did not come up in {self.timeout_s:g} s: "
                           f"{self.log_path.read_text()[-2000:]}")

    def __exit__(self, *exc) -> None:
        """SIGTERM to the head's process group (what this started), SIGKILL to what is left of
        it after 20 s; the temp folder removed."""
        if self.proc is not None:
            _stop_group(self.proc)
            self._log.close()
            self.proc = None
        shutil.rmtree(self.temp, ignore_errors=True)


def _stop_group(proc: subprocess.Popen) -> None:
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

"""The session's Ray cluster for the tests: 2 CPUs on loopback, started and stopped by this
fixture (``rtmir.bench.ray_head``: only its own process group is signalled)."""
from __future__ import annotations

import pytest

from rtmir.bench.ray_head import LoopbackRayHead, free_ports  # noqa: F401  (free_ports: for the tests)


@pytest.fixture(scope="session")
def ray_cluster():
    """The address (``127.0.0.1:PORT``) of a 2-CPU Ray head; stopped after the session."""
    import ray  # noqa: F401  (the batch extra, in the dev extra: missing fails, never skips)

    with LoopbackRayHead(cpus=2) as address:
        yield address

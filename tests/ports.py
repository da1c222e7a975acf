"""Free ports for tests that run two at a time (pytest-xdist).

``newsflow.broker.free_port`` asks the kernel for a free port and releases it for the caller to
bind later: two test processes may be handed the same port in between (seen 4 times in 200
draws each, at once). Each xdist worker here keeps to ports of its own (by ``port // 2``
modulo the number of workers: Linux hands out ports of one parity to bind(0), the other to
connect), so their draws never meet. Imported by tests/conftest.py before anything else binds
``free_port``."""

from __future__ import annotations

import os

import newsflow.broker

_kernel_free_port = newsflow.broker.free_port


def free_port_of_this_worker(host: str = "127.0.0.1") -> int:
    # Read at each call: xdist sets these in a worker after it may have imported conftest.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    for _ in range(10_000):
        port = _kernel_free_port(host)
        if port // 2 % workers == worker % workers:
            return port
    raise RuntimeError(f"no free port of xdist worker {worker} of {workers} in 10,000 draws")


newsflow.broker.free_port = free_port_of_this_worker

"""A worker asked to stop ends within NEWSFLOW_WORKER_STOP_TIMEOUT_SECONDS, even when its
shutdown is stuck (as Faust's was with the broker gone), with status 1 and one line.

Each case runs in a process of its own: the deadline ends the whole process.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.clock  # the child builds the worker's Faust app, which reads the clock

STUCK_STOP = textwrap.dedent("""
    import asyncio, threading
    from newsflow.config import Settings
    from newsflow.processor.app import create_app
    from newsflow.processor.bounded_stop import BoundedStopWorker
    app = create_app(Settings(kafka_bootstrap_servers="127.0.0.1:9"))
    worker = BoundedStopWorker(app, loglevel="info", quiet=True, stop_timeout_seconds=0.5)
    asyncio.run(worker.on_stop())  # what a SIGTERM starts, before the app stops
    print("stopping", flush=True)
    threading.Event().wait()  # the rest of the shutdown never ends
""")

STOP_IN_TIME = textwrap.dedent("""
    from newsflow.processor.bounded_stop import arm_stop_deadline
    arm_stop_deadline(60.0)
    print("stopped", flush=True)
""")


def run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, cwd=REPO)


def test_a_stuck_stop_ends_the_process_with_one_line() -> None:
    result = run(STUCK_STOP)
    assert result.stdout == "stopping\n"
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "newsflow worker: did not stop within 0.5 s (NEWSFLOW_WORKER_STOP_TIMEOUT_SECONDS); "
        "exiting")


def test_the_deadline_does_not_keep_a_stopped_process_alive() -> None:
    result = run(STOP_IN_TIME)  # would time out (60 s) if the timer held the process
    assert (result.returncode, result.stdout) == (0, "stopped\n")


THREAD_FAILS = textwrap.dedent("""
    import logging, threading
    from newsflow.config import Settings
    from newsflow.processor.app import create_app
    from newsflow.processor.bounded_stop import BoundedStopWorker
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_app(Settings(kafka_bootstrap_servers="127.0.0.1:9"))
    worker = BoundedStopWorker(app, loglevel="info", quiet=True, stop_timeout_seconds=5)
    def fetch():
        raise ConnectionError("node not ready")
    thread = threading.Thread(target=fetch, name="consumer-thread")
    thread.start()
    thread.join()
""")


def test_a_threads_uncaught_exception_is_one_log_line() -> None:
    # Faust redirects stderr to its logger one write at a time: Python's own hook made a
    # consumer thread's traceback ~100 WARNING lines when the broker had died.
    result = run(THREAD_FAILS)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "consumer-thread" in line
             or "Traceback" in line or "node not ready" in line]
    assert lines == ["WARNING newsflow.processor.bounded_stop: consumer-thread ended with "
                     "ConnectionError: node not ready"], result.stderr

"""A child started with ``dying_with_parent`` ends when its parent is killed, so a killed demo
or test run leaves no broker or worker behind (Linux: setpriv and ``pidfd_open`` both are)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap

PARENT = textwrap.dedent("""
    import subprocess, sys
    from newsflow.broker import dying_with_parent
    child = subprocess.Popen(dying_with_parent([sys.executable, "-c",
                                                "import time; time.sleep(120)"]))
    print(child.pid, flush=True)
    sys.stdin.read()  # until the test kills this process
""")


def test_a_child_dies_with_its_killed_parent() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        child = os.pidfd_open(child_pid)
        try:
            assert select.select([child], [], [], 0)[0] == []  # alive while its parent is
            parent.send_signal(signal.SIGKILL)
            parent.wait(10)
            # The pidfd becomes readable when the child exits; no polling of the process table.
            assert select.select([child], [], [], 10)[0] == [child], "child outlived its parent"
        finally:
            os.close(child)
    finally:
        parent.kill()
        parent.wait(10)

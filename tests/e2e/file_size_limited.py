"""``python -m tests.e2e.file_size_limited <newsflow arguments>``: newsflow ignoring SIGXFSZ,
so that a write past a file-size limit (RLIMIT_FSIZE, which a test sets on the running process
with ``prlimit``) fails with "file too large", as a write to a full disk fails, instead of
killing the process. A real I/O error under the worker's table, without root and without
touching any other process: its prepare children, started before the limit, keep none.
"""

from __future__ import annotations

import signal
import sys


def main() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    from newsflow.cli import main as newsflow

    raise SystemExit(newsflow(sys.argv[1:]))


if __name__ == "__main__":
    main()

"""Container health check: asks the running service's own health page.

The image runs any newsflow command, so the check reads PID 1's command line to pick the page:
the worker's /healthz (NEWSFLOW_WORKER_WEB_PORT) or the fetcher's (NEWSFLOW_FETCH_METRICS_PORT).
Commands without a server (process, fetch --once) are healthy while they run.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path


def target(args: list[bytes]) -> str | None:
    """The health page of the service that ``args`` (PID 1's command line) runs, if any."""
    if b"worker" in args:
        return f"http://127.0.0.1:{os.environ.get('NEWSFLOW_WORKER_WEB_PORT', '6066')}/healthz"
    if b"fetch" in args and b"--once" not in args:
        return f"http://127.0.0.1:{os.environ.get('NEWSFLOW_FETCH_METRICS_PORT', '9464')}/healthz"
    return None


def main() -> int:
    url = target(Path("/proc/1/cmdline").read_bytes().split(b"\0"))
    if url is None:
        return 0
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

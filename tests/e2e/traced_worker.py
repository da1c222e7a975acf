"""``python -m tests.e2e.traced_worker <newsflow arguments>``: a newsflow process that traces
its Python allocations (tracemalloc) and tells a test how many bytes are held.

``GET http://127.0.0.1:$TESTS_MEMORY_PORT/`` answers with the bytes traced after a full
garbage collection. Memory tests read it instead of the resident set size, which moves by
megabytes with allocator arenas and page reuse: traced bytes show what the program keeps.

Only what runs under ``__main__`` does anything: the worker's child processes (started with
"spawn") import this module again and must stay plain children.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import tracemalloc
from http.server import BaseHTTPRequestHandler, HTTPServer

PORT_VARIABLE = "TESTS_MEMORY_PORT"


class TracedMemoryHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        gc.collect()
        body = str(tracemalloc.get_traced_memory()[0]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    tracemalloc.start()
    # Popped: the worker's children inherit the environment and must not trace or serve.
    server = HTTPServer(("127.0.0.1", int(os.environ.pop(PORT_VARIABLE))), TracedMemoryHandler)
    threading.Thread(target=server.serve_forever, name="traced-memory", daemon=True).start()
    from newsflow.cli import main as newsflow

    raise SystemExit(newsflow(sys.argv[1:]))


if __name__ == "__main__":
    main()

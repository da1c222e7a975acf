"""The Kafka client's own log lines as a command shows them (``cli.configure_logging``)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.clock  # a command's logging: its lines carry the time

# kafka-python's own call, as it logs a metadata request that it cancelled itself (closing the
# bootstrap connection under it, or a client's connections on close), one under a client that
# closed, and one that failed.
LINES = """
import logging, sys
from kafka.errors import Cancelled, KafkaConnectionError
from newsflow.cli import configure_logging
configure_logging(verbose="-v" in sys.argv)
cluster = logging.getLogger("kafka.cluster")
cluster.error("Metadata refresh: failed %s", Cancelled())
cluster.error("Metadata refresh: failed %s", RuntimeError("NetworkSelector closed!"))
cluster.error("Metadata refresh: failed %s", KafkaConnectionError("broker gone"))
"""


def logged(*flags: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", LINES, *flags], capture_output=True,
                            text=True, timeout=60, check=True)
    return [line.split(" ", 2)[2] for line in result.stderr.splitlines()]


def test_a_metadata_request_the_client_cancelled_itself_is_not_an_error_line() -> None:
    assert logged() == ["ERROR kafka.cluster: Metadata refresh: failed KafkaConnectionError: "
                        "broker gone"]


def test_the_line_is_the_one_kafka_python_writes() -> None:
    # The filter knows the line by its format string: if the library rewords it, the filter
    # stops matching, and this says so.
    import inspect

    from kafka.cluster import ClusterMetadata

    from newsflow.cli import CancelledRefreshFilter

    source = inspect.getsource(ClusterMetadata._do_refresh_metadata)
    assert f"log.error('{CancelledRefreshFilter.MESSAGE}', exc)" in source
    # ... and the closed selector's error, the other refresh no longer wanted.
    from kafka.net import selector

    assert "raise RuntimeError('NetworkSelector closed!')" in inspect.getsource(selector)


def test_with_v_it_is_a_debug_line() -> None:
    assert logged("-v") == [
        "DEBUG kafka.cluster: Metadata refresh: failed Cancelled",
        "DEBUG kafka.cluster: Metadata refresh: failed NetworkSelector closed!",
        "ERROR kafka.cluster: Metadata refresh: failed KafkaConnectionError: broker gone"]


# `tail` with its consumer standing in for kafka-python during an outage: 100 ERROR lines from
# the library's fetcher (it logs each failed fetch and metadata refresh, about 80 a minute).
TAIL_IN_AN_OUTAGE = """
import logging, sys
import newsflow.client

class Outage:
    def __init__(self, *args, **kwargs): pass
    def __enter__(self): return self
    def __exit__(self, *exc): pass
    def run(self, handler, **kwargs):
        for n in range(100):
            logging.getLogger("kafka.consumer.fetcher").error("Fetch to node 111 failed: %d", n)
        return 0

newsflow.client.NewsConsumer = Outage
from newsflow.cli import main
sys.exit(main(["tail", "articles", "--timeout", "1"]))
"""


def test_tail_keeps_the_client_libraries_lines_to_a_budget() -> None:
    result = subprocess.run([sys.executable, "-c", TAIL_IN_AN_OUTAGE], capture_output=True,
                            text=True, timeout=60, check=False,
                            env={**os.environ, "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert sum("Fetch to node 111 failed" in line for line in lines) == 30
    assert any("70 more Kafka client (kafka-python) log lines were not logged" in line
               for line in lines), lines[-3:]

"""The Kafka client's own log lines as a command shows them (``cli.configure_logging``)."""

from __future__ import annotations

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

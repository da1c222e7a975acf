"""`fetch --once` gives up on an absent broker after NEWSFLOW_KAFKA_CONNECT_TIMEOUT_SECONDS."""

from __future__ import annotations

import time

import pytest

from newsflow.broker import free_port
from newsflow.config import Settings
from newsflow.errors import BrokerUnavailable
from newsflow.fetcher.publisher import connect_publisher

pytestmark = pytest.mark.clock  # the fetcher's modules are imported


async def test_an_absent_broker_is_given_up_on_after_the_connect_timeout() -> None:
    nowhere = Settings(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
                       kafka_connect_timeout_seconds=1)
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match=r"^no broker at 127\.0\.0\.1:\d+ after 1 s"):
        await connect_publisher(nowhere)
    # The producer's own bootstrap wait was a fixed 5 s, so a 1 s timeout took over 5 s while
    # the message said 1 s.
    assert time.monotonic() - started < 4.0

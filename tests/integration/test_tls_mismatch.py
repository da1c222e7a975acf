"""A client set to TLS against a plaintext broker: kafka-python's hello to a plaintext listener
waited for ever, past every connect timeout, and SIGTERM could not end the command."""

from __future__ import annotations

import asyncio
import time

import pytest

from newsflow.broker import EmbeddedBroker
from newsflow.client import NewsConsumer
from newsflow.config import Settings
from newsflow.errors import BrokerUnavailable
from newsflow.fetcher.publisher import connect_publisher
from newsflow.topics import ensure_topics

pytestmark = pytest.mark.integration


def tls_to(broker: EmbeddedBroker) -> Settings:
    return Settings(kafka_bootstrap_servers=broker.bootstrap, kafka_security_protocol="SSL",
                    kafka_connect_timeout_seconds=3)


def no_tls_answer(broker: EmbeddedBroker) -> str:
    return rf"no TLS answer from {broker.bootstrap} within [\d.]+ s \(NEWSFLOW_KAFKA_SECURITY_PROTOCOL=SSL"


def test_the_client_the_admin_and_the_publisher_give_up_within_their_timeout(
    broker: EmbeddedBroker,
) -> None:
    settings = tls_to(broker)
    for connect in (lambda: NewsConsumer("articles", settings, group="g"),
                    lambda: ensure_topics(settings),
                    lambda: asyncio.run(connect_publisher(settings))):
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable, match=no_tls_answer(broker)):
            connect()
        # A bound, not a speed: it never ended before (the margin is for a loaded machine).
        assert time.monotonic() - started < 15

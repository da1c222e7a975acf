"""The Kafka security settings reach Faust as they reach kafka-python."""

from __future__ import annotations

from newsflow.config import Settings
from newsflow.processor.faust_app import broker_credentials


def test_plaintext_needs_no_credentials() -> None:
    assert broker_credentials(Settings()) is None


def test_sasl_ssl_credentials_carry_mechanism_and_user() -> None:
    settings = Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
                        kafka_sasl_username="svc", kafka_sasl_password="secret")
    credentials = broker_credentials(settings)
    assert credentials.protocol.name == "SASL_SSL"
    assert credentials.mechanism.name == "SCRAM_SHA_512"
    assert credentials.username == "svc"
    options = settings.kafka_client_options()
    assert options["sasl_plain_username"] == "svc"
    assert options["security_protocol"] == "SASL_SSL"


def test_tls_only() -> None:
    assert broker_credentials(Settings(kafka_security_protocol="SSL")).protocol.name == "SSL"

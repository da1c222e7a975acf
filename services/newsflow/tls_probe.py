"""Whether a broker answers TLS at all, before a Kafka client is made to speak it.

kafka-python sends its TLS hello to a plaintext listener and then waits for ever: the broker
reads the hello as the start of a very long request and waits for the rest. Neither side gives
up, so `fetch --once`, `worker` and `tail` hung past their connect timeout, and a SIGTERM could
not end them. A handshake of our own, with a timeout, tells that case apart; anything else (an
answer, a refused connection, a certificate kafka-python may reject) is left to the client.
"""

from __future__ import annotations

import socket
import ssl

from kafka.errors import KafkaConnectionError

from newsflow.config import Settings


def bootstrap_addresses(servers: str) -> list[tuple[str, int]]:
    """(host, port) of each bootstrap server: "host", "host:port", "[v6]" or "[v6]:port"."""
    addresses = []
    for server in filter(None, (part.strip() for part in servers.split(","))):
        if server.startswith("["):
            host, _, rest = server[1:].partition("]")
            port = rest.removeprefix(":") or "9092"
        else:
            host, _, port = server.partition(":")
            port = port or "9092"
        addresses.append((host, int(port)))
    return addresses


def require_tls_answer(settings: Settings, timeout_seconds: float) -> None:
    """With ``SSL`` or ``SASL_SSL``: a ``KafkaConnectionError`` (retried, then reported as
    ``BrokerUnavailable`` like any unreachable broker) when no bootstrap server completes a TLS
    handshake within ``timeout_seconds`` because none answers it."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return
    # Only whether TLS is spoken: kafka-python checks the certificate itself.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    silent = []
    for host, port in bootstrap_addresses(settings.require_bootstrap()):
        try:
            raw = socket.create_connection((host, port), timeout=timeout_seconds)
        except OSError:  # refused, unreachable, no answer at all: the client reports those
            return
        try:
            with raw, context.wrap_socket(raw, server_hostname=host):
                return  # it speaks TLS
        except TimeoutError:  # connected, but no answer to the hello
            silent.append(f"{host}:{port}")
        except (OSError, ssl.SSLError):  # reset, a TLS error: the client reports those too
            return
    raise KafkaConnectionError(
        f"no TLS answer from {', '.join(silent)} within {timeout_seconds:g} s "
        f"(NEWSFLOW_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol}: a plaintext "
        "listener?)")

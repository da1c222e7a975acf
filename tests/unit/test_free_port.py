"""A port chosen for a server that starts later lies outside the range the kernel gives
outgoing connections: a kernel-chosen one (port 0) lay inside it, and a client's connection
took it before the server started (a fetcher's metrics port, in a CI run)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from newsflow import broker
from newsflow.broker import LISTEN_PORTS_FROM, free_port


def test_a_free_port_is_below_the_outgoing_range_and_can_be_listened_on() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = {free_port() for _ in range(20)}
    assert all(LISTEN_PORTS_FROM <= port < low for port in ports)
    assert len(ports) > 1  # chosen at random, not one port for every caller
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
            sock.listen()


class Scripted:
    """Gives these ports in turn, as the random choice would."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports

    def randrange(self, low: int, high: int) -> int:
        port = self.ports.pop(0)
        assert low <= port < high
        return port


def test_a_port_in_use_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    in_use = free_port()
    with socket.socket() as server:
        server.bind(("127.0.0.1", in_use))
        server.listen()
        spare = free_port()
        monkeypatch.setattr(broker, "_choose", Scripted([in_use, spare]))
        assert free_port() == spare

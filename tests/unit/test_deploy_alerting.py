"""Where alerts go: the Alertmanager config checked by amtool and run by a real Alertmanager, and
the scrape configs that give the alert rules the job names they select (compose and k8s).

amtool and Alertmanager come from the Debian package prometheus-alertmanager, Prometheus from
the package prometheus (`make deploy-tools`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from newsflow.broker import free_port
from tests.helpers import REPO, wait_until

DEPLOY = REPO / "deploy"
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"
RULES = DEPLOY / "prometheus" / "alerts.yml"
MONITORING = DEPLOY / "k8s" / "monitoring"

# What the lead asked for: symptoms that a dead worker explains.
SYMPTOMS = {"NewsflowWorkerNotReady", "NewsflowConsumerLagGrowing", "NewsflowConsumerLagHigh",
            "NewsflowNoOutput", "NewsflowDeadLettersAboveNormal"}
RECEIVER_FOR_SEVERITY = {"critical": "newsflow-page", "warning": "newsflow-ticket"}


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: run `make deploy-tools`"
    return path


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool(str(args[0])), *map(str, args[1:])], capture_output=True,
                          text=True, timeout=60, check=False)


def alert_rules() -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}


def http(url: str, data: Any = None) -> tuple[int, Any]:
    body = None if data is None else json.dumps(data).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            text = response.read()
            is_json = response.headers.get_content_type() == "application/json"
            return response.status, json.loads(text) if is_json else text
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:
        return 0, None


# --- amtool -----------------------------------------------------------------------------------
def test_amtool_accepts_the_config() -> None:
    result = run("amtool", "check-config", ALERTMANAGER)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert "3 receivers" in result.stdout and "3 inhibit rules" in result.stdout


def test_amtool_rejects_a_broken_config(tmp_path: Path) -> None:
    """check-config is not vacuous: a route to a receiver that does not exist fails it."""
    broken = tmp_path / "alertmanager.yml"
    broken.write_text(ALERTMANAGER.read_text(encoding="utf-8").replace(
        "receiver: newsflow-page", "receiver: newsflow-nowhere"), encoding="utf-8")
    assert run("amtool", "check-config", broken).returncode != 0


def routed_to(*labels: str) -> str:
    result = run("amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize("alert", sorted(alert_rules()))
def test_every_alert_reaches_the_receiver_of_its_severity(alert: str) -> None:
    rule = alert_rules()[alert]
    severity = rule["labels"]["severity"]
    # The labels Prometheus sends: the rule's own plus typical target labels.
    labels = [f"alertname={alert}", f"severity={severity}", "job=newsflow-worker",
              "instance=worker:6066", "topic=news.raw.v1", "source=bbc-world"]
    assert routed_to(*labels) == RECEIVER_FOR_SEVERITY[severity]
    # amtool itself verifies it too (exit status 1 on a mismatch).
    verify = run("amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER}",
                 f"--verify.receivers={RECEIVER_FOR_SEVERITY[severity]}", *labels)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_unknown_or_missing_severity_goes_to_the_default_receiver() -> None:
    assert routed_to("alertname=Something", "severity=info") == "newsflow-default"
    assert routed_to("alertname=Something") == "newsflow-default"
    assert routed_to("alertname=Something", "severity=critical") == "newsflow-page"


def test_every_receiver_is_reachable_by_some_route() -> None:
    config = yaml.safe_load(ALERTMANAGER.read_text(encoding="utf-8"))
    receivers = {receiver["name"] for receiver in config["receivers"]}
    used = {config["route"]["receiver"]} | {route["receiver"] for route in config["route"]["routes"]}
    assert receivers == used == {"newsflow-default", *RECEIVER_FOR_SEVERITY.values()}
    for receiver in config["receivers"]:
        assert receiver["webhook_configs"][0]["send_resolved"] is True


def test_inhibited_symptoms_are_real_alert_names() -> None:
    """A renamed rule would silently escape inhibition: every name in the config must exist."""
    text = ALERTMANAGER.read_text(encoding="utf-8")
    names = alert_rules()
    for symptom in SYMPTOMS | {"NewsflowWorkerDown", "NewsflowNoWorkerUp"}:
        assert symptom in names and symptom in text


# --- a real Alertmanager: inhibition ----------------------------------------------------------
@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    assert binary, "alertmanager is missing: run `make deploy-tools`"
    port = free_port()
    log = open(tmp_path / "alertmanager.log", "ab")  # noqa: SIM115 - owned by the child
    process = subprocess.Popen(
        [binary, f"--config.file={ALERTMANAGER}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http(base + "/-/ready")[0] == 200 or process.poll() is not None, 30,
                   "Alertmanager ready")
        assert process.poll() is None, (tmp_path / "alertmanager.log").read_text()
        yield base
    finally:
        process.terminate()
        process.wait(20)
        log.close()


def post(base: str, *alerts: dict[str, str]) -> None:
    rules = alert_rules()
    payload = [{"labels": {"severity": rules[labels["alertname"]]["labels"]["severity"], **labels}}
               for labels in alerts]
    status, _ = http(base + "/api/v2/alerts", payload)
    assert status == 200


def states(base: str) -> dict[str, str]:
    status, alerts = http(base + "/api/v2/alerts")
    assert status == 200
    return {alert["labels"]["alertname"]: alert["status"]["state"] for alert in alerts}


def test_a_down_worker_holds_back_its_symptoms_and_nothing_else(alertmanager: str) -> None:
    symptoms = [{"alertname": name, "topic": "news.raw.v1"} for name in sorted(SYMPTOMS)]
    post(alertmanager, *symptoms, {"alertname": "NewsflowFetcherDown"})
    wait_until(lambda: len(states(alertmanager)) == len(SYMPTOMS) + 1, 20, "alerts received")
    # Without a cause, every symptom is notified.
    assert set(states(alertmanager).values()) == {"active"}

    post(alertmanager, {"alertname": "NewsflowWorkerDown", "instance": "worker-1:6066"})
    wait_until(lambda: all(states(alertmanager).get(name) == "suppressed" for name in SYMPTOMS),
               20, "symptoms inhibited")
    final = states(alertmanager)
    assert final["NewsflowWorkerDown"] == "active"  # the cause is notified
    assert final["NewsflowFetcherDown"] == "active"  # an unrelated alert is not held back


def test_no_worker_up_holds_back_the_per_worker_alerts(alertmanager: str) -> None:
    post(alertmanager, {"alertname": "NewsflowWorkerDown", "instance": "worker-1:6066"},
         {"alertname": "NewsflowNoWorkerUp"})
    wait_until(lambda: states(alertmanager).get("NewsflowWorkerDown") == "suppressed", 20,
               "NewsflowWorkerDown inhibited")
    assert states(alertmanager)["NewsflowNoWorkerUp"] == "active"


def test_fewer_workers_holds_back_the_symptoms_and_gives_way_to_a_named_down_worker(
        alertmanager: str) -> None:
    symptoms = [{"alertname": name, "topic": "news.raw.v1"} for name in sorted(SYMPTOMS)]
    post(alertmanager, *symptoms, {"alertname": "NewsflowFewerWorkers"})
    wait_until(lambda: all(states(alertmanager).get(name) == "suppressed" for name in SYMPTOMS),
               20, "symptoms inhibited by the worker count")
    assert states(alertmanager)["NewsflowFewerWorkers"] == "active"  # docker-compose: the cause
    post(alertmanager, {"alertname": "NewsflowWorkerDown", "instance": "worker-1:6066"})
    wait_until(lambda: states(alertmanager).get("NewsflowFewerWorkers") == "suppressed", 20,
               "the count inhibited where the down worker is named (Kubernetes)")
    assert states(alertmanager)["NewsflowWorkerDown"] == "active"


# --- Prometheus: the alerting block ----------------------------------------------------------
def test_compose_prometheus_sends_alerts_to_the_compose_alertmanager() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    targets = [target for manager in config["alerting"]["alertmanagers"]
               for static in manager["static_configs"] for target in static["targets"]]
    assert targets == ["alertmanager:9093"]
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    alertmanager = compose["services"]["alertmanager"]
    assert alertmanager["image"].startswith("prom/alertmanager:")
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in alertmanager["command"]
    assert "./deploy/alertmanager:/etc/alertmanager:ro" in alertmanager["volumes"]
    assert "alertmanager" in compose["services"]["prometheus"]["depends_on"]


# --- k8s: job labels the rules select --------------------------------------------------------
def rule_jobs() -> set[str]:
    text = RULES.read_text(encoding="utf-8")
    return {job for job in ("newsflow-worker", "newsflow-fetcher") if f'job="{job}"' in text}


def k8s_services() -> dict[str, dict[str, Any]]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}


def test_servicemonitor_gives_the_rules_their_job_names() -> None:
    monitor = yaml.safe_load((MONITORING / "servicemonitor.yaml").read_text(encoding="utf-8"))
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1" and monitor["kind"] == "ServiceMonitor"
    spec = monitor["spec"]
    selected = {name: service for name, service in k8s_services().items()
                if spec["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
                and service["metadata"]["namespace"] in spec["namespaceSelector"]["matchNames"]}
    # The Operator sets job to the value of the Service label named by jobLabel.
    jobs = {service["metadata"]["labels"][spec["jobLabel"]] for service in selected.values()}
    assert rule_jobs() == {"newsflow-worker", "newsflow-fetcher"}
    assert jobs == rule_jobs()
    ports = {endpoint["port"] for endpoint in spec["endpoints"]}
    for service in selected.values():
        assert ports <= {port["name"] for port in service["spec"]["ports"]}


def test_k8s_scrape_config_gives_the_rules_their_job_names(tmp_path: Path) -> None:
    """The shipped relabelling, run by a real Prometheus on targets carrying the labels that
    Kubernetes endpoints discovery sets (Debian's Prometheus is built without that discovery, so
    file discovery stands in for it)."""
    config = yaml.safe_load((MONITORING / "prometheus-scrape.yml").read_text(encoding="utf-8"))
    job = config["scrape_configs"][0]
    assert job["kubernetes_sd_configs"] == [{"role": "endpoints",
                                             "namespaces": {"names": ["newsflow"]}}]
    targets = []
    for name, service in k8s_services().items():
        for port in service["spec"]["ports"]:
            # Kubernetes SD's naming: every character not valid in a label name becomes "_".
            labels = {"__meta_kubernetes_service_label_" + re.sub(r"\W", "_", key): value
                      for key, value in service["metadata"]["labels"].items()}
            labels |= {"__meta_kubernetes_endpoint_port_name": port["name"],
                       "__meta_kubernetes_namespace": "newsflow",
                       "__meta_kubernetes_service_name": name,
                       "__meta_kubernetes_pod_name": f"{name}-abc12"}
            targets.append({"targets": [f"127.0.0.1:{port['port']}"], "labels": labels})
    # A Service of another application in the namespace, and a second port: both dropped.
    targets.append({"targets": ["127.0.0.1:1"], "labels": {
        "__meta_kubernetes_service_label_app_kubernetes_io_part_of": "other",
        "__meta_kubernetes_endpoint_port_name": "metrics",
        "__meta_kubernetes_service_label_app_kubernetes_io_name": "other"}})
    targets.append({"targets": ["127.0.0.1:2"], "labels": {
        "__meta_kubernetes_service_label_app_kubernetes_io_part_of": "newsflow",
        "__meta_kubernetes_endpoint_port_name": "admin",
        "__meta_kubernetes_service_label_app_kubernetes_io_name": "newsflow-worker"}})
    (tmp_path / "targets.json").write_text(json.dumps(targets), encoding="utf-8")
    del job["kubernetes_sd_configs"]
    job["file_sd_configs"] = [{"files": [str(tmp_path / "targets.json")]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    check = run("promtool", "check", "config", tmp_path / "prometheus.yml")
    assert check.returncode == 0, check.stdout + check.stderr

    port = free_port()
    log = open(tmp_path / "prometheus.log", "ab")  # noqa: SIM115 - owned by the child
    process = subprocess.Popen(
        [tool("prometheus"), f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    active: list[dict[str, Any]] = []

    def discovered() -> bool:
        status, body = http(f"http://127.0.0.1:{port}/api/v1/targets")
        active[:] = body["data"]["activeTargets"] if status == 200 else []
        return len(active) >= len(k8s_services())

    try:
        wait_until(discovered, 60, "Prometheus discovered the targets")
    finally:
        process.terminate()
        process.wait(20)
        log.close()
    labels = {target["labels"]["job"]: target["labels"] for target in active}
    assert set(labels) == rule_jobs()
    for name, target in labels.items():
        assert target["service"] == name and target["pod"] == f"{name}-abc12"
        assert target["namespace"] == "newsflow"


def test_every_alert_has_an_operations_entry() -> None:
    """docs/operations.md: each alert's meaning and first checks, under a heading of its name."""
    text = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^### (\w+) \((?:critical|warning)\)$", text, re.MULTILINE))
    assert headings == set(alert_rules())
    for name, rule in alert_rules().items():
        assert f"### {name} ({rule['labels']['severity']})" in text

"""The deployment files, checked with the tools that consume them (no Docker engine needed).

docker-compose (Debian package) resolves the compose file, promtool checks the Prometheus
config and rules and runs the rule unit tests, kubernetes-validate checks the manifests against
the Kubernetes schemas, and the dashboard JSON must be what deploy/grafana/dashboard.py makes.
`make deploy-tools` installs the Debian tools.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import dockerfile
import pytest
import yaml

from newsflow.fetcher.sources import load_sources
from tests.helpers import REPO

DEPLOY = REPO / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
K8S = DEPLOY / "k8s"


def run(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    tool = shutil.which(str(args[0]))
    assert tool, f"{args[0]} is missing: run `make deploy-tools`"
    return subprocess.run([tool, *map(str, args[1:])], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


# --- docker-compose ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    result = run("docker-compose", "-f", "docker-compose.yml", "config")
    assert result.returncode == 0, result.stderr
    resolved: dict[str, Any] = yaml.safe_load(result.stdout)
    return resolved


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """target -> source of a resolved service's volumes (short or long syntax)."""
    out = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        out[target] = source
    return out


def test_compose_config_is_valid() -> None:
    result = run("docker-compose", "-f", "docker-compose.yml", "config", "-q")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_compose_wires_the_stack_in_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) >= {"kafka", "topics", "fetcher", "worker", "prometheus", "grafana"}
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper
    assert str(kafka["environment"]["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == "1"
    for name in ("kafka", "prometheus", "grafana"):
        assert services[name]["healthcheck"]["test"], name
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in ("fetcher", "worker"):
        service = services[name]
        assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully"
        assert service["build"]["dockerfile"].endswith("deploy/Dockerfile")
        assert service["environment"]["NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        # Apache Kafka rejects session timeouts below 6 s.
        assert float(service["environment"]["NEWSFLOW_BROKER_SESSION_TIMEOUT_SECONDS"]) >= 6
    assert services["worker"]["command"] == ["worker"]
    # Scalable with --scale worker=N: no fixed name, no host port.
    assert "container_name" not in services["worker"]
    assert "ports" not in services["worker"]
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"
    for volume in ("kafka-data", "grafana-data"):
        assert volume in compose["volumes"]
    assert mounts(services["kafka"])["/var/lib/kafka/data"] == "kafka-data"
    assert kafka["environment"]["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"


def test_compose_topics_match_the_project_topics(compose: dict[str, Any]) -> None:
    from newsflow.config import Settings
    from newsflow.topics import topic_configs, topic_partitions

    script = " ".join(compose["services"]["topics"]["command"])
    created: dict[str, int] = {}
    for loop in re.finditer(r"for topic in ([^;]+); do\s+create \S+ --partitions (\d+)", script):
        created.update(dict.fromkeys(loop.group(1).split(), int(loop.group(2))))
    for single in re.finditer(r"^\s*create ([\w.-]+) --partitions (\d+)", script, re.MULTILINE):
        created[single.group(1)] = int(single.group(2))
    # Every topic the project declares, with the partition count it declares.
    assert created == topic_partitions(Settings(topic_partitions=4))
    # And the configs it sets at creation (compaction): a topic made without them by hand
    # keeps the broker's default (delete after 7 days), since ensure_topics leaves it alone.
    configured = {name: dict(re.findall(r"--config ([\w.]+)=(\S+)", options))
                  for name, options in re.findall(
                      r"^\s*create ([\w.-]+) (--partitions \d+.*)$", script, re.MULTILINE)}
    declared = topic_configs(Settings(topic_partitions=4))
    assert {name: configured.get(name, {}) for name in created} == {
        name: declared.get(name, {}) for name in created}


def test_compose_shell_snippets_parse(compose: dict[str, Any]) -> None:
    topics = compose["services"]["topics"]
    assert topics["entrypoint"][0] == "/bin/bash"
    snippets = [" ".join(topics["command"])]
    snippets += [test[1] for service in compose["services"].values()
                 if (test := service.get("healthcheck", {}).get("test", []))[:1] == ["CMD-SHELL"]]
    assert len(snippets) >= 2
    for snippet in snippets:
        script = snippet.replace("$$", "$")  # compose's escape for a literal $
        result = run("bash", "-n", "-c", script)
        assert result.returncode == 0, f"{script}\n{result.stderr}"


def test_compose_sources_file_is_a_valid_sources_file() -> None:
    sources = load_sources(DEPLOY / "sources.yaml")
    assert sources and all(source.kind == "rss" for source in sources)


# --- Dockerfile -------------------------------------------------------------------------------
def test_dockerfile_is_multi_stage_non_root_with_healthcheck() -> None:
    # Parsed by Docker's own (BuildKit) parser, so a syntax error fails here too.
    commands = dockerfile.parse_file(str(DEPLOY / "Dockerfile"))
    by_cmd: dict[str, list[dockerfile.Command]] = {}
    for command in commands:
        by_cmd.setdefault(command.cmd, []).append(command)
    stages = [c.value[-1] for c in by_cmd["FROM"] if len(c.value) == 3 and c.value[1] == "AS"]
    assert len(stages) >= 2, stages
    copied_from = {flag for c in by_cmd["COPY"] for flag in c.flags}
    assert f"--from={stages[0]}" in copied_from  # the runtime takes only what the build made
    user = by_cmd["USER"][-1].value[0]
    assert user.split(":")[0] not in {"0", "root"}
    healthcheck = by_cmd["HEALTHCHECK"][-1].value
    assert healthcheck[0] == "CMD" and "healthcheck" in " ".join(healthcheck)
    assert by_cmd["ENTRYPOINT"][-1].value == ("newsflow",)
    for copy in by_cmd["COPY"]:
        if not copy.flags:
            for path in copy.value[:-1]:
                assert (REPO / path).exists(), f"Dockerfile copies missing {path}"


def test_every_newsflow_variable_in_the_deploy_files_is_a_setting(
    compose: dict[str, Any],
) -> None:
    """A misspelt NEWSFLOW_ variable would be silently ignored: each must name a setting."""
    from newsflow.config import Settings

    found: set[str] = set()
    for command in dockerfile.parse_file(str(DEPLOY / "Dockerfile")):
        if command.cmd == "ENV":
            found.update(command.value[0::2])
    for service in compose["services"].values():
        found.update(service.get("environment", {}))
    for doc in k8s_documents():
        if doc["kind"] == "ConfigMap":
            found.update(doc["data"])
    variables = {name for name in found if name.startswith("NEWSFLOW_")}
    assert len(variables) >= 8
    known = {f"NEWSFLOW_{field.upper()}" for field in Settings.model_fields}
    assert variables - known == set()


def test_container_healthcheck_asks_the_running_service() -> None:
    check = load_module(DEPLOY / "healthcheck.py")
    assert check.target([b"newsflow", b"worker", b""]).endswith(":6066/healthz")
    assert check.target([b"newsflow", b"fetch", b"--sources", b"s.yaml"]).endswith(":9464/healthz")
    assert check.target([b"newsflow", b"fetch", b"--once"]) is None
    assert check.target([b"newsflow", b"process", b"a.html"]) is None


# --- Prometheus -------------------------------------------------------------------------------
def alert_names() -> set[str]:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))
    return {rule["alert"] for group in rules["groups"] for rule in group["rules"]
            if "alert" in rule}


def test_promtool_checks_config_and_rules() -> None:
    config = run("promtool", "check", "config", PROMETHEUS / "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr
    rules = run("promtool", "check", "rules", PROMETHEUS / "alerts.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert f"SUCCESS: {len(alert_names())} rules found" in rules.stdout


def test_promtool_rule_tests_pass_and_cover_every_alert() -> None:
    result = run("promtool", "test", "rules", "alerts_test.yml", cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text(encoding="utf-8"))
    fired: set[str] = set()
    silent: set[str] = set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else silent).add(check["alertname"])
    names = alert_names()
    assert len(names) >= 8
    assert names - fired == set(), "alerts never shown to fire"
    assert names - silent == set(), "alerts never shown to stay silent"


def test_promtool_rule_tests_catch_a_broken_rule(tmp_path: Path) -> None:
    """The rule tests are not vacuous: a rule with a wrong threshold fails them."""
    for name in ("alerts.yml", "alerts_test.yml"):
        shutil.copy(PROMETHEUS / name, tmp_path / name)
    rules = tmp_path / "alerts.yml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("> 0.05", "> 0.5"),
                     encoding="utf-8")
    result = run("promtool", "test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert result.returncode != 0
    assert "NewsflowDeadLettersAboveNormal" in result.stdout + result.stderr


def test_prometheus_scrapes_the_compose_services_on_their_ports(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    services = compose["services"]
    fetch_port = services["fetcher"]["environment"]["NEWSFLOW_FETCH_METRICS_PORT"]
    assert jobs["newsflow-fetcher"]["static_configs"][0]["targets"] == [f"fetcher:{fetch_port}"]
    # Every worker replica: DNS service discovery on the compose service name.
    dns = jobs["newsflow-worker"]["dns_sd_configs"][0]
    assert dns["names"] == ["worker"]
    assert str(dns["port"]) == services["worker"]["environment"]["NEWSFLOW_WORKER_WEB_PORT"]
    # The alert rules select these job names.
    rules = (PROMETHEUS / "alerts.yml").read_text(encoding="utf-8")
    assert 'job="newsflow-worker"' in rules and 'job="newsflow-fetcher"' in rules


def test_every_alert_has_severity_summary_and_description() -> None:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
            assert rule["annotations"]["summary"] and rule["annotations"]["description"]
            assert "for" in rule, rule["alert"]


# --- Grafana ----------------------------------------------------------------------------------
def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (DEPLOY / "grafana" / "dashboards" / "newsflow.json").read_text(encoding="utf-8"))
    return data


def test_dashboard_json_is_generated_from_code() -> None:
    generator = load_module(DEPLOY / "grafana" / "dashboard.py")
    committed = (DEPLOY / "grafana" / "dashboards" / "newsflow.json").read_text(encoding="utf-8")
    assert committed == generator.render(), "run: python deploy/grafana/dashboard.py"


def test_dashboard_panels_have_units_descriptions_and_the_datasource_variable() -> None:
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = [p for p in board["panels"] if p["type"] != "row"]
    assert len(panels) >= 20
    for panel in panels:
        assert panel["description"].strip(), panel["title"]
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            assert target["expr"].strip()
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    rows = {p["title"].split(" (")[0] for p in board["panels"] if p["type"] == "row"}
    assert rows >= {"Overview", "Fetcher", "Worker", "Lag and freshness", "Dedupe and tags",
                    "Per-source health"}


def test_grafana_provisioning_points_at_the_dashboard(compose: dict[str, Any]) -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    assert datasources["datasources"][0]["type"] == "prometheus"
    assert datasources["datasources"][0]["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((provisioning / "dashboards" / "newsflow.yml").read_text())
    path = providers["providers"][0]["options"]["path"]
    grafana = mounts(compose["services"]["grafana"])
    assert Path(grafana[path]) == DEPLOY / "grafana" / "dashboards"
    assert Path(grafana["/etc/grafana/provisioning"]) == provisioning


# --- Kubernetes -------------------------------------------------------------------------------
def k8s_documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def test_k8s_manifests_validate_against_the_kubernetes_schemas() -> None:
    files = sorted(K8S.glob("*.yaml"))
    assert files
    for version in ("1.29.0", "1.33.0"):
        result = run(Path(sys.executable).parent / "kubernetes-validate", "--strict",
                     "-k", version, *files)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.count(" passed ") == len(k8s_documents())


def test_k8s_validation_rejects_a_broken_manifest(tmp_path: Path) -> None:
    broken = tmp_path / "worker.yaml"
    broken.write_text((K8S / "worker.yaml").read_text(encoding="utf-8").replace(
        "replicas: 2", "replicas: two"), encoding="utf-8")
    result = run(Path(sys.executable).parent / "kubernetes-validate", "--strict", broken)
    assert result.returncode != 0


def test_k8s_workloads_have_probes_resources_and_a_metrics_service() -> None:
    deployments = {d["metadata"]["name"]: d for d in k8s_documents() if d["kind"] == "Deployment"}
    services = {d["metadata"]["name"]: d for d in k8s_documents() if d["kind"] == "Service"}
    assert set(deployments) == {"newsflow-fetcher", "newsflow-worker"}
    for name, deployment in deployments.items():
        template = deployment["spec"]["template"]
        # Scraped through the Service (deploy/k8s/monitoring/), not through annotations that a
        # generic annotation-based job would scrape a second time under another job name.
        assert "prometheus.io/scrape" not in template["metadata"].get("annotations", {})
        container = template["spec"]["containers"][0]
        metrics_port = next(p for p in container["ports"] if p["name"] == "metrics")
        service = services[name]
        assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
        assert service["spec"]["ports"] == [{"name": "metrics", "port": metrics_port["containerPort"],
                                             "targetPort": "metrics"}]
        for probe in ("livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["port"] == "metrics"
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert template["spec"]["securityContext"]["runAsNonRoot"] is True
        assert container["envFrom"][0]["configMapRef"]["name"] == "newsflow-env"
    env = next(d for d in k8s_documents() if d["metadata"]["name"] == "newsflow-env")["data"]
    ports = {name: {p["containerPort"] for p in d["spec"]["template"]["spec"]["containers"][0]
                    ["ports"]} for name, d in deployments.items()}
    assert int(env["NEWSFLOW_FETCH_METRICS_PORT"]) in ports["newsflow-fetcher"]
    assert int(env["NEWSFLOW_WORKER_WEB_PORT"]) in ports["newsflow-worker"]
    assert env["NEWSFLOW_WORKER_WEB_HOST"] == env["NEWSFLOW_FETCH_METRICS_HOST"] == "0.0.0.0"
    worker = deployments["newsflow-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert worker["args"] == ["worker"]


def test_k8s_liveness_does_not_depend_on_the_broker() -> None:
    """Liveness restarts a pod: it must fail only when a restart helps, not while Kafka is away.
    Readiness says whether the broker is reachable and, for the worker, partitions are held."""
    containers = {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]
                  for d in k8s_documents() if d["kind"] == "Deployment"}
    fetcher, worker = containers["newsflow-fetcher"], containers["newsflow-worker"]
    # The fetcher's /healthz is 503 while the broker is unreachable (test_deploy_probes.py).
    assert fetcher["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert fetcher["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # The worker's /healthz asks only its own event loop (processor/health.py).
    assert worker["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert worker["startupProbe"]["httpGet"]["path"] == "/healthz"


def test_k8s_worker_has_a_disruption_budget() -> None:
    deployment = next(d for d in k8s_documents() if d["metadata"]["name"] == "newsflow-worker"
                      and d["kind"] == "Deployment")
    budget = next(d for d in k8s_documents() if d["kind"] == "PodDisruptionBudget")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    # One at a time, and never all: with the 2 replicas shipped, one always holds partitions.
    assert budget["spec"]["maxUnavailable"] == 1 < deployment["spec"]["replicas"]


# --- image pin policy -------------------------------------------------------------------------
# No registry is reachable from where this is built and tested, so digests cannot be resolved
# here; the policy (README, "Image pin policy") is an exact version tag on every image, never
# `latest` or a floating major/minor tag, and the newsflow image tagged with its own version.
EXACT_TAG = re.compile(r"^[\w.\-/]+:v?\d+\.\d+\.\d+(-[\w.]+)?(@sha256:[0-9a-f]{64})?$")


def project_version() -> str:
    import tomllib

    with (REPO / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


def test_every_image_has_an_exact_version(compose: dict[str, Any]) -> None:
    images = {name: service["image"] for name, service in compose["services"].items()}
    images |= {f"k8s/{d['metadata']['name']}": c["image"] for d in k8s_documents()
               if d["kind"] == "Deployment" for c in d["spec"]["template"]["spec"]["containers"]}
    assert len(images) >= 8
    for where, image in images.items():
        assert EXACT_TAG.match(image), f"{where}: {image} is not pinned to an exact version"
        assert not image.endswith(":latest"), where
    own = {where: image for where, image in images.items() if image.startswith("newsflow:")}
    assert set(own) == {"fetcher", "worker", "k8s/newsflow-fetcher", "k8s/newsflow-worker"}
    assert set(own.values()) == {f"newsflow:{project_version()}"}
    for deployment in (d for d in k8s_documents() if d["kind"] == "Deployment"):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["imagePullPolicy"] == "IfNotPresent"  # safe: the tag never moves


def test_pin_policy_rejects_floating_tags() -> None:
    for image in ("newsflow:latest", "newsflow", "grafana/grafana:11", "prom/prometheus:v2.53",
                  "apache/kafka:latest@sha256:" + "0" * 64):
        assert not EXACT_TAG.match(image), image
    for image in ("prom/prometheus:v2.53.2", "newsflow:0.1.0", "grafana/grafana:11.2.0",
                  "apache/kafka:3.9.1@sha256:" + "a" * 64):
        assert EXACT_TAG.match(image), image

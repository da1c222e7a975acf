"""A user's mistake stops a command with one line naming the setting, and exit 2 (bad
configuration), before anything is started: no traceback from deep inside a server."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsflow import cli
from newsflow.broker import ensure_port_free, free_port
from newsflow.cli import main
from newsflow.config import Settings
from newsflow.errors import ConfigError
from newsflow.processor.faust_app import new_faust_app

pytestmark = pytest.mark.clock  # the worker's modules are imported


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("NEWSFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv))
    return code, capsys.readouterr().err.strip().splitlines()


def test_a_port_in_use_is_named_with_its_setting(taken_port: int) -> None:
    with pytest.raises(ConfigError, match=f"NEWSFLOW_X: cannot listen on 127.0.0.1:{taken_port}"):
        ensure_port_free("127.0.0.1", taken_port, "NEWSFLOW_X", "NEWSFLOW_H")
    ensure_port_free("127.0.0.1", free_port(), "NEWSFLOW_X", "NEWSFLOW_H")
    ensure_port_free("127.0.0.1", 0, "NEWSFLOW_X", "NEWSFLOW_H")


def test_an_address_this_machine_has_not_is_named_with_the_host_setting() -> None:
    """A foreign address was blamed on the port setting (EADDRNOTAVAIL)."""
    with pytest.raises(ConfigError, match=r"^NEWSFLOW_H: cannot listen on 10\.255\.255\.1:"):
        ensure_port_free("10.255.255.1", free_port(), "NEWSFLOW_X", "NEWSFLOW_H")


def test_worker_and_fetcher_refuse_a_taken_port_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], taken_port: int,
    tmp_path: Path,
) -> None:
    # No broker at this address: the check comes before the broker is asked for anything.
    monkeypatch.setenv("NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("NEWSFLOW_WORKER_WEB_PORT", str(taken_port))
    code, lines = run(capsys, "worker")
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("newsflow worker: NEWSFLOW_WORKER_WEB_PORT: cannot listen on")
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - {id: inbox, name: Inbox, kind: directory, path: .}\n")
    monkeypatch.setenv("NEWSFLOW_FETCH_METRICS_PORT", str(taken_port))
    code, lines = run(capsys, "fetch", "--sources", str(sources), "--once")
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("newsflow fetch: NEWSFLOW_FETCH_METRICS_PORT: cannot listen on")


def test_a_misspelt_variable_is_named_with_the_setting_it_may_mean(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    # Ignored without a word, it left its setting at the default: here the broker address,
    # whose absence the command then reports.
    monkeypatch.setenv("NEWSFLOW_KAFKA_BOOTSTRAP_SERVER", "127.0.0.1:9092")
    monkeypatch.setenv("NEWSFLOW_NO_SUCH_THING", "1")
    code, lines = run(capsys, "tail", "articles")
    assert code == 2
    assert lines[:2] == [
        "newsflow tail: warning: NEWSFLOW_KAFKA_BOOTSTRAP_SERVER is not a setting and is "
        "ignored (did you mean NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS?)",
        "newsflow tail: warning: NEWSFLOW_NO_SUCH_THING is not a setting and is ignored"]
    assert "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS is not set" in lines[2]


def test_reenabling_a_source_the_file_does_not_have_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    monkeypatch.setenv("NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - {id: inbox, name: Inbox, kind: directory, path: .}\n")
    code, lines = run(capsys, "fetch", "--sources", str(sources), "--once", "--reenable",
                      "inbox", "--reenable", "agency")
    assert (code, lines) == (2, [f"newsflow fetch: --reenable: no source 'agency' in {sources}"])


def test_a_data_directory_that_cannot_be_one_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("NEWSFLOW_WORKER_WEB_PORT", str(free_port()))
    monkeypatch.setenv("NEWSFLOW_WORKER_DATA_DIR", str(tmp_path / "a-file" / "worker"))
    code, lines = run(capsys, "worker")
    assert code == 2 and lines == [
        f"newsflow worker: NEWSFLOW_WORKER_DATA_DIR: cannot use {tmp_path}/a-file/worker as a "
        "directory: Not a directory"]


def test_bad_settings_are_one_line_naming_each_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NEWSFLOW_TOPIC_PARTITIONS", "many")
    monkeypatch.setenv("NEWSFLOW_BROKER_PORT", "99999")
    code, lines = run(capsys, "tail", "articles")
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("newsflow tail: configuration error: NEWSFLOW_TOPIC_PARTITIONS: ")
    assert "(got 'many'); NEWSFLOW_BROKER_PORT: " in lines[0] and "(got '99999')" in lines[0]


@pytest.mark.parametrize(("variable", "value"), [
    ("NEWSFLOW_FETCH_TIMEOUT_SECONDS", "0"), ("NEWSFLOW_FETCH_TIMEOUT_SECONDS", "-5"),
    ("NEWSFLOW_FETCH_MAX_BYTES", "-1"), ("NEWSFLOW_FETCH_RETRIES", "-1"),
    ("NEWSFLOW_BROKER_SESSION_TIMEOUT_SECONDS", "0"),
    ("NEWSFLOW_BROKER_HEARTBEAT_INTERVAL_SECONDS", "-1"),
    ("NEWSFLOW_PRODUCER_MAX_BATCH_SIZE", "0"), ("NEWSFLOW_DEMO_TIMEOUT_SECONDS", "0"),
    # "inf" passed "> 0" and then stopped the command with an OverflowError traceback.
    ("NEWSFLOW_KAFKA_CONNECT_TIMEOUT_SECONDS", "inf"), ("NEWSFLOW_FETCH_TIMEOUT_SECONDS", "nan"),
    # kafka-python refuses a fetch wait not under its 30 s request timeout, at every try to
    # connect: it was reported as no broker (exit 3) after the connect timeout.
    ("NEWSFLOW_CLIENT_FETCH_MAX_WAIT_MS", "30000"),
])
def test_a_setting_out_of_its_range_is_bad_configuration(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    # Accepted before: a fetch timeout of 0 made every web poll fail as "timed out" (exit 1,
    # blamed on the source), a byte cap of -1 dead-lettered every file as too large.
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - {id: inbox, name: Inbox, kind: directory, path: .}\n")
    monkeypatch.setenv(variable, value)
    code, lines = run(capsys, "fetch", "--sources", str(sources), "--once")
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"newsflow fetch: configuration error: {variable}: ")
    assert lines[0].endswith(f"(got '{value}')")


def test_a_missing_broker_address_is_bad_configuration(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, lines = run(capsys, "tail", "articles")
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("newsflow tail: NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS is not set.")


@pytest.mark.parametrize(("port", "said"), [("99999", "99999 is not a TCP port"),
                                            ("abc", "'abc' is not a TCP port (1 to 65535)")])
def test_broker_port_out_of_range_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], port: str, said: str,
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["broker", "--port", port])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert said in err and "_port" not in err, err


@pytest.mark.parametrize("variable", ["NEWSFLOW_WORKER_WEB_PORT", "NEWSFLOW_FETCH_METRICS_PORT"])
def test_port_zero_is_bad_configuration(
    variable: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    # The worker's 0 passed the settings and ended in a Faust traceback (exit 1); the fetcher's
    # listened on a port the system picked and reported nowhere.
    monkeypatch.setenv(variable, "0")
    code, lines = run(capsys, "tail", "articles")
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"newsflow tail: configuration error: {variable}: ")


def test_the_worker_listens_only_where_it_is_told() -> None:
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:1", worker_web_host="127.0.0.1")
    assert new_faust_app(settings).conf.web_bind == "127.0.0.1"


def test_a_broker_port_in_use_stops_the_broker_command(
    capsys: pytest.CaptureFixture[str], taken_port: int,
) -> None:
    code, lines = run(capsys, "broker", "--port", str(taken_port))
    assert code == 2 and lines == [
        f"newsflow broker: NEWSFLOW_BROKER_PORT (or --port): cannot listen on "
        f"127.0.0.1:{taken_port}: Address already in use"]


def test_the_demo_refuses_a_malformed_overlay_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("remove_topics: 3\n", encoding="utf-8")
    monkeypatch.setenv("NEWSFLOW_TAXONOMY_PATH", str(overlay))
    code = main(["demo"])
    out, err = capsys.readouterr()
    assert code == 2 and err.strip().splitlines() == [
        f"newsflow demo: configuration error: {overlay}: remove_topics: expected a list of "
        "bundled topic names, got 3"]
    assert out == "", "nothing was started (no broker, site or worker line)"


def test_the_worker_refuses_a_malformed_overlay_before_asking_for_the_broker(
    tmp_path: Path,
) -> None:
    # The broker was asked first: with none up, a bad overlay was reported as "no broker"
    # (exit 3), and only once one answered as the configuration error it is (exit 2).
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("remove_topics: 3\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")} | {
        "NEWSFLOW_TAXONOMY_PATH": str(overlay),
        "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",  # nobody listens
        "NEWSFLOW_WORKER_WEB_PORT": str(free_port()),
        "NEWSFLOW_WORKER_DATA_DIR": str(tmp_path / "worker")}
    result = subprocess.run([sys.executable, "-m", "newsflow", "worker"], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"newsflow worker: configuration error: {overlay}: remove_topics: expected a list of "
        "bundled topic names, got 3"]


@pytest.mark.parametrize(("argv", "message"), [
    (["tail", "articles", "--max", "-1"], "argument --max: -1 is below 1"),
    (["tail", "articles", "--max", "x"], "argument --max: invalid int value: 'x'"),
    (["tail", "articles", "--timeout", "-5"], "argument --timeout: -5 is below 0.0"),
    (["worker", "--loglevel", "bogus"], "argument --loglevel: invalid choice: 'bogus'"),
    (["tags"], "the following arguments are required: {check}"),
    # Path("") is the current folder: it was read as a taxonomy file ("Is a directory: '.'").
    (["tags", "check", "--labels", "l.jsonl", "--taxonomy", ""],
     "argument --taxonomy: empty path"),
    (["tags", "check", "--labels", ""], "argument --labels: empty path"),
    (["fetch", "--sources", ""], "argument --sources: empty path"),
    # `process ""` was read as the current folder and dead-lettered as ". : a directory".
    (["process", "in.jsonl", ""], "argument files: empty path"),
])
def test_bad_arguments_are_usage_errors(argv: list[str], message: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2 and message in capsys.readouterr().err


def test_an_empty_taxonomy_path_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"text": "t", "labels": []}\n', encoding="utf-8")
    monkeypatch.setenv("NEWSFLOW_TAXONOMY_PATH", "")
    code, lines = run(capsys, "tags", "check", "--labels", str(labels))
    assert code == 2 and lines == [
        "newsflow tags check: configuration error: NEWSFLOW_TAXONOMY_PATH: Value error, empty; unset "
        "it to use the bundled taxonomy alone (got '')"]


@pytest.mark.parametrize("command", [["tail", "articles", "--timeout", "1"],
                                     ["tags", "check", "--labels", "labels.jsonl"],
                                     ["process", "in.jsonl"]])
def test_a_command_without_a_stdout_stops_in_one_line(command: list[str], tmp_path: Path) -> None:
    # `newsflow CMD ... >&-`: sys.stdout is None. `tail` printed nothing and exited 0 (every
    # record lost, and acknowledged with --group); `tags check` and `process` ended on an
    # AttributeError traceback. Refused before any work: no broker is needed here.
    (tmp_path / "labels.jsonl").write_text('{"id": "a", "text": "t", "labels": []}\n')
    (tmp_path / "in.jsonl").write_text('{"url": "https://example.org/a", "body": "b"}\n')
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("NEWSFLOW_") and key != "LD_PRELOAD"}  # see test_offline
    environment["NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{free_port()}"
    result = subprocess.run(["sh", "-c", 'exec "$0" -m newsflow "$@" >&-', sys.executable,
                             *command], capture_output=True, text=True, timeout=120,
                            check=False, env=environment, cwd=tmp_path)
    name = " ".join(command[:2] if command[0] == "tags" else command[:1])
    assert (result.returncode, result.stderr.strip().splitlines()) == (1, [
        f"newsflow {name}: cannot write output: no standard output (it is closed)"])


class _FullDisk(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(28, "No space left on device")


@pytest.mark.parametrize("stdout", [None, _FullDisk()], ids=["closed", "full"])
def test_the_fetch_summary_goes_to_stderr_when_stdout_cannot_take_it(
        stdout: io.StringIO | None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`fetch --once >&-` dropped its summary without a word (print to a closed stdout); the
    run's work is done, so the line goes where it can still be read."""
    monkeypatch.setattr(sys, "stdout", stdout)
    cli._say_summary("published 5 raw articles; no failures")
    assert capsys.readouterr().err == "published 5 raw articles; no failures\n"


def test_a_sources_file_that_is_a_named_pipe_is_refused_not_waited_for(tmp_path: Path) -> None:
    # `fetch --sources fifo` with no writer hung before anything was started.
    fifo = tmp_path / "sources.yaml"
    os.mkfifo(fifo)
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("NEWSFLOW_")}
    result = subprocess.run([sys.executable, "-m", "newsflow", "fetch", "--sources", str(fifo),
                             "--once"], capture_output=True, text=True, timeout=60,
                            check=False, env=environment)
    assert (result.returncode, result.stderr.strip().splitlines()) == (2, [
        f"newsflow fetch: {fifo}: cannot read sources file: not a regular file (a named pipe)"])


def test_json_lines_are_written_as_utf8_whatever_the_locale(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """Under a Latin-1 locale (PYTHONIOENCODING=latin-1), `tail` stopped with
    UnicodeEncodeError at the first article with a curly quote."""
    written = io.BytesIO()
    latin1 = io.TextIOWrapper(written, encoding="latin-1")
    monkeypatch.setattr(sys, "stdout", latin1)
    out = cli._output()
    print(json.dumps({"title": "Iran’s “red line”"}, ensure_ascii=False), file=out, flush=True)
    assert json.loads(written.getvalue().decode("utf-8")) == {"title": "Iran’s “red line”"}

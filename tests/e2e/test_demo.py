"""The quick start's first command: `newsflow demo` runs the whole chain and exits 0; the same
sample gives the same story ids in every run; `--follow` shows the site growing and stops
quietly on Ctrl-C; no temporary folder is left behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaProducer

from newsflow.broker import EmbeddedBroker
from newsflow.config import Settings
from newsflow.demo import clip
from newsflow.sample_site import SITE_DIR, load_articles
from newsflow.topics import ensure_topics
from tests.helpers import children, stop_leftovers
from tests.integration.test_consumer import seed_articles

pytestmark = pytest.mark.e2e
# The demo reads the wall clock; the shifted-clock run repeats the tests marked `clock`. The
# named-broker test runs the same demo code on another broker: once, unshifted, is enough.
clock = pytest.mark.clock


def demo_env(tmp: Path) -> dict[str, str]:
    tmp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    return env | {"TMPDIR": str(tmp), "NEWSFLOW_DEMO_FOLLOW_INTERVAL_SECONDS": "2"}


def run_demo(tmp: Path) -> str:
    result = subprocess.run([sys.executable, "-m", "newsflow", "demo"], env=demo_env(tmp),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert list(tmp.iterdir()) == [], "the demo left its temporary folder behind"
    return result.stdout


@clock
def test_demo_processes_the_sample_site_and_exits_zero(tmp_path: Path) -> None:
    # Two runs on the same input, side by side: each demo has its own broker, site, ports and
    # temporary folder, and most of a run is waiting on its broker.
    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = (pool.submit(run_demo, tmp_path / name) for name in ("tmp", "tmp-again"))
        out, again = first.result(), second.result()
    sample = load_articles()
    assert f"fetcher published {len(sample)} raw articles" in out
    # Every distinct sample article is printed with its outlet and tags; the syndicated copy
    # is reported as a duplicate of the article it copies, not as an article.
    printed = [line for line in out.splitlines() if line.startswith("• ")]
    titles = {article["title"] for article in sample}
    assert {line[2:] for line in printed} == titles
    assert len(printed) == len(sample) - 1
    copied = next(a["title"] for a in sample if a["slug"].endswith("-syndicated"))
    assert f"↳ duplicate of «{clip(copied, 50)}»" in out
    summary = out[out.index("stories:"):].splitlines()
    row = next(i for i, line in enumerate(summary) if line.startswith(f"    - {clip(copied, 70)}"))
    assert summary[row + 1].strip().startswith("↳ duplicate (exact)")
    assert "Harbour Ledger via newsflow sample wire" in out
    assert "tags: missiles" in out and "tags: sanctions" in out and "naval_deployment" in out
    assert out.rstrip().splitlines()[-1].startswith(f"done: {len(sample) - 1} articles, 1 duplicates")
    # The same input again: the same story ids (the site's port, and so every URL, differ).
    stories = re.compile(r"story: (\w+)")
    assert stories.findall(out) and stories.findall(out) == stories.findall(again)


@pytest.mark.parametrize("signum", [
    pytest.param(signal.SIGINT, marks=clock, id="ctrl-c"),
    # What timeout, docker stop and systemd send: it once ended the demo at once (exit 143)
    # and left the temporary folder behind. Once, unshifted: the same code as Ctrl-C after it.
    pytest.param(signal.SIGTERM, id="sigterm")])
def test_follow_shows_new_articles_and_ctrl_c_stops_it_quietly(
        tmp_path: Path, signum: signal.Signals) -> None:
    tmp = tmp_path / "tmp"
    process = subprocess.Popen([sys.executable, "-m", "newsflow", "demo", "--follow"],
                               env=demo_env(tmp), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    later = load_articles(SITE_DIR / "follow.yaml")
    seen = threading.Event()
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith(f"• {later[1]['title']}"):  # the second article added later
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert seen.wait(240), "".join(lines)[-3000:]
        process.send_signal(signum)
        code = process.wait(60)
        reader.join(10)
        assert process.stderr is not None
        errors = process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 0, errors[-3000:]
    assert "Traceback" not in errors and " ERROR " not in errors, errors[-3000:]
    assert any(line.startswith(f"• {later[0]['title']}") for line in lines)
    assert list(tmp.iterdir()) == [], "the demo left its temporary folder behind"


def test_a_reader_that_stops_reading_ends_the_demo_quietly(tmp_path: Path) -> None:
    # `newsflow demo | head -3`: the demo stops what it started and exits 0 without a word,
    # as `process` and `tail` do (it ended on a BrokenPipeError traceback, exit 1).
    tmp = tmp_path / "tmp"
    errors = tmp_path / "stderr.log"
    with errors.open("w") as err:
        process = subprocess.Popen([sys.executable, "-m", "newsflow", "demo"],
                                   env=demo_env(tmp), stdout=subprocess.PIPE, stderr=err,
                                   text=True, start_new_session=True)
    started: list[int] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("worker started"):
                break
        else:
            pytest.fail(errors.read_text()[-3000:])
        started = children(process.pid)  # the embedded broker and the worker
        process.stdout.close()  # the reader is gone: the demo's next line cannot be written
        code = process.wait(120)
    finally:
        left = stop_leftovers(process, started)
    assert code == 0, errors.read_text()[-3000:]
    assert "Traceback" not in errors.read_text(), errors.read_text()[-3000:]
    assert len(started) >= 2 and left == []
    assert list(tmp.iterdir()) == [], "the demo left its temporary folder behind"


def test_demo_on_a_named_broker_shows_only_its_own_run(broker: EmbeddedBroker,
                                                        tmp_path: Path) -> None:
    # What a user's own pipeline left in the default topics of the broker the demo is given.
    settings = Settings(kafka_bootstrap_servers=broker.bootstrap)
    ensure_topics(settings)
    old = seed_articles(settings)[0] | {"title": "Left over from an earlier run"}
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    producer.send(settings.topic_articles, key=old["id"].encode(), value=json.dumps(old).encode())
    producer.flush(30)
    producer.close()
    tmp = tmp_path / "tmp"
    result = subprocess.run([sys.executable, "-m", "newsflow", "demo"],
                            env=demo_env(tmp) | {"NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    sample = load_articles()
    assert "Left over from an earlier run" not in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith(
        f"done: {len(sample) - 1} articles, 1 duplicates")
    # Its own topics have one partition, as on its own broker: the same story ids every run.
    prefix = re.search(r"this run's topics: (\S+)\*", result.stdout)
    assert prefix is not None, result.stdout[:2000]
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        (raw,) = admin.describe_topics([prefix.group(1) + "raw"])
    finally:
        admin.close()
    assert len(raw["partitions"]) == 1

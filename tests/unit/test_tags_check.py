"""`newsflow tags check`: a newsroom measures its taxonomy (and overlay) on its own labels."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.clock

ARTICLES = [
    {"id": "a1", "title": "Warships sail for the strait",
     "text": "The navy sent two destroyers to the strait on Tuesday to escort tankers through "
             "the contested waters, officials said.", "labels": ["naval_deployment"]},
    {"id": "a2", "title": "Harbour pilots strike",
     "text": "Harbour pilots walked out on Monday, leaving ships waiting outside the port.",
     "labels": ["strikes"]},
    {"id": "a3", "title": "Bakery opens", "body": "A bakery opened on the high street.",
     "labels": []},
]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsflow", "tags", "check", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def labels_file(tmp_path: Path) -> Path:
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(a) + "\n" for a in ARTICLES), encoding="utf-8")
    return path


def test_prints_scores_per_topic_and_each_error_with_its_evidence(tmp_path: Path) -> None:
    result = run("--labels", str(labels_file(tmp_path)))
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[1:4]}
    assert rows["naval_deployment"][:3] == ["1.000", "1.000", "1.000"]
    # No article is labelled missiles or sanctions: not measured, so not a perfect score.
    assert rows["missiles"][:3] == ["n/a", "n/a", "n/a"]
    assert rows["sanctions"][:3] == ["n/a", "n/a", "n/a"]
    assert "(n/a: no article is labelled with the topic, or none was tagged)" in result.stdout
    assert "strikes" not in result.stdout  # not a topic of the bundled taxonomy...
    assert result.stderr.strip().splitlines() == [  # ...which the report says
        "newsflow tags check: warning: labels not measured, no such topic in the taxonomy: "
        "'strikes' (1 article); its topics: missiles, sanctions, naval_deployment"]


def test_a_misspelt_label_is_named_with_the_topic_it_may_mean(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps({"text": "x", "labels": ["sanction"]}) + "\n"
                            for _ in range(2)), encoding="utf-8")
    result = run("--labels", str(path))
    assert result.returncode == 0
    assert "'sanction' (2 articles; did you mean 'sanctions'?)" in result.stderr


def test_an_overlay_topic_is_measured_and_its_misses_listed(tmp_path: Path) -> None:
    overlay = tmp_path / "newsroom.yaml"
    overlay.write_text(yaml.safe_dump({"topics": [{
        "name": "strikes", "iptc": "medtop:20000523", "description": "Labour strikes.",
        "threshold": 0.5, "terms": [{"phrase": "walkout~", "weight": 1.0}]}]}),
        encoding="utf-8")
    result = run("--labels", str(labels_file(tmp_path)), "--taxonomy", str(overlay))
    assert result.returncode == 0, result.stderr
    strikes = next(line for line in result.stdout.splitlines() if line.startswith("strikes"))
    assert strikes.split()[1:4] == ["n/a", "0.000", "n/a"]  # never tagged: no precision
    assert "missed      strikes             a2" in result.stdout


def test_an_error_shows_where_its_evidence_sits(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps({"id": "w1", "title": "Harbour news",
                                "text": "The fleet returned to port on Friday.",
                                "labels": ["naval_deployment"]}) + "\n", encoding="utf-8")
    result = run("--labels", str(path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if "missed      naval_deployment    w1" in line)
    assert lines[at + 1].split() == ["evidence:", "fleet"]
    assert lines[at + 2].strip().startswith("aboutness: title 0, lead 0.")


def test_a_malformed_labels_file_fails_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "text": "t", "labels": "missiles"}\n', encoding="utf-8")
    result = run("--labels", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and f"{bad}:1:" in result.stderr
    bad.write_text('{"id": "x", "text": "t"}\n', encoding="utf-8")
    result = run("--labels", str(bad))
    assert result.returncode == 2 and result.stderr.strip() == (
        f"newsflow tags check: {bad}:1: needs a string 'text' (or 'body') and a list of 'labels'")

"""`newsflow tags check`: a newsroom measures its taxonomy (and overlay) on its own labels."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from newsflow.errors import LabelsFileError
from newsflow.tags_check import (
    CheckReport,
    LabelledArticle,
    TopicScore,
    print_report,
    read_labels,
    wilson_interval,
)
from tests.helpers import alive, cpu_seconds, pool_children, starting, stop_leftovers

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


def run_with_reader_gone(*args: str, env: dict[str, str],
                         timeout: float) -> subprocess.CompletedProcess[str]:
    """``tags check`` with its stdout a pipe whose reader is gone before the report is written
    (`... | head` once head has exited)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", "newsflow", "tags", "check", *args],
                              stdout=write_end, stderr=subprocess.PIPE, text=True,
                              timeout=timeout, check=False, env=env)
    finally:
        os.close(write_end)


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


@pytest.mark.parametrize("buffered", [True, False])
def test_a_reader_that_stops_reading_ends_the_check_quietly(tmp_path: Path,
                                                            buffered: bool) -> None:
    # `newsflow tags check ... | head`: exit 0 without a word, as `process` and `tail` do (it
    # ended on a BrokenPipeError traceback, exit 1; with a block-buffered stdout, the usual
    # case outside containers, on "Exception ignored ... BrokenPipeError", exit 120).
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if not buffered:
        environment["PYTHONUNBUFFERED"] = "1"
    result = run_with_reader_gone("--labels", str(labels_file(tmp_path)), env=environment,
                                  timeout=120)
    assert result.returncode == 0, result.stderr
    # Only the warning about the label no topic has ('strikes' is not bundled).
    assert [line for line in result.stderr.splitlines()
            if not line.startswith("newsflow tags check: warning: ")] == [], result.stderr


@pytest.mark.parametrize("buffered", [True, False])
def test_a_report_that_cannot_be_written_fails_with_one_line(tmp_path: Path,
                                                            buffered: bool) -> None:
    # `> /dev/full` ended on an OSError traceback; as `process` does: one line, exit 1, and no
    # second error when Python flushes stdout at exit.
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if not buffered:
        environment["PYTHONUNBUFFERED"] = "1"
    with open("/dev/full", "w") as full:  # every write: "No space left on device"
        result = subprocess.run(
            [sys.executable, "-m", "newsflow", "tags", "check", "--labels",
             str(labels_file(tmp_path))], stdout=full, stderr=subprocess.PIPE, text=True,
            timeout=120, check=False, env=environment)
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines()
            if not line.startswith("newsflow tags check: warning: ")] == [
        "newsflow tags check: cannot write output: No space left on device"]


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


def labels(tmp_path: Path, *lines: str, bom: bool = False) -> Path:
    path = tmp_path / "labels.jsonl"
    path.write_text(("\ufeff" if bom else "") + "".join(f"{line}\n" for line in lines),
                    encoding="utf-8")
    return path


ARTICLE = '"text": "t", "labels": []'


@pytest.mark.parametrize(("lines", "expected"), [
    (["[" * 200_000 + "]" * 200_000], "1: nested too deeply"),
    (["{not json"], "1: not JSON: Expecting property name enclosed in double quotes: line 1 "
                    "column 2 (char 1)"),
    (['["a"]'], "1: expected a JSON object, got an array"),
    (["null"], "1: expected a JSON object, got null"),
    (["3"], "1: expected a JSON object, got a number"),
    ([f'{{"title": 5, {ARTICLE}}}'], "1: 'title': expected a string or null, got 5"),
    ([f'{{"id": "a", {ARTICLE}}}', "", f'{{"id": "a", {ARTICLE}}}'],
     "3: id 'a' is also on line 1"),
    # An article without an id is named by its line number, which may be another's id: the
    # message said "id '2' is also on line 2" of a line without one.
    ([f"{{{ARTICLE}}}", f"{{{ARTICLE}}}", f'{{"id": "2", {ARTICLE}}}'],
     "3: id '2' is also the name of line 2, which has no 'id'"),
    ([f'{{"id": "3", {ARTICLE}}}', f"{{{ARTICLE}}}", f"{{{ARTICLE}}}"],
     "3: has no 'id', so it is named by its line number, '3': the id of line 1"),
    # An id that is not a string was turned into one: 5 was the same article as "5", and
    # null, true or a list passed as names.
    ([f'{{"id": 5, {ARTICLE}}}'], "1: 'id': expected a non-empty string, got 5"),
    ([f'{{"id": ["a", {{"b": 1}}], {ARTICLE}}}'],
     "1: 'id': expected a non-empty string, got ['a', {'b': 1}]"),
    ([f'{{"id": null, {ARTICLE}}}'], "1: 'id': expected a non-empty string, got None"),
    ([f'{{"id": true, {ARTICLE}}}'], "1: 'id': expected a non-empty string, got True"),
    ([f'{{"id": " ", {ARTICLE}}}'], "1: 'id': expected a non-empty string, got ' '"),
    (['{"text": 5, "labels": []}'], "1: 'text': expected a string, got 5"),
    (['{"body": ["t"], "labels": []}'], "1: 'body': expected a string, got ['t']"),
    (['{"text": "t", "labels": "missiles"}'],
     "1: 'labels': expected a list of strings, got 'missiles'"),
    (['{"text": "t", "labels": ["missiles", 5]}'],
     "1: 'labels': expected a list of strings, got ['missiles', 5]"),
    # JSON keeps the last of two equal keys: the labelled article counted as unlabelled.
    (['{"text": "t", "labels": ["missiles"], "labels": []}'], "1: key 'labels' given twice"),
])
def test_a_malformed_labels_line_is_named_with_its_fault(
        tmp_path: Path, lines: list[str], expected: str) -> None:
    path = labels(tmp_path, *lines)
    with pytest.raises(LabelsFileError) as info:
        read_labels(path)
    assert str(info.value) == f"{path}:{expected}"


def test_a_number_python_will_not_read_is_named_by_its_line(tmp_path: Path) -> None:
    path = labels(tmp_path, f'{{"id": "a", "n": {"9" * 5000}, {ARTICLE}}}')
    with pytest.raises(LabelsFileError, match=rf"^{path}:1: cannot read: Exceeds the limit"):
        read_labels(path)


def test_line_separators_inside_a_json_string_do_not_split_its_line(tmp_path: Path) -> None:
    # json.dumps(..., ensure_ascii=False) writes U+2028, U+2029 and U+0085 as they are; they
    # are legal in a JSON string, and splitlines() cut the line there.
    path = labels(tmp_path, json.dumps({"id": "a", "title": "Markets\u0085close",
                                        "text": "Shares rose.\u2028Traders cited earnings.\u2029",
                                        "labels": []}, ensure_ascii=False),
                  f'{{"id": "b", {ARTICLE}}}')
    assert [a.id for a in read_labels(path)] == ["a", "b"]


def test_old_mac_line_ends_are_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_bytes(f'{{"id": "a", {ARTICLE}}}\r{{"id": "b", {ARTICLE}}}\r\n'
                     f'{{"id": "c", {ARTICLE}}}\n'.encode())
    assert [a.id for a in read_labels(path)] == ["a", "b", "c"]


def test_an_id_that_cannot_be_printed_as_written_is_escaped() -> None:
    # A newline in an id read as another error line; a lone surrogate stopped the report
    # halfway with UnicodeEncodeError.
    errors: list[dict[str, Any]] = [
        {"id": id_, "topic": "missiles", "error": "missed", "title": "t", "score": 0.0,
         "evidence": [], "aboutness": {}, "dropped": [], "language": None}
        for id_ in ("x\ud800", "bad\nid  missed")]
    out = io.StringIO()
    print_report(CheckReport({"missiles": TopicScore(fn=2)}, errors=errors), out)
    out.getvalue().encode("utf-8")  # writable: no lone surrogate left
    lines = out.getvalue().splitlines()
    assert "  missed      missiles            'x\\ud800'  score 0.00  't'" in lines
    assert "  missed      missiles            'bad\\nid  missed'  score 0.00  't'" in lines


def test_a_match_a_context_rule_ruled_out_is_shown_with_the_rule(tmp_path: Path) -> None:
    # The word was found, and a rule dropped it: not the same miss as a word never there.
    path = labels(tmp_path, json.dumps({
        "id": "s1", "title": "League hands out sanctions",
        "text": "The league imposed sanctions on the club after the match.",
        "labels": ["sanctions"]}))
    result = run("--labels", str(path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if "missed      sanctions           s1" in line)
    assert lines[at + 1].split() == ["evidence:", "no", "evidence"]
    assert lines[at + 2].startswith("      ruled out by a context rule: sanctions (")
    assert "topic 'sanctions': context[" in lines[at + 2]


def test_a_labels_file_that_is_not_a_regular_file_is_refused_in_one_line(
        tmp_path: Path) -> None:
    # /dev/zero was read until memory ran out, and a named pipe with no writer hung the
    # command; /dev/null (a device too) read as an empty file.
    with pytest.raises(LabelsFileError) as info:
        read_labels(Path("/dev/null"))
    assert str(info.value) == (
        "/dev/null: cannot read labelled articles: not a regular file (a device)")
    with pytest.raises(LabelsFileError) as info:
        read_labels(tmp_path)
    assert str(info.value) == (
        f"{tmp_path}: cannot read labelled articles: not a regular file (a directory)")
    fifo = tmp_path / "labels.jsonl"
    os.mkfifo(fifo)  # no writer: reading it waited for ever
    result = subprocess.run([sys.executable, "-m", "newsflow", "tags", "check", "--labels",
                             str(fifo)], capture_output=True, text=True, timeout=60, check=False)
    assert (result.returncode, result.stderr.strip().splitlines()) == (2, [
        f"newsflow tags check: {fifo}: cannot read labelled articles: not a regular file "
        "(a named pipe)"])


def test_a_bom_and_a_null_title_are_accepted(tmp_path: Path) -> None:
    path = labels(tmp_path, f'{{"id": "a", "title": null, {ARTICLE}}}', bom=True)
    assert read_labels(path) == [LabelledArticle("a", "", "t", frozenset())]


def test_an_article_without_an_id_is_named_by_its_line(tmp_path: Path) -> None:
    path = labels(tmp_path, "", f"{{{ARTICLE}}}")
    assert read_labels(path) == [LabelledArticle("2", "", "t", frozenset())]


def test_labelled_text_is_scored_as_the_pipeline_tags_it(tmp_path: Path) -> None:
    # The pipeline tags text normalised by the cleaner (NFC, no soft hyphen): scored as written,
    # a "mis\u00adsile" was a miss here and a tag in the stream.
    from newsflow.config import Settings
    from newsflow.pipeline_setup import build_tagger
    from newsflow.tags_check import check

    path = labels(tmp_path, json.dumps({
        "id": "shy", "title": "North Korea fires ballistic mis\u00adsile into sea",
        "text": "North Korea fired a ballistic mis\u00adsile into the sea off its east coast on "
                "Wednesday, the South Korean military said. Seoul called it a provocation.",
        "labels": ["missiles"]}))
    [article] = read_labels(path)
    assert "\u00ad" not in article.title + article.text
    score = check(build_tagger(Settings()), [article]).scores["missiles"]
    assert (score.tp, score.fn) == (1, 0)


def test_false_alarms_are_not_measured_when_every_article_has_the_topic() -> None:
    report = CheckReport({"missiles": TopicScore(tp=1), "sanctions": TopicScore(tn=1)})
    out = io.StringIO()
    print_report(report, out)
    rows = {line.split()[0]: line.split()[1:] for line in out.getvalue().splitlines()[1:3]}
    assert rows == {"missiles": ["1.000", "1.000", "1.000", "n/a", "1", "0", "0",
                                 "0.21-1.00", "0.21-1.00"],
                    "sanctions": ["n/a", "n/a", "n/a", "0.00%", "0", "0", "0", "n/a", "n/a"]}
    assert "(false alarms n/a: no scored article is without the topic's label)" in out.getvalue()


def test_an_interval_at_the_edge_is_not_printed_as_one_of_no_width() -> None:
    # 1,000 of 1,000: the interval is 0.996-1.000, which two decimals printed as "1.00-1.00".
    out = io.StringIO()
    print_report(CheckReport({"missiles": TopicScore(tp=1000, tn=5)}), out)
    row = out.getvalue().splitlines()[1].split()
    assert row[-2:] == ["0.996-1.000", "0.996-1.000"]
    assert row[5:8] == ["1000", "0", "0"]  # the counts keep their columns at four digits


@pytest.mark.parametrize(("hits", "trials", "low", "high"), [
    # Wilson score intervals at 95 %, as scipy.stats.binomtest(...).proportion_ci(
    # method="wilson") gives them.
    (0, 10, 0.0, 0.2775), (10, 10, 0.7225, 1.0), (18, 21, 0.6536, 0.9502),
    (46, 71, 0.5318, 0.7488), (3, 1000, 0.0010, 0.0088)])
def test_a_figure_comes_with_its_95_percent_interval(hits: int, trials: int, low: float,
                                                       high: float) -> None:
    interval = wilson_interval(hits, trials)
    assert interval is not None
    assert interval == pytest.approx((low, high), abs=5e-5)
    assert wilson_interval(0, 0) is None  # nothing counted: no interval, not [0, 1]


def test_the_report_gives_each_figure_its_interval() -> None:
    # 10 right tags of 17, 10 of 13 labelled articles found: a wide interval, which is the
    # point on a small labelled set.
    score = TopicScore(tp=10, fp=7, fn=3, tn=980)
    assert score.to_dict()["precision_95"] == [0.36, 0.784]
    assert score.to_dict()["recall_95"] == [0.497, 0.918]
    out = io.StringIO()
    print_report(CheckReport({"naval_deployment": score}), out)
    header, row = out.getvalue().splitlines()[:2]
    assert header.split()[-4:] == ["precision", "95%", "recall", "95%"]
    assert row.split()[-2:] == ["0.36-0.78", "0.50-0.92"]
    assert "(95%: Wilson score intervals" in out.getvalue()


def test_a_non_english_article_counts_as_the_pipeline_tags_it() -> None:
    # The pipeline never tags an article it reads as another language: the check must not
    # count a French "sanctions" story as a tag (or a false alarm) that production never emits.
    from newsflow.config import Settings
    from newsflow.pipeline_setup import build_tagger
    from newsflow.tags_check import check

    french = LabelledArticle(
        "fr1", "Les sanctions de Washington contre Moscou",
        "Washington impose des sanctions contre Moscou. Les banques russes et les exportateurs "
        "de pétrole sont visés, a annoncé mardi le Trésor américain dans un communiqué.",
        frozenset({"sanctions"}))
    english = LabelledArticle(
        "en1", "EU imposes new sanctions on Russia",
        "The European Union imposed new economic sanctions on Russia on Tuesday, targeting banks "
        "and oil exporters, the European Council said.", frozenset({"sanctions"}))
    tagger = build_tagger(Settings())
    assert [t.name for t in tagger.tag(french.title, french.text)] == ["sanctions"]
    report = check(tagger, [french, english])
    score = report.scores["sanctions"]
    assert (score.tp, score.fn) == (1, 1)
    [error] = report.errors
    assert (error["id"], error["error"], error["language"]) == ("fr1", "missed", "fr")
    out = io.StringIO()
    print_report(report, out)
    assert "language: fr (not English: never tagged)" in out.getvalue()


# A newsroom's regex that backtracks: on a run of a's not followed by the end of the text, each
# more "a" doubles the work (about 0.2 s at 22, 2**18 times that at 40).
BACKTRACKING = {"topics": [{
    "name": "slow", "iptc": "medtop:20000523", "description": "A regex that backtracks.",
    "threshold": 0.5, "terms": [{"regex": "(a+)+$", "weight": 1.0}]}]}
STALLS = {"id": "stall", "title": "Harbour notes",
          "text": "The harbour master said " + "a" * 60 + "b", "labels": []}


def test_an_article_past_the_time_budget_is_reported_and_the_rest_still_scored(
        tmp_path: Path) -> None:
    overlay = tmp_path / "newsroom.yaml"
    overlay.write_text(yaml.safe_dump(BACKTRACKING), encoding="utf-8")
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(a) + "\n" for a in [ARTICLES[0], STALLS, *ARTICLES[1:]]),
                    encoding="utf-8")
    # Without the budget the command never ends: the subprocess's timeout fails the test then.
    result = subprocess.run(
        [sys.executable, "-m", "newsflow", "tags", "check", "--labels", str(path),
         "--taxonomy", str(overlay)], capture_output=True, text=True, timeout=90, check=False,
        env={**os.environ, "NEWSFLOW_CLEAN_TIME_BUDGET_SECONDS": "1"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "newsflow tags check: 1 of 4 articles not scored: 1 ran past the 1 s budget (a "
        "topic's regex?): 'stall'; each is listed with the errors on stdout")
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[1:5]}
    # The articles before and after it are scored as without it.
    assert rows["naval_deployment"][:7] == ["1.000", "1.000", "1.000", "0.00%", "1", "0", "0"]
    assert rows["slow"][3:7] == ["0.00%", "0", "0", "0"]  # a1-a3: true negatives, not shown
    assert "(1 article not scored: listed with the errors below)" in result.stdout
    lines = result.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[:3] == ["timeout", "(all)",
                                                                       "stall"])
    assert lines[at + 1].strip() == (
        "tagging took longer than the 1 s budget (a topic's regex?); not scored")


def test_the_children_score_as_the_check_in_process_does(tmp_path: Path) -> None:
    from newsflow.config import Settings
    from newsflow.pipeline_setup import build_tagger
    from newsflow.tags_check import check, check_in_children

    articles = read_labels(labels_file(tmp_path))
    tagger = build_tagger(Settings())
    report = check_in_children(tagger.topics, articles, budget_seconds=60, processes=2)
    assert report.to_dict() == check(tagger, articles).to_dict()
    assert report.failure() is None and report.articles == 3


def test_sigterm_stops_the_check_and_the_child_stuck_in_a_regex(tmp_path: Path) -> None:
    # Python's default SIGTERM ended the command on the spot and left its child running the
    # regex, an orphan burning a core until the regex ended (here: never).
    overlay = tmp_path / "newsroom.yaml"
    overlay.write_text(yaml.safe_dump(BACKTRACKING), encoding="utf-8")
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps(STALLS) + "\n", encoding="utf-8")
    with subprocess.Popen(
            [sys.executable, "-m", "newsflow", "tags", "check", "--labels", str(path),
             "--taxonomy", str(overlay)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env={**os.environ, "NEWSFLOW_CLEAN_TIME_BUDGET_SECONDS": "600"}
    ) as command:
        deadline = time.monotonic() + 90
        children: list[int] = []
        # The pool's child is in the regex once it has used more CPU than its start and
        # warm-up take (about a second); from there it runs for ever.
        while not [pid for pid in children if cpu_seconds(pid) > 4]:
            assert time.monotonic() < deadline, f"no child busy in the regex: {children}"
            children = pool_children(command.pid)
            threading.Event().wait(0.1)  # between looks at /proc; the deadline bounds it
        command.terminate()
        try:
            _, err = command.communicate(timeout=60)
        finally:
            left = [pid for pid in children if alive(pid)]
            for pid in left:  # a failed run must not leave a core busy for ever
                os.kill(pid, signal.SIGKILL)
    assert command.returncode == 130
    assert err.strip().splitlines()[-1] == (
        "newsflow tags check: interrupted by SIGTERM; no report printed")
    assert not left


@pytest.mark.parametrize("when", ["start", "respawn"])
def test_ctrl_c_stops_the_check_with_one_line_and_no_child_left(tmp_path: Path,
                                                                when: str) -> None:
    # Ctrl-C reaches every process of the command. A child it cut in its start printed a
    # KeyboardInterrupt traceback, and one cut while it read its start-up message (a child
    # started in place of one stopped after its budget) left the pool's stop waiting for ever.
    overlay = tmp_path / "newsroom.yaml"
    overlay.write_text(yaml.safe_dump(BACKTRACKING), encoding="utf-8")
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps({**STALLS, "id": f"stall{n}"}) + "\n"
                            for n in range(40)), encoding="utf-8")
    with subprocess.Popen(
            [sys.executable, "-m", "newsflow", "tags", "check", "--labels", str(path),
             "--taxonomy", str(overlay)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,  # its own process group, as a terminal's job
            env={**os.environ, "NEWSFLOW_CLEAN_TIME_BUDGET_SECONDS": "1",
                 "NEWSFLOW_PREPARE_PROCESSES": "2"}) as command:
        deadline = time.monotonic() + 90
        seen: list[int] = []  # the children, in the order they appeared
        try:
            while True:  # until a child (a first one, or one started in place) is starting
                seen += [pid for pid in pool_children(command.pid) if pid not in seen]
                candidates = seen if when == "start" else seen[2:]
                if any(starting(pid) for pid in candidates):
                    break
                assert command.poll() is None, command.communicate()
                assert time.monotonic() < deadline, f"no child seen starting: {seen}"
                threading.Event().wait(0.02)  # between looks at /proc; the deadline bounds it
            os.killpg(command.pid, signal.SIGINT)  # what Ctrl-C does
            _, err = command.communicate(timeout=60)
        finally:
            left = stop_leftovers(command, seen)
    assert command.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        "newsflow tags check: interrupted by SIGINT; no report printed")
    assert not left


def test_an_incomplete_check_says_so_when_its_reader_is_gone(tmp_path: Path) -> None:
    # `tags check ... | head` on a check that left an article unscored: the report's reader is
    # gone, but the exit code and the stderr line still say what is missing.
    overlay = tmp_path / "newsroom.yaml"
    overlay.write_text(yaml.safe_dump(BACKTRACKING), encoding="utf-8")
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(a) + "\n" for a in [STALLS, *ARTICLES]), encoding="utf-8")
    result = run_with_reader_gone(
        "--labels", str(path), "--taxonomy", str(overlay), timeout=90,
        env={**os.environ, "NEWSFLOW_CLEAN_TIME_BUDGET_SECONDS": "1"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(
        "newsflow tags check: 1 of 4 articles not scored: 1 ran past the 1 s budget")


def test_a_long_topic_name_keeps_its_columns_apart_from_the_id() -> None:
    errors: list[dict[str, Any]] = [
        {"id": "42", "topic": "industrial_action_walkouts", "error": "false_alarm",
         "title": "t", "score": 0.91, "threshold": 0.5, "evidence": ["walkout"],
         "aboutness": {}, "dropped": [], "language": None},
        {"id": "k1", "topic": None, "error": "process_died", "title": "Plain",
         "reason": "the process tagging it died"}]
    out = io.StringIO()
    print_report(CheckReport({"industrial_action_walkouts": TopicScore(fp=1)}, errors=errors),
                 out)
    lines = out.getvalue().splitlines()
    assert lines[1].split()[:2] == ["industrial_action_walkouts", "0.000"]
    assert lines[1].index("0.000") == lines[0].index("precision") + 4  # under its heading
    assert ["false_alarm", "industrial_action_walkouts", "42", "score", "0.91", "(tags", "at",
            "0.50)", "'t'"] in [line.split() for line in lines]
    assert ["process_died", "(all)", "k1", "'Plain'"] in [line.split() for line in lines]


@pytest.mark.parametrize(("kind", "score", "threshold", "shown"), [
    ("missed", 0.4996, 0.5, "score 0.4996 (tags at 0.50)"),  # 0.50 beside 0.50, missed
    ("missed", 0.54996, 0.55, "score 0.54996 (tags at 0.55)"),
    ("missed", 0.1235, 0.125, "score 0.12 (tags at 0.125)"),  # 0.12 beside 0.12 read tagged
    ("false_alarm", 0.5552, 0.555, "score 0.56 (tags at 0.555)"),
    ("missed", 0.31, 0.54, "score 0.31 (tags at 0.54)"),
])
def test_a_score_is_shown_beside_its_threshold(kind: str, score: float, threshold: float,
                                               shown: str) -> None:
    error = {"id": "r1", "topic": "strikes", "error": kind, "title": "Walkout",
             "score": score, "threshold": threshold, "evidence": ["Walkout"], "aboutness": {},
             "dropped": [], "language": None}
    out = io.StringIO()
    print_report(CheckReport({"strikes": TopicScore(fn=1)}, errors=[error]), out)
    assert f"r1  {shown}  'Walkout'" in out.getvalue()


def test_matches_past_the_listed_ones_are_counted(tmp_path: Path) -> None:
    # Eleven "sanctions" beside sports words, all ruled out: eight listed, the rest counted.
    text = " ".join(f"The league imposed sanctions on club {n} after the match." for n in range(11))
    path = labels(tmp_path, json.dumps({"id": "s1", "title": "League news", "text": text,
                                        "labels": ["sanctions"]}))
    result = run("--labels", str(path))
    assert result.returncode == 0, result.stderr
    ruled_out = next(line for line in result.stdout.splitlines() if "ruled out by" in line)
    assert ruled_out.count("(body; ") == 8 and ruled_out.endswith("; and 3 more")

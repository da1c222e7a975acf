"""`newsflow process`: the core offline over files, one JSON line per input, in order."""

from __future__ import annotations

import base64
import codecs
import fcntl
import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import termios
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from newsflow.config import Settings
from newsflow.offline import process_files
from newsflow.records import validate
from tests.helpers import SEEDS, pool_children, stop_leftovers

pytestmark = pytest.mark.clock


def run(paths: list[Path]) -> list[dict[str, object]]:
    out = io.StringIO()
    process_files(Settings(), paths, out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_seeds_give_five_tagged_articles_in_input_order() -> None:
    seeds = sorted(SEEDS.glob("*.txt"))
    lines = run(seeds)
    assert [line["topic"] for line in lines] == ["news.articles.v1"] * 5
    for seed, line in zip(seeds, lines, strict=True):
        record = line["record"]
        assert isinstance(record, dict)
        validate("article", record)
        tags = {tag["name"] for tag in record["tags"]}
        assert {"missiles", "naval_deployment"} <= tags, seed.name
        if seed.name.startswith("004_"):
            assert "sanctions" in tags
    first_words = [str(line["record"]["title"]).split()[0] for line in lines]  # type: ignore[index]
    assert first_words == ["Iran"] * 5


def test_state_is_kept_across_inputs_of_one_run(tmp_path: Path) -> None:
    seed = sorted(SEEDS.glob("*.txt"))[0]
    html = tmp_path / "copy.html.gz"
    html.write_bytes(gzip.compress(
        f"<html><body><article><h1>Copy</h1><p>{seed.read_text()}</p></article></body></html>"
        .encode()))
    lines = run([seed, seed, html])
    assert [line["topic"] for line in lines] == ["news.articles.v1"] + ["news.duplicates.v1"] * 2
    for line in lines[1:]:
        validate("duplicate", line["record"])
        assert line["record"]["duplicate_of"] == lines[0]["record"]["id"]  # type: ignore[index]
    assert lines[2]["record"]["level"] == "near"  # type: ignore[index]


def test_a_saved_web_page_named_txt_is_read_as_the_page_it_is(tmp_path: Path) -> None:
    """A .txt holding a page came out with its markup as title and body."""
    seed = sorted(SEEDS.glob("*.txt"))[0].read_text(encoding="utf-8")
    paragraphs = "".join(f"<p>{line}</p>" for line in seed.splitlines()[1:] if line.strip())
    page = (f'<!DOCTYPE html>\n<html><head><meta charset="windows-1252"><title>Caf\u00e9 '
            f"report</title></head><body><article><h1>Caf\u00e9 report</h1>{paragraphs}"
            "</article></body></html>")
    saved = tmp_path / "saved-page.txt"
    saved.write_bytes(page.encode("cp1252", "replace"))
    [line] = run([saved])
    record = line["record"]
    assert isinstance(record, dict)
    assert record["title"] == "Caf\u00e9 report"  # its <meta charset> was read
    assert "<" not in str(record["body"]) and seed.splitlines()[2].strip()[:40] in record["body"]


def test_plain_text_that_names_a_tag_is_still_plain_text(tmp_path: Path) -> None:
    # It was taken for a saved page (a <head> tag in its first 10,000 characters), and its
    # text was lost: an empty article, exit 0. A page starts with markup; this starts with words.
    story = ("Browser makers agree on new standard\nEngineers said pages should keep scripts "
             "out of the <head> section, and out of <body> too.\nThe change takes effect next "
             "year, after a long consultation with publishers and browser makers.\n")
    (tmp_path / "tech.txt").write_text(story)
    [line] = run([tmp_path / "tech.txt"])
    assert line["topic"] == "news.articles.v1"
    record = line["record"]
    assert isinstance(record, dict)
    assert record["title"] == "Browser makers agree on new standard"
    assert "out of the <head> section" in record["body"]


def test_jsonl_raw_records_and_bad_lines(tmp_path: Path) -> None:
    good = {"url": "https://example.org/a?utm_source=x", "source": {"id": "t", "name": "T"},
            "title": "Harbour cranes", "body": "<p>New cranes arrived at the harbour.</p>"}
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(good) + "\n\nnot json\n" + json.dumps(good) + "\n")
    lines = run([path])
    assert [line["topic"] for line in lines] == [
        "news.articles.v1", "news.deadletter.v1", "news.duplicates.v1"]
    assert lines[0]["record"]["canonical_url"] == "https://example.org/a"  # type: ignore[index]
    validate("dead-letter", lines[1]["record"])
    # A run reads many files: the letter names the file and line (blank lines counted).
    assert lines[1]["record"]["error"]["message"].startswith(  # type: ignore[index]
        f"{path}:3: not JSON")
    # Its source is the raw topic, as a file's letter names it and as the worker's would: a
    # tool that replays letters onto their source topic puts it back where raw records go.
    # Offset: its place among the run's records; partition null, it was not read from Kafka.
    assert lines[1]["record"]["source"] == {  # type: ignore[index]
        "topic": "news.raw.v1", "partition": None, "offset": 1}


def test_a_letter_too_large_for_its_original_names_the_input_first_and_as_its_place(
        tmp_path: Path) -> None:
    # It began "[original not copied: ...; read it at news.raw.v1 partition None offset 0]":
    # no topic holds an offline input, and every letter's message starts with where it is.
    line = b'{"body": "' + b"x" * 1_100_000  # not JSON: its letter would carry 1.1 MB
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"\n" + line + b"\n")
    out = io.StringIO()
    process_files(Settings(max_message_bytes=1_048_576), [path], out)
    letter = json.loads(out.getvalue())["record"]
    digest = hashlib.sha256(line).hexdigest()
    assert letter["error"]["message"].startswith(
        f"{path}:2: [original not copied: {len(line)} bytes, sha256 {digest}, more than a dead "
        f"letter holds under NEWSFLOW_MAX_MESSAGE_BYTES=1048576; read it at {path}:2, the "
        "input] not JSON"), letter["error"]["message"][:300]
    assert letter["original"]["value_b64"] is None


def test_a_json_file_of_raw_records_reads_as_the_same_jsonl(tmp_path: Path) -> None:
    html = {"url": "https://example.org/b", "source": {"id": "agency", "name": "Agency"},
            "body": "<html><head><title>Cranes in the harbour</title></head><body><p>Two new "
                    "cranes arrived at the harbour on Monday, the port said.</p></body></html>"}
    as_jsonl = tmp_path / "one.jsonl"
    as_jsonl.write_bytes(codecs.BOM_UTF8 + json.dumps(html).encode() + b"\r\n")
    as_json = tmp_path / "one.json"
    as_json.write_text(json.dumps([html]), encoding="utf-8")
    first, second = run([as_jsonl])[0], run([as_json])[0]
    assert first["topic"] == second["topic"] == "news.articles.v1"
    for line in (first, second):  # the record's own source; no content_type: HTML, as the schema
        assert line["record"]["source"]["id"] == "agency"  # type: ignore[index]
        assert line["record"]["title"] == "Cranes in the harbour"  # type: ignore[index]
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    letter = run([broken])[0]
    assert letter["topic"] == "news.deadletter.v1"
    assert letter["record"]["stage"] == "decode"  # type: ignore[index]


def test_cli_entry_point_prints_json_lines() -> None:
    seeds = [str(p) for p in sorted(SEEDS.glob("*.txt"))]
    result = subprocess.run([sys.executable, "-m", "newsflow", "process", *seeds],
                            capture_output=True, text=True, timeout=120, check=True)
    assert len(result.stdout.splitlines()) == 5


def test_malformed_taxonomy_stops_the_command_with_the_entry_named(tmp_path: Path) -> None:
    bad = tmp_path / "taxonomy.yaml"
    bad.write_text("topics:\n  - name: missiles\n    iptc: 'not-a-code'\n    terms: []\n")
    seed = str(sorted(SEEDS.glob("*.txt"))[0])
    result = subprocess.run([sys.executable, "-m", "newsflow", "process", seed],
                            capture_output=True, text=True, timeout=120,
                            env=os.environ | {"NEWSFLOW_TAXONOMY_PATH": str(bad)})
    assert result.returncode == 2
    assert "configuration error" in result.stderr and "missiles" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_setting_is_a_clear_error() -> None:
    result = subprocess.run([sys.executable, "-m", "newsflow", "process", "x.txt"],
                            capture_output=True, text=True, timeout=60,
                            env=os.environ | {"NEWSFLOW_TOPIC_PARTITIONS": "zero"})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "newsflow process: configuration error: NEWSFLOW_TOPIC_PARTITIONS: Input should be a "
        "valid integer, unable to parse string as an integer (got 'zero')"]


def test_a_page_over_the_time_budget_is_a_dead_letter_and_the_run_goes_on(
        tmp_path: Path) -> None:
    slow = tmp_path / "slow.html"
    slow.write_text("<html><body>" + "<p>word " * 400_000 + "</body></html>")  # minutes
    seed = sorted(SEEDS.glob("*.txt"))[0]
    out = io.StringIO()
    summary = process_files(Settings(clean_time_budget_seconds=1.0), [slow, seed], out)
    assert (summary.lines, summary.dead_lettered, summary.ok) == (2, 1, False)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["topic"] for line in lines] == ["news.deadletter.v1", "news.articles.v1"]
    letter = lines[0]["record"]
    validate("dead-letter", letter)
    assert (letter["stage"], letter["error"]["type"]) == ("clean", "PrepareTimeout")


def test_dead_lettered_inputs_fail_the_command_with_one_line_after_every_output(
        tmp_path: Path) -> None:
    """A page dead-lettered (here a raw record that is not JSON) fails the run as a file the
    fetcher would refuse (here an empty one) does: exit 1, one line on stderr, and every good
    input still has its output."""
    good = {"url": "https://example.org/a", "source": {"id": "t", "name": "T"},
            "title": "Harbour cranes", "body": "<p>New cranes arrived at the harbour.</p>"}
    records = tmp_path / "in.jsonl"
    records.write_text(json.dumps(good) + "\nnot json\n")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    seed = str(sorted(SEEDS.glob("*.txt"))[0])
    runs = (([str(records), seed], 1), ([str(empty), str(records), seed], 2))

    def process(paths: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "newsflow", "process", *paths],
                              capture_output=True, text=True, timeout=120)

    with ThreadPoolExecutor(max_workers=len(runs)) as pool:  # two commands, side by side
        results = list(pool.map(process, [paths for paths, _ in runs]))
    for (_, dead), result in zip(runs, results, strict=True):
        assert result.returncode == 1, result.stderr
        topics = [json.loads(line)["topic"] for line in result.stdout.splitlines()]
        assert topics.count("news.deadletter.v1") == dead
        assert topics.count("news.articles.v1") == 2
        assert result.stderr.splitlines()[-1] == (
            f"newsflow process: {dead} of {dead + 2} inputs dead-lettered; each is a "
            '"topic": "news.deadletter.v1" line on stdout, with its error')
        assert "Traceback" not in result.stderr


def test_a_reader_that_stops_early_ends_the_run_quietly(tmp_path: Path) -> None:
    # `newsflow process ... | head -1`: the closed pipe is the reader's choice, not a failure
    # (exit 1 means an input was dead-lettered), and no traceback.
    seed = sorted(SEEDS.glob("*.txt"))[0]
    paths = []
    for n in range(30):
        copy = tmp_path / f"copy-{n}.txt"
        copy.write_bytes(seed.read_bytes())
        paths.append(str(copy))
    process = subprocess.Popen([sys.executable, "-m", "newsflow", "process", *paths],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    first = json.loads(process.stdout.readline())
    process.stdout.close()
    code = process.wait(120)
    errors = process.stderr.read().decode()
    process.stderr.close()
    assert first["topic"] == "news.articles.v1"
    assert (code, "Traceback" in errors) == (0, False), errors


def test_a_directory_or_an_unknown_file_type_is_named_in_its_dead_letter(tmp_path: Path) -> None:
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    named = tmp_path / "batch.jsonl"  # a directory with a file's name: IsADirectoryError
    named.mkdir()
    result = subprocess.run([sys.executable, "-m", "newsflow", "process", str(tmp_path),
                             str(tmp_path / "notes.docx"), str(named)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    errors = [json.loads(line)["record"]["error"] for line in result.stdout.splitlines()]
    assert [e["type"] for e in errors] == ["UnsupportedInput"] * 3
    assert errors[0]["message"] == f"{tmp_path}: a directory (name its files, e.g. {tmp_path}/*.txt)"
    assert "unsupported file type" in errors[1]["message"]
    assert errors[2]["message"] == f"{named}: a directory (name its files, e.g. {named}/*.txt)"


def test_damaged_oversized_and_oddly_named_files_are_dead_letters_and_the_run_goes_on(
        tmp_path: Path) -> None:
    damaged = bytearray(gzip.compress(b"<html><body><p>" + b"Some words here. " * 200
                                      + b"</p></body></html>"))
    damaged[12:40] = bytes(b ^ 0xFF for b in damaged[12:40])  # a disk error in the deflate data
    (tmp_path / "damaged.html.gz").write_bytes(bytes(damaged))
    # 40 KB of gzip that would decompress to 60 MB: stopped at the cap, not read whole.
    (tmp_path / "bomb.html.gz").write_bytes(gzip.compress(b"<p>" + b"word " * 12_000_000, 9))
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/empty\xff.txt"))  # a name that is not UTF-8
    odd.write_bytes(b"")
    seed = sorted(SEEDS.glob("*.txt"))[0]
    lines = run([tmp_path / "damaged.html.gz", tmp_path / "bomb.html.gz", odd, seed])
    assert [line["topic"] for line in lines] == ["news.deadletter.v1"] * 3 + ["news.articles.v1"]
    errors = [line["record"]["error"] for line in lines[:3]]  # type: ignore[index]
    assert [e["type"] for e in errors] == ["BrokenFile", "FileTooLarge", "EmptyFile"]
    assert "not readable gzip" in errors[0]["message"]
    assert "decompresses to more than the 5000000-byte cap" in errors[1]["message"]
    assert "empty\\udcff.txt" in errors[2]["message"]  # written with a backslash escape
    original = base64.b64decode(lines[0]["record"]["original"]["value_b64"])  # type: ignore[index]
    assert original == bytes(damaged)  # the damaged file's bytes, to look at or repair


def test_a_saved_page_gzipped_with_padding_or_in_two_members_is_read_and_a_cut_one_refused(
        tmp_path: Path) -> None:
    # Bytes after the gzip data (a tool's trailer, a second copy's start) dead-lettered the
    # whole page; gunzip reads it, with a warning ("trailing garbage ignored").
    page = b"<html><body><p>" + b"The harbour reopened on Monday after repairs. " * 20 + b"</p>"
    (tmp_path / "padded.html.gz").write_bytes(gzip.compress(page) + b"\n-- saved 2 Dec --\n")
    (tmp_path / "two.html.gz").write_bytes(gzip.compress(page[:200]) + gzip.compress(page[200:]))
    whole = gzip.compress(page)
    (tmp_path / "cut.html.gz").write_bytes(whole[:len(whole) // 2])
    lines = run([tmp_path / "padded.html.gz", tmp_path / "two.html.gz", tmp_path / "cut.html.gz"])
    assert [line["topic"] for line in lines] == ["news.articles.v1", "news.duplicates.v1",
                                                 "news.deadletter.v1"]
    assert "The harbour reopened on Monday" in lines[0]["record"]["body"]  # type: ignore[index]
    error = lines[2]["record"]["error"]  # type: ignore[index]
    assert error["type"] == "BrokenFile" and "not readable gzip" in error["message"]


def test_one_bad_item_of_a_json_list_costs_that_item_only(tmp_path: Path) -> None:
    good = {"url": "https://example.org/a", "title": "Harbour reopens",
            "body": "The harbour reopened on Monday after repairs to the quay wall.",
            "source": {"id": "files", "name": "Files"}}
    items = [good, {**good, "url": "https://example.org/b", "body": "bad \\ud800 text"},
             {**good, "url": "https://example.org/c", "title": "Ferries resume",
              "body": "Ferries to the islands resumed their timetable after the storm passed."}]
    listing = tmp_path / "list.json"
    listing.write_text("[" + ",".join(json.dumps(i).replace("\\\\ud800", "\\ud800")
                                      for i in items) + "]")
    lines = run([listing])
    assert [line["topic"] for line in lines] == [
        "news.articles.v1", "news.deadletter.v1", "news.articles.v1"]
    assert lines[1]["record"]["error"]["type"] == "RecordUndecodable"  # type: ignore[index]
    assert lines[1]["record"]["error"]["message"].startswith(  # type: ignore[index]
        f"{listing}[1]: ")


def test_inputs_that_give_nothing_or_never_end_are_dead_letters(tmp_path: Path) -> None:
    (tmp_path / "blank.jsonl").write_text("\n\n")
    (tmp_path / "none.json").write_text("[]")
    os.mkfifo(tmp_path / "pipe.txt")  # no writer: reading it would wait for ever
    lines = run([tmp_path / "blank.jsonl", tmp_path / "none.json", tmp_path / "pipe.txt"])
    errors = [line["record"]["error"] for line in lines]  # type: ignore[index]
    assert [e["type"] for e in errors] == ["EmptyFile", "EmptyFile", "UnsupportedInput"]
    assert errors[2]["message"].endswith("pipe.txt: not a regular file (a pipe or a device)")


def test_output_that_cannot_be_written_fails_with_one_line() -> None:
    seed = sorted(SEEDS.glob("*.txt"))[0]
    with open("/dev/full", "w") as full:  # every write: "No space left on device"
        result = subprocess.run([sys.executable, "-m", "newsflow", "process", str(seed)],
                                stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "newsflow process: cannot write output: No space left on device"]


def test_raw_records_from_stdin_are_named_by_line_and_an_empty_stdin_is_a_letter() -> None:
    good = {"url": "https://example.org/s", "source": {"id": "t", "name": "T"},
            "title": "Ferries resume", "body": "Ferries to the islands resumed after the storm."}
    out = io.StringIO()
    stdin = io.BytesIO(codecs.BOM_UTF8 + json.dumps(good).encode() + b"\r\n\nnot json\n")
    summary = process_files(Settings(), [Path("-")], out, stdin=stdin)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["topic"] for line in lines] == ["news.articles.v1", "news.deadletter.v1"]
    assert lines[0]["record"]["title"] == "Ferries resume"
    assert lines[1]["record"]["error"]["message"].startswith("<stdin>:3: not JSON")
    assert (summary.lines, summary.dead_lettered) == (2, 1)
    out = io.StringIO()
    process_files(Settings(), [Path("-")], out, stdin=io.BytesIO(b"\n"))
    letter = json.loads(out.getvalue())
    assert letter["record"]["error"] == {"type": "EmptyFile", "message": "<stdin>: no records"}
    # stdin has no URI to name it by, unlike a file's letter (below)
    assert letter["record"]["original"] == {"key_b64": None, "value_b64": ""}
    assert letter["record"]["source"]["topic"] == "news.raw.v1"


def test_a_file_that_cannot_be_read_is_named_first_in_its_letter(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    missing = tmp_path / "sub" / ".." / "gone.jsonl"  # keyed as the fetcher keys a file: resolved
    out = io.StringIO()
    summary = process_files(Settings(), [missing], out)
    letter = json.loads(out.getvalue())["record"]
    assert letter["error"] == {"type": "FileNotFoundError",
                               "message": f"{missing}: No such file or directory"}
    assert base64.b64decode(letter["original"]["key_b64"]).decode() == (
        (tmp_path / "gone.jsonl").as_uri())
    assert letter["source"]["topic"] == "news.raw.v1"
    assert (summary.lines, summary.dead_lettered) == (1, 1)


def test_a_file_whose_uri_is_too_long_for_a_raw_record_is_named_first_in_its_letter(
    tmp_path: Path,
) -> None:
    # Within PATH_MAX (3.3 KB of UTF-8), but its file:// URI, where each "é" is "%C3%A9",
    # is longer than the raw record's 8,192 characters. The letter named only the URI's start.
    deep = tmp_path.joinpath(*["é" * 100] * 16)
    deep.mkdir(parents=True)
    page = deep / "page.txt"
    page.write_text("Harbour headline\nA paragraph about harbour cranes and the port.\n")
    assert len(page.as_uri()) > 8192
    out = io.StringIO()
    summary = process_files(Settings(), [page], out)
    letter = json.loads(out.getvalue())["record"]
    assert letter["error"]["type"] == "RecordInvalid"
    assert letter["error"]["message"].startswith(f"{page}: raw-article: url: ")
    assert (summary.lines, summary.dead_lettered) == (1, 1)


@pytest.mark.parametrize("name", ["loop.jsonl", "loop.json", "loop.txt", "loop.html.gz"])
def test_a_symbolic_link_loop_is_a_letter_and_the_run_goes_on(tmp_path: Path, name: str) -> None:
    # Its letter's key was the path resolved, which raised RuntimeError ("Symlink loop") out
    # of the error handler itself: a traceback, and the inputs after it never processed.
    loop = tmp_path / name
    loop.symlink_to(name)
    seed = sorted(SEEDS.glob("*.txt"))[0]
    out = io.StringIO()
    summary = process_files(Settings(), [loop, seed], out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["topic"] for line in lines] == ["news.deadletter.v1", "news.articles.v1"]
    letter = lines[0]["record"]
    assert letter["error"] == {"type": "OSError",
                               "message": f"{loop}: Too many levels of symbolic links"}
    assert base64.b64decode(letter["original"]["key_b64"]).decode() == loop.as_uri()
    assert (summary.lines, summary.dead_lettered) == (2, 1)


def test_a_closed_stdin_is_an_unsupported_input_letter(tmp_path: Path) -> None:
    # `newsflow process - <&-`: with no file descriptor 0, Python sets sys.stdin to None (an
    # empty stdin, /dev/null, is a stdin with no records: an EmptyFile letter instead).
    text = tmp_path / "note.txt"
    text.write_text("Harbour note\nThe harbour office logged 12 arrivals on Monday.")
    # Without the shifted-clock run's preloaded libfaketime: it opens a file as the process
    # starts, which takes the lowest free descriptor, 0, so that stdin is open again.
    env = {key: value for key, value in os.environ.items() if key != "LD_PRELOAD"}
    result = subprocess.run(
        ["sh", "-c", 'exec "$0" -m newsflow process "$1" - <&-', sys.executable, str(text)],
        capture_output=True, text=True, timeout=120, check=False, env=env)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["topic"] for line in lines] == ["news.articles.v1", "news.deadletter.v1"]
    assert lines[1]["record"]["error"] == {
        "type": "UnsupportedInput", "message": "<stdin>: no standard input (it is closed)"}
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        "newsflow process: 1 of 2 inputs dead-lettered")


def test_stdin_is_processed_a_line_at_a_time() -> None:
    # `newsflow tail ... | newsflow process -`: each record's line comes out while stdin is
    # still open (a reader that waited for the end would block on readline for ever).
    record = {"url": "https://example.org/t", "source": {"id": "t", "name": "T"},
              "title": "Quay repaired", "body": "The quay wall was repaired over the winter."}
    seed = sorted(SEEDS.glob("*.txt"))[0]
    with subprocess.Popen([sys.executable, "-m", "newsflow", "process", str(seed), "-"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as command:
        assert command.stdin is not None and command.stdout is not None

        def next_line() -> str:
            assert command.stdout is not None
            with ThreadPoolExecutor(1) as reader:
                line = reader.submit(command.stdout.readline)
                try:
                    return line.result(timeout=60)
                except TimeoutError:
                    command.kill()  # ends the readline: the test fails instead of hanging
                    raise

        # The file's line comes out before anything is written to stdin (it was held back
        # while the run waited for stdin's first line)...
        assert json.loads(next_line())["record"]["title"].startswith("Iran")
        command.stdin.write(json.dumps(record) + "\n")
        command.stdin.flush()
        # ...and stdin's, while stdin is still open.
        assert json.loads(next_line())["record"]["title"] == "Quay repaired"
        command.stdin.close()
        assert command.wait(timeout=60) == 0


def harbour_notes(folder: Path, count: int) -> list[str]:
    """``count`` short text files, distinct, enough to keep a run busy for a moment."""
    paths = []
    for n in range(count):
        path = folder / f"{n:03d}.txt"
        path.write_text(f"Harbour note {n}\nThe harbour office logged {n} arrivals on day {n}.")
        paths.append(str(path))
    return paths


def test_sigterm_stops_the_run_with_one_line_and_its_children_closed(tmp_path: Path) -> None:
    # Python's default SIGTERM ended the command on the spot, with no word: its pool of
    # preparing processes was never closed, and the resource tracker warned of leaked
    # semaphores.
    paths = harbour_notes(tmp_path, 400)
    with subprocess.Popen([sys.executable, "-m", "newsflow", "process", *paths],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as command:
        assert command.stdout is not None and command.stderr is not None
        assert command.stdout.readline()  # running: its children are preparing
        command.terminate()
        rest, err = command.communicate(timeout=60)
    assert command.returncode == 130  # interrupted, as `fetch --once` on SIGTERM
    assert err.strip().splitlines()[-1] == (
        "newsflow process: interrupted by SIGTERM; each line written before it is complete")
    assert "leaked" not in err and "Traceback" not in err
    assert all(json.loads(line)["topic"] for line in rest.splitlines())  # whole lines only


def test_ctrl_c_stops_the_run_with_one_line_and_no_child_left(tmp_path: Path) -> None:
    # Ctrl-C reaches every process of the command's group: the children as well as the
    # parent. Only the parent may act on it (one line, exit 130); a child cut in its start
    # printed a KeyboardInterrupt traceback.
    paths = harbour_notes(tmp_path, 400)
    with subprocess.Popen([sys.executable, "-m", "newsflow", "process", *paths],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True,  # its own process group, as a terminal's job
                          env={**os.environ, "NEWSFLOW_PREPARE_PROCESSES": "2"}) as command:
        assert command.stdout is not None
        children: list[int] = []
        try:
            assert command.stdout.readline()  # running: its children are preparing
            children = pool_children(command.pid)
            os.killpg(command.pid, signal.SIGINT)  # what Ctrl-C does
            rest, err = command.communicate(timeout=60)
        finally:
            left = stop_leftovers(command, children)
    assert children  # the pool was running when Ctrl-C came
    assert command.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert err.strip().splitlines()[-1] == (
        "newsflow process: interrupted by SIGINT; each line written before it is complete")
    assert all(json.loads(line)["topic"] for line in rest.splitlines())  # whole lines only
    assert not left


def test_several_preparing_processes_give_the_same_lines_in_the_same_order(
        tmp_path: Path) -> None:
    # Pages are prepared in parallel (two in flight per process), but taken, deduped and
    # written in input order: the same decisions as one process, whichever child ends first.
    slow = tmp_path / "slow.html"  # a child busy for its whole budget while others go on
    slow.write_text("<html><body>" + "<p>word " * 400_000 + "</body></html>")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    seeds = sorted(SEEDS.glob("*.txt"))
    records = tmp_path / "records.jsonl"
    records.write_text("\n".join(json.dumps(
        {"url": f"https://example.org/{n}", "source": {"id": "t", "name": "T"},
         "title": f"Harbour note {n}", "body": f"The harbour logged {n} arrivals on day {n}."})
        for n in range(6)) + "\nnot json\n")
    inputs = [seeds[0], slow, *seeds, broken, records, seeds[1]]

    def lines(processes: int) -> list[tuple[str, dict[str, object]]]:
        out = io.StringIO()
        process_files(Settings(prepare_processes=processes, clean_time_budget_seconds=2.0),
                      inputs, out)
        result = []
        for line in out.getvalue().splitlines():
            decoded = json.loads(line)
            record = {key: value for key, value in decoded["record"].items()
                      if key not in {"processed_at", "failed_at", "fetched_at", "story",
                                     "original"}}  # times: a raw record holds its own
            result.append((decoded["topic"], record))
        return result

    one, two = lines(1), lines(2)
    assert [topic for topic, _ in two] == [
        "news.articles.v1", "news.deadletter.v1", "news.duplicates.v1", *["news.articles.v1"] * 4,
        "news.deadletter.v1", *["news.articles.v1"] * 6, "news.deadletter.v1",
        "news.duplicates.v1"]
    assert two == one


def test_sigterm_while_the_reader_lags_still_ends_on_a_whole_line(tmp_path: Path) -> None:
    # A write to a full pipe, interrupted by SIGTERM, returned with part of a 200 KB line lost
    # (TextIOWrapper): the reader got half a record, though the last line says they are whole.
    records = tmp_path / "long.jsonl"
    records.write_text("\n".join(json.dumps(
        {"url": f"https://example.org/long/{n}", "source": {"id": "t", "name": "T"},
         "title": f"Harbour log {n}", "body": " ".join(f"entry{n}x{i}" for i in range(20_000))})
        for n in range(8)) + "\n")
    with subprocess.Popen([sys.executable, "-m", "newsflow", "process", str(records)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as command:
        assert command.stdout is not None
        waiting = bytearray(4)
        deadline = time.monotonic() + 60
        while True:  # nobody reads: the pipe fills, and the command blocks in a write
            fcntl.ioctl(command.stdout.fileno(), termios.FIONREAD, waiting)
            if int.from_bytes(waiting, sys.byteorder) >= 65_536:
                break
            assert time.monotonic() < deadline, "the output never filled the pipe"
            threading.Event().wait(0.05)  # between looks at the pipe; the deadline bounds it
        command.terminate()
        out, err = command.communicate(timeout=60)
    assert command.returncode == 130, err
    assert out.endswith(b"\n")
    assert all(json.loads(line)["topic"] for line in out.splitlines())


def test_the_next_inputs_are_handed_to_the_children_before_a_result_is_taken(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The lookahead itself (the lines are the same without it): with two children, up to four
    # inputs are in flight before the first result is waited for.
    from newsflow.processor.prepare_pool import PreparePool

    events: list[str] = []
    submit = PreparePool.submit_blocking

    def recording(self: PreparePool, message: Any, now: Any) -> Any:
        events.append(f"submit {message.offset}")
        wait = submit(self, message, now)

        def take() -> Any:
            events.append(f"take {message.offset}")
            return wait()
        return take

    monkeypatch.setattr(PreparePool, "submit_blocking", recording)
    seeds = sorted(SEEDS.glob("*.txt"))
    out = io.StringIO()
    process_files(Settings(prepare_processes=2), seeds, out)
    assert len(out.getvalue().splitlines()) == 5
    assert events[:5] == ["submit 0", "submit 1", "submit 2", "submit 3", "take 0"]
    assert events.index("submit 4") < events.index("take 1")


def test_a_page_at_the_fetch_cap_is_not_refused_for_its_json_escaping(tmp_path: Path) -> None:
    # Quotes take two bytes each in the raw record's JSON: a page of quotes just under the fetch
    # cap makes a record of nearly twice the cap. The worker's limit used to be a fixed 5 MB.
    settings = Settings(fetch_max_bytes=2_700_000)
    page = "<html><body><p>Words before the quotes.</p><p>" + '"' * 2_690_000 + "</p></body></html>"
    assert len(page.encode()) <= 2_700_000
    assert len(json.dumps(page, ensure_ascii=False).encode()) > 5_000_000  # the old limit
    (tmp_path / "big.html").write_text(page)
    out = io.StringIO()
    process_files(settings, [tmp_path / "big.html"], out)
    line = json.loads(out.getvalue())
    assert line["topic"] == "news.articles.v1", line["record"].get("error")
    assert settings.raw_message_limit == 2 * 2_700_000 + 65_536


def test_a_set_raw_message_limit_still_refuses_larger_records(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("<html><body><p>" + "Words in a row. " * 200
                                        + "</p></body></html>")
    out = io.StringIO()
    process_files(Settings(max_body_bytes=2_048), [tmp_path / "page.html"], out)
    record = json.loads(out.getvalue())["record"]
    assert record["stage"] == "validate"
    assert record["error"]["type"] == "RecordInvalid"
    assert "above the 2048 limit" in record["error"]["message"]

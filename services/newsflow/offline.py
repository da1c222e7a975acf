"""`newsflow process FILE...`: the stream's core over files, one JSON line per input record."""

from __future__ import annotations

import codecs
import gzip
import json
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from newsflow.codecs import BY_ROLE, DEAD_LETTERS, RAW
from newsflow.codecs.topics import dumps, loads
from newsflow.config import Settings
from newsflow.core.pipeline import Pipeline, Prepared
from newsflow.errors import (
    EmptyFile,
    OutputFailed,
    RecordInvalid,
    RecordUndecodable,
    UnsupportedInput,
)
from newsflow.fetcher.directory import Rejected, file_uri, records_from_file
from newsflow.fetcher.sources import SourceConfig
from newsflow.interrupts import held
from newsflow.pipeline_setup import build_pipeline
from newsflow.processor.prepare_pool import PreparePool
from newsflow.records import DeadLetter, RawMessage


def _inputs(path: Path, raw_topic: str, max_bytes: int
            ) -> Iterator[tuple[str, bytes | None, bytes] | DeadLetter]:
    """(where, key, value): where the input is in the file (``path:line`` for a .jsonl line,
    ``path[item]`` for an item of a .json list), and the key and value as they would sit on
    news.raw.v1; a dead letter for a file the fetcher would refuse (empty, binary)."""
    name = path.name.lower()
    if path.is_dir():  # whatever its name: "batch.jsonl/" was an IsADirectoryError
        raise UnsupportedInput(f"{path}: a directory (name its files, e.g. {path}/*.txt)")
    if path.exists() and not path.is_file():
        # A named pipe with no writer would block the run for good; a device is no article.
        raise UnsupportedInput(f"{path}: not a regular file (a pipe or a device)")
    if name.endswith(".jsonl"):  # one raw record a line, exactly as on the topic
        data = path.read_bytes()
        lines = list(_json_lines(data.split(b"\n"), str(path)))
        if not lines:  # an input that gives nothing must not pass unnoticed
            yield _no_records(path, "no records", data, raw_topic)
        yield from ((where, None, line) for where, line in lines)
        return
    if name.endswith(".json"):  # a raw record, or a list of them: read as .jsonl is
        data = path.read_bytes().removeprefix(codecs.BOM_UTF8)
        try:
            value = loads(data)
        except RecordUndecodable as exc:
            value = _list_with_bad_items(data)
            if value is None:
                yield DeadLetter("decode", type(exc).__name__, f"{path}: {exc}", raw_topic,
                                 None, None, None, data)
                return
        if value == []:
            yield _no_records(path, "an empty list, no records", data, raw_topic)
        items = enumerate(value) if isinstance(value, list) else [(None, value)]
        for number, item in items:
            where = str(path) if number is None else f"{path}[{number}]"
            try:
                yield where, None, dumps(item)
            except ValueError:  # a lone surrogate, NaN: as Python writes it, its own dead letter
                yield where, None, json.dumps(item).encode("ascii")
        return
    source = SourceConfig(id="files", name="Local files", kind="directory", path=path.parent)
    if name.endswith((".txt", ".html", ".htm")) or name.endswith(".html.gz"):
        for record in records_from_file(path, source, max_bytes):
            if isinstance(record, Rejected):
                yield record.dead_letter(raw_topic)
                continue
            key = record["id"].encode()
            try:
                yield str(path), key, RAW.encode(record)
            except RecordInvalid as exc:  # as the fetcher does: refused, with its bytes
                yield DeadLetter("validate", type(exc).__name__, str(exc), raw_topic, None,
                                 None, key, RAW.unchecked_bytes(record))
        return
    raise UnsupportedInput(f"{path}: unsupported file type (use .jsonl, .txt, .html, .html.gz, "
                           ".json)")


def _json_lines(lines: Iterable[bytes], name: str) -> Iterator[tuple[str, bytes]]:
    """(``name:N``, line) for each line of a JSON Lines input that is not blank, a .jsonl
    file's (its bytes split at LF) or stdin's (read a line at a time): without the line's
    LF and CR, nor the BOM some editors put before the first; N counts blank lines too."""
    for number, line in enumerate(lines, 1):
        line = line.removesuffix(b"\n").removesuffix(b"\r")
        if number == 1:
            line = line.removeprefix(codecs.BOM_UTF8)
        if line.strip():
            yield f"{name}:{number}", line


def _located(letter: DeadLetter, where: str) -> DeadLetter:
    """The letter with its input's place in front of its message, unless it names it already."""
    if letter.error_message.startswith(where):
        return letter
    return replace(letter, error_message=f"{where}: {letter.error_message}")


def _unreadable(path: Path, exc: Exception, raw_topic: str) -> DeadLetter:
    """The letter of an input that cannot be read at all (missing, no permission, a directory,
    a closed stdin): its message starts with the path, as every other letter's does, and its
    key names the file as the fetcher's letters do (``file://`` URI; none for stdin)."""
    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    where = "<stdin>" if str(path) == "-" else str(path)
    message = why if why.startswith(f"{where}:") else f"{where}: {why}"
    key = None if str(path) == "-" else file_uri(path).encode("utf-8")
    return DeadLetter("decode", type(exc).__name__, message, raw_topic, None, None, key, None)


def _no_records(path: Path, why: str, data: bytes, raw_topic: str) -> DeadLetter:
    """The letter of a .jsonl or .json file that gives no record: an empty file's, as the
    fetcher sends it for any file (``Rejected``)."""
    return Rejected(file_uri(path), EmptyFile(why), f"{path}: {why}",
                    data).dead_letter(raw_topic)


def _list_with_bad_items(data: bytes) -> list[Any] | None:
    """A JSON list that the codec refuses only for some of its items (a lone surrogate escape
    in one record), so that each item is judged on its own, as a .jsonl line is; None for
    anything else."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, list) else None


@dataclass
class ProcessSummary:
    """What a run wrote: one line per input, ``dead_lettered`` of them dead letters."""

    topic_deadletter: str
    max_message_bytes: int
    lines: int = 0
    dead_lettered: int = 0

    @property
    def ok(self) -> bool:
        return self.dead_lettered == 0

    def failure(self) -> str:
        """The one line the command ends with when an input was dead-lettered."""
        return (f"{self.dead_lettered} of {self.lines} inputs dead-lettered; each is a "
                f'"topic": "{self.topic_deadletter}" line on stdout, with its error')


def process_files(settings: Settings, paths: list[Path], out: TextIO,
                  stdin: BinaryIO | None = None) -> ProcessSummary:
    """Each input prepared in a child process under the stream's per-page time budget
    (``PreparePool``), then deduped here, in input order, against the run's own index. Every
    input gets its line, dead letters included (a file that cannot be read is one); the
    summary counts them. The path ``-`` is ``stdin``, read as .jsonl, a line at a time."""
    pipeline = build_pipeline(settings)
    pool = PreparePool(settings, pipeline.tagger.topics)
    try:
        return _process(settings, paths, out, pipeline, pool, stdin)
    finally:
        pool.close()


def _stdin_inputs(stdin: BinaryIO, raw_topic: str
                  ) -> Iterator[tuple[str, bytes | None, bytes] | DeadLetter]:
    """Raw records a line at a time, each processed as it comes (`... | newsflow process -`);
    as for a .jsonl file, a stdin with no record, or one that fails, is a dead letter."""
    records = 0
    try:
        for where, line in _json_lines(stdin, "<stdin>"):
            records += 1
            yield where, None, line
    except OSError as exc:
        yield DeadLetter("decode", type(exc).__name__, f"<stdin>: {exc}", raw_topic, None,
                         None, None, None)
        return
    if not records:
        # Named like a .jsonl file's letter (``_no_records``), with no key: stdin has no URI.
        yield DeadLetter("fetch", EmptyFile.__name__, "<stdin>: no records", raw_topic, None,
                         None, None, b"")


Input = tuple[str, bytes | None, bytes]  # where it is, its key and value on news.raw.v1


@dataclass
class _InFlight:
    """An input handed to the preparing processes; ``result`` waits for it."""

    where: str
    message: RawMessage
    now: datetime
    result: Callable[[], Prepared | DeadLetter]


@dataclass(frozen=True, slots=True)
class _FileLetter:
    """The letter of a whole input (a file that cannot be read, gives no record, ...), and
    where that input is: its path, or ``<stdin>``."""

    where: str
    letter: DeadLetter


def _inputs_of(settings: Settings, paths: list[Path], stdin: BinaryIO | None
               ) -> Iterator[tuple[Input | _FileLetter | None, bool]]:
    """Every input of the run in order, each with whether it comes from stdin (read no further
    until its output is written: the next line may not exist yet); None before stdin's first
    line, so that what came before is written before stdin is waited for."""
    for path in paths:
        from_stdin = str(path) == "-"
        name = "<stdin>" if from_stdin else str(path)
        inputs: Iterable[Input | DeadLetter]
        try:
            if from_stdin:
                yield None, True  # the inputs before are written before stdin is read
                source = stdin if stdin is not None else sys.stdin.buffer if sys.stdin else None
                if source is None:  # `newsflow process - <&-`
                    raise UnsupportedInput("<stdin>: no standard input (it is closed)")
                inputs = _stdin_inputs(source, settings.topic_raw)
            else:
                inputs = list(_inputs(path, settings.topic_raw, settings.fetch_max_bytes))
        except (OSError, ValueError, gzip.BadGzipFile) as exc:
            yield _FileLetter(name, _unreadable(path, exc, settings.topic_raw)), False
            continue
        for item in inputs:
            # Every letter starts with its input's place, also one whose reason is about the
            # record (a file:// URI over the schema's length names no file by itself).
            yield ((_FileLetter(name, _located(item, name)) if isinstance(item, DeadLetter)
                    else item), from_stdin)


def _process(settings: Settings, paths: list[Path], out: TextIO, pipeline: Pipeline,
             pool: PreparePool, stdin: BinaryIO | None) -> ProcessSummary:
    index = pipeline.new_index()
    summary = ProcessSummary(settings.topic_deadletter, settings.max_message_bytes)
    # Two inputs in flight per preparing process: a child never waits for its next page, and
    # results are still taken, deduped and written in input order.
    ahead = 2 * settings.prepare_processes
    window: deque[tuple[_InFlight | _FileLetter | None, bool]] = deque()
    inputs = _inputs_of(settings, paths, stdin)
    # Every letter names the raw topic, where such a record sits in the stream, so a tool that
    # replays letters onto their source topic treats these as the worker's. A record's offset is
    # its place among the run's records (0-based; partition null: not read from Kafka), which
    # also keeps each input's origin distinct for dedupe, as offsets on a topic are.
    position = 0
    while True:
        while len(window) < ahead and not (window and window[-1][1]):
            upcoming = next(inputs, None)
            if upcoming is None:
                break
            item, from_stdin = upcoming
            if item is None or isinstance(item, _FileLetter):
                window.append((item, from_stdin))
                continue
            where, key, value = item
            message = RawMessage(settings.topic_raw, None, position, key, value)
            position += 1
            now = datetime.now(UTC)
            window.append((_InFlight(where, message, now, pool.submit_blocking(message, now)),
                           from_stdin))
        if not window:
            return summary
        head, _ = window.popleft()
        if head is None:  # stdin comes next: everything before it is written now
            continue
        if isinstance(head, _FileLetter):
            _emit_letter(out, summary, head.letter, head.where)
            continue
        result = head.result()
        if isinstance(result, DeadLetter):  # named by its place: a run reads many files
            _emit_letter(out, summary, _located(result, head.where), head.where)
            continue
        try:
            _, emissions = pipeline.decide(result, index, head.now, roll_up=False)
            pipeline.evict(index)  # as the worker does after each decision
            primary = emissions[0]
            encoded = BY_ROLE[primary.topic].encode(primary.record)
        except Exception as exc:  # as the stream: one dead letter, the run goes on
            _emit_letter(out, summary, DeadLetter.of(head.message, "dedupe",
                                                     type(exc).__name__, f"{head.where}: {exc}"),
                         head.where)
            continue
        _write(out, _line(str(getattr(settings, f"topic_{primary.topic}")), encoded))
        summary.lines += 1


def _write(out: TextIO, line: str) -> None:
    try:
        with held():  # a SIGTERM waits for the line's end: a reader gets whole records
            _write_whole(out, line)
    except BrokenPipeError:  # the reader is gone (`| head`): the command says nothing
        raise
    except OSError as exc:  # a full disk under `> out.jsonl`: the run cannot go on
        raise OutputFailed.writing(exc) from None


def _write_whole(out: TextIO, line: str) -> None:
    """The whole line, also when a signal interrupts a write to a full pipe: there a
    TextIOWrapper's write and flush can return with part of the line lost (seen with a
    200 KB line and a SIGTERM, CPython 3.11), while os.write is retried where it stopped."""
    try:
        fd = out.fileno()
    except (OSError, ValueError):  # an in-memory stream (tests): nothing to interrupt
        out.write(line)
        out.flush()
        return
    out.flush()  # whatever the text layer holds goes first
    view = memoryview(line.encode("utf-8"))
    while view:
        view = view[os.write(fd, view):]


def _emit_letter(out: TextIO, summary: ProcessSummary, letter: DeadLetter, where: str) -> None:
    """``where``: the input's place, which the letter's message starts with; a letter cut for
    size names it as where its original is (no topic holds it)."""
    # Cut as the stream's letters are: a line no topic would carry helps nobody.
    _write(out, _line(summary.topic_deadletter, DEAD_LETTERS.encode_letter(
        letter, summary.max_message_bytes, original_at=where)))
    summary.lines += 1
    summary.dead_lettered += 1


def _line(topic: str, value: bytes) -> str:
    """One output line: the topic and the record exactly as its codec puts it on the topic."""
    return f'{{"topic": {json.dumps(topic)}, "record": {value.decode("utf-8")}}}\n'

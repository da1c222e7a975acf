"""The ``directory`` source: every .txt, .html, .html.gz, .json and .jsonl file in a folder and
its sub-folders is a raw article (a .jsonl file: one per line).

Text files are decoded by their BOM, their ``<meta charset>`` (HTML) or detection
(fetcher/decoding.py); empty and binary files, and JSON records that are not raw records, are
refused with a reason (``Rejected``) and go to the dead-letter topic with their bytes, never
into the stream as articles. Dot-files and temporary names are ignored, and files modified
within the settle time are left for the next poll, so a file being written is not read cut.
"""

from __future__ import annotations

import codecs
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsflow.core.clean import is_html_document, split_title
from newsflow.errors import (
    BadRecord,
    BodyTooLarge,
    BrokenFile,
    EmptyFile,
    FileTooLarge,
    FolderUnreadable,
    NotText,
)
from newsflow.fetcher.content import inflate
from newsflow.fetcher.decoding import decode_file_bytes
from newsflow.fetcher.jsonapi import json_date
from newsflow.fetcher.raw import raw_article
from newsflow.fetcher.sources import SourceConfig
from newsflow.records import DeadLetter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A file that is not an article: why (a ``NotText``: ``EmptyFile``, ``BinaryFile``,
    ``BrokenFile``, ``FileTooLarge``, ``BadRecord``) and its original bytes (none for a file
    too large to read)."""

    url: str
    error: NotText
    detail: str
    data: bytes

    @property
    def reason(self) -> str:
        return self.error.reason

    def dead_letter(self, topic: str) -> DeadLetter:
        """The dead letter for this file; ``topic`` is where it would have gone."""
        return DeadLetter("fetch", type(self.error).__name__, self.detail, topic, None,
                          None, self.url.encode("utf-8"), self.data)

SUFFIXES = (".txt", ".html", ".htm", ".html.gz", ".json", ".jsonl")


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return next((s for s in sorted(SUFFIXES, key=len, reverse=True) if name.endswith(s)), "")


def file_uri(path: Path) -> str:
    """The ``file://`` URI a file is keyed by, its links resolved. Never raises: a symbolic
    link loop (``Path.resolve`` raises RuntimeError for one) is named as far as it resolves,
    so that the file it could not read still gets its dead letter."""
    return Path(os.path.realpath(path)).as_uri()


def records_from_file(path: Path, source: SourceConfig, max_bytes: int
                      ) -> Iterator[dict[str, Any] | Rejected]:
    """Raw articles in one file, and a ``Rejected`` for each part that is not one: an empty
    or binary file, a damaged .html.gz, an article file over ``max_bytes`` (decompressed), a
    JSON record (a .jsonl line) that is not a raw record. Raises OSError or ValueError
    (naming the file) for a file that cannot be read at all."""
    suffix = _suffix(path)
    url = file_uri(path)
    if suffix in (".txt", ".html", ".htm", ".html.gz"):
        size = path.stat().st_size
        if size > max_bytes:  # not read: its bytes would not fit a dead letter either
            yield Rejected(url, FileTooLarge(), f"{path}: {size} bytes, over the {max_bytes}-byte "
                           "cap (NEWSFLOW_FETCH_MAX_BYTES); not read", b"")
            return
        data = path.read_bytes()
        if suffix == ".html.gz":
            # Inflated as a fetched body is: a bomb is stopped at the cap, several members are
            # read in turn, and padding after the last is ignored, as gunzip does (the page
            # used to be dead-lettered whole for it).
            try:
                data = inflate(data, "gzip", max_bytes)
            except BodyTooLarge:
                yield Rejected(url, FileTooLarge(), f"{path}: decompresses to more than the "
                               f"{max_bytes}-byte cap (NEWSFLOW_FETCH_MAX_BYTES)", data)
                return
            except ValueError as exc:  # corrupt, or cut before its end
                yield Rejected(url, BrokenFile(), f"{path}: not readable gzip: {exc}", data)
                return
        try:
            decoded = decode_file_bytes(data, html=suffix != ".txt")
            # A saved web page named .txt is a page, as a JSON item's untyped body is: cleaned
            # as HTML (its <meta charset> read), not published with its markup as text.
            if suffix == ".txt" and is_html_document(decoded.text):
                suffix, decoded = ".html", decode_file_bytes(data, html=True)
        except NotText as exc:
            yield Rejected(url, exc, f"{path}: {exc}", data)
            return
        if suffix == ".txt":
            title, body = split_title(decoded.text)
            yield raw_article(source, url, body, "text/plain", title=title or None,
                              encoding=decoded.encoding)
        else:
            yield raw_article(source, url, decoded.text, "text/html", encoding=decoded.encoding)
    else:  # .json, .jsonl
        data = path.read_bytes()
        if not data.removeprefix(codecs.BOM_UTF8).strip():  # no record: not to pass unnoticed
            why = "the file is empty" if not data else "the file holds only white space"
            yield Rejected(url, EmptyFile(why), f"{path}: {why}", data)
            return
        if suffix == ".json":
            yield _json_record(source, url, path, None, data.removeprefix(codecs.BOM_UTF8))
            return
        for number, line in enumerate(data.removeprefix(codecs.BOM_UTF8).split(b"\n"), 1):
            if line.strip():
                yield _json_record(source, url, path, number, line)


def _json_record(source: SourceConfig, url: str, path: Path, line: int | None, data: bytes
                 ) -> dict[str, Any] | Rejected:
    """The raw article of one JSON record (a .json file, or one line of a .jsonl file), or a
    ``Rejected`` naming the file and line when it is not one: a bad record is dead-lettered
    on its own and the file's other records still count."""
    where = f"{path}:{line}" if line is not None else str(path)
    at = f"{url}#L{line}" if line is not None else url  # one dead letter per bad line
    try:
        # JSON is UTF-8 (RFC 8259); a BOM at the start of the file is dropped above.
        item = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return Rejected(at, BadRecord(f"{where}: not UTF-8: {exc}"), f"{where}: not UTF-8: {exc}",
                        data)
    except (ValueError, RecursionError) as exc:  # not JSON; also a number of over 4,300
        # digits, and arrays nested past Python's stack: those escaped, and every poll
        # stopped at this file, the later lines and files unread
        return Rejected(at, BadRecord(f"{where}: not JSON: {exc}"), f"{where}: not JSON: {exc}",
                        data)
    if not isinstance(item, dict) or not isinstance(item.get("body"), str):
        problem = (f"{where}: a JSON record needs a string 'body'" if isinstance(item, dict)
                   else f"{where}: a JSON record must be an object, not {type(item).__name__}")
        return Rejected(at, BadRecord(problem), problem, data)
    try:
        # A line without a url of its own is known by its place in the file: with the file's
        # address, every line after the first came out as an exact duplicate of the first.
        return _item_record(source, at, item)
    except ValueError as exc:  # a URL no parser reads, a lone surrogate (UnicodeError), ...
        problem = f"{where}: not a usable record: {type(exc).__name__}: {exc}"
        return Rejected(at, BadRecord(problem), problem, data)


def _item_record(source: SourceConfig, url: str, item: dict[str, Any]) -> dict[str, Any]:
    body = item["body"]
    # Without a content_type, a whole HTML document (markup first, an <html>, <head> or <body>
    # tag) is HTML and anything else plain text: wire copy has "<BP>"-style codes that are
    # not markup, and a story may name a tag.
    sniffed = "text/html" if is_html_document(body) else "text/plain"
    record = raw_article(
        source, str(item.get("url") or url), body, str(item.get("content_type") or sniffed),
        # Any date shape a file gives (ISO, RFC 2822, free-form, Unix time) becomes RFC 3339
        # UTC, as the raw-article schema wants; one that is not a date is dropped.
        title=item.get("title"), published_at=json_date(item.get("published_at")),
    )
    if item.get("id"):
        record["id"] = item["id"]
    fetched_at = json_date(item.get("fetched_at"))  # a file may carry its own
    if fetched_at:
        record["fetched_at"] = fetched_at
    # What the topic's codec would refuse later (a lone surrogate cannot be UTF-8): refused
    # here, as this line's own dead letter.
    json.dumps(record, ensure_ascii=False).encode("utf-8")
    return record


# Names a writer uses while a file is still being written: dot-files (rsync's ".name.XXXXXX",
# editors' swap files), "*.tmp", "*.part", "*.partial", "*.crdownload" and a "~" suffix. The
# write-then-rename convention (write "x.txt.part" or ".x.txt", then rename to "x.txt") makes a
# file appear complete; the settle time covers writers that write in place (cp, scp).
TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", "~")
MAX_DEPTH = 5  # levels of sub-folders read below a directory source's path
_reported_too_deep: set[Path] = set()  # folders below MAX_DEPTH, warned about once per process


def ignored(name: str) -> bool:
    """A dot-file or a temporary name: never an article, whatever its suffix."""
    lower = name.lower()
    return lower.startswith(".") or lower.endswith(TEMP_SUFFIXES)


def article_files(root: Path) -> Iterator[Path]:
    """Article files under ``root`` and its sub-folders (at most ``MAX_DEPTH`` levels below,
    dot-folders and symbolic links to folders not followed), in path order. A folder deeper
    than that is skipped with a WARNING, once per process."""
    def walk(folder: Path, depth: int) -> Iterator[Path]:
        for path in sorted(folder.iterdir()):
            if ignored(path.name):
                continue
            if path.is_dir():
                if path.is_symlink():
                    continue  # a link could lead back up: a loop, or outside the source
                if depth >= MAX_DEPTH:
                    if path not in _reported_too_deep:
                        _reported_too_deep.add(path)
                        log.warning("%s: folder nested deeper than %d levels below %s not read",
                                    path, MAX_DEPTH, root)
                    continue
                yield from walk(path, depth + 1)
            elif path.is_file() and _suffix(path):
                yield path
    yield from walk(root, 0)


def settling(status: os.stat_result, settle_seconds: float, now: float) -> bool:
    """Whether a file (its ``status``) was modified less than ``settle_seconds`` ago: maybe
    still being written (a slow copy), so left for the next poll. An mtime far in the future (a
    copy that kept a skewed timestamp) does not hold a file back for ever."""
    return settle_seconds > 0 and abs(now - status.st_mtime) < settle_seconds


# What tells that a file changed without reading it: device, inode, size, and the modification
# and change times in ns (a rewrite that restores the old mtime still changes the ctime).
FileSignature = tuple[int, int, int, int, int]


def file_signature(status: os.stat_result) -> FileSignature:
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns,
            status.st_ctime_ns)


@dataclass(frozen=True, slots=True)
class FileRead:
    """Follows the last part of a file read whole (``read_directory``): its signature, taken
    before reading; or, with ``unchanged``, stands for a file not read again."""

    signature: FileSignature
    unchanged: bool = False


@dataclass(frozen=True, slots=True)
class LeftSettling:
    """Last of a poll (``read_directory``): how many files were left for the next poll because
    they may still be being written."""

    files: int


def settle_wait(root: Path, settle_seconds: float, now: float) -> float:
    """Seconds until no article file under ``root`` is ``settling`` any more (0: none is, or
    the folder cannot be read): how long ``fetch --once`` waits for a copy to finish."""
    try:
        ages = [abs(now - path.stat().st_mtime) for path in article_files(root)]
    except OSError:
        return 0.0
    return max((settle_seconds - age for age in ages if age < settle_seconds), default=0.0)


def read_directory(source: SourceConfig, *, max_bytes: int, settle_seconds: float = 0.0,
                   now: float | None = None,
                   read_before: Callable[[Path, FileSignature], bool] | None = None,
                   ) -> Iterator[tuple[Path, dict[str, Any] | Rejected | FileRead | LeftSettling
                                       | Exception]]:
    """(file, record) for every article, (file, Rejected) for an empty or binary file or a bad
    JSON record, then (file, FileRead) once the file was read whole; or (file, error) for a
    file that cannot be read; FolderUnreadable raised when the folder cannot be listed.
    Sub-folders are read too (``article_files``); files modified in the last
    ``settle_seconds`` (``now``: the clock, by default) are left for the next poll, with an
    INFO line and a last (folder, LeftSettling) counting them. A file for which
    ``read_before(file, signature)`` says it was read whole with that signature (and need not
    be read again) is not read: (file, FileRead(unchanged=True)) stands for it (a big folder
    polled every minute would otherwise be read and decoded whole every minute)."""
    assert source.path is not None
    settled_before = time.time() if now is None else now
    waiting = 0
    try:
        paths = list(article_files(source.path))
    except OSError as exc:  # the whole poll's failure: no file of it was looked at
        where = f"{exc.filename}: " if exc.filename and str(exc.filename) != str(source.path) \
            else ""
        raise FolderUnreadable(str(source.path), f"folder cannot be read: {where}"
                                                 f"{exc.strerror or exc}") from exc
    for path in paths:
        try:
            status = path.stat()
            if settling(status, settle_seconds, settled_before):
                waiting += 1
                continue
            signature = file_signature(status)
            if read_before is not None and read_before(path, signature):
                yield path, FileRead(signature, unchanged=True)
                continue
            for record in records_from_file(path, source, max_bytes):
                yield path, record
            yield path, FileRead(signature)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            yield path, exc
    if waiting:
        log.info("source %s: %d files modified in the last %.0f s left for the next poll "
                 "(maybe still being written)", source.id, waiting, settle_seconds)
        yield source.path, LeftSettling(waiting)

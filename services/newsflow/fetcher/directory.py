"""The ``directory`` source: every .txt, .html and .json file in a folder is a raw article.

Text files are decoded by their BOM, their ``<meta charset>`` (HTML) or detection
(fetcher/decoding.py); empty and binary files are refused with a reason (``Rejected``) and go
to the dead-letter topic with their bytes, never into the stream as articles.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsflow.core.clean import split_title
from newsflow.core.dates import normalise_date
from newsflow.errors import NotText
from newsflow.fetcher.decoding import decode_file_bytes
from newsflow.fetcher.raw import raw_article
from newsflow.fetcher.sources import SourceConfig
from newsflow.records import DeadLetter


@dataclass(frozen=True, slots=True)
class Rejected:
    """A file that is not an article: why (``EmptyFile``/``BinaryFile``) and its original
    bytes."""

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


def records_from_file(path: Path, source: SourceConfig) -> Iterator[dict[str, Any] | Rejected]:
    """Raw articles in one file. Raises ValueError (naming the file) for unreadable content."""
    suffix = _suffix(path)
    url = path.resolve().as_uri()
    if suffix in (".txt", ".html", ".htm", ".html.gz"):
        data = path.read_bytes()
        if suffix == ".html.gz":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError) as exc:
                raise ValueError(f"{path}: not gzip: {exc}") from exc
        try:
            decoded = decode_file_bytes(data, html=suffix != ".txt")
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
        text = path.read_text(encoding="utf-8-sig")  # JSON is UTF-8 (RFC 8259); a BOM is dropped
        try:
            items = ([json.loads(line) for line in text.splitlines() if line.strip()]
                     if suffix == ".jsonl" else [json.loads(text)])
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not JSON: {exc}") from exc
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("body"), str):
                raise ValueError(f"{path}: each JSON record needs a string 'body'")
            record = raw_article(
                source, str(item.get("url") or url), item["body"],
                str(item.get("content_type") or "text/plain"),
                # Any date shape a file gives (ISO, RFC 2822, free-form) becomes RFC 3339 UTC,
                # as the raw-article schema wants; one that is not a date is dropped.
                title=item.get("title"), published_at=normalise_date(item.get("published_at")),
            )
            if item.get("id"):
                record["id"] = item["id"]
            fetched_at = normalise_date(item.get("fetched_at"))  # a file may carry its own
            if fetched_at:
                record["fetched_at"] = fetched_at
            yield record


def read_directory(source: SourceConfig
                   ) -> Iterator[tuple[Path, dict[str, Any] | Rejected | Exception]]:
    """(file, record) for every article file, (file, Rejected) for an empty or binary one, or
    (file, error) for a file that cannot be read."""
    assert source.path is not None
    for path in sorted(source.path.iterdir()):
        if not path.is_file() or not _suffix(path):
            continue
        try:
            for record in records_from_file(path, source):
                yield path, record
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            yield path, exc

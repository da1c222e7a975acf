"""The ``directory`` source: every .txt, .html and .json file in a folder is a raw article."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from newsflow.core.clean import split_title
from newsflow.fetcher.raw import raw_article
from newsflow.fetcher.sources import SourceConfig

SUFFIXES = (".txt", ".html", ".htm", ".html.gz", ".json", ".jsonl")


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return next((s for s in sorted(SUFFIXES, key=len, reverse=True) if name.endswith(s)), "")


def records_from_file(path: Path, source: SourceConfig) -> Iterator[dict[str, Any]]:
    """Raw articles in one file. Raises ValueError (naming the file) for unreadable content."""
    suffix = _suffix(path)
    url = path.resolve().as_uri()
    if suffix == ".txt":
        title, body = split_title(path.read_text(encoding="utf-8", errors="replace"))
        yield raw_article(source, url, body, "text/plain", title=title or None)
    elif suffix in (".html", ".htm"):
        yield raw_article(source, url, path.read_text(encoding="utf-8", errors="replace"),
                          "text/html")
    elif suffix == ".html.gz":
        yield raw_article(source, url, gzip.decompress(path.read_bytes()).decode(
            "utf-8", errors="replace"), "text/html")
    elif suffix in (".json", ".jsonl"):
        text = path.read_text(encoding="utf-8")
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
                title=item.get("title"), published_at=item.get("published_at"),
            )
            yield record | {k: v for k, v in item.items() if k in ("id", "fetched_at")}


def read_directory(source: SourceConfig) -> Iterator[tuple[Path, dict[str, Any] | Exception]]:
    """(file, record) for every article file, or (file, error) for a file that cannot be read."""
    assert source.path is not None
    for path in sorted(source.path.iterdir()):
        if not path.is_file() or not _suffix(path):
            continue
        try:
            for record in records_from_file(path, source):
                yield path, record
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            yield path, exc

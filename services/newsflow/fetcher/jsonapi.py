"""JSON API sources (kind ``json``): items found at a dotted path, fields mapped per source."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urljoin

from newsflow.core.dates import normalise_date
from newsflow.fetcher.raw import FeedEntry
from newsflow.fetcher.sources import SourceConfig


def dig(value: Any, path: str) -> Any:
    """``a.b.0.c`` into nested dicts and lists; None when any step is missing."""
    for step in (s for s in path.split(".") if s):
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return None
    return value


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v if isinstance(v, str) else str(v.get("name", "")) for v in value
                if isinstance(v, str) or (isinstance(v, dict) and v.get("name"))]
    return []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_json_items(document: bytes, source: SourceConfig, base_url: str) -> list[FeedEntry]:
    """Entries of a JSON API answer. Raises ValueError naming the path when items are missing."""
    try:
        data = json.loads(document)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    items = dig(data, source.items_path)
    if not isinstance(items, list):
        raise ValueError(f"items_path {source.items_path!r} is not a list in the answer")
    entries = []
    for item in items:
        url = _str(dig(item, source.field_path("url")))
        if url is None:
            continue
        url = urljoin(base_url, url)
        guid = dig(item, source.field_path("guid"))
        entries.append(FeedEntry(
            url=url,
            title=_str(dig(item, source.field_path("title"))),
            published_at=normalise_date(dig(item, source.field_path("published_at"))),
            summary=_str(dig(item, source.field_path("summary"))),
            content=_str(dig(item, source.field_path("body"))),
            guid=str(guid) if guid is not None else url,
            categories=_strings(dig(item, source.field_path("categories"))),
            authors=_strings(dig(item, source.field_path("authors"))),
        ))
    return entries

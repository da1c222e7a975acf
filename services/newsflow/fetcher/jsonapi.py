"""JSON API sources (kind ``json``): items found at a dotted path, fields mapped per source."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from newsflow.core.dates import normalise_date, rfc3339
from newsflow.fetcher.links import ListingLinks
from newsflow.fetcher.raw import FeedEntry
from newsflow.fetcher.sources import SourceConfig


def dig(value: Any, path: str) -> Any:
    """``a.b.0.c`` into nested dicts and lists; None when any step is missing."""
    for step in (s for s in path.split(".") if s):
        if isinstance(value, dict):
            value = value.get(step)
        elif (isinstance(value, list) and step.isascii() and step.isdigit()  # not "²"
              and int(step) < len(value)):
            value = value[int(step)]
        else:
            return None
    return value


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        # A name that is not a string ({"first": ...}) is no name: it printed as a dict.
        return [v if isinstance(v, str) else v["name"] for v in value
                if isinstance(v, str) or (isinstance(v, dict) and isinstance(v.get("name"), str)
                                          and v["name"])]
    return []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


EPOCH_MILLISECONDS_ABOVE = 1e11  # 1e11 s is the year 5138; 1e11 ms is March 1973


def json_date(value: Any) -> str | None:
    """RFC 3339 (UTC) from a JSON API's date: a string in any shape ``normalise_date`` reads,
    or a Unix time as a number, in seconds or (above 1e11) milliseconds; None otherwise, and
    for a time outside the years ``normalise_date`` accepts."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:  # a 400-digit number overflows the division already
            seconds = value / 1000 if abs(value) > EPOCH_MILLISECONDS_ABOVE else value
            moment = rfc3339(datetime.fromtimestamp(seconds, UTC))
        except (OverflowError, OSError, ValueError):  # out of datetime's range, NaN
            return None
        return normalise_date(moment)  # the same rules: 0 (the epoch) is a placeholder, null
    return normalise_date(value)


def parse_json_items(document: bytes, source: SourceConfig, base_url: str) -> list[FeedEntry]:
    """Entries of a JSON API answer. Raises ValueError naming the path when items are missing,
    or when there are items but none has a url at ``fields.url`` (a wrong path)."""
    try:
        data = json.loads(document)
    except (ValueError, RecursionError) as exc:  # also not UTF-8, a 5,000-digit number, and
        raise ValueError(f"not JSON: {exc}") from exc  # arrays nested past Python's stack
    items = dig(data, source.items_path)
    if not isinstance(items, list):
        raise ValueError(f"items_path {source.items_path!r} is not a list in the answer")
    entries = []
    links = ListingLinks(base_url)
    for item in items:
        link = _str(dig(item, source.field_path("url")))
        url = links.url(link) if link else None
        if url is None:
            continue
        guid = dig(item, source.field_path("guid"))
        entries.append(FeedEntry(
            url=url,
            title=_str(dig(item, source.field_path("title"))),
            published_at=json_date(dig(item, source.field_path("published_at"))),
            summary=_str(dig(item, source.field_path("summary"))),
            content=_str(dig(item, source.field_path("body"))),
            # An id is a string or a number; an object or a list is none ("{'v': 1}").
            guid=(str(guid) if isinstance(guid, str | int | float) and not isinstance(guid, bool)
                  and str(guid) else url),
            categories=_strings(dig(item, source.field_path("categories"))),
            authors=_strings(dig(item, source.field_path("authors"))),
        ))
    links.report()
    if items and not entries and not links.skipped:
        # A wrong fields.url path would otherwise read as a quiet source, "ok, 0 new", forever.
        first = items[0]
        shape = (f"keys of the first item: {', '.join(list(first)[:20]) or 'none'}"
                 if isinstance(first, dict) else f"the first item is a {type(first).__name__}")
        where = f"items_path {source.items_path!r}" if source.items_path else "the top level"
        raise ValueError(f"{len(items)} items at {where}, none has a web address at fields.url "
                         f"{source.field_path('url')!r} ({shape})")
    return entries

"""Feed parsing: RSS 0.9x/2.0, RSS 1.0 (RDF) and Atom into FeedEntry records."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime
from typing import Any

import feedparser

from newsflow.fetcher.raw import FeedEntry
from newsflow.records import rfc3339

# Feeds whose entry content is at least this long carry the article itself; shorter ones
# carry a teaser and the page is fetched instead.
FULL_CONTENT_MIN_CHARS = 500


class FeedError(ValueError):
    """The document is not a feed we can read."""


def _time(value: time.struct_time | None) -> str | None:
    if value is None:
        return None
    return rfc3339(datetime.fromtimestamp(calendar.timegm(value), UTC))


def _content(entry: Any) -> str | None:
    contents = entry.get("content") or []
    html = max((c.get("value", "") for c in contents), key=len, default="")
    return html if len(html) >= FULL_CONTENT_MIN_CHARS else None


def parse_feed(document: bytes, base_url: str) -> list[FeedEntry]:
    parsed = feedparser.parse(document, response_headers={"content-location": base_url})
    if parsed.get("bozo") and not parsed.entries:
        raise FeedError(f"not a readable feed: {parsed.get('bozo_exception')}")
    if not parsed.get("version") and not parsed.entries:
        raise FeedError("not a feed: no RSS/Atom root element")
    entries = []
    for item in parsed.entries:
        link = item.get("link")
        if not link:
            continue
        entries.append(FeedEntry(
            url=link,
            title=item.get("title"),
            published_at=_time(item.get("published_parsed") or item.get("updated_parsed")),
            summary=item.get("summary"),
            content=_content(item),
            guid=item.get("id") or link,
            categories=[t.get("term") for t in item.get("tags", []) if t.get("term")],
            authors=[a.get("name") for a in item.get("authors", []) if a.get("name")],
        ))
    return entries

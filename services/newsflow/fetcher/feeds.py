"""Feed parsing: RSS 0.9x/2.0, RSS 1.0 (RDF), Atom (feedparser) and JSON Feed into FeedEntry."""

from __future__ import annotations

import calendar
import codecs
import io
import json
import time
import xml.sax
from datetime import UTC, datetime
from typing import Any

import feedparser

from newsflow.core.dates import normalise_date, rfc3339
from newsflow.errors import FeedError
from newsflow.fetcher.links import ListingLinks
from newsflow.fetcher.raw import FeedEntry
from newsflow.fetcher.safexml import refuse_unsafe_xml

# Feeds whose entry content is at least this long carry the article itself; shorter ones
# carry a teaser and the page is fetched instead.
FULL_CONTENT_MIN_CHARS = 500


def _time(value: time.struct_time | None) -> str | None:
    """RFC 3339 from feedparser's reading of an RSS/Atom date (it knows their variants; UTC)."""
    if value is None:
        return None
    return rfc3339(datetime.fromtimestamp(calendar.timegm(value), UTC))


def _content(entry: Any) -> str | None:
    contents = entry.get("content") or []
    html = max((c.get("value", "") for c in contents), key=len, default="")
    return html if len(html) >= FULL_CONTENT_MIN_CHARS else None


def _not_well_formed(parsed: Any) -> bool:
    """feedparser's "bozo" also flags harmless things (a Content-Type it does not like, a
    charset it overrode); only a parse error means the document itself is broken."""
    return bool(parsed.get("bozo")) and isinstance(parsed.get("bozo_exception"),
                                                   xml.sax.SAXException)


JSON_MEDIA_TYPES = ("application/feed+json", "application/json")


def _is_json(document: bytes, content_type: str | None, kind: str | None) -> bool:
    """JSON Feed when the source is a ``jsonfeed``, or the document starts with a brace (after
    a BOM and white space), or the server calls it JSON and it does not start like XML."""
    body = document.removeprefix(codecs.BOM_UTF8).lstrip()
    media = (content_type or "").split(";", 1)[0].strip().lower()
    json_media = media in JSON_MEDIA_TYPES or media.endswith("+json")
    return kind == "jsonfeed" or body[:1] == b"{" or (json_media and body[:1] != b"<")


def parse_feed(document: bytes, base_url: str, content_type: str | None = None,
               kind: str | None = None) -> list[FeedEntry]:
    """RSS, RDF or Atom entries, or JSON Feed entries (``_is_json``: the source's ``kind``, a
    leading brace after any BOM, or a JSON ``content_type``). A well-formed
    feed with no items, or none with a link, is an empty list, not an error.
    ``content_type`` is the response's Content-Type header (its charset is a hint)."""
    if _is_json(document, content_type, kind):
        return parse_json_feed(document, base_url)
    # Whitespace before the XML declaration makes a feed ill-formed, and nothing else is lost
    # by removing it (a PHP template's classic).
    document = document.lstrip()
    try:
        refuse_unsafe_xml(document)
    except ValueError as exc:
        raise FeedError(str(exc)) from exc
    # A stream, never bytes: feedparser opens a bytes argument as a *file name* if it can, so a
    # server answering "/etc/passwd" would make it read that file.
    headers = {"content-location": base_url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(io.BytesIO(document), response_headers=headers)
    if not parsed.entries and _not_well_formed(parsed):
        raise FeedError(f"not a readable feed: {parsed.get('bozo_exception')}")
    if not parsed.get("version") and not parsed.entries:
        raise FeedError("not a feed: no RSS/Atom root element")
    entries = []
    links = ListingLinks(base_url)
    for item in parsed.entries:
        link = item.get("link")
        # feedparser falls back to an Atom entry's id (e.g. "tag:...") when it has no link:
        # only a web address is an article.
        url = links.url(link) if isinstance(link, str) and link else None
        if url is None:
            continue
        entries.append(FeedEntry(
            url=url,
            title=item.get("title"),
            published_at=_time(item.get("published_parsed") or item.get("updated_parsed")),
            summary=item.get("summary"),
            content=_content(item),
            guid=item.get("id") or link,
            categories=[t.get("term") for t in item.get("tags", []) if t.get("term")],
            authors=[a.get("name") for a in item.get("authors", []) if a.get("name")],
        ))
    if _not_well_formed(parsed) and parsed.entries and not entries:
        # Broken XML that yielded only fragments (e.g. a truncated download): an error, not
        # an empty feed.
        raise FeedError(f"not a readable feed: {parsed.get('bozo_exception')}")
    links.report()
    return entries


def parse_json_feed(document: bytes, base_url: str) -> list[FeedEntry]:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1)."""
    try:  # JSON is UTF-8 (RFC 8259); a BOM is tolerated and dropped
        data = json.loads(document.removeprefix(codecs.BOM_UTF8))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FeedError(f"not a readable JSON feed: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise FeedError("not a JSON feed: no 'items' list")
    entries = []
    links = ListingLinks(base_url)
    for item in data["items"]:
        if not isinstance(item, dict):
            continue
        link = item.get("url") or item.get("external_url")
        url = links.url(link) if isinstance(link, str) and link else None
        if url is None:
            continue
        html = item.get("content_html") or item.get("content_text")
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        entries.append(FeedEntry(
            url=url,
            title=item.get("title") if isinstance(item.get("title"), str) else None,
            published_at=normalise_date(item.get("date_published") or item.get("date_modified")),
            summary=item.get("summary") if isinstance(item.get("summary"), str) else None,
            content=html if isinstance(html, str) and len(html) >= FULL_CONTENT_MIN_CHARS else None,
            guid=str(item.get("id") or link),
            categories=[str(t) for t in item.get("tags") or [] if isinstance(t, str)],
            authors=[a["name"] for a in authors if isinstance(a, dict) and a.get("name")],
        ))
    links.report()
    return entries

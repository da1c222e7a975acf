"""Feed parsing: RSS 0.9x/2.0, RSS 1.0 (RDF), Atom (feedparser) and JSON Feed into FeedEntry."""

from __future__ import annotations

import codecs
import io
import json
import re
import xml.sax
from typing import Any

import feedparser
import lxml.etree
import lxml.html

from newsflow.core.dates import normalise_date
from newsflow.errors import FeedError
from newsflow.fetcher.content import HEADER_CHARSET, detect_charset, text_codec
from newsflow.fetcher.links import ListingLinks
from newsflow.fetcher.raw import FeedEntry
from newsflow.fetcher.safexml import refuse_unsafe_xml

# Feeds whose entry content has at least this much text carry the article itself; shorter
# ones carry a teaser and the page is fetched instead. Text, not markup: a WordPress teaser
# (one sentence, a <figure> with a srcset, "Continue reading", "The post ... appeared first
# on ...") passed 500 characters of HTML with 26 words.
FULL_CONTENT_MIN_CHARS = 500


def _full_text(html: object) -> str | None:
    """``html`` when it holds the article's text (``FULL_CONTENT_MIN_CHARS``), else None."""
    if not isinstance(html, str) or len(html) < FULL_CONTENT_MIN_CHARS:
        return None
    try:
        text = lxml.html.fromstring(html).text_content()
    except (ValueError, lxml.etree.ParserError):  # no element at all: the text is the value
        text = html
    return html if len(" ".join(text.split())) >= FULL_CONTENT_MIN_CHARS else None


def _entry_date(entry: Any) -> str | None:
    """An entry's publication (else update) date as the feed writes it, read by the project's
    one date reader (``core.dates``). Not feedparser's reading: it takes "CEST" for UTC, "2:30
    PM EST" for 02:30 and a Hungarian month for December, and completes a zone it cannot know."""
    for field in ("published", "updated"):
        # Not ``entry.get``: feedparser answers a missing "updated" with "published" and a
        # DeprecationWarning, so a date that failed was read twice and warned about.
        written = dict.get(entry, field)
        date = normalise_date(written) if isinstance(written, str) else None
        if date is not None:
            return date
    return None


def _names(authors: object) -> list[str]:
    """The names of a feed's or entry's authors (feedparser's dicts, or JSON Feed objects)."""
    if not isinstance(authors, list):
        return []
    return [a["name"] for a in authors
            if isinstance(a, dict) and isinstance(a.get("name"), str) and a["name"].strip()]


# feedparser splits an RSS <author> ("jane@example.museum (Jane Doe)") with an e-mail pattern
# whose top-level domain has two to four letters: a longer one (.museum, .technology) left the
# rest of the address in the name ("um (Jane Doe"). RSS authors are split here instead.
# (Matched on the stripped text, a name taken whole and stripped after: white space on both
# sides of a lazy name made a failed match quadratic in its length.)
_MAIL = r"[^\s@()<>]++@[^\s@()<>]++"
_MAIL_THEN_NAME = re.compile(rf"{_MAIL}\s*+\((?P<name>[^()]*+)\)")
_NAME_THEN_MAIL = re.compile(rf"(?P<name>[^<>]*+)<{_MAIL}>")
_MAIL_ONLY = re.compile(_MAIL)


def _rss_authors(entry: Any) -> list[str]:
    """An RSS item's author names, from its ``<author>`` text when that holds an address."""
    raw, parsed = entry.get("author"), entry.get("authors", [])
    if isinstance(raw, str) and "@" in raw and isinstance(parsed, list) and len(parsed) == 1:
        raw = raw.strip()
        for pattern in (_MAIL_THEN_NAME, _NAME_THEN_MAIL):
            if match := pattern.fullmatch(raw):
                name = " ".join(match["name"].split())
                return [name] if name else []  # an address alone names no one
        if _MAIL_ONLY.fullmatch(raw):
            return []
    return _names(parsed)


# A title is markup when feedparser says so (Atom ``type="html"`` or ``"xhtml"``, escaped tags
# in RSS), or when a plain one holds an element, opened and closed, or a line break: an RSS
# title in CDATA is text to XML, but ``<![CDATA[<b>Live</b>: ...]]>`` means the markup. A lone
# "<" ("3 < 4", "why <script> tags matter") stays text.
_MARKUP_TYPES = ("text/html", "application/xhtml+xml")
_ELEMENT = re.compile(r"<([A-Za-z][A-Za-z0-9]*+)\b[^<>]*+>.*?</\1\s*>|<br\s*/?>", re.I | re.S)
_UNREAD = ("script", "style", "template", "noscript")


def _title(entry: Any) -> str | None:
    """The entry's title as text: markup (``_ELEMENT``, ``_MARKUP_TYPES``) read as HTML, its
    tags gone, its entities resolved, a script's or style's text left out."""
    title = entry.get("title")
    if not isinstance(title, str):
        return None
    detail = entry.get("title_detail")
    kind = detail.get("type") if isinstance(detail, dict) else None
    # (Looked for in the first 2,000 characters: a lazy search for each unclosed tag's end
    # would grow with the square of a crafted title's length.)
    if kind in _MARKUP_TYPES or _ELEMENT.search(title[:2000]):
        try:
            root = lxml.html.fragment_fromstring(title, create_parent="div")
        except (ValueError, lxml.etree.ParserError):
            return " ".join(title.split()) or None
        for element in list(root.iter(*_UNREAD)):
            element.drop_tree()
        title = root.text_content()
    return " ".join(title.split()) or None


def _content(entry: Any) -> str | None:
    contents = entry.get("content") or []
    html = max((c.get("value", "") for c in contents), key=len, default="")
    return _full_text(html)


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


def _with_charset(document: bytes, content_type: str | None) -> str:
    """The Content-Type for feedparser, with the charset the document is in. feedparser keeps
    RFC 3023's rules: ``text/xml`` without a charset is ASCII whatever the XML declaration says,
    and then it guesses (MacRoman: "caf√©"). RFC 7303, which replaced them, reads a BOM, else
    the header's charset, else the declaration, else UTF-8; ``detect_charset`` does so (and
    knows windows-1252 that a server left unlabelled)."""
    match = HEADER_CHARSET.search(content_type or "")
    if content_type and match and text_codec(match.group(1)):
        return content_type
    media = (content_type or "").split(";", 1)[0].strip() or "application/xml"
    return f"{media}; charset={detect_charset(document, None)}"


def parse_feed(document: bytes, base_url: str, content_type: str | None = None,
               kind: str | None = None) -> list[FeedEntry]:
    """RSS, RDF or Atom entries, or JSON Feed entries (``_is_json``: the source's ``kind``, a
    leading brace after any BOM, or a JSON ``content_type``). A well-formed
    feed with no items, or none with a link, is an empty list, not an error.
    ``content_type`` is the response's Content-Type header (its charset is a hint)."""
    if _is_json(document, content_type, kind):
        return parse_json_feed(document, base_url)
    # Whitespace before the XML declaration makes a feed ill-formed, and nothing else is lost
    # by removing it (a PHP template's classic). Not in UTF-16 without a BOM, where the line
    # break's byte is half of a character ("\n\x00<\x00"): cut, the rest is misaligned.
    stripped = document.lstrip()
    document = document if stripped.startswith(b"\x00") else stripped
    try:
        refuse_unsafe_xml(document)
    except ValueError as exc:
        raise FeedError(str(exc)) from exc
    # A stream, never bytes: feedparser opens a bytes argument as a *file name* if it can, so a
    # server answering "/etc/passwd" would make it read that file.
    headers = {"content-location": base_url,
               "content-type": _with_charset(document, content_type)}
    parsed = feedparser.parse(io.BytesIO(document), response_headers=headers)
    if not parsed.entries and _not_well_formed(parsed):
        raise FeedError(f"not a readable feed: {parsed.get('bozo_exception')}")
    if not parsed.get("version") and not parsed.entries:
        raise FeedError("not a feed: no RSS/Atom root element")
    entries = []
    links = ListingLinks(base_url)
    # An Atom entry without an author has the feed's (RFC 4287, 4.1.2); an RSS channel's
    # managingEditor is its editor, not every item's author.
    version = str(parsed.get("version", ""))
    feed_authors = _names(parsed.feed.get("authors", [])) if version.startswith("atom") else []
    rss = version.startswith("rss")
    for item in parsed.entries:
        link = item.get("link")
        # feedparser falls back to an Atom entry's id (e.g. "tag:...") when it has no link:
        # only a web address is an article.
        url = links.url(link) if isinstance(link, str) and link else None
        if url is None:
            continue
        entries.append(FeedEntry(
            url=url,
            title=_title(item),
            published_at=_entry_date(item),
            summary=item.get("summary"),
            content=_content(item),
            guid=item.get("id") or link,
            categories=[t.get("term") for t in item.get("tags", []) if t.get("term")],
            authors=(_rss_authors(item) if rss else _names(item.get("authors", [])))
            or feed_authors,
        ))
    if _not_well_formed(parsed) and parsed.entries and not entries:
        # Broken XML that yielded only fragments (e.g. a truncated download): an error, not
        # an empty feed.
        raise FeedError(f"not a readable feed: {parsed.get('bozo_exception')}")
    links.report()
    return entries


def _json_id(value: object) -> str | None:
    """A JSON Feed item's id: a string, or a number some feeds give; nothing else."""
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def parse_json_feed(document: bytes, base_url: str) -> list[FeedEntry]:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1)."""
    try:  # JSON is UTF-8 (RFC 8259); a BOM is tolerated and dropped
        data = json.loads(document.removeprefix(codecs.BOM_UTF8))
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, a 5,000-digit number,
        raise FeedError(f"not a readable JSON feed: {exc}") from exc  # nested too deep
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise FeedError("not a JSON feed: no 'items' list")
    entries = []
    links = ListingLinks(base_url)
    # An item without authors has the feed's (JSON Feed 1.1 "authors", 1.0 "author").
    feed_authors = _names(data.get("authors") or ([data["author"]] if data.get("author") else []))
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
            content=_full_text(html),
            guid=_json_id(item.get("id")) or link,
            categories=[t for t in tags if isinstance(t, str)] if isinstance(
                tags := item.get("tags"), list) else [],  # a string is no list of tags
            authors=_names(authors) or feed_authors,
        ))
    links.report()
    return entries

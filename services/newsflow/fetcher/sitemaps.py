"""Sitemaps: <urlset> (with Google News extensions) and <sitemapindex>, parsed safely."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

from newsflow.core.dates import normalise_date
from newsflow.fetcher.content import HEADER_CHARSET, text_codec
from newsflow.fetcher.links import ListingLinks
from newsflow.fetcher.raw import FeedEntry
from newsflow.fetcher.safexml import local, parse_xml


@dataclass(slots=True)
class Sitemap:
    entries: list[FeedEntry] = field(default_factory=list)
    index: bool = False  # a <sitemapindex>
    # index: child sitemaps, undated ones first, then newest lastmod first
    children: list[str] = field(default_factory=list)
    repair: str = ""  # how an ill-formed document was read anyway ("" when well-formed)


def _children(element: object) -> dict[str, object]:
    return {local(child.tag): child for child in element}  # type: ignore[attr-defined]


def _all_text(element: object | None) -> str | None:
    """An element's text with its children's (a <news:title> with inline tags lost all after
    the first)."""
    parts = getattr(element, "itertext", None)
    text = "".join(parts()).strip() if parts is not None else ""
    return text or None


def _text(element: object | None) -> str | None:
    text = getattr(element, "text", None)
    return text.strip() if isinstance(text, str) and text.strip() else None


_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?\sencoding\s*=", re.I)


def with_http_charset(document: bytes, content_type: str | None) -> bytes:
    """The document in UTF-8 when the HTTP Content-Type names a charset and the document
    itself says nothing (no BOM, no ``encoding`` in an XML declaration): XML would otherwise
    be read as UTF-8, and a Latin-1 sitemap's titles would come out with U+FFFD. RFC 7303
    makes the header's charset authoritative; one the document declares itself is kept."""
    match = HEADER_CHARSET.search(content_type or "")
    charset = text_codec(match.group(1)) if match else None
    if (charset is None or charset == "utf-8" or document.startswith(_BOMS)
            or _DECLARED_ENCODING.match(document)):
        return document
    try:  # bytes that are valid UTF-8 and not ASCII are UTF-8 whatever an old server says
        document.decode("utf-8")
    except UnicodeDecodeError:
        return document.decode(charset, errors="replace").encode("utf-8")
    return document


def parse_sitemap(document: bytes, base_url: str, content_type: str | None = None) -> Sitemap:
    """Entries of a urlset, or child sitemaps of an index. Raises ValueError if neither.
    ``content_type``: the response's Content-Type header, whose charset counts when the
    document declares none."""
    root, repair = parse_xml(with_http_charset(document, content_type))
    result = Sitemap(repair=repair)
    links = ListingLinks(base_url)
    if local(root.tag) == "sitemapindex":
        result.index = True
        dated = []
        for node in root.iter():  # not only the root's children: see the urlset below
            if local(node.tag) != "sitemap":
                continue
            fields = _children(node)
            loc = _text(fields.get("loc"))
            child = links.url(loc) if loc else None
            if child:
                dated.append((normalise_date(_text(fields.get("lastmod"))) or "", child))
        links.report()
        # Undated children first, then newest lastmod first: a child without <lastmod> is
        # most often the constantly regenerated news sitemap, while dated ones are archives.
        # Within each group document order is kept (the sort is stable).
        undated = [url for date, url in dated if not date]
        newest = [url for _, url in sorted((d for d in dated if d[0]), key=lambda d: d[0],
                                           reverse=True)]
        result.children = undated + newest
        return result
    if local(root.tag) != "urlset":
        raise ValueError(f"not a sitemap: root element <{local(root.tag)}>")
    # Every <url>, not only the root's children: a <url> left unclosed makes the recovering
    # parser nest all the later ones inside it, and they were lost.
    for node in root.iter():
        if local(node.tag) != "url":  # e.g. a stray <sitemap> in a urlset is not an article
            continue
        fields = _children(node)
        loc = _text(fields.get("loc"))
        url = links.url(loc) if loc else None
        if url is None:
            continue
        news = _children(fields["news"]) if "news" in fields else {}
        keywords = _text(news.get("keywords"))
        result.entries.append(FeedEntry(
            url=url,
            title=_all_text(news.get("title")),
            published_at=normalise_date(_text(news.get("publication_date")) or _text(fields.get("lastmod"))),
            guid=url,
            categories=[k.strip() for k in keywords.split(",") if k.strip()] if keywords else [],
        ))
    links.report()
    # Newest first, so max_items keeps the fresh end of a long sitemap.
    result.entries.sort(key=lambda e: e.published_at or "", reverse=True)
    return result

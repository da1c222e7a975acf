"""Article metadata from a parsed HTML page: title, authors, date, canonical URL, site, language.

Read straight from the markup publishers fill for search engines and social cards (Open Graph,
JSON-LD ``schema.org`` articles, ``<meta>`` names, ``<link rel=canonical>``), in that order of
trust; the URL and htmldate's markup scan are the last resort for the date. Every rule is
testable.

The page is the Lexbor tree (selectolax) that ``core.main_text`` scores next, so a page whose
block text stands is parsed once. Read it before the scorer runs: the scorer detaches the
``<head>``. htmldate's scan (``date_from_markup``) needs an lxml tree: the caller runs it only
on pages with no date in the metadata, ``<time>`` or the URL, on the tree trafilatura gets
when the page falls back to it (an lxml parse of its own otherwise).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement
from selectolax.lexbor import LexborHTMLParser, LexborNode

from newsflow.core.dates import MAX_YEAR, normalise_date
from newsflow.core.lexbor_tree import has_ancestor

ARTICLE_TYPES = frozenset({
    "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle", "blogposting",
    "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle", "techarticle",
    "scholarlyarticle", "liveblogposting", "webpage", "report",
})
DATE_META = (
    "article:published_time", "og:published_time", "datepublished", "pubdate", "publishdate",
    "publish-date", "publish_date", "date", "dc.date", "dc.date.issued", "dcterms.created",
    "sailthru.date", "parsely-pub-date", "article.published", "published_time", "citation_date",
)
AUTHOR_META = ("author", "article:author", "parsely-author", "sailthru.author", "dc.creator",
               "byl", "citation_author")
URL_DATE = re.compile(r"/((?:19|20)\d\d)[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:/|$|[-_])")
# "Headline | Site" / "Headline - Site": the site part of a <title>.
TITLE_SITE_SEPARATOR = re.compile(r"\s+[|–—:·•-]\s+")
HEADINGS = frozenset({"h2", "h3", "h4", "h5", "h6"})
LANG_CODE = re.compile(r"^[a-zA-Z]{2,3}(?=$|[-_])")
MAX_JSON_LD_CHARS = 200_000


@dataclass(slots=True)
class PageMetadata:
    title: str | None = None
    headline: str | None = None  # the page's first <h1>, often repeated atop the text
    authors: list[str] = field(default_factory=list)
    published_at: str | None = None  # RFC 3339, UTC (core.dates)
    canonical_url: str | None = None
    site_name: str | None = None
    language: str | None = None  # as declared by the page (primary subtag)

MAX_JSON_LD_DEPTH = 20  # levels of JSON-LD nesting followed (lists, @graph, authors)


def _text(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value)).strip() if value is not None else ""


def _attr(node: LexborNode, name: str) -> str | None:
    return node.attributes.get(name)


def parse_page(html: str) -> LexborHTMLParser:
    """The Lexbor tree the metadata is read from (and ``core.main_text`` scores).

    NUL is dropped first: an HTML5 parser turns it into U+FFFD in titles and attribute values
    (libxml2 drops it, as ``clean.normalise_text`` does), which would leave a visible "\ufffd".
    """
    return LexborHTMLParser(html.replace("\x00", ""))


def meta_map(page: LexborHTMLParser) -> dict[str, str]:
    """First non-empty content of each <meta name|property|itemprop>, keyed in lower case."""
    found: dict[str, str] = {}
    for node in page.css("meta"):
        attrs = node.attributes
        key = attrs.get("property") or attrs.get("name") or attrs.get("itemprop")
        content = _text(attrs.get("content"))
        if key and content:
            found.setdefault(key.strip().lower(), content)
    return found


def _walk_json_ld(node: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > MAX_JSON_LD_DEPTH:
        return
    if isinstance(node, list):
        for item in node:
            yield from _walk_json_ld(item, depth + 1)
    elif isinstance(node, dict):
        yield node
        if "@graph" in node:
            yield from _walk_json_ld(node["@graph"], depth + 1)


def _types(obj: dict[str, Any]) -> set[str]:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {str(k).lower() for k in kinds if k}


def json_ld_article(page: LexborHTMLParser) -> dict[str, Any]:
    """The page's schema.org article object (the most specific one), or {}."""
    best: dict[str, Any] = {}
    for script in page.css("script[type]"):
        if _attr(script, "type") != "application/ld+json":  # exact, as publishers write it
            continue
        raw = script.text(deep=True).strip()
        if not raw or len(raw) > MAX_JSON_LD_CHARS:
            continue
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        for obj in _walk_json_ld(data):
            kinds = _types(obj) & ARTICLE_TYPES
            if kinds and (not best or kinds - {"webpage"}):
                best = obj
                if kinds - {"webpage"}:
                    return best
    return best


def _names(value: Any, depth: int = 0) -> list[str]:
    """Person names from a JSON-LD author value (string, Person, or a list of them); nesting
    deeper than any real page's is not followed (a page must not exhaust the stack)."""
    if depth > MAX_JSON_LD_DEPTH:
        return []
    if isinstance(value, list):
        return [name for item in value for name in _names(item, depth + 1)]
    if isinstance(value, dict):
        return _names(value.get("name"), depth + 1)
    text = _text(value)
    return [text] if text else []


def _first_text(value: Any) -> str:
    """A JSON-LD text value, or the first of a list of them (some pages give the headline as
    a list of lines), never a Python repr."""
    while isinstance(value, list) and value:
        value = value[0]
    return "" if isinstance(value, (list, dict)) else _text(value)


def split_authors(value: str) -> list[str]:
    """'By A, B and C' -> ['A', 'B', 'C']; URLs and handles are not names."""
    value = re.sub(r"^\s*by\s+", "", value, flags=re.IGNORECASE)
    parts = re.split(r"\s*(?:;|,|\band\b|&|\|)\s*", value)
    return [p.strip() for p in parts if p.strip() and "://" not in p and "@" not in p
            and len(p.split()) <= 6]


def _dedupe(names: list[str]) -> list[str]:
    seen: set[str] = set()
    result = []
    for name in names:
        if name.lower() not in seen:
            seen.add(name.lower())
            result.append(name)
    return result


def _first_h1(page: LexborHTMLParser) -> str | None:
    for node in page.css("h1"):
        text = _text(node.text(deep=True)) or _split_heading(node)
        if text:
            return text
    return None


def _split_heading(h1: LexborNode) -> str:
    """The text of ``<h1><h2>Headline</h2></h1>``: an HTML5 parser closes the h1 at the h2, so
    the headline is the empty h1's next sibling (lxml, which the old reader used, nests it).
    Not for an h1 holding elements (a logo's image or link): that h1 was never the headline."""
    if any(child.tag not in ("-text", "-comment") for child in h1.iter(include_text=True)):
        return ""
    node = h1.next
    while node is not None and node.tag == "-text" and not (node.text_content or "").strip():
        node = node.next
    if node is not None and node.tag in HEADINGS:
        return _text(node.text(deep=True))
    return ""


def _html_title(page: LexborHTMLParser) -> str | None:
    """The document's <title>; an SVG icon's <title> ("Close", "Search") names the icon."""
    for node in page.css("title"):
        if not has_ancestor(node, "svg"):
            return _text(node.text(deep=True)) or None
    return None


def strip_site_suffix(title: str, site_name: str | None) -> str:
    """'Headline | Site' -> 'Headline' when the last part is the site's name."""
    separators = list(TITLE_SITE_SEPARATOR.finditer(title))
    if site_name and separators:
        last = separators[-1]
        if title[last.end():].strip().lower() == site_name.strip().lower():
            return title[:last.start()].strip()
    return title


def drop_suffix_after_headline(title: str, headline: str | None) -> str:
    """'Headline - Blog Name' -> 'Headline' when the page's <h1> is exactly 'Headline'."""
    if (headline and len(headline) < len(title) and title.startswith(headline)
            and TITLE_SITE_SEPARATOR.match(title[len(headline):])):
        return headline
    return title


def date_from_url(url: str | None) -> str | None:
    match = URL_DATE.search(url or "")
    if not match:
        return None
    year, month, day = match.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}"


def date_from_markup(tree: HtmlElement, url: str | None,
                     latest: date | None = None) -> str | None:
    """htmldate's quick markup scan (no free-text search), RFC 3339: the date's last resort.

    ``tree`` is the one trafilatura parses (``clean._parse_html``), as before the reader moved
    to Lexbor: parsing the source itself, htmldate keeps HTML comments, and on one dev page it
    then took a build stamp ("generated at ...") for the date.

    ``latest`` is the last day a page may be dated (the caller's today, in UTC); without it, the
    end of ``MAX_YEAR``. htmldate's own default is the machine's today: the core never reads
    the clock, so the bound is always passed.
    """
    last = latest or date(MAX_YEAR, 12, 31)
    try:
        from htmldate import find_date

        found = find_date(tree, extensive_search=False, original_date=True, url=url,
                          # naive, day-granular: htmldate compares naive datetimes, and caches
                          # its checks per bound
                          max_date=datetime(last.year, last.month, last.day, 23, 59, 59))
    except Exception:  # htmldate is a heuristic helper: never fail the page for it
        return None
    return normalise_date(found)


def _absolute(href: str | None, base: str | None) -> str | None:
    href = _text(href)
    if not href:
        return None
    try:  # a template's placeholder ("https://[SITE_URL]/x") or port 99999: no link at all
        absolute = urljoin(base or "", href)
        _ = urlsplit(absolute).port
    except ValueError:
        return None
    return absolute if absolute.startswith(("http://", "https://")) else None


def _attr_values(page: LexborHTMLParser, selector: str, name: str) -> list[str]:
    return [value for node in page.css(selector) if (value := _attr(node, name)) is not None]


def read_metadata(page: LexborHTMLParser, url: str | None = None) -> PageMetadata:
    """The page's metadata; ``published_at`` is None when only ``date_from_markup`` is left."""
    meta = meta_map(page)
    ld = json_ld_article(page)
    publisher = ld.get("publisher")
    publishers = _names(publisher)
    site_name = (meta.get("og:site_name") or (publishers[0] if publishers else None)
                 or meta.get("application-name"))
    title = (meta.get("og:title") or _first_text(ld.get("headline")) or meta.get("twitter:title")
             or _html_title(page))
    headline = _first_h1(page)
    if title:
        title = drop_suffix_after_headline(strip_site_suffix(title, site_name), headline)
    authors = _names(ld.get("author"))
    if not authors:
        for key in AUTHOR_META:
            if key in meta:
                authors = split_authors(meta[key])
                if authors:
                    break
    if not authors:
        authors = [_text(a.text(deep=True)) for a in page.css("a[rel]")
                   if _attr(a, "rel") == "author"][:5]
    candidates = [ld.get("datePublished"), *(meta.get(key) for key in DATE_META),
                  *_attr_values(page, "time[datetime]", "datetime")[:3]]
    published = next((d for d in map(normalise_date, candidates) if d), None)
    published = published or normalise_date(date_from_url(url))
    canonical = next((absolute for link in page.css("link[rel]")
                      if _attr(link, "rel") == "canonical"
                      and (absolute := _absolute(_attr(link, "href"), url))), None)
    canonical = canonical or _absolute(meta.get("og:url"), url)
    root = page.root
    declared = ((_attr(root, "lang") if root is not None and root.tag == "html" else None)
                or meta.get("content-language") or meta.get("og:locale"))
    lang = LANG_CODE.match(declared.strip()) if declared else None
    return PageMetadata(
        title=title or None,
        headline=headline,
        authors=_dedupe([a for a in authors if a]),
        published_at=published or None,
        canonical_url=canonical,
        site_name=site_name or None,
        language=lang.group(0).lower() if lang else None,
    )

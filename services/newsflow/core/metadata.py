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

import contextlib
import html
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement
from selectolax.lexbor import LexborHTMLParser, LexborNode

from newsflow.core.dates import MAX_YEAR, normalise_date, parse_datetime
from newsflow.core.languages import iso_639_1
from newsflow.core.lexbor_tree import AncestorTest

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


# A JSON-LD string may hold an escaped half of a surrogate pair ("\\ud83d", a headline cut at
# a UTF-16 length): it cannot be written as UTF-8, and the article was dead-lettered for it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _ld_text(value: Any) -> str:
    """A JSON-LD text value as text: a string or a number, its HTML entities resolved (CMSes
    escape them: "Q&amp;A"), a lone surrogate dropped; nothing for other types ("True")."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    text = str(value)
    if "&" in text:
        text = html.unescape(text)
    return _text(_LONE_SURROGATE.sub("", text))


def _attr(node: LexborNode, name: str) -> str | None:
    return node.attributes.get(name)


def parse_page(html: str) -> LexborHTMLParser:
    """The Lexbor tree the metadata is read from (and ``core.main_text`` scores).

    NUL is dropped first: an HTML5 parser turns it into U+FFFD in titles and attribute values
    (libxml2 drops it, as ``clean.normalise_text`` does), which would leave a visible "\ufffd".
    """
    return LexborHTMLParser(html.replace("\x00", ""))


def meta_values(page: LexborHTMLParser) -> dict[str, list[str]]:
    """The non-empty contents of each <meta name|property|itemprop>, in page order, keyed in
    lower case (the first is the page's value; bylines read them all: ``_meta_authors``)."""
    found: dict[str, list[str]] = {}
    for node in page.css("meta"):
        attrs = node.attributes
        key = attrs.get("property") or attrs.get("name") or attrs.get("itemprop")
        content = _text(attrs.get("content"))
        if key and content:
            found.setdefault(key.strip().lower(), []).append(content)
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


# A block wrapped in an HTML comment or a CDATA section, as old templates hide scripts.
_JSON_LD_WRAPPER = re.compile(r"^\s*(?:<!--|//\s*<!\[CDATA\[|/\*\s*<!\[CDATA\[\s*\*/)"
                              r"|(?:-->|//\s*\]\]>|/\*\s*\]\]>\s*\*/)\s*$")


def json_ld_article(page: LexborHTMLParser) -> dict[str, Any]:
    """The page's schema.org article object (the most specific one), or {}."""
    best: dict[str, Any] = {}
    for script in page.css("script[type]"):
        media = (_attr(script, "type") or "").split(";", 1)[0].strip().lower()
        if media != "application/ld+json":  # "; charset=utf-8" and capitals too
            continue
        raw = _JSON_LD_WRAPPER.sub("", script.text(deep=True)).strip()
        if not raw or len(raw) > MAX_JSON_LD_CHARS:
            continue
        try:  # strict=False: a raw line break or tab inside a string lost the whole block
            data = json.loads(raw, strict=False)
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
    """Names from a JSON-LD value (string, Person or Organization, or a list of them); nesting
    deeper than any real page's is not followed (a page must not exhaust the stack)."""
    if depth > MAX_JSON_LD_DEPTH:
        return []
    if isinstance(value, list):
        return [name for item in value for name in _names(item, depth + 1)]
    if isinstance(value, dict):
        return _names(value.get("name"), depth + 1)
    text = _ld_text(value)
    return [text] if text else []


def _person_names(value: Any) -> list[str]:
    """Author names from a JSON-LD author value, each name read as a byline is ("By A and B";
    addresses and links left out: ``split_authors``)."""
    return [name for credit in _names(value) for name in split_authors(credit, one_credit=True)]


def _first_text(value: Any) -> str:
    """A JSON-LD text value, or the first of a list of them (some pages give the headline as
    a list of lines), never a Python repr."""
    while isinstance(value, list) and value:
        value = value[0]
    return "" if isinstance(value, (list, dict)) else _ld_text(value)


# "By", "By:", "Written by", "Reporting by" before a byline's names.
_BYLINE_LEAD = re.compile(r"^\s*(?:(?:written|words|reporting|reported|story|text)\s+)?by\b\s*:?\s*",
                          re.IGNORECASE)
# An address beside a name ("Jane Doe (jane@example.com)", "Jane Doe <jane@...>"): the name
# stays, the address goes (the whole part used to go, the name with it).
_ADDRESS_BESIDE = re.compile(r"\s*[(<][^()<>]*@[^()<>]*[)>]")


_EVERY_SEPARATOR = re.compile(r"\s*(?:;|,|\band\b|&|\|)\s*")
# One credit names one author, or several joined by "and": a comma there starts the author's
# title or affiliation ("TOM KRISHER, AP Auto Writer", "Genevieve Carlton, Ph.D."), as do a
# bar and "for" ("Brendan Carlin For The Mail On Sunday"), and "&" joins a firm's name.
_NAME_SEPARATOR = re.compile(r"\s*(?:;|\band\b)\s*", re.IGNORECASE)
_AFFILIATION = re.compile(r"\s*[,|].*|\s+for\s.*", re.IGNORECASE | re.DOTALL)


# A link where a name should be ("https://www.facebook.com/profile.php?id=1&fref=ts",
# "//example.com/staff/jane-doe/"): it goes whole, before the split, or its query's "&"
# made "fref=ts" an author.
# Brackets or a dash around it go with it ("Deutsche Welle (www.dw.com)", "Jane Doe -
# http://janedoe.example").
_LINK = re.compile(r"\s*[-–—|:]?\s*\(?(?:\b[a-z][a-z0-9+.-]*:)?//[^\s()]*\)?"
                   r"|\s*[-–—|:]?\s*\(?\bwww\.[^\s()]+\)?", re.IGNORECASE)
# "Jane Doe For The Daily Planet": the outlet she wrote it for is not a name. A name goes
# before it, two words or more: "Institute for the Study of War" stays whole.
_WRITTEN_FOR = re.compile(r"(?<=\S\s\S)(\S*)\s+for\s.*", re.IGNORECASE | re.DOTALL)
# What follows a name after a comma and is not one: a degree or credential ("Ilana Doe, MS,
# RDN"), a generation ("Jr."), a firm's legal form ("Gallup, Inc.").
_NOT_A_NAME = re.compile(
    r"(?:inc|ltd|llc|llp|plc|corp|co|gmbh|jr|sr|ii|iii|iv|ph\.?\s?d|m\.?d|m\.?s|m\.?a|b\.?a"
    r"|b\.?s|mba|mph|msc|bsc|rdn?|rn|cpa|esq|dds|lcsw|cfp|cfa)\.?", re.IGNORECASE)


def split_authors(value: str, *, one_credit: bool = False) -> list[str]:
    """'By A, B and C' -> ['A', 'B', 'C']; URLs and handles are not names, nor a credential
    or a firm's legal form after a name. ``one_credit``: the value is a credit (a JSON-LD
    author's name, an author link's text): split at "and" only, each name without the title
    or affiliation after it (``_AFFILIATION``)."""
    value = _BYLINE_LEAD.sub("", _LINK.sub(" ", _ADDRESS_BESIDE.sub("", value)))
    if one_credit:
        parts = [_AFFILIATION.sub("", part) for part in _NAME_SEPARATOR.split(value)]
    else:
        parts = _EVERY_SEPARATOR.split(value)
    names = [name for part in parts if (name := _WRITTEN_FOR.sub(r"\1", part).strip())
             and "@" not in name and len(name.split()) <= 6]
    return names[:1] + [name for name in names[1:] if not _NOT_A_NAME.fullmatch(name)]


# "Doe, Jane" or "Doe, Jane A.": how scholarly metadata (``citation_author``, ``dc.creator``)
# writes one name, surname first.
_SURNAME_FIRST = re.compile(r"\s*([A-Z][a-z'’-]+),\s*([A-Z][a-z'’-]+(?:\s+[A-Z]\.)*)\s*")
SURNAME_FIRST_META = frozenset({"citation_author", "dc.creator"})


def _meta_authors(values: dict[str, list[str]]) -> list[str]:
    """Authors from ``<meta>`` bylines (``meta_values``): those of the first key of
    ``AUTHOR_META`` that names someone. A tag that holds only a link gives way to the next of
    its key (``article:author`` is often a profile's URL, then the byline), and scholarly keys
    count every tag (one ``citation_author`` per author, surname first)."""
    for key in AUTHOR_META:
        names: list[str] = []
        for value in values.get(key, ()):
            if key in SURNAME_FIRST_META and (inverted := _SURNAME_FIRST.fullmatch(value)):
                value = f"{inverted[2]} {inverted[1]}"
            names.extend(split_authors(value))
            if names and key not in SURNAME_FIRST_META:
                break
        if names:
            return names
    return []


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
        if _is_home_link(node):
            continue
        text = _text(node.text(deep=True)) or _split_heading(node)
        if text:
            return text
    return None


def _is_home_link(h1: LexborNode) -> bool:
    """An ``<h1>`` whose text is all one link to the site's front page: the logo or the site's
    name in the header ("<h1><a href="/">Daily Planet</a></h1>"), not the headline. Taken for
    it, it cut "Daily Planet | Harbour plan approved" down to "Daily Planet"."""
    links = h1.css("a[href]")
    if len(links) != 1:
        return False
    try:
        path = urlsplit(links[0].attributes.get("href") or "").path
    except ValueError:  # "http://[::1": no link to anywhere
        return False
    return (path in ("", "/", "/index.html", "/index.php")
            and _text(links[0].text(deep=True)) == _text(h1.text(deep=True)))


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
    in_svg = AncestorTest("svg")  # thousands of icon titles: each walk remembered
    for node in page.css("title"):
        if not in_svg(node):
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

        with _whole_dates_only():
            found = find_date(tree, extensive_search=False, original_date=True, url=url,
                              # naive, day-granular: htmldate compares naive datetimes, and
                              # caches its checks per bound
                              max_date=datetime(last.year, last.month, last.day, 23, 59, 59))
    except Exception:  # htmldate is a heuristic helper: never fail the page for it
        return None
    return normalise_date(found)


# Two defaults that differ in every field a date has: a value that parses differently under
# them lacks one of those fields.
_DEFAULTS = (datetime(2000, 1, 1), datetime(2001, 2, 2))


@contextlib.contextmanager
def _whole_dates_only() -> Iterator[None]:
    """htmldate reads some date strings with dateutil, which completes a missing part from
    the wall clock: ``<meta name=date content="2025-03">`` was dated 2025-03-02 on 2 Dec and
    2025-03-07 five days later, the only read of the clock in the core. While this block runs,
    a value dateutil would complete is no date to htmldate (its other readings still apply:
    a year and month alone is their first day, as htmldate means it). Swapped in for the
    call only: other users of htmldate in the process (trafilatura) are left as they are."""
    from htmldate import extractors

    parse: Callable[..., datetime] | None = extractors.__dict__.get("dateutil_parse")
    if parse is None:  # a later htmldate: nothing to swap (tests/unit say if it changed)
        yield
        return

    def complete(text: str, *args: Any, **kwargs: Any) -> datetime:
        first, second = (parse(text, *args, default=default, **kwargs) for default in _DEFAULTS)
        if first != second:
            raise ValueError(f"{text!r} lacks a year, month or day")
        return first

    extractors.__dict__["dateutil_parse"] = complete
    try:
        yield
    finally:
        extractors.__dict__["dateutil_parse"] = parse


def _absolute(href: str | None, base: str | None) -> str | None:
    href = _text(href)
    if not href:
        return None
    try:  # a template's placeholder ("https://[SITE_URL]/x") or port 99999: no link at all
        absolute = urljoin(base or "", href)
        parts = urlsplit(absolute)
        _ = parts.port
    except ValueError:
        return None
    if not absolute.startswith(("http://", "https://")) or not parts.hostname:
        return None  # "http://" alone: no host
    return absolute


# A template's placeholder left in a link ("{{canonical_url}}", "%7B%7Burl%7D%7D", "[URL]").
_PLACEHOLDER = re.compile(r"\{\{|\}\}|%7B%7B|%7D%7D|\$\{|\[[A-Z_]+\]", re.IGNORECASE)


def _canonical(href: str | None, url: str | None) -> str | None:
    """A canonical link that can name this article: none with a template's placeholder in it,
    nor the site's front page for a page that is not it (a template's default). Either would
    make different articles one, deduplicated by canonical URL, and all but the first lost."""
    absolute = _absolute(href, url)
    if absolute is None or _PLACEHOLDER.search(absolute):
        return None
    try:
        front_page = urlsplit(absolute).path in ("", "/")
        page_path = urlsplit(url or "").path
    except ValueError:  # a page address no parser reads: nothing to compare with
        return absolute
    return None if front_page and page_path not in ("", "/") else absolute


def _attr_values(page: LexborHTMLParser, selector: str, name: str) -> list[str]:
    return [value for node in page.css(selector) if (value := _attr(node, name)) is not None]


def read_metadata(page: LexborHTMLParser, url: str | None = None,
                  today: date | None = None) -> PageMetadata:
    """The page's metadata; ``published_at`` is None when only ``date_from_markup`` is left.
    ``today`` (the caller's clock, UTC): a date after the day after it is a template's
    placeholder or a typo, and the next candidate is read instead."""
    metas = meta_values(page)
    meta = {key: values[0] for key, values in metas.items()}
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
    authors = _person_names(ld.get("author"))
    if not authors:
        authors = _meta_authors(metas)
    if not authors:
        authors = [name for a in page.css("a[rel]") if _attr(a, "rel") == "author"
                   for name in split_authors(_text(a.text(deep=True)), one_credit=True)][:5]
    candidates = [ld.get("datePublished"), *(meta.get(key) for key in DATE_META),
                  *_attr_values(page, "time[datetime]", "datetime")[:3], date_from_url(url)]
    published = next((d for d in map(normalise_date, candidates)
                      if d and not _after_tomorrow(d, today)), None)
    canonical = next((absolute for link in page.css("link[rel]")
                      if _attr(link, "rel") == "canonical"
                      and (absolute := _canonical(_attr(link, "href"), url))), None)
    canonical = canonical or _canonical(meta.get("og:url"), url)
    root = page.root
    declared = ((_attr(root, "lang") if root is not None and root.tag == "html" else None)
                or meta.get("content-language") or meta.get("og:locale"))
    lang = LANG_CODE.match(declared.strip()) if declared else None
    return PageMetadata(
        title=title or None,
        headline=headline,
        authors=_dedupe(authors),
        published_at=published or None,
        canonical_url=canonical,
        site_name=site_name or None,
        language=iso_639_1(lang.group(0)) if lang else None,
    )


def _after_tomorrow(published_at: str, today: date | None) -> bool:
    """Whether a date lies after the day after ``today``: one day of slack for time zones
    ahead of UTC and pages published at midnight."""
    moment = parse_datetime(published_at)
    return (today is not None and moment is not None
            and moment.date() > today + timedelta(days=1))

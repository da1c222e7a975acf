"""Entry links of a listing, and article-link discovery on an HTML section page (kind
``html``)."""

from __future__ import annotations

import logging
import re
from urllib.parse import urldefrag, urlsplit

import lxml.html

from newsflow.core.urls import web_url
from newsflow.fetcher.raw import FeedEntry

log = logging.getLogger(__name__)
# A link with a scheme other than http(s) (an Atom "tag:" id, "mailto:") is no article and is
# passed over quietly; an http(s) or relative one that no request can be made to is the
# publisher's mistake and is told.
_OTHER_SCHEME = re.compile(r"^\s*(?![hH][tT][tT][pP][sS]?:)[A-Za-z][A-Za-z0-9+.-]*:")


class ListingLinks:
    """Entry links of one listing made absolute. A link no request can be made to (a broken
    IPv6 host, a port out of range) costs its own entry, not the listing: it is skipped, and
    ``report`` tells them once per listing read."""

    def __init__(self, listing_url: str) -> None:
        self.listing_url = listing_url
        self.skipped: list[str] = []

    def url(self, link: str) -> str | None:
        url = web_url(link, self.listing_url)
        if url is None and not _OTHER_SCHEME.match(link):
            self.skipped.append(link)
        return url

    def report(self) -> None:
        if self.skipped:
            log.warning("%s: %d entr%s skipped, no request can be made to %s: %s",
                        self.listing_url, len(self.skipped),
                        "y" if len(self.skipped) == 1 else "ies",
                        "its link" if len(self.skipped) == 1 else "their links",
                        ", ".join(repr(link[:200]) for link in self.skipped[:3]))

# Without a link_pattern, an article link is on the page's own site and has a path that looks
# like an article: at least two segments or a slug with several hyphenated words, and no
# obvious non-article section (tags, authors, login, feeds).
_NOT_ARTICLE = re.compile(r"/(tag|tags|topic|topics|author|authors|category|search|login|"
                          r"signup|subscribe|account|about|contact|privacy|terms|feed|rss)(/|$)",
                          re.I)
# Matched only from the start of a run of letters and digits, and without giving back what a
# run took: ``[a-z0-9]+(-[a-z0-9]+){3,}`` searched again from each letter of a long segment
# with no hyphen (40 KB: 28 s). It finds a slug exactly when that pattern does.
_SLUG = re.compile(r"(?<![a-z0-9])[a-z0-9]++(?:-[a-z0-9]++){3,}", re.I)


def looks_like_article(url: str, page_url: str) -> bool:
    parts, page = urlsplit(url), urlsplit(page_url)
    if parts.scheme not in ("http", "https") or parts.hostname != page.hostname:
        return False
    path = parts.path.rstrip("/")
    if not path or path == page.path.rstrip("/") or _NOT_ARTICLE.search(path):
        return False
    if re.search(r"\.(jpe?g|png|gif|svg|webp|pdf|css|js|xml|zip|mp[34])$", path, re.I):
        return False
    segments = [s for s in path.split("/") if s]
    return bool(_SLUG.search(segments[-1])) or (len(segments) >= 2 and any(
        c.isdigit() for c in path))


_XML_DECLARATION = re.compile(r"\A\s*<\?xml\b[^>]*>")


def discover_links(html: str, page_url: str, pattern: str | None = None) -> list[FeedEntry]:
    """Article links in page order, each once, with the anchor text as a provisional title."""
    # An XHTML page's XML declaration: lxml refuses a string that names its encoding, and
    # the page read as having no links, "ok" at every poll.
    html = _XML_DECLARATION.sub("", html, count=1)
    if not html.strip():
        return []
    try:
        # libxml2's default stops at 256 levels of nesting and drops what lies deeper: the
        # links of a listing built of unclosed <div>s were lost from there on. A parser per
        # call: pages are read in threads, and an lxml parser must not be shared between them.
        tree = lxml.html.fromstring(html, parser=lxml.html.HTMLParser(huge_tree=True))
    except (ValueError, lxml.etree.ParserError):
        return []
    for unread in list(tree.iter("script", "style", "template")):  # no text of a title
        unread.drop_tree()
    # A relative <base href> ("/section/") is relative to the page, as browsers read it; one no
    # request can be made to is ignored.
    base = web_url(str(tree.xpath("string(//base/@href)")), page_url) or page_url
    regex = re.compile(pattern) if pattern else None
    seen: set[str] = set()
    entries = []
    for anchor in tree.iter("a"):
        href = anchor.get("href")
        if not href:
            continue
        absolute = web_url(href, base)
        if absolute is None:  # mailto:, javascript:, or an address no request can be made to
            continue
        url = urldefrag(absolute)[0]
        if url in seen:
            continue
        ok = (regex.search(url) is not None and url.startswith(("http://", "https://"))
              if regex else looks_like_article(url, page_url))
        if not ok:
            continue
        seen.add(url)
        title = " ".join(anchor.text_content().split()) or None
        entries.append(FeedEntry(url=url, title=title, guid=url))
    return entries

"""Article-link discovery on an HTML section page (kind ``html``)."""

from __future__ import annotations

import re
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.html

from newsflow.fetcher.raw import FeedEntry

# Without a link_pattern, an article link is on the page's own site and has a path that looks
# like an article: at least two segments or a slug with several hyphenated words, and no
# obvious non-article section (tags, authors, login, feeds).
_NOT_ARTICLE = re.compile(r"/(tag|tags|topic|topics|author|authors|category|search|login|"
                          r"signup|subscribe|account|about|contact|privacy|terms|feed|rss)(/|$)",
                          re.I)
_SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+){3,}", re.I)


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


def discover_links(html: str, page_url: str, pattern: str | None = None) -> list[FeedEntry]:
    """Article links in page order, each once, with the anchor text as a provisional title."""
    if not html.strip():
        return []
    try:
        tree = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return []
    base = tree.xpath("string(//base/@href)") or page_url
    regex = re.compile(pattern) if pattern else None
    seen: set[str] = set()
    entries = []
    for anchor in tree.iter("a"):
        href = anchor.get("href")
        if not href:
            continue
        url = urldefrag(urljoin(str(base), href.strip()))[0]
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

"""What the fetcher makes of odd inputs from the wild: charset labels, undeclared code pages,
BOMs, epoch dates, sitemap indexes without dates, directory files being written, bad lines of
a .jsonl file, a YAML typo in the sources file. Small inputs written here, pure functions."""

from __future__ import annotations

import asyncio

import pytest

from newsflow.fetcher.content import decode, detect_charset
from newsflow.fetcher.decoding import decode_file_bytes
from newsflow.fetcher.http import Response
from newsflow.fetcher.sitemap_walk import SitemapWalk
from newsflow.fetcher.sitemaps import parse_sitemap
from newsflow.fetcher.state import StateChange

pytestmark = pytest.mark.clock  # the fetcher's modules read the clock (none of these tests do)

UNUSABLE_LABELS = ["zip", "hex", "base64", "uu", "rot13", "bz2", "idna", "undefined", "utf-7",
                   "unicode-1-1-utf-7", "punycode", "unicode_escape", "no-such-charset"]


@pytest.mark.parametrize("label", UNUSABLE_LABELS)
def test_an_unusable_charset_label_counts_as_none(label: str) -> None:
    """`charset=zip` once made the whole poll fail with LookupError; the label is ignored and
    the page decoded as if nothing were declared."""
    page = "<html><p>Grüße aus Köln — “quoted”</p></html>".encode()
    charset = detect_charset(page, f"text/html; charset={label}")
    assert charset == detect_charset(page, "text/html") == "utf-8"
    assert "Grüße aus Köln" in decode(page, charset)
    meta = f'<html><head><meta charset="{label}"></head><p>Grüße</p></html>'.encode()
    assert detect_charset(meta, "text/html") == "utf-8"
    decoded = decode_file_bytes(meta, html=True)
    assert "Grüße" in decoded.text and decoded.how == "utf-8"


SITEMAP_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://news.example.com/archive-2023-01.xml</loc><lastmod>2023-01-31</lastmod></sitemap>
<sitemap><loc>https://news.example.com/archive-2023-03.xml</loc><lastmod>2023-03-31</lastmod></sitemap>
<sitemap><loc>https://news.example.com/news-sitemap.xml</loc></sitemap>
<sitemap><loc>https://news.example.com/archive-2023-02.xml</loc><lastmod>2023-02-28</lastmod></sitemap>
</sitemapindex>"""


def test_sitemap_children_without_lastmod_come_first() -> None:
    """The constantly regenerated news child usually has no <lastmod>: read before archives."""
    assert parse_sitemap(SITEMAP_INDEX, "https://news.example.com/").children == [
        "https://news.example.com/news-sitemap.xml",
        "https://news.example.com/archive-2023-03.xml",
        "https://news.example.com/archive-2023-02.xml",
        "https://news.example.com/archive-2023-01.xml"]


def test_a_sitemap_budget_still_reads_the_undated_news_child() -> None:
    asked: list[str] = []

    async def fetch(url: str) -> tuple[Response | None, list[StateChange]]:
        asked.append(url)
        urlset = (b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>'
                  + url.encode() + b"#a</loc></url></urlset>")
        return _response(url, urlset), []

    walk = SitemapWalk(fetch, 1 << 20, max_depth=3, budget=2)
    asyncio.run(walk.run(_response("https://news.example.com/index.xml", SITEMAP_INDEX), []))
    assert asked == ["https://news.example.com/news-sitemap.xml",
                     "https://news.example.com/archive-2023-03.xml"]
    assert walk.over_budget == 2


def _response(url: str, content: bytes, content_type: str = "application/xml") -> Response:
    return Response(url, 200, content, content_type.split(";")[0], "utf-8", None, None,
                    content_type_header=content_type)

"""The fetcher on real-world listing shapes, through a local HTTP server and the real broker:
nested sitemap indexes, a failing child, multi-member gzip, ill-formed sitemaps, quiet feeds,
listings larger than max_items, and per-source health from the first poll."""

from __future__ import annotations

import gzip
import logging
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from newsflow.broker import EmbeddedBroker
from newsflow.config import Settings
from newsflow.errors import RobotsDenied
from newsflow.fetcher.http import HttpFetcher
from newsflow.fetcher.publisher import Publisher
from newsflow.fetcher.service import Fetcher
from newsflow.fetcher.sources import SourceConfig
from tests.helpers import Route, TopicReader, fetcher_test_settings
from tests.integration.fetcher_servers import ScriptedServer, fixture, page, sequence, source

pytestmark = pytest.mark.integration


@pytest.fixture
def fetch_settings(broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    return fetcher_test_settings(broker.bootstrap, tmp_path, fetch_retries=1)


@pytest.fixture
def raw(fetch_settings: Settings) -> Iterator[TopicReader]:
    reader = TopicReader(fetch_settings, ["raw"])  # every message checked against the schema
    yield reader
    reader.close()


def metric(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def polls(src: SourceConfig, outcome: str) -> float:
    return metric("newsflow_fetcher_fetches_total", source=src.id, kind=src.kind,
                  outcome=outcome) or 0.0


def fetcher_for(settings: Settings, sources: list[SourceConfig]) -> Fetcher:
    return Fetcher(settings, sources, Publisher(settings), HttpFetcher(settings))


async def run_once(settings: Settings, sources: list[SourceConfig]) -> tuple[int, int]:
    """A fresh fetcher (as after a restart) polls every source once and closes."""
    fetcher = fetcher_for(settings, sources)
    try:
        return (await fetcher.run_once()).counts()
    finally:
        await fetcher.aclose()


def serve_pages(server: ScriptedServer, paths: list[str]) -> None:
    for path in paths:
        server.routes[path] = page(path.strip("/").replace("/", " "))


BOTTOM = ["/2026/11/20/port-cranes-resume-work/", "/2026/11/19/harbour-dredging-contract/",
          "/2026/11/18/ferry-timetable-changes/"]


async def test_an_index_of_indexes_is_followed_to_its_urls_within_the_depth(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = server.base_url
    server.routes["/sitemap_index.xml"] = Route(200, fixture("sitemap_index_by_year.xml", base))
    server.routes["/sitemaps/2026/index.xml"] = Route(200, fixture("sitemap_index_2026.xml", base))
    server.routes["/sitemaps/2026/11.xml"] = Route(200, fixture("sitemap_2026_11.xml", base))
    serve_pages(server, BOTTOM)
    shallow = source("sitemap", server.url("/sitemap_index.xml"), max_sitemap_depth=1)
    with caplog.at_level(logging.WARNING):
        assert await run_once(fetch_settings, [shallow]) == (0, 0)
    assert "/sitemaps/2026/11.xml" not in server.paths()
    assert any("nested deeper than max_sitemap_depth=1" in r.getMessage()
               for r in caplog.records)

    deep = source("sitemap", server.url("/sitemap_index.xml"))
    assert await run_once(fetch_settings, [deep]) == (3, 0)
    assert polls(deep, "ok") == 1
    records = raw.wait_count("raw", 3, timeout=30)
    assert sorted(r["url"].removeprefix(base) for r in records) == sorted(BOTTOM)


async def test_child_sitemaps_beyond_the_budget_are_not_requested(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = server.base_url
    months = ["2026-11", "2026-10", "2026-09"]  # newest first; the index lists them shuffled
    server.routes["/index.xml"] = Route(200, (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(f"<sitemap><loc>{base}/{m}.xml</loc><lastmod>{m}-28</lastmod></sitemap>"
                  for m in (months[1], months[0], months[2]))
        + "</sitemapindex>").encode())
    for month in months:
        server.routes[f"/{month}.xml"] = Route(200, f"""<?xml version="1.0"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{base}/{month}/story</loc>
<lastmod>{month}-28</lastmod></url></urlset>""".encode())
    src = source("sitemap", server.url("/index.xml"), fetch_pages=False, max_sitemaps=2)
    with caplog.at_level(logging.INFO):
        assert await run_once(fetch_settings, [src]) == (2, 0)
    assert "/2026-09.xml" not in server.paths()
    assert any("1 child sitemaps not read (max_sitemaps=2; undated ones and the newest are "
               "read first)" in r.getMessage() for r in caplog.records)
    records = raw.wait_count("raw", 2, timeout=30)
    assert sorted(r["url"].removeprefix(base) for r in records) == [
        "/2026-10/story", "/2026-11/story"]


async def test_a_failing_child_sitemap_is_reported_and_its_siblings_still_published(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
) -> None:
    base = server.base_url
    server.routes["/sitemap_index.xml"] = Route(200, fixture("sitemap_index_one_dead.xml", base),
                                                {"ETag": '"index-1"'})
    server.routes["/sitemap-news.xml"] = Route(200, f"""<?xml version="1.0"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>{base}/news/1</loc><lastmod>2026-11-20</lastmod></url>
<url><loc>{base}/news/2</loc><lastmod>2026-11-19</lastmod></url></urlset>""".encode(),
        {"ETag": '"news-1"'})
    # .xml.gz written by `cat part1.gz part2.gz`: two gzip members, both must be read.
    half = [f"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>{base}/pages/about</loc></url>\n""".encode(),
            f"<url><loc>{base}/pages/contact</loc></url>\n</urlset>\n".encode()]
    server.routes["/sitemap-pages.xml.gz"] = Route(
        200, gzip.compress(half[0]) + gzip.compress(half[1]), {"Content-Type": "application/gzip"})
    serve_pages(server, ["/news/1", "/news/2", "/pages/about", "/pages/contact"])
    src = source("sitemap", server.url("/sitemap_index.xml"))
    assert await run_once(fetch_settings, [src]) == (4, 1)
    assert (polls(src, "partial"), polls(src, "http_4xx")) == (1, 0)
    assert metric("newsflow_fetcher_source_consecutive_failures", source=src.id) == 0
    assert (metric("newsflow_fetcher_source_last_success_timestamp_seconds", source=src.id)
            or 0) > time.time() - 60
    records = raw.wait_count("raw", 4, timeout=30)
    assert sorted(r["url"].removeprefix(base) for r in records) == [
        "/news/1", "/news/2", "/pages/about", "/pages/contact"]

    # After a restart: the good child is asked conditionally, the index is not (a 304 on it
    # would hide the child that failed).
    assert await run_once(fetch_settings, [src]) == (0, 1)
    assert "If-None-Match" not in server.hits_for("/sitemap_index.xml")[-1].headers
    assert server.hits_for("/sitemap-news.xml")[-1].headers.get("If-None-Match") == '"news-1"'


async def test_ill_formed_sitemaps_are_read_and_stray_sitemap_elements_are_not_articles(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = server.base_url
    server.routes["/raw.xml"] = Route(200, fixture("sitemap_raw_ampersand.xml", base))
    server.routes["/news.xml"] = Route(200, fixture("sitemap_stray_sitemap.xml", base))
    sources = [source("sitemap", server.url("/raw.xml"), fetch_pages=False),
               source("sitemap", server.url("/news.xml"), fetch_pages=False)]
    with caplog.at_level(logging.WARNING):
        assert await run_once(fetch_settings, sources) == (4, 0)
    assert [polls(s, "ok") for s in sources] == [1, 1]
    assert any("/raw.xml is not well-formed XML" in r.getMessage() for r in caplog.records)
    records = raw.wait_count("raw", 4, timeout=30)
    assert sorted(r["url"].removeprefix(base) for r in records) == sorted([
        "/index.php?option=com_content&view=article&id=812", "/search.php?q=ships&page=2",
        "/rates?min<5", "/world/fleet-sails"])
    assert "/sitemap-archive.xml" not in server.paths()


async def test_quiet_feeds_are_ok_with_nothing_new(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
) -> None:
    base = server.base_url
    server.routes["/corrections/feed/"] = Route(200, fixture("feed_empty.rss", base), {
        "Content-Type": "application/rss+xml; charset=UTF-8"})
    server.routes["/notices.atom"] = Route(200, fixture("feed_no_links.atom", base), {
        "Content-Type": "application/atom+xml"})
    sources = [source("rss", server.url("/corrections/feed/")),
               source("atom", server.url("/notices.atom"))]
    assert await run_once(fetch_settings, sources) == (0, 0)
    for src in sources:
        assert (polls(src, "ok"), polls(src, "malformed")) == (1, 0)
        assert metric("newsflow_fetcher_source_consecutive_failures", source=src.id) == 0
    assert server.paths().count("/corrections/feed/") == 1  # and no page was asked for
    assert len(server.paths()) == 3  # the two feeds and robots.txt


def big_feed(base: str, count: int, newest: datetime) -> tuple[bytes, list[str]]:
    """An RSS feed of ``count`` full-content items in shuffled order, each an hour older than
    the one before; also returns the item paths newest first."""
    body = "<p>" + "Harbour cranes and tides were discussed at length. " * 12 + "</p>"
    paths = [f"/items/{n}" for n in range(count)]
    items = [
        f"<item><title>Item {n}</title><link>{base}{paths[n]}</link>"
        f"<pubDate>{format_datetime(newest - timedelta(hours=n), usegmt=True)}</pubDate>"
        f"<content:encoded><![CDATA[{body}]]></content:encoded></item>" for n in range(count)]
    random.Random(16).shuffle(items)
    feed = (f'<?xml version="1.0"?><rss version="2.0" '
            f'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Big'
            f"</title><link>{base}/</link><description>d</description>{''.join(items)}"
            f"</channel></rss>")
    return feed.encode(), paths


async def test_items_beyond_max_items_are_reached_on_later_polls_newest_first(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = server.base_url
    document, newest_first = big_feed(base, 1000, datetime(2026, 11, 20, 12, tzinfo=UTC))
    server.routes["/big.xml"] = Route(200, document, {"Content-Type": "application/rss+xml",
                                                      "ETag": '"big-1"'})
    src = source("rss", server.url("/big.xml"), max_items=200)
    fetcher = fetcher_for(fetch_settings, [src])
    deferred = []
    try:
        with caplog.at_level(logging.INFO):
            for _ in range(5):
                assert (await fetcher.run_once()).counts() == (200, 0)
                deferred.append(metric("newsflow_fetcher_source_deferred_items",
                                       source=src.id))
            assert (await fetcher.run_once()).counts() == (0, 0)
    finally:
        await fetcher.aclose()
    assert deferred == [800, 600, 400, 200, 0]
    assert any(f"source {src.id}: 800 new entries beyond max_items=200 deferred" in
               r.getMessage() for r in caplog.records)
    # While entries were left, every poll re-read the whole feed; then conditional GET resumed.
    hits = server.hits_for("/big.xml")
    assert ["If-None-Match" in h.headers for h in hits] == [False] * 5 + [True]
    records = raw.wait_count("raw", 1000, timeout=60)
    order = [r["url"].removeprefix(base) for r in records]
    assert sorted(order) == sorted(newest_first)
    assert set(order[:200]) == set(newest_first[:200])  # the first poll took the newest


async def test_every_source_has_health_series_from_the_first_poll(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
) -> None:
    base = server.base_url
    server.routes["/feed"] = sequence(
        Route(404, b"not found"), Route(200, b"<html><body>maintenance</body></html>"),
        Route(200, f"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>Fine</title><link>{base}/fine</link></item>
<item><title>Broken</title><link>{base}/broken</link></item></channel></rss>""".encode()))
    server.routes["/fine"] = page("Fine")
    server.routes["/broken"] = Route(500, b"oops")  # one dead article link: a partial poll
    src = source("rss", server.url("/feed"))
    fetcher = fetcher_for(fetch_settings, [src])
    try:
        await fetcher.start()
        assert metric("newsflow_fetcher_source_consecutive_failures", source=src.id) == 0
        assert metric("newsflow_fetcher_source_last_attempt_timestamp_seconds",
                      source=src.id) is None
        for failures in (1, 2):
            started = time.time()
            await fetcher.run_once()
            assert metric("newsflow_fetcher_source_consecutive_failures",
                          source=src.id) == failures
            assert (metric("newsflow_fetcher_source_last_attempt_timestamp_seconds",
                           source=src.id) or 0) >= started - 1
            assert metric("newsflow_fetcher_source_last_success_timestamp_seconds",
                          source=src.id) is None
        started = time.time()
        assert (await fetcher.run_once()).counts() == (1, 1)
    finally:
        await fetcher.aclose()
    assert polls(src, "partial") == 1
    assert metric("newsflow_fetcher_source_consecutive_failures", source=src.id) == 0
    assert (metric("newsflow_fetcher_source_last_success_timestamp_seconds", source=src.id)
            or 0) >= started - 1


def robots_log(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the fetcher said about robots.txt itself (not its retries)."""
    return [r for r in caplog.records if r.name == "newsflow.fetcher.http"
            and r.getMessage().startswith("robots.txt")]


async def test_a_huge_robots_txt_is_parsed_up_to_500_kib_with_wildcards(
    fetch_settings: Settings, server: ScriptedServer, caplog: pytest.LogCaptureFixture,
) -> None:
    rules = fixture("robots_wildcards.txt", server.base_url)
    filler = b"# " + b"x" * 98 + b"\n"
    late = b"User-agent: *\nDisallow: /late/\n"  # beyond the first 500 KiB: not read
    server.routes["/robots.txt"] = Route(200, rules + filler * 100_000 + late,
                                         {"Content-Type": "text/plain"})  # about 10 MB
    for path in ("/story", "/late/story", "/search?q=1", "/report.pdf"):
        server.routes[path] = Route(200, b"page")
    http = HttpFetcher(fetch_settings)
    try:
        with caplog.at_level(logging.INFO):
            assert (await http.get(server.url("/story"))).content == b"page"
            assert (await http.get(server.url("/late/story"))).content == b"page"
            for path in ("/search?q=1", "/report.pdf"):
                with pytest.raises(Exception, match=r"disallowed by robots\.txt"):
                    await http.get(server.url(path))
    finally:
        await http.aclose()
    assert [p for p in server.paths() if p != "/robots.txt"] == ["/story", "/late/story"]
    (warning,) = robots_log(caplog)
    assert warning.levelno == logging.WARNING
    assert "larger than 500 KiB: only its first 500 KiB are parsed" in warning.getMessage()


async def test_an_unreachable_robots_txt_is_a_warning_that_names_the_reason(
    fetch_settings: Settings, server: ScriptedServer, caplog: pytest.LogCaptureFixture,
) -> None:
    server.routes["/robots.txt"] = Route(503, b"maintenance")
    server.routes["/story"] = Route(200, b"page")
    http = HttpFetcher(fetch_settings)
    try:
        with caplog.at_level(logging.INFO), pytest.raises(Exception) as denied:
            await http.get(server.url("/story"))
    finally:
        await http.aclose()
    assert "robots.txt unreachable (HTTP 503)" in str(denied.value)
    # Why, as it was at the refusal: handled later, the cache may say otherwise by then.
    assert isinstance(denied.value, RobotsDenied) and denied.value.unreachable is True
    assert denied.value.expires is not None
    assert "/story" not in server.paths()
    assert [(r.levelno, "unreachable (HTTP 503)" in r.getMessage())
            for r in robots_log(caplog)] == [(logging.WARNING, True)]


async def test_entries_robots_txt_refuses_do_not_hold_the_max_items_places(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
) -> None:
    base = server.base_url
    server.routes["/robots.txt"] = Route(200, b"User-agent: *\nDisallow: /members/\n")
    items = "".join(
        f"<item><title>{slug}</title><link>{base}/{slug}</link><pubDate>"
        f"{format_datetime(datetime(2026, 11, 20, 12, tzinfo=UTC) - timedelta(hours=n), usegmt=True)}"
        f"</pubDate></item>"
        for n, slug in enumerate(["members/1", "members/2", "open/1", "open/2"]))
    server.routes["/feed"] = Route(200, f"""<?xml version="1.0"?><rss version="2.0"><channel>
<title>T</title>{items}</channel></rss>""".encode())
    serve_pages(server, ["/open/1", "/open/2", "/members/1", "/members/2"])
    src = source("rss", server.url("/feed"), max_items=2)
    fetcher = fetcher_for(fetch_settings, [src])
    try:
        assert (await fetcher.run_once()).counts() == (0, 0)  # the two newest are refused
        assert (await fetcher.run_once()).counts() == (2, 0)  # and do not block the older two
        assert (await fetcher.run_once()).counts() == (0, 0)
    finally:
        await fetcher.aclose()
    assert not [p for p in server.paths() if p.startswith("/members/")]
    records = raw.wait_count("raw", 2, timeout=30)
    assert sorted(r["url"].removeprefix(base) for r in records) == ["/open/1", "/open/2"]


async def test_a_multi_member_gzip_response_is_inflated_whole(
    fetch_settings: Settings, server: ScriptedServer,
) -> None:
    parts = [b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>',
             b"<item><title>One</title><link>https://news.example.com/1</link></item>",
             b"</channel></rss>"]
    server.routes["/robots.txt"] = Route(404, b"")
    server.routes["/feed"] = Route(200, b"".join(gzip.compress(p) for p in parts), {
        "Content-Type": "application/rss+xml", "Content-Encoding": "gzip"})
    http = HttpFetcher(fetch_settings)
    try:
        response = await http.get(server.url("/feed"))
    finally:
        await http.aclose()
    assert response.content == b"".join(parts)

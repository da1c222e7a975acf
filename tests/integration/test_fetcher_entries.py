"""Which entries one poll turns into raw articles, through a local HTTP server and the real
broker: feeds read without their pages (``fetch_pages: false``), and the per-poll bounds
(``max_items`` on entries and page requests, ``max_sitemaps`` on child sitemaps) — what is
published, what is left for later polls, and what the poll reports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from newsflow.broker import EmbeddedBroker
from newsflow.config import Settings
from newsflow.fetcher.http import HttpFetcher
from newsflow.fetcher.publisher import Publisher
from newsflow.fetcher.service import Fetcher, PollResult
from newsflow.fetcher.sources import SourceConfig
from tests.helpers import Route, TopicReader, fetcher_test_settings
from tests.integration.fetcher_servers import ScriptedServer, page, source

pytestmark = pytest.mark.integration

NEWEST = datetime(2026, 11, 20, 12, tzinfo=UTC)  # feed dates only order the entries
# Over 500 characters: full content, as opposed to a teaser.
FULL_TEXT = "<p>" + "Dredging of the outer harbour channel begins in spring. " * 12 + "</p>"


@pytest.fixture
def fetch_settings(broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    return fetcher_test_settings(broker.bootstrap, tmp_path, fetch_retries=1)


@pytest.fixture
def raw(fetch_settings: Settings) -> Iterator[TopicReader]:
    reader = TopicReader(fetch_settings, ["raw"])  # every message checked against the schema
    yield reader
    reader.close()


def feed(base: str, items: list[tuple[str, str | None]]) -> Route:
    """RSS items (path, full content or None), newest first, each an hour older than the last;
    every item has a short summary."""
    parts = "".join(
        f"<item><title>Title {path}</title><link>{base}{path}</link>"
        f"<pubDate>{format_datetime(NEWEST - timedelta(hours=n), usegmt=True)}</pubDate>"
        f"<description>Summary of {path}.</description>"
        + (f"<content:encoded><![CDATA[{content}]]></content:encoded>" if content else "")
        + "</item>" for n, (path, content) in enumerate(items))
    document = (f'<?xml version="1.0"?><rss version="2.0" '
                f'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T'
                f"</title><link>{base}/</link><description>d</description>{parts}</channel></rss>")
    return Route(200, document.encode(), {"Content-Type": "application/rss+xml"})


def deferred_metric(src: SourceConfig) -> float | None:
    return REGISTRY.get_sample_value("newsflow_fetcher_source_deferred_items", {"source": src.id})


async def poll_and_publish(fetcher: Fetcher, src: SourceConfig) -> PollResult:
    """One poll of ``src``, and every record it queued acknowledged by the broker."""
    await fetcher.start()
    result = await fetcher.poll(src)
    assert await fetcher.outbox.drain(30), "the broker acknowledged the poll's records"
    return result


async def test_without_fetch_pages_the_feed_entries_are_published_and_no_page_is_requested(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
) -> None:
    base = server.base_url
    server.routes["/robots.txt"] = Route(404, b"")
    server.routes["/feed"] = feed(base, [("/summary-only", None), ("/full", FULL_TEXT)])
    server.routes["/pages-feed"] = feed(base, [("/fetched", None)])
    for path in ("/summary-only", "/full", "/fetched"):  # served: a request would succeed
        server.routes[path] = page(f"Page {path}")
    entries_only = source("rss", server.url("/feed"), fetch_pages=False)
    with_pages = source("rss", server.url("/pages-feed"))  # the default, as a control
    fetcher = Fetcher(fetch_settings, [entries_only, with_pages], Publisher(fetch_settings),
                      HttpFetcher(fetch_settings))
    try:
        assert (await fetcher.run_once()).counts() == (3, 0)
    finally:
        await fetcher.aclose()
    assert sorted(set(server.paths())) == ["/feed", "/fetched", "/pages-feed", "/robots.txt"]
    records = {r["url"].removeprefix(base): r for r in raw.wait_count("raw", 3, timeout=30)}
    assert set(records) == {"/summary-only", "/full", "/fetched"}
    # The entry's own text: its full content when the feed carries it, else its summary.
    assert records["/summary-only"]["body"] == "Summary of /summary-only."
    assert records["/full"]["body"] == FULL_TEXT
    for path in ("/summary-only", "/full"):
        assert records[path]["http"] is None and records[path]["title"] == f"Title {path}"
        assert records[path]["feed"]["summary"] == f"Summary of {path}."
    assert "Page /fetched" in records["/fetched"]["body"]  # the control's page was read
    assert records["/fetched"]["http"]["status"] == 200


async def test_max_items_bounds_the_page_requests_of_a_poll_and_defers_the_oldest(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
) -> None:
    base = server.base_url
    server.routes["/robots.txt"] = Route(404, b"")
    newest_first = [f"/story-{n}" for n in range(5)]
    server.routes["/feed"] = feed(base, [(path, None) for path in newest_first])
    for path in newest_first:
        server.routes[path] = page(f"Page {path}")
    src = source("rss", server.url("/feed"), max_items=2)
    fetcher = Fetcher(fetch_settings, [src], Publisher(fetch_settings),
                      HttpFetcher(fetch_settings))
    reported: list[tuple[int, int, int]] = []
    requested: list[list[str]] = []
    try:
        for _ in range(4):
            before = len(server.paths())
            result = await poll_and_publish(fetcher, src)
            reported.append((result.queued, result.deferred, int(deferred_metric(src) or 0)))
            requested.append(sorted(p for p in server.paths()[before:] if p.startswith("/story-")))
    finally:
        await fetcher.aclose()
    # (published, deferred in the poll's result, deferred on /metrics) per poll
    assert reported == [(2, 3, 3), (2, 1, 1), (1, 0, 0), (0, 0, 0)]
    # Only the pages of the entries a poll takes are requested, newest first across polls.
    assert requested == [newest_first[:2], newest_first[2:4], newest_first[4:], []]
    records = raw.wait_count("raw", 5, timeout=30)
    assert sorted(r["url"].removeprefix(base) for r in records) == sorted(newest_first)


async def test_a_sitemap_poll_reads_max_sitemaps_children_and_publishes_max_items_of_them(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
) -> None:
    base = server.base_url
    server.routes["/robots.txt"] = Route(404, b"")
    days = ["2026-11-20", "2026-11-19", "2026-11-18"]  # children, newest lastmod first
    server.routes["/index.xml"] = Route(200, (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(f"<sitemap><loc>{base}/{day}.xml</loc><lastmod>{day}</lastmod></sitemap>"
                  for day in (days[2], days[0], days[1]))
        + "</sitemapindex>").encode())
    for day in days:  # two articles a day, at 06:00 and 18:00
        server.routes[f"/{day}.xml"] = Route(200, (
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<url><loc>{base}/{day}/{hour}</loc><lastmod>{day}T{hour}:00:00Z"
                      f"</lastmod></url>" for hour in ("06", "18"))
            + "</urlset>").encode())
        for hour in ("06", "18"):
            server.routes[f"/{day}/{hour}"] = page(f"Page {day} {hour}")
    src = source("sitemap", server.url("/index.xml"), max_sitemaps=2, max_items=3)
    fetcher = Fetcher(fetch_settings, [src], Publisher(fetch_settings),
                      HttpFetcher(fetch_settings))
    try:
        first = await poll_and_publish(fetcher, src)
        first_paths = server.paths()
        second = await poll_and_publish(fetcher, src)
    finally:
        await fetcher.aclose()
    # Poll 1: the two newest children (four articles); the newest three published, one deferred.
    assert (first.queued, first.deferred, first.outcome) == (3, 1, "ok")
    assert f"/{days[2]}.xml" not in server.paths(), "the child beyond max_sitemaps is never read"
    assert sorted(p for p in first_paths if p.startswith("/2026-11-") and "." not in p) == [
        f"/{days[1]}/18", f"/{days[0]}/06", f"/{days[0]}/18"]
    # Poll 2: the deferred article; nothing else is new.
    assert (second.queued, second.deferred, second.seen) == (1, 0, 3)
    assert deferred_metric(src) == 0
    records = raw.wait_count("raw", 4, timeout=30)
    assert sorted(r["url"].removeprefix(base) for r in records) == sorted(
        f"/{day}/{hour}" for day in days[:2] for hour in ("06", "18"))

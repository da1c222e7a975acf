"""The fetcher service in-process, publishing through the real broker: every source kind,
conditional GET across polls and restarts, remembered redirects, retired sources, malformed
feeds, independent scheduling."""

from __future__ import annotations

import asyncio
import base64
import gzip
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from newsflow.broker import EmbeddedBroker
from newsflow.config import Settings
from newsflow.fetcher.http import HttpFetcher
from newsflow.fetcher.publisher import Publisher
from newsflow.fetcher.service import Fetcher
from newsflow.fetcher.sources import SourceConfig, SourceKind
from newsflow.topics import read_back
from tests.helpers import Route, TopicReader, fetcher_test_settings, isolated_settings, wait_until_async
from tests.integration.fetcher_servers import ScriptedServer, page, rss, sequence

pytestmark = [pytest.mark.integration, pytest.mark.clock]


@pytest.fixture
def fetch_settings(broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    return fetcher_test_settings(broker.bootstrap, tmp_path)


@pytest.fixture
def raw(fetch_settings: Settings) -> Iterator[TopicReader]:
    reader = TopicReader(fetch_settings, ["raw"])  # every message checked against the schema
    yield reader
    reader.close()


def source(id: str, kind: SourceKind, url: str, **extra: Any) -> SourceConfig:
    return SourceConfig(id=id, name=id.title(), kind=kind, url=url, **extra)


async def run_once(settings: Settings, sources: list[SourceConfig],
                   reenable: tuple[str, ...] = ()) -> tuple[int, int]:
    """A fresh fetcher (as after a restart) polls every source once and closes."""
    fetcher = Fetcher(settings, sources, Publisher(settings), HttpFetcher(settings),
                      reenable=reenable)
    try:
        return (await fetcher.run_once()).counts()
    finally:
        await fetcher.aclose()



def sample(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_every_source_kind_publishes_raw_articles(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer, tmp_path: Path,
) -> None:
    base = server.base_url
    server.routes["/rss"] = Route(200, rss(base, [("r1", "RSS one")], full=True))
    server.routes["/atom"] = Route(200, f"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id>
<updated>2026-11-20T10:00:00Z</updated><entry><title>Atom one</title><link href="{base}/a1"/>
<id>urn:a1</id><updated>2026-11-20T10:00:00Z</updated></entry></feed>""".encode())
    server.routes["/rdf"] = Route(200, f"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="{base}/"><title>R</title><link>{base}/</link><description>d</description>
</channel><item rdf:about="{base}/d1"><title>RDF one</title><link>{base}/d1</link></item>
</rdf:RDF>""".encode())
    server.routes["/feed.json"] = Route(200, json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "J",
        "items": [{"id": "j1", "url": f"{base}/j1", "title": "JSON Feed one"}]}).encode(),
        {"Content-Type": "application/feed+json"})
    server.routes["/sitemap-index.xml"] = Route(200, f"""<?xml version="1.0"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>{base}/news.xml.gz</loc><lastmod>2026-11-20</lastmod></sitemap>
<sitemap><loc>{base}/plain.xml</loc><lastmod>2026-11-19</lastmod></sitemap>
</sitemapindex>""".encode())
    server.routes["/news.xml.gz"] = Route(200, gzip.compress(f"""<?xml version="1.0"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
 xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url><loc>{base}/s1</loc>
<news:news><news:publication_date>2026-11-20T06:00:00Z</news:publication_date>
<news:title>Sitemap one</news:title></news:news></url></urlset>""".encode()),
        {"Content-Type": "application/x-gzip"})
    server.routes["/plain.xml"] = Route(200, f"""<?xml version="1.0"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{base}/s2</loc>
<lastmod>2026-11-19T06:00:00Z</lastmod></url></urlset>""".encode())
    server.routes["/world/"] = Route(200, f"""<html><body><a href="/">Home</a>
<a href="/world/2026/11/20/fleet-sails-for-the-gulf">Fleet sails for the gulf</a>
<a href="{base}/about">About</a></body></html>""".encode(), {"Content-Type": "text/html"})
    server.routes["/api"] = Route(200, json.dumps({"data": {"items": [
        {"id": 7, "headline": "API one", "link": "/api-story-7", "text": "Full API text.",
         "when": "2026-11-20T05:00:00Z"}]}}).encode(), {"Content-Type": "application/json"})
    for slug, title in [("a1", "Atom one"), ("d1", "RDF one"), ("j1", "JSON Feed one"),
                        ("s1", "Sitemap one"), ("s2", "Sitemap two"),
                        ("world/2026/11/20/fleet-sails-for-the-gulf", "Fleet sails")]:
        server.routes[f"/{slug}"] = page(title)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "note.txt").write_text("Local note headline\nA paragraph about harbour cranes.\n")
    # An RFC 2822 date in a file: published normalised, not passed through as written.
    (inbox / "wire.json").write_text(json.dumps({
        "title": "Wire copy", "body": "Ferries sail again.",
        "published_at": "Fri, 20 Nov 2026 08:00:00 +0200"}))
    sources = [
        source("rss", "rss", server.url("/rss")),
        source("atom", "atom", server.url("/atom")),
        source("rdf", "rdf", server.url("/rdf")),
        source("jsonfeed", "jsonfeed", server.url("/feed.json")),
        source("sitemap", "sitemap", server.url("/sitemap-index.xml")),
        source("html", "html", server.url("/world/")),
        source("api", "json", server.url("/api"), items_path="data.items",
               fields={"url": "link", "title": "headline", "body": "text", "guid": "id",
                       "published_at": "when"}),
        SourceConfig(id="inbox", name="Inbox", kind="directory", path=inbox),
    ]
    published, errors = await run_once(fetch_settings, sources)
    assert (published, errors) == (10, 0)
    records = raw.wait_count("raw", 10, timeout=30)
    got = {(r["source"]["id"], r["source"]["kind"], r["url"].removeprefix(base)) for r in records}
    assert {(s, k, u) for s, k, u in got if s != "inbox"} == {
        ("rss", "rss", "/r1"), ("atom", "atom", "/a1"), ("rdf", "rdf", "/d1"),
        ("jsonfeed", "jsonfeed", "/j1"), ("sitemap", "sitemap", "/s1"),
        ("sitemap", "sitemap", "/s2"), ("html", "html", "/world/2026/11/20/fleet-sails-for-the-gulf"),
        ("api", "json", "/api-story-7")}
    by_url = {r["url"].removeprefix(base): r for r in records}
    assert "Harbour cranes" in by_url["/r1"]["body"]  # full-content feed: no page fetch
    assert "/r1" not in server.paths()
    assert by_url["/s1"]["title"] == "Sitemap one" and by_url["/s1"]["http"]["status"] == 200
    assert by_url["/api-story-7"]["body"] == "Full API text."
    assert by_url["/api-story-7"]["published_at"] == "2026-11-20T05:00:00Z"
    assert any(r["source"]["kind"] == "directory" and r["title"] == "Local note headline"
               for r in records)
    (wire,) = [r for r in records if r["title"] == "Wire copy"]
    assert wire["published_at"] == "2026-11-20T06:00:00Z"
    assert "/about" not in server.paths()


@pytest.mark.parametrize("validator", ["etag", "last-modified"])
async def test_conditional_get_round_trip_survives_a_restart(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer, validator: str,
) -> None:
    base = server.base_url
    body = rss(base, [("n1", "First"), ("n2", "Second")])
    header, request_header, value = (
        ("ETag", "If-None-Match", '"feed-v1"') if validator == "etag"
        else ("Last-Modified", "If-Modified-Since", "Fri, 20 Nov 2026 08:00:00 GMT"))

    def feed(handler: BaseHTTPRequestHandler) -> Route:
        if handler.headers.get(request_header) == value:
            return Route(304, b"")
        return Route(200, body, {header: value})

    server.routes["/feed"] = feed
    server.routes["/n1"], server.routes["/n2"] = page("First"), page("Second")
    sources = [source("wire", "rss", server.url("/feed"))]
    before = sample("newsflow_fetcher_not_modified_total", kind="rss")
    assert await run_once(fetch_settings, sources) == (2, 0)
    assert await run_once(fetch_settings, sources) == (0, 0)  # a restarted fetcher: 304
    hits = server.hits_for("/feed")
    assert request_header not in hits[0].headers
    assert hits[1].headers[request_header] == value  # validators came back from the state topic
    assert sample("newsflow_fetcher_not_modified_total", kind="rss") == before + 1
    assert server.paths().count("/n1") == 1
    assert len(raw.wait_count("raw", 2, timeout=30)) == 2


def state_records(settings: Settings) -> list[tuple[str, Any]]:
    """The state topic as the fetcher reads it back at start (read_back: sentinels, not end
    offsets)."""
    producer = KafkaProducer(bootstrap_servers=settings.require_bootstrap(), acks="all")
    try:
        return [(m.key.decode(), m.value) for m in read_back(
            settings, producer, settings.topic_fetcher_state, [0], 30.0)]
    finally:
        producer.close()


async def test_an_unchanged_etag_on_a_200_writes_nothing_to_the_state_topic(
    fetch_settings: Settings, server: ScriptedServer,
) -> None:
    server.routes["/feed"] = Route(200, rss(server.base_url, [("u1", "One")], full=True),
                                   {"ETag": '"same"'})  # ignores If-None-Match: 200 every time
    fetcher = Fetcher(fetch_settings, [source("wire", "rss", server.url("/feed"))],
                      Publisher(fetch_settings), HttpFetcher(fetch_settings))
    loop = asyncio.get_running_loop()

    async def poll_and_flush() -> list[tuple[str, Any]]:
        assert (await fetcher.run_once()).counts()[1] == 0
        # State writes go through the publish thread: flushed there, after them.
        await loop.run_in_executor(fetcher.outbox.executor, fetcher.publisher.flush)
        return state_records(fetch_settings)

    try:
        first = await poll_and_flush()
        second = await poll_and_flush()
    finally:
        await fetcher.aclose()
    assert [key for key, _ in first].count(f"http:{server.url('/feed')}") == 1
    assert server.hits_for("/feed")[1].headers["If-None-Match"] == '"same"'
    assert second == first  # the second 200 carried the same ETag: nothing rewritten


async def test_permanent_redirect_is_remembered(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
) -> None:
    base = server.base_url
    server.routes["/old-feed"] = Route(301, b"", {"Location": "/feed"})
    body = rss(base, [("m1", "Moved one")], full=True)

    def feed(handler: BaseHTTPRequestHandler) -> Route:
        if handler.headers.get("If-None-Match") == '"v1"':
            return Route(304, b"")
        return Route(200, body, {"ETag": '"v1"'})

    server.routes["/feed"] = feed
    sources = [source("wire", "rss", server.url("/old-feed"))]
    before = sample("newsflow_fetcher_not_modified_total", kind="rss")
    assert await run_once(fetch_settings, sources) == (1, 0)
    assert await run_once(fetch_settings, sources) == (0, 0)  # restarted: moved, and a 304
    assert server.paths().count("/old-feed") == 1
    assert server.paths().count("/feed") == 2
    # The validators the new address answered with are sent to it straight away (they were
    # stored under the old address, which the next poll no longer asks: one full read more).
    assert server.hits_for("/feed")[1].headers.get("If-None-Match") == '"v1"'
    assert sample("newsflow_fetcher_not_modified_total", kind="rss") == before + 1


async def test_410_retires_the_source_and_it_stays_retired(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = server.base_url
    server.routes["/gone"] = Route(410, b"")
    server.routes["/live"] = Route(200, rss(base, [("l1", "Live one")], full=True))
    sources = [source("dead", "rss", server.url("/gone")), source("live", "rss",
                                                                  server.url("/live"))]
    with caplog.at_level("WARNING"):
        assert await run_once(fetch_settings, sources) == (1, 1)
    assert any("source dead retired: HTTP 410 Gone" in r.getMessage() for r in caplog.records)
    assert sample("newsflow_fetcher_source_retired", source="dead") == 1
    assert await run_once(fetch_settings, sources) == (0, 0)  # restarted: dead is not polled
    assert server.paths().count("/gone") == 1 and server.paths().count("/live") == 2


async def test_a_retired_source_is_polled_again_when_reenabled_or_given_a_new_url(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = server.base_url
    server.routes["/gone"] = sequence(Route(410, b""), Route(410, b""),
                                      Route(200, rss(base, [("b1", "Back again")], full=True)))
    server.routes["/moved"] = Route(200, rss(base, [("m1", "Moved feed")], full=True))
    dead = source("dead", "rss", server.url("/gone"))
    assert await run_once(fetch_settings, [dead]) == (0, 1)  # 410: retired
    # Re-enabled by the operator: polled again (another 410 retires it again).
    with caplog.at_level("INFO"):
        assert await run_once(fetch_settings, [dead], reenable=("dead",)) == (0, 1)
    assert any("source dead polled again: re-enabled" in r.getMessage() for r in caplog.records)
    assert server.paths().count("/gone") == 2
    # The sources file now gives the feed's new address: the 410 was the old one's.
    moved = source("dead", "rss", server.url("/moved"))
    assert await run_once(fetch_settings, [moved]) == (1, 0)
    assert sample("newsflow_fetcher_source_retired", source="dead") == 0
    # And the retirement is gone from the state, not only skipped: the old URL polls again.
    assert await run_once(fetch_settings, [dead]) == (1, 0)
    assert server.paths().count("/gone") == 3
    titles = sorted(record["title"] for record in raw.wait_count("raw", 2, timeout=30))
    assert titles == ["Back again", "Moved feed"]


async def test_malformed_feed_is_reported_and_the_next_poll_still_happens(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
) -> None:
    base = server.base_url
    server.routes["/feed"] = sequence(
        Route(200, b"<rss><channel><item><title>broken"),
        Route(200, b"<html><body>maintenance page</body></html>"),
        Route(200, rss(base, [("ok1", "Recovered")], full=True)))
    before = sample("newsflow_fetcher_fetches_total", source="flaky", kind="rss",
                    outcome="malformed")
    fetcher = Fetcher(fetch_settings, [source("flaky", "rss", server.url("/feed"),
                                              poll_interval_seconds=0.2)],
                      Publisher(fetch_settings), HttpFetcher(fetch_settings))
    task = asyncio.create_task(fetcher.run_forever())
    try:
        await wait_until_async(lambda: fetcher.outbox.published == 1, 30, "the recovered feed")
    finally:
        task.cancel()
        await fetcher.aclose()
    assert sample("newsflow_fetcher_fetches_total", source="flaky", kind="rss",
                  outcome="malformed") == before + 2
    assert sample("newsflow_fetcher_source_last_success_timestamp_seconds",
                  source="flaky") > time.time() - 60
    (record,) = raw.wait_count("raw", 1, timeout=30)
    assert record["title"] == "Recovered"


async def test_unsafe_feed_is_refused_and_nothing_is_published(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
) -> None:
    server.routes["/feed"] = Route(200, b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY x SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>&c;</title><item><title>&x;</title>
<link>http://127.0.0.1/x</link><description>&c;</description></item></channel></rss>""")
    published, errors = await run_once(fetch_settings, [source("evil", "rss",
                                                               server.url("/feed"))])
    assert (published, errors) == (0, 1)
    assert sample("newsflow_fetcher_fetches_total", source="evil", kind="rss",
                  outcome="malformed") >= 1
    assert "/x" not in server.paths()


async def test_robots_denied_pages_are_skipped_and_counted(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
) -> None:
    base = server.base_url
    server.routes["/robots.txt"] = Route(200, b"User-agent: newsflow\nDisallow: /members/\n")
    server.routes["/feed"] = Route(200, rss(base, [("open1", "Open"), ("members/p1", "Paid")]))
    server.routes["/open1"] = page("Open")
    server.routes["/members/p1"] = page("Paid")
    before = sample("newsflow_fetcher_robots_denials_total", source="wire")
    assert await run_once(fetch_settings, [source("wire", "rss", server.url("/feed"))]) == (1, 0)
    assert "/members/p1" not in server.paths()
    assert sample("newsflow_fetcher_robots_denials_total", source="wire") == before + 1
    (record,) = raw.wait_count("raw", 1, timeout=30)
    assert record["title"] == "Open"


async def test_a_slow_source_does_not_delay_the_others(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
) -> None:
    base = server.base_url

    def stalled(_: BaseHTTPRequestHandler) -> Route:
        time.sleep(3)
        return Route(200, rss(base, [("slow1", "Slow one")], full=True))

    server.routes["/slow"] = stalled
    server.routes["/fast"] = Route(200, rss(base, [("fast1", "Fast one")], full=True))
    fetcher = Fetcher(fetch_settings, [
        source("slow", "rss", server.url("/slow"), poll_interval_seconds=60),
        source("fast", "rss", server.url("/fast"), poll_interval_seconds=0.2)],
        Publisher(fetch_settings), HttpFetcher(fetch_settings))
    task = asyncio.create_task(fetcher.run_forever())
    try:
        await wait_until_async(lambda: len(server.hits_for("/slow")) == 1, 20, "the slow request")
        await wait_until_async(lambda: fetcher.outbox.published == 2, 20, "both articles")
    finally:
        task.cancel()
        await fetcher.aclose()
    slow = server.hits_for("/slow")[0].at
    fast_during_slow = [h for h in server.hits_for("/fast") if slow < h.at < slow + 3]
    assert len(fast_during_slow) >= 5  # polled every ~0.2 s while the slow one hung for 3 s


async def test_directory_files_go_once_per_process_and_again_after_a_restart(
    fetch_settings: Settings, raw: TopicReader, tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.txt").write_text("Inbox headline\nA paragraph about harbour cranes.\n")
    source_id = f"inbox-{uuid.uuid4().hex[:8]}"  # metrics of its own in this process
    sources = [SourceConfig(id=source_id, name="Inbox", kind="directory", path=inbox)]
    fetcher = Fetcher(fetch_settings, sources, Publisher(fetch_settings),
                      HttpFetcher(fetch_settings))

    def files(outcome: str) -> float:
        return sample("newsflow_fetcher_directory_files_total", source=source_id,
                      outcome=outcome)

    try:
        assert (await fetcher.run_once()).counts() == (1, 0)
        assert (files("read"), files("unchanged")) == (1, 0)
        assert (await fetcher.run_once()).counts() == (0, 0)  # the same process: published...
        assert (files("read"), files("unchanged")) == (1, 1)  # ...and not read again
        (inbox / "b.txt").write_text("Second headline\nAnother paragraph.\n")
        assert (await fetcher.run_once()).counts() == (1, 0)  # only the new file
        with (inbox / "a.txt").open("a") as file:  # a changed file is read again
            file.write("A correction to the paragraph.\n")
        assert (await fetcher.run_once()).counts() == (1, 0)
        assert (files("read"), files("unchanged")) == (3, 3)  # a, b, a again; a, a, b
    finally:
        await fetcher.aclose()
    # A new process re-reads the folder on purpose (`fetch --once DIR` means "publish these").
    assert await run_once(fetch_settings, sources) == (2, 0)
    assert len(raw.wait_count("raw", 5, timeout=30)) == 5


async def test_a_raw_record_its_schema_refuses_goes_to_the_dead_letter_topic_not_the_stream(
    fetch_settings: Settings, raw: TopicReader, tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.json").write_text(json.dumps({"body": "Harbour cranes arrived on Monday.",
                                              "title": "Cranes"}))
    (inbox / "b.json").write_text(json.dumps({"body": "Ferries resumed after the storm.",
                                              "title": ["not", "a", "string"]}))
    letters = TopicReader(fetch_settings, ["deadletter"])
    before = sample("newsflow_fetcher_articles_invalid_total", source="inbox")
    fetcher = Fetcher(fetch_settings, [SourceConfig(id="inbox", name="Inbox", kind="directory",
                                                    path=inbox)],
                      Publisher(fetch_settings), HttpFetcher(fetch_settings))
    try:
        summary = await fetcher.run_once()
        assert (summary.published, len(summary.rejected)) == (1, 1)
        assert not summary.ok and "title" in summary.rejected[0]
        assert (await fetcher.run_once()).counts() == (0, 0)  # not dead-lettered again
        (letter,) = letters.wait_count("deadletter", 1, timeout=30)
    finally:
        await fetcher.aclose()
        letters.close()
    assert sample("newsflow_fetcher_articles_invalid_total", source="inbox") == before + 1
    assert (letter["stage"], letter["error"]["type"]) == ("validate", "RecordInvalid")
    assert letter["source"] == {"topic": fetch_settings.topic_raw, "partition": None,
                                "offset": None}
    original = json.loads(base64.b64decode(letter["original"]["value_b64"]))
    assert original["title"] == ["not", "a", "string"]  # nothing lost: the record as built
    assert base64.b64decode(letter["original"]["key_b64"]).decode() == original["id"]
    (published,) = raw.wait_count("raw", 1, timeout=30)
    assert published["title"] == "Cranes"


async def test_poll_intervals_are_jittered_around_the_configured_interval(
    broker: EmbeddedBroker, tmp_path: Path, server: ScriptedServer,
) -> None:
    settings = isolated_settings(
        broker.bootstrap, tmp_path, topic_fetcher_state=f"state-{uuid.uuid4().hex[:8]}",
        fetch_host_min_delay_seconds=0.0, fetch_jitter_ratio=0.5)
    server.routes["/feed"] = Route(304, b"")  # nothing new, ever: only the schedule matters
    fetcher = Fetcher(settings, [source("wire", "rss", server.url("/feed"),
                                        poll_interval_seconds=0.4)],
                      Publisher(settings), HttpFetcher(settings))
    task = asyncio.create_task(fetcher.run_forever())
    try:
        await wait_until_async(lambda: len(server.hits_for("/feed")) >= 8, 30, "eight polls")
    finally:
        task.cancel()
        await fetcher.aclose()
    starts = [h.at for h in server.hits_for("/feed")][:8]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(0.15 <= gap <= 1.2 for gap in gaps), gaps  # 0.4 s ± 50 %, plus load noise
    assert max(gaps) - min(gaps) > 0.05, gaps  # not a fixed period


async def test_a_record_the_broker_can_never_take_is_dropped_not_retried_forever(
    broker: EmbeddedBroker, tmp_path: Path, raw: TopicReader, server: ScriptedServer,
) -> None:
    settings = isolated_settings(
        broker.bootstrap, tmp_path, topic_raw=raw.settings.topic_raw,
        topic_fetcher_state=f"state-{uuid.uuid4().hex[:8]}", fetch_host_min_delay_seconds=0.0,
        fetch_max_bytes=1_200_000)
    base = server.base_url
    server.routes["/feed"] = Route(200, rss(base, [("huge", "Huge"), ("fine", "Fine")]))
    # 1.1 MB of control characters: within the fetch cap, ~6.6 MB once JSON-escaped.
    server.routes["/huge"] = Route(200, b"\x01" * 1_100_000, {"Content-Type": "text/html"})
    server.routes["/fine"] = page("Fine")
    before = sample("newsflow_fetcher_articles_dropped_total", source="wire")
    started = time.monotonic()
    assert await run_once(settings, [source("wire", "rss", server.url("/feed"))]) == (1, 0)
    assert time.monotonic() - started < 15  # no backoff loop around the poison record
    assert sample("newsflow_fetcher_articles_dropped_total", source="wire") == before + 1
    (record,) = raw.wait_count("raw", 1, timeout=30)
    assert record["title"] == "Fine"

"""What one poll does when parts of it go wrong, through a local HTTP server and the real
broker: a page that crashes its parser, a robots.txt that cannot be read, a poll cut by its
timeout, guids shared by several links, article pages missing for a while, validators behind a
redirect, retired sources, directory sources beside web ones."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from newsflow.broker import EmbeddedBroker
from newsflow.config import Settings
from newsflow.fetcher import metrics
from newsflow.fetcher.http import HttpFetcher
from newsflow.fetcher.publisher import Publisher
from newsflow.fetcher.raw import FeedEntry
from newsflow.fetcher.service import Fetcher, PollResult
from newsflow.fetcher.sources import SourceConfig
from tests.helpers import Route, TopicReader, fetcher_test_settings, wait_until_async
from tests.integration.fetcher_servers import ScriptedServer, page, sequence, source

pytestmark = pytest.mark.integration

NEWEST = datetime(2026, 11, 20, 12, tzinfo=UTC)  # feed dates only order the entries


@pytest.fixture
def fetch_settings(broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    return fetcher_test_settings(broker.bootstrap, tmp_path, fetch_retries=0)


@pytest.fixture
def raw(fetch_settings: Settings) -> Iterator[TopicReader]:
    reader = TopicReader(fetch_settings, ["raw"])  # every message checked against the schema
    yield reader
    reader.close()


def feed(items: list[tuple[str, str | None]], headers: dict[str, str] | None = None) -> Route:
    """RSS items (link, guid or None), newest first, each an hour older than the last."""
    parts = "".join(
        f"<item><title>Title {link}</title><link>{link}</link>"
        + (f'<guid isPermaLink="false">{guid}</guid>' if guid else "")
        + f"<pubDate>{format_datetime(NEWEST - timedelta(hours=n), usegmt=True)}</pubDate>"
        "<description>Teaser.</description></item>" for n, (link, guid) in enumerate(items))
    document = ('<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
                f"<link>http://example.invalid/</link><description>d</description>{parts}"
                "</channel></rss>")
    return Route(200, document.encode(), {"Content-Type": "application/rss+xml"} | (headers or {}))


def fetcher_for(settings: Settings, sources: list[SourceConfig],
                cls: type[Fetcher] = Fetcher) -> Fetcher:
    return cls(settings, sources, Publisher(settings), HttpFetcher(settings))


async def poll_and_publish(fetcher: Fetcher, src: SourceConfig) -> PollResult:
    """One poll of ``src``, and every record it queued acknowledged by the broker."""
    await fetcher.start()
    result = await fetcher.poll(src)
    assert await fetcher.outbox.drain(30), "the broker acknowledged the poll's records"
    return result



def urls(raw: TopicReader, count: int, base: str) -> list[str]:
    return sorted(r["url"].removeprefix(base) for r in raw.wait_count("raw", count, timeout=30))


class CrashingFetcher(Fetcher):
    """A page whose handling hits a bug (as a charset label naming a non-text codec did)."""

    async def _entry_record(self, source: SourceConfig, entry: FeedEntry) -> dict[str, Any]:
        if entry.url.endswith("/bad"):
            raise LookupError("'zlib' is not a text encoding")
        return await super()._entry_record(source, entry)


async def test_a_page_that_crashes_is_a_failure_of_that_page_only(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = server.base_url
    # The bad page is the oldest: handled first, it used to abort the whole poll.
    server.routes["/feed"] = feed([(f"{base}/good2", None), (f"{base}/good1", None),
                                   (f"{base}/bad", None)])
    for path in ("/good1", "/good2", "/bad"):
        server.routes[path] = page(path)
    src = source("rss", server.url("/feed"))
    fetcher = fetcher_for(fetch_settings, [src], CrashingFetcher)
    try:
        result = await poll_and_publish(fetcher, src)
    finally:
        await fetcher.aclose()
    assert (result.outcome, result.queued, result.retry_later) == ("partial", 2, True)
    (error,) = result.errors
    assert error.startswith(f"{base}/bad: unexpected LookupError")
    assert any(r.levelname == "ERROR" and f"{base}/bad" in r.getMessage() for r in caplog.records)
    assert urls(raw, 2, base) == ["/good1", "/good2"]


async def test_an_unreachable_robots_txt_keeps_the_listing_to_be_read_again(
    broker: EmbeddedBroker, tmp_path: Path, raw: TopicReader, server: ScriptedServer,
) -> None:
    # Feeds on one host, articles on another (feeds.example vs www.example); the article
    # host's robots.txt answers 503 on the first poll, then allows everything.
    settings = fetcher_test_settings(broker.bootstrap, tmp_path, fetch_retries=0,
                                     fetch_robots_ttl_seconds=0.3,
                                     topic_raw=raw.settings.topic_raw)
    articles = ScriptedServer()
    try:
        articles.routes["/robots.txt"] = sequence(Route(503, b"busy"),
                                                  Route(200, b"User-agent: *\nAllow: /\n"))
        articles.routes["/story"] = page("Story")
        server.routes["/robots.txt"] = Route(200, b"User-agent: *\nDisallow: /members/\n")
        server.routes["/members/paid"] = page("Paid")

        def listing(handler: BaseHTTPRequestHandler) -> Route:
            if handler.headers.get("If-None-Match") == '"v1"':
                return Route(304, b"")
            return feed([(articles.url("/story"), None), (server.url("/members/paid"), None)],
                        {"ETag": '"v1"'})

        server.routes["/feed"] = listing
        src = source("rss", server.url("/feed"))
        fetcher = fetcher_for(settings, [src])
        try:
            first = await fetcher.run_once()
            # The robots.txt entry (unreachable: 503) expires; the next poll reads it again.
            await wait_until_async(lambda: fetcher.http.robots.expires(articles.url("/")) <
                                   time.monotonic(), 5, "the robots.txt entry to expire",
                                   every=0.02)
            second = await fetcher.run_once()
            third = await fetcher.run_once()
        finally:
            await fetcher.aclose()
    finally:
        articles.close()
    assert not first.ok and first.published == 0
    assert "robots.txt unreachable (HTTP 503)" in first.line()
    assert first.denied == 1 and "(1 refused by robots.txt)" in first.line()  # /members/
    # The feed's validators were not stored: read in full again, the story published.
    assert [h.headers.get("If-None-Match") for h in server.hits_for("/feed")] == [
        None, None, '"v1"']
    assert (second.ok, second.published, second.denied) == (True, 1, 1)
    assert second.line() == "published 1 raw articles; no failures (1 refused by robots.txt)"
    assert (third.ok, third.published) == (True, 0)
    assert "/members/paid" not in server.paths()
    assert urls(raw, 1, articles.base_url) == ["/story"]


async def test_a_poll_cut_by_its_timeout_keeps_the_pages_it_already_published(
    broker: EmbeddedBroker, tmp_path: Path, raw: TopicReader, server: ScriptedServer,
) -> None:
    settings = fetcher_test_settings(broker.bootstrap, tmp_path, fetch_retries=0,
                                     fetch_poll_timeout_seconds=1.3, fetch_host_concurrency=2,
                                     topic_raw=raw.settings.topic_raw)
    base = server.base_url
    paths = [f"/p{n}" for n in range(8)]  # newest first: /p7 is the oldest

    def slow_page(handler: BaseHTTPRequestHandler) -> Route:
        time.sleep(0.5)  # two at a time: 8 pages need 2 s, more than the poll's 1.3 s
        return page(handler.path)

    server.routes["/feed"] = feed([(f"{base}{p}", None) for p in paths])
    for path in paths:
        server.routes[path] = slow_page
    src = source("rss", server.url("/feed"))
    fetcher = fetcher_for(settings, [src])
    try:
        first = await poll_and_publish(fetcher, src)
        assert first.outcome == "timeout" and 1 <= first.queued < 8
        # Handed over oldest first, as the docs promise: the cut poll published the oldest.
        assert urls(raw, first.queued, base) == sorted(paths[::-1][:first.queued])
        later = [await poll_and_publish(fetcher, src) for _ in range(4)]
    finally:
        await fetcher.aclose()
    assert urls(raw, 8, base) == sorted(paths)  # the rest on the next polls
    assert first.queued + sum(r.queued for r in later) == 8  # each one once


async def test_a_guid_shared_by_several_links_does_not_hide_later_items(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = server.base_url
    same = f"{base}/"  # a publisher bug seen in the wild: one guid for every item
    items: list[tuple[str, str | None]] = [(f"{base}/s2", same), (f"{base}/s1", same)]
    server.routes["/feed"] = lambda _: feed(items)
    for path in ("/s1", "/s2", "/s3"):
        server.routes[path] = page(path)
    src = source("rss", server.url("/feed"))
    fetcher = fetcher_for(fetch_settings, [src])
    try:
        with caplog.at_level("WARNING"):
            assert (await poll_and_publish(fetcher, src)).queued == 2
            items.insert(0, (f"{base}/s3", same))  # a new story, the same guid
            second = await poll_and_publish(fetcher, src)
    finally:
        await fetcher.aclose()
    assert (second.queued, second.seen) == (1, 2)
    assert urls(raw, 3, base) == ["/s1", "/s2", "/s3"]
    warnings = [r.getMessage() for r in caplog.records if "shared by several links" in
                r.getMessage()]
    assert len(warnings) == 1 and warnings[0].startswith(f"source {src.id}: 1 guid(s)")


async def test_a_retired_source_makes_later_runs_fail_naming_it(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
) -> None:
    base = server.base_url
    server.routes["/gone"] = sequence(Route(410, b""), feed([(f"{base}/back", None)]))
    server.routes["/live"] = feed([(f"{base}/l1", None)])
    server.routes["/l1"] = page("Live")
    dead, live = source("rss", server.url("/gone")), source("rss", server.url("/live"))

    async def run() -> Any:
        fetcher = fetcher_for(fetch_settings, [dead, live])  # a new process each time
        try:
            return await fetcher.run_once()
        finally:
            await fetcher.aclose()

    first = await run()
    assert (first.ok, first.published, first.retired) == (False, 1, [])
    second = await run()  # cron's next run: nothing failed, but a configured source is dead
    assert (second.ok, second.published, second.failed_sources) == (False, 0, [])
    assert second.retired == [f"{dead.id}: HTTP 410 Gone"]
    assert second.line() == ("FAILED: published 0 raw articles; 1 sources retired (not polled): "
                             f"{dead.id}: HTTP 410 Gone")
    assert server.paths().count("/gone") == 1


async def test_reading_a_directory_does_not_block_the_other_sources(
    fetch_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from newsflow.fetcher import service

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    from newsflow.fetcher.directory import read_directory as read

    def slow_read(src: SourceConfig, **options: Any) -> Iterator[Any]:
        for item in read(src, **options):
            time.sleep(0.8)  # as reading and decoding thousands of files does
            yield item

    for n in range(4):
        (inbox / f"n{n}.txt").write_text(f"Headline {n}\nA paragraph about harbour cranes.\n")
    monkeypatch.setattr(service, "read_directory", slow_read)
    src = SourceConfig(id="inbox", name="Inbox", kind="directory", path=inbox)
    fetcher = fetcher_for(fetch_settings, [src])
    ticks: list[float] = []

    async def ticker() -> None:  # stands for every other source's loop
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.02)

    try:
        await fetcher.start()
        task = asyncio.create_task(ticker())
        started = time.monotonic()
        result = await fetcher.poll(src)
        took = time.monotonic() - started
        task.cancel()
    finally:
        await fetcher.aclose()
    assert result.queued == 4 and took >= 3.2
    assert len(ticks) > 10, "the event loop ran nothing else during the poll"
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert max(gaps) < 0.5  # the loop never stood still for a file's 0.8 s


async def test_a_directory_poll_cut_by_its_timeout_goes_on_where_it_stopped(
    broker: EmbeddedBroker, tmp_path: Path, raw: TopicReader, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A folder too big to read within one poll: each poll used to read the same first files
    # again (all seen) and time out before the rest, which were never published.
    from newsflow.fetcher import directory

    settings = fetcher_test_settings(broker.bootstrap, tmp_path, fetch_retries=0,
                                     fetch_poll_timeout_seconds=0.8,
                                     topic_raw=raw.settings.topic_raw)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    files = 200  # 50 files a batch of 100 items (an article and its FileRead each)
    for n in range(files):
        (inbox / f"n{n:03}.txt").write_text(f"Headline {n}\nA paragraph about harbour cranes.\n")
    read = directory.records_from_file

    def slow_read(path: Path, src: SourceConfig, max_bytes: int) -> Iterator[Any]:
        time.sleep(0.006)  # a batch of 50 files in 0.3 s: two batches fit in a poll, not four
        yield from read(path, src, max_bytes)

    monkeypatch.setattr(directory, "records_from_file", slow_read)
    src = SourceConfig(id="inbox", name="Inbox", kind="directory", path=inbox)
    fetcher = fetcher_for(settings, [src])
    results: list[PollResult] = []
    try:
        while sum(r.queued for r in results) < files and len(results) < 10:
            results.append(await poll_and_publish(fetcher, src))
    finally:
        await fetcher.aclose()
    assert results[0].outcome == "timeout"
    assert sum(r.queued for r in results) == files, [(r.outcome, r.queued) for r in results]
    assert len(raw.wait_count("raw", files, timeout=30)) == files


async def test_a_directory_error_names_its_file_once(
    fetch_settings: Settings, tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # A file that cannot be read as what its name says: a dead letter with its bytes (it was a
    # poll error on every poll), which names it once; the folder's other files still count.
    (inbox / "broken.html.gz").write_bytes(b"not gzip")
    (inbox / "ok.txt").write_text("Headline\nA paragraph about harbour cranes.\n")
    src = SourceConfig(id="inbox", name="Inbox", kind="directory", path=inbox)
    fetcher = fetcher_for(fetch_settings, [src])
    try:
        result = await poll_and_publish(fetcher, src)
        again = await poll_and_publish(fetcher, src)
    finally:
        await fetcher.aclose()
    assert (result.outcome, result.queued, result.errors) == ("ok", 1, [])
    (rejected,) = result.rejected
    assert rejected.count("broken.html.gz") == 1
    assert rejected.startswith(str(inbox / "broken.html.gz") + ": not readable gzip")
    assert (again.queued, again.rejected, again.errors) == (0, [], [])  # once per process


async def test_a_binary_file_is_dead_lettered_once_a_process_and_counted(
    fetch_settings: Settings, tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "junk.txt").write_bytes(bytes(range(256)) * 4)
    src = SourceConfig(id="junk-inbox", name="Inbox", kind="directory", path=inbox)
    fetcher = fetcher_for(fetch_settings, [src])
    letters = metrics.DEAD_LETTERS.labels("junk-inbox", "BinaryFile")
    before = letters._value.get()
    try:
        first = await poll_and_publish(fetcher, src)
        second = await poll_and_publish(fetcher, src)
    finally:
        await fetcher.aclose()
    assert len(first.rejected) == 1 and "junk.txt" in first.rejected[0]
    assert (second.rejected, second.seen) == ([], 1)  # not sent again on every poll
    assert letters._value.get() - before == 1


async def test_a_folder_that_is_not_there_yet_fails_the_poll_and_is_read_once_it_is(
    fetch_settings: Settings, tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"  # not made yet, or a typo
    src = SourceConfig(id="inbox", name="Inbox", kind="directory", path=inbox)
    fetcher = fetcher_for(fetch_settings, [src])
    try:
        missing = await poll_and_publish(fetcher, src)
        inbox.mkdir()
        (inbox / "note.txt").write_text("Harbour reopens\nThe harbour reopened on Monday.\n")
        os.utime(inbox / "note.txt", (time.time() - 60, time.time() - 60))  # settled
        found = await poll_and_publish(fetcher, src)
    finally:
        await fetcher.aclose()
    # An error of the poll, as an unreachable host is, not a listing that was malformed.
    assert missing.outcome == "error"
    assert missing.errors == [f"{inbox}: folder cannot be read: No such file or directory"]
    assert (found.outcome, found.queued) == ("ok", 1)


async def test_fetch_once_waits_for_a_file_still_being_written(
    broker: EmbeddedBroker, tmp_path: Path,
) -> None:
    settings = fetcher_test_settings(broker.bootstrap, tmp_path,
                                     fetch_directory_settle_seconds=0.5)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    fresh = inbox / "fresh.txt"
    fresh.write_text("Headline\nA paragraph about harbour cranes.\n")  # modified just now
    src = SourceConfig(id="inbox", name="Inbox", kind="directory", path=inbox)
    polling = fetcher_for(settings, [src])
    try:  # a long-running fetcher leaves it for its next poll...
        await polling.start()
        os.utime(fresh)  # written to again (start-up, reading state, takes its time)
        assert (await poll_and_publish(polling, src)).queued == 0
    finally:
        await polling.aclose()
    once = fetcher_for(settings, [src])
    try:  # ...`fetch --once` has no next poll: it waits until the file is settled
        await once.start()
        (inbox / "skewed.txt").write_text("Skewed\nA clock far ahead.\n")
        os.utime(inbox / "skewed.txt", (time.time() + 3600, time.time() + 3600))
        os.utime(fresh)  # written to again: 0.5 s to wait from here
        started = time.monotonic()
        summary = await once.run_once()
        waited = time.monotonic() - started
    finally:
        await once.aclose()
    assert summary.published == 2  # the fresh file, waited for; the skewed one does not hold
    assert waited >= 0.45  # back the wait (a file dated an hour ahead is not "being written")


async def test_a_listing_behind_a_temporary_redirect_gets_its_304s(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
) -> None:
    base = server.base_url
    server.routes["/feed"] = Route(302, b"", {"Location": "/feeds/current.xml"})

    def current(handler: BaseHTTPRequestHandler) -> Route:
        if handler.headers.get("If-None-Match") == '"v1"':
            return Route(304, b"")
        return feed([(f"{base}/r1", None)], {"ETag": '"v1"'})

    server.routes["/feeds/current.xml"] = current
    server.routes["/r1"] = page("Redirected")
    src = source("rss", server.url("/feed"))
    results = []
    for _ in range(2):  # a new process each time: the validators come from the state topic
        fetcher = fetcher_for(fetch_settings, [src])
        try:
            results.append(await fetcher.run_once())
        finally:
            await fetcher.aclose()
    assert [r.published for r in results] == [1, 0] and all(r.ok for r in results)
    assert [h.headers.get("If-None-Match") for h in server.hits_for("/feeds/current.xml")] == [
        None, '"v1"']
    assert [h.headers.get("If-None-Match") for h in server.hits_for("/feed")] == [None, None]
    assert server.paths().count("/r1") == 1


async def test_a_missing_article_page_is_tried_on_a_few_polls_and_410_is_final(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
) -> None:
    base = server.base_url
    server.routes["/feed"] = feed([(f"{base}/late", None), (f"{base}/dead", None),
                                   (f"{base}/gone", None)])
    # The feed updated a moment before the page is live on the CDN: 404, then the page.
    server.routes["/late"] = sequence(Route(404, b"not yet"), page("Late"))
    server.routes["/dead"] = Route(404, b"never")
    server.routes["/gone"] = Route(410, b"")
    src = source("rss", server.url("/feed"))
    fetcher = fetcher_for(fetch_settings, [src])
    try:
        polls = [await poll_and_publish(fetcher, src) for _ in range(4)]
    finally:
        await fetcher.aclose()
    assert [(p.queued, len(p.errors), len(p.dropped)) for p in polls] == [
        (0, 2, 1), (1, 1, 0), (0, 0, 1), (0, 0, 0)]
    assert polls[0].errors[1].endswith("HTTP 404 (attempt 1 of 3, will retry next poll)")
    assert polls[2].dropped == [f"{base}/dead: HTTP 404"]
    assert [server.paths().count(p) for p in ("/late", "/dead", "/gone")] == [2, 3, 1]
    assert urls(raw, 1, base) == ["/late"]

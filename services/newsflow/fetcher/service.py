"""The fetch loop: poll each source, turn what it yields into raw articles, publish them."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

from newsflow.config import Settings
from newsflow.fetcher import metrics
from newsflow.fetcher.directory import read_directory
from newsflow.fetcher.feeds import FeedError, parse_feed
from newsflow.fetcher.http import FetchError, HttpFetcher
from newsflow.fetcher.publisher import Publisher
from newsflow.fetcher.raw import FeedEntry, raw_article
from newsflow.fetcher.sources import SourceConfig

log = logging.getLogger(__name__)
FEED_KINDS = frozenset({"rss", "atom", "rdf"})


@dataclass(slots=True)
class PollResult:
    source: str
    records: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Fetcher:
    def __init__(self, settings: Settings, sources: list[SourceConfig], publisher: Publisher,
                 http: HttpFetcher | None = None) -> None:
        self.settings = settings
        self.sources = [s for s in sources if s.enabled]
        self.publisher = publisher
        self.http = http or HttpFetcher(settings)
        self.seen: set[str] = set()

    # --- sources -----------------------------------------------------------------------------
    async def poll(self, source: SourceConfig) -> PollResult:
        """Everything new a source yields now. Errors are reported in the result, never raised."""
        result = PollResult(source.id)
        started = time.monotonic()
        try:
            if source.kind == "directory":
                self._poll_directory(source, result)
            elif source.kind in FEED_KINDS:
                await self._poll_feed(source, result)
            else:
                raise FetchError(source.url or source.id,
                                 f"source kind {source.kind!r} is not supported yet",
                                 retryable=False)
        except (FetchError, FeedError, OSError) as exc:
            result.errors.append(str(exc))
            metrics.SOURCE_ERRORS.labels(source.id, type(exc).__name__).inc()
            log.warning("source %s failed: %s", source.id, exc)
        outcome = "error" if result.errors and not result.records else "ok"
        metrics.FETCHES.labels(source.id, source.kind, outcome).inc()
        metrics.FETCH_SECONDS.labels(source.kind).observe(time.monotonic() - started)
        if outcome == "ok":
            metrics.LAST_SUCCESS.labels(source.id).set(time.time())
        return result

    def _poll_directory(self, source: SourceConfig, result: PollResult) -> None:
        for path, item in read_directory(source):
            if isinstance(item, Exception):
                result.errors.append(f"{path}: {item}")
                metrics.SOURCE_ERRORS.labels(source.id, type(item).__name__).inc()
                continue
            key = f"{item['url']}#{item['id']}"
            if key not in self.seen:
                result.records.append(item)

    async def _poll_feed(self, source: SourceConfig, result: PollResult) -> None:
        assert source.url is not None
        response = await self.http.get(source.url, headers=source.headers)
        metrics.FETCHED_BYTES.labels(source.id).inc(len(response.content))
        for entry in parse_feed(response.content, response.url):
            if entry.guid in self.seen or entry.url in self.seen:
                continue
            try:
                result.records.append(await self._entry_record(source, entry))
            except FetchError as exc:
                result.errors.append(str(exc))
                metrics.SOURCE_ERRORS.labels(source.id, "FetchError").inc()

    async def _entry_record(self, source: SourceConfig, entry: FeedEntry) -> dict[str, Any]:
        if entry.content or not source.fetch_pages:
            body = entry.content or entry.summary or ""
            return raw_article(source, entry.url, body, "text/html", title=entry.title,
                               published_at=entry.published_at, entry=entry)
        page = await self.http.get(entry.url, headers=source.headers)
        metrics.FETCHED_BYTES.labels(source.id).inc(len(page.content))
        return raw_article(
            source, page.url if page.url else entry.url, page.text, page.content_type or "text/html",
            title=entry.title, published_at=entry.published_at, encoding=page.encoding,
            http={"status": page.status, "etag": page.etag, "last_modified": page.last_modified},
            entry=entry,
        )

    # --- publishing --------------------------------------------------------------------------
    def publish(self, result: PollResult) -> int:
        """Publish a poll's records and wait for the broker's acknowledgements."""
        futures = [(record, self.publisher.publish(record)) for record in result.records]
        self.publisher.flush()
        sent = 0
        for record, future in futures:
            try:
                future.get(timeout=self.settings.fetch_timeout_seconds)
            except Exception as exc:
                metrics.PUBLISH_ERRORS.labels(result.source).inc()
                log.error("publish of %s failed: %s", record["url"], exc)
                continue
            sent += 1
            metrics.PUBLISHED.labels(result.source).inc()
            self.seen.add(record.get("feed", {}).get("guid") or record["url"])
            self.seen.add(f"{record['url']}#{record['id']}")
        return sent

    async def run_once(self) -> tuple[int, int]:
        """Poll every source once; return (articles published, source errors)."""
        results = await asyncio.gather(*(self.poll(source) for source in self.sources))
        loop = asyncio.get_running_loop()
        published = errors = 0
        for result in results:
            published += await loop.run_in_executor(None, self.publish, result)
            errors += len(result.errors)
        return published, errors

    async def run_forever(self) -> None:
        async def loop_source(source: SourceConfig) -> None:
            loop = asyncio.get_running_loop()
            while True:
                result = await self.poll(source)
                await loop.run_in_executor(None, self.publish, result)
                jitter = random.uniform(0.9, 1.1)
                await asyncio.sleep(source.poll_interval_seconds * jitter)

        await asyncio.gather(*(loop_source(source) for source in self.sources))

    async def aclose(self) -> None:
        await self.http.aclose()
        self.publisher.close()

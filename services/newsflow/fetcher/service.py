"""The fetch loop: poll each source on its own schedule, turn what it yields into raw articles,
hand them to the outbox, and remember what was published.

Each source runs as its own asyncio task, so a slow or broken source only delays itself; the
per-host gates (politeness.py) are the only thing sources share. Listing URLs (feeds, sitemaps,
section pages, APIs) are fetched with conditional GET; their validators are stored only once
every article found in that response was acknowledged by the broker, so a crash in between
means a full re-read next time (and the seen-set filters what was already published) rather
than a 304 that hides unpublished articles.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka.errors import KafkaError

from newsflow.codecs import DEAD_LETTERS, RAW
from newsflow.config import Settings
from newsflow.core.urls import article_id_for_url
from newsflow.errors import (
    BrokerUnavailable,
    FeedError,
    FetchBlocked,
    FetchError,
    FetchGone,
    FetchTooLarge,
    FetchURLError,
    HttpClientError,
    RecordInvalid,
    RobotsDenied,
    TooManyRedirects,
)
from newsflow.fetcher import metrics
from newsflow.fetcher.directory import (
    FileRead,
    FileSignature,
    LeftSettling,
    Rejected,
    read_directory,
    settle_wait,
)
from newsflow.fetcher.feeds import parse_feed
from newsflow.fetcher.http import HttpFetcher, Response
from newsflow.fetcher.jsonapi import parse_json_items
from newsflow.fetcher.links import discover_links
from newsflow.fetcher.publisher import Outbox, Pending, Publisher, message_limit
from newsflow.fetcher.raw import FeedEntry, raw_article
from newsflow.fetcher.sitemap_walk import SitemapWalk
from newsflow.fetcher.sources import SourceConfig
from newsflow.fetcher.state import FetcherState, StateChange, guid_key, load_state, seen_key
from newsflow.records import DeadLetter
from newsflow.retry import Backoff, Retry
from newsflow.topics import ensure_topics

log = logging.getLogger(__name__)
# Article-page failures not worth retrying on the next poll (4xx, 410 Gone included), except
# those below.
FINAL_PAGE_ERRORS = (HttpClientError, FetchBlocked, FetchTooLarge, TooManyRedirects, FetchURLError)
# 404 and 403 on an article page are often passing (the feed updated before the page is live on
# the CDN, a WAF's mood): tried on this many polls in all before the entry is given up on.
PAGE_MISSING_STATUSES = frozenset({403, 404})
PAGE_MISSING_ATTEMPTS = 3
# Records of a directory source read per trip to a worker thread (bounds the memory held).
DIRECTORY_BATCH = 100
# A stop waits at most this long for the broker (docker stop and Kubernetes allow 30 s before
# SIGKILL, and the outbox's publish thread may sit in a send for max_block_ms, 10 s, after it).
STOP_SECONDS = 10.0
# `fetch --once` waits up to this many settle times for files still being written.
ONCE_SETTLE_WAITS = 5


@dataclass(slots=True)
class PollResult:
    source: str
    queued: int = 0
    seen: int = 0  # entries skipped because they were published before
    outcome: str = "ok"
    errors: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # articles given up on (too large, gone...)
    # files (empty, binary) and raw records (invalid) sent to the dead-letter topic
    rejected: list[str] = field(default_factory=list)
    retry_later: bool = False  # an article failed in a way the next poll may fix
    # new entries beyond max_items, or files maybe still being written, left for later polls
    deferred: int = 0
    denied: int = 0  # entries robots.txt refuses by its rules (not a failure)


@dataclass(slots=True)
class RunSummary:
    """What one ``fetch --once`` did; ``ok`` is False when anything was lost or failed."""

    published: int
    failed_sources: list[str]  # "source: first error"
    dropped: list[str]  # articles not published: refused by the broker, too large, gone...
    rejected: list[str]  # dead-lettered: files (empty, binary) and invalid raw records
    errors: int = 0  # every error every source reported
    unacknowledged: int = 0
    denied: int = 0  # entries robots.txt refused by its rules: a policy, not a failure
    # configured sources retired by an earlier run (410 Gone), so not polled: "id: reason"
    retired: list[str] = field(default_factory=list)
    # new entries beyond max_items and files maybe still being written: for the next run
    deferred: int = 0

    def counts(self) -> tuple[int, int]:
        """(published, errors): the figures the fetcher's tests compare."""
        return self.published, self.errors + self.unacknowledged

    @property
    def ok(self) -> bool:
        return not (self.failed_sources or self.dropped or self.rejected or self.unacknowledged
                    or self.retired)

    def line(self) -> str:
        """One line for a scheduler's log: the counts, then the first reason of each kind."""
        parts = [f"published {self.published} raw articles"]
        denied = f" ({self.denied} refused by robots.txt)" if self.denied else ""
        later = (f"; {self.deferred} left for the next run (beyond max_items, or files maybe "
                 "still being written)") if self.deferred else ""
        if self.ok:
            return parts[0] + "; no failures" + denied + later
        parts[0] += denied + later
        for label, items in (("sources failed", self.failed_sources),
                             ("sources retired (not polled)", self.retired),
                             ("articles dropped", self.dropped),
                             ("dead-lettered", self.rejected)):
            if items:
                more = f" (+{len(items) - 1} more)" if len(items) > 1 else ""
                first = items[0] if len(items[0]) <= 160 else items[0][:159] + "…"
                parts.append(f"{len(items)} {label}: {first}{more}")
        if self.unacknowledged:
            parts.append(f"{self.unacknowledged} not acknowledged by the broker")
        return "FAILED: " + "; ".join(parts)


class _Commit:
    """Validators to store once all of one response's records are acknowledged."""

    def __init__(self, fetcher: Fetcher, changes: list[StateChange]) -> None:
        self.fetcher = fetcher
        self.changes = changes
        self.remaining = 0
        self.sealed = False

    def done_one(self) -> None:
        self.remaining -= 1
        self.maybe_write()

    def seal(self) -> None:
        self.sealed = True
        self.maybe_write()

    def maybe_write(self) -> None:
        if self.sealed and self.remaining == 0 and self.changes:
            self.fetcher.write_state(self.changes)
            self.changes = []


@dataclass(slots=True)
class _DirectoryListing:
    """One poll of a directory source: the files it need not read again (signature, seen-keys),
    the keys of the parts read so far by file, and the files read or found unchanged."""

    before: dict[Path, tuple[FileSignature, list[str]]]
    reading: dict[Path, list[str]] = field(default_factory=dict)
    after: dict[Path, tuple[FileSignature, list[str]]] = field(default_factory=dict)


class Fetcher:
    def __init__(self, settings: Settings, sources: list[SourceConfig], publisher: Publisher,
                 http: HttpFetcher | None = None, reenable: Iterable[str] = ()) -> None:
        """``reenable``: ids of retired sources to poll again (``fetch --reenable``)."""
        self.settings = settings
        self.sources = [s for s in sources if s.enabled]
        self.reenable = frozenset(reenable)
        self.publisher = publisher
        self.http = http or HttpFetcher(settings)
        self.state = FetcherState(settings.fetch_state_max_entries)
        self.outbox = Outbox(settings, publisher, self._acked)
        self.pending: set[str] = set()  # seen-keys of records queued but not yet acknowledged
        self.started = False
        self.tasks: list[asyncio.Task[None]] = []
        self.once = False  # `fetch --once`: each source is polled one time only
        # Entries robots.txt refused, skipped until it is read again: they must not take the
        # max_items places of entries that can be fetched. Value: (until, whether only because
        # robots.txt was unreachable).
        self.robots_denied: dict[str, tuple[float, bool]] = {}
        self.shared_guid_warned: set[str] = set()  # sources warned about guids shared by links
        # Polls on which an entry's page answered 404/403 so far (in memory, bounded).
        self.page_attempts: dict[str, int] = {}
        # By directory source: the files its last poll read or found unchanged, with their
        # signatures and the seen-keys of their parts (a file is read again once one of them
        # is no longer known).
        self.directory_files: dict[str, dict[Path, tuple[FileSignature, list[str]]]] = {}

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        if self.started:
            return
        # Every source's series before the broker is reached: a fetcher that cannot reach it
        # (a wrong address) shows its sources, failing none, beside broker_available 0.
        metrics.sources_configured((s.id, s.poll_interval_seconds) for s in self.sources)
        for source in self.sources:
            if source.kind == "directory":
                metrics.directory_source_configured(source.id)
        count = await self._load_state()
        # Records read, deletions and the read's own sentinel included: the figures after it
        # are what the state holds.
        log.info("fetcher state: %d records read; it holds %d seen, %d validators, %d moved, "
                 "%d retired",
                 count, len(self.state.seen), len(self.state.validators), len(self.state.moved),
                 len(self.state.retired))
        for source in self.sources:
            if source.id in self.state.retired:
                self._check_retired(source)
        self.outbox.start()
        metrics.BROKER_UP.set(1)
        self.started = True

    async def _load_state(self) -> int:
        """Read the state back, retrying with backoff while the broker is unreachable; give up
        after ``fetch_state_load_timeout_seconds`` rather than start without it."""
        loop = asyncio.get_running_loop()

        async def attempt() -> int:
            # Declared here too: the fetcher may be the first client of a fresh cluster.
            await loop.run_in_executor(None, ensure_topics, self.settings, 10.0)
            count: int = await loop.run_in_executor(None, load_state, self.settings,
                                                    self.publisher, self.state)
            return count

        def retrying(error: BaseException, delay: float, tries: int) -> None:
            log.warning("fetcher state not readable yet (%s); retrying in %.1f s", error, delay)
            metrics.BROKER_UP.set(0)

        # The broker unreachable, the sentinel not acknowledged or read back in time; anything
        # else is a bug, raised as itself rather than reported as an unreachable broker.
        broker_trouble = (KafkaError, BrokerUnavailable, TimeoutError, OSError)
        retry = Retry(Backoff(0.5, 30.0), retry_on=broker_trouble,
                      timeout=self.settings.fetch_state_load_timeout_seconds,
                      before_sleep=retrying)
        try:
            return await retry.acall(attempt)
        except broker_trouble as exc:
            raise BrokerUnavailable(f"cannot read the fetcher state from "
                                    f"{self.settings.topic_fetcher_state}: {exc}") from exc

    def active_sources(self) -> list[SourceConfig]:
        return [s for s in self.sources if s.id not in self.state.retired]

    def health(self) -> tuple[bool, dict[str, Any]]:
        running = [t for t in self.tasks if not t.done()]
        # A loop ends by itself only when its source is retired; one that raised died (a bug:
        # poll catches what a source can do), and a restart brings it back.
        died = any(t.done() and not t.cancelled() and t.exception() is not None
                   for t in self.tasks)
        ok = self.started and not died and (not self.tasks or bool(running)
                                             or not self.active_sources())
        # The state remembers sources an earlier sources file named: only these are news here.
        retired = sorted(s.id for s in self.sources if s.id in self.state.retired)
        return ok, {"started": self.started, "sources": len(self.active_sources()),
                    "retired": retired, "outbox": self.outbox.size,
                    "broker_available": self.outbox.failures == 0,
                    "last_publish_error": self.outbox.last_error}

    async def run_once(self) -> RunSummary:
        """Poll every source once and wait for the broker's acks."""
        self.once = True
        await self.start()
        before, dropped_before = self.outbox.published, len(self.outbox.dropped_records)
        # A configured source an earlier run retired is not polled, but it is no success
        # either: the run says so (and exits 1) rather than report "no failures" forever.
        retired = [f"{s.id}: {self.state.retired[s.id]}" for s in self.sources
                   if s.id in self.state.retired]
        results = await asyncio.gather(*(self.poll(s) for s in self.active_sources()))
        unacknowledged = 0
        if not await self.outbox.drain(self.settings.fetch_publish_timeout_seconds):
            log.error("%d raw articles not acknowledged within %.0f s", self.outbox.size,
                      self.settings.fetch_publish_timeout_seconds)
            unacknowledged = self.outbox.size
        rejected = [item for r in results for item in r.rejected]
        return RunSummary(
            published=self.outbox.published - before,
            failed_sources=[f"{r.source}: {r.errors[0]}" for r in results if r.errors],
            dropped=[item for r in results for item in r.dropped]
            + self.outbox.dropped_records[dropped_before:],
            rejected=rejected, errors=sum(len(r.errors) for r in results),
            unacknowledged=unacknowledged, denied=sum(r.denied for r in results),
            retired=retired, deferred=sum(r.deferred for r in results))

    async def run_forever(self) -> None:
        await self.start()
        self.tasks = [asyncio.create_task(self._loop(s), name=f"source-{s.id}")
                      for s in self.active_sources()]
        await asyncio.gather(*self.tasks)
        # Every loop ended: no source was left to poll (none enabled, or each retired by a 410,
        # at start or since). The service still runs until it is stopped, serving /metrics and
        # /healthz: exiting 0 here made a supervisor restart it for ever (each start finding
        # the same retired sources) and Prometheus report the fetcher down, not the sources.
        log.warning("no source left to poll (%d configured and enabled, %d retired): the "
                    "fetcher keeps serving /metrics and /healthz until it is stopped",
                    len(self.sources), len(self.state.retired))
        await asyncio.Event().wait()

    async def _loop(self, source: SourceConfig) -> None:
        ratio = self.settings.fetch_jitter_ratio
        while source.id not in self.state.retired:
            await self.poll(source)
            # Jitter spreads sources with the same interval so they do not hit in lockstep.
            await asyncio.sleep(source.poll_interval_seconds * random.uniform(1 - ratio, 1 + ratio))

    async def aclose(self) -> None:
        """Stop within ``STOP_SECONDS`` whatever the broker does: the broker's acknowledgements,
        the publish thread and the producer share them. With the broker away, each waited its
        own time, a stop took over a minute (Kubernetes kills at 30 s) and ended in a
        traceback. What the broker did not acknowledge had no state written: it is fetched
        again at the next start."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(STOP_SECONDS, self.settings.fetch_publish_timeout_seconds)

        def left() -> float:
            return max(0.0, deadline - loop.time())

        for task in self.tasks:
            task.cancel()
        if self.started and self.outbox.size:
            await self.outbox.drain(left())
        unacknowledged = self.outbox.size
        await self.outbox.close(left())
        await self.http.aclose()
        closed = await loop.run_in_executor(None, self.publisher.close, left())
        if unacknowledged or not closed:
            log.warning("stopped with %d fetched records (and state writes) the broker had not "
                        "acknowledged within %.0f s; their articles are fetched again at the "
                        "next start", unacknowledged, STOP_SECONDS)

    # --- state -------------------------------------------------------------------------------
    def write_state(self, changes: list[StateChange]) -> None:
        """Persist changes through the publish thread (ordered after earlier publishes)."""
        if not changes:
            return

        def send() -> None:
            for key, value in changes:
                self.publisher.send_state(key, value).add_errback(
                    lambda exc, key=key: log.warning("state write %s failed: %s", key, exc))

        self.outbox.executor.submit(send)

    def _acked(self, item: Pending) -> None:
        for key, value in item.state:
            self.state.apply(key, value)
            self.pending.discard(key)
        if item.on_ack is not None:
            item.on_ack()

    def _known(self, keys: list[str]) -> bool:
        return any(self.state.is_seen(k) or k in self.pending for k in keys)

    async def _submit(self, source: SourceConfig, record: dict[str, Any], keys: list[str],
                      result: PollResult, commit: _Commit | None = None) -> None:
        """Queue a raw article, encoded and validated by its codec. One that does not follow
        its schema goes to the dead-letter topic instead, with the bytes it would have had:
        nothing is lost, and the stream never sees it. Either way its keys count as seen once
        the broker has it, so an invalid article is not dead-lettered again on every poll."""
        now = time.time()
        record_id = record.get("id")  # a missing or non-string id is refused below
        key = record_id.encode("utf-8") if isinstance(record_id, str) else None
        try:
            topic, value, raw = self.settings.topic_raw, RAW.encode(record), True
        except RecordInvalid as exc:
            log.warning("source %s: %s does not follow the raw-article schema (%s); sent to %s",
                        source.id, record.get("url"), exc, self.settings.topic_deadletter)
            metrics.INVALID.labels(source.id).inc()
            metrics.DEAD_LETTERS.labels(source.id, "RecordInvalid").inc()
            letter = DeadLetter("validate", type(exc).__name__, str(exc),
                                self.settings.topic_raw, None, None, key,
                                RAW.unchecked_bytes(record))
            topic, value, raw = self.settings.topic_deadletter, DEAD_LETTERS.encode_letter(
                letter, message_limit(self.settings)), False
            result.rejected.append(f"{record.get('url')}: {exc}")
        else:
            result.queued += 1
        self.pending.update(keys)
        if commit is not None:
            commit.remaining += 1
        # Directory files are the operator's input: a new process re-reads its folders (so
        # `fetch --once` re-submits a folder on purpose); within a process each file goes once.
        await self.outbox.put(Pending(topic, key, value, str(record.get("url")), source.id,
                                      [(k, {"t": now}) for k in keys],
                                      commit.done_one if commit is not None else None,
                                      persist=source.kind != "directory", raw=raw))

    # --- polling -----------------------------------------------------------------------------
    async def poll(self, source: SourceConfig) -> PollResult:
        """Fetch what is new and queue it. Errors are reported in the result, never raised."""
        result = PollResult(source.id)
        started = time.monotonic()
        metrics.LAST_ATTEMPT.labels(source.id).set(time.time())
        try:
            async with asyncio.timeout(self.settings.fetch_poll_timeout_seconds):
                if source.kind == "directory":
                    await self._poll_directory(source, result)
                else:
                    await self._poll_web(source, result)
        except FetchError as exc:
            result.outcome = exc.outcome
            result.errors.append(str(exc))
            if isinstance(exc, FetchGone):
                self._retire(source, exc.reason)
        except (FeedError, ValueError) as exc:
            result.outcome = "malformed"
            result.errors.append(f"{source.url}: {exc}")
        except TimeoutError:
            result.outcome = "timeout"
            result.errors.append(f"poll took longer than {self.settings.fetch_poll_timeout_seconds} s")
        except OSError as exc:
            result.outcome = "error"
            result.errors.append(str(exc))
        except Exception as exc:  # a bug met by one source must not stop the others
            log.exception("source %s: unexpected error", source.id)
            result.outcome = "error"
            result.errors.append(f"{type(exc).__name__}: {exc}")
        for error in result.errors:
            log.warning("source %s: %s", source.id, error)
        # The operator's view of the fetcher: one line per poll per source, never per article.
        # Entries robots.txt refuses are named only when there are any (the line stays the
        # same for the common case).
        denied = f", {result.denied} refused by robots.txt" if result.denied else ""
        log.log(logging.WARNING if result.errors or result.dropped else logging.INFO,
                "poll %s: %s, %d new, %d seen, %d failed, %d dropped, %d dead-lettered%s in "
                "%.2f s", source.id, result.outcome, result.queued, result.seen,
                len(result.errors), len(result.dropped), len(result.rejected), denied,
                time.monotonic() - started)
        if result.errors:
            metrics.SOURCE_ERRORS.labels(source.id, result.outcome).inc(len(result.errors))
        metrics.FETCHES.labels(source.id, source.kind, result.outcome).inc()
        metrics.record_poll(source.id, result.outcome)
        return result

    def _retire(self, source: SourceConfig, reason: str) -> None:
        log.warning("source %s retired: %s (remove it from the sources file, or give it its "
                    "new url; `newsflow fetch --reenable %s` polls it again)", source.id,
                    reason, source.id)
        self.write_state(self.state.retire(source.id, reason, source.url))
        metrics.RETIRED.labels(source.id).set(1)

    def _check_retired(self, source: SourceConfig) -> None:
        """A source an earlier run retired stays so, unless the operator re-enabled it or the
        sources file now gives it another URL (the feed moved: the 410 was the old one's)."""
        retired_url = self.state.retired_urls.get(source.id)
        why = ("re-enabled (--reenable)" if source.id in self.reenable
               else f"its url changed since it was retired (was {retired_url})"
               if retired_url is not None and retired_url != source.url else None)
        if why is not None:
            log.info("source %s polled again: %s", source.id, why)
            self.write_state(self.state.unretire(source.id))
            metrics.RETIRED.labels(source.id).set(0)
            return
        metrics.RETIRED.labels(source.id).set(1)
        log.warning("source %s stays retired: %s (not polled; give it its new url, or "
                    "`newsflow fetch --reenable %s` polls it again)", source.id,
                    self.state.retired[source.id], source.id)

    async def _poll_directory(self, source: SourceConfig, result: PollResult) -> None:
        """Reading and decoding the files is blocking work: done in a worker thread, a batch
        of records at a time, so that the other sources' loops keep running meanwhile."""
        settle = self.settings.fetch_directory_settle_seconds
        if self.once:  # no next poll to pick up a file still being written: wait for it
            await self._wait_for_settled(source, settle)
        listing = _DirectoryListing(self.directory_files.get(source.id, {}))

        def read_before(path: Path, signature: FileSignature) -> bool:
            # In the reading thread, file by file: at the state's 500k keys, checking every
            # file's keys at once held the event loop for most of a second. Membership tests
            # of the loop's set and dict are safe from here.
            entry = listing.before.get(path)
            return (entry is not None and entry[0] == signature
                    and all(self._known([key]) for key in entry[1]))

        files = read_directory(source, max_bytes=self.settings.fetch_max_bytes,
                               settle_seconds=settle, now=time.time(), read_before=read_before)
        completed = False
        try:
            while batch := await asyncio.to_thread(lambda: list(itertools.islice(
                    files, DIRECTORY_BATCH))):
                await self._directory_items(source, batch, result, listing)
            completed = True
        finally:
            # A poll cut short (its timeout) keeps what it read, and what it did not reach
            # yet, so that the next poll goes on past it instead of reading the same files.
            self.directory_files[source.id] = (
                listing.after if completed else {**listing.before, **listing.after})
        if result.errors:
            result.outcome = "partial" if result.queued else "malformed"

    async def _wait_for_settled(self, source: SourceConfig, settle: float) -> None:
        """Until no file of the folder changed in the last ``settle`` seconds, at most
        ``ONCE_SETTLE_WAITS`` settle times and half the poll's timeout: a writer that keeps
        writing longer has its file left for the next run (read_directory says so)."""
        assert source.path is not None
        limit = min(ONCE_SETTLE_WAITS * settle, self.settings.fetch_poll_timeout_seconds / 2)
        deadline = time.monotonic() + limit
        while settle > 0:
            wait = await asyncio.to_thread(settle_wait, source.path, settle, time.time())
            if wait <= 0 or time.monotonic() + wait > deadline:
                return
            await asyncio.sleep(wait)

    async def _directory_items(self, source: SourceConfig, items: list[tuple[
            Path, dict[str, Any] | Rejected | FileRead | LeftSettling | Exception]],
            result: PollResult,
            listing: _DirectoryListing) -> None:
        for path, item in items:
            if isinstance(item, LeftSettling):
                result.deferred += item.files
                continue
            if isinstance(item, FileRead):
                if item.unchanged:
                    listing.after[path] = listing.before[path]
                    result.seen += len(listing.before[path][1])
                else:
                    listing.after[path] = (item.signature, listing.reading.pop(path, []))
                metrics.DIRECTORY_FILES.labels(
                    source.id, "unchanged" if item.unchanged else "read").inc()
                continue
            if isinstance(item, Exception):
                listing.reading.pop(path, None)
                # Most errors name their file already; the others get its path.
                message = str(item)
                result.errors.append(message if str(path) in message else f"{path}: {message}")
                continue
            if isinstance(item, Rejected):
                keys = await self._reject(source, item, result)
            else:
                keys = [f"file:{item['url']}#{item['id']}"]
                if not self._known(keys):
                    await self._submit(source, item, keys, result)
                else:
                    result.seen += 1
            listing.reading.setdefault(path, []).extend(keys)

    async def _reject(self, source: SourceConfig, item: Rejected,
                      result: PollResult) -> list[str]:
        """An empty or binary file goes to the dead-letter topic (once per process); its
        seen-keys."""
        keys = [f"rejected:{item.url}#{hashlib.sha256(item.data).hexdigest()[:32]}"]
        if self._known(keys):
            result.seen += 1
            return keys
        log.warning("source %s: %s is %s; sent to %s", source.id, item.url, item.reason,
                    self.settings.topic_deadletter)
        metrics.DEAD_LETTERS.labels(source.id, type(item.error).__name__).inc()
        letter = DEAD_LETTERS.encode_letter(item.dead_letter(self.settings.topic_raw),
                                            message_limit(self.settings))
        self.pending.update(keys)
        await self.outbox.put(Pending(self.settings.topic_deadletter, item.url.encode("utf-8"),
                                      letter, item.url, source.id,
                                      [(k, {"t": time.time()}) for k in keys],
                                      persist=False, raw=False))
        result.rejected.append(f"{item.detail} ({item.reason})")
        return keys

    async def _fetch_listing(self, source: SourceConfig, url: str) -> tuple[Response | None,
                                                                              list[StateChange]]:
        """A listing URL with conditional GET: (None, []) when not modified, else the response
        and the state changes (validators, permanent moves) to store after its articles."""
        current = self.state.resolve(url)
        # Validators belong to the URL that answered with them: behind a temporary redirect
        # (302/307, not remembered) that is the final URL, and they are sent on the hop that
        # reaches it, so such a listing gets its 304s too. They are stored under the listing's
        # own URL, so a target that changes every poll (a signed URL) replaces its entry.
        response = await self.http.get(
            current, kind=source.kind, source=source.id, headers=source.headers,
            validators_for=self.state.validators_for(current),
            respect_robots=source.respect_robots)
        for old, new in response.moved:
            # A permanent move is remembered at once: it is true whatever happens next.
            self.write_state(self.state.set_moved(old, new))
        if response.not_modified:
            return None, []
        metrics.FETCHED_BYTES.labels(source.id).inc(len(response.content))
        # Stored under the URL the next poll starts from: after a permanent move just
        # remembered, that is its target, not ``current`` (which the next poll skips).
        return response, self.state.validators_change(self.state.resolve(current),
                                                      response.validators, response.url)

    async def _poll_web(self, source: SourceConfig, result: PollResult) -> None:
        assert source.url is not None
        response, changes = await self._fetch_listing(source, source.url)
        if response is None:
            result.outcome = "not_modified"
            return
        # Parsing a multi-megabyte listing is CPU work: done in a thread so that the other
        # sources' loops keep running meanwhile.
        walk: SitemapWalk | None = None
        if source.kind == "sitemap":
            walk = await self._sitemap_walk(source, response, changes, result)
            entries, changes = walk.entries, walk.changes
        elif source.kind == "html":
            entries = await asyncio.to_thread(discover_links, response.text, response.url,
                                              source.link_pattern)
        elif source.kind == "json":
            entries = await asyncio.to_thread(parse_json_items, response.content, source,
                                              response.url)
        else:
            entries = await asyncio.to_thread(parse_feed, response.content, response.url,
                                              response.content_type_header, source.kind)
        commit = _Commit(self, changes)
        await self._entries(source, entries, result, commit)
        if walk is not None and walk.failures and not walk.children_read and not entries:
            # Every child failed and nothing was found: the source yields nothing.
            first = walk.failures[0][1]
            result.outcome = first.outcome if isinstance(first, FetchError) else "malformed"
        if result.retry_later or result.deferred:
            # Something to try again or still to reach: the next poll must not get a 304.
            commit.changes = []
        for key, value in commit.changes:
            self.state.apply(key, value)
        commit.seal()

    async def _sitemap_walk(self, source: SourceConfig, root: Response,
                            changes: list[StateChange], result: PollResult) -> SitemapWalk:
        """The sitemap and its children; a failing child is an error of a partial poll."""
        walk = SitemapWalk(lambda url: self._fetch_listing(source, url),
                           self.settings.fetch_max_bytes, source.max_sitemap_depth,
                           source.max_sitemaps)
        await walk.run(root, changes)
        for url, exc in walk.failures:
            result.errors.append(str(exc) if isinstance(exc, FetchError) else f"{url}: {exc}")
        if walk.over_budget:
            log.info("source %s: %d child sitemaps not read (max_sitemaps=%d; undated ones "
                     "and the newest are read first)", source.id, walk.over_budget,
                     source.max_sitemaps)
        if walk.too_deep:
            log.warning("source %s: %d sitemaps nested deeper than max_sitemap_depth=%d not "
                        "followed", source.id, walk.too_deep, source.max_sitemap_depth)
        return walk

    def _shared_guids(self, source: SourceConfig, entries: list[FeedEntry]) -> set[str]:
        """Guids that several distinct links of this listing carry (a publisher bug: one guid
        for every item). Such a guid identifies nothing: used as a key, it would mark every
        later item seen. Those entries are known by their URL only; a WARNING says so once."""
        links: dict[str, set[str]] = {}
        for entry in entries:
            if entry.guid and entry.guid != entry.url:
                links.setdefault(entry.guid, set()).add(entry.url)
        shared = {guid for guid, urls in links.items() if len(urls) > 1}
        if shared and source.id not in self.shared_guid_warned:
            self.shared_guid_warned.add(source.id)
            example = next(iter(shared))
            log.warning("source %s: %d guid(s) shared by several links in one listing (%r: %d "
                        "links); those entries are told apart by their URL instead", source.id,
                        len(shared), example[:200], len(links[example]))
        return shared

    def _entry_keys(self, source: SourceConfig, entry: FeedEntry,
                    shared: set[str] | frozenset[str] = frozenset()) -> list[str]:
        keys = [seen_key(article_id_for_url(entry.url))]
        if entry.guid and entry.guid != entry.url and entry.guid not in shared:
            keys.append(guid_key(source.id, entry.guid))
        return keys

    async def _entries(self, source: SourceConfig, entries: list[FeedEntry], result: PollResult,
                       commit: _Commit) -> None:
        fresh, claimed = [], set()
        shared = self._shared_guids(source, entries)
        for entry in entries:
            keys = self._entry_keys(source, entry, shared)
            if self._known(keys) or keys[0] in claimed:
                result.seen += 1
                continue
            unreachable = self._robots_denied(keys[0])
            if unreachable is not None:
                self._denied(entry.url, unreachable, result)
                continue
            claimed.add(keys[0])
            fresh.append((entry, keys))
        # max_items bounds the work of one poll, not what is ever reached: the newest new
        # entries go now, the rest on the next polls (the listing is re-read in full until then).
        fresh.sort(key=lambda item: item[0].published_at or "", reverse=True)
        result.deferred = max(0, len(fresh) - source.max_items)
        metrics.DEFERRED_ITEMS.labels(source.id).set(result.deferred)
        if result.deferred:
            log.info("source %s: %d new entries beyond max_items=%d deferred to later polls",
                     source.id, result.deferred, source.max_items)
            fresh = fresh[:source.max_items]
        # Published oldest first, as they appeared: an original then reaches the stream before
        # a later copy of it, so dedupe keeps the original as the article.
        fresh.reverse()
        # The pages are fetched concurrently (each host's gate paces them), but handed to the
        # outbox in that order, each as soon as it and every page before it are done: a poll
        # cut by its timeout keeps what was published so far (those entries are seen next
        # time), instead of throwing away every page it fetched.
        tasks = [asyncio.create_task(self._entry_record(source, e)) for e, _ in fresh]
        for task in tasks:  # an error not awaited below (timeout) is not logged as lost
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        try:
            for (entry, keys), task in zip(fresh, tasks, strict=True):
                try:
                    record = await task
                except FetchError as exc:
                    self._page_failed(source, entry, keys, exc, result)
                    continue
                except Exception as exc:
                    # A bug met by one page (a codec, a parser) is a failure of that page, not
                    # of the poll: the other pages are still published.
                    self._page_crashed(source, entry.url, exc, result)
                    continue
                self.page_attempts.pop(keys[0], None)
                page_url = record["url"]
                if page_url != entry.url:  # redirected: the final URL is known too
                    keys.append(seen_key(article_id_for_url(page_url)))
                await self._submit(source, record, keys, result, commit)
        finally:
            for task in tasks:
                task.cancel()  # only those still running: cut by the poll's timeout
        if result.errors:
            result.outcome = "partial"

    def _page_failed(self, source: SourceConfig, entry: FeedEntry, keys: list[str],
                     exc: FetchError, result: PollResult) -> None:
        if isinstance(exc, RobotsDenied):
            # Counted in metrics; looked at again once robots.txt is read again. Why it was
            # refused is what it was then (on the hop that was refused), not what the cache
            # says now: robots.txt may have been read again meanwhile.
            expires = exc.expires if exc.expires is not None else self.http.robots.expires(
                entry.url)
            self._deny(keys[0], expires, exc.unreachable)
            self._denied(entry.url, exc.unreachable, result, exc)
            return
        if isinstance(exc, HttpClientError) and exc.status in PAGE_MISSING_STATUSES:
            tries = self.page_attempts.pop(keys[0], 0) + 1
            if tries < PAGE_MISSING_ATTEMPTS:
                if len(self.page_attempts) >= self.settings.fetch_state_max_entries:
                    del self.page_attempts[next(iter(self.page_attempts))]  # the oldest
                self.page_attempts[keys[0]] = tries
                result.errors.append(f"{exc} (attempt {tries} of {PAGE_MISSING_ATTEMPTS}, "
                                     "will retry next poll)")
                result.retry_later = True
                return
        elif isinstance(exc, HttpClientError) and exc.retryable:  # 408, 429: passing
            result.errors.append(f"{exc} (will retry next poll)")
            result.retry_later = True
            return
        if isinstance(exc, FINAL_PAGE_ERRORS):
            log.warning("source %s: dropping %s: %s", source.id, entry.url, exc.reason)
            self.write_state(self.state.mark_seen(keys))  # never published, never retried
            result.dropped.append(f"{entry.url}: {exc.reason}")
            return
        result.errors.append(f"{exc} (will retry next poll)")
        result.retry_later = True

    def _page_crashed(self, source: SourceConfig, url: str, exc: Exception,
                      result: PollResult) -> None:
        log.error("source %s: unexpected error on page %s", source.id, url,
                  exc_info=(type(exc), exc, exc.__traceback__))
        result.errors.append(f"{url}: unexpected {type(exc).__name__}: {exc} "
                             "(will retry next poll)")
        result.retry_later = True

    def _denied(self, url: str, unreachable: bool, result: PollResult,
                exc: RobotsDenied | None = None) -> None:
        """An entry robots.txt refuses. Refused by its rules: counted, not a failure. Refused
        because robots.txt could not be read (RFC 9309's temporary full disallow): an error
        of the poll, and the listing's validators are not stored, so the next poll reads it
        in full and tries the entry again instead of getting a 304 that hides it."""
        if not unreachable:
            result.denied += 1
            return
        reason = exc.reason if exc is not None else "robots.txt unreachable"
        result.errors.append(f"{url}: {reason} (will retry next poll)")
        result.retry_later = True

    def _deny(self, key: str, until: float, unreachable: bool) -> None:
        if len(self.robots_denied) >= self.settings.fetch_state_max_entries:
            now = time.monotonic()  # bounded: entries that left their listings expire here
            self.robots_denied = {k: v for k, v in self.robots_denied.items() if v[0] >= now}
        self.robots_denied[key] = (until, unreachable)

    def _robots_denied(self, key: str) -> bool | None:
        """None when ``key`` is not refused (any more), else whether it is refused only
        because robots.txt was unreachable."""
        denial = self.robots_denied.get(key)
        if denial is not None and denial[0] < time.monotonic():
            del self.robots_denied[key]
            return None
        return denial[1] if denial is not None else None

    async def _entry_record(self, source: SourceConfig, entry: FeedEntry) -> dict[str, Any]:
        if entry.content or not source.fetch_pages:
            body = entry.content or entry.summary or ""
            return raw_article(source, entry.url, body, "text/html", title=entry.title,
                               published_at=entry.published_at, entry=entry)
        # Moves of article pages are not remembered: a page is fetched once, and remembering
        # every article's redirect would grow the state without bound. The seen-set keeps both
        # the entry URL and the final URL instead.
        page = await self.http.get(entry.url, kind="page", source=source.id,
                                   headers=source.headers, respect_robots=source.respect_robots)
        metrics.FETCHED_BYTES.labels(source.id).inc(len(page.content))
        return raw_article(
            source, page.url, page.text, page.content_type or "text/html",
            title=entry.title, published_at=entry.published_at, encoding=page.encoding,
            http={"status": page.status, "etag": page.etag, "last_modified": page.last_modified},
            entry=entry,
        )



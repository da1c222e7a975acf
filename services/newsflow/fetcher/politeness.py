"""Politeness: per-host concurrency and spacing, and robots.txt.

Each host gets a semaphore (at most ``fetch_host_concurrency`` requests at once) and a minimum
gap between request starts: the larger of ``fetch_host_min_delay_seconds`` and the robots.txt
``Crawl-delay``, the latter capped at ``fetch_max_crawl_delay_seconds`` (a day-long delay would
stall the host's sources for good; large crawlers cap it too). The gate is per host, not per
source, because several sources often live on one site.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from protego import Protego

# RFC 9309 §2.5: a crawler must parse at least the first 500 KiB of a robots.txt.
ROBOTS_MAX_BYTES = 500 * 1024

log = logging.getLogger(__name__)


@dataclass
class _Host:
    semaphore: asyncio.Semaphore
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0
    delay: float = 0.0
    asked: float | None = None  # the robots.txt Crawl-delay last seen, so a cap is told once


class HostGates:
    def __init__(self, concurrency: int, min_delay: float,
                 max_crawl_delay: float = math.inf) -> None:
        self.concurrency = concurrency
        self.min_delay = min_delay
        self.max_crawl_delay = max_crawl_delay
        self.hosts: dict[str, _Host] = {}

    def _host(self, host: str) -> _Host:
        if host not in self.hosts:
            self.hosts[host] = _Host(asyncio.Semaphore(self.concurrency), delay=self.min_delay)
        return self.hosts[host]

    def set_crawl_delay(self, host: str, seconds: float | None) -> None:
        state = self._host(host)
        asked = seconds if seconds is not None and not math.isnan(seconds) else 0.0
        if asked > self.max_crawl_delay and asked != state.asked:
            log.warning("robots.txt of %s asks for a Crawl-delay of %g s: waiting %g s "
                        "(NEWSFLOW_FETCH_MAX_CRAWL_DELAY_SECONDS) between its requests instead",
                        host, asked, self.max_crawl_delay)
        state.asked = asked
        state.delay = max(self.min_delay, min(asked, self.max_crawl_delay))

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of the host's request slots, started no sooner than its delay allows."""
        state = self._host(host)
        async with state.semaphore:
            async with state.lock:
                wait = state.next_start - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                state.next_start = time.monotonic() + state.delay
            yield


@dataclass
class Robots:
    parser: Protego | None  # None: no rules (missing robots.txt)
    disallow_all: bool
    expires: float
    reason: str = ""  # why everything is disallowed (e.g. "robots.txt unreachable: HTTP 503")

    def allowed(self, url: str, agent: str) -> bool:
        if self.disallow_all:
            return False
        return self.parser is None or bool(self.parser.can_fetch(url, agent))

    def crawl_delay(self, agent: str) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(agent)
        return float(delay) if delay is not None else None


def parse_robots(status: int | None, text: str, ttl: float, now: float,
                 failure: str = "") -> Robots:
    """RFC 9309 (protego: ``*`` and ``$`` wildcards, longest match wins): 2xx → the rules;
    4xx → no rules; 5xx or unreachable → assume full disallow (retried after a short while,
    not the whole TTL). ``failure`` says why it could not be read."""
    if status is not None and 200 <= status < 300:
        return Robots(Protego.parse(text), False, now + ttl)
    if status is not None and 400 <= status < 500:
        return Robots(None, False, now + ttl)
    reason = f"robots.txt unreachable ({failure or f'HTTP {status}'}): everything disallowed"
    return Robots(None, True, now + min(ttl, 60.0), reason)


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


# (status or None when unreachable, text, why it could not be read)
RobotsLoader = Callable[[str], Awaitable[tuple[int | None, str, str]]]


class RobotsCache:
    """robots.txt per scheme+host, fetched on first use and refreshed after ``ttl`` seconds."""

    def __init__(self, agent: str, ttl: float, load: RobotsLoader) -> None:
        self.agent = agent
        self.ttl = ttl
        self.load = load
        self.entries: dict[str, Robots] = {}
        self.locks: dict[str, asyncio.Lock] = {}

    def expires(self, url: str) -> float:
        """When the robots.txt of ``url``'s host is read again (monotonic); soon if unknown."""
        entry = self.entries.get(robots_url(url))
        return entry.expires if entry is not None else time.monotonic() + 60.0

    def unreachable(self, url: str) -> bool:
        """Whether ``url``'s host is disallowed only because its robots.txt could not be read
        (RFC 9309: a temporary full disallow), not by its rules."""
        entry = self.entries.get(robots_url(url))
        return entry is not None and entry.disallow_all

    async def get(self, url: str) -> Robots:
        key = robots_url(url)
        lock = self.locks.setdefault(key, asyncio.Lock())
        async with lock:  # one fetch per host even when many pages ask at once
            entry = self.entries.get(key)
            if entry is None or entry.expires < time.monotonic():
                status, text, failure = await self.load(key)
                entry = parse_robots(status, text, self.ttl, time.monotonic(), failure)
                self.entries[key] = entry
            return entry

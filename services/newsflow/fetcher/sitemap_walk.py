"""One poll of a sitemap source: the root, and for an index its children, recursively.

Indexes of indexes are real (big sites shard by year, then by month), so children are followed
to ``max_depth`` levels, children without ``lastmod`` first (most often the constantly
regenerated news sitemap), then newest ``lastmod`` first, and at most ``budget`` child sitemaps
are requested per poll (the oldest archives beyond it are not read). Each child is fetched on its own:
one that fails is recorded and its siblings still count.

Only urlsets keep their validators (conditional GET). An index is read in full every poll: a
304 on it would skip its children, yet a child that failed last time, or gained URLs without
the index's ``lastmod`` changing (common), must still be read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from newsflow.errors import BodyTooLarge, FetchError, FetchTooLarge
from newsflow.fetcher.content import inflate
from newsflow.fetcher.http import Response
from newsflow.fetcher.raw import FeedEntry
from newsflow.fetcher.sitemaps import parse_sitemap
from newsflow.fetcher.state import StateChange

log = logging.getLogger(__name__)
# A listing URL with conditional GET: (None, []) when not modified.
ListingFetch = Callable[[str], Awaitable[tuple[Response | None, list[StateChange]]]]


def gunzip(content: bytes, limit: int) -> bytes:
    """sitemap.xml.gz files are gzip without a Content-Encoding: inflate under the cap."""
    if content[:2] != b"\x1f\x8b":
        return content
    try:
        return inflate(content, "gzip", limit)
    except BodyTooLarge as exc:
        raise FetchTooLarge("sitemap", str(exc)) from exc


@dataclass
class SitemapWalk:
    fetch: ListingFetch
    max_bytes: int
    max_depth: int  # index levels followed below the root
    budget: int  # child sitemaps requested per poll
    entries: list[FeedEntry] = field(default_factory=list)
    changes: list[StateChange] = field(default_factory=list)
    failures: list[tuple[str, FetchError | ValueError]] = field(default_factory=list)
    children_read: int = 0
    over_budget: int = 0  # children beyond the budget (the oldest), not read
    too_deep: int = 0  # children below max_depth, never followed
    visited: set[str] = field(default_factory=set)

    async def run(self, root: Response, changes: list[StateChange]) -> None:
        """Read ``root`` (already fetched; ``changes`` are its validators) and what it lists.
        Raises for the root itself, like any listing; children's errors go to ``failures``."""
        self.visited.add(root.url)
        if await self._read(root, 0):  # a urlset
            self.changes += changes
        self.entries.sort(key=lambda e: e.published_at or "", reverse=True)

    async def _read(self, response: Response, depth: int) -> bool:
        """Read one sitemap and, for an index, its children; True for a urlset (whose
        validators may be kept)."""
        sitemap = await asyncio.to_thread(parse_sitemap, gunzip(response.content, self.max_bytes),
                                          response.url, response.content_type_header)
        if sitemap.repair:
            log.warning("sitemap %s is not well-formed XML (%s)", response.url, sitemap.repair)
        self.entries += sitemap.entries
        for url in sitemap.children:
            if url in self.visited:  # an index listing itself or an ancestor
                continue
            if depth >= self.max_depth:
                self.too_deep += 1
                continue
            if self.budget <= 0:
                self.over_budget += 1
                continue
            self.visited.add(url)
            self.budget -= 1
            try:
                child, changes = await self.fetch(url)
                if child is not None and not await self._read(child, depth + 1):
                    changes = []  # an index
            except (FetchError, ValueError) as exc:
                self.failures.append((url, exc))
                continue
            self.children_read += 1
            self.changes += changes
        return not sitemap.index

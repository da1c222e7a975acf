"""Restart-safe fetcher state, kept in a compacted Kafka topic (``news.fetcher-state.v1``).

What is remembered, one keyed entry each (the latest value per key wins, so compaction keeps
the topic as small as the state itself):

- ``seen:<article id>`` and ``guid:<source>:<hash>`` — published articles, so a restarted
  fetcher does not publish them again (``file:`` keys of directory sources stay in memory:
  a new process re-reads its folders, see README "Sources file");
- ``http:<url>`` — ETag / Last-Modified of a listing URL, for conditional GET;
- ``moved:<url>`` — a permanent redirect (301/308) target;
- ``retired:<source>`` — a source that answered 410 Gone, with the reason and its configured
  URL.

Loading: ``topics.read_back`` writes a unique sentinel, notes the offset the broker acknowledged
for it, and reads the topic from the beginning until it has seen that offset. It never trusts
the broker's reported end offset (under-reported on some brokers, see docs/architecture.md),
and gives up with an error after ``fetch_state_load_timeout_seconds``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from newsflow.codecs import FETCHER_STATE
from newsflow.config import Settings
from newsflow.fetcher.http import Validators
from newsflow.fetcher.publisher import Publisher
from newsflow.topics import read_back

log = logging.getLogger(__name__)
StateChange = tuple[str, dict[str, Any] | None]


def guid_key(source: str, guid: str) -> str:
    return f"guid:{source}:{hashlib.sha256(guid.encode('utf-8')).hexdigest()[:32]}"


def seen_key(article_id: str) -> str:
    return f"seen:{article_id}"


class FetcherState:
    """The in-memory view; every change is also returned as a (key, value) to persist."""

    def __init__(self, max_seen: int) -> None:
        self.max_seen = max_seen
        self.seen: OrderedDict[str, float] = OrderedDict()
        self.validators: dict[str, Validators] = {}
        self.moved: dict[str, str] = {}
        self.retired: dict[str, str] = {}
        # The source's configured URL when it was retired (entries since 1 Dec): a source
        # whose URL the sources file now gives differently is polled again.
        self.retired_urls: dict[str, str] = {}

    def apply(self, key: str, value: dict[str, Any] | None) -> None:
        kind, _, rest = key.partition(":")
        # rejected: a file sent to the dead-letter topic (never persisted, so once a process).
        if kind in ("seen", "guid", "file", "rejected"):
            if value is None:
                self.seen.pop(key, None)
            else:
                self._remember(key, float(value.get("t", 0.0)))
        elif kind == "http":
            if value is None:
                self.validators.pop(rest, None)
            else:
                self.validators[rest] = Validators(value.get("etag"), value.get("last_modified"),
                                                   value.get("url"))
        elif kind == "moved":
            if value is None:
                self.moved.pop(rest, None)
            else:
                self.moved[rest] = str(value["to"])
        elif kind == "retired":
            self.retired_urls.pop(rest, None)
            if value is None:
                self.retired.pop(rest, None)
            else:
                self.retired[rest] = str(value.get("reason", "retired"))
                if value.get("url"):
                    self.retired_urls[rest] = str(value["url"])

    def _remember(self, key: str, at: float) -> None:
        self.seen[key] = at
        self.seen.move_to_end(key)
        while len(self.seen) > self.max_seen:  # bounded: the oldest memories go first
            self.seen.popitem(last=False)

    def is_seen(self, key: str) -> bool:
        return key in self.seen

    def mark_seen(self, keys: list[str]) -> list[StateChange]:
        now = time.time()
        changes: list[StateChange] = [(key, {"t": now}) for key in keys]
        for key, value in changes:
            self.apply(key, value)
        return changes

    def validators_change(self, url: str, validators: Validators,
                          answered_by: str | None = None) -> list[StateChange]:
        """The entry that stores a listing's validators, under the listing's own URL ``url``
        (one entry per listing, however often a redirect's target changes), with the URL that
        answered (``answered_by``) when a temporary redirect led elsewhere: none when they are
        the ones already stored (a server that ignores conditional requests answers 200 with
        the same ETag on every poll: nothing is rewritten then); a deletion when the answer has
        none but some are stored (a server that stopped sending them must not get the old
        ones back forever). Not applied here: the caller stores it once the listing's articles
        are acknowledged."""
        if not (validators.etag or validators.last_modified):
            return [(f"http:{url}", None)] if url in self.validators else []
        target = answered_by if answered_by != url else None
        stored = Validators(validators.etag, validators.last_modified, target)
        if self.validators.get(url) == stored:
            return []
        value: dict[str, Any] = {"etag": stored.etag, "last_modified": stored.last_modified}
        if target is not None:
            value["url"] = target
        return [(f"http:{url}", value)]

    def validators_for(self, listing: str) -> Callable[[str], Validators | None]:
        """For each hop of a request for ``listing``, the validators to send: those stored for
        it, on the hop that answered with them."""
        stored = self.validators.get(listing)

        def for_hop(hop: str) -> Validators | None:
            return stored if stored is not None and hop == (stored.url or listing) else None
        return for_hop

    def set_moved(self, old: str, new: str) -> list[StateChange]:
        if self.moved.get(old) == new:
            return []
        change: StateChange = (f"moved:{old}", {"to": new})
        self.apply(*change)
        return [change]

    def resolve(self, url: str) -> str:
        """Where permanent redirects say the URL now lives (chains followed, loops cut)."""
        hops = 0
        while url in self.moved and hops < 10:
            url, hops = self.moved[url], hops + 1
        return url

    def retire(self, source: str, reason: str, url: str | None = None) -> list[StateChange]:
        """``url``: the source's URL as configured, so that a new one re-enables it."""
        value: dict[str, Any] = {"reason": reason, "t": time.time()}
        if url:
            value["url"] = url
        change: StateChange = (f"retired:{source}", value)
        self.apply(*change)
        return [change]

    def unretire(self, source: str) -> list[StateChange]:
        if source not in self.retired:
            return []
        change: StateChange = (f"retired:{source}", None)
        self.apply(*change)
        return [change]


def load_state(settings: Settings, publisher: Publisher, state: FetcherState) -> int:
    """Read the state topic into ``state`` up to a freshly written sentinel; returns entries read.

    Blocking (kafka-python): run it in a thread. Raises TimeoutError if the sentinel is not read
    back in time — starting without the state would re-publish everything.
    """
    count = 0
    for message in read_back(settings, publisher.producer, settings.topic_fetcher_state, [0],
                             settings.fetch_state_load_timeout_seconds,
                             client_id="newsflow-fetcher-state"):
        key = message.key.decode("utf-8") if message.key else ""
        try:
            state.apply(key, FETCHER_STATE.decode(message.value))
            count += 1
        except ValueError as exc:  # one bad entry must not stop the fetcher
            log.warning("fetcher state entry %s skipped: %s", key, exc)
    return count

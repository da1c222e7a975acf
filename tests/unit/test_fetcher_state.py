"""The fetcher's restart-safe state: what is remembered, how it replays, how it stays bounded."""

from __future__ import annotations

import pytest

from newsflow.fetcher.http import Validators
from newsflow.fetcher.state import FetcherState, guid_key, seen_key

pytestmark = pytest.mark.clock


def test_changes_replay_into_an_equal_state() -> None:
    first = FetcherState(max_seen=1000)
    log = []
    log += first.mark_seen([seen_key("a1"), guid_key("wire", "guid-1")])
    log += first.validators_change("https://x.example/feed", Validators('"v1"', None))
    log += first.set_moved("https://x.example/old", "https://x.example/new")
    log += first.set_moved("https://x.example/new", "https://x.example/newest")
    log += first.retire("gone-source", "HTTP 410 Gone")
    log += first.retire("moved-source", "HTTP 410 Gone", "https://x.example/feed.xml")
    log += first.retire("back-source", "HTTP 410 Gone", "https://x.example/back.xml")
    log += first.unretire("back-source")
    assert first.unretire("never-retired") == []
    restarted = FetcherState(max_seen=1000)
    for key, value in log:
        restarted.apply(key, value)
    assert restarted.is_seen(seen_key("a1")) and restarted.is_seen(guid_key("wire", "guid-1"))
    assert not restarted.is_seen(seen_key("a2"))
    assert restarted.validators["https://x.example/feed"].etag == '"v1"'
    assert restarted.resolve("https://x.example/old") == "https://x.example/newest"
    assert restarted.retired == {"gone-source": "HTTP 410 Gone", "moved-source": "HTTP 410 Gone"}
    # The URL it was retired under (an entry from before 1 Dec has none).
    assert restarted.retired_urls == {"moved-source": "https://x.example/feed.xml"}


def test_unchanged_validators_and_moves_write_nothing() -> None:
    state = FetcherState(max_seen=1000)
    stamped = Validators(None, "Fri, 20 Nov 2026 08:00:00 GMT")
    [change] = state.validators_change("u", stamped)
    assert state.validators == {}  # stored only once the listing's articles are acknowledged
    state.apply(*change)
    assert state.validators_change("u", stamped) == []
    # none sent: the stored ones are deleted (and nothing is written when none are stored)
    assert state.validators_change("u", Validators(None, None)) == [("http:u", None)]
    assert state.validators_change("other", Validators(None, None)) == []
    assert state.validators_change("u", Validators('"v2"', None)) == [
        ("http:u", {"etag": '"v2"', "last_modified": None})]
    assert state.set_moved("a", "b") and state.set_moved("a", "b") == []


def test_redirect_loops_in_memory_do_not_hang() -> None:
    state = FetcherState(max_seen=1000)
    state.set_moved("a", "b")
    state.set_moved("b", "a")
    assert state.resolve("a") in ("a", "b")


def test_seen_set_is_bounded_oldest_first() -> None:
    state = FetcherState(max_seen=1000)
    state.mark_seen([seen_key(str(n)) for n in range(1500)])
    assert len(state.seen) == 1000
    assert not state.is_seen(seen_key("0")) and state.is_seen(seen_key("1499"))


def test_validators_behind_a_changing_redirect_keep_one_entry_per_listing() -> None:
    state = FetcherState(max_seen=1000)
    listing = "https://w.example/feed"
    for n in range(5):  # a signed CDN URL: a new target on every poll
        target = f"https://cdn.example/feed.xml?sig={n}"
        for key, value in state.validators_change(listing, Validators(f'"v{n}"'), target):
            assert key == f"http:{listing}"
            state.apply(key, value)
    assert list(state.validators) == [listing]
    for_hop = state.validators_for(listing)
    assert for_hop(listing) is None  # not sent to the redirector
    assert for_hop("https://cdn.example/feed.xml?sig=4") == Validators('"v4"', None,
                                                                      "https://cdn.example/feed.xml?sig=4")
    assert for_hop("https://cdn.example/feed.xml?sig=3") is None
    # Answered by the listing URL itself: stored without a target, sent on the first hop.
    state.apply(*state.validators_change(listing, Validators('"v9"'), listing)[0])
    assert state.validators_for(listing)(listing) == Validators('"v9"')

"""The MinHash band table in flat arrays answers as a dict multi-map does, merged or not."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

import numpy as np
import pytest

from newsflow.core.bandtable import BandTable
from newsflow.core.recentkeys import RecentKeys


@pytest.mark.parametrize("key_dtype", [np.uint64, np.uint32])
def test_lookups_match_a_dict_multimap_through_merges_and_removals(key_dtype: Any) -> None:
    rng = random.Random(5)
    # merges every few articles
    table = BandTable(merge_min=20, merge_fraction=4, key_dtype=key_dtype)
    bits = np.dtype(key_dtype).itemsize * 8
    reference: dict[int, set[int]] = defaultdict(set)
    filed: dict[int, list[int]] = {}
    live: set[int] = set()
    merges = 0
    for slot in range(600):
        # signed and unsigned 64-bit keys, some shared between articles (copies share bands)
        keys = [rng.choice([rng.getrandbits(bits) - (1 << (bits - 1)), rng.randrange(40)])
                for _ in range(8)]
        before = len(table.tags)
        table.add(keys, slot)
        merges += len(table.tags) != before
        filed[slot] = keys
        live.add(slot)
        for key in keys:
            reference[key].add(slot)
        if rng.random() < 0.6:  # forget an older article, merged or still in the delta
            gone = rng.choice(sorted(live))
            live.discard(gone)
            table.remove(filed[gone], gone)
            for key in filed[gone]:
                reference[key].discard(gone)
        probe = rng.choice(list(filed.values()))
        found = {s for s in table.lookup(probe) if s in live}
        assert found == set().union(*(reference[key] for key in probe))
    assert merges > 10
    # dead keys do not pile up: the arrays hold live keys plus those removed since a merge
    assert len(table) <= 8 * (len(live) + 600 // 4)


def test_a_key_filed_twice_by_one_article_returns_its_slot() -> None:
    table = BandTable(merge_min=1)
    table.add([7, 7, 9], 0)
    table.add([7], 1)
    assert sorted(set(table.lookup([7]))) == [0, 1]
    table.remove([7], 1)
    assert set(table.lookup([9])) == {0}


def test_recent_keys_match_a_dict_multimap_as_they_grow() -> None:
    rng = random.Random(6)
    recent = RecentKeys(np.uint32)
    reference: dict[int, list[int]] = defaultdict(list)
    for slot in range(3000):  # several doublings of the arrays and their chains
        # keys sharing low bits form chains; a key may be filed twice for one slot
        for key in [rng.getrandbits(32), rng.randrange(50) << 20, rng.randrange(50) << 20]:
            recent.add(key, slot)
            reference[key].append(slot)
        if rng.random() < 0.5:
            key = rng.choice(list(reference))
            if reference[key]:
                gone = rng.choice(reference[key])
                assert recent.remove(key, gone)
                reference[key].remove(gone)
        assert not recent.remove(rng.getrandbits(32) | 1 << 31, slot + 1)
        probe = rng.choice(list(reference))
        found: list[int] = []
        recent.find(probe, found)
        assert sorted(found) == sorted(reference[probe])
    assert len(recent) == sum(len(slots) for slots in reference.values())
    keys, slots = recent.entries()
    assert sorted(zip(keys.tolist(), slots.tolist(), strict=True)) == sorted(
        (key, slot) for key, filed in reference.items() for slot in filed)
    recent.clear()
    found = []
    recent.find(probe, found)
    assert not found and not len(recent)


def test_recent_keys_stay_bounded_when_articles_are_forgotten_before_a_merge() -> None:
    # A short window: each article is forgotten while its keys are still recent, so the live
    # recent keys (800) never reach the merge bar, while 48,000 keys are filed in all.
    rng = random.Random(7)
    table = BandTable(merge_fraction=64, key_dtype=np.uint32)
    filed: dict[int, list[int]] = {}
    for slot in range(3000):
        filed[slot] = [rng.getrandbits(32) for _ in range(16)]
        table.add(filed[slot], slot)
        if len(filed) > 50:
            oldest = min(filed)
            table.remove(filed.pop(oldest), oldest)
    assert not len(table.tags)  # never merged: every key stayed recent
    assert len(table) == 800
    assert len(table.delta.keys) <= 4 * 800  # the arrays hold live keys, not all ever filed
    # compaction keeps the live keys in the order they were filed, which a merge relies on
    assert table.delta.items() == [(key, slot) for slot in sorted(filed) for key in filed[slot]]
    for slot, keys in filed.items():
        assert set(table.lookup(keys)) == {slot}
    assert not table.lookup([rng.getrandbits(32) for _ in range(64)])

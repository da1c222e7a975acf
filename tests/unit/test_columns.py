"""The dedupe index's storage blocks answer as the Python containers they replace do: the
numpy hash table as a dict, the postings as a dict of story counters (through merges and
removals), the byte arena as a list of bytes (through compactions), the expiry queue as a heap."""

from __future__ import annotations

import heapq
import random
from collections import Counter, defaultdict

import numpy as np
import pytest

from newsflow.core.arena import Arena, Columns
from newsflow.core.expiry import ExpiryQueue
from newsflow.core.keytable import KeyTable
from newsflow.core.postings import Postings, posting_key
from newsflow.core.rowtable import RowTable


def test_key_table_matches_a_dict_through_growth_and_removals() -> None:
    rng = random.Random(3)
    table = KeyTable()
    reference: dict[int, int] = {}
    for n in range(5000):
        # some keys share their low bits, so probe runs form and removals must shift them back
        key = rng.choice([rng.getrandbits(64), rng.randrange(1, 64) << 40 | 7])
        table.set(key, n)
        reference[key] = n
        if rng.random() < 0.4 and len(reference) > 1:
            gone = rng.choice(list(reference))
            assert table.pop(gone) == reference.pop(gone)
        probe = rng.choice(list(reference))
        assert table.get(probe) == reference[probe]
        assert table.get(rng.getrandbits(64)) == -1
    assert len(table) == len(reference)
    assert sorted(table) == sorted(reference)
    assert all(table.get(key) == value for key, value in reference.items())
    probes = list(reference) + [rng.getrandbits(64) for _ in range(500)]
    assert table.get_many(probes) == [reference.get(key, -1) for key in probes]


def test_row_table_matches_a_dict_through_growth_removals_and_column_growth() -> None:
    rng = random.Random(5)
    rows = Columns({"key": np.uint64})
    table = RowTable(rows, "key")
    reference: dict[int, int] = {}  # key -> row
    for _ in range(5000):
        # some keys share their low bits, so probe runs form and removals must shift them back
        key = rng.choice([rng.getrandbits(64), rng.randrange(1, 64) << 40 | 7])
        if key in reference:  # a newer row takes the key over; the old row is freed
            rows.release(reference[key])
        row = rows.allocate()  # freed rows come back, and the column's arrays are replaced
        rows.columns["key"][row] = key
        table.set(key, row)
        reference[key] = row
        if rng.random() < 0.4 and len(reference) > 1:
            gone = rng.choice(list(reference))
            assert table.pop(gone) == reference[gone]
            rows.release(reference.pop(gone))
        probe = rng.choice(list(reference))
        assert table.get(probe) == reference[probe]
        assert table.get(rng.getrandbits(64)) == -1
    assert len(table) == len(reference)
    assert sorted(table) == sorted(reference)
    assert sorted(table.filed_rows()) == sorted(reference.values())
    assert all(table.get(key) == row for key, row in reference.items())
    probes = [*reference, rng.getrandbits(64), rng.randrange(1, 64) << 40 | 7]
    assert table.get_many(probes) == [reference.get(key, -1) for key in probes]


@pytest.mark.parametrize("bucket_bits", [16, 32])
def test_postings_match_a_dict_of_story_counts_through_merges(bucket_bits: int) -> None:
    rng = random.Random(4)
    # merges every few articles
    postings = Postings(merge_min=40, merge_fraction=4, bucket_bits=bucket_bits)
    reference: dict[int, Counter[int]] = defaultdict(Counter)
    filed: list[tuple[list[int], int]] = []
    merges = 0
    for _ in range(3000):
        # common terms (many stories under one key, more than the limit) and rare ones
        terms = {rng.choice([rng.randrange(5), rng.randrange(5, 4000)]) for _ in range(6)}
        # buckets whose low 16 bits differ (a window never spans 2^16 of them)
        keys = [posting_key(term, rng.randrange(3) * 40_000) for term in sorted(terms)]
        keys = list(dict.fromkeys(keys))
        story = rng.randrange(400)
        before = len(postings.stories)
        # the story's first member again: its pairs are not searched for
        postings.add(keys, story, first=not any(s == story for _, s in filed))
        merges += len(postings.stories) != before
        filed.append((keys, story))
        for key in keys:
            reference[key][story] += 1
        if rng.random() < 0.7:  # forget an article: merged, in the dict, or both kinds
            keys, story = filed.pop(rng.randrange(len(filed)))
            postings.remove(keys, story)
            for key in keys:
                reference[key][story] -= 1
                reference[key] = +reference[key]
        probe = [posting_key(term, bucket * 40_000) for term in (0, rng.randrange(5, 4000))
                 for bucket in range(3)]
        expected = [story for key in probe if 0 < len(reference[key]) <= 16
                    for story in reference[key]]
        assert sorted(postings.stories_of(probe, 16)) == sorted(expected)
    assert merges > 10
    assert len(postings) == sum(1 for stories in reference.values() if stories)


def test_arena_keeps_every_rows_bytes_through_compactions() -> None:
    rng = random.Random(5)
    arena = Arena()
    reference: dict[int, bytes] = {}
    for _ in range(20000):
        row = rng.randrange(2000)
        data = rng.randbytes(rng.randrange(1, 200))
        arena.put(row, data)
        reference[row] = data
        if rng.random() < 0.5 and reference:
            gone = rng.choice(list(reference))
            arena.drop(gone)
            del reference[gone]
    assert all(arena.get(row) == data for row, data in reference.items())
    assert len(arena.buffer) <= 2 * sum(map(len, reference.values()))  # holes are reclaimed


def test_expiry_queue_takes_out_what_a_heap_would_through_merges() -> None:
    rng = random.Random(6)
    queue = ExpiryQueue(merge_min=20, merge_fraction=4)  # merges every few pushes
    reference: list[int] = []
    clock = 1 << 40
    for _ in range(5000):
        clock += rng.randrange(3)
        time = clock - rng.randrange(50) if rng.random() < 0.2 else clock  # some arrive late
        row = rng.randrange(1 << 32)
        queue.push(time, row)
        heapq.heappush(reference, time << 32 | row)
        horizon = clock - rng.randrange(100, 300)
        expected = []
        while reference and reference[0] >> 32 < horizon:
            item = heapq.heappop(reference)
            expected.append((item >> 32, item & 0xFFFFFFFF))
        assert sorted(queue.pop_before(horizon)) == expected
        assert len(queue) == len(reference)

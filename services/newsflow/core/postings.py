"""Story postings in flat arrays: (term id, time bucket) -> {story: members filed under it}.

An article files its heaviest terms in its time bucket under its story, ~12 (key, story)
pairs an article once a story's reports share theirs. As dicts and lists of ints they cost
~0.6 KB an article; here a pair is 10 bytes in three arrays sorted by (term, bucket): the
bucket's low 16 bits, the 32-bit story row and a 32-bit count. The term is not stored per
pair: a directory by term id (``term_starts``) says where its pairs sit. Pairs new since the
last merge wait in a small dict (a key's only story packed in one int). A pair is in the
arrays or in the dict, never with members in both; a pair whose count falls to 0 in the
arrays stays there, ignored, until the next merge drops it, and is counted again if a member
comes back first (unless the story had no member left at all: its pairs then start again in
the dict). A merge copies the arrays once every ``1/merge_fraction`` of their pairs, in a
vectorised insert, never a sort of them. What a
look-up sees (the stories with members under a key) never depends on when merges ran.

Keys are ``posting_key(term, bucket)``; only the bucket's low ``bucket_bits`` are kept, so two
buckets ``2**bucket_bits`` apart share their pairs: the owner picks ``bucket_bits`` so that
this span is far longer than any window it remembers (16 bits of 24-hour buckets: 179 years).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

BUCKET_MASK = (1 << 32) - 1
SMALL = 32  # a key with more pairs than this is read by its range, not gathered
MEMBERS = (1 << 32) - 1  # the members of a packed recent pair
SCAN = 64  # a term with at most this many pairs is searched in a Python list, not in numpy


def posting_key(term: int, bucket: int) -> int:
    return (term << 32) | (bucket & BUCKET_MASK)


def _holds(recent: int | dict[int, int] | None, story: int) -> bool:
    """Whether a key's recent pairs (``Postings.delta``) include ``story``."""
    if recent is None:
        return False
    if isinstance(recent, int):
        return recent >> 32 == story
    return story in recent


class Postings:
    __slots__ = ("bucket_mask", "buckets", "counts", "delta", "delta_pairs", "key_mask",
                 "merge_fraction", "merge_min", "runs", "stories", "term_starts")

    def __init__(self, merge_min: int = 1 << 14, merge_fraction: int = 32,
                 bucket_bits: int = 16) -> None:
        if bucket_bits not in (16, 32):
            raise ValueError("bucket_bits is 16 or 32")
        dtype: type[np.unsignedinteger[Any]] = np.uint16 if bucket_bits == 16 else np.uint32
        self.bucket_mask = (1 << bucket_bits) - 1
        # a key as filed: its term and the kept bits of its bucket
        self.key_mask = ~BUCKET_MASK | self.bucket_mask
        # pairs of term t sit at [term_starts[t], term_starts[t + 1]), by bucket, then in the
        # order they were merged; later terms have none
        self.buckets: npt.NDArray[np.unsignedinteger[Any]] = np.zeros(0, dtype=dtype)
        self.stories: npt.NDArray[np.uint32] = np.zeros(0, dtype=np.uint32)
        self.counts: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self.term_starts: npt.NDArray[np.int64] = np.zeros(1, dtype=np.int64)
        # filed key -> new pairs: story << 32 | members for one story (most keys), else
        # {story: members}
        self.delta: dict[int, int | dict[int, int]] = {}
        self.delta_pairs = 0
        # filed keys with more than ``SMALL`` pairs in the arrays -> [start, end, pairs with
        # members]
        self.runs: dict[int, list[int]] = {}
        self.merge_min = merge_min
        self.merge_fraction = merge_fraction

    def _filed_keys(self) -> npt.NDArray[np.int64]:
        """The filed key of every pair in the arrays (term << 32 | kept bucket bits)."""
        starts = self.term_starts
        terms = np.repeat(np.arange(len(starts) - 1, dtype=np.int64), np.diff(starts))
        result: npt.NDArray[np.int64] = (terms << 32) | self.buckets.astype(np.int64)
        return result

    def __len__(self) -> int:
        """Keys with at least one story (a scan: for tests and reports)."""
        filed = self._filed_keys()
        return len(set(filed[self.counts > 0].tolist()) | set(self.delta))

    def __iter__(self) -> Iterator[int]:
        """Keys in storage order (the arrays, then the recent ones): equal only if laid out
        identically."""
        return iter(self._filed_keys().tolist() + list(self.delta))

    def _ranges(self, keys: list[int]) -> dict[int, tuple[int, int]]:
        """Filed key -> where its pairs sit in the arrays, [start, end), for the keys with any.

        A key with more pairs than ``SMALL`` (a common word's) is in ``runs``: one dict look-up.
        The others are searched by bucket within their term's pairs: in a Python list for a
        term with few pairs (most terms: names, rare words), by a binary search in numpy for
        one with many."""
        found: dict[int, tuple[int, int]] = {}
        by_term: dict[int, list[int]] = {}
        for key in keys:
            run = self.runs.get(key)
            if run is not None:
                found[key] = (run[0], run[1])
            else:
                by_term.setdefault(key >> 32, []).append(key)
        starts, buckets, mask = self.term_starts, self.buckets, self.bucket_mask
        last = len(starts) - 1
        for term, some in by_term.items():
            if term >= last:
                continue
            lo, hi = starts.item(term), starts.item(term + 1)
            if hi - lo <= SCAN:
                if hi == lo:
                    continue
                tags = buckets[lo:hi].tolist()
                for key in some:
                    tag = key & mask
                    start = bisect_left(tags, tag)
                    if start < len(tags) and tags[start] == tag:
                        found[key] = (lo + start, lo + bisect_right(tags, tag, start))
                continue
            wanted = np.array([key & mask for key in some], dtype=buckets.dtype)
            span = buckets[lo:hi]
            left = np.searchsorted(span, wanted, "left").tolist()
            right = np.searchsorted(span, wanted, "right").tolist()
            for key, start, end in zip(some, left, right, strict=True):
                if end > start:
                    found[key] = (lo + start, lo + end)
        return found

    def _locate(self, keys: list[int], story: int) -> dict[int, int]:
        """Filed key -> position in the arrays of the pair (key, ``story``), where there is
        one."""
        if not len(self.stories):
            return {}
        found: dict[int, int] = {}
        for key, (lo, hi) in self._ranges(keys).items():
            if hi - lo <= SCAN:
                members = self.stories[lo:hi].tolist()
                if story in members:
                    found[key] = lo + members.index(story)
                continue
            at = np.flatnonzero(self.stories[lo:hi] == story)
            if len(at):
                found[key] = lo + int(at[0])
        return found

    def _count(self, at: int, key: int, change: int) -> None:
        """Add ``change`` to the members of the pair at ``at`` (filed under ``key``), keeping
        its run's count of pairs with members."""
        members = self.counts.item(at)
        self.counts[at] = members + change
        run = self.runs.get(key)
        if run is not None and (members == 0 or members + change == 0):
            run[2] += 1 if members == 0 else -1

    def add(self, keys: list[int], story: int, first: bool = False) -> None:
        """One more member of ``story`` under each of ``keys`` (distinct). ``first``: the story
        has no other member, so none of its pairs in the arrays has members and the new ones
        go to the dict unsearched (a pair with no members is ignored, and dropped at the next
        merge: at most one pair of a key and story ever has members)."""
        mask = self.key_mask
        keys = [key & mask for key in keys]
        delta = self.delta
        rest = [] if first else [key for key in keys if not _holds(delta.get(key), story)]
        placed = self._locate(rest, story) if rest else {}
        for key in keys:
            at = placed.get(key)
            if at is not None:
                self._count(at, key, +1)
                continue
            recent = delta.get(key)
            if recent is None:
                delta[key] = story << 32 | 1
                self.delta_pairs += 1
            elif isinstance(recent, int):
                if recent >> 32 == story:
                    delta[key] = recent + 1
                else:
                    delta[key] = {recent >> 32: recent & MEMBERS, story: 1}
                    self.delta_pairs += 1
            else:
                members = recent.get(story, 0)
                if not members:
                    self.delta_pairs += 1
                recent[story] = members + 1
        if self.delta_pairs > max(self.merge_min, len(self.stories) // self.merge_fraction):
            self._merge()

    def remove(self, keys: list[int], story: int) -> None:
        """One member of ``story`` fewer under each of ``keys``."""
        mask = self.key_mask
        rest = []
        delta = self.delta
        for key in keys:
            key &= mask
            recent = delta.get(key)
            if not _holds(recent, story):
                rest.append(key)
            elif isinstance(recent, int):
                if recent & MEMBERS > 1:
                    delta[key] = recent - 1
                else:
                    del delta[key]
                    self.delta_pairs -= 1
            else:
                assert recent is not None
                members = recent[story]
                if members > 1:
                    recent[story] = members - 1
                    continue
                del recent[story]
                self.delta_pairs -= 1
                if len(recent) == 1:  # one story left: packed again
                    (other, left), = recent.items()
                    delta[key] = other << 32 | left
        if rest:
            for key, at in self._locate(rest, story).items():
                if self.counts.item(at) > 0:
                    self._count(at, key, -1)

    def stories_of(self, keys: list[int], limit: int) -> list[int]:
        """The stories under each of ``keys`` that has at most ``limit`` of them, one entry per
        (key, story): a key more common than that does not tell stories apart, and is skipped."""
        out: list[int] = []
        mask = self.key_mask
        keys = [key & mask for key in keys]
        ranges = self._ranges(keys) if len(self.stories) else {}
        counts, stories = self.counts, self.stories
        for key in keys:
            packed = self.delta.get(key)
            recent = (packed >> 32,) if isinstance(packed, int) else packed
            run = self.runs.get(key)
            if run is not None and run[2] > limit:
                continue  # too common already, whatever the dict holds
            span = ranges.get(key)
            if span is not None:
                lo, hi = span
                found = {story for story, members in zip(stories[lo:hi].tolist(),
                                                         counts[lo:hi].tolist(), strict=True)
                         if members > 0}
                if recent:
                    found.update(recent)
            elif recent:
                found = set(recent)
            else:
                continue
            if len(found) <= limit:
                out.extend(found)
        return out

    def _merge(self) -> None:
        """Drop the pairs with no members from the arrays and insert the dict's in key order."""
        filed, stories, counts = self._filed_keys(), self.stories, self.counts
        live = counts > 0
        if not live.all():
            filed, stories, counts = filed[live], stories[live], counts[live]
        pairs: list[tuple[int, int, int]] = []
        for key, recent in self.delta.items():
            if isinstance(recent, int):
                pairs.append((key, recent >> 32, recent & MEMBERS))
            else:
                pairs.extend((key, story, members) for story, members in recent.items())
        new_keys = np.array([p[0] for p in pairs], dtype=np.int64)
        new_stories = np.array([p[1] for p in pairs], dtype=np.uint32)
        new_counts = np.array([p[2] for p in pairs], dtype=np.int32)
        order = np.lexsort((new_stories, new_keys))
        new_keys, new_stories, new_counts = new_keys[order], new_stories[order], new_counts[order]
        at = np.searchsorted(filed, new_keys, side="right")
        filed = np.insert(filed, at, new_keys)
        self.stories = np.insert(stories, at, new_stories)
        self.counts = np.insert(counts, at, new_counts)
        del stories, counts
        self.delta = {}
        self.delta_pairs = 0
        self.buckets = (filed & self.bucket_mask).astype(self.buckets.dtype)
        terms = filed >> 32
        top = int(terms[-1]) + 2 if len(terms) else 1
        self.term_starts = np.searchsorted(terms, np.arange(top, dtype=np.int64)).astype(
            np.int64)
        del terms
        self.runs = {}
        if len(filed):  # sorted: a key's pairs are one run
            first = np.flatnonzero(np.concatenate(([True], filed[1:] != filed[:-1])))
            sizes = np.diff(np.append(first, len(filed)))
            big = sizes > SMALL
            for key, start, size in zip(filed[first[big]].tolist(), first[big].tolist(),
                                        sizes[big].tolist(), strict=True):
                self.runs[key] = [start, start + size, size]  # every pair has members now

"""Story postings in flat arrays: (term id, time bucket) -> {story: members filed under it}.

An article files its heaviest terms in its time bucket under its story, ~12 (key, story)
pairs an article once a story's reports share theirs. As dicts and lists of ints they cost
~0.6 KB an article; here a pair is 16 bytes in three arrays sorted by key (64-bit key, 32-bit
story row, 32-bit count), reached through a directory by term id, plus a small dict of pairs
new since the last merge. A pair is in the arrays or in the dict, never both; a pair whose
count falls to 0 in the arrays stays there, ignored, until the next merge drops it, and is
counted again if a member comes back first. A merge copies the arrays once every
``1/merge_fraction`` of their pairs, in a vectorised insert, never a sort of them. What a
look-up sees (the stories with members under a key) never depends on when merges ran."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

BUCKET_MASK = (1 << 32) - 1
SMALL = 32  # a key or term with more pairs than this is read by its range, not gathered


def posting_key(term: int, bucket: int) -> int:
    return (term << 32) | (bucket & BUCKET_MASK)


class Postings:
    __slots__ = ("counts", "delta", "delta_pairs", "keys", "merge_fraction", "merge_min",
                 "runs", "stories", "term_starts")

    def __init__(self, merge_min: int = 1 << 14, merge_fraction: int = 32) -> None:
        self.keys: npt.NDArray[np.uint64] = np.zeros(0, dtype=np.uint64)  # sorted
        self.stories: npt.NDArray[np.uint32] = np.zeros(0, dtype=np.uint32)
        self.counts: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        # pairs of term t sit at [term_starts[t], term_starts[t + 1]); later terms have none
        self.term_starts: npt.NDArray[np.int64] = np.zeros(1, dtype=np.int64)
        self.delta: dict[int, dict[int, int]] = {}  # key -> {story: members}, new pairs
        self.delta_pairs = 0
        # keys with more than ``SMALL`` pairs in the arrays -> [start, end, pairs with members]
        self.runs: dict[int, list[int]] = {}
        self.merge_min = merge_min
        self.merge_fraction = merge_fraction

    def __len__(self) -> int:
        """Keys with at least one story (a scan: for tests and reports)."""
        return len(set(self.keys[self.counts > 0].tolist()) | set(self.delta))

    def __iter__(self) -> Iterator[int]:
        """Keys in storage order (the arrays, then the recent ones): equal only if laid out
        identically."""
        return iter(self.keys.tolist() + list(self.delta))

    def _ranges(self, keys: list[int]) -> dict[int, tuple[int, int]]:
        """key -> where its pairs sit in the arrays, [start, end), for the keys with any.

        Cheap for the two kinds of keys there are: a key with more pairs than ``SMALL`` (a
        common word's) is in ``runs``, found by one dict look-up; the pairs of a term with few
        (most terms: names, rare words) are read in one vectorised gather; only a key with few
        pairs of a term with many needs a binary search."""
        starts, filed = self.term_starts, self.keys
        found: dict[int, tuple[int, int]] = {}
        by_term: dict[int, list[int]] = {}
        for key in keys:
            run = self.runs.get(key)
            if run is not None:
                found[key] = (run[0], run[1])
            else:
                by_term.setdefault(key >> 32, []).append(key)
        terms = [term for term in by_term if term < len(starts) - 1]
        if not terms:
            return found
        at = np.array(terms, dtype=np.int64)
        small: list[tuple[int, int]] = []
        wanted: list[int] = []
        searched: dict[int, list[int]] = {}
        for term, lo, hi in zip(terms, starts[at].tolist(), starts[at + 1].tolist(),
                                strict=True):
            if hi - lo > SMALL:
                searched[term] = by_term[term]
            elif hi > lo:
                small.append((lo, hi))
                wanted.extend(by_term[term])
        for term, some in searched.items():  # one search per term, for all its keys
            lo, hi = starts.item(term), starts.item(term + 1)
            at = (np.searchsorted(filed[lo:hi], np.array(some + [key + 1 for key in some],
                                                          dtype=np.uint64)) + lo).tolist()
            for n, key in enumerate(some):
                if at[n + len(some)] > at[n]:
                    found[key] = (at[n], at[n + len(some)])
        if small:
            spans = sorted(small)
            at = np.concatenate([np.arange(lo, hi) for lo, hi in spans])
            gathered = filed[at]
            hits = np.isin(gathered, np.array(wanted, dtype=np.uint64))
            for position, key in zip(at[hits].tolist(), gathered[hits].tolist(), strict=True):
                lo, hi = found.get(key, (position, position))
                found[key] = (min(lo, position), max(hi, position + 1))
        return found

    def _locate(self, keys: list[int], story: int) -> dict[int, int]:
        """key -> position in the arrays of the pair (key, ``story``), where there is one."""
        if not len(self.keys):
            return {}
        found: dict[int, int] = {}
        for key, (lo, hi) in self._ranges(keys).items():
            if hi - lo <= 8:
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

    def add(self, keys: list[int], story: int) -> None:
        """One more member of ``story`` under each of ``keys`` (distinct)."""
        placed = self._locate(keys, story)
        for key in keys:
            at = placed.get(key)
            if at is not None:
                self._count(at, key, +1)
                continue
            stories = self.delta.setdefault(key, {})
            members = stories.get(story, 0)
            if not members:
                self.delta_pairs += 1
            stories[story] = members + 1
        if self.delta_pairs > max(self.merge_min, len(self.keys) // self.merge_fraction):
            self._merge()

    def remove(self, keys: list[int], story: int) -> None:
        """One member of ``story`` fewer under each of ``keys``."""
        rest = []
        for key in keys:
            stories = self.delta.get(key)
            members = None if stories is None else stories.get(story)
            if members is None:
                rest.append(key)
                continue
            assert stories is not None
            if members > 1:
                stories[story] = members - 1
                continue
            del stories[story]
            self.delta_pairs -= 1
            if not stories:
                del self.delta[key]
        if rest:
            for key, at in self._locate(rest, story).items():
                if self.counts.item(at) > 0:
                    self._count(at, key, -1)

    def stories_of(self, keys: list[int], limit: int) -> list[int]:
        """The stories under each of ``keys`` that has at most ``limit`` of them, one entry per
        (key, story): a key more common than that does not tell stories apart, and is skipped."""
        out: list[int] = []
        ranges = self._ranges(keys) if len(self.keys) else {}
        counts, stories = self.counts, self.stories
        for key in keys:
            recent = self.delta.get(key)
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
        keys, stories, counts = self.keys, self.stories, self.counts
        live = counts > 0
        if not live.all():
            keys, stories, counts = keys[live], stories[live], counts[live]
        pairs = [(key, story, members) for key, by_story in self.delta.items()
                 for story, members in by_story.items()]
        new_keys = np.array([p[0] for p in pairs], dtype=np.uint64)
        new_stories = np.array([p[1] for p in pairs], dtype=np.uint32)
        new_counts = np.array([p[2] for p in pairs], dtype=np.int32)
        order = np.lexsort((new_stories, new_keys))
        new_keys, new_stories, new_counts = new_keys[order], new_stories[order], new_counts[order]
        at = np.searchsorted(keys, new_keys, side="right")
        self.keys = np.insert(keys, at, new_keys)
        self.stories = np.insert(stories, at, new_stories)
        self.counts = np.insert(counts, at, new_counts)
        self.delta = {}
        self.delta_pairs = 0
        terms = int(self.keys[-1] >> np.uint64(32)) + 2 if len(self.keys) else 1
        self.term_starts = np.searchsorted(
            self.keys >> np.uint64(32), np.arange(terms, dtype=np.uint64)).astype(np.int64)
        self.runs = {}
        if len(self.keys):
            unique, first, sizes = np.unique(self.keys, return_index=True, return_counts=True)
            big = sizes > SMALL
            for key, start, size in zip(unique[big].tolist(), first[big].tolist(),
                                        sizes[big].tolist(), strict=True):
                self.runs[key] = [start, start + size, size]  # every pair has members now

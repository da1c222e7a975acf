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

import numpy as np
import numpy.typing as npt

BUCKET_MASK = (1 << 32) - 1


def posting_key(term: int, bucket: int) -> int:
    return (term << 32) | (bucket & BUCKET_MASK)


class Postings:
    __slots__ = ("counts", "delta", "delta_pairs", "keys", "merge_fraction", "merge_min",
                 "stories", "term_starts")

    def __init__(self, merge_min: int = 1 << 14, merge_fraction: int = 32) -> None:
        self.keys: npt.NDArray[np.uint64] = np.zeros(0, dtype=np.uint64)  # sorted
        self.stories: npt.NDArray[np.uint32] = np.zeros(0, dtype=np.uint32)
        self.counts: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        # pairs of term t sit at [term_starts[t], term_starts[t + 1]); later terms have none
        self.term_starts: npt.NDArray[np.int64] = np.zeros(1, dtype=np.int64)
        self.delta: dict[int, dict[int, int]] = {}  # key -> {story: members}, new pairs
        self.delta_pairs = 0
        self.merge_min = merge_min
        self.merge_fraction = merge_fraction

    def __len__(self) -> int:
        """Keys with at least one story (a scan: for tests and reports)."""
        return len(set(self.keys[self.counts > 0].tolist()) | set(self.delta))

    def __iter__(self) -> object:
        """Keys in storage order (the arrays, then the recent ones): equal only if laid out
        identically."""
        return iter(self.keys.tolist() + list(self.delta))

    def _gather(self, terms: list[int]) -> npt.NDArray[np.int64]:
        """Positions in the arrays of every pair of ``terms``."""
        starts = self.term_starts
        limit = len(starts) - 1
        spans = [(starts.item(t), starts.item(t + 1)) for t in terms if t < limit]
        spans = [(lo, hi) for lo, hi in spans if hi > lo]
        if not spans:
            return np.zeros(0, dtype=np.int64)
        if len(spans) == 1:
            return np.arange(spans[0][0], spans[0][1], dtype=np.int64)
        return np.concatenate([np.arange(lo, hi, dtype=np.int64) for lo, hi in spans])

    def _locate(self, keys: list[int], story: int) -> dict[int, int]:
        """key -> position in the arrays of the pair (key, ``story``), where there is one."""
        if not len(self.keys):
            return {}
        at = self._gather(sorted({key >> 32 for key in keys}))
        if not len(at):
            return {}
        wanted = np.array(keys, dtype=np.uint64)
        match = np.isin(self.keys[at], wanted) & (self.stories[at] == story)
        hits = at[match]
        return dict(zip(self.keys[hits].tolist(), hits.tolist(), strict=True))

    def add(self, keys: list[int], story: int) -> None:
        """One more member of ``story`` under each of ``keys`` (distinct)."""
        placed = self._locate(keys, story)
        for key in keys:
            at = placed.get(key)
            if at is not None:
                self.counts[at] += 1
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
            for at in self._locate(rest, story).values():
                if self.counts.item(at) > 0:
                    self.counts[at] -= 1

    def stories_of(self, keys: list[int], limit: int) -> list[list[int]]:
        """For each of ``keys``: its stories, if it has at most ``limit`` of them (a key more
        common than that does not tell stories apart, and is skipped: [])."""
        found: dict[int, set[int]] = {}
        too_common: set[int] = set()
        if len(self.keys):
            at = self._gather(sorted({key >> 32 for key in keys}))
            if len(at):
                at = at[np.isin(self.keys[at], np.array(keys, dtype=np.uint64))
                        & (self.counts[at] > 0)]
                if len(at):
                    filed = self.keys[at]
                    unique, first, sizes = np.unique(filed, return_index=True,
                                                     return_counts=True)
                    stories = self.stories[at]
                    for key, start, size in zip(unique.tolist(), first.tolist(), sizes.tolist(),
                                                strict=True):
                        if size > limit:  # skipped, whatever the dict holds
                            too_common.add(key)
                        else:
                            found[key] = set(stories[start:start + size].tolist())
        out: list[list[int]] = []
        for key in keys:
            if key in too_common:
                out.append([])
                continue
            stories_here = found.get(key, set()) | set(self.delta.get(key, ()))
            out.append(sorted(stories_here) if 0 < len(stories_here) <= limit else [])
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

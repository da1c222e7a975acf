"""The MinHash band table in flat arrays: band key -> article slots, a multi-map.

A window remembers up to millions of articles, each filed under 32 band keys. As dict entries
(a 64-bit int object per key plus the dict slot) that was ~2.3 KB per article, the largest
part of the index. Here the bulk is two numpy arrays sorted by key: with the 32-bit keys the
index files (``key_dtype``), 6 bytes per key, 192 bytes per article: a directory of the keys'
top bits (at least 16 of them, about 16-32 keys a bucket) says where each bucket's keys sit,
so only the bits below it are stored (a 16-bit tag) beside the 32-bit slot. New keys go to a
small multi-map first (``RecentKeys``, numpy arrays too) and are merged into the arrays in
one vectorised insert when it holds more than ``1/merge_fraction`` of them, so a merge is rare
and costs one copy of the arrays, never a sort of them. The directory also takes a look-up
straight to its few candidates: a binary search over 32M keys is ~25 cache misses per key,
and the cost would grow with the window.

A removed article's keys in the arrays are dead weight until the next merge drops them. A
look-up can therefore return a slot that no longer holds the article filed there (removed, or
its slot given to another article since): the caller checks every slot it gets against the
article now in it. With keys of 32 bits it checks anyway, since two band values can share a
key; what the caller accepts then never depends on when merges ran, so an index and its
restored copy answer alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from newsflow.core.recentkeys import RecentKeys

SLOT_LIMIT = 1 << 32  # slots are uint32: 4 bytes a key fewer than int64; see DedupeIndex


MIN_DIRECTORY_BITS = 16  # so that the bits below the directory of a 32-bit key fit 16


class BandTable:
    __slots__ = ("bits", "dead", "delta", "directory_bits", "key_mask",
                 "merge_fraction", "merge_min", "offsets", "slots", "tag_mask", "tags")

    def __init__(self, merge_min: int = 1 << 15, merge_fraction: int = 16,
                 key_dtype: type[np.unsignedinteger[Any]] = np.uint64) -> None:
        self.bits = np.dtype(key_dtype).itemsize * 8
        if self.bits < 32:
            raise ValueError("band keys have at least 32 bits")
        self.key_mask = (1 << self.bits) - 1  # keys are filed modulo 2^bits
        self.directory_bits = MIN_DIRECTORY_BITS
        self.tag_mask = (1 << (self.bits - self.directory_bits)) - 1
        # the bits of each key below the directory's, in key order, and the slot filed there
        tag_dtype = np.uint16 if self.bits - MIN_DIRECTORY_BITS <= 16 else key_dtype
        self.tags: npt.NDArray[np.unsignedinteger[Any]] = np.zeros(0, dtype=tag_dtype)
        self.slots: npt.NDArray[np.uint32] = np.zeros(0, dtype=np.uint32)
        self.delta = RecentKeys(key_dtype)  # recent keys -> slots
        self.dead: list[int] = []  # removed slots whose keys are still in the arrays
        self.merge_min = merge_min
        self.merge_fraction = merge_fraction
        # keys with top bits b sit at [offsets[b], offsets[b + 1])
        self.offsets: npt.NDArray[np.unsignedinteger[Any]] = np.zeros(
            (1 << self.directory_bits) + 1, dtype=np.uint32)

    def __len__(self) -> int:
        """Keys held (live or dead): what the arrays and the delta cost."""
        return len(self.tags) + self.delta.count

    def add(self, keys: list[int], slot: int) -> None:
        """File ``slot`` under ``keys`` (a removed article's slot may be filed again)."""
        mask, delta = self.key_mask, self.delta
        for key in keys:
            delta.add(key & mask, slot)
        if delta.count > max(self.merge_min, len(self.tags) // self.merge_fraction):
            self._merge()

    def remove(self, keys: list[int], slot: int) -> None:
        """Unfile ``slot``'s ``keys``: from the delta at once, from the arrays at the next merge
        (an article's keys are all in one or the other; look-ups return them meanwhile)."""
        mask, delta = self.key_mask, self.delta
        in_arrays = False
        for key in keys:
            if not delta.remove(key & mask, slot):
                in_arrays = True
        if in_arrays:
            self.dead.append(slot)

    def lookup(self, keys: list[int]) -> list[int]:
        """Slots filed under any of ``keys`` (removed ones included: the caller skips slots
        it no longer knows), in no particular order."""
        found: list[int] = []
        masked = [key & self.key_mask for key in keys]
        for key in masked:
            self.delta.find(key, found)
        if len(self.tags) and masked:
            shift, tag_mask = self.bits - self.directory_bits, self.tag_mask
            bucket = np.array([key >> shift for key in masked], dtype=np.int64)
            tags = np.array([key & tag_mask for key in masked], dtype=self.tags.dtype)
            lo = self.offsets[bucket].astype(np.int64)
            hi = self.offsets[bucket + 1].astype(np.int64)
            width = int((hi - lo).max())
            if width:
                at = lo[:, None] + np.arange(width)
                valid = at < hi[:, None]
                at[~valid] = 0
                match = valid & (self.tags[at] == tags[:, None])
                found.extend(self.slots[at[match]].tolist())
        return found

    def _keys(self) -> npt.NDArray[np.uint64]:
        """The whole key of every entry in the arrays (its bucket's bits, then its tag's)."""
        offsets = self.offsets.astype(np.int64)
        buckets = np.repeat(np.arange(len(offsets) - 1, dtype=np.uint64),
                            offsets[1:] - offsets[:-1])
        shift = np.uint64(self.bits - self.directory_bits)
        keys: npt.NDArray[np.uint64] = (buckets << shift) | self.tags.astype(np.uint64)
        return keys

    def _merge(self) -> None:
        """Drop dead slots from the arrays and insert the delta's keys in order."""
        keys, slots = self._keys(), self.slots
        if self.dead:
            live = ~np.isin(slots, np.array(self.dead, dtype=np.uint32))
            keys, slots = keys[live], slots[live]
            self.dead = []
        recent_keys, new_slots = self.delta.entries()
        new_keys = recent_keys.astype(np.uint64)
        order = np.argsort(new_keys, kind="stable")
        new_keys, new_slots = new_keys[order], new_slots[order]
        at = np.searchsorted(keys, new_keys, side="right")
        keys = np.insert(keys, at, new_keys)
        self.slots = np.insert(slots, at, new_slots)
        del slots
        self.delta.clear()
        # ~16-32 keys a bucket, and never fewer than 2^16 buckets (the tags' 16 bits)
        bits = min(self.bits - 1, max(MIN_DIRECTORY_BITS, len(keys).bit_length() - 5))
        shift = np.uint64(self.bits - bits)
        self.directory_bits = bits
        self.tag_mask = (1 << (self.bits - bits)) - 1
        self.tags = (keys & np.uint64(self.tag_mask)).astype(self.tags.dtype)
        self.offsets = np.searchsorted(
            keys >> shift, np.arange((1 << bits) + 1, dtype=np.uint64)).astype(
                np.uint32 if len(keys) < 1 << 32 else np.int64)

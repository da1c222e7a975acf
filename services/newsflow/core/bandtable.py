"""The MinHash band table in flat arrays: 64-bit band key -> article slots, a multi-map.

A window remembers up to millions of articles, each filed under 32 band keys. As dict entries
(a 64-bit int object per key plus the dict slot) that was ~2.3 KB per article, the largest
part of the index. Here the bulk is two sorted numpy arrays (64-bit key, 32-bit slot): 12 bytes
per key, 384 bytes per article. New keys go to a small dict first and are merged into the arrays in
one vectorised insert when it holds more than ``1/merge_fraction`` of them, so a merge is
rare and costs one copy of the arrays, never a sort of them. A directory of the keys' top bits
(about 8 keys a bucket, 1 byte a key) takes a look-up straight to its few candidates: a binary
search over 32M keys is ~25 cache misses per key, and the cost would grow with the window.

Slots are never reused: a removed article's keys in the arrays are dead weight until the next
merge drops them, and a look-up skips them because the caller no longer maps their slot to an
article. What a look-up returns (the live slots under a key) therefore never depends on when
merges ran, so an index and its restored copy answer alike.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

KEY_MASK = (1 << 64) - 1
SLOT_LIMIT = 1 << 32  # slots are uint32: 4 bytes a key fewer than int64; see DedupeIndex


class BandTable:
    __slots__ = ("dead", "delta", "delta_count", "keys", "merge_fraction", "merge_min",
                 "merged_below", "offsets", "shift", "slots")

    def __init__(self, merge_min: int = 1 << 15, merge_fraction: int = 16) -> None:
        self.keys: npt.NDArray[np.uint64] = np.zeros(0, dtype=np.uint64)  # sorted
        self.slots: npt.NDArray[np.uint32] = np.zeros(0, dtype=np.uint32)  # same order
        self.delta: dict[int, int | list[int]] = {}  # recent keys -> slot(s)
        self.delta_count = 0
        self.dead: list[int] = []  # removed slots whose keys are still in the arrays
        self.merged_below = 0  # every slot below this is in the arrays, not in the delta
        self.merge_min = merge_min
        self.merge_fraction = merge_fraction
        # keys with top bits b sit at keys[offsets[b]:offsets[b + 1]]
        self.shift = np.uint64(63)
        self.offsets: npt.NDArray[np.int64] = np.zeros(3, dtype=np.int64)

    def __len__(self) -> int:
        """Keys held (live or dead): what the arrays and the delta cost."""
        return len(self.keys) + self.delta_count

    def add(self, keys: list[int], slot: int) -> None:
        """File ``slot`` under ``keys``; slots must be added in increasing order."""
        for key in keys:
            key &= KEY_MASK
            found = self.delta.get(key)
            if found is None:
                self.delta[key] = slot
            elif isinstance(found, int):
                self.delta[key] = [found, slot]
            else:
                found.append(slot)
        self.delta_count += len(keys)
        if self.delta_count > max(self.merge_min, len(self.keys) // self.merge_fraction):
            self._merge()

    def remove(self, keys: list[int], slot: int) -> None:
        if slot < self.merged_below:
            self.dead.append(slot)  # dropped at the next merge; look-ups skip it meanwhile
            return
        for key in keys:
            key &= KEY_MASK
            found = self.delta.get(key)
            if found == slot:
                del self.delta[key]
            elif isinstance(found, list) and slot in found:
                found.remove(slot)
                if len(found) == 1:
                    self.delta[key] = found[0]
            else:
                continue
            self.delta_count -= 1

    def lookup(self, keys: list[int]) -> list[int]:
        """Slots filed under any of ``keys`` (removed ones included: the caller skips slots
        it no longer knows), in no particular order."""
        found: list[int] = []
        masked = [key & KEY_MASK for key in keys]
        for key in masked:
            hit = self.delta.get(key)
            if hit is None:
                continue
            if isinstance(hit, int):
                found.append(hit)
            else:
                found.extend(hit)
        if len(self.keys) and masked:
            wanted = np.array(masked, dtype=np.uint64)
            bucket = (wanted >> self.shift).astype(np.int64)
            lo, hi = self.offsets[bucket], self.offsets[bucket + 1]
            width = int((hi - lo).max())
            if width:
                at = lo[:, None] + np.arange(width)
                valid = at < hi[:, None]
                at[~valid] = 0
                match = valid & (self.keys[at] == wanted[:, None])
                found.extend(self.slots[at[match]].tolist())
        return found

    def _merge(self) -> None:
        """Drop dead slots from the arrays and insert the delta's keys in order."""
        keys, slots = self.keys, self.slots
        if self.dead:
            live = ~np.isin(slots, np.array(self.dead, dtype=np.uint32))
            keys, slots = keys[live], slots[live]
            self.dead = []
        new_keys = np.empty(self.delta_count, dtype=np.uint64)
        new_slots = np.empty(self.delta_count, dtype=np.uint32)
        n = 0
        top = self.merged_below - 1
        for key, hit in self.delta.items():
            for slot in ((hit,) if isinstance(hit, int) else hit):
                new_keys[n] = key
                new_slots[n] = slot
                top = max(top, slot)
                n += 1
        order = np.argsort(new_keys, kind="stable")
        new_keys, new_slots = new_keys[order], new_slots[order]
        at = np.searchsorted(keys, new_keys, side="right")
        self.keys = np.insert(keys, at, new_keys)
        self.slots = np.insert(slots, at, new_slots)
        self.delta = {}
        self.delta_count = 0
        self.merged_below = top + 1
        bits = max(1, len(self.keys).bit_length() - 3)
        self.shift = np.uint64(64 - bits)
        self.offsets = np.searchsorted(self.keys >> self.shift,
                                       np.arange((1 << bits) + 1, dtype=np.uint64)).astype(np.int64)

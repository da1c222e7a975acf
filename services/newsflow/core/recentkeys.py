"""The band table's recent keys (those filed since its last merge): a multi-map from key to
slots in numpy arrays, entries in the order they were filed, chained by the key's low bits.

It was a dict of key -> slot or list of slots: ~100 bytes a key (the dict slot and two int
objects), up to 1/64 of the table's keys (~50 MB at a 1M-article window), and pymalloc keeps
the int objects' pages after a merge empties the dict. Here an entry is 13 bytes (key, slot,
next entry of its chain, live flag) plus 4 for its chain head; the arrays are kept between
merges, since the next batch fills them again.

A removal only clears the entry's live flag. When the arrays are full and at least half of
their entries are removed ones, they are compacted in place rather than grown: with a short
window, articles are forgotten while their keys are still recent, so the live count (which
triggers the band table's merge) can stay below its bar for good while entries keep being
filed, and growing would then grow the arrays, and the chains a look-up walks, without end."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

_END = -1


class RecentKeys:
    __slots__ = ("count", "heads", "keys", "live", "mask", "next", "slots", "used")

    def __init__(self, key_dtype: type[np.unsignedinteger[Any]]) -> None:
        self.keys: npt.NDArray[np.unsignedinteger[Any]] = np.zeros(0, dtype=key_dtype)
        self.slots: npt.NDArray[np.uint32] = np.zeros(0, dtype=np.uint32)
        self.next: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self.live: npt.NDArray[np.bool_] = np.zeros(0, dtype=np.bool_)
        self.heads: npt.NDArray[np.int32] = np.full(16, _END, dtype=np.int32)
        self.mask = 15
        self.used = 0  # entries filed (live or removed) since the last clear
        self.count = 0  # live entries

    def __len__(self) -> int:
        return self.count

    def add(self, key: int, slot: int) -> None:
        if self.used == len(self.keys):
            if self.used and 2 * self.count <= self.used:
                self._compact()
            else:
                self._grow()
        at = self.used
        chain = key & self.mask
        self.keys[at] = key
        self.slots[at] = slot
        self.live[at] = True
        self.next[at] = self.heads.item(chain)
        self.heads[chain] = at
        self.used += 1
        self.count += 1

    def find(self, key: int, found: list[int]) -> None:
        """Append the slots filed under ``key`` to ``found``."""
        keys, live, following = self.keys, self.live, self.next
        at = self.heads.item(key & self.mask)
        while at != _END:
            if keys.item(at) == key and live.item(at):
                found.append(self.slots.item(at))
            at = following.item(at)

    def remove(self, key: int, slot: int) -> bool:
        """Unfile ``slot`` from ``key``; whether it was filed here."""
        keys, slots, live, following = self.keys, self.slots, self.live, self.next
        at = self.heads.item(key & self.mask)
        while at != _END:
            if keys.item(at) == key and slots.item(at) == slot and live.item(at):
                live[at] = False
                self.count -= 1
                return True
            at = following.item(at)
        return False

    def entries(self) -> tuple[npt.NDArray[np.unsignedinteger[Any]], npt.NDArray[np.uint32]]:
        """(keys, slots) of the live entries, in the order they were filed."""
        live = self.live[:self.used]
        return self.keys[:self.used][live], self.slots[:self.used][live]

    def items(self) -> list[tuple[int, int]]:
        keys, slots = self.entries()
        return list(zip(keys.tolist(), slots.tolist(), strict=True))

    def clear(self) -> None:
        self.heads.fill(_END)
        self.used = self.count = 0

    def _compact(self) -> None:
        """Drop the removed entries, keeping the live ones in the order they were filed (so
        ``entries`` and each chain's order stay as they were)."""
        live = np.flatnonzero(self.live[:self.used])
        count = len(live)
        for name in ("keys", "slots"):
            column = getattr(self, name)
            column[:count] = column[live]
        self.live[:count] = True
        self.used = count
        self._chain()

    def _grow(self) -> None:
        capacity = max(1024, 2 * len(self.keys))
        for name in ("keys", "slots", "next", "live"):
            old = getattr(self, name)
            new = np.empty(capacity, dtype=old.dtype)
            new[:self.used] = old[:self.used]
            setattr(self, name, new)
        # as many chains as entries fit
        self.mask = capacity - 1 if capacity & (capacity - 1) == 0 else (
            (1 << capacity.bit_length()) - 1)
        self._chain()

    def _chain(self) -> None:
        """Rebuild the chains from the entries, each newest first as ``add`` files them."""
        chains = (self.keys[:self.used] & np.uint64(self.mask)).astype(np.int64)
        order = np.argsort(chains, kind="stable")
        ordered = chains[order]
        same = ordered[1:] == ordered[:-1]
        following = np.full(self.used, _END, dtype=np.int32)
        following[order[1:][same]] = order[:-1][same]
        self.next[:self.used] = following
        last = np.append(~same, True) if self.used else np.zeros(0, dtype=np.bool_)
        if len(self.heads) != self.mask + 1:
            self.heads = np.empty(self.mask + 1, dtype=np.int32)
        self.heads.fill(_END)
        self.heads[ordered[last]] = order[last]

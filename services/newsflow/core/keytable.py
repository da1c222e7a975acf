"""A map from 64-bit hash keys to row numbers in two numpy arrays: open addressing, linear
probing, deletion by backward shift (no tombstones, so probe runs never silt up).

A Python dict of ints costs ~100 bytes an entry (the dict slot and two int objects); this
costs 12 bytes a slot, ~20 an entry at the load it keeps (between 3/8 and 3/4). Keys are
hashes (xxh3), so their low bits are the home slot; key 0 marks an empty slot, and a key that
is 0 is filed as 1 (one more 2^-64 collision, as likely as any other)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

MAX_LOAD = 0.75


class KeyTable:
    __slots__ = ("count", "keys", "mask", "values")

    def __init__(self, capacity: int = 16) -> None:
        size = 16
        while size * MAX_LOAD < capacity:
            size *= 2
        self.keys: npt.NDArray[np.uint64] = np.zeros(size, dtype=np.uint64)
        self.values: npt.NDArray[np.int32] = np.zeros(size, dtype=np.int32)
        self.mask = size - 1
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[int]:
        """Keys in slot order: the same in every process that filed the same keys alike."""
        return iter(self.keys[self.keys != 0].tolist())

    def _find(self, key: int) -> int:
        """The slot holding ``key``, or the empty slot where it would go."""
        keys, mask = self.keys, self.mask
        at = key & mask
        while True:
            found = keys.item(at)
            if found == key or found == 0:
                return at
            at = (at + 1) & mask

    def get(self, key: int) -> int:
        """The value filed under ``key``; -1 if none."""
        key = key or 1
        at = self._find(key)
        return self.values.item(at) if self.keys.item(at) else -1

    def get_many(self, keys: list[int]) -> list[int]:
        """``get`` of each key. A loop of scalar probes: for the few dozen keys of an article
        it is ~3x faster than probing for all of them at once in numpy."""
        table, values, mask = self.keys, self.values, self.mask
        out: list[int] = []
        for key in keys:
            key = key or 1
            at = key & mask
            while True:
                found = table.item(at)
                if found == key:
                    out.append(values.item(at))
                    break
                if not found:
                    out.append(-1)
                    break
                at = (at + 1) & mask
        return out

    def set(self, key: int, value: int) -> None:
        key = key or 1
        at = self._find(key)
        if not self.keys.item(at):
            if (self.count + 1) > MAX_LOAD * len(self.keys):
                self._grow()
                at = self._find(key)
            self.keys[at] = key
            self.count += 1
        self.values[at] = value

    def pop(self, key: int) -> int:
        """Remove ``key``; its value, or -1 if it was not there."""
        key = key or 1
        keys, values, mask = self.keys, self.values, self.mask
        hole = self._find(key)
        if not keys.item(hole):
            return -1
        value = values.item(hole)
        at = hole
        while True:  # move back every later key of the run that may sit in the hole
            at = (at + 1) & mask
            found = keys.item(at)
            if not found:
                break
            home = found & mask
            if fills_hole(hole, at, home):
                keys[hole] = found
                values[hole] = values[at]
                hole = at
        keys[hole] = 0
        self.count -= 1
        return value

    def _grow(self) -> None:
        filed = self.keys != 0
        old_keys, old_values = self.keys[filed], self.values[filed]
        size = 2 * len(self.keys)
        self.mask = size - 1
        at = refiled_slots((old_keys & np.uint64(self.mask)).astype(np.int64), size)
        self.keys = np.zeros(size, dtype=np.uint64)
        self.values = np.zeros(size, dtype=np.int32)
        self.keys[at], self.values[at] = old_keys, old_values


def fills_hole(hole: int, at: int, home: int) -> bool:
    """Whether the key at slot ``at`` (home slot ``home``), later in a linear-probing run than
    the emptied slot ``hole``, moves back into it: its home is not between the two (cyclically),
    so the hole would cut it off from its home. Shared by the tables' ``pop``."""
    if hole < at:
        return home <= hole or home > at
    return home <= hole and home > at


def refiled_slots(homes: npt.NDArray[np.int64], size: int) -> npt.NDArray[np.int64]:
    """The slots that linear probing gives entries with these home slots in an empty table of
    ``size`` slots (a power of two), vectorised: each round files, at every empty target slot,
    the first entry (in the given order) that wants it; the others move one slot on. Shared by
    the tables that grow by re-filing (``KeyTable``, ``RowTable``)."""
    mask = size - 1
    taken = np.zeros(size, dtype=bool)
    slots = np.empty(len(homes), dtype=np.int64)
    at = homes
    pending = np.arange(len(homes))
    while len(pending):
        free = ~taken[at]
        _, first = np.unique(at[free], return_index=True)
        chosen = np.flatnonzero(free)[first]
        taken[at[chosen]] = True
        slots[pending[chosen]] = at[chosen]
        placed = np.zeros(len(pending), dtype=bool)
        placed[chosen] = True
        pending, at = pending[~placed], (at[~placed] + 1) & mask
    return slots

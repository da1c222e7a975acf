"""A map from a 64-bit key to the row that holds it, when the row's key is already stored in
a column of its own: open addressing over row numbers alone, linear probing, deletion by
backward shift (as ``KeyTable``, whose slots also hold the key).

A slot is 4 bytes instead of ``KeyTable``'s 12: a probe reads the candidate row's key from
the column. The owner must keep a row's key in the column unchanged while the row is filed,
file a row only after writing its key, and remove it before the row is reused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from newsflow.core.arena import Columns
from newsflow.core.keytable import fills_hole, refiled_slots

MAX_LOAD = 0.75
_EMPTY = -1


class RowTable:
    __slots__ = ("column", "count", "mask", "owner", "rows")

    def __init__(self, owner: Columns, column: str) -> None:
        """``owner.columns[column]``: each row's key (uint64); read afresh on every call, as
        the owner replaces its arrays when it grows."""
        self.owner = owner
        self.column = column
        self.rows: npt.NDArray[np.int32] = np.full(16, _EMPTY, dtype=np.int32)
        self.mask = 15
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def _keys(self) -> npt.NDArray[Any]:
        return self.owner.columns[self.column]

    def filed_rows(self) -> list[int]:
        """Rows in slot order: the same in every process that filed the same keys alike."""
        filed: list[int] = self.rows[self.rows != _EMPTY].tolist()
        return filed

    def __iter__(self) -> Iterator[int]:
        """Keys in slot order."""
        return iter(self._keys()[self.rows[self.rows != _EMPTY]].tolist())

    def _find(self, key: int) -> int:
        """The slot holding ``key``, or the empty slot where it would go."""
        rows, keys, mask = self.rows, self._keys(), self.mask
        at = key & mask
        while True:
            row = rows.item(at)
            if row == _EMPTY or keys.item(row) == key:
                return at
            at = (at + 1) & mask

    def get(self, key: int) -> int:
        """The row filed under ``key``; -1 if none."""
        return self.rows.item(self._find(key))

    def get_many(self, keys: list[int]) -> list[int]:
        """``get`` of each key, in one loop of scalar probes (as ``KeyTable.get_many``)."""
        rows, column, mask = self.rows, self._keys(), self.mask
        out: list[int] = []
        for key in keys:
            at = key & mask
            while True:
                row = rows.item(at)
                if row == _EMPTY or column.item(row) == key:
                    out.append(row)
                    break
                at = (at + 1) & mask
        return out

    def set(self, key: int, row: int) -> None:
        """File ``row``, whose key in the column is ``key``."""
        at = self._find(key)
        if self.rows.item(at) == _EMPTY:
            if (self.count + 1) > MAX_LOAD * len(self.rows):
                self._grow()
                at = self._find(key)
            self.count += 1
        self.rows[at] = row

    def pop(self, key: int) -> int:
        """Remove ``key``; its row, or -1 if it was not there."""
        rows, keys, mask = self.rows, self._keys(), self.mask
        hole = self._find(key)
        row = rows.item(hole)
        if row == _EMPTY:
            return -1
        at = hole
        while True:  # move back every later key of the run that may sit in the hole
            at = (at + 1) & mask
            found = rows.item(at)
            if found == _EMPTY:
                break
            home = keys.item(found) & mask
            if fills_hole(hole, at, home):
                rows[hole] = found
                hole = at
        rows[hole] = _EMPTY
        self.count -= 1
        return row

    def _grow(self) -> None:
        old_rows = self.rows[self.rows != _EMPTY]
        size = 2 * len(self.rows)
        self.mask = size - 1
        at = refiled_slots((self._keys()[old_rows] & np.uint64(self.mask)).astype(np.int64),
                           size)
        self.rows = np.full(size, _EMPTY, dtype=np.int32)
        self.rows[at] = old_rows

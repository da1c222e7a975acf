"""Variable-length bytes per row in one growing buffer, and fixed-width numbers per row in
numpy columns: the storage of the dedupe index's articles and stories.

A Python object costs a header and a pointer to reach it (a str ~50 bytes before its text, a
float 24); a window holds millions of rows, so every row's numbers sit in typed columns and
its texts and term lists in one ``bytearray``. A removed row's bytes stay in the buffer until
the dead bytes exceed a quarter of it, then the live ones are copied down in one pass
(amortised: each byte is copied a bounded number of times)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class Columns:
    """Rows numbered from 0, each with one value in every column; freed rows are reused."""

    def __init__(self, dtypes: dict[str, Any], widths: dict[str, int] | None = None) -> None:
        """``dtypes``: column name -> numpy dtype; ``widths``: values per row of the columns
        that hold more than one (a 2-D column)."""
        widths = widths or {}
        self.capacity = 0
        self.top = 0  # rows below it have been used
        self.free: list[int] = []
        self.columns: dict[str, npt.NDArray[Any]] = {
            name: np.zeros((0, widths[name]) if name in widths else 0, dtype=dtype)
            for name, dtype in dtypes.items()}

    def allocate(self) -> int:
        if self.free:
            return self.free.pop()
        if self.top == self.capacity:
            self._grow()
        self.top += 1
        return self.top - 1

    def release(self, row: int) -> None:
        self.free.append(row)

    def _grow(self) -> None:
        # np.empty: pages never written are never resident, so the spare capacity costs
        # address space, not memory
        capacity = max(1024, self.capacity + self.capacity // 2)
        for name, old in self.columns.items():
            new = np.empty((capacity, *old.shape[1:]), dtype=old.dtype)
            new[:self.capacity] = old
            self.columns[name] = new
        self.capacity = capacity
        self.on_grow()

    def on_grow(self) -> None:
        """Hook: owners that cache column references refresh them here."""


class Arena:
    """Bytes per row: ``put(row, data)``, ``get(row)``, ``drop(row)``."""

    __slots__ = ("at", "buffer", "dead", "size")

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.at: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.size: npt.NDArray[np.uint32] = np.zeros(0, dtype=np.uint32)
        self.dead = 0

    def reserve(self, rows: int) -> None:
        if rows > len(self.at):
            rows = max(rows, 1024, len(self.at) + len(self.at) // 2)
            at = np.zeros(rows, dtype=np.int64)
            size = np.zeros(rows, dtype=np.uint32)
            at[:len(self.at)] = self.at
            size[:len(self.size)] = self.size
            self.at, self.size = at, size

    def put(self, row: int, data: bytes) -> None:
        self.reserve(row + 1)
        self.drop(row)
        self.at[row] = len(self.buffer)
        self.size[row] = len(data)
        self.buffer += data

    def get(self, row: int) -> bytes:
        at = self.at.item(row)
        return bytes(self.buffer[at:at + self.size.item(row)])

    def view(self, row: int) -> memoryview:
        at = self.at.item(row)
        return memoryview(self.buffer)[at:at + self.size.item(row)]

    def drop(self, row: int) -> None:
        size = self.size.item(row)
        if not size:
            return
        self.size[row] = 0
        self.dead += size
        if self.dead > 4096 and self.dead * 4 > len(self.buffer):
            self._compact()

    def _compact(self) -> None:
        """Copy the live rows' bytes down, in buffer order."""
        live = np.flatnonzero(self.size)
        live = live[np.argsort(self.at[live], kind="stable")]
        old = memoryview(self.buffer)
        parts = []
        at = 0
        new_at = np.empty(len(live), dtype=np.int64)
        for n, (start, size) in enumerate(zip(self.at[live].tolist(), self.size[live].tolist(),
                                              strict=True)):
            parts.append(old[start:start + size])
            new_at[n] = at
            at += size
        buffer = bytearray().join(parts)
        del parts, old
        self.buffer = buffer
        self.at[live] = new_at
        self.dead = 0

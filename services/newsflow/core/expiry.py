"""The dedupe index's expiry queue: (event time, row) items, taken out oldest first.

A heap of Python ints cost ~48 bytes an item (the int object and the list's pointer); a window
holds one item per remembered article. Here the bulk is two sorted numpy arrays (the time as
sortable 64-bit bits, the 32-bit row: 12 bytes an item) read from a moving start, and items
pushed since the last merge wait in a small heap. A merge drops what was taken and inserts the
heap's items in one vectorised insert, once every ``1/merge_fraction`` of the items held."""

from __future__ import annotations

import heapq

import numpy as np
import numpy.typing as npt

ROW_MASK = 0xFFFFFFFF


class ExpiryQueue:
    __slots__ = ("merge_fraction", "merge_min", "recent", "rows", "start", "times")

    def __init__(self, merge_min: int = 1 << 12, merge_fraction: int = 32) -> None:
        self.times: npt.NDArray[np.uint64] = np.zeros(0, dtype=np.uint64)  # sorted
        self.rows: npt.NDArray[np.uint32] = np.zeros(0, dtype=np.uint32)
        self.start = 0  # items before it were taken out
        self.recent: list[int] = []  # heap of time << 32 | row
        self.merge_min = merge_min
        self.merge_fraction = merge_fraction

    def __len__(self) -> int:
        return len(self.times) - self.start + len(self.recent)

    def push(self, time: int, row: int) -> None:
        """File ``row`` under ``time`` (an unsigned 64-bit number; see ``_sortable``)."""
        heapq.heappush(self.recent, time << 32 | row)
        held = len(self.times) - self.start
        if len(self.recent) > max(self.merge_min, held // self.merge_fraction):
            self._merge()

    def pop_before(self, horizon: int) -> list[tuple[int, int]]:
        """Take out every (time, row) with a time before ``horizon``."""
        out: list[tuple[int, int]] = []
        recent = self.recent
        while recent and recent[0] >> 32 < horizon:
            item = heapq.heappop(recent)
            out.append((item >> 32, item & ROW_MASK))
        times, start, end = self.times, self.start, len(self.times)
        while start < end and times.item(start) < horizon:
            out.append((times.item(start), self.rows.item(start)))
            start += 1
        self.start = start
        return out

    def _merge(self) -> None:
        items = sorted(self.recent)
        new_times = np.array([item >> 32 for item in items], dtype=np.uint64)
        new_rows = np.array([item & ROW_MASK for item in items], dtype=np.uint32)
        times, rows = self.times[self.start:], self.rows[self.start:]
        at = np.searchsorted(times, new_times, side="right")
        self.times = np.insert(times, at, new_times)
        self.rows = np.insert(rows, at, new_rows)
        self.start = 0
        self.recent = []

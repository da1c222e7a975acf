"""The worker's dedupe index, rebuilt from the memory table off the event loop.

After a recovery the index is rebuilt from every remembered entry: about a second per 100k
articles of decoding and indexing. On the event loop that would stall everything else the
worker serves meanwhile (``/healthz``, ``/metrics``, Faust's own timers), so the rebuild runs in
a thread and the dedupe agent awaits it. A recovery that happens during a rebuild makes that
rebuild stale: its result (or its failure) is dropped and the rebuild starts again.

Nothing writes the table while the thread reads it: its only writer is the dedupe agent, which
is awaiting the rebuild, and Faust changes a table's store in a rebalance (revoking, assigning,
replaying the changelog) only after the events in progress are acknowledged
(``stream_wait_empty``, on by default), the one awaiting the rebuild among them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from newsflow.core.dedupe import DedupeIndex
from newsflow.processor import metrics
from newsflow.processor.stages import decode_memories

log = logging.getLogger(__name__)


class IndexRebuild:
    def __init__(self, new_index: Callable[[], DedupeIndex],
                 table_values: Callable[[], Iterable[bytes | None]]) -> None:
        self._new_index = new_index
        self._table_values = table_values
        self._index: DedupeIndex | None = None
        self._generation = 0  # bumped by every recovery: a rebuild started before is stale

    def invalidate(self) -> None:
        """The table was recovered: the next ``get`` rebuilds from it."""
        self._generation += 1
        self._index = None

    async def get(self) -> DedupeIndex:
        while self._index is None:
            generation = self._generation
            try:
                index = await asyncio.to_thread(self._rebuild)
            except Exception:
                if generation == self._generation:
                    raise
                continue  # the table changed under a stale rebuild: start again
            if generation == self._generation:
                self._index = index
        return self._index

    def _rebuild(self) -> DedupeIndex:
        index = self._new_index()
        memories, problems = decode_memories(self._table_values())
        for problem in problems:
            log.warning("dedupe memory entry left out of the index: %s", problem)
        metrics.MEMORY_SKIPPED.inc(len(problems))
        index.restore(memories)
        log.info("dedupe index rebuilt from table: %d articles (%d entries left out)",
                 len(index), len(problems))
        return index

"""Whether a record arrives past a hole in its partition that should be read again."""

from __future__ import annotations


def first_skipped(due: int | None, offset: int, reread_from: int | None) -> int | None:
    """The first offset to read again, or None. ``due``: the offset expected next on the
    partition (None: not known, e.g. a partition never committed right after a rebalance);
    ``offset``: the record that arrived; ``reread_from``: the hole already read again once on
    this partition. A hole that is still there after one re-read is a real gap in the log
    (compaction, transaction markers), and is left to Faust."""
    if due is None or offset <= due or reread_from == due:
        return None
    return due

"""The window's vocabulary: each story term of a remembered article as a 4-byte id.

An article keeps ~40 story terms and ~40 headline-and-lead terms; as string objects (even
interned, a pointer each) and dict keys they were the index's largest part after the
signature. Here a term is an id while any remembered article uses it, found by its 64-bit hash
(xxh3: the same in every process), with its window document frequency and its general-English
rarity prior kept in columns, and its text in one byte buffer (for ``df`` and inspection:
nothing the index decides reads it). An id whose last article is forgotten is given to the
next new term. The map from hash to id holds ids only and reads the hash from the id's
column (``RowTable``): ~15 bytes a term instead of ~21 with the hash beside the id."""


from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from xxhash import xxh3_64_intdigest

from newsflow.core.arena import Arena, Columns
from newsflow.core.rowtable import RowTable


def term_key(term: str) -> int:
    return xxh3_64_intdigest(term.encode())


class Vocabulary:
    __slots__ = ("ids", "rows", "share_of", "texts")

    def __init__(self, share_of: Callable[[str], tuple[float, float]]) -> None:
        self.share_of = share_of  # term -> (general share, 1 / general rarity)
        # per term id: its key, the articles using it, ... as a story term, its prior
        self.rows = Columns({"key": np.uint64, "refs": np.int32, "df": np.int32,
                             "share": np.float64, "undo": np.float64})
        # key -> id; the table holds ids only (4 B a slot), the key is in the ``key`` column
        self.ids = RowTable(self.rows, "key")
        self.texts = Arena()

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def df(self) -> npt.NDArray[np.int32]:
        """Window document frequency per term id (read afresh: the columns grow by copy)."""
        return self.rows.columns["df"]

    @property
    def top(self) -> int:
        return self.rows.top

    def id_of(self, term: str) -> int:
        """The term's id; -1 if no remembered article uses it."""
        return self.ids.get(term_key(term))

    def ids_of(self, terms: list[str]) -> list[int]:
        """``id_of`` of each term, looked up together."""
        return self.ids.get_many([term_key(term) for term in terms]) if terms else []

    def acquire(self, term: str) -> int:
        """The term's id, one more article using it."""
        key = term_key(term)
        found = self.ids.get(key)
        if found < 0:
            found = self.rows.allocate()  # the id freed last, else a new one
            cols = self.rows.columns
            cols["key"][found] = key
            self.ids.set(key, found)
            cols["refs"][found] = 0
            cols["df"][found] = 0
            cols["share"][found] = math.nan  # looked up when first needed (``prior``)
            self.texts.put(found, term.encode())
        self.rows.columns["refs"][found] += 1
        return found

    def release(self, term_id: int) -> None:
        """One article fewer uses the term; its id is freed with the last."""
        cols = self.rows.columns
        refs = cols["refs"].item(term_id) - 1
        cols["refs"][term_id] = refs
        if refs == 0:
            self.ids.pop(cols["key"].item(term_id))
            self.texts.drop(term_id)
            self.rows.release(term_id)

    def prior(self, term_id: int) -> tuple[float, float]:
        """The term's (general share, 1 / general rarity): ``share_of`` of its text, kept."""
        cols = self.rows.columns
        share = cols["share"].item(term_id)
        if math.isnan(share):
            share, undo = self.share_of(self.term(term_id))
            cols["share"][term_id], cols["undo"][term_id] = share, undo
            return share, undo
        return share, cols["undo"].item(term_id)

    def term(self, term_id: int) -> str:
        return self.texts.get(term_id).decode()

    def counts(self) -> dict[str, int]:
        """Term -> window document frequency, for the terms with any (a scan)."""
        cols, top = self.rows.columns, self.rows.top
        return {self.term(term_id): df for term_id, (df, refs) in enumerate(zip(
            cols["df"][:top].tolist(), cols["refs"][:top].tolist(), strict=True))
            if df > 0 and refs > 0}

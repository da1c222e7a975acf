"""The window's vocabulary: each story term of a remembered article as a 4-byte id.

An article keeps ~40 story terms and ~40 headline-and-lead terms; as string objects (even
interned, a pointer each) and dict keys they were the index's largest part after the
signature. Here a term is an id while any remembered article uses it, found by its 64-bit hash
(xxh3: the same in every process), with its window document frequency and its general-English
rarity prior kept in columns, and its text in one byte buffer (for ``df`` and inspection:
nothing the index decides reads it). An id whose last article is forgotten is given to the
next new term."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from xxhash import xxh3_64_intdigest

from newsflow.core.arena import Arena
from newsflow.core.keytable import KeyTable


def term_key(term: str) -> int:
    return xxh3_64_intdigest(term.encode())


class Vocabulary:
    __slots__ = ("df", "free", "ids", "refs", "share", "share_of", "texts", "top", "undo")

    def __init__(self, share_of: Callable[[str], tuple[float, float]]) -> None:
        self.share_of = share_of  # term -> (general share, 1 / general rarity)
        self.ids = KeyTable()
        self.refs: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)  # articles using it
        self.df: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)  # ... as a story term
        self.share: npt.NDArray[np.float64] = np.zeros(0, dtype=np.float64)
        self.undo: npt.NDArray[np.float64] = np.zeros(0, dtype=np.float64)
        self.texts = Arena()
        self.free: list[int] = []
        self.top = 0

    def __len__(self) -> int:
        return len(self.ids)

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
            found = self.free.pop() if self.free else self._fresh()
            self.ids.set(key, found)
            self.refs[found] = 0
            self.df[found] = 0
            self.share[found] = math.nan  # looked up when first needed (``prior``)
            self.texts.put(found, term.encode())
        self.refs[found] += 1
        return found

    def release(self, term_id: int) -> None:
        """One article fewer uses the term; its id is freed with the last."""
        refs = self.refs.item(term_id) - 1
        self.refs[term_id] = refs
        if refs == 0:
            self.ids.pop(term_key(self.term(term_id)))
            self.texts.drop(term_id)
            self.free.append(term_id)

    def prior(self, term_id: int) -> tuple[float, float]:
        """The term's (general share, 1 / general rarity): ``share_of`` of its text, kept."""
        share = self.share.item(term_id)
        if math.isnan(share):
            share, undo = self.share_of(self.term(term_id))
            self.share[term_id], self.undo[term_id] = share, undo
            return share, undo
        return share, self.undo.item(term_id)

    def term(self, term_id: int) -> str:
        return self.texts.get(term_id).decode()

    def counts(self) -> dict[str, int]:
        """Term -> window document frequency, for the terms with any (a scan)."""
        return {self.term(term_id): df for term_id, df in enumerate(self.df[:self.top].tolist())
                if df > 0 and self.refs[term_id] > 0}

    def _fresh(self) -> int:
        if self.top == len(self.refs):
            size = max(1024, self.top + self.top // 2)
            for name in ("refs", "df", "share", "undo"):
                old = getattr(self, name)
                new = np.zeros(size, dtype=old.dtype)
                new[:self.top] = old
                setattr(self, name, new)
        self.top += 1
        return self.top - 1

"""Exact and near-duplicate signatures: word shingles, their MinHash, and the LSH banding that
makes pairs above a similarity threshold candidates (``DedupeIndex`` files and looks them up)."""

from __future__ import annotations

import re

import numpy as np

from newsflow.core.languages import UNSPACED_SCRIPTS
from newsflow.core.params import DedupeParams

# Pinned so persisted signatures stay comparable across datasketch upgrades.
MINHASH_SCHEME = "affine32"
HASH_DTYPE = "<u4"  # affine32 hash values fit 32 bits: half the bytes of uint64


# A word, or one character of a script written without spaces: read as \w+, a Chinese or
# Japanese clause was one "word", and a copy with one word changed shared no shingle with it.
_WORD = re.compile(f"[{UNSPACED_SCRIPTS}]|[^\\W{UNSPACED_SCRIPTS}]+")


def shingles(text: str, size: int) -> set[bytes]:
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < size:
        return {" ".join(words).encode("utf-8")} if words else set()
    return {" ".join(words[i:i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


def minhash_of(text: str, params: DedupeParams) -> bytes:
    # Imported here: datasketch imports scipy (~0.7 s of every start), and only the prepare
    # step hashes; the dedupe stage (the worker's and `process`'s own process) compares bytes.
    from datasketch import MinHash

    mh = MinHash(num_perm=params.num_perm, scheme=MINHASH_SCHEME)
    mh.update_batch(list(shingles(text, params.shingle_size)))
    return np.asarray(mh.hashvalues, dtype=HASH_DTYPE).tobytes()


def signature_similarity(a: bytes, b: bytes) -> float:
    """MinHash estimate of the Jaccard similarity of two signatures' shingle sets."""
    left = np.frombuffer(a, dtype=HASH_DTYPE)
    right = np.frombuffer(b, dtype=HASH_DTYPE)
    if len(left) != len(right) or not len(left):
        return 0.0
    return float(np.count_nonzero(left == right)) / len(left)


def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) whose S-curve 1-(1-s^r)^b best separates pairs above and below threshold.

    Misses above the threshold weigh 4x more than extra candidates below it: a candidate costs
    one signature comparison, a miss publishes a copy.
    """
    steps = [i / 200 for i in range(1, 200)]
    best: tuple[float, int, int] | None = None
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        miss = sum(1 - (1 - (1 - s**rows) ** bands) for s in steps if s >= threshold)
        extra = sum(1 - (1 - s**rows) ** bands for s in steps if s < threshold)
        cost = 4 * miss + extra
        if best is None or cost < best[0]:
            best = (cost, bands, rows)
    assert best is not None
    return best[1], best[2]

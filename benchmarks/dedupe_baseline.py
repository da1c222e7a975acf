"""Baseline for ``benchmarks/dedupe.py``: the dedupe index as it stood before the story and
scaling work (datasketch MinHashLSH at 0.8, story candidates from unbounded postings of every
term, eviction by scanning every memory). Kept verbatim in behaviour so the benchmark can
measure the current index against it in the same run; not used by the service.
"""

from __future__ import annotations

import base64
import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from datasketch import MinHash, MinHashLSH

# Pinned so persisted signatures stay comparable across datasketch upgrades.
MINHASH_SCHEME = "affine32"


@dataclass(frozen=True, slots=True)
class DedupeParams:
    num_perm: int = 128
    shingle_size: int = 5
    near_threshold: float = 0.8
    story_threshold: float = 0.3
    story_window_seconds: float = 72 * 3600.0
    window_seconds: float = 7 * 24 * 3600.0


@dataclass(slots=True)
class Fingerprint:
    id: str
    canonical_url: str
    content_hash: str
    minhash: bytes  # uint64 hash values, little-endian
    story_terms: dict[str, float]
    seen_at: float  # epoch seconds of the article's event time
    title: str
    source_id: str
    tags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["minhash"] = base64.b64encode(self.minhash).decode("ascii")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fingerprint:
        values = dict(data)
        values["minhash"] = base64.b64decode(values["minhash"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Decision:
    kind: str  # "new", "exact" or "near"
    story_id: str
    story_first_seen: float
    duplicate_of: str | None = None
    method: str | None = None  # canonical_url, content_hash, minhash
    similarity: float = 1.0
    story_similarity: float | None = None
    origin: str = ""  # position of the input that produced it: "topic:partition:offset"


@dataclass(slots=True)
class Memory:
    """One remembered article with the decision taken for it: the unit of persisted state."""

    fingerprint: Fingerprint
    decision: Decision

    def to_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint.to_dict(), "decision": asdict(self.decision)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Memory:
        return cls(Fingerprint.from_dict(data["fingerprint"]), Decision(**data["decision"]))


@dataclass(slots=True)
class StoryState:
    id: str
    title: str
    first_seen: float
    last_seen: float
    articles: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    terms: Counter[str] = field(default_factory=Counter)


def _as_minhash(data: bytes, params: DedupeParams) -> MinHash:
    return MinHash(num_perm=params.num_perm, hashvalues=np.frombuffer(data, dtype="<u8"),
                   scheme=MINHASH_SCHEME)


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(weight * b.get(term, 0.0) for term, weight in a.items())


class DedupeIndex:
    def __init__(self, params: DedupeParams) -> None:
        self.params = params
        self.memories: dict[str, Memory] = {}
        self.by_url: dict[str, str] = {}
        self.by_hash: dict[str, str] = {}
        self.lsh = MinHashLSH(threshold=params.near_threshold, num_perm=params.num_perm)
        self.stories: dict[str, StoryState] = {}
        self.story_postings: dict[str, set[str]] = defaultdict(set)
        self.newest_seen = 0.0

    def __len__(self) -> int:
        return len(self.memories)

    # --- decisions ---------------------------------------------------------------------------
    def decide(self, fp: Fingerprint, origin: str) -> Memory:
        """Decide for one article and remember the decision. Replaying an input (same origin)
        returns the decision taken the first time, so at-least-once redelivery is harmless."""
        known = self.memories.get(fp.id)
        if known is not None and known.decision.origin == origin:
            return known
        decision = self._exact(fp, origin) or self._near(fp, origin) or self._new(fp, origin)
        memory = Memory(fp, decision)
        self.remember(memory)
        return memory

    def _exact(self, fp: Fingerprint, origin: str) -> Decision | None:
        for method, table, key in (("canonical_url", self.by_url, fp.canonical_url),
                                   ("content_hash", self.by_hash, fp.content_hash)):
            original_id = table.get(key)
            if original_id is not None:
                original = self.memories[original_id].decision
                return Decision("exact", original.story_id, original.story_first_seen,
                                duplicate_of=original_id, method=method, similarity=1.0,
                                origin=origin)
        return None

    def _near(self, fp: Fingerprint, origin: str) -> Decision | None:
        candidate = _as_minhash(fp.minhash, self.params)
        best: tuple[float, str] | None = None
        for other_id in self.lsh.query(candidate):
            other = self.memories.get(other_id)
            if other is None or other.decision.kind != "new":
                continue
            similarity = candidate.jaccard(_as_minhash(other.fingerprint.minhash, self.params))
            if similarity >= self.params.near_threshold and (best is None or similarity > best[0]):
                best = (similarity, other_id)
        if best is None:
            return None
        original = self.memories[best[1]].decision
        return Decision("near", original.story_id, original.story_first_seen,
                        duplicate_of=best[1], method="minhash", similarity=round(best[0], 4),
                        origin=origin)

    def _new(self, fp: Fingerprint, origin: str) -> Decision:
        story, similarity = self._best_story(fp)
        if story is None:
            return Decision("new", fp.id, fp.seen_at, origin=origin)
        return Decision("new", story.id, story.first_seen, story_similarity=round(similarity, 4),
                        origin=origin)

    def _best_story(self, fp: Fingerprint) -> tuple[StoryState | None, float]:
        candidates: set[str] = set()
        for term in fp.story_terms:
            candidates |= self.story_postings.get(term, set())
        best: tuple[StoryState | None, float] = (None, 0.0)
        for story_id in sorted(candidates):
            story = self.stories.get(story_id)
            if story is None:
                continue
            if abs(fp.seen_at - story.last_seen) > self.params.story_window_seconds:
                continue
            total = sum(story.terms.values()) or 1.0
            centroid = {t: w / total for t, w in story.terms.items()}
            norm = math.sqrt(sum(w * w for w in centroid.values())) or 1.0
            similarity = cosine(fp.story_terms, {t: w / norm for t, w in centroid.items()})
            if similarity >= self.params.story_threshold and similarity > best[1]:
                best = (story, similarity)
        return best

    # --- state -------------------------------------------------------------------------------
    def remember(self, memory: Memory) -> None:
        """Add a memory (new decision or one restored from persisted state)."""
        fp, decision = memory.fingerprint, memory.decision
        self.memories[fp.id] = memory
        self.newest_seen = max(self.newest_seen, fp.seen_at)
        if decision.kind != "new":
            return
        self.by_url.setdefault(fp.canonical_url, fp.id)
        self.by_hash.setdefault(fp.content_hash, fp.id)
        if fp.id not in self.lsh:
            self.lsh.insert(fp.id, _as_minhash(fp.minhash, self.params))
        story = self.stories.get(decision.story_id)
        if story is None:
            story = StoryState(decision.story_id, fp.title, decision.story_first_seen, fp.seen_at)
            self.stories[story.id] = story
        story.last_seen = max(story.last_seen, fp.seen_at)
        if fp.id not in story.articles:
            story.articles.append(fp.id)
        if fp.source_id not in story.sources:
            story.sources.append(fp.source_id)
        story.tags = sorted(set(story.tags) | set(fp.tags))
        story.terms.update(fp.story_terms)
        for term in fp.story_terms:
            self.story_postings[term].add(story.id)

    def restore(self, memories: list[Memory]) -> None:
        for memory in sorted(memories, key=lambda m: m.fingerprint.seen_at):
            self.remember(memory)

    def expired_ids(self) -> list[str]:
        """Ids older than the window, measured against the newest article seen (event time)."""
        horizon = self.newest_seen - self.params.window_seconds
        return [mid for mid, m in self.memories.items() if m.fingerprint.seen_at < horizon]

    def forget(self, article_id: str) -> None:
        memory = self.memories.pop(article_id, None)
        if memory is None:
            return
        fp = memory.fingerprint
        if self.by_url.get(fp.canonical_url) == article_id:
            del self.by_url[fp.canonical_url]
        if self.by_hash.get(fp.content_hash) == article_id:
            del self.by_hash[fp.content_hash]
        if article_id in self.lsh:
            self.lsh.remove(article_id)
        story = self.stories.get(memory.decision.story_id)
        if story is not None and article_id in story.articles:
            story.articles.remove(article_id)
            story.terms.subtract(fp.story_terms)
            story.terms = +story.terms
            if not story.articles:
                del self.stories[story.id]
                for term in fp.story_terms:
                    self.story_postings[term].discard(story.id)

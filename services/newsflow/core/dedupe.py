"""Dedupe on three levels — exact, near-duplicate, same story — as a pure, replayable index.

The index holds what it remembers in memory; every decision it makes is returned as a
``Memory`` entry that an adapter persists (a Faust table in the stream, nothing offline).
``DedupeIndex.restore`` rebuilds an index from those entries that answers exactly as the one
it replaces: every answer is a function of the set of remembered entries and their sequence
numbers, never of the order in which they were forgotten nor of the numbers the storage gave
them (rows, signature slots, term ids are reused and differ between the two).

Cost per decision is bounded whatever the window holds: exact lookups are hash-table hits, the
near-duplicate lookup is MinHash banding (one look-up per band), and story candidates come
from postings keyed by (rare term, time bucket), so a posting only ever holds the stories of
one bucket, and postings too common to discriminate are skipped.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import struct
from array import array
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np
from xxhash import xxh3_64_intdigest

from newsflow.core.arena import Arena, Columns
from newsflow.core.bandtable import SLOT_LIMIT, BandTable
from newsflow.core.expiry import ExpiryQueue
from newsflow.core.idbytes import id_bytes, id_text
from newsflow.core.keytable import KeyTable
from newsflow.core.params import DedupeParams
from newsflow.core.postings import Postings, posting_key
from newsflow.core.rowtable import RowTable
from newsflow.core.signatures import HASH_DTYPE, lsh_bands, signature_similarity
from newsflow.core.story_features import general_share, quantise, story_keys
from newsflow.core.vocab import Vocabulary


@dataclass(slots=True)
class Fingerprint:
    id: str
    canonical_url: str
    content_hash: str
    minhash: bytes  # uint32 hash values, little-endian
    story_terms: dict[str, float]
    seen_at: float  # epoch seconds of the article's event time
    title: str
    source_id: str
    tags: list[str] = field(default_factory=list)
    lead_terms: dict[str, float] = field(default_factory=dict)  # headline and lead only


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
    seq: int = 0  # the index's decision counter: restore replays entries in this order


@dataclass(frozen=True, slots=True)
class FirstDelivery:
    """The decision the first delivery of an article id got, kept by a later memory of the same
    id that replaced that delivery's own (a re-fetch, "exact, duplicate of itself"; or any later
    input with the id): a redelivery of the first input (same origin, after a rebalance or a
    crash) gets this decision again instead of a new one (``DedupeIndex.decide``)."""

    origin_key: int  # ``origin_key`` of the first input's origin: rows keep no origin text
    seen_at: float  # the time the index filed the first input under
    decision: Decision  # as taken then; its ``origin`` is "" (replayed with the input's own)


@dataclass(slots=True)
class Memory:
    """One remembered article with the decision taken for it: the unit of persisted state."""

    fingerprint: Fingerprint
    decision: Decision  # persisted by newsflow.codecs.internal.MEMORY
    # Set when this memory replaced the memory of an earlier input with the same article id
    # from another origin: that id's first delivery still remembered (carried forward through
    # further replacements), so its redelivery is answered as the first time.
    first_delivery: FirstDelivery | None = None

    @property
    def indexed(self) -> bool:
        """Whether later articles are compared with this one: originals, and re-fetches of an
        original under its own id (which carry the original's story forward)."""
        return self.decision.kind == "new" or self.decision.duplicate_of == self.fingerprint.id


@dataclass(slots=True)
class TermSum:
    """Sum of quantised term vectors with its squared norm. Integers, so adding and removing
    members in any order gives bit-identical centroids (a restored index must answer alike)."""

    weights: Counter[int] = field(default_factory=Counter)  # by vocabulary id
    norm2: int = 0

    def add(self, terms: dict[int, int], sign: int) -> None:
        for term, weight in terms.items():
            old = self.weights.get(term, 0)
            new = old + sign * weight
            self.norm2 += new * new - old * old
            if new:
                self.weights[term] = new
            else:
                del self.weights[term]

    def cosine(self, terms: dict[int, int], norm: float) -> float:
        if not self.norm2 or not norm:
            return 0.0
        dot = sum(weight * self.weights.get(term, 0) for term, weight in terms.items())
        return dot / (norm * math.sqrt(self.norm2))




def _key64(data: bytes, number: int = 0) -> int:
    """A 64-bit dict key for ``data`` in band or time bucket ``number``: an int is smaller in
    memory than the bytes it stands for, and a collision only ever adds a candidate that is then
    checked. xxh3, not Python's ``hash()`` (salted per process): an entry has the same key in
    every process, so a restored index is laid out exactly like the one it replaces. The number
    is hashed with the data, not passed as xxh3's seed: on short inputs the seed mixes in
    linearly, and (data, band) pairs would collide."""
    return xxh3_64_intdigest(number.to_bytes(8, "little", signed=True) + data)


class _WindowRarity:
    """Term weights by rarity in the window (see ``DedupeParams.story_df_prior``), computed
    once per term and decision. Terms are keyed by vocabulary id (``Vocabulary``); the
    article's own terms that no remembered article uses by a negative key of their own."""

    __slots__ = ("factor", "prior", "total", "vocab")

    def __init__(self, vocab: Vocabulary, articles: int, prior: float) -> None:
        self.factor: dict[int, float] = {}
        self.vocab = vocab
        self.total = articles + prior
        self.prior = prior

    def own(self, key: int, term: str) -> float:
        """The factor of one of the article's own terms (``key``: its id, or negative)."""
        value = self.factor.get(key)
        if value is None:
            share, undo = general_share(term)
            df = self.vocab.df.item(key) if key >= 0 else 0
            # never negative: a term in (nearly) every remembered report says nothing
            value = self.factor[key] = max(0.0, math.log(
                self.total / (df + self.prior * share + 1)) * undo)
        return value

    def __call__(self, key: int) -> float:
        """The factor of a remembered article's term (its general share is in the columns:
        the same numbers ``general_share`` gave when the term was first filed)."""
        value = self.factor.get(key)
        if value is None:
            share, undo = self.vocab.prior(key)
            value = self.factor[key] = max(0.0, math.log(
                self.total / (self.vocab.df.item(key) + self.prior * share + 1)) * undo)
        return value


def _weighted_cosine(terms: dict[int, float], norm: float, weights: Mapping[int, int],
                     rarity: _WindowRarity) -> float:
    """Cosine of rarity-weighted ``terms`` (norm given) with ``weights`` weighted alike. The
    sums do not depend on the order of ``weights`` (``math.fsum``), whose insertion order
    differs between an index and its restored copy: their answers must be bit-identical."""
    if not norm or not weights:
        return 0.0
    factor = rarity.factor  # holds every term of ``terms`` already (they were weighted by it)
    dot = 0.0
    for term, weight in terms.items():  # the fingerprint's own order: the same on restore
        other = weights.get(term)
        if other:
            dot += weight * other * factor[term]
    other_norm = math.sqrt(math.fsum([
        (w * (factor[t] if t in factor else rarity(t))) ** 2 for t, w in weights.items()]))
    return dot / (norm * other_norm) if other_norm else 0.0


# --- the index ------------------------------------------------------------------------------
# What an article keeps besides its numbers (the row's columns): its id, its headline (the
# story's title while it is the newest report), the id of the article it copies (ids as
# ``id_bytes`` keeps them: 17 bytes for the worker's), and its terms as vocabulary ids with
# 16-bit weights. Header: the byte lengths of id, headline and original's
# id (0xFFFFFFFF: none), the numbers of story terms, lead terms and distinct terms; then those
# texts, one 4-byte id per distinct term (story terms, highest weight first, then the lead
# terms that are not story terms), one weight per story term and per lead term, and for each
# lead term the position of its id.
_BLOB = struct.Struct("<IIIHHH")
_NONE = 0xFFFFFFFF
_NAN = float("nan")
KINDS = ("new", "exact", "near")
METHODS = (None, "canonical_url", "content_hash", "minhash")
_INDEXED, _LIVE = 16, 32  # flags beside the kind (bits 0-1) and the method (bits 2-3)
_CENTURY_SECONDS = 100 * 365.25 * 86400.0


def origin_key(origin: str) -> int:
    """The 64-bit key an input's origin is remembered by, in the index and in a persisted
    ``FirstDelivery``: a false replay needs a 2^-64 collision between two inputs' positions."""
    # A key instead of the string ("topic:partition:offset", ~70 bytes as an object).
    return _key64(origin.encode(), -1)


# A row's first delivery (``FirstDelivery``), kept only for rows that replaced one: origin
# key, filed time, story first seen, similarity, story similarity (NaN: none), seq, kind and
# method (as in ``flags``), the byte lengths of the story id and of the original's id
# (0xFFFFFFFF: none); then those ids (``id_bytes``).
_FIRST = struct.Struct("<QddddqBII")


def _id_key(text: str) -> int:
    """The 64-bit key an article or story id is found by (its text is kept once, in the row)."""
    return _key64(text.encode(), -2)


def _sortable(seen_at: float) -> int:
    """The bits of a float as an unsigned integer that sorts as the float does."""
    bits = cast(int, struct.unpack("<Q", struct.pack("<d", seen_at))[0])
    return bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | (1 << 63)


def _leader_rank(similarity: float, above: float, rule: str) -> float:
    """How a candidate story ranks for the lead (``DedupeParams.story_leader``).

    "above_bar": by how far its similarity is above its own bar (or least below it). A story's
    bar rises with the time since its first report, so an older story has to lead by as much
    as a fresh one (tune: crowded NeuS pairwise F1 +0.003). "similarity" (the version before):
    the most similar story that passes its bar, then the most similar of the others."""
    if rule == "above_bar":
        return above
    return similarity if above >= 0 else similarity - 2.0  # similarities are at most 1


def new_story_id(first: Fingerprint, again: int = 0) -> str:
    """A new story's id, from its first article's content hash: the same input gives the same
    id in every run, whatever URL (host, port, temporary path) it was read from, and no clock
    or random source is involved. ``again`` counts the earlier stories of the same text still
    remembered (the text came back after its own window while its story lived on)."""
    suffix = f"#{again}" if again else ""
    return "s" + hashlib.sha256(f"story:{first.content_hash}{suffix}".encode()).hexdigest()[:31]


class StoryView:
    """A story's roll-up, read from the index's columns when asked (so it stays current)."""

    __slots__ = ("_index", "_row", "id")

    def __init__(self, index: DedupeIndex, row: int, story_id: str) -> None:
        self._index, self._row, self.id = index, row, story_id

    def _column(self, name: str) -> float:
        return cast(float, self._index.story_rows.columns[name].item(self._row))

    @property
    def first_seen(self) -> float:
        return self._column("first_seen")

    @property
    def last_seen(self) -> float:
        return self._column("last_seen")

    @property
    def first_member_seen(self) -> float:
        return self._column("first_member_seen")

    @property
    def title(self) -> str:
        index = self._index
        return index._title(int(index.story_rows.columns["title_row"][self._row]))

    @property
    def articles(self) -> list[str]:
        index = self._index
        return [index._id(row) for row in index._members(self._row)]

    @property
    def sources(self) -> list[str]:
        """In order of first report (a source gone from the story and back comes last)."""
        names = self._index.source_names
        return [names[source] for source in self._index._sources(self._row)]

    def rollup(self) -> dict[str, Any]:
        """Everything the index knows of the story, by name: equal for an index and its
        restored copy."""
        return {name: getattr(self, name) for name in (
            "id", "title", "first_seen", "last_seen", "first_member_seen", "articles",
            "sources", "tags")}

    @property
    def tags(self) -> list[str]:
        index = self._index
        tags = index.articles.columns["tags"]
        return sorted({tag for row in index._members(self._row)
                       for tag in index.tag_sets[tags.item(row)]})


class _Stories(Mapping[str, StoryView]):
    """Story id -> roll-up, for stories with at least one indexed member."""

    def __init__(self, index: DedupeIndex) -> None:
        self._index = index

    def __getitem__(self, story_id: str) -> StoryView:
        index = self._index
        row = index.story_keys.get(_id_key(story_id))
        if row < 0 or not index.story_rows.columns["members"].item(row):
            raise KeyError(story_id)
        return StoryView(index, row, story_id)

    def __len__(self) -> int:
        return self._index.live_stories

    def __iter__(self) -> Iterator[str]:
        index = self._index
        members = index.story_rows.columns["members"]
        return iter([id_text(index.story_ids.get(row)) for row in range(index.story_rows.top)
                     if members[row] > 0])


class EntryView:
    """One remembered article as the index keeps it (for inspection and tests)."""

    __slots__ = ("_index", "row")

    def __init__(self, index: DedupeIndex, row: int) -> None:
        self._index, self.row = index, row

    @property
    def seen_at(self) -> float:
        return cast(float, self._index.articles.columns["seen_at"].item(self.row))

    @property
    def decision(self) -> Decision:
        return self._index._decision(self.row)

    @property
    def first_delivery(self) -> FirstDelivery | None:
        return self._index._first_delivery(self.row)

    def term_weights(self) -> dict[str, int]:
        term = self._index.vocab.term
        return {term(k): w for k, w in self._index._term_weights(self.row).items()}

    def lead_weights_by_term(self) -> dict[str, int]:
        term = self._index.vocab.term
        return {term(k): w for k, w in self._index._lead_weights(self.row).items()}


class _Ids(Mapping[str, EntryView]):
    """Article id -> what the index keeps of it, for every remembered article."""

    def __init__(self, index: DedupeIndex) -> None:
        self._index = index

    def __getitem__(self, article_id: str) -> EntryView:
        row = self._index.ids.get(_id_key(article_id))
        if row < 0:
            raise KeyError(article_id)
        return EntryView(self._index, row)

    def __len__(self) -> int:
        return len(self._index.ids)

    def __iter__(self) -> Iterator[str]:
        index = self._index
        return iter([index._id(row) for row in index.ids.filed_rows()])


class _SlotOwners:
    """Band-table slot -> the article filed there (slots of forgotten articles are reused)."""

    def __init__(self, index: DedupeIndex) -> None:
        self._index = index

    def __len__(self) -> int:
        return self._index.signatures.top - len(self._index.signatures.free)

    def get(self, slot: int) -> str | None:
        owner = self._index.signatures.columns["owner"]
        row = owner.item(slot) if slot < self._index.signatures.top else -1
        return None if row < 0 else self._index._id(row)


class DedupeIndex:
    """The remembered window in columns (see ``docs/dedupe.md``, "Memory"): one row of fixed
    width numbers per article (``articles``) and the rest of it in one byte buffer; MinHash
    signatures as rows of a uint32 matrix (``signatures``); terms as vocabulary ids
    (``vocab``); stories in columns of their own (``story_rows``); the URL, text-hash and id
    maps as numpy hash tables; postings and band keys in sorted arrays. Only a handful of
    Python objects per *distinct* source, tag set and multi-source story remain."""

    def __init__(self, params: DedupeParams) -> None:
        self.params = params
        self.bands, self.rows = lsh_bands(params.near_threshold, params.num_perm)
        self.articles = Columns({
            "seen_at": np.float64, "first_seen": np.float64, "similarity": np.float64,
            "story_similarity": np.float64, "seq": np.int64, "id_key": np.uint64,
            "url_key": np.uint64, "hash_key": np.uint64, "origin_key": np.uint64, "story": np.int32,
            "source": np.int32, "tags": np.int32, "flags": np.uint8, "slot": np.int32,
            "next": np.int32, "prev": np.int32})
        self.texts = Arena()  # per article row: see ``_BLOB``
        # row -> its memory's first delivery (``_FIRST``), for the few rows that replaced one
        self.first_deliveries: dict[int, bytes] = {}
        # the maps hold rows only: a row's keys are in its columns
        self.ids = RowTable(self.articles, "id_key")  # article id key -> row
        self.entries = _Ids(self)
        # URL key -> row of the newest indexed article with it
        self.by_url = RowTable(self.articles, "url_key")
        self.by_hash = RowTable(self.articles, "hash_key")
        # band key (32 bits of it) -> signature slots; slots are checked against the bands
        # of the signature now in them, so a key collision or a reused slot adds nothing
        self.band_table = BandTable(merge_fraction=64, key_dtype=np.uint32)
        self._last_bands: tuple[bytes, list[int]] = (b"", [])  # the last signature's keys
        self._ranked_for: tuple[Memory, tuple[list[tuple[str, int]],
                                              list[tuple[str, int]]]] | None = None
        self._parsed_row = -1  # the row ``_terms`` read last, and what it read
        self._parsed: tuple[list[int], list[int], list[int], list[int]] = ([], [], [], [])
        self.signatures = Columns({"minhash": np.uint32, "owner": np.int32},
                                  {"minhash": params.num_perm})
        self.odd_signatures: dict[int, bytes] = {}  # slot -> a signature of another length
        self.slot_ids = _SlotOwners(self)
        self.slot_limit = SLOT_LIMIT  # the band table's slots are 32-bit
        self.vocab = Vocabulary(general_share)
        self.bucket_seconds = params.story_window_seconds / params.buckets_per_window
        # (term id, time bucket) -> {story row: members}; a bucket's low 16 bits tell buckets
        # apart while 2^16 of them span a century (24-hour buckets: 179 years)
        self.postings = Postings(bucket_bits=16 if self.bucket_seconds * 2**16
                                 >= _CENTURY_SECONDS else 32)
        self.story_rows = Columns({
            "first_seen": np.float64, "last_seen": np.float64,
            "first_member_seen": np.float64, "head": np.int32, "tail": np.int32,
            "members": np.int32, "refs": np.int32, "title_row": np.int32})
        self.story_ids = Arena()
        self.story_keys = KeyTable()  # story id key -> story row
        # per story row: its live members' source numbers (uint32) in order of first report;
        # a tuple of ints per story cost ~130 bytes
        self.story_sources = Arena()
        self.centroids: dict[int, tuple[TermSum, TermSum]] = {}
        self.live_stories = 0
        self.stories = _Stories(self)
        self.source_names: list[str] = []
        self.source_numbers: dict[str, int] = {}
        self.tag_sets: list[tuple[str, ...]] = []
        self.tag_set_numbers: dict[tuple[str, ...], int] = {}
        # (sortable event time, row): eviction reads its oldest end
        self.expiry = ExpiryQueue()
        self.newest_seen = 0.0
        self.next_seq = 1
        self.df_articles = 0  # indexed articles in the window (the vocabulary counts terms)
        # Story centroids (integer term sums of every member, two per story) are kept only when
        # similarity uses them: with ``story_member_weight`` 1 a story is compared with its
        # first reports alone, and the centroids would cost ~0.8 KB per remembered article.
        self._keeps_centroids = (params.story_member_weight < 1 or params.story_df_prior <= 0)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def df(self) -> dict[str, int]:
        """Story term -> indexed articles in the window using it (a scan: for tests)."""
        return self.vocab.counts()

    # --- reading rows -----------------------------------------------------------------------
    def _header(self, row: int) -> tuple[memoryview, tuple[int, ...]]:
        blob = self.texts.view(row)
        return blob, _BLOB.unpack_from(blob)

    def _id(self, row: int) -> str:
        blob, (id_len, *_) = self._header(row)
        return id_text(bytes(blob[_BLOB.size:_BLOB.size + id_len]))

    def _title(self, row: int) -> str:
        blob, (id_len, title_len, *_) = self._header(row)
        at = _BLOB.size + id_len
        return bytes(blob[at:at + title_len]).decode()

    def _terms(self, row: int) -> tuple[list[int], list[int], list[int], list[int]]:
        """(term ids, story weights, lead weights, lead term positions in the ids). The last
        row read is kept: a representative's story and lead weights are read one after the
        other. Callers must not change the lists."""
        if row == self._parsed_row:
            return self._parsed
        blob, (id_len, title_len, dup_len, stories, leads, words) = self._header(row)
        at = _BLOB.size + id_len + title_len + (0 if dup_len == _NONE else dup_len)
        ids = array("I", bytes(blob[at:at + 4 * words])).tolist()
        at += 4 * words
        weights = array("H", bytes(blob[at:at + 2 * (stories + leads)])).tolist()
        at += 2 * (stories + leads)
        self._parsed_row = row
        self._parsed = (ids, weights[:stories], weights[stories:], list(blob[at:at + leads]))
        return self._parsed

    def _term_weights(self, row: int) -> dict[int, int]:
        ids, weights, _, _ = self._terms(row)
        return dict(zip(ids, weights, strict=False))

    def _lead_weights(self, row: int) -> dict[int, int]:
        ids, _, weights, positions = self._terms(row)
        return dict(zip((ids[at] for at in positions), weights, strict=True))

    def _sources(self, story: int) -> list[int]:
        """The story's source numbers, in order of first report."""
        return array("I", self.story_sources.get(story)).tolist()

    def _story_id(self, story: int) -> str:
        return id_text(self.story_ids.get(story))

    def _decision(self, row: int, origin: str = "") -> Decision:
        cols = self.articles.columns
        flags = cols["flags"].item(row)
        blob, (id_len, title_len, dup_len, *_) = self._header(row)
        at = _BLOB.size + id_len + title_len
        story_similarity = cols["story_similarity"].item(row)
        return Decision(
            KINDS[flags & 3], self._story_id(cols["story"].item(row)),
            cols["first_seen"].item(row),
            None if dup_len == _NONE else id_text(bytes(blob[at:at + dup_len])),
            METHODS[(flags >> 2) & 3], cols["similarity"].item(row),
            None if math.isnan(story_similarity) else story_similarity, origin,
            cols["seq"].item(row))

    def _first_delivery(self, row: int) -> FirstDelivery | None:
        packed = self.first_deliveries.get(row)
        if packed is None:
            return None
        (key, seen_at, first_seen, similarity, story_similarity, seq, flags, story_len,
         dup_len) = _FIRST.unpack_from(packed)
        at = _FIRST.size + story_len
        return FirstDelivery(key, seen_at, Decision(
            KINDS[flags & 3], id_text(packed[_FIRST.size:at]), first_seen,
            None if dup_len == _NONE else id_text(packed[at:at + dup_len]),
            METHODS[(flags >> 2) & 3], similarity,
            None if math.isnan(story_similarity) else story_similarity, "", seq))

    @staticmethod
    def _pack_first_delivery(first: FirstDelivery) -> bytes:
        decision = first.decision
        story = id_bytes(decision.story_id)
        original = None if decision.duplicate_of is None else id_bytes(decision.duplicate_of)
        return _FIRST.pack(
            first.origin_key, first.seen_at, decision.story_first_seen, decision.similarity,
            _NAN if decision.story_similarity is None else decision.story_similarity,
            decision.seq, KINDS.index(decision.kind) | METHODS.index(decision.method) << 2,
            len(story), _NONE if original is None else len(original)) + story + (original or b"")

    def _replaced_first_delivery(self, row: int) -> FirstDelivery:
        """The first delivery a memory replacing ``row`` carries: the row's own, or the one the
        row carries already (the id's first delivery still remembered)."""
        cols = self.articles.columns
        return self._first_delivery(row) or FirstDelivery(
            cols["origin_key"].item(row), cols["seen_at"].item(row), self._decision(row))

    def _members(self, story: int) -> Iterator[int]:
        row = self.story_rows.columns["head"].item(story)
        following = self.articles.columns["next"]
        while row >= 0:
            yield row
            row = following.item(row)

    def _signature(self, slot: int) -> bytes:
        odd = self.odd_signatures.get(slot)
        return odd if odd is not None else self.signatures.columns["minhash"][slot].tobytes()

    # --- decisions ---------------------------------------------------------------------------
    def decide(self, fp: Fingerprint, origin: str, now: float | None = None) -> Memory:
        """Decide for one article and remember the decision. Replaying an input (same origin)
        returns the decision taken the first time, so at-least-once redelivery is harmless.

        That holds too for the first input of an article id whose memory a later input with
        the same id replaced (a re-fetch: "exact, duplicate of itself"): the replacing memory
        carries the first one's decision (``Memory.first_delivery``), and a redelivery of that
        input gets it back. The memory returned then is the one that input got, which the
        index no longer remembers (``remembers``): the id's current memory stays as it is.

        ``now`` is the caller's clock (epoch seconds), used only to distrust fetch times from
        the future; see ``arrival_time`` for late and future-dated articles."""
        known = self.ids.get(_id_key(fp.id))
        if known >= 0:
            replayed = self._replay(known, fp, origin)
            if replayed is not None:
                return replayed
        arrival = self.arrival_time(fp.seen_at, now)
        if arrival != fp.seen_at:
            fp = replace(fp, seen_at=arrival)
        decision = self._exact(fp, origin) or self._near(fp, origin) or self._new(fp, origin)
        memory = Memory(fp, decision,
                        None if known < 0 else self._replaced_first_delivery(known))
        self.remember(memory)
        return memory

    def _replay(self, row: int, fp: Fingerprint, origin: str) -> Memory | None:
        """The memory an input got the first time, if it is the input remembered in ``row``
        (the id's current memory, as it is persisted) or the first delivery that row replaced
        (what that input got, no longer remembered); None for an input not seen before."""
        key = origin_key(origin)
        cols = self.articles.columns
        if cols["origin_key"].item(row) == key:
            return Memory(replace(fp, seen_at=cols["seen_at"].item(row)),
                          self._decision(row, origin), self._first_delivery(row))
        first = self._first_delivery(row)
        if first is not None and first.origin_key == key:
            return Memory(replace(fp, seen_at=first.seen_at),
                          replace(first.decision, origin=origin))
        return None

    def remembers(self, memory: Memory) -> bool:
        """Whether ``memory`` is the one the index remembers for its article id: false for the
        answer to a redelivered first input whose memory a later one replaced (``decide``), so
        the caller persists nothing for it and the id's persisted memory stays current."""
        row = self.ids.get(_id_key(memory.fingerprint.id))
        return row >= 0 and self.articles.columns["seq"].item(row) == memory.decision.seq

    def arrival_time(self, seen_at: float, now: float | None = None) -> float:
        """The time the index files an article under: its fetch time, moved into the window.

        A late article (a backfill, a slow feed, a source whose clock lags) older than the
        window as seen from the newest article would be forgotten by the next eviction, so
        its own copies would pass as new: it is filed at the newest time instead, and stays
        remembered for a whole window from its arrival. A fetch time more than
        ``max_clock_skew_seconds`` ahead of the caller's clock would push the window forward
        and evict everything remembered: it is filed at ``now``. Either way the article is
        still deduped against everything remembered and published as usual.
        """
        if now is not None and seen_at > now + self.params.max_clock_skew_seconds:
            seen_at = now
        if len(self.ids) and seen_at < self.newest_seen - self.params.window_seconds:
            seen_at = self.newest_seen
        return seen_at

    def _in_window(self, fp: Fingerprint, row: int) -> bool:
        """Whether the remembered article is within the window as seen from ``fp``: decisions
        must not depend on whether eviction has run yet."""
        seen_at = self.articles.columns["seen_at"].item(row)
        return not fp.seen_at - seen_at > self.params.window_seconds

    def _copy_of(self, row: int, kind: str, method: str, similarity: float,
                 origin: str) -> Decision:
        cols = self.articles.columns
        return Decision(kind, self._story_id(cols["story"].item(row)),
                        cols["first_seen"].item(row), duplicate_of=self._id(row), method=method,
                        similarity=similarity, origin=origin, seq=self.next_seq)

    def _exact(self, fp: Fingerprint, origin: str) -> Decision | None:
        # Keys are 64-bit hashes of the URL / text hash: a false match needs a 2^-64 collision.
        for method, table, key in (("canonical_url", self.by_url, _key64(fp.canonical_url.encode())),
                                   ("content_hash", self.by_hash, _key64(fp.content_hash.encode()))):
            row = table.get(key)
            if row >= 0 and self._in_window(fp, row):
                return self._copy_of(row, "exact", method, 1.0, origin)
        return None

    def _band_keys(self, minhash: bytes) -> list[int]:
        if minhash == self._last_bands[0]:  # looked up, then filed: hashed once
            return self._last_bands[1]
        width = self.rows * 4
        keys = [_key64(minhash[band * width:(band + 1) * width], band) >> 32
                for band in range(self.bands)]
        self._last_bands = (minhash, keys)
        return keys

    def _shares_band(self, left: bytes, right: bytes) -> bool:
        """Whether two signatures agree on a whole band: what an LSH candidate is (the band
        table's keys are 32-bit, and its slots reused, so what it returns is checked)."""
        width = self.rows * 4
        return any(left[band * width:(band + 1) * width] == right[band * width:(band + 1) * width]
                   for band in range(self.bands))

    def _near(self, fp: Fingerprint, origin: str) -> Decision | None:
        """The most similar remembered original among the band table's candidates. Candidates
        are checked together, as arrays: a window of templated articles (earnings notices,
        each a candidate of many others) made a candidate loop in Python the decision's cost,
        growing with the window."""
        found = self.band_table.lookup(self._band_keys(fp.minhash))
        slots = np.unique(np.asarray(found, dtype=np.int64))
        slots = slots[slots < self.signatures.top]
        rows = self.signatures.columns["owner"][slots].astype(np.int64)
        live = rows >= 0  # else the slot was freed since it was filed
        seen = self.articles.columns["seen_at"][rows[live]]
        live[live] = ~(fp.seen_at - seen > self.params.window_seconds)  # else too old
        slots, rows = slots[live], rows[live]
        similarity = np.zeros(len(slots))
        shares = np.zeros(len(slots), dtype=bool)
        query = np.frombuffer(fp.minhash, dtype=HASH_DTYPE)
        if len(query) != self.params.num_perm:
            one_by_one = np.ones(len(slots), dtype=bool)
        elif self.odd_signatures:  # rare: only then a look-up per candidate
            one_by_one = np.array([int(slot) in self.odd_signatures for slot in slots], dtype=bool)
        else:
            one_by_one = np.zeros(len(slots), dtype=bool)
        if not one_by_one.all():
            agree = self.signatures.columns["minhash"][slots[~one_by_one]] == query
            banded = agree[:, :self.bands * self.rows].reshape(-1, self.bands, self.rows)
            # Agreement on a whole band is what a candidate is: the table's keys are 32-bit,
            # and its slots reused, so what it returns is checked.
            shares[~one_by_one] = banded.all(axis=2).any(axis=1)
            similarity[~one_by_one] = np.count_nonzero(agree, axis=1) / len(query)
        for i in np.flatnonzero(one_by_one):  # a signature of another length, kept aside
            other = self._signature(int(slots[i]))
            shares[i] = self._shares_band(fp.minhash, other)
            similarity[i] = signature_similarity(fp.minhash, other)
        best: tuple[float, str] | None = None
        best_row = -1
        for i in np.flatnonzero(shares & (similarity >= self.params.near_threshold)):
            other_id = self._id(int(rows[i]))
            if other_id != fp.id and (best is None or (float(similarity[i]), other_id) > best):
                best, best_row = (float(similarity[i]), other_id), int(rows[i])
        if best is None:
            return None
        return self._copy_of(best_row, "near", "minhash", round(best[0], 4), origin)

    def _new(self, fp: Fingerprint, origin: str) -> Decision:
        story, similarity = self.best_story(fp)
        if story is None:  # a new story, named after its first article's text
            return Decision("new", self._unused_story_id(fp), fp.seen_at, origin=origin,
                            seq=self.next_seq)
        return Decision("new", story.id, story.first_seen, story_similarity=round(similarity, 4),
                        origin=origin, seq=self.next_seq)

    def _bucket(self, seen_at: float) -> int:
        return math.floor(seen_at / self.bucket_seconds)

    def story_candidates(self, fp: Fingerprint) -> list[StoryView]:
        """Stories sharing key terms with the article in the time buckets around it, most
        shared keys first; bounded by ``story_candidates`` and ``posting_limit``."""
        params = self.params
        reach = params.buckets_per_window
        centre = self._bucket(fp.seen_at)
        # Back over the story window, forward one bucket only: articles arrive in fetch-time
        # order, so members more than a bucket in the future are rare, and not looking saves
        # most of the empty look-ups.
        keys: list[int] = []
        for term_id in self.vocab.ids_of(story_keys(fp.story_terms, params.story_keys)):
            if term_id >= 0:  # else no remembered article files under it
                keys.extend(posting_key(term_id, bucket)
                            for bucket in range(centre - reach, centre + 2))
        hits = Counter(self.postings.stories_of(keys, params.posting_limit))
        shared = [(self._story_id(story), story, count) for story, count in hits.items()
                  if count >= params.story_min_keys]
        ranked = heapq.nsmallest(params.story_candidates, shared, key=lambda s: (-s[2], s[0]))
        return [StoryView(self, story, story_id) for story_id, story, _ in ranked]

    def best_story(self, fp: Fingerprint) -> tuple[StoryView | None, float]:
        """The story in reach furthest above its bar, if any passes: similarity is a blend of
        whole-article and lead cosine (``story_lead_weight``), each against the story's centroid
        and its first reports (``story_member_weight``; pooled by ``story_member_pool``), with
        terms weighted by their rarity in the window (``story_df_prior``); the bar is
        ``story_threshold`` at the story's first report and rises by
        ``story_threshold_per_day`` with time since. A story just above its bar takes the
        article only when no other story comes close, and one just below it may still take it
        when none comes close either (``_leader_takes``)."""
        # the article's terms -> vocabulary id, or a key of their own
        words = list(dict.fromkeys((*fp.story_terms, *fp.lead_terms)))
        own = {term: term_id if term_id >= 0 else -1 - n
               for n, (term, term_id) in enumerate(zip(words, self.vocab.ids_of(words),
                                                       strict=True))}
        terms = {own[t]: w for t, w in quantise(fp.story_terms).items()}
        lead = {own[t]: w for t, w in quantise(fp.lead_terms).items()}
        mix = self.params.story_lead_weight
        prior = self.params.story_df_prior
        damp = _WindowRarity(self.vocab, self.df_articles, prior)
        if prior > 0:
            story_words = {own[t]: t for t in fp.story_terms}
            lead_words = {own[t]: t for t in fp.lead_terms}
            wterms = {k: w * damp.own(k, story_words[k]) for k, w in terms.items()}
            wlead = {k: w * damp.own(k, lead_words[k]) for k, w in lead.items()}
        else:
            wterms = {k: float(w) for k, w in terms.items()}
            wlead = {k: float(w) for k, w in lead.items()}
        norm = math.sqrt(sum(w * w for w in wterms.values()))
        lead_norm = math.sqrt(sum(w * w for w in wlead.values()))
        # (story, similarity, similarity - its bar, rank) of the leading story in reach, whether
        # it passes its bar or not, and the highest similarity of the others (``_leader_takes``)
        leader: tuple[StoryView, float, float, float] | None = None
        runner_up = 0.0
        for story in self.story_candidates(fp):
            if not self._story_in_reach(story, fp.seen_at):
                continue
            centroid = self.centroids.get(story._row)
            if prior > 0:
                share = self.params.story_member_weight
                similarity = 0.0
                if share < 1 and centroid is not None:  # kept only when it counts
                    similarity = ((1 - mix) * _weighted_cosine(wterms, norm, centroid[0].weights,
                                                               damp)
                                  + mix * _weighted_cosine(wlead, lead_norm, centroid[1].weights,
                                                           damp))
                if share:  # and its first reports: what the story is about
                    firsts = list(itertools.islice(self._members(story._row),
                                                   self.params.story_representatives))
                    each = [
                        (1 - mix) * _weighted_cosine(wterms, norm, self._term_weights(r), damp)
                        + mix * _weighted_cosine(wlead, lead_norm, self._lead_weights(r), damp)
                        for r in firsts]
                    # "mean": the article must fit the story's first reports as a group, so
                    # one report that happens to share a subject's words with it cannot pull
                    # it in (``story_member_pool``)
                    member = (math.fsum(each) / len(each)
                              if self.params.story_member_pool == "mean" else max(each))
                    similarity = (1 - share) * similarity + share * member
            else:
                sums = centroid or (TermSum(), TermSum())
                similarity = ((1 - mix) * sums[0].cosine(terms, norm)
                              + mix * sums[1].cosine(lead, lead_norm))
            threshold = self.params.story_threshold + self.params.story_threshold_per_day * abs(
                fp.seen_at - story.first_seen) / 86400.0
            above = similarity - threshold
            rank = _leader_rank(similarity, above, self.params.story_leader)
            if leader is None or rank > leader[3] or (rank == leader[3]
                                                      and story.id < leader[0].id):
                if leader is not None:
                    runner_up = max(runner_up, leader[1])
                leader = (story, similarity, above, rank)
            else:
                runner_up = max(runner_up, similarity)
        if leader is not None and self._leader_takes(leader[1], leader[2], runner_up):
            return leader[0], leader[1]
        return None, 0.0

    def _leader_takes(self, similarity: float, above: float, runner_up: float) -> bool:
        """Whether the leading story (``above`` = its similarity - its bar) takes the article.

        Clearly above its bar (by ``story_contested_margin`` or more), it does. Just above it,
        only when no other story in reach comes close (the runner-up scores at most
        ``story_contested_ratio`` of it): an article about as close to two stories is a report
        of their common subject, not clearly of either, and on the stories tune part such
        joins were wrong about three times as often as the others near the bar. Below its bar,
        the second chance (``_clear_leader``)."""
        if above >= self.params.story_contested_margin:
            return True
        if above >= 0:
            return runner_up <= similarity * self.params.story_contested_ratio
        return self._clear_leader(similarity, above, runner_up)

    def _clear_leader(self, similarity: float, above: float, runner_up: float) -> bool:
        """Second chance for an article no story passed: the leading story (``above`` =
        similarity - its bar) still takes it when it is at most ``story_second_chance_margin``
        below its bar and no other story in reach comes close (the runner-up scores at most
        ``story_second_chance_ratio`` of it). A paraphrase that shares few rare words with its
        story's first reports but nothing with any other story is that story's report; one as
        close to two stories is left alone."""
        margin = self.params.story_second_chance_margin
        return (margin > 0 and similarity > 0 and above >= -margin
                and runner_up <= similarity * self.params.story_second_chance_ratio)

    def _story_in_reach(self, story: StoryView, seen_at: float) -> bool:
        """A story is joinable while the article falls within ``story_window_seconds`` of the
        story's FIRST report ("first"), so a developing subject closes and a follow-up starts a
        story of its own; "chain" (the model before issue 14, kept for the benchmark) measured
        from the span of all members, so a story fed every day never closed."""
        window = self.params.story_window_seconds
        if story.last_seen < seen_at - self.params.window_seconds:
            return False
        if self.params.story_reach == "first":
            # story.first_seen is the first report's time, kept in every member's decision: a
            # story whose first member has been forgotten cannot come back to life
            return abs(seen_at - story.first_seen) <= window
        return story.first_member_seen - window <= seen_at <= story.last_seen + window

    # --- state -------------------------------------------------------------------------------
    def remember(self, memory: Memory) -> None:
        """Add a memory (new decision or one restored from persisted state)."""
        fp, decision = memory.fingerprint, memory.decision
        indexed = memory.indexed
        blob, words, ranked_count = self._blob(memory, indexed)  # checks before changing
        first = (None if memory.first_delivery is None
                 else self._pack_first_delivery(memory.first_delivery))
        id_key = _id_key(fp.id)
        previous = self.ids.get(id_key)
        if previous >= 0:
            self._drop(previous)
        row = self.articles.allocate()
        cols = self.articles.columns
        cols["seen_at"][row] = fp.seen_at
        cols["first_seen"][row] = decision.story_first_seen
        cols["similarity"][row] = decision.similarity
        cols["story_similarity"][row] = (_NAN if decision.story_similarity is None
                                         else decision.story_similarity)
        cols["seq"][row] = decision.seq
        cols["id_key"][row] = id_key
        cols["url_key"][row] = _key64(fp.canonical_url.encode())
        cols["hash_key"][row] = _key64(fp.content_hash.encode())
        cols["origin_key"][row] = origin_key(decision.origin)
        cols["story"][row] = self._story_ref(decision.story_id)
        cols["source"][row] = self._number(self.source_numbers, self.source_names, fp.source_id)
        tags = tuple(fp.tags)
        cols["tags"][row] = self._number(self.tag_set_numbers, self.tag_sets, tags)
        cols["flags"][row] = (KINDS.index(decision.kind) | METHODS.index(decision.method) << 2
                              | (_INDEXED if indexed else 0) | _LIVE)
        cols["slot"][row] = cols["next"][row] = cols["prev"][row] = -1
        term_ids = [self.vocab.acquire(word) for word in words]
        self._parsed_row = -1
        self.texts.put(row, blob + array("I", term_ids).tobytes() + self._weights(memory))
        self._ranked_for = None
        self.ids.set(id_key, row)
        if first is not None:
            self.first_deliveries[row] = first
        self.newest_seen = max(self.newest_seen, fp.seen_at)
        self.next_seq = max(self.next_seq, decision.seq + 1)
        self.expiry.push(_sortable(fp.seen_at), row)
        if indexed:
            self._index(row, fp, term_ids[:ranked_count])

    @staticmethod
    def _number(numbers: dict[Any, int], values: list[Any], value: Any) -> int:
        """One number per distinct source or tag set (a handful cover most articles)."""
        number = numbers.get(value)
        if number is None:
            number = numbers[value] = len(values)
            values.append(value)
        return number

    def _ranked(self, memory: Memory) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """(story terms highest weight first, lead terms by name), quantised; kept for the
        memory ``remember`` files (read twice)."""
        if self._ranked_for is not None and self._ranked_for[0] is memory:
            return self._ranked_for[1]
        fp = memory.fingerprint
        ranked = sorted(quantise(fp.story_terms).items(), key=lambda kv: (-kv[1], kv[0]))
        result = ranked, sorted(quantise(fp.lead_terms).items())
        self._ranked_for = (memory, result)
        return result

    def _blob(self, memory: Memory, indexed: bool) -> tuple[bytes, list[str], int]:
        """The row's texts (``_BLOB``, up to the term ids), its distinct terms (none if it is
        not indexed: later articles are never compared with it) and how many are story terms."""
        fp, decision = memory.fingerprint, memory.decision
        ranked, lead = self._ranked(memory)
        words = [term for term, _ in ranked]
        known = set(words)
        words += [term for term, _ in lead if term not in known]
        if len(words) > 256:
            raise ValueError("an entry holds at most 256 distinct terms")
        if not indexed:
            ranked, lead, words = [], [], []
        article_id = id_bytes(fp.id)
        title = fp.title.encode() if indexed else b""
        original = None if decision.duplicate_of is None else id_bytes(decision.duplicate_of)
        header = _BLOB.pack(len(article_id), len(title),
                            _NONE if original is None else len(original), len(ranked), len(lead),
                            len(words))
        return b"".join((header, article_id, title, original or b"")), words, len(ranked)

    def _weights(self, memory: Memory) -> bytes:
        """Story and lead term weights, then the lead terms' positions (indexed rows only)."""
        if not memory.indexed:
            return b""
        ranked, lead = self._ranked(memory)
        position = {term: at for at, (term, _) in enumerate(ranked)}
        for term, _ in lead:
            if term not in position:
                position[term] = len(position)
        return (array("H", [weight for _, weight in ranked + lead]).tobytes()
                + bytes(position[term] for term, _ in lead))

    def _unused_story_id(self, fp: Fingerprint) -> str:
        """A new story's id that no remembered story has: a text posted again after its window
        starts a story of its own, even while the story it first started lives on through
        later members (the same id would have joined that story, and carried two first_seen
        times). Once the old story is forgotten its id is free again (README)."""
        again = 0
        while self.story_keys.get(_id_key(story_id := new_story_id(fp, again))) >= 0:
            again += 1
        return story_id

    def _story_ref(self, story_id: str) -> int:
        """The story's row, one more remembered article naming it (its id must outlive its
        members while a copy's decision names it)."""
        key = _id_key(story_id)
        story = self.story_keys.get(key)
        if story < 0:
            story = self.story_rows.allocate()
            self.story_keys.set(key, story)
            self.story_ids.put(story, id_bytes(story_id))
            cols = self.story_rows.columns
            cols["refs"][story] = cols["members"][story] = 0
            cols["head"][story] = cols["tail"][story] = -1
            self.story_sources.reserve(story + 1)
        self.story_rows.columns["refs"][story] += 1
        return story

    def _story_unref(self, story: int) -> None:
        refs = self.story_rows.columns["refs"]
        refs[story] -= 1
        if refs[story] == 0:
            self.story_keys.pop(_id_key(self._story_id(story)))
            self.story_ids.drop(story)
            self.story_sources.drop(story)
            self.story_rows.release(story)

    def _index(self, row: int, fp: Fingerprint, story_terms: list[int]) -> None:
        cols = self.articles.columns
        # The newest indexed article owns its URL and text hash. An older one with the same key
        # is outside the window (else this one would be its exact copy) and is about to be
        # forgotten; leaving the key with it dropped the key with it, so a later copy found
        # nothing live, but was marked a copy of this article after a restore.
        for table, key in ((self.by_url, cols["url_key"].item(row)),
                           (self.by_hash, cols["hash_key"].item(row))):
            table.set(key, row)
        slot = self.signatures.allocate()
        if slot >= self.slot_limit:
            raise OverflowError("the band table's slots are 32-bit")
        if len(fp.minhash) == 4 * self.params.num_perm:
            self.signatures.columns["minhash"][slot] = np.frombuffer(fp.minhash, HASH_DTYPE)
        else:
            self.odd_signatures[slot] = fp.minhash
        self.signatures.columns["owner"][slot] = row
        cols["slot"][row] = slot
        self.band_table.add(self._band_keys(fp.minhash), slot)
        story = cols["story"].item(row)
        srows = self.story_rows.columns
        first = not srows["members"].item(story)
        if first:  # the story's first indexed member (again)
            srows["first_seen"][story] = cols["first_seen"].item(row)
            srows["last_seen"][story] = fp.seen_at
            srows["first_member_seen"][story] = fp.seen_at
            self.story_sources.drop(story)
            self.live_stories += 1
            if self._keeps_centroids:
                self.centroids[story] = (TermSum(), TermSum())
        srows["last_seen"][story] = max(srows["last_seen"].item(story), fp.seen_at)
        srows["first_member_seen"][story] = min(srows["first_member_seen"].item(story),
                                                fp.seen_at)
        srows["title_row"][story] = row  # the newest report's headline is the story's
        tail = srows["tail"].item(story)
        cols["prev"][row] = tail
        if tail >= 0:
            cols["next"][tail] = row
        else:
            srows["head"][story] = row
        srows["tail"][story] = row
        srows["members"][story] += 1
        source = cols["source"].item(row)
        sources = self.story_sources.get(story)
        if source not in array("I", sources):
            self.story_sources.put(story, sources + array("I", [source]).tobytes())
        if self._keeps_centroids:
            sums = self.centroids[story]
            sums[0].add(self._term_weights(row), +1)
            sums[1].add(self._lead_weights(row), +1)
        df = self.vocab.df
        for term_id in story_terms:
            df[term_id] += 1
        self.df_articles += 1
        bucket = self._bucket(fp.seen_at)
        self.postings.add([posting_key(term_id, bucket)
                           for term_id in story_terms[:self.params.story_keys]], story, first)

    def _unindex(self, row: int) -> None:
        cols = self.articles.columns
        if not cols["flags"].item(row) & _INDEXED:
            return
        for table, key in ((self.by_url, cols["url_key"].item(row)),
                           (self.by_hash, cols["hash_key"].item(row))):
            if table.get(key) == row:
                table.pop(key)
        slot = cols["slot"].item(row)
        self.band_table.remove(self._band_keys(self._signature(slot)), slot)
        self.odd_signatures.pop(slot, None)
        self.signatures.columns["owner"][slot] = -1
        self.signatures.release(slot)
        story = cols["story"].item(row)
        ids, _, _, _ = self._terms(row)
        story_count = _BLOB.unpack_from(self.texts.view(row))[3]
        story_terms = ids[:story_count]
        bucket = self._bucket(cols["seen_at"].item(row))
        self.postings.remove([posting_key(term_id, bucket)
                              for term_id in story_terms[:self.params.story_keys]], story)
        df = self.vocab.df
        for term_id in story_terms:
            df[term_id] -= 1
        self.df_articles -= 1
        srows = self.story_rows.columns
        if self._keeps_centroids:
            sums = self.centroids[story]
            sums[0].add(self._term_weights(row), -1)
            sums[1].add(self._lead_weights(row), -1)
        for term_id in ids:
            self.vocab.release(term_id)
        before, after = cols["prev"].item(row), cols["next"].item(row)
        if before >= 0:
            cols["next"][before] = after
        else:
            srows["head"][story] = after
        if after >= 0:
            cols["prev"][after] = before
        else:
            srows["tail"][story] = before
        srows["members"][story] -= 1
        if not srows["members"].item(story):
            self.live_stories -= 1
            self.story_sources.drop(story)
            self.centroids.pop(story, None)
            return
        seen = cols["seen_at"]
        member_seen = []
        sources = set()
        newest = -1
        for member in self._members(story):
            member_seen.append(seen.item(member))
            sources.add(cols["source"].item(member))
            if newest < 0 or cols["seq"].item(member) > cols["seq"].item(newest):
                newest = member
        srows["last_seen"][story] = max(member_seen)
        srows["first_member_seen"][story] = min(member_seen)
        srows["title_row"][story] = newest
        kept = [source for source in self._sources(story) if source in sources]
        self.story_sources.put(story, array("I", kept).tobytes())

    def _drop(self, row: int) -> None:
        """Forget the article in ``row``: un-index it and free the row."""
        cols = self.articles.columns
        self._unindex(row)
        self.ids.pop(cols["id_key"].item(row))
        self._story_unref(cols["story"].item(row))
        self.first_deliveries.pop(row, None)
        cols["flags"][row] = 0
        self._parsed_row = -1
        self.texts.drop(row)
        self.articles.release(row)

    def restore(self, memories: list[Memory]) -> None:
        """Rebuild from persisted entries in decision order: the same state, the same answers."""
        for memory in sorted(memories, key=lambda m: (m.decision.seq, m.fingerprint.seen_at,
                                                      m.fingerprint.id)):
            self.remember(memory)

    def expired_ids(self) -> list[str]:
        """Ids older than the window, measured against the newest article seen (event time),
        oldest first (ties by id).

        Reads the expiry heap from its oldest end, so the cost is proportional to what has
        expired, not to what is remembered. The caller is expected to ``forget`` them.
        """
        horizon = _sortable(self.newest_seen - self.params.window_seconds)
        seen = self.articles.columns["seen_at"]
        flags = self.articles.columns["flags"]
        expired: dict[int, tuple[float, str]] = {}
        keep: list[tuple[int, int]] = []
        for time, row in self.expiry.pop_before(horizon):
            if not flags.item(row) & _LIVE or _sortable(seen.item(row)) != time:
                continue  # forgotten already, or re-remembered with a newer time
            if row not in expired:
                expired[row] = (seen.item(row), self._id(row))
                keep.append((time, row))
        for time, row in keep:  # still remembered until forgotten
            self.expiry.push(time, row)
        return [article_id for _, article_id in sorted(expired.values())]

    def forget(self, article_id: str) -> None:
        row = self.ids.get(_id_key(article_id))
        if row >= 0:
            self._drop(row)

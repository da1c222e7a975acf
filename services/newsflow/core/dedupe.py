"""Dedupe on three levels — exact, near-duplicate, same story — as a pure, replayable index.

The index holds what it remembers in memory; every decision it makes is returned as a
``Memory`` entry that an adapter persists (a Faust table in the stream, nothing offline).
``DedupeIndex.restore`` rebuilds the same index from those entries, so a replacement worker
answers exactly as the one it replaces: every piece of index state is a function of the set of
remembered entries and their sequence numbers, never of the order in which they were forgotten.

Cost per decision is bounded whatever the window holds: exact lookups are dict hits, the
near-duplicate lookup is MinHash banding (one dict hit per band), and story candidates come
from postings keyed by (rare term, time bucket), so a posting only ever holds the stories of
one bucket, and postings too common to discriminate are skipped.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import re
import struct
import sys
from array import array
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import cast

import numpy as np
from datasketch import MinHash
from xxhash import xxh3_64_intdigest

from newsflow.core.bandtable import SLOT_LIMIT, BandTable
from newsflow.core.params import DedupeParams

# Pinned so persisted signatures stay comparable across datasketch upgrades.
MINHASH_SCHEME = "affine32"
HASH_DTYPE = "<u4"  # affine32 hash values fit 32 bits: half the bytes of uint64

# --- story features -------------------------------------------------------------------------
LETTERS = r"[^\W\d_]"
TOKEN = re.compile(rf"{LETTERS}+(?:[-'’]{LETTERS}+)*|\d+(?:[.,]\d+)*")
SENTENCE_START = re.compile(r"(^|[.!?:;\"“”‘’]\s*|\n\s*|[-–—]\s)$")
# Function words and news-report vocabulary that every story shares.
_STOPWORD_TEXT = """
    about above after again against also although among and another any are around because been
    before being below between both but can could did does doing down during each either else
    even ever every few for from further had has have having her here hers him his how however
    into its itself just last least less made make many may more most much must near next not
    now off once only other our out over own per said same says saying see she should since some
    still such than that the their them then there these they this those though through told too
    under until upon very was were what when where whether which while who whom whose why will
    with within without would yet you your week weeks year years day days today yesterday
    tomorrow monday tuesday wednesday thursday friday saturday sunday morning evening night time
    times first second third one two three four five six seven eight nine ten percent according
    reported report reports reporting statement news people officials official
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
STORY_TERMS = 40  # terms kept per article: enough for paraphrases to overlap on names
# A word written as a name (capitalised mid-sentence) weighs more, but not much: the same
# people appear in many events of a week (1.5 first, then 1.25; 1.1 was best on both halves
# of the stories' tune part, NeuS, once a story was scored by its first reports as a group).
NAME_BOOST = 1.1
TITLE_COUNT = 3  # a headline word counts as three body words
LEAD_WORDS = 80  # the lead paragraph names the event; it counts double
BODY_WORDS = 700  # later paragraphs add background, not identity
BASE_FORM_MIN_ZIPF = 2.5  # an inflection is folded only into a word general English knows
BASE_FORM_MAX_DROP = 1.0  # ... and that is at most 10x rarer than the inflected form itself
MAX_IDF = 7.0  # zipf scale: 7 ~ "the"; words unknown to wordfreq (rare names) get the maximum
# Expected share of reports using a word, from its general-English frequency: a ~500-word
# report holds a word of Zipf frequency z about 10 ** (z - 6.3) times, i.e. 10 ** (0.7 - rarity).
DOC_ZIPF_OFFSET = 0.7


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


@dataclass(slots=True)
class Memory:
    """One remembered article with the decision taken for it: the unit of persisted state."""

    fingerprint: Fingerprint
    decision: Decision  # persisted by newsflow.codecs.internal.MEMORY

    @property
    def indexed(self) -> bool:
        """Whether later articles are compared with this one: originals, and re-fetches of an
        original under its own id (which carry the original's story forward)."""
        return self.decision.kind == "new" or self.decision.duplicate_of == self.fingerprint.id


@dataclass(slots=True)
class TermSum:
    """Sum of quantised term vectors with its squared norm. Integers, so adding and removing
    members in any order gives bit-identical centroids (a restored index must answer alike)."""

    weights: Counter[str] = field(default_factory=Counter)
    norm2: int = 0

    def add(self, terms: dict[str, int], sign: int) -> None:
        for term, weight in terms.items():
            old = self.weights.get(term, 0)
            new = old + sign * weight
            self.norm2 += new * new - old * old
            if new:
                self.weights[term] = new
            else:
                del self.weights[term]

    def cosine(self, terms: dict[str, int], norm: float) -> float:
        if not self.norm2 or not norm:
            return 0.0
        dot = sum(weight * self.weights.get(term, 0) for term, weight in terms.items())
        return dot / (norm * math.sqrt(self.norm2))


@dataclass(slots=True)
class StoryState:
    """A story's roll-up. Its sources and tags are read from the counts (one container each
    fewer per story), and its members' times from their entries."""

    id: str
    title: str
    first_seen: float
    last_seen: float
    articles: list[str] = field(default_factory=list)
    # members' whole-article and headline-and-lead terms; one shared empty sum when the index
    # keeps no centroids
    terms: TermSum = field(default_factory=TermSum)
    lead: TermSum = field(default_factory=TermSum)
    source_counts: Counter[str] = field(default_factory=Counter)  # in order of first report
    tag_counts: Counter[str] = field(default_factory=Counter)
    first_member_seen: float = math.inf

    @property
    def sources(self) -> list[str]:
        return list(self.source_counts)

    @property
    def tags(self) -> list[str]:
        return sorted(self.tag_counts)


_NO_CENTROID = TermSum()  # shared by every story of an index that keeps no centroids


# --- exact and near-duplicate signatures ----------------------------------------------------
def shingles(text: str, size: int) -> set[bytes]:
    words = [w.lower() for w in re.findall(r"\w+", text)]
    if len(words) < size:
        return {" ".join(words).encode("utf-8")} if words else set()
    return {" ".join(words[i:i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


def minhash_of(text: str, params: DedupeParams) -> bytes:
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


def _key64(data: bytes, number: int = 0) -> int:
    """A 64-bit dict key for ``data`` in band or time bucket ``number``: an int is smaller in
    memory than the bytes it stands for, and a collision only ever adds a candidate that is then
    checked. xxh3, not Python's ``hash()`` (salted per process): an entry has the same key in
    every process, so a restored index is laid out exactly like the one it replaces. The number
    is hashed with the data, not passed as xxh3's seed: on short inputs the seed mixes in
    linearly, and (data, band) pairs would collide."""
    return xxh3_64_intdigest(number.to_bytes(8, "little", signed=True) + data)


# --- story features -------------------------------------------------------------------------
@lru_cache(maxsize=200_000)
def _idf(word: str) -> float:
    """Rarity of a word in general English (wordfreq's Zipf scale, 0-8): a stand-in for IDF
    that needs no corpus state, so the stateless stage can weigh terms on its own."""
    if word.isdigit() or word[0].isdigit():
        if len(word) == 4 and word[:2] in ("19", "20"):
            return 1.0  # years: present in most reports, say little about which event
        return 3.0 if len(word) > 1 else 0.0
    from wordfreq import zipf_frequency

    return max(0.0, MAX_IDF - zipf_frequency(word, "en"))


@lru_cache(maxsize=200_000)
def _base_form(word: str) -> str:
    """A light, dictionary-checked inflection fold: "sanctions" -> "sanction", "slammed" ->
    "slam", "voting" -> "vote", "Democrats" -> "democrat". Of the candidate stems, the one
    general English (wordfreq) uses most is taken, and only if it is known
    (``BASE_FORM_MIN_ZIPF``) and not far rarer than the word itself
    (``BASE_FORM_MAX_DROP``): "making" is "make", not "mak"; "chaos", "during", "always" and
    "Brussels" stay as written. Paraphrases of one event use the same words in different
    inflections, and title-case headlines capitalise every word; leads are too short to lose
    those matches."""
    if word[0].isdigit() or "'" in word or "-" in word:
        return word
    candidates: list[str] = []
    if word.endswith("ies") and len(word) >= 5:
        candidates = [word[:-3] + "y"]
    elif word.endswith("s") and len(word) >= 5 and not word.endswith(("ss", "us", "is")):
        candidates = [word[:-1], word[:-2]] if word.endswith("es") else [word[:-1]]
    elif word.endswith("ied") and len(word) >= 5:
        candidates = [word[:-3] + "y"]
    elif word.endswith("ed") and len(word) >= 5:
        candidates = [word[:-2], word[:-1]]
        if word[-3] == word[-4]:
            candidates.append(word[:-3])
    elif word.endswith("ing") and len(word) >= 6:
        candidates = [word[:-3], word[:-3] + "e"]
        if word[-4] == word[-5]:
            candidates.append(word[:-4])
    candidates = [candidate for candidate in candidates if len(candidate) >= 3]
    if not candidates:
        return word
    from wordfreq import zipf_frequency

    frequency, stem = max((zipf_frequency(candidate, "en"), candidate)
                          for candidate in candidates)
    if frequency >= max(BASE_FORM_MIN_ZIPF, zipf_frequency(word, "en") - BASE_FORM_MAX_DROP):
        return stem
    return word


@lru_cache(maxsize=200_000)
def _general_share(term: str) -> tuple[float, float]:
    """(expected share of reports using the term in general English, 1 / its ``_idf``): the
    window rarity's prior, and the factor that takes ``_idf`` back out of a fingerprint
    weight (the window rarity replaces it)."""
    rarity = _idf(term)
    return min(1.0, 10 ** (DOC_ZIPF_OFFSET - rarity)), 1.0 / max(rarity, 0.5)


def _terms_with_case(text: str, limit: int, fold: bool = True) -> list[tuple[str, bool]]:
    """(lower-cased term, looks like a name) for the first ``limit`` tokens."""
    out: list[tuple[str, bool]] = []
    for match in TOKEN.finditer(text):
        word = match.group(0)
        if word.endswith(("'s", "’s")):
            word = word[:-2]
        lower = word.lower().replace("’", "'").replace(",", "")
        if fold:  # names too: "Democrats" in a title-case headline, "democrats" in the lead
            lower = _base_form(lower)
        start = match.start()
        sentence_start = SENTENCE_START.search(text[max(0, start - 3):start]) is not None
        out.append((lower, word[0].isupper() and not sentence_start))
        if len(out) >= limit:
            break
    return out


def story_terms(title: str, text: str, fold: bool = True,
                name_boost: float = NAME_BOOST) -> dict[str, float]:
    """Weighted terms that identify an event: rare words and names in the title and the lead.

    Weight = (1 + ln tf) * rarity * (``name_boost`` if written as a name), where the title
    counts three times and the lead twice; the top ``STORY_TERMS`` are kept and L2-normalised.
    ``fold`` folds inflections (``_base_form``); off, and with ``name_boost`` 1.5, the terms
    are as before issue 14.
    """
    counts: Counter[str] = Counter()
    named: set[str] = set()
    words = _terms_with_case(text, BODY_WORDS, fold)
    for position, (term, is_name) in enumerate(words):
        counts[term] += 2 if position < LEAD_WORDS else 1
        if is_name:
            named.add(term)
    for term, is_name in _terms_with_case(title, 60, fold):
        counts[term] += TITLE_COUNT
        if is_name:
            named.add(term)
    weights: dict[str, float] = {}
    for term, tf in counts.items():
        if term in STOPWORDS or (len(term) < 3 and not term[0].isdigit()):
            continue
        idf = _idf(term)
        if idf <= 0:
            continue
        weights[term] = (1 + math.log(tf)) * idf * (name_boost if term in named else 1.0)
    top = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:STORY_TERMS]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    return {term: round(w / norm, 4) for term, w in top}


def lead_terms(title: str, text: str, fold: bool = True,
               name_boost: float = NAME_BOOST) -> dict[str, float]:
    """``story_terms`` of the headline and the lead only: what the report is *about*. Later
    paragraphs recount background that neighbouring stories share (the same leaders, the same
    conflict), so the lead tells a related story from the same one."""
    lead = " ".join(text.split()[:LEAD_WORDS])
    return story_terms(title, lead, fold, name_boost)


def quantise(terms: dict[str, float]) -> dict[str, int]:
    return {term: round(weight * 1000) for term, weight in terms.items() if weight > 0}


def story_keys(terms: dict[str, float], count: int) -> list[str]:
    """The ``count`` heaviest terms (ties by name): what an article is looked up and filed
    under. Ranked on quantised weights, exactly as ``Entry`` ranks them."""
    ranked = sorted(quantise(terms).items(), key=lambda kv: (-kv[1], kv[0]))
    return [term for term, _ in ranked[:count]]


class _WindowRarity:
    """Term weights by rarity in the window (see ``DedupeParams.story_df_prior``), computed
    once per term and decision."""

    __slots__ = ("df", "factor", "prior", "total")

    def __init__(self, df: Mapping[str, int], articles: int, prior: float) -> None:
        self.factor: dict[str, float] = {}
        self.df = df
        self.total = articles + prior
        self.prior = prior

    def __call__(self, term: str) -> float:
        value = self.factor.get(term)
        if value is None:
            share, undo = _general_share(term)
            # never negative: a term in (nearly) every remembered report says nothing
            value = self.factor[term] = max(0.0, math.log(
                self.total / (self.df.get(term, 0) + self.prior * share + 1)) * undo)
        return value


def _weighted_cosine(terms: dict[str, float], norm: float, weights: Mapping[str, int],
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
# An entry's numbers, signature and term weights in one bytes object: an int or float object
# costs 24-36 bytes, a Decision object ~100, an array's header 64; packed, they cost their
# width. Order: event time, story's first report, similarity, story similarity (NaN: none),
# decision counter, band-table slot, the 64-bit keys of URL, text hash and input position, the
# numbers of story and lead terms; then the MinHash signature, one 16-bit weight per story term
# and per lead term, and for each lead term the position of its word in ``words``.
_PACKED = struct.Struct("<ddddqqQQQHH")
_NAN = float("nan")
_SLOT_AT = struct.calcsize("<ddddq")  # where the band-table slot is packed


class Entry:
    """What the index keeps of one remembered article: the decision and the keys to find and
    un-index it. Far smaller than the ``Memory``, because a window holds up to millions of them:
    numbers, signature and term weights packed in one bytes object, each word once as an
    interned string (a lead term that is also a story term is a 1-byte position), the story id,
    the original's id and the tag set shared with every other entry that has them."""

    __slots__ = ("duplicate_of", "indexed", "kind", "method", "packed", "source_id",
                 "story_id", "tags", "title", "words")

    def __init__(self, memory: Memory, slot: int) -> None:
        fp, decision = memory.fingerprint, memory.decision
        ranked = sorted(quantise(fp.story_terms).items(), key=lambda kv: (-kv[1], kv[0]))
        lead = sorted(quantise(fp.lead_terms).items())
        position = {term: at for at, (term, _) in enumerate(ranked)}
        words = [term for term, _ in ranked]
        for term, _ in lead:
            if term not in position:
                position[term] = len(words)
                words.append(term)
        if len(words) > 256:
            raise ValueError("an entry holds at most 256 distinct terms")
        story_similarity = decision.story_similarity
        self.packed = b"".join((
            _PACKED.pack(fp.seen_at, decision.story_first_seen, decision.similarity,
                         _NAN if story_similarity is None else story_similarity, decision.seq,
                         slot, _key64(fp.canonical_url.encode()),
                         _key64(fp.content_hash.encode()), _origin_key(decision.origin),
                         len(ranked), len(lead)),
            fp.minhash,
            array("H", [weight for _, weight in ranked + lead]).tobytes(),
            bytes(position[term] for term, _ in lead)))
        self.kind = sys.intern(decision.kind)
        self.method = None if decision.method is None else sys.intern(decision.method)
        self.story_id = sys.intern(decision.story_id)
        self.duplicate_of = (None if decision.duplicate_of is None
                             else sys.intern(decision.duplicate_of))
        self.indexed = memory.indexed
        # story terms, highest weight first; then the lead terms that are not story terms
        self.words = tuple(sys.intern(term) for term in words)
        self.source_id = sys.intern(fp.source_id)
        self.title = fp.title
        self.tags = _shared_tags(tuple(fp.tags))

    @classmethod
    def of(cls, memory: Memory, slot: int = -1) -> Entry:
        return cls(memory, slot)

    @property
    def seen_at(self) -> float:
        return cast(float, _PACKED.unpack_from(self.packed)[0])

    @property
    def seq(self) -> int:
        return cast(int, _PACKED.unpack_from(self.packed)[4])

    @property
    def slot(self) -> int:
        """The index's number for it in the band table (never reused; -1: not indexed)."""
        return cast(int, _PACKED.unpack_from(self.packed)[5])

    @property
    def url_key(self) -> int:
        return cast(int, _PACKED.unpack_from(self.packed)[6])

    @property
    def hash_key(self) -> int:
        return cast(int, _PACKED.unpack_from(self.packed)[7])

    def _tail(self) -> tuple[int, int, int]:
        """(story terms, lead terms, where the weights start)."""
        fields = _PACKED.unpack_from(self.packed)
        stories, leads = fields[9], fields[10]
        return stories, leads, len(self.packed) - 3 * leads - 2 * stories

    @property
    def minhash(self) -> bytes:
        return self.packed[_PACKED.size:self._tail()[2]]

    @property
    def decision(self) -> Decision:
        """The decision taken for it, its ``origin`` blank (see ``replayed``)."""
        (_, first_seen, similarity, story_similarity, seq, *_) = _PACKED.unpack_from(self.packed)
        return Decision(self.kind, self.story_id, first_seen, self.duplicate_of, self.method,
                        similarity, None if math.isnan(story_similarity) else story_similarity,
                        "", seq)

    @property
    def terms(self) -> tuple[str, ...]:
        """Story terms, highest weight first."""
        return self.words[:self._tail()[0]]

    def term_weights(self) -> dict[str, int]:
        stories, _, at = self._tail()
        return dict(zip(self.words[:stories], array("H", self.packed[at:at + 2 * stories]),
                        strict=True))

    def lead_weights_by_term(self) -> dict[str, int]:
        stories, leads, at = self._tail()
        at += 2 * stories
        words = self.words
        return dict(zip((words[i] for i in self.packed[at + 2 * leads:]),
                        array("H", self.packed[at:at + 2 * leads]), strict=True))

    def renumber(self, slot: int) -> None:
        at = _SLOT_AT
        self.packed = self.packed[:at] + slot.to_bytes(8, "little", signed=True) + self.packed[
            at + 8:]

    def replayed(self, origin: str) -> Decision | None:
        """The decision taken for this input, if ``origin`` is the input it was taken for."""
        if _origin_key(origin) != _PACKED.unpack_from(self.packed)[8]:
            return None
        return replace(self.decision, origin=origin)


def _origin_key(origin: str) -> int:
    # A 64-bit key instead of the string ("topic:partition:offset", ~70 bytes as an object):
    # a false replay needs a 2^-64 collision between two inputs' positions.
    return _key64(origin.encode(), -1)


@lru_cache(maxsize=4096)
def _shared_tags(tags: tuple[str, ...]) -> tuple[str, ...]:
    """One tuple object per tag set (a handful of sets cover most articles)."""
    return tuple(sys.intern(tag) for tag in tags)


def _leader_rank(similarity: float, above: float, rule: str) -> float:
    """How a candidate story ranks for the lead (``DedupeParams.story_leader``).

    "above_bar": by how far its similarity is above its own bar (or least below it). A story's
    bar rises with the time since its first report, so an older story has to lead by as much
    as a fresh one (tune: crowded NeuS pairwise F1 +0.003). "similarity" (the version before):
    the most similar story that passes its bar, then the most similar of the others."""
    if rule == "above_bar":
        return above
    return similarity if above >= 0 else similarity - 2.0  # similarities are at most 1


def new_story_id(first: Fingerprint) -> str:
    """A new story's id, from its first article's content hash: the same input gives the same
    id in every run, whatever URL (host, port, temporary path) it was read from, and no clock
    or random source is involved."""
    return "s" + hashlib.sha256(f"story:{first.content_hash}".encode()).hexdigest()[:31]


class DedupeIndex:
    def __init__(self, params: DedupeParams) -> None:
        self.params = params
        self.entries: dict[str, Entry] = {}
        self.by_url: dict[int, str] = {}
        self.by_hash: dict[int, str] = {}
        self.bands, self.rows = lsh_bands(params.near_threshold, params.num_perm)
        # band key -> slots of the indexed articles filed under it; slot -> article id
        self.band_table = BandTable()
        self.slot_ids: dict[int, str] = {}
        self.next_slot = 0
        self.slot_limit = SLOT_LIMIT  # the band table's slots are 32-bit
        self.stories: dict[str, StoryState] = {}
        # (key term, time bucket) -> the stories with members carrying that key in that bucket:
        # up to ``posting_limit`` stories as [story id, members, story id, members, ...] (a
        # list: a fraction of a small dict's bytes), more (a key too common to be looked up,
        # kept exactly so that it can become one again) as a dict, whose updates stay O(1);
        # most keys name one story once, and a bare story id then stands in for either
        self.postings: dict[int, str | list[str | int] | dict[str, int]] = {}
        self.bucket_seconds = params.story_window_seconds / params.buckets_per_window
        self.expiry: list[tuple[float, str]] = []  # heap of (seen_at, id): cheap eviction
        self.newest_seen = 0.0
        self.next_seq = 1
        # document frequency of story terms over the indexed articles in the window
        self.df: Counter[str] = Counter()
        self.df_articles = 0
        # Story centroids (integer term sums of every member, two per story) are kept only when
        # similarity uses them: with ``story_member_weight`` 1 a story is compared with its
        # first reports alone, and the centroids would cost ~0.8 KB per remembered article.
        self._keeps_centroids = (params.story_member_weight < 1 or params.story_df_prior <= 0)

    def __len__(self) -> int:
        return len(self.entries)

    # --- decisions ---------------------------------------------------------------------------
    def decide(self, fp: Fingerprint, origin: str, now: float | None = None) -> Memory:
        """Decide for one article and remember the decision. Replaying an input (same origin)
        returns the decision taken the first time, so at-least-once redelivery is harmless.

        ``now`` is the caller's clock (epoch seconds), used only to distrust fetch times from
        the future; see ``arrival_time`` for late and future-dated articles."""
        known = self.entries.get(fp.id)
        replayed = None if known is None else known.replayed(origin)
        if known is not None and replayed is not None:
            return Memory(replace(fp, seen_at=known.seen_at), replayed)
        arrival = self.arrival_time(fp.seen_at, now)
        if arrival != fp.seen_at:
            fp = replace(fp, seen_at=arrival)
        decision = self._exact(fp, origin) or self._near(fp, origin) or self._new(fp, origin)
        memory = Memory(fp, decision)
        self.remember(memory)
        return memory

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
        if self.entries and seen_at < self.newest_seen - self.params.window_seconds:
            seen_at = self.newest_seen
        return seen_at

    def _in_window(self, fp: Fingerprint, other_id: str) -> Entry | None:
        """The remembered article, unless it is older than the window as seen from ``fp``:
        decisions must not depend on whether eviction has run yet."""
        other = self.entries.get(other_id)
        if other is None or fp.seen_at - other.seen_at > self.params.window_seconds:
            return None
        return other

    def _exact(self, fp: Fingerprint, origin: str) -> Decision | None:
        # Keys are 64-bit hashes of the URL / text hash: a false match needs a 2^-64 collision.
        for method, table, key in (("canonical_url", self.by_url, _key64(fp.canonical_url.encode())),
                                   ("content_hash", self.by_hash, _key64(fp.content_hash.encode()))):
            original_id = table.get(key)
            original = self._in_window(fp, original_id) if original_id else None
            if original is None:
                continue
            return Decision("exact", original.decision.story_id,
                            original.decision.story_first_seen, duplicate_of=original_id,
                            method=method, similarity=1.0, origin=origin, seq=self.next_seq)
        return None

    def _band_keys(self, minhash: bytes) -> list[int]:
        width = self.rows * 4
        return [_key64(minhash[band * width:(band + 1) * width], band)
                for band in range(self.bands)]

    def _near(self, fp: Fingerprint, origin: str) -> Decision | None:
        best: tuple[float, str] | None = None
        seen: set[str] = set()
        for slot in self.band_table.lookup(self._band_keys(fp.minhash)):
            other_id = self.slot_ids.get(slot)  # None: removed since it was filed
            if other_id is None or other_id in seen or other_id == fp.id:
                continue
            seen.add(other_id)
            other = self._in_window(fp, other_id)
            if other is None:
                continue
            similarity = signature_similarity(fp.minhash, other.minhash)
            if similarity >= self.params.near_threshold and (
                    best is None or (similarity, other_id) > best):
                best = (similarity, other_id)
        if best is None:
            return None
        original = self.entries[best[1]].decision
        return Decision("near", original.story_id, original.story_first_seen,
                        duplicate_of=best[1], method="minhash", similarity=round(best[0], 4),
                        origin=origin, seq=self.next_seq)

    def _new(self, fp: Fingerprint, origin: str) -> Decision:
        story, similarity = self.best_story(fp)
        if story is None:  # a new story, named after its first article's text
            return Decision("new", new_story_id(fp), fp.seen_at, origin=origin, seq=self.next_seq)
        return Decision("new", story.id, story.first_seen, story_similarity=round(similarity, 4),
                        origin=origin, seq=self.next_seq)

    def _bucket(self, seen_at: float) -> int:
        return math.floor(seen_at / self.bucket_seconds)

    def story_candidates(self, fp: Fingerprint) -> list[str]:
        """Stories sharing key terms with the article in the time buckets around it, most
        shared keys first; bounded by ``story_candidates`` and ``posting_limit``."""
        params = self.params
        reach = params.buckets_per_window
        centre = self._bucket(fp.seen_at)
        hits: Counter[str] = Counter()
        # Back over the story window, forward one bucket only: articles arrive in fetch-time
        # order, so members more than a bucket in the future are rare, and not looking saves
        # most of the empty look-ups.
        for term in story_keys(fp.story_terms, params.story_keys):
            encoded = term.encode()
            for bucket in range(centre - reach, centre + 2):
                posting = self.postings.get(_key64(encoded, bucket))
                if posting is None:
                    continue
                if isinstance(posting, str):
                    hits[posting] += 1
                elif isinstance(posting, list) and len(posting) <= 2 * params.posting_limit:
                    hits.update(cast(list[str], posting[::2]))  # (story, members) pairs
        shared = [kv for kv in hits.items() if kv[1] >= params.story_min_keys]
        ranked = heapq.nsmallest(params.story_candidates, shared, key=lambda kv: (-kv[1], kv[0]))
        return [story_id for story_id, _ in ranked]

    def best_story(self, fp: Fingerprint) -> tuple[StoryState | None, float]:
        """The story in reach furthest above its bar, if any passes: similarity is a blend of
        whole-article and lead cosine (``story_lead_weight``), each against the story's centroid
        and its first reports (``story_member_weight``; pooled by ``story_member_pool``), with
        terms weighted by their rarity in the window (``story_df_prior``); the bar is
        ``story_threshold`` at the story's first report and rises by
        ``story_threshold_per_day`` with time since. A story just below its bar may still take
        the article when no other story comes close (``_clear_leader``)."""
        terms = quantise(fp.story_terms)
        lead = quantise(fp.lead_terms)
        mix = self.params.story_lead_weight
        prior = self.params.story_df_prior
        damp = _WindowRarity(self.df, self.df_articles, prior)
        if prior > 0:
            wterms = {t: w * damp(t) for t, w in terms.items()}
            wlead = {t: w * damp(t) for t, w in lead.items()}
        else:
            wterms = {t: float(w) for t, w in terms.items()}
            wlead = {t: float(w) for t, w in lead.items()}
        norm = math.sqrt(sum(w * w for w in wterms.values()))
        lead_norm = math.sqrt(sum(w * w for w in wlead.values()))
        # (story, similarity, similarity - its bar, rank) of the leading story in reach, whether
        # it passes its bar or not, and the highest similarity of the others (``_clear_leader``)
        leader: tuple[StoryState, float, float, float] | None = None
        runner_up = 0.0
        for story_id in self.story_candidates(fp):
            story = self.stories[story_id]
            if not self._story_in_reach(story, fp.seen_at):
                continue
            if prior > 0:
                share = self.params.story_member_weight
                similarity = 0.0
                if share < 1:  # the centroid, kept only when it counts (``_keeps_centroids``)
                    similarity = ((1 - mix) * _weighted_cosine(wterms, norm, story.terms.weights,
                                                               damp)
                                  + mix * _weighted_cosine(wlead, lead_norm, story.lead.weights,
                                                           damp))
                if share:  # and its first reports: what the story is about
                    firsts = [self.entries[a] for a in
                              story.articles[:self.params.story_representatives]]
                    each = [
                        (1 - mix) * _weighted_cosine(wterms, norm, e.term_weights(), damp)
                        + mix * _weighted_cosine(wlead, lead_norm, e.lead_weights_by_term(), damp)
                        for e in firsts]
                    # "mean": the article must fit the story's first reports as a group, so
                    # one report that happens to share a subject's words with it cannot pull
                    # it in (``story_member_pool``)
                    member = (math.fsum(each) / len(each)
                              if self.params.story_member_pool == "mean" else max(each))
                    similarity = (1 - share) * similarity + share * member
            else:
                similarity = ((1 - mix) * story.terms.cosine(terms, norm)
                              + mix * story.lead.cosine(lead, lead_norm))
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
        if leader is not None and (leader[2] >= 0 or self._clear_leader(leader[1], leader[2],
                                                                         runner_up)):
            return leader[0], leader[1]
        return None, 0.0

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

    def _story_in_reach(self, story: StoryState, seen_at: float) -> bool:
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
        previous = self.entries.get(fp.id)
        if previous is not None:
            self._unindex(fp.id, previous)
        if memory.indexed and self.next_slot >= self.slot_limit:
            self._renumber_slots()
        entry = Entry.of(memory, self.next_slot if memory.indexed else -1)
        self.entries[fp.id] = entry
        self.newest_seen = max(self.newest_seen, fp.seen_at)
        self.next_seq = max(self.next_seq, decision.seq + 1)
        heapq.heappush(self.expiry, (fp.seen_at, fp.id))
        if entry.indexed:
            self._index(fp.id, entry)

    def _renumber_slots(self) -> None:
        """Number the indexed articles again from 0, in slot order, in a new band table: run
        once every 2^32 articles indexed (slots are never reused). Look-ups then return the
        same articles under other numbers, and decisions depend on the articles, never on
        their numbers, so they do not change."""
        self.band_table = BandTable()
        live = sorted(self.slot_ids.items())
        self.slot_ids = {}
        for slot, (_, article_id) in enumerate(live):
            entry = self.entries[article_id]
            entry.renumber(slot)
            self.slot_ids[slot] = article_id
            self.band_table.add(self._band_keys(entry.minhash), slot)
        self.next_slot = len(live)

    def _index(self, article_id: str, entry: Entry) -> None:
        decision = entry.decision
        self.by_url.setdefault(entry.url_key, article_id)
        self.by_hash.setdefault(entry.hash_key, article_id)
        slot = entry.slot
        self.next_slot = slot + 1
        self.slot_ids[slot] = article_id
        self.band_table.add(self._band_keys(entry.minhash), slot)
        story = self.stories.get(decision.story_id)
        if story is None:
            story = StoryState(decision.story_id, entry.title, decision.story_first_seen,
                               entry.seen_at)
            if not self._keeps_centroids:  # never added to: one shared empty sum will do
                story.terms = story.lead = _NO_CENTROID
            self.stories[story.id] = story
        story.last_seen = max(story.last_seen, entry.seen_at)
        story.title = entry.title  # the newest report's headline is the story's current one
        story.articles.append(article_id)
        story.first_member_seen = min(story.first_member_seen, entry.seen_at)
        story.source_counts[entry.source_id] += 1
        story.tag_counts.update(set(entry.tags))
        if self._keeps_centroids:
            story.terms.add(entry.term_weights(), +1)
            story.lead.add(entry.lead_weights_by_term(), +1)
        self.df.update(entry.terms)
        self.df_articles += 1
        bucket = self._bucket(entry.seen_at)
        for term in entry.terms[:self.params.story_keys]:
            self._posting_add(_key64(term.encode(), bucket), story.id)

    def _posting_add(self, key: int, story_id: str) -> None:
        posting = self.postings.get(key)
        if posting is None:
            self.postings[key] = story_id
            return
        if isinstance(posting, str):
            posting = self.postings[key] = [posting, 1]
        if isinstance(posting, dict):
            posting[story_id] = posting.get(story_id, 0) + 1
            return
        try:  # a story id is only ever at an even position: the counts are ints
            at = posting.index(story_id)
        except ValueError:
            posting += (story_id, 1)
            if len(posting) > 2 * self.params.posting_limit:  # too common: a dict, O(1)
                self.postings[key] = dict(zip(cast(list[str], posting[::2]),
                                              cast(list[int], posting[1::2]), strict=True))
        else:
            posting[at + 1] = cast(int, posting[at + 1]) + 1

    def _posting_remove(self, key: int, story_id: str) -> None:
        posting = self.postings.get(key)
        if posting is None:
            return
        if isinstance(posting, str):
            if posting == story_id:
                del self.postings[key]
            return
        if isinstance(posting, dict):
            count = posting.get(story_id, 0) - 1
            if count > 0:
                posting[story_id] = count
            elif posting.pop(story_id, None) is not None and (
                    len(posting) <= self.params.posting_limit):
                self.postings[key] = [x for pair in posting.items() for x in pair]
            return
        try:
            at = posting.index(story_id)
        except ValueError:
            return
        count = cast(int, posting[at + 1])
        if count > 1:
            posting[at + 1] = count - 1
            return
        del posting[at:at + 2]
        if len(posting) == 2 and posting[1] == 1:
            self.postings[key] = cast(str, posting[0])  # back to the compact form
        elif not posting:
            del self.postings[key]

    def _unindex(self, article_id: str, entry: Entry) -> None:
        if not entry.indexed:
            return
        for table, key in ((self.by_url, entry.url_key), (self.by_hash, entry.hash_key)):
            if table.get(key) == article_id:
                del table[key]
        slot = entry.slot
        if self.slot_ids.pop(slot, None) is not None:
            self.band_table.remove(self._band_keys(entry.minhash), slot)
        bucket = self._bucket(entry.seen_at)
        story_id = entry.story_id
        for term in entry.terms[:self.params.story_keys]:
            self._posting_remove(_key64(term.encode(), bucket), story_id)
        self.df.subtract(entry.terms)
        for term in entry.terms:
            if self.df[term] <= 0:
                del self.df[term]
        self.df_articles -= 1
        story = self.stories.get(story_id)
        if story is None or article_id not in story.articles:
            return
        story.articles.remove(article_id)
        if not story.articles:
            del self.stories[story_id]
            return
        story.source_counts[entry.source_id] -= 1
        if story.source_counts[entry.source_id] <= 0:
            del story.source_counts[entry.source_id]
        story.tag_counts.subtract(set(entry.tags))
        story.tag_counts = +story.tag_counts
        if self._keeps_centroids:
            story.terms.add(entry.term_weights(), -1)
            story.lead.add(entry.lead_weights_by_term(), -1)
        member_seen = [self.entries[a].seen_at for a in story.articles]
        story.last_seen = max(member_seen)
        story.first_member_seen = min(member_seen)
        newest = max(story.articles, key=lambda a: self.entries[a].seq)
        story.title = self.entries[newest].title

    def restore(self, memories: list[Memory]) -> None:
        """Rebuild from persisted entries in decision order: the same state, the same answers."""
        for memory in sorted(memories, key=lambda m: (m.decision.seq, m.fingerprint.seen_at,
                                                      m.fingerprint.id)):
            self.remember(memory)

    def expired_ids(self) -> list[str]:
        """Ids older than the window, measured against the newest article seen (event time).

        Reads the expiry heap from its oldest end, so the cost is proportional to what has
        expired, not to what is remembered. The caller is expected to ``forget`` them.
        """
        horizon = self.newest_seen - self.params.window_seconds
        expired: list[str] = []
        keep: list[tuple[float, str]] = []
        while self.expiry and self.expiry[0][0] < horizon:
            seen_at, article_id = heapq.heappop(self.expiry)
            entry = self.entries.get(article_id)
            if entry is None or entry.seen_at != seen_at:
                continue  # forgotten already, or re-remembered with a newer time
            expired.append(article_id)
            keep.append((seen_at, article_id))
        for item in keep:  # still remembered until forgotten
            heapq.heappush(self.expiry, item)
        return expired

    def forget(self, article_id: str) -> None:
        entry = self.entries.pop(article_id, None)
        if entry is not None:
            self._unindex(article_id, entry)

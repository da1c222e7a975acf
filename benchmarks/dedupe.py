"""Dedupe benchmark: story and near-duplicate quality on the labelled set, and decision cost and
memory as the remembered window grows (1k, 10k, 100k, 1M articles), in one run, as JSON.

    python benchmarks/dedupe.py [--sizes 1000,10000,100000,1000000] [--repeats 3]

Quality: every labelled article goes through ``Pipeline.prepare`` (clean, tag, fingerprint —
what the stream runs) and then one ``DedupeIndex`` in fetch-time order. Story figures are
pairwise over the distinct reports (copies excluded: they inherit their original's story
trivially); near-duplicate figures are pairwise over all articles, a predicted group being an
original with everything that points to it through ``duplicate_of``. Baselines measured in the
same run: the previous term weighting (no rarity weights, centroid on all terms) for stories, and
a plain 0.8 MinHash threshold for near-duplicates. Thresholds are swept to show the margin.

Cost: synthetic fingerprints (random signatures, story terms drawn from a Zipf vocabulary plus
per-story rare names, a steady arrival rate) fill the index; the median per-decision time of a
probe batch and the resident memory per remembered article are reported per size, with ratios
against the 1k window. Every cost ratio is the median of ratios of batches run side by side in
one round (round-robin across windows), never a ratio of two independently taken medians.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import itertools
import json
import math
import os
import re
import statistics
import sys
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "services"))

from newsflow.codecs.internal import MEMORY  # noqa: E402
from newsflow.config import Settings  # noqa: E402
from newsflow.core import dedupe, signatures, story_features  # noqa: E402
from newsflow.core.dedupe import DedupeIndex, Fingerprint, Memory  # noqa: E402
from newsflow.core.params import DedupeParams  # noqa: E402
from newsflow.core.pipeline import Origin, Pipeline, Prepared  # noqa: E402
from newsflow.core.urls import stable_hash  # noqa: E402
from newsflow.pipeline_setup import build_pipeline  # noqa: E402
from newsflow.processor.malloc import pin_mmap_threshold  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "dedupe"
SEEDS = Path(os.environ.get("NEWSFLOW_SEEDS_DIR", ROOT.parent / "shared" / "seeds"))
SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(slots=True)
class Labelled:
    id: str
    story: str
    group: str  # copy group: the original's id
    source: str
    time: str
    url: str
    title: str | None
    body: str
    is_copy: bool = False
    headers: dict[str, list[str]] = field(default_factory=dict)


# --- the labelled set -----------------------------------------------------------------------
def _entries(path: Path) -> list[tuple[str, dict[str, list[str]], str]]:
    entries = []
    for chunk in re.split(r"^### ", path.read_text(encoding="utf-8"), flags=re.M)[1:]:
        head, _, body = chunk.partition("\n\n")
        lines = head.split("\n")
        headers: dict[str, list[str]] = defaultdict(list)
        for line in lines[1:]:
            if ":" in line and not line.startswith("#"):
                key, _, value = line.partition(":")
                headers[key.strip()].append(value.strip())
        entries.append((lines[0].strip(), dict(headers), body.strip()))
    return entries


def _apply_edits(original: Labelled, edits: list[str]) -> tuple[str | None, str]:
    title, paragraphs = original.title, original.body.split("\n\n")
    for edit in edits:
        verb, _, arg = edit.partition(" ")
        if verb == "title":
            title = arg
        elif verb == "top":
            paragraphs.insert(0, arg)
        elif verb == "end":
            paragraphs.append(arg)
        elif verb == "after":
            index, _, text = arg.partition(" ")
            paragraphs.insert(int(index) + 1, text)
        elif verb == "drop":
            target, count = int(arg), 0
            for i, paragraph in enumerate(paragraphs):
                sentences = SENTENCE.split(paragraph)
                if count <= target < count + len(sentences):
                    del sentences[target - count]
                    paragraphs[i] = " ".join(sentences)
                    break
                count += len(sentences)
        elif verb == "replace":
            old, _, new = arg.partition(" => ")
            paragraphs = [p.replace(old, new) for p in paragraphs]
        else:
            raise ValueError(f"unknown edit {edit!r}")
    return title, "\n\n".join(p for p in paragraphs if p)


def load_labelled(data: Path = DATA, seeds: Path = SEEDS,
                  extra: tuple[Path, ...] = ()) -> list[Labelled]:
    items: dict[str, Labelled] = {}
    copies: list[tuple[str, dict[str, list[str]]]] = []
    for path in sorted(data.glob("*.txt")) + sorted(extra):
        for entry_id, headers, body in _entries(path):
            one = {k: v[0] for k, v in headers.items()}
            if "copy_of" in one:
                copies.append((entry_id, headers))
                continue
            if "seed" in one:
                matches = sorted(seeds.glob(f"{one['seed']}_*.txt"))
                if not matches:
                    raise SystemExit(f"seed {one['seed']} not found in {seeds}")
                body, title = matches[0].read_text(encoding="utf-8"), None
            else:
                title = one["title"]
            items[entry_id] = Labelled(entry_id, one["story"], entry_id, one["source"],
                                       one["time"], one["url"], title, body, headers=headers)
    for entry_id, headers in copies:
        original = items[headers["copy_of"][0]]
        title, body = _apply_edits(original, headers.get("edit", []))
        items[entry_id] = Labelled(entry_id, original.story, original.id, headers["source"][0],
                                   headers["time"][0], headers["url"][0], title, body,
                                   is_copy=True, headers=headers)
    return sorted(items.values(), key=lambda item: (item.time, item.id))


def raw_record(item: Labelled) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "schema_version": 1,
        "url": item.url,
        "source": {"id": item.source, "name": item.source, "kind": "manual"},
        "fetched_at": item.time,
        "content_type": "text/plain",
        "body": item.body,
    }
    if item.title:
        raw["title"] = item.title
    return raw


def prepare_all(pipeline: Pipeline, items: list[Labelled]) -> list[Prepared]:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    return [pipeline.prepare(raw_record(item), Origin("bench", 0, n), now)
            for n, item in enumerate(items)]


# --- metrics --------------------------------------------------------------------------------
def pairwise(truth: list[str], predicted: list[str]) -> dict[str, float]:
    tp = fp = fn = 0
    for i, j in itertools.combinations(range(len(truth)), 2):
        same_truth, same_pred = truth[i] == truth[j], predicted[i] == predicted[j]
        tp += same_truth and same_pred
        fp += same_pred and not same_truth
        fn += same_truth and not same_pred
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "pairs_true": tp + fn, "pairs_predicted": tp + fp}


def run_index(params: DedupeParams, items: list[Labelled],
              prepared: list[Prepared]) -> list[Memory]:
    index = DedupeIndex(params)
    return [index.decide(p.fingerprint, p.origin) for p in prepared]


def evaluate(params: DedupeParams, items: list[Labelled],
             prepared: list[Prepared]) -> dict[str, Any]:
    memories = run_index(params, items, prepared)
    # Article ids come from URLs, so a re-fetch shares its original's id: map through position.
    first_of_id: dict[str, int] = {}
    for n, memory in enumerate(memories):
        first_of_id.setdefault(memory.fingerprint.id, n)
    group_pred: list[str] = []
    for memory in memories:
        target = memory.decision.duplicate_of or memory.fingerprint.id
        group_pred.append(items[first_of_id[target]].id)
    distinct = [n for n, item in enumerate(items) if not item.is_copy]
    story_truth = [items[n].story for n in distinct]
    story_pred = [memories[n].decision.story_id for n in distinct]
    wrong_kind = [items[n].id for n in distinct if memories[n].decision.kind != "new"]
    missed = [item.id for item, m in zip(items, memories, strict=True)
              if item.is_copy and m.decision.kind == "new"]
    clusters: dict[str, list[str]] = defaultdict(list)
    for n in distinct:
        clusters[memories[n].decision.story_id].append(items[n].id)
    return {
        "story": pairwise(story_truth, story_pred),
        "near_duplicate": pairwise([item.group for item in items], group_pred),
        "originals_flagged_as_duplicates": wrong_kind,
        "copies_missed": missed,
        "methods": dict(Counter(m.decision.method or "new" for m in memories)),
        "story_clusters": sorted(sorted(c) for c in clusters.values()),
    }


def jaccard_calibration(pipeline: Pipeline, items: list[Labelled],
                        prepared: list[Prepared]) -> dict[str, Any]:
    """Exact 5-word-shingle Jaccard of every copy pair vs every other pair (after cleaning)."""
    size = pipeline.params.shingle_size
    sets = [signatures.shingles(f"{p.article['title']}\n{p.article['body']}", size)
            for p in prepared]
    copies: list[float] = []
    others: list[float] = []
    for i, j in itertools.combinations(range(len(items)), 2):
        union = len(sets[i] | sets[j]) or 1
        value = len(sets[i] & sets[j]) / union
        (copies if items[i].group == items[j].group else others).append(value)
    return {"copy_pairs_min": round(min(copies), 3), "copy_pairs_median":
            round(statistics.median(copies), 3), "other_pairs_max": round(max(others), 3),
            "copy_pairs": len(copies), "other_pairs": len(others)}


def baseline_story_terms(title: str, text: str) -> dict[str, float]:
    """The weighting this index started with: counts boosted for capitals and the title, no
    rarity weights, 60 terms. Kept here as the story baseline."""
    weights: defaultdict[str, float] = defaultdict(float)
    for source, boost in ((title, 2.0), (text, 1.0)):
        for match in re.finditer(r"\w+", source):
            word = match.group(0)
            lower = word.lower()
            if lower in story_features.STOPWORDS or len(lower) < 3:
                continue
            weights[lower] += boost * (2.0 if word[0].isupper() or word.isdigit() else 1.0)
    top = heapq.nlargest(60, weights.items(), key=itemgetter(1))  # what Counter.most_common does
    norm = sum(w * w for _, w in top) ** 0.5 or 1.0
    return {term: round(w / norm, 4) for term, w in top}


def with_terms(prepared: list[Prepared], fn: Any) -> list[Prepared]:
    out = []
    for p in prepared:
        fp = replace(p.fingerprint, story_terms=fn(p.article["title"], p.article["body"]),
                     lead_terms={})
        out.append(Prepared(p.article, fp, p.origin))
    return out


def seed_004_same_day(params: DedupeParams, items: list[Labelled],
                      prepared: list[Prepared]) -> dict[str, Any]:
    """Counterfactual: 004 fetched the same day as 000-003. Does content alone keep it apart?"""
    moved = []
    for item, p in zip(items, prepared, strict=True):
        if item.id == "seed-004":
            when = datetime(2026, 2, 11, 13, 0, tzinfo=UTC).timestamp()
            p = Prepared(p.article, replace(p.fingerprint, seen_at=when), p.origin)
        moved.append(p)
    order = sorted(range(len(items)), key=lambda n: moved[n].fingerprint.seen_at)
    memories = run_index(params, [items[n] for n in order], [moved[n] for n in order])
    by_id = {items[n].id: m for n, m in zip(order, memories, strict=True)}
    story_000 = by_id["seed-000"].decision.story_id
    decision = by_id["seed-004"].decision
    return {"joins_000_003": decision.story_id == story_000,
            "story_similarity": decision.story_similarity}


def shuffled_arrival(params: DedupeParams, items: list[Labelled], prepared: list[Prepared],
                     runs: int = 5) -> dict[str, Any]:
    """Arrival order is not publication order: the same set fed in shuffled orders (each
    article keeps its own time). Medians and worst of the pairwise figures over the runs."""
    rng = np.random.default_rng(11)
    story, near = [], []
    for _ in range(runs):
        order = [int(i) for i in rng.permutation(len(items))]
        # a copy must come after its original to be one: keep originals first among a group
        rank = {n: pos for pos, n in enumerate(order)}
        by_id = {item.id: n for n, item in enumerate(items)}
        order.sort(key=lambda n: (rank[by_id[items[n].group]], items[n].is_copy, rank[n]))
        result = evaluate(params, [items[n] for n in order], [prepared[n] for n in order])
        story.append(result["story"]["f1"])
        near.append(result["near_duplicate"]["f1"])
    return {"runs": runs, "story_f1_median": statistics.median(story),
            "story_f1_worst": min(story), "near_duplicate_f1_median": statistics.median(near),
            "near_duplicate_f1_worst": min(near)}


def fingerprint_cost(params: DedupeParams, prepared: list[Prepared],
                     runs: int = 5) -> dict[str, float]:
    """CPU per article of the two signatures the stateless stage computes (medians of runs)."""
    texts = [(p.article["title"], p.article["body"]) for p in prepared]
    out = {}
    for name, fn in (("story_terms", lambda t: story_features.story_terms(*t)),
                     ("lead_terms", lambda t: story_features.lead_terms(*t)),
                     ("minhash", lambda t: signatures.minhash_of(f"{t[0]}\n{t[1]}", params))):
        samples = []
        for _ in range(runs):
            start = time.process_time()
            for text in texts:
                fn(text)
            samples.append((time.process_time() - start) / len(texts) * 1e3)
        out[name] = round(statistics.median(samples), 3)
    return out


def held_out(pipeline: Pipeline) -> dict[str, Any]:
    """The held-out file (written after the thresholds were chosen) run together with the
    main set, scored on its own articles only, and on everything."""
    path = DATA / "heldout" / "articles.txt"
    items = load_labelled(extra=(path,))
    prepared = prepare_all(pipeline, items)
    memories = run_index(pipeline.params, items, prepared)
    own = {entry_id for entry_id, _, _ in _entries(path)}
    distinct = [n for n, item in enumerate(items) if not item.is_copy and item.id in own]
    result = evaluate(pipeline.params, items, prepared)
    return {"articles": len(own), "stories": len({items[n].story for n in distinct}),
            "story_heldout_only": pairwise([items[n].story for n in distinct],
                                           [memories[n].decision.story_id for n in distinct]),
            "story_all": result["story"], "near_duplicate_all": result["near_duplicate"]}


def quality(settings: Settings) -> dict[str, Any]:
    pipeline = build_pipeline(settings)
    items = load_labelled()
    prepared = prepare_all(pipeline, items)
    params = pipeline.params
    result: dict[str, Any] = {
        "articles": len(items),
        "distinct_reports": sum(not i.is_copy for i in items),
        "copies": sum(i.is_copy for i in items),
        "stories": len({i.story for i in items}),
        "params": {"near_threshold": params.near_threshold,
                   "story_threshold": params.story_threshold,
                   "story_lead_weight": params.story_lead_weight,
                   "story_window_hours": params.story_window_seconds / 3600},
        "ours": evaluate(params, items, prepared),
        "jaccard_calibration": jaccard_calibration(pipeline, items, prepared),
    }
    result["baseline_untuned_terms"] = {
        k: v for k, v in evaluate(replace(params, story_lead_weight=0.0), items,
                                  with_terms(prepared, baseline_story_terms)).items()
        if k in ("story", "near_duplicate")}
    result["whole_article_terms_only"] = evaluate(
        replace(params, story_lead_weight=0.0), items, prepared)["story"]
    result["lead_terms_only"] = evaluate(
        replace(params, story_lead_weight=1.0), items, prepared)["story"]
    result["seed_004_same_day"] = seed_004_same_day(params, items, prepared)
    result["shuffled_arrival"] = shuffled_arrival(params, items, prepared)
    result["fingerprint_cost_ms_per_article"] = fingerprint_cost(params, prepared)
    sweep = {}
    for threshold in (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5):
        scores = evaluate(replace(params, story_threshold=threshold), items, prepared)["story"]
        sweep[str(threshold)] = {k: scores[k] for k in ("precision", "recall", "f1")}
    result["story_threshold_sweep"] = sweep
    result["held_out"] = held_out(pipeline)
    near_sweep = {}
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        scores = evaluate(replace(params, near_threshold=threshold), items,
                          prepared)["near_duplicate"]
        near_sweep[str(threshold)] = {k: scores[k] for k in ("precision", "recall", "f1")}
    result["near_threshold_sweep"] = near_sweep
    return result


# --- cost as the window grows --------------------------------------------------------------
INTERVAL = 0.6  # seconds between synthetic articles: ~144k a day, 1M in a 7-day window
VOCABULARY = 50_000


class Synthetic:
    """Fingerprints shaped like real ones: a random MinHash signature (10% are edited copies of
    a recent article), 5 rare story names plus 30 Zipf-distributed vocabulary terms, stories
    of 1-5 reports arriving close together."""

    def __init__(self, params: DedupeParams, seed: int = 7, short_ids: bool = False) -> None:
        """``short_ids``: ids of 10 characters (``a000000042``), as before the ids took the
        worker's shape (32 hex digits from the URL; story ids "s" and 31 hex digits); the
        reference decisions were recorded with them."""
        self.params = params
        self.short_ids = short_ids
        self.rng = np.random.default_rng(seed)
        self.vocab = [sys.intern(f"w{i}") for i in range(VOCABULARY)]
        # rarer words weigh more, as with the real rarity weights
        self.vocab_weight = [round(0.02 + 0.18 * math.log(r + 2) / math.log(VOCABULARY + 1), 4)
                             for r in range(VOCABULARY)]
        self.recent: deque[bytes] = deque(maxlen=1000)
        self.story = 0
        self.left_in_story = 0
        self.chunk: list[list[int]] = []

    def story_id(self) -> str:
        """The current story's id."""
        if self.short_ids:
            return f"story{self.story}"
        return "s" + stable_hash(f"story:{self.story}")[:31]

    def _ranks(self) -> list[int]:
        if not self.chunk:  # numpy draws in bulk: per-call overhead would dominate
            ranks = np.minimum(self.rng.zipf(1.3, (4096, 30)), VOCABULARY) - 1
            self.chunk = ranks.tolist()
        return self.chunk.pop()

    def fingerprint(self, n: int) -> Fingerprint:
        rng = self.rng
        if self.left_in_story == 0:
            self.story += 1
            self.left_in_story = int(rng.integers(1, 6))
        self.left_in_story -= 1
        if self.recent and rng.random() < 0.1:
            base = np.frombuffer(self.recent[int(rng.integers(len(self.recent)))], "<u4").copy()
            edit = rng.random(len(base)) < 0.2
            base[edit] = rng.integers(0, 2**32, int(edit.sum()), dtype=np.uint32)
            minhash = base.astype("<u4").tobytes()
        else:
            minhash = rng.integers(0, 2**32, self.params.num_perm, dtype=np.uint32).tobytes()
        self.recent.append(minhash)
        terms = {sys.intern(f"s{self.story}n{k}"): 0.3 - 0.02 * k for k in range(5)}
        for rank in self._ranks():
            terms.setdefault(self.vocab[rank], self.vocab_weight[rank])
        norm = sum(w * w for w in terms.values()) ** 0.5
        terms = {t: round(w / norm, 4) for t, w in terms.items()}
        lead = dict(list(terms.items())[:15])  # the names and the first words drawn
        lead_norm = sum(w * w for w in lead.values()) ** 0.5
        url = f"https://site{n % 500}.example/news/{n}"
        return Fingerprint(
            id=f"a{n:09d}" if self.short_ids else stable_hash(url)[:32], canonical_url=url,
            content_hash=f"{n:064x}", minhash=minhash, story_terms=terms,
            seen_at=1_700_000_000 + n * INTERVAL, title=f"Synthetic report {n}",
            source_id=f"source-{n % 500}", tags=["politics"] if n % 3 else ["economy"],
            lead_terms={t: round(w / lead_norm, 4) for t, w in lead.items()})


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def build_window(size: int, params: DedupeParams,
                 synthetic: Synthetic) -> tuple[DedupeIndex, Synthetic, int]:
    """An index holding ``size`` remembered articles, its window set to exactly that span."""
    window = replace(params, window_seconds=size * INTERVAL)
    index = DedupeIndex(window)
    for n in range(size):
        fp = synthetic.fingerprint(n)
        index.remember(Memory(fp, dedupe.Decision("new", synthetic.story_id(), fp.seen_at,
                                                  origin=f"fill:{n}", seq=n + 1)))
    return index, synthetic, size


def table_cost(size: int, params: DedupeParams) -> dict[str, Any]:
    """The worker's other copy of its state: the Faust table ``dedupe-memory`` (article id ->
    ``Memory`` JSON, as ``processor/app.py`` writes it), held in memory by the default store.
    Measured with ``tracemalloc`` (bytes Python allocated for it and still holds): resident
    memory cannot tell, since the table reuses pages the freed windows gave back."""
    import tracemalloc

    synthetic = Synthetic(params, seed=size)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    table: dict[bytes, bytes] = {}
    value_bytes = 0
    for n in range(size):
        fp = synthetic.fingerprint(n)
        memory = Memory(fp, dedupe.Decision("new", synthetic.story_id(), fp.seen_at,
                                            origin=f"fill:{n}", seq=n + 1))
        value = MEMORY.encode(memory)  # the table value exactly as the worker stores it
        value_bytes += len(value)
        table[fp.id.encode()] = value
    del synthetic
    gc.collect()
    resident = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    result = {"table_bytes_per_article": round(resident / size),
              "table_value_bytes_mean": round(value_bytes / size)}
    del table
    gc.collect()
    return result


def rocksdb_table_cost(size: int) -> dict[str, Any]:
    """The table in the worker's default store: RocksDB through rocksdict, opened with the
    options the worker gives Faust (``ROCKSDB_TABLE_OPTIONS``), filled with ``size`` values as
    the worker writes them, then read in full as a rebuild after recovery reads it. Run in a
    child process of its own: the resident memory it adds is RocksDB's (write buffers, block
    cache, index and filter blocks), not pages another measurement freed."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        result: dict[str, Any] = pool.apply(_rocksdb_table_child, (size,))
    return result


def _rocksdb_table_child(size: int) -> dict[str, Any]:
    import tempfile

    from faust.stores.rocksdb import RocksDBOptions

    from newsflow.processor.faust_app import ROCKSDB_TABLE_OPTIONS

    pin_mmap_threshold()  # the worker pins it in its one process, RocksDB's allocations too
    params = build_pipeline(Settings()).params
    synthetic = Synthetic(params, seed=size)
    with tempfile.TemporaryDirectory(prefix="dedupe-table-") as folder:
        path = Path(folder) / "dedupe-memory-0.db"
        gc.collect()
        before = _rss_bytes()
        db = RocksDBOptions(**ROCKSDB_TABLE_OPTIONS, use_rocksdict=True).open(path)
        for n in range(size):
            fp = synthetic.fingerprint(n)
            memory = Memory(fp, dedupe.Decision("new", synthetic.story_id(), fp.seen_at,
                                                origin=f"fill:{n}", seq=n + 1))
            db.put(fp.id.encode(), MEMORY.encode(memory))
        written = _rss_bytes() - before
        read = sum(1 for _ in db.values())  # what the rebuild reads
        gc.collect()
        after_read = _rss_bytes() - before
        db.close()
        disk = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    assert read == size
    return {"table_rocksdb_bytes_per_article": round(max(written, after_read) / size),
            "table_rocksdb_resident_mb": round(max(written, after_read) / 2**20, 1),
            "table_rocksdb_disk_bytes_per_article": round(disk / size)}


def scaling(sizes: list[int], repeats: int, probes: int, table_sizes: tuple[int, ...] = (),
            rocksdb_sizes: tuple[int, ...] = ()) -> dict[str, Any]:
    """All windows side by side in one process: built one after another (resident memory
    measured around each build), then probe batches run round-robin across the windows so
    machine noise hits every size alike; per-article CPU time (decide + eviction), medians."""
    params = build_pipeline(Settings()).params
    pin_mmap_threshold()  # as the worker does (processor/malloc.py)
    windows: dict[int, tuple[DedupeIndex, Synthetic, int]] = {}
    rows: dict[str, dict[str, Any]] = {}
    for size in sizes:
        synthetic = Synthetic(params, seed=size)  # its vocabulary is not the index's memory
        gc.collect()
        before = _rss_bytes()
        start = time.process_time()
        windows[size] = build_window(size, params, synthetic)
        fill = time.process_time() - start
        gc.collect()
        rows[str(size)] = {"memory_bytes_per_article": round((_rss_bytes() - before) / size),
                           "fill_us_per_article": round(fill / size * 1e6, 1)}
    timings: dict[int, list[float]] = {size: [] for size in sizes}
    kinds: dict[int, Counter[str]] = {size: Counter() for size in sizes}
    for round_number in range(repeats):
        shift = round_number % len(sizes)
        for size in sizes[shift:] + sizes[:shift]:
            index, synthetic, n = windows[size]
            batch = [synthetic.fingerprint(n + i) for i in range(probes)]
            start = time.process_time()
            for i, fp in enumerate(batch):
                kinds[size][index.decide(fp, f"probe:{n + i}").decision.kind] += 1
                for expired in index.expired_ids():
                    index.forget(expired)
            timings[size].append((time.process_time() - start) / probes)
            windows[size] = (index, synthetic, n + probes)
    smallest = sizes[0]
    for size in sizes:
        row = rows[str(size)]
        row["remembered"] = len(windows[size][0])
        row["stories"] = len(windows[size][0].stories)
        row["decide_us_median"] = round(statistics.median(timings[size]) * 1e6, 1)
        row["decide_us_batches"] = [round(t * 1e6, 1) for t in timings[size]]
        row["probe_decisions"] = dict(kinds[size])
    for size in sizes:
        del windows[size]  # measure the table on its own
    gc.collect()
    for size in sizes:
        if size in table_sizes:
            row = rows[str(size)]
            row.update(table_cost(size, params))
            row["worker_bytes_per_article_memory_store"] = (row["memory_bytes_per_article"]
                                                            + row["table_bytes_per_article"])
        if size in rocksdb_sizes:
            row = rows[str(size)]
            row.update(rocksdb_table_cost(size))
            row["worker_bytes_per_article"] = (row["memory_bytes_per_article"]
                                               + row["table_rocksdb_bytes_per_article"])
    base = rows[str(smallest)]
    for size in sizes:
        row = rows[str(size)]
        row["decide_cost_ratio_vs_smallest"] = paired_median(timings[size], timings[smallest])
        row["memory_ratio_vs_smallest"] = round(
            row["memory_bytes_per_article"] / max(base["memory_bytes_per_article"], 1), 3)
    return {"interval_seconds": INTERVAL, "probes_per_batch": probes, "batches": repeats,
            "timer": "process CPU time", "sizes": rows}


def paired_median(numerators: list[float], denominators: list[float]) -> float:
    """Median of the per-round ratios (both batches of a ratio ran in the same round)."""
    return round(statistics.median(n / d for n, d in zip(numerators, denominators,
                                                          strict=True)), 3)


def baseline_scaling(sizes: list[int], repeats: int, probes: int) -> dict[str, Any]:
    """The index before this work (``dedupe_baseline.py``) beside ours on the same synthetic
    stream: its story look-up walks the postings of every term and its eviction scans every
    memory. Both are filled with the same articles; each round runs one probe batch (the same
    articles) on every window of both, in rotating order, so load hits them alike."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import dedupe_baseline as old

    params = build_pipeline(Settings()).params

    def convert(fp: Fingerprint) -> Any:
        # the old index kept uint64 signatures
        wide = np.frombuffer(fp.minhash, "<u4").astype("<u8").tobytes()
        return old.Fingerprint(fp.id, fp.canonical_url, fp.content_hash, wide,
                               fp.story_terms, fp.seen_at, fp.title, fp.source_id, fp.tags)

    windows: dict[int, tuple[Any, DedupeIndex, Synthetic]] = {}
    for size in sizes:
        synthetic = Synthetic(params, seed=size)
        theirs = old.DedupeIndex(old.DedupeParams(window_seconds=size * INTERVAL))
        ours = DedupeIndex(replace(params, window_seconds=size * INTERVAL))
        for n in range(size):
            fp = synthetic.fingerprint(n)
            theirs.remember(old.Memory(convert(fp), old.Decision(
                "new", synthetic.story_id(), fp.seen_at, origin=f"fill:{n}")))
            ours.remember(Memory(fp, dedupe.Decision("new", synthetic.story_id(),
                                                     fp.seen_at, origin=f"fill:{n}", seq=n + 1)))
        windows[size] = (theirs, ours, synthetic)
    timings: dict[tuple[str, int], list[float]] = defaultdict(list)
    for round_number in range(repeats):
        for size in sizes[round_number % len(sizes):] + sizes[:round_number % len(sizes)]:
            theirs, ours, synthetic = windows[size]
            n = size + round_number * probes
            batch = [synthetic.fingerprint(n + i) for i in range(probes)]
            runs: list[tuple[str, Any, list[Any]]] = [
                ("baseline", theirs, [convert(fp) for fp in batch]), ("ours", ours, batch)]
            for name, index, fps in runs if round_number % 2 == 0 else runs[::-1]:
                start = time.process_time()
                for i, fp in enumerate(fps):
                    index.decide(fp, f"probe:{n + i}")
                    for expired in index.expired_ids():
                        index.forget(expired)
                timings[name, size].append((time.process_time() - start) / probes)
    rows: dict[str, Any] = {}
    for size in sizes:
        rows[str(size)] = {
            "decide_us_median": round(statistics.median(timings["baseline", size]) * 1e6, 1),
            "decide_us_batches": [round(b * 1e6, 1) for b in timings["baseline", size]],
            "decide_cost_ratio_vs_smallest": paired_median(timings["baseline", size],
                                                           timings["baseline", sizes[0]]),
            "ours_decide_us_median": round(statistics.median(timings["ours", size]) * 1e6, 1),
            "baseline_over_ours": paired_median(timings["baseline", size],
                                                timings["ours", size])}
    return {"probes_per_batch": probes, "batches": repeats, "timer": "process CPU time",
            "sizes": rows}


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(s) for s in text.split(",") if s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quality-only", action="store_true")
    parser.add_argument("--cost-only", action="store_true",
                        help="only decision cost and memory as the window grows")
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--baseline-sizes", default="1000,10000",
                        help="window sizes for the old index ('' to skip); it is slow at scale")
    parser.add_argument("--probes", type=int, default=400)
    parser.add_argument("--table-sizes", default="1000,10000,100000",
                        help="window sizes whose Faust table copy is measured too")
    parser.add_argument("--rocksdb-sizes", default="100000,1000000",
                        help="window sizes whose table is measured in RocksDB, the default store")
    args = parser.parse_args()
    settings = Settings()
    report: dict[str, Any] = {} if args.cost_only else {"quality": quality(settings)}
    if not args.quality_only:
        report["scaling"] = scaling([int(s) for s in args.sizes.split(",")], args.repeats,
                                    args.probes, _sizes(args.table_sizes),
                                    _sizes(args.rocksdb_sizes))
        if args.baseline_sizes:
            report["scaling_baseline_previous_index"] = baseline_scaling(
                [int(s) for s in args.baseline_sizes.split(",")], 3, 100)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

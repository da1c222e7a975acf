"""Same-story grouping on real, editor-grouped news: pairwise and B-cubed P/R/F1, stories
predicted vs true, per part, beside baselines run in the same run, as JSON.

    python benchmarks/stories.py [--corpus DIR] [--part tune|report|both]

Data: ``../shared/corpora/stories/*.jsonl.gz`` (see its README), read at run time; nothing of
its text is kept in the project. Two corpora, scored separately:

- ``neus``: 1,340 AllSides headline roundups, three outlets' headline and lead each, undated.
  Each roundup is published together: roundup *k* (in an order fixed by a hash of its story
  id) starts ``ROUNDUP_GAP`` after roundup *k-1*, and each of its three articles arrives at a
  hash-chosen offset in ``[0, ROUNDUP_SPREAD)`` from that start. So the articles of about a
  dozen roundups interleave and ~``story window / ROUNDUP_GAP`` unrelated stories (mostly US
  politics, often the same people) are in reach of every article: a harder setting than one
  roundup at a time, and denser than AllSides' own few roundups a day.
- ``basil``: 100 events 2010-2019, three outlets each, dated (day resolution, reports 0-4 days
  apart), full bodies: each article arrives on its date at a hash-chosen hour (06-22 UTC).

Split: a story is in the ``report`` part when the first 8 hex digits of sha256(story id) are
odd, else ``tune``. Thresholds and weights are tuned on ``tune`` only; ``report`` is held out.

Every article goes through ``Pipeline.prepare`` (clean, tag, fingerprint) and then one
``DedupeIndex`` per corpus and part in arrival order, as ``newsflow process`` does. Systems:

- ``newsflow``: the index with the project's settings;
- ``closest_first_report``: the same index and fingerprints, but a story scored by its single
  closest first report (``story_member_pool`` "max", bar 0.19, as the version before), to show
  what pooling the first reports' cosines (their mean) does;
- ``previous_version``: the same index and fingerprints with the story choice of the fourth
  session's version (8 candidates, the most similar passing story, no second chance for a
  clear leader, no contested joins);
- ``uncontested``: the same, with every story choice of this version but contested joins (a
  story just above its bar takes the article whatever its rivals score, the fifth session's);
- ``before``: the model before issue 14 (story reach chained from the latest member, no rare-key
  evidence), reproduced through ``DedupeParams``;
- ``tfidf_best_article``: TF-IDF cosine (IDF from the part's own articles, sublinear tf, title
  + body), one pass: an article joins the story of its most similar earlier article within the
  story window if the cosine reaches a threshold, else starts a story; window (24 or 72 h) and
  threshold are chosen on ``tune`` per corpus.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import re
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "services"))

from newsflow.config import Settings  # noqa: E402
from newsflow.core.dedupe import DedupeIndex  # noqa: E402
from newsflow.core.params import DedupeParams  # noqa: E402
from newsflow.core.pipeline import Origin, Pipeline, Prepared  # noqa: E402
from newsflow.core.story_features import lead_terms, story_terms  # noqa: E402
from newsflow.pipeline_setup import build_pipeline  # noqa: E402

CORPUS = Path(os.environ.get("NEWSFLOW_STORIES_DIR",
                             ROOT.parent / "shared" / "corpora" / "stories"))
START = datetime(2020, 1, 6, tzinfo=UTC)  # arbitrary: only differences of times matter
ROUNDUP_GAP = timedelta(minutes=30)
ROUNDUP_SPREAD = timedelta(hours=6)
TFIDF_THRESHOLDS = [round(0.05 * i, 2) for i in range(2, 13)]
TFIDF_WINDOWS_HOURS = [24.0, 72.0]
WORD = re.compile(r"\w+")


@dataclass(slots=True)
class Article:
    id: str
    story: str
    corpus: str
    title: str
    body: str
    outlet: str
    at: datetime


def _hash(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16)


def part_of(story_id: str) -> str:
    return "report" if _hash(story_id) % 2 else "tune"


def load(corpus_dir: Path = CORPUS) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for name, path in (("neus", "allsides-neus-undated.jsonl.gz"),
                       ("basil", "basil-2010-2019.jsonl.gz")):
        with gzip.open(corpus_dir / path, "rt", encoding="utf-8") as handle:
            rows[name] = [json.loads(line) for line in handle if line.strip()]
    return rows


def timeline(corpus: str, rows: list[dict[str, Any]],
             gap: timedelta = ROUNDUP_GAP) -> list[Article]:
    """Arrival times as documented in the module docstring, sorted by arrival."""
    articles: list[Article] = []
    if corpus == "neus":
        stories = sorted({r["story_id"] for r in rows}, key=lambda s: (_hash("order" + s), s))
        start = {story: START + k * gap for k, story in enumerate(stories)}
        spread = ROUNDUP_SPREAD.total_seconds()
        for r in rows:
            offset = _hash("offset" + r["id"]) % int(spread)
            articles.append(Article(r["id"], r["story_id"], corpus, r["title"] or "",
                                    r["body"] or "", f"outlet-{r['id'][-1]}",
                                    start[r["story_id"]] + timedelta(seconds=offset)))
    else:
        for r in rows:
            day = datetime.fromisoformat(r["date"]).replace(tzinfo=UTC)
            hour = 6 + _hash("hour" + r["id"]) % 16
            articles.append(Article(r["id"], r["story_id"], corpus, r["title"] or "",
                                    r["body"] or "", r["outlet"] or "unknown",
                                    day + timedelta(hours=hour)))
    return sorted(articles, key=lambda a: (a.at, a.id))


def prepare(pipeline: Pipeline, articles: list[Article]) -> list[Prepared]:
    out = []
    for n, a in enumerate(articles):
        raw = {"schema_version": 1, "id": a.id, "url": f"https://stories.invalid/{a.id}",
               "source": {"id": a.outlet, "name": a.outlet, "kind": "manual"},
               "fetched_at": a.at.isoformat(), "title": a.title, "content_type": "text/plain",
               "body": a.body}
        out.append(pipeline.prepare(raw, Origin("stories", 0, n), a.at))
    return out


# --- metrics --------------------------------------------------------------------------------
def scores(truth: list[str], predicted: list[str]) -> dict[str, Any]:
    """Pairwise and B-cubed precision/recall/F1 of a clustering against the gold stories."""
    true_sets: dict[str, set[int]] = defaultdict(set)
    pred_sets: dict[str, set[int]] = defaultdict(set)
    for n, (gold, guess) in enumerate(zip(truth, predicted, strict=True)):
        true_sets[gold].add(n)
        pred_sets[guess].add(n)
    joint = Counter(zip(truth, predicted, strict=True))
    tp = sum(c * (c - 1) // 2 for c in joint.values())
    pred_pairs = sum(len(s) * (len(s) - 1) // 2 for s in pred_sets.values())
    true_pairs = sum(len(s) * (len(s) - 1) // 2 for s in true_sets.values())
    p = tp / pred_pairs if pred_pairs else 1.0
    r = tp / true_pairs if true_pairs else 1.0
    b_p = sum(joint[(t, q)] / len(pred_sets[q]) for t, q in zip(truth, predicted, strict=True))
    b_r = sum(joint[(t, q)] / len(true_sets[t]) for t, q in zip(truth, predicted, strict=True))
    n = len(truth) or 1
    b_p, b_r = b_p / n, b_r / n

    def f1(a: float, b: float) -> float:
        return 2 * a * b / (a + b) if a + b else 0.0

    return {"pairwise": {"precision": round(p, 4), "recall": round(r, 4),
                         "f1": round(f1(p, r), 4), "pairs_true": true_pairs,
                         "pairs_predicted": pred_pairs},
            "bcubed": {"precision": round(b_p, 4), "recall": round(b_r, 4),
                       "f1": round(f1(b_p, b_r), 4)},
            "stories_true": len(true_sets), "stories_predicted": len(pred_sets),
            "articles": len(truth)}


# --- systems --------------------------------------------------------------------------------
def before_params(params: DedupeParams) -> DedupeParams:
    """The story model as it was before issue 14 (used with ``before_fingerprints``)."""
    return replace(params, story_threshold=0.25, story_window_seconds=72 * 3600.0,
                   story_lead_weight=0.7, story_keys=8, story_reach="chain", story_threshold_per_day=0.0,
                   story_df_prior=0.0, story_member_weight=0.0, story_candidates=8,
                   story_leader="similarity", story_second_chance_margin=0.0,
                   story_contested_margin=0.0)


def previous_version_params(params: DedupeParams) -> DedupeParams:
    """The story model of the report figures before the second chance (issue 14, fourth
    session): 8 candidates, the most similar passing story wins, no second chance."""
    return replace(params, story_candidates=8, story_leader="similarity",
                   story_second_chance_margin=0.0, story_contested_margin=0.0)


def uncontested_params(params: DedupeParams) -> DedupeParams:
    """The story model before contested joins (issue 14, fifth session): a story at or above
    its bar takes the article whatever its rivals score."""
    return replace(params, story_contested_margin=0.0)


def before_fingerprints(articles: list[Article], prepared: list[Prepared]) -> list[Prepared]:
    """The same prepared articles with story terms as they were before issue 14 (no folding
    of inflections, names weighed 1.5): the text the fingerprint saw is the cleaned title and body."""
    out = []
    for p in prepared:
        title, body = p.article["title"] or "", p.article["body"] or ""
        fp = replace(p.fingerprint,
                     story_terms=story_terms(title, body, fold=False, name_boost=1.5),
                     lead_terms=lead_terms(title, body, fold=False, name_boost=1.5))
        out.append(Prepared(p.article, fp, p.origin))
    return out


def run_index(params: DedupeParams, prepared: list[Prepared]) -> tuple[list[str], Counter[str],
                                                                       float]:
    index = DedupeIndex(params)
    labels: list[str] = []
    kinds: Counter[str] = Counter()
    start = time.process_time()
    for p in prepared:
        memory = index.decide(p.fingerprint, p.origin)
        labels.append(memory.decision.story_id)
        kinds[memory.decision.kind] += 1
        for expired in index.expired_ids():
            index.forget(expired)
    return labels, kinds, (time.process_time() - start) / max(len(prepared), 1)


def _tfidf_vectors(articles: list[Article]) -> list[dict[str, float]]:
    counts = [Counter(WORD.findall(f"{a.title}\n{a.body}".lower())) for a in articles]
    df: Counter[str] = Counter()
    for c in counts:
        df.update(c.keys())
    total = len(articles)
    vectors = []
    for c in counts:
        v = {w: (1 + math.log(tf)) * math.log((1 + total) / (1 + df[w])) for w, tf in c.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        vectors.append({w: x / norm for w, x in v.items()})
    return vectors


def tfidf_best_article(articles: list[Article], window: float) -> list[tuple[str, float]]:
    """For each article in arrival order: (most similar earlier article id, cosine), or ("", 0)
    when nothing earlier is within ``window`` seconds. One pass, no look-ahead."""
    vectors = _tfidf_vectors(articles)
    postings: dict[str, list[int]] = defaultdict(list)
    best: list[tuple[str, float]] = []
    for n, (a, v) in enumerate(zip(articles, vectors, strict=True)):
        dots: dict[int, float] = defaultdict(float)
        for w, x in v.items():
            for m in postings[w]:
                if (a.at - articles[m].at).total_seconds() <= window:
                    dots[m] += x * vectors[m][w]
            postings[w].append(n)
        if dots:
            m, score = max(dots.items(), key=lambda kv: (kv[1], -kv[0]))
            best.append((articles[m].id, score))
        else:
            best.append(("", 0.0))
    return best


def tfidf_labels(articles: list[Article], best: list[tuple[str, float]],
                 threshold: float) -> list[str]:
    story: dict[str, str] = {}
    for a, (other, score) in zip(articles, best, strict=True):
        story[a.id] = story[other] if other and score >= threshold else a.id
    return [story[a.id] for a in articles]


# --- the run --------------------------------------------------------------------------------
def evaluate(corpus_dir: Path, parts: list[str], sweep: bool,
             gap: timedelta = ROUNDUP_GAP) -> dict[str, Any]:
    pipeline = build_pipeline(Settings())
    params = pipeline.params
    rows = load(corpus_dir)
    streams: dict[tuple[str, str], tuple[list[Article], list[Prepared]]] = {}
    prepare_seconds = 0.0
    prepared_count = 0
    for corpus, corpus_rows in rows.items():
        for part in sorted(set(parts) | {"tune"}, reverse=True):  # tune always: baseline choice
            articles = timeline(corpus, [r for r in corpus_rows
                                         if part_of(r["story_id"]) == part], gap)
            start = time.process_time()
            streams[(corpus, part)] = (articles, prepare(pipeline, articles))
            prepare_seconds += time.process_time() - start
            prepared_count += len(articles)
    # The baseline's threshold and window are chosen on the tune part of each corpus.
    tfidf_best: dict[tuple[str, str, float], list[tuple[str, float]]] = {}
    for (corpus, part), (arts, _) in streams.items():
        for hours in TFIDF_WINDOWS_HOURS:
            tfidf_best[(corpus, part, hours)] = tfidf_best_article(arts, hours * 3600.0)
    tfidf_choice: dict[str, tuple[float, float]] = {}
    for corpus in rows:
        arts, _ = streams[(corpus, "tune")]
        truth = [a.story for a in arts]
        tfidf_choice[corpus] = max(
            ((h, t) for h in TFIDF_WINDOWS_HOURS for t in TFIDF_THRESHOLDS),
            key=lambda ht: (scores(truth, tfidf_labels(
                arts, tfidf_best[(corpus, "tune", ht[0])], ht[1]))["pairwise"]["f1"],
                -ht[1], -ht[0]))
    report: dict[str, Any] = {
        "corpus": str(corpus_dir), "split": "sha256(story_id)[:8] odd -> report, even -> tune",
        "neus_timeline": {"roundup_gap_minutes": gap.total_seconds() / 60,
                          "roundup_spread_hours": ROUNDUP_SPREAD.total_seconds() / 3600},
        "params": {k: getattr(params, k) for k in params.__slots__ if k.startswith("story")},
        "prepare_ms_per_article": round(prepare_seconds / max(prepared_count, 1) * 1e3, 2),
        "tfidf_window_hours_and_threshold_from_tune": tfidf_choice, "parts": {}}
    for part in parts:
        for corpus in rows:
            arts, prep = streams[(corpus, part)]
            truth = [a.story for a in arts]
            labels, kinds, cost = run_index(params, prep)
            before, _, _ = run_index(before_params(params), before_fingerprints(arts, prep))
            closest, _, _ = run_index(replace(params, story_member_pool="max",
                                              story_threshold=0.19), prep)
            previous, _, _ = run_index(previous_version_params(params), prep)
            uncontested, _, _ = run_index(uncontested_params(params), prep)
            row: dict[str, Any] = {
                "newsflow": scores(truth, labels) | {"decisions": dict(kinds),
                                                     "decide_us_per_article": round(cost * 1e6)},
                "closest_first_report": scores(truth, closest),
                "previous_version": scores(truth, previous),
                "uncontested": scores(truth, uncontested),
                "before": scores(truth, before),
                "tfidf_best_article": scores(truth, tfidf_labels(
                    arts, tfidf_best[(corpus, part, tfidf_choice[corpus][0])],
                    tfidf_choice[corpus][1])),
            }
            if sweep:
                row["newsflow_threshold_sweep"] = {
                    str(t): scores(truth, run_index(replace(params, story_threshold=t),
                                                    prep)[0])["pairwise"]
                    for t in (0.15, 0.2, 0.25, 0.3, 0.35, 0.4)}
            report["parts"][f"{corpus}/{part}"] = row
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--part", choices=["tune", "report", "both"], default="both")
    parser.add_argument("--sweep", action="store_true", help="story threshold sweep per part")
    parser.add_argument("--gap-minutes", type=float, default=ROUNDUP_GAP.total_seconds() / 60,
                        help="NeuS: minutes between roundup starts (smaller: more in reach)")
    args = parser.parse_args()
    parts = ["tune", "report"] if args.part == "both" else [args.part]
    print(json.dumps(evaluate(args.corpus, parts, args.sweep,
                              timedelta(minutes=args.gap_minutes)), indent=2))


if __name__ == "__main__":
    main()

"""Topic tagging: our taxonomy tagger against a plain keyword baseline, in the same run.

Prints JSON: per-tag precision/recall/F1 on the labelled sets in ``benchmarks/data/tagging/``
(``tune`` was used to write the taxonomy; ``heldout`` to ``heldout4`` were written later,
each scored blind once before it was used for fixes — see docs/tagging.md),
tagging cost per article (median of several timed passes; the ratio is the median of the
per-pass ratios), and how many of the 181 real pages of the article-extraction benchmark each
tagger tags with each topic (almost none of them are about these topics).

    python benchmarks/tagging.py [--runs 5] [--errors]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from newsflow.config import Settings
from newsflow.core.clean import clean_document
from newsflow.core.tagging import Tagger
from newsflow.taxonomy_files import load_taxonomy

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data" / "tagging"
SPLITS = ("tune", "heldout", "heldout2", "heldout3", "heldout4")
REAL_PAGES = ROOT.parent / "shared" / "benchmarks" / "article-extraction" / "html"
SEEDS = ROOT.parent / "shared" / "seeds"
TAGS = ("missiles", "sanctions", "naval_deployment")

# The baseline a newsroom would write first: the topic's obvious words, anywhere in the text.
BASELINE_KEYWORDS = {
    "missiles": r"missiles?|ICBMs?",
    "sanctions": r"sanction(?:s|ed|ing)?|embargo(?:es)?",
    "naval_deployment": r"navy|navies|naval|warships?|fleets?|aircraft carriers?|destroyers?|"
                        r"frigates?|submarines?",
}
BASELINE = {tag: re.compile(rf"\b(?:{words})\b", re.IGNORECASE)
            for tag, words in BASELINE_KEYWORDS.items()}

Article = dict[str, object]
TagFn = Callable[[str, str], set[str]]


def baseline_tags(title: str, body: str) -> set[str]:
    text = f"{title}\n{body}"
    return {tag for tag, pattern in BASELINE.items() if pattern.search(text)}


def load_split(name: str) -> list[Article]:
    lines = (DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def scores(articles: list[Article], tag_fn: TagFn) -> tuple[dict[str, dict[str, float]],
                                                             list[dict[str, object]]]:
    counts = {tag: Counter[str]() for tag in TAGS}
    errors: list[dict[str, object]] = []
    for art in articles:
        got = tag_fn(str(art["title"]), str(art["text"]))
        gold = set(art["labels"])  # type: ignore[call-overload]
        for tag in TAGS:
            kind = ("tp" if tag in gold else "fp") if tag in got else (
                "fn" if tag in gold else "tn")
            counts[tag][kind] += 1
            if kind in ("fp", "fn"):
                errors.append({"id": art["id"], "tag": tag, "error": kind, "note": art["note"]})
    out = {}
    for tag, c in counts.items():
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[tag] = {"precision": round(precision, 3), "recall": round(recall, 3),
                    "f1": round(f1, 3), "tp": c["tp"], "fp": c["fp"], "fn": c["fn"]}
    return out, errors


def cost_per_article_us(articles: list[Article], tag_fns: list[TagFn],
                        runs: int) -> list[list[float]]:
    """Per tagger, per pass, the mean time to tag one article, in microseconds. Passes of the
    taggers alternate so that load from other processes on this shared machine hits both
    alike; pass i of one tagger is paired with pass i of the other."""
    timings: list[list[float]] = [[] for _ in tag_fns]
    for _ in range(runs):
        for fn, out in zip(tag_fns, timings, strict=True):
            start = time.perf_counter()
            for art in articles:
                fn(str(art["title"]), str(art["text"]))
            out.append((time.perf_counter() - start) / len(articles))
    return [[t * 1e6 for t in passes] for passes in timings]


def paired_ratio(ours: list[float], theirs: list[float]) -> float:
    """Median of the per-pass ratios: a ratio of two independent medians could pair a quiet
    pass of one tagger with a loaded pass of the other."""
    return statistics.median(o / t for o, t in zip(ours, theirs, strict=True))


def real_pages() -> list[tuple[str, str, str]]:
    pages = []
    for path in sorted(REAL_PAGES.glob("*.html.gz")):
        html = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        doc = clean_document(html, "text/html")
        pages.append((path.name.split(".")[0], doc.title, doc.text))
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed passes (median reported)")
    parser.add_argument("--errors", action="store_true", help="list misclassified articles")
    args = parser.parse_args()

    tagger = Tagger(load_taxonomy(Settings().taxonomy_path))

    def ours(title: str, body: str) -> set[str]:
        return {tag.name for tag in tagger.tag(title, body)}

    splits = {name: load_split(name) for name in SPLITS}
    splits["all"] = [art for name in SPLITS for art in splits[name]]
    report: dict[str, object] = {"articles": {k: len(v) for k, v in splits.items()},
                                 "hard_negatives": sum(1 for a in splits["all"]
                                                       if not a["labels"])}
    quality: dict[str, object] = {}
    for name, articles in splits.items():
        ours_scores, ours_errors = scores(articles, ours)
        base_scores, _ = scores(articles, baseline_tags)
        quality[name] = {
            tag: {"ours": ours_scores[tag], "baseline": base_scores[tag],
                  "f1_ratio": round(ours_scores[tag]["f1"] / base_scores[tag]["f1"], 2)
                  if base_scores[tag]["f1"] else None}
            for tag in TAGS
        }
        if args.errors and ours_errors:
            quality[name]["errors"] = ours_errors  # type: ignore[index]
    report["quality"] = quality

    all_articles = splits["all"]
    ours_us, base_us = cost_per_article_us(all_articles, [ours, baseline_tags], args.runs)
    words = statistics.mean(len(str(a["text"]).split()) for a in all_articles)
    report["cost"] = {"ours_us_per_article": round(statistics.median(ours_us), 1),
                      "baseline_us_per_article": round(statistics.median(base_us), 1),
                      "ratio": round(paired_ratio(ours_us, base_us), 1),
                      "mean_words": round(words, 1),
                      "runs": args.runs}

    pages = real_pages()
    ours_real: Counter[str] = Counter()
    base_real: Counter[str] = Counter()
    tagged_pages: list[dict[str, object]] = []
    for page_id, title, body in pages:
        got = tagger.tag(title, body)
        ours_real.update(t.name for t in got)
        base_real.update(baseline_tags(title, body))
        if got:
            tagged_pages.append({"page": page_id[:12], "title": title[:80],
                                 "tags": {t.name: t.score for t in got},
                                 "evidence": sorted({e.text for t in got for e in t.evidence})})
    real_us, real_base_us = cost_per_article_us(
        [{"title": t, "text": b} for _, t, b in pages], [ours, baseline_tags],
        max(1, args.runs // 2))
    report["real_pages"] = {
        "pages": len(pages),
        "ours": {tag: ours_real[tag] for tag in TAGS},
        "baseline": {tag: base_real[tag] for tag in TAGS},
        "ours_tagged": tagged_pages,
        "ours_us_per_page": round(statistics.median(real_us), 1),
        "baseline_us_per_page": round(statistics.median(real_base_us), 1),
        "ours_vs_baseline_cost": round(paired_ratio(real_us, real_base_us), 1),
        "mean_words": round(statistics.mean(len(b.split()) for _, _, b in pages), 1),
    }

    seeds = {}
    for path in sorted(SEEDS.glob("*.txt")):
        doc = clean_document(path.read_text(encoding="utf-8"), "text/plain")
        seeds[path.name[:3]] = {t.name: t.score for t in tagger.tag(doc.title, doc.text)}
    report["seeds"] = seeds
    json.dump(report, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()

"""How far a second person, labelling blind, agrees with the report part's labels — beside the
tagger and the keyword baseline on the same articles, in the same run.

The sample (``data/tagging/real/labels_second.jsonl``) was drawn from the report part by the
first labels only: every article with a label (stratum ``pos``), a seeded sample of the
unlabelled candidate articles (``near``) and of the unlabelled random ones (``random``). Each
sampled article stands for ``population / sampled`` articles of its stratum, so the weighted
figures estimate what a comparison over the whole report part would give. Two labellers
labelled half each from ``GUIDELINES.md`` and the text alone, without the first labels and
before the tagger was run on the sample (how: ``docs/tagging.md``, "Tenth pass").

Prints JSON: per tag, precision, recall and Cohen's kappa (weighted) of the second labels, the
tagger and the baseline, each against the first labels and against the second, with raw
counts.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from newsflow.core.tagging import Tagger
from newsflow.taxonomy_files import load_taxonomy
from tagging_real import LABELS, TAGS, KeywordBaseline, load

SECOND = LABELS.with_name("labels_second.jsonl")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def stratum_of(row: Mapping[str, Any]) -> str:
    if row["labels"]:
        return "pos"
    return "random" if row["part"] == "random" else "near"


def weights(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> dict[str, float]:
    """How many report articles each sampled article of a stratum stands for."""
    population = Counter(stratum_of(row) for row in first if row["split"] == "report")
    sampled = Counter(row["stratum"] for row in second)
    return {name: population[name] / count for name, count in sampled.items()}


def compare(gold: Mapping[str, set[str]], predicted: Mapping[str, set[str]], tag: str,
            weight: Mapping[str, float]) -> dict[str, Any]:
    cells: dict[tuple[bool, bool], float] = dict.fromkeys(
        [(True, True), (False, True), (True, False), (False, False)], 0.0)
    raw: Counter[tuple[bool, bool]] = Counter()
    for article_id, w in weight.items():
        key = (tag in gold[article_id], tag in predicted[article_id])
        cells[key] += w
        raw[key] += 1
    tp, fp, fn, tn = (cells[(True, True)], cells[(False, True)], cells[(True, False)],
                      cells[(False, False)])
    total = tp + fp + fn + tn
    observed = (tp + tn) / total
    chance = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / total / total
    return {"precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / (tp + fn), 3) if tp + fn else None,
            "kappa": round((observed - chance) / (1 - chance), 3) if chance < 1 else None,
            "tp": raw[(True, True)], "fp": raw[(False, True)], "fn": raw[(True, False)]}


def main() -> None:
    # No options: still parsed, so that --help says what it does instead of running it.
    argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0]).parse_args()
    first_rows = read_jsonl(LABELS)
    second_rows = read_jsonl(SECOND)
    per_stratum = weights(first_rows, second_rows)
    weight = {row["id"]: per_stratum[row["stratum"]] for row in second_rows}
    first = {row["id"]: set(row["labels"]) for row in first_rows if row["id"] in weight}
    second = {row["id"]: set(row["labels"]) for row in second_rows}
    tagger, baseline = Tagger(load_taxonomy(None)), KeywordBaseline()
    ours: dict[str, set[str]] = {}
    keywords: dict[str, set[str]] = {}
    for _, article in load("report"):
        if article.id in weight:
            ours[article.id] = {tag.name for tag in tagger.tag(article.title, article.text)}
            keywords[article.id] = {tag.name for tag in baseline.tag(article.title,
                                                                       article.text)}
    out: dict[str, Any] = {"articles": len(weight), "weights": per_stratum,
                           "labeller_disagreements": sum(first[i] != second[i] for i in weight)}
    for tag in TAGS:
        out[tag] = {
            "second_vs_first": compare(first, second, tag, weight),
            "ours_vs_first": compare(first, ours, tag, weight),
            "ours_vs_second": compare(second, ours, tag, weight),
            "baseline_vs_first": compare(first, keywords, tag, weight),
            "baseline_vs_second": compare(second, keywords, tag, weight),
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

"""Cross-validated choice of the tagger's decision on the TUNE part of the real-news labels.

Decisions over the rule evidence are compared with the shipped one (each topic's score
against its threshold in data/taxonomy.yaml), each fitted on some folds and judged on the fold
left out. ``--folds hash`` (default): five folds by a hash of the id. ``--folds group``: one
fold per source and labelling round (Reuters 1987 first round, Reuters near round, NeuS leads,
and BBC, BASIL, the Korean press and the fourth round together, which hold three positives), so
a decision is judged on an era and outlet it was not fitted on -- the situation of the report
part and of a newsroom.

* per-topic thresholds: the threshold with the best F1 on the other folds;
* a learned linear decision (below);
* a learned correction of the rule decision: a logistic regression whose first input is the
  rule score's margin over its topic's threshold (in evidence mass, -ln(1 - score)), the others
  the aboutness measures that the score does not already sum (spread, distinct terms, first
  evidence, length, and whether the title and the lead hold evidence); no per-topic offset, so
  with small weights it is the rule decision.

For every (article, topic) with at least one evidence span, the tagger's aboutness measures
(``core.tagging.FEATURES``: evidence in the title, the lead and the damped rest of the body,
spread over sentences, distinct terms, position of the first evidence, length) are the inputs
and the blind label the target. The model is a logistic regression with L2 penalty: one set of
weights shared by every topic (aboutness is the same question for each topic; the tune part
has too few missiles and naval positives to fit them alone) and one offset per topic. Plain
Python (Newton's method on a handful of parameters): nothing beyond the project's own packages.

Prints, as JSON, per-topic precision and recall pooled over the folds for each decision (the
shipped thresholds are not fitted here, so their figures are the tune part's), the thresholds
each fold chose, and the linear model fitted on the whole tune part. Never reads the report
part. What was learned from it is in docs/tagging.md ("How the decision was chosen").

    python benchmarks/tagging_fit.py [--folds group]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

from newsflow.core.tagging import FEATURES, Tagger
from newsflow.taxonomy_files import load_taxonomy
from tagging_real import GROUPINGS, TAGS, load

FOLDS = 5
PENALTIES = (0.3, 1.0, 3.0, 10.0)
# --folds group: the sources and rounds with (almost) no positives make one fold together.
GROUP_FOLDS = ("reuters21578/first", "reuters21578/near", "allsides-neus/stories")

# article id, topic, features, label (0/1), rule score (evidence), fold
Row = tuple[str, str, list[float], int, float, int]


def _group_fold(row: dict[str, Any]) -> int:
    group = GROUPINGS["corpus-round"](row)
    return GROUP_FOLDS.index(group) if group in GROUP_FOLDS else len(GROUP_FOLDS)


def rows(folds: str) -> list[Row]:
    """Every (article, topic) of the tune part with some evidence, under the rule tagger."""
    tagger = Tagger(load_taxonomy())
    out = []
    for row, article in load("tune"):
        k = (_group_fold(row) if folds == "group"
             else hashlib.sha256(row["id"].encode()).digest()[0] % FOLDS)
        for why in tagger.explain(article.title, article.text):
            if why.hits and why.topic in TAGS:
                out.append((row["id"], why.topic, [why.features[f] for f in FEATURES],
                            int(why.topic in article.labels), why.score, k))
    return out


def fold(row: Row) -> int:
    return row[5]


def design(row: Row) -> list[float]:
    """Features, then one indicator per topic (its offset), then the intercept."""
    return [*row[2], *(float(row[1] == t) for t in TAGS), 1.0]


SHIPPED = {t.name: t.threshold for t in load_taxonomy()}


def correction_design(row: Row) -> list[float]:
    """The rule's margin (evidence mass over the mass at the topic's threshold), the measures
    the score does not sum, then the intercept."""
    f = dict(zip(FEATURES, row[2], strict=True))
    margin = -math.log(max(1e-9, 1 - row[4])) + math.log(1 - SHIPPED[row[1]])
    return [margin, f["spread"], f["terms"], f["first"], f["length"], float(f["title"] > 0),
            float(f["lead"] > 0), 1.0]


def solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the systems here are 11 x 11)."""
    n = len(vector)
    a = [[*r, v] for r, v in zip(matrix, vector, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(n):
            if r != col and a[col][col]:
                f = a[r][col] / a[col][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[col], strict=True)]
    return [a[i][n] / a[i][i] for i in range(n)]


def fit(data: Sequence[Row], penalty: float,
        inputs: Callable[[Row], list[float]] = design) -> list[float]:
    """L2-penalised logistic regression by Newton's method; the intercept is not penalised."""
    xs = [inputs(r) for r in data]
    ys = [r[3] for r in data]
    k = len(xs[0])
    beta = [0.0] * k
    for _ in range(50):
        grad = [penalty * b if j < k - 1 else 0.0 for j, b in enumerate(beta)]
        hess = [[(penalty if i == j and i < k - 1 else 0.0) for j in range(k)] for i in range(k)]
        for x, y in zip(xs, ys, strict=True):
            p = sigmoid(sum(b * v for b, v in zip(beta, x, strict=True)))
            for i in range(k):
                grad[i] += (p - y) * x[i]
                for j in range(k):
                    hess[i][j] += p * (1 - p) * x[i] * x[j]
        step = solve(hess, grad)
        beta = [b - s for b, s in zip(beta, step, strict=True)]
        if max(abs(s) for s in step) < 1e-9:
            break
    return beta


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def predict(beta: list[float], row: Row, inputs: Callable[[Row], list[float]] = design) -> bool:
    return sum(b * v for b, v in zip(beta, inputs(row), strict=True)) >= 0


THRESHOLDS = tuple(x / 100 for x in range(30, 80, 2))


def best_threshold(data: Sequence[Row]) -> float:
    """The threshold with the best F1 on ``data`` (ties: the one nearest 0.5)."""
    def f1(threshold: float) -> float:
        tp = sum(1 for r in data if r[4] >= threshold and r[3])
        fp = sum(1 for r in data if r[4] >= threshold and not r[3])
        fn = sum(1 for r in data if r[4] < threshold and r[3])
        return 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return max(THRESHOLDS, key=lambda t: (f1(t), -abs(t - 0.5)))


def scores(decided: list[tuple[Row, bool]], positives: dict[str, int]) -> dict[str, Any]:
    """Precision and recall per topic; recall over every labelled positive of the tune part
    (an article without evidence for a topic is a miss whatever the decision)."""
    out = {}
    for topic in TAGS:
        tp = sum(1 for r, got in decided if r[1] == topic and got and r[3])
        fp = sum(1 for r, got in decided if r[1] == topic and got and not r[3])
        out[topic] = {"precision": round(tp / (tp + fp), 3) if tp + fp else 1.0,
                      "recall": round(tp / positives[topic], 3) if positives[topic] else 1.0,
                      "tp": tp, "fp": fp,
                      "fn": positives[topic] - tp}
    return out


def tune_run(description: str) -> tuple[str, list[tuple[dict[str, Any], Any]],
                                        dict[str, int], list[Row]]:
    """The command line's fold choice, the tune part's labelled articles, their positives per
    topic and the (article, topic) rows with evidence: what every cross-validation here reads."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--folds", choices=("hash", "group"), default="hash",
                        help="folds by a hash of the id, or one per source and round")
    folds = parser.parse_args().folds
    labelled = load("tune")
    positives = {t: sum(t in a.labels for _, a in labelled) for t in TAGS}
    return folds, labelled, positives, rows(folds)


def main() -> None:
    folds, labelled, positives, data = tune_run(__doc__.splitlines()[0])
    ks = sorted({fold(r) for r in data})
    rule = [(r, r[4] >= SHIPPED[r[1]]) for r in data]
    report: dict[str, Any] = {"folds": folds, "pairs_with_evidence": len(data),
                              "positives": positives, "shipped": scores(rule, positives)}
    if folds == "group":
        names = [*GROUP_FOLDS, "other (BBC, BASIL, Korean press, fourth round)"]
        report["shipped_per_fold"] = {names[k]: scores(
            [(r, got) for r, got in rule if fold(r) == k],
            {t: sum(1 for (row, a) in labelled if t in a.labels and _group_fold(row) == k)
             for t in TAGS}) for k in ks}
    chosen_thresholds: dict[str, list[float]] = {t: [] for t in TAGS}
    by_threshold = []
    for k in ks:
        for topic in TAGS:
            threshold = best_threshold([r for r in data if fold(r) != k and r[1] == topic])
            chosen_thresholds[topic].append(threshold)
            by_threshold += [(r, r[4] >= threshold) for r in data
                             if fold(r) == k and r[1] == topic]
    report["per_topic_threshold"] = {"folds": chosen_thresholds,
                                     "cross_validated": scores(by_threshold, positives)}
    for name, inputs in (("linear", design), ("correction", correction_design)):
        report[name] = {}
        for penalty in PENALTIES:
            decided = []
            for k in ks:
                beta = fit([r for r in data if fold(r) != k], penalty, inputs)
                decided += [(r, predict(beta, r, inputs)) for r in data if fold(r) == k]
            report[name][f"penalty {penalty}"] = scores(decided, positives)
    chosen = 1.0
    beta = fit(data, chosen)
    n = len(FEATURES)
    report["linear"][f"fitted on all, penalty {chosen}"] = {
        "intercept": round(beta[-1], 3),
        "weights": {f: round(w, 3) for f, w in zip(FEATURES, beta[:n], strict=True)},
        "topic_offsets": {t: round(o, 3) for t, o in zip(TAGS, beta[n:-1], strict=True)},
    }
    json.dump(report, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()

"""Salience of the topic's evidence as an aboutness signal, cross-validated on the TUNE part only.

Adoption criterion, fixed before any result was looked at: a signal (with a way of combining
it with the shipped rule decision) is worth adopting only if, out of fold with ``--folds group``,
(1) in every fold that holds positives of a tag, that tag's recall is not below the shipped
rules' in the same fold, for every tag; (2) no tag's precision falls below the shipped rules' in
any fold; and (3) pooled over the folds, precision rises for at least one tag. ``--folds hash``
is reported beside it as a check, not as a second chance. The report part is never read.

Signals, for every (article, topic) of the tune part with evidence (the pairs of
``tagging_fit.py``; its loading, folds, logistic regression and scoring are imported from it):

* ``headline``: the largest cosine similarity (content-word counts, the evidence words masked
  out, so the topic's own words do not count twice) between a body sentence holding evidence
  and the headline; 1 when the headline itself holds evidence;
* ``centrality``: the largest cosine between an evidence unit (headline with evidence, body
  sentence with evidence) and the rest of the article (TextRank-like, one step);
  ``centrality_rank``: where the best evidence sentence's centrality ranks among all body
  sentences' (0 = least central, 1 = most);
* ``share``: the evidence units' share of the article's content words; ``coverage``: the
  share of the content words outside the evidence units whose word occurs inside them (how
  much of the article is the evidence's neighbourhood);
* ``bow``: a bag-of-words logistic regression (word presence, words of at least three training
  pairs, one offset per topic, L2, plain gradient descent) fitted on the other folds.

Each signal meets the rule decision in three ways, fitted on the other folds only:
``correction`` (tagging_fit's learned correction with the signal as one more input, penalty
0.3 / 1 / 3), ``veto-f1`` (a rule tag is dropped when the signal is below the threshold with
the best F1 on the other folds, shared by the topics) and ``veto-safe`` (the highest threshold
that drops no positive of the other folds). ``bow`` is a gate only: a rule tag stays when the
model's probability is at least 0.5 (or 0.2). Prints JSON: the shipped rules and the keyword
baseline on the same tune articles, per decision per-topic P / R (tp, fp, fn) pooled out of
fold, with ``--folds group`` the same per fold and whether the criterion holds.

    python benchmarks/tagging_salience.py [--folds group]
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from newsflow.core.tagging import Explanation, Field, Tagger
from newsflow.tags_check import LabelledArticle, check
from newsflow.taxonomy_files import load_taxonomy
from tagging_fit import (
    GROUP_FOLDS,
    SHIPPED,
    Row,
    _group_fold,
    correction_design,
    fit,
    fold,
    predict,
    scores,
    sigmoid,
    tune_run,
)
from tagging_real import TAGS, KeywordBaseline

PENALTIES = (0.3, 1.0, 3.0)
SIGNALS = ("headline", "centrality", "centrality_rank", "share", "coverage")
BOW_GATES = (0.5, 0.2)
_STOPWORDS = """
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it
its itself just me more most my myself no nor not now of off on once only or other our ours
out over own same she should so some such than that the their theirs them themselves then
there these they this those through to too under until up very was we were what when where
which while who whom why will with would you your yours yourself said says say told also
one two three new year years last first mr mrs ms per cent percent would could may might must
shall its it's that's week month today yesterday monday tuesday wednesday thursday friday
saturday sunday reuters news according
"""
STOPWORDS = frozenset(_STOPWORDS.split())
TOKEN = re.compile(r"[a-z][a-z'’-]*[a-z]")


def content_words(text: str) -> list[str]:
    """Lower-case words of three letters or more, less stop words, plurals folded ("-s")."""
    out = []
    for word in TOKEN.findall(text.lower()):
        word = word.replace("’", "'").removesuffix("'s")
        if len(word) < 3 or word in STOPWORDS:
            continue
        if len(word) > 4 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
        out.append(word)
    return out


def cosine(a: Counter[str], b: Counter[str]) -> float:
    """Cosine similarity of two bags of words; 0 when either is empty."""
    if not a or not b:
        return 0.0
    dot = sum(n * b[w] for w, n in a.items() if w in b)
    return dot / math.sqrt(sum(n * n for n in a.values()) * sum(n * n for n in b.values()))


def _masked(text: str, spans: Iterable[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def salience(title: str, body: str, title_spans: Sequence[tuple[int, int]],
             body_spans: Sequence[tuple[int, int]]) -> dict[str, float]:
    """The salience measures of one topic's evidence (spans in the title and the body)."""
    title_bag = Counter(content_words(_masked(title, title_spans)))
    masked_body = _masked(body, body_spans)
    sentences = Field("body", body).sentences or ((0, len(body)),)
    bags = [Counter(content_words(masked_body[s:e])) for s, e in sentences]
    held = sorted({i for i, (s, e) in enumerate(sentences)
                   for b0, _ in body_spans if s <= b0 < e})
    units = ([title_bag] if title_spans else []) + [bags[i] for i in held]
    whole = title_bag + sum(bags, Counter())

    def rest_of(bag: Counter[str]) -> Counter[str]:
        return whole - bag

    central = [cosine(bag, rest_of(bag)) for bag in bags]
    best = max((central[i] for i in held), default=0.0)
    inside = sum(units, Counter())
    outside = whole - inside
    total = sum(whole.values())
    return {
        "headline": 1.0 if title_spans else max((cosine(bags[i], title_bag) for i in held),
                                                default=0.0),
        "centrality": max((cosine(u, rest_of(u)) for u in units), default=0.0),
        "centrality_rank": (sum(c <= best for c in central) - 1) / max(1, len(central) - 1)
        if held else 1.0,
        "share": sum(inside.values()) / total if total else 1.0,
        "coverage": (sum(n for w, n in outside.items() if w in inside) / sum(outside.values())
                     if outside else 1.0),
    }


def pair_signals(why: Explanation, article: LabelledArticle) -> dict[str, float]:
    spans = {name: [(h.evidence.start, h.evidence.end) for h in why.hits
                    if h.evidence.field == name] for name in ("title", "body")}
    return salience(article.title, article.text, spans["title"], spans["body"])


# --- the bag-of-words gate -------------------------------------------------------------------

def bow_fit(data: Sequence[Row], words: dict[str, frozenset[str]], penalty: float = 1.0,
            steps: int = 300) -> Callable[[Row], float]:
    """Logistic regression over word presence (words of at least three training pairs) and one
    offset per topic, L2-penalised, by full-batch gradient descent (step 1 / the gradient's
    Lipschitz bound, so it cannot diverge); returns the probability."""
    df = Counter(w for r in data for w in words[r[0]])
    vocab = {w: i for i, w in enumerate(sorted(w for w, n in df.items() if n >= 3))}
    offsets = {t: len(vocab) + i for i, t in enumerate(TAGS)}
    xs = [[vocab[w] for w in words[r[0]] if w in vocab] + [offsets[r[1]]] for r in data]
    ys = [r[3] for r in data]
    beta = [0.0] * (len(vocab) + len(TAGS))
    n = len(data)
    rate = 1.0 / (0.25 * max(len(x) for x in xs) + penalty / n)
    for _ in range(steps):
        grad = [penalty * b / n for b in beta[:len(vocab)]] + [0.0] * len(TAGS)
        for x, y in zip(xs, ys, strict=True):
            p = sigmoid(sum(beta[j] for j in x))
            for j in x:
                grad[j] += (p - y) / n
        beta = [b - rate * g for b, g in zip(beta, grad, strict=True)]

    def probability(row: Row) -> float:
        x = [vocab[w] for w in words[row[0]] if w in vocab] + [offsets[row[1]]]
        return sigmoid(sum(beta[j] for j in x))
    return probability


# --- decisions -------------------------------------------------------------------------------

Decided = list[tuple[Row, bool]]


def rule(row: Row) -> bool:
    return row[4] >= SHIPPED[row[1]]


def veto_threshold(train: Sequence[Row], signal: Callable[[Row], float], safe: bool) -> float:
    """Below this value a rule tag is dropped: the highest value dropping no training positive
    (``safe``), or the value with the best F1 on the training pairs (ties: the lowest)."""
    tagged = [r for r in train if rule(r)]
    if safe:
        return min((signal(r) for r in tagged if r[3]), default=-math.inf)
    positives = sum(r[3] for r in train)

    def f1(t: float) -> float:
        tp = sum(1 for r in tagged if r[3] and signal(r) >= t)
        fp = sum(1 for r in tagged if not r[3] and signal(r) >= t)
        return 2 * tp / (tp + fp + positives) if tp else 0.0
    candidates = sorted({-math.inf, *(signal(r) for r in tagged)})
    return max(candidates, key=lambda t: (f1(t), -t))


def decide(data: Sequence[Row], ks: Sequence[int], signals: dict[tuple[str, str], dict[str, float]],
           words: dict[str, frozenset[str]]) -> dict[str, Decided]:
    """Every decision, each fitted on the folds other than the one it decides."""
    out: dict[str, Decided] = {"shipped rules": [(r, rule(r)) for r in data]}
    for penalty in PENALTIES:  # tagging_fit's correction alone: what the signals add to it
        decided = []
        for k in ks:
            beta = fit([r for r in data if fold(r) != k], penalty, correction_design)
            decided += [(r, predict(beta, r, correction_design)) for r in data if fold(r) == k]
        out[f"no signal: correction, penalty {penalty}"] = decided
    for name in SIGNALS:
        def signal(r: Row, name: str = name) -> float:
            return signals[(r[0], r[1])][name]

        def inputs(r: Row, signal: Callable[[Row], float] = signal) -> list[float]:
            return [*correction_design(r)[:-1], signal(r), 1.0]
        for penalty in PENALTIES:
            decided = []
            for k in ks:
                beta = fit([r for r in data if fold(r) != k], penalty, inputs)
                decided += [(r, predict(beta, r, inputs)) for r in data if fold(r) == k]
            out[f"{name}: correction, penalty {penalty}"] = decided
        for safe in (False, True):
            decided = []
            for k in ks:
                t = veto_threshold([r for r in data if fold(r) != k], signal, safe)
                decided += [(r, rule(r) and signal(r) >= t) for r in data if fold(r) == k]
            out[f"{name}: veto-{'safe' if safe else 'f1'}"] = decided
    gated: dict[float, Decided] = {g: [] for g in BOW_GATES}
    for k in ks:
        probability = bow_fit([r for r in data if fold(r) != k], words)
        for r in data:
            if fold(r) == k:
                p = probability(r)
                for g in BOW_GATES:
                    gated[g].append((r, rule(r) and p >= g))
    for g in BOW_GATES:
        out[f"bow: gate at {g}"] = gated[g]
    return out


def criterion(per_fold: dict[str, dict[str, Any]], shipped_per_fold: dict[str, dict[str, Any]],
              pooled: dict[str, Any], shipped: dict[str, Any]) -> bool:
    """The adoption criterion of the docstring, on the group folds."""
    for name, figures in per_fold.items():
        for topic in TAGS:
            ours, base = figures[topic], shipped_per_fold[name][topic]
            if base["tp"] + base["fn"] and ours["recall"] < base["recall"]:
                return False
            if ours["precision"] < base["precision"]:
                return False
    return any(pooled[t]["precision"] > shipped[t]["precision"] for t in TAGS)


def brief(figures: dict[str, Any]) -> dict[str, str]:
    return {t: "{precision:.3f} / {recall:.3f} ({tp}, {fp}, {fn})".format(**figures[t])
            for t in TAGS}


def main() -> None:
    folds, labelled, positives, data = tune_run(__doc__.splitlines()[0])
    articles = {row["id"]: article for row, article in labelled}
    tagger = Tagger(load_taxonomy())
    signals: dict[tuple[str, str], dict[str, float]] = {}
    for article_id in sorted({r[0] for r in data}):
        article = articles[article_id]
        for why in tagger.explain(article.title, article.text):
            if why.hits and why.topic in TAGS:
                signals[(article_id, why.topic)] = pair_signals(why, article)
    words = {i: frozenset(content_words(f"{a.title}\n{a.text}")) for i, a in articles.items()}
    ks = sorted({fold(r) for r in data})
    baseline: Any = KeywordBaseline()  # the same interface as Tagger for check
    keywords = check(baseline, [a for _, a in labelled], TAGS)
    report: dict[str, Any] = {
        "folds": folds, "articles": len(labelled), "pairs_with_evidence": len(data),
        "positives": positives,
        "keyword baseline": brief({t: keywords.scores[t].to_dict() for t in TAGS}),
        "signal means (positives / negatives)": {
            name: [round(sum(signals[(r[0], r[1])][name] for r in data if r[3] == y)
                         / max(1, sum(1 for r in data if r[3] == y)), 3) for y in (1, 0)]
            for name in SIGNALS},
        # where a veto could act: the rule's tags, right and wrong
        "signal means among rule tags (right / wrong)": {
            name: [round(sum(signals[(r[0], r[1])][name] for r in data if rule(r) and r[3] == y)
                         / max(1, sum(1 for r in data if rule(r) and r[3] == y)), 3)
                   for y in (1, 0)] for name in SIGNALS},
    }
    decisions = decide(data, ks, signals, words)
    shipped = scores(decisions["shipped rules"], positives)
    names = [*GROUP_FOLDS, "other (BBC, BASIL, Korean press, fourth round)"]
    fold_positives = {k: {t: sum(1 for row, a in labelled
                                 if t in a.labels and _group_fold(row) == k) for t in TAGS}
                      for k in ks} if folds == "group" else {}

    def per_fold(decided: Decided) -> dict[str, dict[str, Any]]:
        return {names[k]: scores([(r, got) for r, got in decided if fold(r) == k],
                                 fold_positives[k]) for k in ks}
    out: dict[str, Any] = {}
    for name, decided in decisions.items():
        pooled = scores(decided, positives)
        out[name] = {"pooled": brief(pooled)}
        if folds == "group":
            by_fold = per_fold(decided)
            out[name]["per fold"] = {f: brief(v) for f, v in by_fold.items()}
            if name != "shipped rules":
                out[name]["meets criterion"] = criterion(
                    by_fold, per_fold(decisions["shipped rules"]), pooled, shipped)
    report["decisions"] = out
    json.dump(report, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()

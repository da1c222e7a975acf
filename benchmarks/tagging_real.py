"""Topic tagging on real news labelled blind: the tagger beside a keyword baseline, same run.

Labels: ``benchmarks/data/tagging/real/labels.jsonl`` (ids, labels, split; guidelines and how
they were made in ``GUIDELINES.md``); text: ``../shared/corpora/news-text`` and, for the third
round and BASIL 2010-14 of the fourth, ``../shared/corpora/stories`` (never copied into the
project). Each article is cleaned as the stream cleans a plain-text body, then tagged.
Prints JSON: per split (``tune``: may be used to change the tagger; ``report``: only ever
reported) and tag, precision / recall / F1 and the false-alarm rate on the randomly drawn part,
for the tagger and the baseline; ``--errors tune`` lists the tune part's errors with evidence.
``--by corpus|round|corpus-round`` adds the figures per group (source and era, labelling round):
rules fitted to one source's wording show as a group far below the others.
``--changed-since REF`` tags every unlabelled corpus article (report articles and their copies
left out) with the taxonomy of git ``REF`` and with the current one and lists the tags that
differ: a lexicon change that fires on ordinary news shows there before it costs precision.

    python benchmarks/tagging_real.py [--split tune] [--round first] [--errors tune]
                                      [--by corpus-round] [--taxonomy OVERLAY]
    python benchmarks/tagging_real.py --changed-since main
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from newsflow.core.clean import clean_document
from newsflow.core.tagging import Tagger
from newsflow.core.tags import Evidence, Tag
from newsflow.errors import TaxonomyError
from newsflow.tags_check import LabelledArticle, check
from newsflow.taxonomy_files import load_taxonomy

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "benchmarks" / "data" / "tagging" / "real" / "labels.jsonl"
CORPUS = ROOT.parent / "shared" / "corpora" / "news-text"
# Third and fourth rounds: the NeuS leads and BASIL 2010-14 of the story-grouping corpus.
STORIES = ROOT.parent / "shared" / "corpora" / "stories"
TAGS = ("missiles", "sanctions", "naval_deployment")
# The baseline a newsroom writes first: the topic's obvious words anywhere in the text.
BASELINE = {
    "missiles": re.compile(r"\b(?:missiles?|ICBMs?)\b", re.IGNORECASE),
    "sanctions": re.compile(r"\b(?:sanction(?:s|ed|ing)?|embargo(?:es)?)\b", re.IGNORECASE),
    "naval_deployment": re.compile(
        r"\b(?:navy|navies|naval|warships?|fleets?|aircraft carriers?|destroyers?|frigates?|"
        r"submarines?)\b", re.IGNORECASE),
}


class KeywordBaseline:
    """Same interface as ``Tagger`` for ``check``: a tag wherever one of the words occurs."""

    topics: tuple[Any, ...] = ()  # no thresholds: its errors are listed without one

    def tag(self, title: str, body: str) -> list[Tag]:
        text = f"{title}\n{body}"
        tags = []
        for name, pattern in BASELINE.items():
            found = pattern.search(text)
            if found:
                tags.append(Tag(name, 1.0, "", (Evidence("body", found.start(), found.end(),
                                                         found.group(0)),)))
        return tags

    def explain(self, title: str, body: str) -> list[Any]:
        return []


def corpus_texts(ids: set[str]) -> dict[str, tuple[str, str]]:
    texts: dict[str, tuple[str, str]] = {}
    for path in sorted(CORPUS.glob("*.jsonl.gz")) + sorted(STORIES.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                article = json.loads(line)
                if article["id"] in ids:
                    texts.setdefault(article["id"], (article["title"], article["body"]))
    return texts


# Which labelling round a row's ``part`` belongs to (GUIDELINES.md).
ROUNDS = {"first": ("random", "candidate"), "near": ("near",), "stories": ("stories",),
          "candidate2": ("candidate2",)}


def load(split: str | None = None,
         rounds: tuple[str, ...] = tuple(ROUNDS)) -> list[tuple[dict[str, Any], LabelledArticle]]:
    parts = {part for name in rounds for part in ROUNDS[name]}
    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    rows = [row for row in rows
            if (split is None or row["split"] == split) and row["part"] in parts]
    texts = corpus_texts({row["id"] for row in rows})
    out = []
    for row in rows:
        title, body = texts[row["id"]]
        doc = clean_document(body, "text/plain", None, title)
        out.append((row, LabelledArticle(row["id"], doc.title, doc.text, frozenset(row["labels"]))))
    return out


# How an article's group is named: its source (which is also its era) and its labelling round.
GROUPINGS: dict[str, Callable[[dict[str, Any]], str]] = {
    "corpus": lambda row: str(row["corpus"]),
    "round": lambda row: next(name for name, parts in ROUNDS.items() if row["part"] in parts),
    "corpus-round": lambda row: "{}/{}".format(
        row["corpus"], next(name for name, parts in ROUNDS.items() if row["part"] in parts)),
}


def by_group(tagger: Any, baseline: Any, rows: list[tuple[dict[str, Any], LabelledArticle]],
             grouping: str) -> dict[str, Any]:
    """Per group: articles, positives per tag, and P / R (tp, fp, fn) of ours and the baseline."""
    groups: dict[str, list[LabelledArticle]] = {}
    for row, article in rows:
        groups.setdefault(GROUPINGS[grouping](row), []).append(article)
    out: dict[str, Any] = {}
    for name, articles in sorted(groups.items()):
        ours, keywords = check(tagger, articles, TAGS), check(baseline, articles, TAGS)
        out[name] = {"articles": len(articles)} | {
            tag: {"positives": ours.scores[tag].tp + ours.scores[tag].fn,
                  "ours": _brief(ours.scores[tag].to_dict()),
                  "baseline": _brief(keywords.scores[tag].to_dict())}
            for tag in TAGS}
    return out


def _brief(score: dict[str, Any]) -> str:
    # n/a, not 1.00, where there is nothing to count: a group with no positive has no recall.
    tp, fp, fn = score["tp"], score["fp"], score["fn"]
    precision = f"{score['precision']:.2f}" if tp + fp else "n/a"
    recall = f"{score['recall']:.2f}" if tp + fn else "n/a"
    return f"P {precision} R {recall} (tp {tp} fp {fp} fn {fn})"


def unlabelled_articles() -> Iterator[tuple[str, str, str]]:
    """Every corpus article without a label, less copies of report articles: ordinary news."""
    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    labelled = {row["id"] for row in rows}
    report = {row["id"] for row in rows if row["split"] == "report"}
    for path in sorted(CORPUS.glob("*.jsonl.gz")) + sorted(STORIES.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                article = json.loads(line)
                if article["id"] in labelled or article.get("duplicate_of") in report:
                    continue
                labelled.add(article["id"])  # BASIL is in both corpora
                doc = clean_document(article["body"], "text/plain", None, article["title"])
                yield article["id"], doc.title, doc.text


class BenchmarkError(Exception):
    """A problem with the benchmark's input, reported in one line."""


def changed_since(ref: str, current: Tagger) -> dict[str, Any]:
    """Tags on unlabelled articles that differ between git ``ref``'s taxonomy and the current."""
    shown = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{ref}:services/newsflow/data/taxonomy.yaml"],
        check=False, capture_output=True, text=True)
    if shown.returncode:
        problem = " ".join(shown.stderr.split()) or f"git exited {shown.returncode}"
        raise BenchmarkError(f"--changed-since {ref}: no taxonomy at that ref: {problem}")
    with tempfile.TemporaryDirectory() as folder:
        old_path = Path(folder) / "taxonomy.yaml"
        old_path.write_text(shown.stdout, encoding="utf-8")
        try:
            old = Tagger(load_taxonomy(None, bundled=old_path))
        except TaxonomyError as exc:  # an older format this code no longer reads
            problem = str(exc).removeprefix(f"{old_path}: ")
            raise BenchmarkError(f"--changed-since {ref}: its taxonomy cannot be read by "
                                 f"this version: {problem}") from exc
    changes, count = [], 0
    for article_id, title, text in unlabelled_articles():
        count += 1
        before = {t.name for t in old.tag(title, text)}
        after = {t.name for t in current.tag(title, text)}
        if before != after:
            changes.append({"id": article_id, "title": title[:100],
                            "added": sorted(after - before), "removed": sorted(before - after)})
    added = {tag: sum(tag in c["added"] for c in changes) for tag in TAGS}
    return {"articles": count, "added": added, "changes": changes}


def measure(tagger: Any, rows: list[tuple[dict[str, Any], LabelledArticle]]) -> dict[str, Any]:
    everything = check(tagger, [a for _, a in rows], TAGS)
    randoms = [a for row, a in rows if row["part"] == "random"]
    random_part = check(tagger, randoms, TAGS)
    # False alarms are measured on the random part only: the rest was drawn near the topics.
    # None when the rows hold no random article (a round drawn near the topics): not 0 %.
    return {tag: {**{k: v for k, v in everything.scores[tag].to_dict().items()
                     if not k.startswith("false_alarm_rate")},
                  **{k.replace("false_alarm_rate", "false_alarm_rate_random"):
                     v if randoms else None
                     for k, v in random_part.scores[tag].to_dict().items()
                     if k.startswith("false_alarm_rate")}}
            for tag in TAGS} | {"_errors": everything.errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", choices=("tune",), help="list the tune part's errors")
    parser.add_argument("--taxonomy", type=Path, default=None, help="taxonomy overlay")
    parser.add_argument("--split", choices=("tune", "report"), action="append",
                        help="only this split (repeatable; default both)")
    parser.add_argument("--round", choices=tuple(ROUNDS), action="append", dest="rounds",
                        help="only this labelling round (repeatable; default all)")
    parser.add_argument("--by", choices=tuple(GROUPINGS),
                        help="also give the figures per group of articles")
    parser.add_argument("--changed-since", metavar="REF",
                        help="list tags on unlabelled articles that differ from git REF's taxonomy")
    args = parser.parse_args()
    if args.changed_since is not None and not args.changed_since.strip():
        parser.error("--changed-since: empty git ref")
    if args.errors and args.errors not in (args.split or ("tune", "report")):
        parser.error(f"--errors {args.errors}: that split is not run (--split)")
    try:
        tagger = Tagger(load_taxonomy(args.taxonomy))
        if args.changed_since is not None:
            json.dump(changed_since(args.changed_since, tagger), sys.stdout, indent=1)
            print()
            return
    except (TaxonomyError, BenchmarkError) as exc:
        parser.exit(2, f"{parser.prog}: {exc}\n")
    report: dict[str, Any] = {}
    for split in args.split or ("tune", "report"):
        rows = load(split, tuple(args.rounds or ROUNDS))
        ours, baseline = measure(tagger, rows), measure(KeywordBaseline(), rows)
        errors = ours.pop("_errors")
        baseline.pop("_errors")
        report[split] = {"articles": len(rows),
                         "random": sum(1 for row, _ in rows if row["part"] == "random"),
                         "ours": ours, "baseline": baseline}
        if args.by:
            report[split]["groups"] = by_group(tagger, KeywordBaseline(), rows, args.by)
        if args.errors == split:
            report[split]["errors"] = errors
    json.dump(report, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()

"""`newsflow tags check`: measure the taxonomy on a newsroom's own labelled articles.

Input: JSON Lines, one article a line: ``{"id": ..., "title": ..., "text": ... (or "body"),
"labels": [topic, ...]}``; ``labels`` lists every topic the article is about (empty: none).
Output: per topic precision, recall, F1 and false-alarm rate, then every error with the
tagger's score and evidence, so a wrong tag can be traced to the words and rule behind it.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from newsflow.core.clean import article_language
from newsflow.core.pipeline import taggable
from newsflow.core.tagging import Tagger
from newsflow.errors import LabelsFileError

__all__ = ["LabelledArticle", "check", "print_report", "read_labels", "unknown_labels"]


@dataclass(frozen=True, slots=True)
class LabelledArticle:
    id: str
    title: str
    text: str
    labels: frozenset[str]


@dataclass(slots=True)
class TopicScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def false_alarm_rate(self) -> float:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"precision": round(self.precision, 3), "recall": round(self.recall, 3),
                "f1": round(self.f1, 3), "false_alarm_rate": round(self.false_alarm_rate, 4),
                "tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn}


@dataclass(slots=True)
class CheckReport:
    scores: dict[str, TopicScore]
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"topics": {name: s.to_dict() for name, s in self.scores.items()},
                "errors": self.errors}


# What a JSON line holds when it is not an object, in JSON's own words.
_JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number",
               bool: "true or false", type(None): "null"}


def read_labels(path: Path) -> list[LabelledArticle]:
    try:
        # utf-8-sig: a BOM, as some editors save, is not part of the first line's JSON.
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelsFileError(f"{path}: cannot read: {exc}") from exc
    articles = []
    first_line: dict[str, int] = {}  # id -> the line it is on
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelsFileError(f"{path}:{number}: {exc}") from exc
        except RecursionError as exc:  # json nests by recursion: "[[[[...]]]]"
            raise LabelsFileError(f"{path}:{number}: nested too deeply") from exc
        if not isinstance(item, dict):
            raise LabelsFileError(f"{path}:{number}: expected a JSON object, got "
                                  f"{_JSON_KINDS.get(type(item), type(item).__name__)}")
        title = item.get("title")
        if title is not None and not isinstance(title, str):  # null: no title
            raise LabelsFileError(f"{path}:{number}: 'title': expected a string or null, "
                                  f"got {title!r}")
        text = item.get("text", item.get("body"))
        labels = item.get("labels")
        if not isinstance(text, str) or not (
                isinstance(labels, list) and all(isinstance(x, str) for x in labels)):
            raise LabelsFileError(f"{path}:{number}: needs a string 'text' (or 'body') and a "
                                  "list of 'labels'")
        article_id = str(item.get("id", number))
        # Two articles under one id would read as one in the errors listed.
        if article_id in first_line:
            raise LabelsFileError(f"{path}:{number}: id {article_id!r} is also on line "
                                  f"{first_line[article_id]}")
        first_line[article_id] = number
        articles.append(LabelledArticle(article_id, title or "", text, frozenset(labels)))
    if not articles:
        raise LabelsFileError(f"{path}: no labelled articles")
    return articles


def unknown_labels(articles: Iterable[LabelledArticle], topics: Sequence[str]) -> str | None:
    """One line on the labels that name no topic of the taxonomy (not measured), if any: a
    misspelt label would otherwise read as a topic never tagged and never missed."""
    counts = Counter(label for article in articles for label in article.labels
                     if label not in topics)
    if not counts:
        return None
    named = []
    for label, count in sorted(counts.items()):
        close = difflib.get_close_matches(label, topics, n=1)
        named.append(f"{label!r} ({count} article{'s' * (count != 1)}"
                     f"{f'; did you mean {close[0]!r}?' if close else ''})")
    return (f"labels not measured, no such topic in the taxonomy: {', '.join(named)}; "
            f"its topics: {', '.join(topics)}")


def check(tagger: Tagger, articles: Iterable[LabelledArticle],
          topics: Sequence[str] | None = None) -> CheckReport:
    """Score ``tagger`` on labelled articles; pure, so benchmarks and tests call it directly."""
    names = list(topics) if topics is not None else [t.name for t in tagger.topics]
    report = CheckReport({name: TopicScore() for name in names})
    for article in articles:
        # As the pipeline does: a labelled article it would never tag counts as untagged.
        language = article_language(article.title, article.text)
        tags = ({t.name: t for t in tagger.tag(article.title, article.text)}
                if taggable(language) else {})
        explained: dict[str, Any] | None = None  # the why, worked out only for an error
        for name in names:
            score = report.scores[name]
            got, gold = name in tags, name in article.labels
            if got and gold:
                score.tp += 1
            elif got:
                score.fp += 1
            elif gold:
                score.fn += 1
            else:
                score.tn += 1
            if got != gold:
                if explained is None:
                    explained = {e.topic: e for e in tagger.explain(article.title, article.text)}
                why = explained.get(name)
                report.errors.append({
                    "id": article.id, "topic": name,
                    "error": "false_alarm" if got else "missed",
                    "title": article.title[:120],
                    "score": round(why.score, 4) if why else 0.0,
                    "evidence": [h.evidence.text for h in why.hits[:8]] if why else [],
                    # Where the evidence sits (title, lead, rest, spread...): why it is or is
                    # not enough.
                    "aboutness": {k: round(v, 3) for k, v in why.features.items()} if why else {},
                    # Set when the article is not read as English: never tagged, whatever
                    # its score.
                    "language": None if taggable(language) else language,
                })
    return report


def _ratio(value: float, defined: bool) -> str:
    return f"{value:.3f}" if defined else "n/a"


def _percent(value: float, defined: bool) -> str:
    return f"{value:.2%}" if defined else "n/a"


def print_report(report: CheckReport, out: TextIO) -> None:
    # A ratio with nothing to count prints n/a, not 1.000: a topic no article is labelled
    # with has not been measured, and must not read as a perfect one.
    out.write(f"{'topic':<22}{'precision':>10}{'recall':>8}{'F1':>7}{'false alarms':>14}"
              f"{'tp':>5}{'fp':>5}{'fn':>5}\n")
    for name, s in report.scores.items():
        tagged, labelled = s.tp + s.fp > 0, s.tp + s.fn > 0
        out.write(f"{name:<22}{_ratio(s.precision, tagged):>10}"
                  f"{_ratio(s.recall, labelled):>8}{_ratio(s.f1, tagged and labelled):>7}"
                  f"{_percent(s.false_alarm_rate, s.fp + s.tn > 0):>13} {s.tp:>4}{s.fp:>5}"
                  f"{s.fn:>5}\n")
    if any(s.tp + s.fp == 0 or s.tp + s.fn == 0 for s in report.scores.values()):
        out.write("(n/a: no article is labelled with the topic, or none was tagged)\n")
    if any(s.fp + s.tn == 0 for s in report.scores.values()):
        out.write("(false alarms n/a: every article is labelled with the topic)\n")
    if report.errors:
        out.write("\nerrors (score, then the evidence the tagger found):\n")
    for error in report.errors:
        evidence = "; ".join(error["evidence"]) or "no evidence"
        where = ", ".join(f"{k} {v:g}" for k, v in error.get("aboutness", {}).items())
        language = error.get("language")
        out.write(f"  {error['error']:<12}{error['topic']:<20}{error['id']}  "
                  f"score {error['score']:.2f}  {error['title']!r}\n      evidence: {evidence}\n"
                  + (f"      aboutness: {where}\n" if error["evidence"] else "")
                  + (f"      language: {language} (not English: never tagged)\n"
                     if language else ""))

"""`newsflow tags check`: measure the taxonomy on a newsroom's own labelled articles.

Input: JSON Lines, one article a line: ``{"id": ..., "title": ..., "text": ... (or "body"),
"labels": [topic, ...]}``; ``labels`` lists every topic the article is about (empty: none).
Output: per topic precision, recall, F1 and false-alarm rate, then every error with the
tagger's score and evidence, so a wrong tag can be traced to the words and rule behind it.

The command tags each article in a child process under the stream's per-page time budget
(``NEWSFLOW_CLEAN_TIME_BUDGET_SECONDS``), as ``newsflow process`` and the worker do: a
newsroom's regex that backtracks for ever on one article must not hang the check. The pool
(``ChildPool``, pebble's ``ProcessPool``) stops the child that runs past it (``re`` runs in C:
no signal in the child could stop it) and starts a fresh one; that article is not scored but
listed with the errors, and the others are scored as without it (``check_in_children``).
``check`` is the same scoring in this process, with no budget, for benchmarks and tests.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from pebble import ProcessExpired, ProcessFuture

from newsflow.child_pool import ChildPool
from newsflow.core.clean import article_language, normalise_text
from newsflow.core.pipeline import taggable
from newsflow.core.tagging import Tagger, Topic, shown
from newsflow.errors import LabelsFileError
from newsflow.user_files import read_user_file

__all__ = ["LabelledArticle", "check", "check_in_children", "judge", "print_report",
           "read_labels", "unknown_labels", "wilson_interval"]


@dataclass(frozen=True, slots=True)
class LabelledArticle:
    id: str
    title: str
    text: str
    labels: frozenset[str]


# z for a two-sided 95 % interval.
_Z95 = 1.959963984540054


def wilson_interval(hits: int, trials: int) -> tuple[float, float] | None:
    """The 95 % Wilson score interval of ``hits / trials`` (None when nothing was counted).

    A newsroom's labelled set is often a few dozen articles, where one article moves a
    precision by several points: the interval says how far the figure can be trusted. Wilson's
    rather than the normal approximation, which at 10 of 10 would claim an interval of zero
    width.
    """
    if trials <= 0:
        return None
    p, z2 = hits / trials, _Z95 * _Z95
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = _Z95 * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


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

    @property
    def precision_interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.tp, self.tp + self.fp)

    @property
    def recall_interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.tp, self.tp + self.fn)

    @property
    def false_alarm_interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.fp, self.fp + self.tn)

    def to_dict(self) -> dict[str, Any]:
        return {"precision": round(self.precision, 3), "recall": round(self.recall, 3),
                "f1": round(self.f1, 3), "false_alarm_rate": round(self.false_alarm_rate, 4),
                "tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn,
                "precision_95": _rounded(self.precision_interval, 3),
                "recall_95": _rounded(self.recall_interval, 3),
                "false_alarm_rate_95": _rounded(self.false_alarm_interval, 4)}


def _rounded(interval: tuple[float, float] | None, digits: int) -> list[float] | None:
    return None if interval is None else [round(interval[0], digits), round(interval[1], digits)]


@dataclass(slots=True)
class CheckReport:
    scores: dict[str, TopicScore]
    errors: list[dict[str, Any]] = field(default_factory=list)
    articles: int = 0  # read, scored or not
    # Articles whose tagging did not finish (past the time budget, or its process died): in
    # no score; each is also an entry of ``errors``, with its reason.
    unscored: list[dict[str, Any]] = field(default_factory=list)
    budget_seconds: float | None = None  # each article's, when it had one

    def to_dict(self) -> dict[str, Any]:
        return {"topics": {name: s.to_dict() for name, s in self.scores.items()},
                "errors": self.errors, "unscored": self.unscored}

    def failure(self) -> str | None:
        """The one stderr line the command ends with when an article was not scored."""
        if not self.unscored:
            return None
        parts = []
        budget = "" if self.budget_seconds is None else f"{self.budget_seconds:g} s "
        for kind, what in (("timeout", f"ran past the {budget}budget (a topic's regex?)"),
                           ("process_died", "killed the process tagging it")):
            ids = [u["id"] for u in self.unscored if u["error"] == kind]
            if ids:  # the first few by name: the errors on stdout list them all
                more = f" and {len(ids) - 5} more" if len(ids) > 5 else ""
                parts.append(f"{len(ids)} {what}: {', '.join(map(repr, ids[:5]))}{more}")
        return (f"{len(self.unscored)} of {self.articles} article{'s' * (self.articles != 1)} "
                f"not scored: {'; '.join(parts)}; each is listed with the errors on stdout")


_LINE_END = re.compile("\r\n|[\r\n]")

# Matches listed per error (evidence, and those a rule ruled out); the rest are counted.
MAX_LISTED = 8

# What a JSON line holds when it is not an object, in JSON's own words.
_JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number",
               bool: "true or false", type(None): "null"}


class _RepeatedKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: with "labels" given twice, JSON keeps the
    last silently, and a labelled article counted as unlabelled."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _RepeatedKey(key)
        found[key] = value
    return found


def read_labels(path: Path) -> list[LabelledArticle]:
    data = read_user_file(path, "labelled articles", LabelsFileError)
    try:
        # utf-8-sig: a BOM, as some editors save, is not part of the first line's JSON. Lines
        # end at \n, \r\n or \r (old Mac files) only: splitlines also splits at U+2028,
        # U+2029 and U+0085, which JSON strings may hold unescaped (a raw \r they may not).
        lines = _LINE_END.split(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise LabelsFileError(f"{path}: cannot read labelled articles: not UTF-8: {exc}") from exc
    articles = []
    first_line: dict[str, tuple[int, bool]] = {}  # id -> the line it is on, and if it says it
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line, object_pairs_hook=_unique_keys)
        except _RepeatedKey as exc:
            raise LabelsFileError(f"{path}:{number}: key {shown(exc.args[0])} given twice") from exc
        except json.JSONDecodeError as exc:  # worded as `process` words a bad .jsonl line
            raise LabelsFileError(f"{path}:{number}: not JSON: {exc}") from exc
        except ValueError as exc:  # valid JSON Python will not read: a 5,000-digit number
            raise LabelsFileError(f"{path}:{number}: cannot read: {exc}") from exc
        except RecursionError as exc:  # json nests by recursion: "[[[[...]]]]"
            raise LabelsFileError(f"{path}:{number}: nested too deeply") from exc
        if not isinstance(item, dict):
            raise LabelsFileError(f"{path}:{number}: expected a JSON object, got "
                                  f"{_JSON_KINDS.get(type(item), type(item).__name__)}")
        title = item.get("title")
        if title is not None and not isinstance(title, str):  # null: no title
            raise LabelsFileError(f"{path}:{number}: 'title': expected a string or null, "
                                  f"got {shown(title)}")
        text_field = "text" if "text" in item else "body"
        text = item.get(text_field)
        labels = item.get("labels")
        if text is None or labels is None:
            raise LabelsFileError(f"{path}:{number}: needs a string 'text' (or 'body') and a "
                                  "list of 'labels'")
        if not isinstance(text, str):
            raise LabelsFileError(f"{path}:{number}: {text_field!r}: expected a string, got "
                                  f"{shown(text)}")
        if not (isinstance(labels, list) and all(isinstance(x, str) for x in labels)):
            raise LabelsFileError(f"{path}:{number}: 'labels': expected a list of strings, "
                                  f"got {shown(labels)}")
        # Refused rather than turned into a string: 5 and "5" would be one article, and
        # null, true or a list are no name to find an article by.
        article_id = item.get("id", str(number))
        if not isinstance(article_id, str) or not article_id.strip():
            raise LabelsFileError(f"{path}:{number}: 'id': expected a non-empty string, got "
                                  f"{shown(article_id)}")
        # Two articles under one id would read as one in the errors listed.
        if article_id in first_line:
            raise LabelsFileError(_clash(path, number, "id" in item, article_id,
                                         *first_line[article_id]))
        first_line[article_id] = (number, "id" in item)
        # The text as the pipeline tags it: NFC, no soft hyphens or other invisible characters
        # (a "mis\u00adsile" is tagged in the stream; scored as written it was a miss here).
        articles.append(LabelledArticle(article_id, normalise_text(title or ""),
                                        normalise_text(text), frozenset(labels)))
    if not articles:
        raise LabelsFileError(f"{path}: no labelled articles")
    return articles


def _clash(path: Path, line: int, named: bool, article_id: str, first: int,
           first_named: bool) -> str:
    """The error of an id seen twice; an article without an id is named by its line number,
    which another article's id may be."""
    if not named:
        return (f"{path}:{line}: has no 'id', so it is named by its line number, "
                f"{article_id!r}: the id of line {first}")
    if not first_named:
        return (f"{path}:{line}: id {article_id!r} is also the name of line {first}, which "
                "has no 'id'")
    return f"{path}:{line}: id {article_id!r} is also on line {first}"


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


@dataclass(frozen=True, slots=True)
class Judgement:
    """What the tagger made of one labelled article: the topics it tagged, and an entry for
    each topic it got wrong (with score and evidence)."""

    tagged: frozenset[str]
    errors: tuple[dict[str, Any], ...]


def judge(tagger: Tagger, article: LabelledArticle, names: Sequence[str]) -> Judgement:
    """Tag one article and explain each error; pure (the child processes run it too)."""
    # As the pipeline does: a labelled article it would never tag counts as untagged.
    language = article_language(article.title, article.text)
    tags = ({t.name for t in tagger.tag(article.title, article.text)}
            if taggable(language) else set())
    explained: dict[str, Any] | None = None  # the why, worked out only for an error
    thresholds: dict[str, float] = {}
    errors = []
    for name in names:
        got, gold = name in tags, name in article.labels
        if got == gold:
            continue
        if explained is None:
            explained = {e.topic: e for e in tagger.explain(article.title, article.text)}
            thresholds = {topic.name: topic.threshold for topic in tagger.topics}
        why = explained.get(name)
        errors.append({
            "id": article.id, "topic": name,
            "error": "false_alarm" if got else "missed",
            "title": article.title[:120],
            # Six decimals: enough to show which side of the threshold a score is.
            "score": round(why.score, 6) if why else 0.0,
            "threshold": thresholds.get(name),
            "evidence": [h.evidence.text for h in why.hits[:MAX_LISTED]] if why else [],
            "more_evidence": max(0, len(why.hits) - MAX_LISTED) if why else 0,
            # Where the evidence sits (title, lead, rest, spread...): why it is or is
            # not enough.
            "aboutness": {k: round(v, 3) for k, v in why.features.items()} if why else {},
            # Matches a context rule ruled out, and the rule: words found, but not counted.
            # In text order, the title's first (the order of the evidence above).
            "dropped": [{"text": evidence.text, "field": evidence.field, "rule": rule.where,
                         "effect": rule.effect}
                        for evidence, rule in sorted(
                            why.dropped, key=lambda d: (d[0].field != "title", d[0].start)
                        )[:MAX_LISTED]] if why else [],
            "more_dropped": max(0, len(why.dropped) - MAX_LISTED) if why else 0,
            # Set when the article is not read as English: never tagged, whatever
            # its score.
            "language": None if taggable(language) else language,
        })
    return Judgement(frozenset(tags), tuple(errors))


def _count(report: CheckReport, article: LabelledArticle, judgement: Judgement) -> None:
    for name, score in report.scores.items():
        got, gold = name in judgement.tagged, name in article.labels
        if got and gold:
            score.tp += 1
        elif got:
            score.fp += 1
        elif gold:
            score.fn += 1
        else:
            score.tn += 1
    report.errors.extend(judgement.errors)


def check(tagger: Tagger, articles: Iterable[LabelledArticle],
          topics: Sequence[str] | None = None) -> CheckReport:
    """Score ``tagger`` on labelled articles; pure, so benchmarks and tests call it directly
    (no time budget: ``check_in_children`` has one)."""
    names = list(topics) if topics is not None else [t.name for t in tagger.topics]
    report = CheckReport({name: TopicScore() for name in names})
    for article in articles:
        report.articles += 1
        _count(report, article, judge(tagger, article, names))
    return report


# --- the same, each article in a child process under a time budget ---------------------------
_tagger: Tagger | None = None  # one per child process
_WARM_UP = LabelledArticle("warm-up", "Harbour reopens", "The harbour reopened on Thursday "
                           "after a week of repairs to the sea wall, port officials said.",
                           frozenset())


def _init_child(topics: tuple[Topic, ...]) -> None:
    """``topics``: the taxonomy the parent loaded and validated (not read again here)."""
    global _tagger
    _tagger = Tagger(topics)
    # The language model loads lazily (half a second): not on the first article's budget.
    # Without the topics, as the prepare children warm up: a newsroom's regex that backtracks
    # would stall here, where no budget stops it (pebble starts the clock when a task starts).
    judge(Tagger(()), _WARM_UP, ())


def _judge_in_child(article: LabelledArticle, names: tuple[str, ...]) -> Judgement:
    assert _tagger is not None, "child not initialised"
    return judge(_tagger, article, names)


def check_in_children(topics: tuple[Topic, ...], articles: Sequence[LabelledArticle],
                      budget_seconds: float, processes: int = 1) -> CheckReport:
    """``check`` with each article tagged in one of ``processes`` child processes, stopped
    after ``budget_seconds`` (``NEWSFLOW_CLEAN_TIME_BUDGET_SECONDS``); such an article, or
    one whose process dies under it, is in ``unscored`` and ``errors``, not in the scores.
    Errors are listed in input order, as ``check`` lists them."""
    names = tuple(t.name for t in topics)
    report = CheckReport({name: TopicScore() for name in names}, articles=len(articles),
                         budget_seconds=budget_seconds)
    pool = ChildPool(processes, _init_child, (topics,))  # as the prepare pool
    try:
        # All scheduled at once: a child takes the next article without a round trip, and
        # each article's clock starts when a child takes it, not when it is queued.
        futures: list[ProcessFuture[Judgement]] = [
            pool.schedule(_judge_in_child, args=(article, names), timeout=budget_seconds)
            for article in articles]
        for article, future in zip(articles, futures, strict=True):
            try:
                judgement = future.result()
            except TimeoutError:
                _unscored(report, article, "timeout", f"tagging took longer than the "
                          f"{budget_seconds:g} s budget (a topic's regex?); not scored")
                continue
            except ProcessExpired as exc:
                _unscored(report, article, "process_died", f"the process tagging it died "
                          f"(exit code {exc.exitcode}); not scored")
                continue
            _count(report, article, judgement)
    finally:
        # Every result is in (or the run was interrupted): no child is left running a regex.
        pool.close()
    return report


def _unscored(report: CheckReport, article: LabelledArticle, error: str, reason: str) -> None:
    entry = {"id": article.id, "topic": None, "error": error, "title": article.title[:120],
             "reason": reason}
    report.unscored.append(entry)
    report.errors.append(entry)


def _ratio(value: float, defined: bool) -> str:
    return f"{value:.3f}" if defined else "n/a"


def _percent(value: float, defined: bool) -> str:
    return f"{value:.2%}" if defined else "n/a"


def _interval(interval: tuple[float, float] | None) -> str:
    if interval is None:
        return "n/a"
    low, high = interval
    # Two decimals, or three where two would print an interval of no width ("1.00-1.00" at
    # 1,000 of 1,000): the Wilson interval never has one.
    digits = 2 if f"{low:.2f}" != f"{high:.2f}" else 3
    return f"{low:.{digits}f}-{high:.{digits}f}"


def _shown(text: str) -> str:
    """An id or a match as printed: as written when every character prints, else escaped; a
    newline in an id would read as another error line, a lone surrogate cannot be written."""
    return text if text.isprintable() else ascii(text)


def _decimals(value: float) -> str:
    """A threshold as written: 0.5 as 0.50, 0.555 as 0.555."""
    return f"{value:.6f}".rstrip("0").ljust(4, "0")


def _score(error: dict[str, Any]) -> str:
    """The score beside the threshold it is compared with, with as many decimals as it takes to
    show the side of it that the error is on (a miss at 0.4996 printed as 0.50 beside 0.50,
    a false alarm at 0.5552 as 0.56 beside 0.555, read the wrong way)."""
    score, threshold = error["score"], error.get("threshold")
    if threshold is None:
        return f"score {score:.2f}"
    shown = f"{score:.2f}"
    # A non-English article is missed whatever its score: the language line says why.
    if not error.get("language"):
        tagged = error["error"] == "false_alarm"
        for digits in (2, 3, 4, 5, 6):
            shown = f"{score:.{digits}f}"
            if (float(shown) >= threshold) == tagged:
                break
    return f"score {shown} (tags at {_decimals(threshold)})"


def _listed(items: list[str], more: int) -> str:
    return "; ".join(items) + (f"; and {more} more" if more else "")


def print_report(report: CheckReport, out: TextIO) -> None:
    # Columns as wide as their longest entry and a space: a newsroom's topic may be named
    # "industrial_action_walkouts", and it ran into the id beside it.
    name_width = max([22, *(len(name) + 1 for name in report.scores)])
    kind_width = max([12, *(len(e["error"]) + 1 for e in report.errors)])
    topic_width = max([20, *(len(e["topic"]) + 1 for e in report.errors if e["topic"])])
    # A ratio with nothing to count prints n/a, not 1.000: a topic no article is labelled
    # with has not been measured, and must not read as a perfect one.
    out.write(f"{'topic':<{name_width}}{'precision':>10}{'recall':>8}{'F1':>7}"
              f"{'false alarms':>14}{'tp':>7}{'fp':>7}{'fn':>7}{'precision 95%':>15}"
              f"{'recall 95%':>14}\n")
    for name, s in report.scores.items():
        tagged, labelled = s.tp + s.fp > 0, s.tp + s.fn > 0
        out.write(f"{name:<{name_width}}{_ratio(s.precision, tagged):>10}"
                  f"{_ratio(s.recall, labelled):>8}{_ratio(s.f1, tagged and labelled):>7}"
                  f"{_percent(s.false_alarm_rate, s.fp + s.tn > 0):>14}{s.tp:>7}{s.fp:>7}"
                  f"{s.fn:>7}{_interval(s.precision_interval):>15}"
                  f"{_interval(s.recall_interval):>14}\n")
    if any(s.tp + s.fp == 0 or s.tp + s.fn == 0 for s in report.scores.values()):
        out.write("(n/a: no article is labelled with the topic, or none was tagged)\n")
    if any(s.fp + s.tn == 0 for s in report.scores.values()):
        out.write("(false alarms n/a: no scored article is without the topic's label)\n")
    out.write("(95%: Wilson score intervals; on a few dozen labelled articles one article moves "
              "a figure by several points)\n")
    if report.unscored:
        count = len(report.unscored)
        out.write(f"({count} article{'s' * (count != 1)} not scored: listed with the errors "
                  "below)\n")
    if report.errors:
        out.write("\nerrors (score, then the evidence the tagger found):\n")
    for error in report.errors:
        if error["topic"] is None:  # not scored: no topic's score, only why
            out.write(f"  {error['error']:<{kind_width}}{'(all)':<{topic_width}}"
                      f"{_shown(error['id'])}  {error['title']!r}\n      {error['reason']}\n")
            continue
        evidence = _listed([_shown(text) for text in error["evidence"]],
                           error.get("more_evidence", 0)) or "no evidence"
        where = ", ".join(f"{k} {v:g}" for k, v in error.get("aboutness", {}).items())
        dropped = _listed([f"{_shown(d['text'])} ({d['field']}; {d['effect']}: {d['rule']})"
                           for d in error.get("dropped", [])], error.get("more_dropped", 0))
        language = error.get("language")
        out.write(f"  {error['error']:<{kind_width}}{error['topic']:<{topic_width}}"
                  f"{_shown(error['id'])}  {_score(error)}  {error['title']!r}\n"
                  f"      evidence: {evidence}\n"
                  + (f"      aboutness: {where}\n" if error["evidence"] else "")
                  + (f"      ruled out by a context rule: {dropped}\n" if dropped else "")
                  + (f"      language: {language} (not English: never tagged)\n"
                     if language else ""))

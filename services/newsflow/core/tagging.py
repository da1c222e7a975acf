"""Topic tagging from a YAML taxonomy: weighted terms, context rules, evidence spans."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from newsflow.records import Evidence, Tag

IPTC_CODE = re.compile(r"^medtop:\d{8}$")
# Title words count more: a headline states what the article is about.
TITLE_WEIGHT = 1.5


class TaxonomyError(ValueError):
    """The taxonomy file is malformed; the message names the topic and field."""


@dataclass(frozen=True, slots=True)
class Term:
    pattern: re.Pattern[str]
    weight: float


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    iptc: str
    description: str
    threshold: float
    terms: tuple[Term, ...]
    require_context: tuple[re.Pattern[str], ...]
    exclude: tuple[re.Pattern[str], ...]


def _compile(pattern: Any, where: str) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise TaxonomyError(f"{where}: expected a non-empty regular expression string")
    try:
        return re.compile(rf"\b(?:{pattern})\b", re.IGNORECASE)
    except re.error as exc:
        raise TaxonomyError(f"{where}: invalid regular expression {pattern!r}: {exc}") from exc


def _topic(entry: Any, index: int) -> Topic:
    if not isinstance(entry, dict):
        raise TaxonomyError(f"topics[{index}]: expected a mapping")
    name = entry.get("name")
    where = f"topic {name!r}" if isinstance(name, str) and name else f"topics[{index}]"
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise TaxonomyError(f"{where}: name: expected a lower_snake_case string")
    iptc = entry.get("iptc")
    if not isinstance(iptc, str) or not IPTC_CODE.match(iptc):
        raise TaxonomyError(f"{where}: iptc: expected an IPTC Media Topic code like medtop:20000602")
    threshold = entry.get("threshold", 0.5)
    if not isinstance(threshold, int | float) or not 0 < threshold <= 1:
        raise TaxonomyError(f"{where}: threshold: expected a number in (0, 1]")
    raw_terms = entry.get("terms")
    if not isinstance(raw_terms, list) or not raw_terms:
        raise TaxonomyError(f"{where}: terms: expected a non-empty list")
    terms = []
    for t_index, term in enumerate(raw_terms):
        t_where = f"{where}: terms[{t_index}]"
        if not isinstance(term, dict):
            raise TaxonomyError(f"{t_where}: expected a mapping with pattern and weight")
        weight = term.get("weight", 1.0)
        if not isinstance(weight, int | float) or weight <= 0:
            raise TaxonomyError(f"{t_where}: weight: expected a positive number")
        terms.append(Term(_compile(term.get("pattern"), f"{t_where}: pattern"), float(weight)))
    context = tuple(_compile(p, f"{where}: require_context[{i}]")
                    for i, p in enumerate(entry.get("require_context") or []))
    exclude = tuple(_compile(p, f"{where}: exclude[{i}]")
                    for i, p in enumerate(entry.get("exclude") or []))
    return Topic(name, iptc, str(entry.get("description", "")), float(threshold), tuple(terms),
                 context, exclude)


def load_taxonomy(path: Path) -> tuple[Topic, ...]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TaxonomyError(f"{path}: cannot read taxonomy: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("topics"), list):
        raise TaxonomyError(f"{path}: expected a mapping with a 'topics' list")
    topics = tuple(_topic(entry, i) for i, entry in enumerate(data["topics"]))
    names = [t.name for t in topics]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise TaxonomyError(f"{path}: topic names repeated: {', '.join(sorted(duplicates))}")
    return topics


def _excluded_spans(topic: Topic, text: str) -> list[tuple[int, int]]:
    return [m.span() for pattern in topic.exclude for m in pattern.finditer(text)]


def _matches(topic: Topic, field: str, text: str) -> list[tuple[Evidence, float]]:
    """Non-overlapping term matches, strongest term first, outside excluded phrases."""
    excluded = _excluded_spans(topic, text)
    taken: list[tuple[int, int]] = []
    found = []
    for term in sorted(topic.terms, key=lambda t: -t.weight):
        for match in term.pattern.finditer(text):
            start, end = match.span()
            if any(s < end and start < e for s, e in taken + excluded):
                continue
            taken.append((start, end))
            found.append((Evidence(field, start, end, match.group(0)), term.weight))
    return sorted(found, key=lambda item: (item[0].start, item[0].end))


class Tagger:
    def __init__(self, topics: tuple[Topic, ...]) -> None:
        self.topics = topics

    def tag(self, title: str, body: str) -> list[Tag]:
        tags = []
        full_text = f"{title}\n{body}"
        for topic in self.topics:
            if topic.require_context and not any(p.search(full_text) for p in topic.require_context):
                continue
            matches = _matches(topic, "title", title) + _matches(topic, "body", body)
            if not matches:
                continue
            mass = sum(weight * (TITLE_WEIGHT if ev.field == "title" else 1.0)
                       for ev, weight in matches)
            score = 1.0 - math.exp(-mass)
            if score >= topic.threshold:
                tags.append(Tag(topic.name, score, topic.iptc, tuple(ev for ev, _ in matches)))
        return tags

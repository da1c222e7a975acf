"""What a consumer receives: a ``Record`` per message, its value checked against ``schemas/``.

The TypedDicts name the fields a consumer usually reads; the JSON Schemas stay the contract
(every value is decoded and validated by its topic's codec, ``newsflow.codecs``, before it is
handed out)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, cast

Kind = Literal["articles", "duplicates", "stories", "deadletter", "raw"]
KINDS: tuple[Kind, ...] = ("articles", "duplicates", "stories", "deadletter", "raw")


class Tag(TypedDict):
    name: str
    score: float
    iptc: str
    evidence: list[dict[str, Any]]


class Story(TypedDict):
    id: str
    first_seen: str


class Article(TypedDict):
    id: str
    url: str
    canonical_url: str
    title: str
    body: str
    language: str | None
    published_at: str | None
    fetched_at: str | None
    source: dict[str, str]
    tags: list[Tag]
    story: Story


class Duplicate(TypedDict):
    id: str
    url: str
    title: str
    duplicate_of: str
    level: str
    method: str
    fetched_at: str | None


class StoryRollup(TypedDict):
    id: str
    title: str
    articles: list[str]
    sources: list[str]
    updated_at: str


class DeadLetter(TypedDict):
    stage: str
    error: dict[str, str]
    source: dict[str, Any]
    original: dict[str, str | None]
    failed_at: str


@dataclass(frozen=True, slots=True)
class Record:
    """One message: where it came from, its key and its decoded, validated value."""

    kind: str  # one of KINDS, or "topic" for a topic outside the project's roles
    topic: str
    partition: int
    offset: int
    key: str | None
    value: Any

    @property
    def article(self) -> Article:
        return cast(Article, self._as("articles"))

    @property
    def duplicate(self) -> Duplicate:
        return cast(Duplicate, self._as("duplicates"))

    @property
    def story(self) -> StoryRollup:
        return cast(StoryRollup, self._as("stories"))

    @property
    def dead_letter(self) -> DeadLetter:
        return cast(DeadLetter, self._as("deadletter"))

    def _as(self, kind: str) -> Any:
        if self.kind != kind:
            raise TypeError(f"a {self.kind} record is not {kind}")
        return self.value

    def identity(self) -> str:
        """What makes a delivery the same as an earlier one (used to drop redeliveries).

        Articles are re-emitted only as redeliveries, so their id is enough; a story roll-up is
        re-emitted on purpose whenever it grows, and an article can be a duplicate more than once
        (each fetch), so those carry what changes between legitimate records."""
        value = self.value if isinstance(self.value, dict) else {}
        if self.kind == "articles":
            return f"a:{value.get('id')}"
        if self.kind == "duplicates":
            return f"d:{value.get('id')}@{value.get('fetched_at')}>{value.get('duplicate_of')}"
        if self.kind == "stories":
            return f"s:{value.get('id')}@{value.get('updated_at')}#{len(value.get('articles', []))}"
        if self.kind == "raw":
            return f"r:{value.get('id')}@{value.get('fetched_at')}"
        if self.kind == "deadletter":
            src, original = value.get("source", {}), value.get("original", {})
            digest = hashlib.sha256(str(original.get("value_b64")).encode()).hexdigest()[:16]
            return (f"x:{value.get('stage')}:{src.get('topic')}:{src.get('partition')}:"
                    f"{src.get('offset')}:{digest}")
        return f"t:{self.topic}:{self.partition}:{self.offset}"

"""What a consumer receives: a ``Record`` per message, its value checked against ``schemas/``.

The TypedDicts mirror the JSON Schemas field for field (tests/unit/test_client_records.py keeps
them in step); the schemas stay the contract: every value is decoded and validated by its
topic's codec, ``newsflow.codecs``, before it is handed out."""

# No ``from __future__ import annotations``: TypedDict reads ``NotRequired`` only from evaluated
# annotations (Python 3.11), and the optional fields must not count as required.
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict, cast

Kind = Literal["articles", "duplicates", "stories", "deadletter", "raw"]
KINDS: tuple[Kind, ...] = ("articles", "duplicates", "stories", "deadletter", "raw")
# What a consumer reads a topic as: one of the roles, or "topic" for any other topic.
ReadAs = Kind | Literal["topic"]


class Evidence(TypedDict):
    field: Literal["title", "body"]
    start: int
    end: int
    text: str


class Tag(TypedDict):
    name: str
    score: float
    iptc: str
    evidence: list[Evidence]


class Source(TypedDict):
    id: str
    name: str
    kind: NotRequired[str]


class Story(TypedDict):
    id: str
    first_seen: str
    similarity: NotRequired[float | None]


class Article(TypedDict):
    schema_version: int
    id: str
    url: str
    canonical_url: str
    dedupe_key: NotRequired[str]
    source: Source
    title: str
    body: str
    language: str | None
    published_at: str | None
    fetched_at: str | None
    processed_at: str
    authors: list[str]
    site_name: NotRequired[str | None]
    word_count: int
    empty_body: NotRequired[bool]
    empty_reason: NotRequired[Literal["empty", "binary", "no_article"] | None]
    content_hash: str
    tags: list[Tag]
    story: Story
    removed_lines: NotRequired[dict[str, int]]
    pipeline_version: str


class Duplicate(TypedDict):
    schema_version: int
    id: str
    url: str
    source: Source
    title: str
    duplicate_of: str
    level: Literal["exact", "near"]
    method: Literal["canonical_url", "content_hash", "minhash"]
    similarity: float
    content_hash: str
    story_id: NotRequired[str | None]
    fetched_at: str | None
    processed_at: str
    pipeline_version: str


class StoryRollup(TypedDict):
    schema_version: int
    id: str
    title: str  # the newest report's headline: it changes as the story grows
    first_seen: str
    last_seen: str
    articles: list[str]
    sources: list[str]
    tags: list[str]
    updated_at: str


class DeadLetterError(TypedDict):
    type: str
    message: str


class DeadLetterSource(TypedDict):
    topic: str
    partition: int | None
    offset: int | None


class DeadLetterOriginal(TypedDict):
    key_b64: str | None
    value_b64: str | None


class DeadLetter(TypedDict):
    schema_version: int
    stage: Literal["decode", "validate", "clean", "tag", "dedupe", "fetch"]
    error: DeadLetterError
    source: DeadLetterSource
    original: DeadLetterOriginal
    failed_at: str
    pipeline_version: str


@dataclass(frozen=True, slots=True)
class Record:
    """One message: where it came from, its key and its decoded, validated value."""

    kind: ReadAs  # one of KINDS, or "topic" for a topic outside the project's roles
    topic: str
    partition: int
    offset: int
    key: str | None  # decoded as UTF-8 (undecodable bytes replaced): see ``key_bytes``
    value: Any
    key_bytes: bytes | None = None  # the key as it was on the topic

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

    def _as(self, kind: Kind) -> Any:
        if self.kind != kind:
            raise TypeError(f"a record of {self.kind} is not one of {kind}")
        return self.value

    def identity(self) -> str:
        """What makes a delivery the same as an earlier one (used to drop redeliveries): the
        fields a redelivery repeats and a legitimate new record changes. The worker emits an
        article's id again when its URL is fetched again after the dedupe window, with the new
        fetch time (and maybe new text); a story roll-up whenever it changes; a duplicate at
        each fetch of a copy. A raw record is a redelivery only when it is the same record."""
        value = self.value if isinstance(self.value, dict) else {}
        if self.kind == "articles":
            return f"a:{value.get('id')}@{value.get('fetched_at')}#{value.get('content_hash')}"
        if self.kind == "duplicates":
            # With the URL: two copies of one text (two files, two syndicated links) fetched in
            # the same second share everything else, the id too, for a file's id is its text's.
            return (f"d:{value.get('id')}@{value.get('fetched_at')}>{value.get('duplicate_of')}"
                    f"#{value.get('content_hash')}<{value.get('url')}")
        if self.kind == "stories":
            # The whole roll-up: two states of a story emitted within one second (a backlog)
            # share updated_at, and a member replaced as another joins keeps the count. A
            # re-emission with only a new updated_at is caught by ``state()``.
            return f"s:{value.get('id')}#{_value_digest(value)}"
        if self.kind == "raw":
            return f"r:{_value_digest(value)}"
        if self.kind == "deadletter":
            src, original = value.get("source") or {}, value.get("original") or {}
            error = value.get("error") or {}
            parts: list[Any] = [value.get("stage"), src.get("topic"), src.get("partition"),
                                src.get("offset"), original.get("key_b64"),
                                original.get("value_b64")]
            if src.get("partition") is None or src.get("offset") is None:
                # No position (a fetch-stage letter): two empty files share the bytes, and a
                # deliberate re-run of the same folder is a new letter with a new failed_at.
                parts += [error.get("message"), value.get("failed_at")]
            return f"x:{_digest(json.dumps(parts, ensure_ascii=False))}"
        return f"t:{self.topic}:{self.partition}:{self.offset}"

    def state(self) -> tuple[str, str] | None:
        """For a record that is one state of something that changes (a story roll-up): that
        thing and a digest of its state apart from when it was emitted; None for other records.
        The worker re-emits a story's roll-up when it reprocesses an article after a restart,
        with a new ``updated_at`` only: a roll-up whose state equals the last one handed out
        for its story is a redelivery."""
        if self.kind != "stories" or not isinstance(self.value, dict):
            return None
        rest = {k: v for k, v in self.value.items() if k != "updated_at"}
        return f"s:{self.value.get('id')}", _value_digest(rest)


def _value_digest(value: Any) -> str:
    return _digest(json.dumps(value, sort_keys=True, ensure_ascii=False))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]

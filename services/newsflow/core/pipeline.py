"""The core as two steps shared by the stream and ``newsflow process``.

``prepare`` is stateless (clean, tag, fingerprint a decoded raw article) and runs in parallel on
any partition; ``decide`` is the stateful dedupe step over a ``DedupeIndex``. Both are pure: the
caller decodes the input (``newsflow.codecs``), passes the time and owns the index, so the
stream and the offline command agree.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from newsflow import PIPELINE_VERSION
from newsflow.core.clean import clean_document, normalise_text
from newsflow.core.dates import normalise_date, parse_datetime, rfc3339, utc_day
from newsflow.core.dedupe import DedupeIndex, Fingerprint, Memory
from newsflow.core.params import CleanLimits, DedupeParams
from newsflow.core.signatures import minhash_of
from newsflow.core.story_features import lead_terms, story_terms
from newsflow.core.tagging import Tagger
from newsflow.core.urls import (
    article_id_for_content,
    article_id_for_url,
    canonical_link,
    canonicalize_url,
    stable_hash,
)
from newsflow.errors import RecordInvalid, StageError

# URL schemes whose "page" is code or inline data: a browser would run or show it, not fetch it
# (urlsplit drops the tabs and newlines that would hide "java\tscript:").
SCRIPT_SCHEMES = frozenset({"javascript", "vbscript", "data", "blob"})
TAGGED_LANGUAGES = ("en",)  # languages the bundled taxonomy is written for
WARM_UP_TIME = "2000-01-01T00:00:00+00:00"  # any fixed time: the warm-up's result is dropped


def taggable(language: str | None) -> bool:
    """Whether an article in ``language`` is tagged. The taxonomy's words are English: another
    language's text is never tagged, so a French "sanctions" or a German "Marine" cannot tag an
    article by accident; an article too short to tell (None) is read as English."""
    return language is None or language in TAGGED_LANGUAGES


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an input came from; a redelivered input has the same origin."""

    topic: str
    partition: int | None = None
    offset: int | None = None

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


@dataclass(slots=True)
class Prepared:
    """A cleaned, tagged, fingerprinted article on its way to the dedupe step."""

    article: dict[str, Any]
    fingerprint: Fingerprint
    origin: str  # str(Origin): where the input was read


@dataclass(frozen=True, slots=True)
class Emission:
    topic: str  # role: "articles", "duplicates" or "stories"
    key: str
    record: dict[str, Any]


WORD = re.compile(r"\w")
# A body this short (a "This story is developing" stub, a placeholder) is no article of its own:
# its headline joins its content hash, so one outlet's stubs under different headlines are not
# copies of each other.
STUB_WORDS = 25


def content_hash(text: str) -> str:
    """Hash of the text with case, punctuation and spacing folded: equal for trivial re-renders."""
    folded = " ".join(re.findall(r"\w+", text.lower()))
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()


class Pipeline:
    """The core's two steps over plain inputs: the adapters build them from ``Settings``
    (``newsflow.pipeline_setup.build_pipeline``), the core reads no file and no setting."""

    def __init__(self, tagger: Tagger, params: DedupeParams, clean_limits: CleanLimits) -> None:
        self.tagger = tagger
        self.params = params
        self.clean_limits = clean_limits

    def warm_up(self) -> None:
        """Load what the core loads lazily (extractor, language model, word frequencies) by
        preparing one small page, so that cost is not charged to the first real page's time
        budget."""
        paragraph = ("The harbour reopened on Thursday after a week of repairs to the sea wall, "
                     "port officials said, and the first ferries left for the islands.")
        record = {"schema_version": 1, "id": "warm-up", "url": "https://warm-up.invalid/a",
                  "source": {"id": "warm-up", "name": "Warm-up"},
                  "fetched_at": WARM_UP_TIME, "content_type": "text/html",
                  "body": f"<html><body><h1>Harbour reopens</h1><p>{paragraph}</p></body></html>"}
        # Without the topics: tagging loads nothing lazily, and a newsroom's regex that takes
        # minutes on this page must cost one real page its budget, not stall the warm-up.
        tagger, self.tagger = self.tagger, Tagger(())
        try:
            self.prepare(record, Origin("warm-up"), datetime.fromisoformat(WARM_UP_TIME))
        finally:
            self.tagger = tagger

    def new_index(self) -> DedupeIndex:
        return DedupeIndex(self.params)

    # --- stateless step ----------------------------------------------------------------------
    def prepare(self, raw: dict[str, Any], origin: Origin, now: datetime) -> Prepared:
        """Clean, tag and fingerprint one raw article (decoded and valid against
        schemas/raw-article.v1.json); StageError names the step that failed."""
        try:  # a URL no parser can read (port 99999, a broken IPv6 host) is the record's fault
            parts = urlsplit(raw["url"])
            _ = parts.port
        except ValueError as exc:  # RecordInvalid, as every other record the stage refuses
            raise StageError("validate", RecordInvalid(f"url: {exc}")) from exc
        if parts.scheme.lower() in SCRIPT_SCHEMES:  # consumers show canonical_url as a link
            raise StageError("validate", RecordInvalid(
                f"url: a {parts.scheme.lower()}: URL is not an article's address"))
        try:
            doc = clean_document(raw["body"], raw.get("content_type") or "text/html",
                                 raw.get("url"), raw.get("title"), self.clean_limits,
                                 today=utc_day(now))
        except Exception as exc:
            raise StageError("clean", exc) from exc
        try:
            tags = self.tagger.tag(doc.title, doc.text) if taggable(doc.language) else []
        except Exception as exc:
            raise StageError("tag", exc) from exc
        url = raw["url"]
        link = canonical_link(doc.canonical_url or url)
        canonical = canonicalize_url(doc.canonical_url or url)  # the dedupe key
        article_id = raw.get("id") or (
            article_id_for_url(url) if url.startswith(("http://", "https://"))
            else article_id_for_content(normalise_text(raw["body"]))
        )
        fetched_at = normalise_date(raw.get("fetched_at"))
        seen = parse_datetime(fetched_at) or now
        feed = raw.get("feed") or {}
        authors = doc.authors or list(feed.get("authors") or [])
        # No body text (empty, binary, a page with nothing extractable, or only emoji, dashes
        # or dots, which fold to nothing): the signatures come from the article id, so two
        # different empty-looking inputs are never duplicates of each other, even under the
        # same generic headline ("Live updates"); a redelivery of the same input still is.
        extracted = WORD.search(doc.text) is not None
        text_hash = (stable_hash(f"nothing extracted:{article_id}") if not extracted
                     else content_hash(doc.text) if doc.word_count >= STUB_WORDS
                     else content_hash(f"{doc.title}\n{doc.text}"))
        signed_text = f"{doc.title}\n{doc.text}" if extracted else f"empty {article_id}"
        article = {
            "schema_version": 1,
            "id": article_id,
            "url": url,
            "canonical_url": link,
            "dedupe_key": canonical,
            "source": raw["source"],
            "title": doc.title,
            "body": doc.text,
            "language": doc.language,
            "published_at": normalise_date(raw.get("published_at")) or doc.published_at,
            "fetched_at": fetched_at,
            "processed_at": rfc3339(now),
            "authors": authors,
            "site_name": doc.site_name,
            "word_count": doc.word_count,
            "empty_body": not doc.text,
            "empty_reason": doc.empty_reason if not doc.text else None,
            "content_hash": text_hash,
            "tags": [tag.to_dict() for tag in tags],
            "story": None,
            "removed_lines": dict(doc.removals),
            "pipeline_version": PIPELINE_VERSION,
        }
        fingerprint = Fingerprint(
            id=article_id,
            canonical_url=canonical,
            content_hash=text_hash,
            minhash=minhash_of(signed_text, self.params),
            story_terms=story_terms(doc.title, doc.text),
            seen_at=seen.timestamp(),
            title=doc.title,
            source_id=str(raw["source"]["id"]),
            tags=[tag.name for tag in tags],
            lead_terms=lead_terms(doc.title, doc.text),
        )
        return Prepared(article, fingerprint, str(origin))

    # --- stateful step -----------------------------------------------------------------------
    @staticmethod
    def evict(index: DedupeIndex) -> list[str]:
        """Forget the articles the window has passed, after each decision: the ids forgotten,
        oldest first. The stream and ``newsflow process`` both call it, because story
        similarity weighs terms by the window's own document counts: an index that kept
        expired articles would group stories differently."""
        expired = index.expired_ids()
        for article_id in expired:
            index.forget(article_id)
        return expired

    def decide(self, prepared: Prepared, index: DedupeIndex, now: datetime | None = None,
               *, roll_up: bool = True) -> tuple[Memory, list[Emission]]:
        """Dedupe one prepared article; ``now`` (the caller's clock) guards against fetch times
        from the future (``DedupeIndex.arrival_time``). ``roll_up``: also emit the story's
        roll-up, which lists every member (``newsflow process`` writes no roll-up: building
        it cost a story of thousands of members that many ids at every report)."""
        fingerprint = prepared.fingerprint
        if prepared.article.get("fetched_at") is None and len(index.ids):
            # No fetch time (an archive's undated record): it arrives with the newest article
            # remembered. Filed at the clock's time, it moved the window to today, and the
            # next eviction forgot the archive's past, whose copies then passed as new.
            fingerprint = replace(fingerprint, seen_at=index.newest_seen)
        memory = index.decide(fingerprint, prepared.origin,
                              None if now is None else now.timestamp())
        decision = memory.decision
        article = prepared.article
        if decision.kind != "new":
            duplicate = {
                "schema_version": 1,
                "id": article["id"],
                "url": article["url"],
                "source": article["source"],
                "title": article["title"],
                "duplicate_of": decision.duplicate_of,
                "level": decision.kind,
                "method": decision.method,
                "similarity": decision.similarity,
                "content_hash": article["content_hash"],
                "story_id": decision.story_id,
                "fetched_at": article["fetched_at"],
                "processed_at": article["processed_at"],
                "pipeline_version": PIPELINE_VERSION,
            }
            return memory, [Emission("duplicates", article["id"], duplicate)]
        record = dict(article)
        record["story"] = {
            "id": decision.story_id,
            "first_seen": rfc3339(datetime.fromtimestamp(decision.story_first_seen, UTC)),
            "similarity": decision.story_similarity,
        }
        emissions = [Emission("articles", record["id"], record)]
        story = index.stories.get(decision.story_id) if roll_up else None
        if story is not None:
            emissions.append(Emission("stories", story.id, {
                "schema_version": 1,
                "id": story.id,
                "title": story.title,
                "first_seen": rfc3339(datetime.fromtimestamp(story.first_seen, UTC)),
                "last_seen": rfc3339(datetime.fromtimestamp(story.last_seen, UTC)),
                "articles": list(story.articles),
                "sources": list(story.sources),
                "tags": list(story.tags),
                "updated_at": article["processed_at"],
            }))
        return memory, emissions

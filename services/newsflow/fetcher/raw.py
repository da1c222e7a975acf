"""Building raw-article records (schemas/raw-article.v1.json) from what a source yielded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from newsflow.core.clean import normalise_text
from newsflow.core.urls import article_id_for_content, article_id_for_url
from newsflow.fetcher.sources import SourceConfig
from newsflow.records import utc_now


@dataclass(slots=True)
class FeedEntry:
    """What a feed (or listing) says about one article."""

    url: str
    title: str | None = None
    published_at: str | None = None
    summary: str | None = None
    content: str | None = None  # full content when the feed carries it
    guid: str | None = None
    categories: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)


def raw_article(
    source: SourceConfig,
    url: str,
    body: str,
    content_type: str,
    *,
    title: str | None = None,
    published_at: str | None = None,
    encoding: str | None = "utf-8",
    http: dict[str, Any] | None = None,
    entry: FeedEntry | None = None,
) -> dict[str, Any]:
    is_web = url.startswith(("http://", "https://"))
    article_id = (article_id_for_url(url) if is_web
                  else article_id_for_content(normalise_text(body)))
    record: dict[str, Any] = {
        "schema_version": 1,
        "id": article_id,
        "url": url,
        "source": {"id": source.id, "name": source.name, "kind": source.kind},
        "fetched_at": utc_now(),
        "published_at": published_at,
        "title": title,
        "content_type": content_type,
        "body": body,
        "encoding": encoding,
        "http": http,
    }
    if entry is not None:
        record["feed"] = {
            "guid": entry.guid,
            "summary": entry.summary,
            "categories": entry.categories,
            "authors": entry.authors,
        }
    return record

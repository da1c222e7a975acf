"""The bundled sample news site: an RSS feed and article pages served on 127.0.0.1.

Used by the demo and by tests; the articles (data/sample_site/articles.yaml) are fictional and
carry the boilerplate real pages have (cookie banners, share bars, "Also Read:" lines, related
lists), so the whole chain has something realistic to clean, dedupe and tag.
"""

from __future__ import annotations

import html
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import yaml

from newsflow.config import PACKAGE_DIR
from newsflow.core.dates import parse_datetime, rfc3339
from newsflow.httpserver import Answer, BackgroundServer

SITE_DIR = PACKAGE_DIR / "data" / "sample_site"


def load_articles(path: Path = SITE_DIR / "articles.yaml") -> list[dict[str, Any]]:
    articles = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(articles, list)
    return articles


def published_at(article: dict[str, Any]) -> datetime:
    published = parse_datetime(article["published"])
    if published is None:
        raise ValueError(f"sample article {article['slug']!r}: bad 'published' time")
    return published


def dated_from(articles: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The articles with their publication times moved so the newest was published half an
    hour before ``now``, spacing kept: the site looks current on any day it is started."""
    times = [published_at(a) for a in articles]
    if not times:
        return articles
    shift = now - timedelta(minutes=30) - max(times)
    return [a | {"published": rfc3339(t + shift)} for a, t in zip(articles, times, strict=True)]


def render_page(article: dict[str, Any], base: str) -> str:
    template = (SITE_DIR / "page.html.tmpl").read_text(encoding="utf-8")
    published = published_at(article)
    paragraphs = "\n".join(f"<p>{html.escape(p)}</p>" for p in article["paragraphs"])
    return template.format(
        title=html.escape(article["title"]), outlet=html.escape(article["outlet"]),
        author=html.escape(article["author"]), published=article["published"],
        published_human=published.strftime("%d %B %Y"), base=base, slug=article["slug"],
        paragraphs=paragraphs,
    )


def render_feed(articles: list[dict[str, Any]], base: str) -> str:
    items = []
    for article in articles:
        published = published_at(article)
        summary = html.escape(article["paragraphs"][0][:160])
        items.append(
            "<item>"
            f"<title>{html.escape(article['title'])}</title>"
            f"<link>{base}/articles/{article['slug']}.html</link>"
            f"<guid isPermaLink=\"false\">sample-{article['slug']}</guid>"
            f"<pubDate>{format_datetime(published)}</pubDate>"
            f"<description>{summary}</description>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>newsflow sample wire</title><link>{base}/</link>"
        "<description>Fictional news for the newsflow demo</description>"
        + "".join(items) + "</channel></rss>"
    )


class SampleSite:
    """Serves the sample site on 127.0.0.1 in a background thread."""

    def __init__(self, port: int = 0, articles: list[dict[str, Any]] | None = None) -> None:
        # The follow-mode articles are dated with the others, so spacing and order are kept.
        later = load_articles(SITE_DIR / "follow.yaml")
        if articles is None:
            dated = dated_from(load_articles() + later, datetime.now(UTC))
            articles, later = dated[:-len(later)], dated[-len(later):]
        self.articles = articles
        self.upcoming = later
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.http = BackgroundServer(self.answer, port=port, name="sample-site")

    @property
    def base_url(self) -> str:
        return self.http.base_url

    @property
    def feed_url(self) -> str:
        return f"{self.base_url}/feed.xml"

    def answer(self, request: BaseHTTPRequestHandler) -> Answer:
        body, content_type = self.resolve(request.path)
        if body is None:
            return Answer(404, b"not found\n", {"Content-Type": "text/plain"})
        return Answer(200, body.encode("utf-8"), {"Content-Type": content_type})

    def resolve(self, path: str) -> tuple[str | None, str]:
        with self.lock:
            articles = list(self.articles)
        if path == "/feed.xml":
            return render_feed(articles, self.base_url), "application/rss+xml; charset=utf-8"
        for article in articles:
            if path == f"/articles/{article['slug']}.html":
                return render_page(article, self.base_url), "text/html; charset=utf-8"
        return None, "text/plain"

    def start(self) -> SampleSite:
        self.http.start()
        return self

    def publish_next(self) -> dict[str, Any] | None:
        """Add the next article of data/sample_site/follow.yaml to the site (None: all out)."""
        with self.lock:
            if not self.upcoming:
                return None
            article = self.upcoming.pop(0)
            self.articles.append(article)
            return article

    def grow(self, every_seconds: float) -> None:
        """Publish a new article every ``every_seconds`` in a background thread until stop()."""

        def run() -> None:
            while not self.stopping.wait(every_seconds) and self.publish_next() is not None:
                pass

        threading.Thread(target=run, daemon=True, name="sample-site-grow").start()

    def stop(self) -> None:
        self.stopping.set()
        self.http.stop()

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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from newsflow.config import PACKAGE_DIR

SITE_DIR = PACKAGE_DIR / "data" / "sample_site"


def load_articles(path: Path = SITE_DIR / "articles.yaml") -> list[dict[str, Any]]:
    articles = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(articles, list)
    return articles


def dated_from(articles: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The articles with their publication times moved so the newest was published half an
    hour before ``now``, spacing kept: the site looks current on any day it is started."""
    times = [datetime.fromisoformat(a["published"].replace("Z", "+00:00")) for a in articles]
    if not times:
        return articles
    shift = now - timedelta(minutes=30) - max(times)
    return [a | {"published": (t + shift).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
            for a, t in zip(articles, times, strict=True)]


def render_page(article: dict[str, Any], base: str) -> str:
    template = (SITE_DIR / "page.html.tmpl").read_text(encoding="utf-8")
    published = datetime.fromisoformat(article["published"].replace("Z", "+00:00"))
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
        published = datetime.fromisoformat(article["published"].replace("Z", "+00:00"))
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
        self.articles = articles if articles is not None else dated_from(
            load_articles(), datetime.now(UTC))
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body, content_type = site.resolve(self.path)
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def feed_url(self) -> str:
        return f"{self.base_url}/feed.xml"

    def resolve(self, path: str) -> tuple[str | None, str]:
        if path == "/feed.xml":
            return render_feed(self.articles, self.base_url), "application/rss+xml; charset=utf-8"
        for article in self.articles:
            if path == f"/articles/{article['slug']}.html":
                return render_page(article, self.base_url), "text/html; charset=utf-8"
        return None, "text/plain"

    def start(self) -> SampleSite:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

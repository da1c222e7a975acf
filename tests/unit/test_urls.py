"""Canonical URLs: every variant of one article's link maps to one form (and one article id)."""

from __future__ import annotations

import pytest

from newsflow.core.urls import article_id_for_url, canonicalize_url, url_fault, web_url

CANONICAL = "https://example.com/world/2026/02/11/iran-missiles"


@pytest.mark.parametrize("variant", [
    "https://example.com/world/2026/02/11/iran-missiles?utm_source=twitter&utm_medium=social",
    "https://example.com/world/2026/02/11/iran-missiles?utm_campaign=x&utm_content=y&utm_term=z",
    "https://example.com/world/2026/02/11/iran-missiles?fbclid=IwAR0abcdef",
    "https://example.com/world/2026/02/11/iran-missiles?gclid=Cj0KCQiA",
    "https://example.com/world/2026/02/11/iran-missiles#comments",
    "https://www.example.com/world/2026/02/11/iran-missiles",
    "https://example.com/world/2026/02/11/iran-missiles/",
    "http://example.com/world/2026/02/11/iran-missiles",
    "HTTPS://EXAMPLE.COM/world/2026/02/11/iran-missiles",
    "https://example.com:443/world/2026/02/11/iran-missiles",
    "https://example.com/world/2026/02/11/iran-missiles/amp",
    "https://example.com/world/2026/02/11/iran-missiles/amp/",
    "https://example.com/amp/world/2026/02/11/iran-missiles",
    "https://amp.example.com/world/2026/02/11/iran-missiles",
    "https://example.com/world/2026/02/11/iran-missiles?amp=1",
    "https://example.com/world/2026/02/11/iran-missiles?outputType=amp",
    "  https://www.example.com/world//2026/02/11/iran-missiles/?utm_source=rss&fbclid=1#top  ",
])
def test_variants_of_one_link_share_the_canonical_form(variant: str) -> None:
    assert canonicalize_url(variant) == CANONICAL
    assert article_id_for_url(variant) == article_id_for_url(CANONICAL)


def test_amp_html_suffix_is_dropped() -> None:
    assert canonicalize_url("https://example.com/news/story.amp.html") == (
        "https://example.com/news/story.html")


def test_meaningful_query_parameters_are_kept_in_a_stable_order() -> None:
    a = canonicalize_url("https://example.com/article?id=42&page=2&utm_source=x")
    b = canonicalize_url("https://example.com/article?page=2&id=42")
    assert a == b == "https://example.com/article?id=42&page=2"


def test_different_articles_stay_different() -> None:
    assert canonicalize_url("https://example.com/a?id=1") != canonicalize_url(
        "https://example.com/a?id=2")
    assert canonicalize_url("https://example.com/a") != canonicalize_url("https://example.org/a")
    # "amp" inside a word is not an AMP marker
    assert canonicalize_url("https://example.com/news/camp-fire") == (
        "https://example.com/news/camp-fire")


def test_non_web_urls_are_left_alone() -> None:
    assert canonicalize_url(" file:///tmp/a.txt ") == "file:///tmp/a.txt"


@pytest.mark.parametrize(("url", "link"), [
    ("http://www.example.com/world/story?utm_source=rss&id=7#top",
     "http://www.example.com/world/story?id=7"),
    ("https://m.example.com/world/story/", "https://m.example.com/world/story/"),
    ("HTTP://Example.COM:8080/Path", "http://example.com:8080/Path"),
    ("file:///tmp/inbox/a.txt", "file:///tmp/inbox/a.txt"),
])
def test_canonical_link_keeps_scheme_and_host_so_the_link_still_works(url: str, link: str) -> None:
    from newsflow.core.urls import canonical_link

    assert canonical_link(url) == link
    # The dedupe key is a different thing: it folds exactly what the link keeps.
    if url.startswith(("http", "HTTP")):
        assert canonicalize_url(url).startswith("https://")


@pytest.mark.parametrize(("link", "fault"), [
    ("tag:example.com,2026:1", "not an http(s) address"),
    ("javascript:void(0)", "not an http(s) address"),
    ("http:///story", "no host"),
    ("http://[::1/story", "Invalid IPv6 URL"),
    ("http://example.com:99999/story", "Port out of range 0-65535"),
    ("http://" + "a" * 64 + ".example.com/story",
     "a host name no resolver can look up (a label empty or over 63 characters)"),
    ("http://news..example.com/story",
     "a host name no resolver can look up (a label empty or over 63 characters)"),
    ("https://example.com/" + "x" * 65_536, "longer than 65536 characters"),
])
def test_a_link_no_request_can_be_made_to_is_refused_with_its_reason(link: str,
                                                                      fault: str) -> None:
    assert url_fault(link, "https://example.com/news/") == fault
    assert web_url(link, "https://example.com/news/") is None


def test_names_a_resolver_reads_are_links() -> None:
    for link in ("https://b\u00fccher.example/story", "http://127.0.0.1:8080/a",
                 "http://[::1]/a", "https://" + "a" * 63 + ".example.com/story"):
        assert url_fault(link) is None, link


def test_a_relative_link_is_made_absolute_against_its_listing() -> None:
    assert url_fault(" story/1 ", "https://example.com/news/") is None
    assert web_url(" story/1 ", "https://example.com/news/") == "https://example.com/news/story/1"

"""Metadata and main text from small pages written for these tests."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from lxml import html as lxml_html
from selectolax.lexbor import LexborHTMLParser

from newsflow.config import Settings
from newsflow.core import extraction
from newsflow.core.clean import _parse_html, article_language, clean_document, count_words
from newsflow.core.extraction import looks_like_navigation
from newsflow.core.metadata import (
    date_from_markup,
    date_from_url,
    drop_suffix_after_headline,
    json_ld_article,
    read_metadata,
    split_authors,
    strip_site_suffix,
)
from newsflow.core.params import CleanLimits
from newsflow.core.pipeline import Origin, taggable
from newsflow.pipeline_setup import build_pipeline

pytestmark = pytest.mark.clock

URL = "https://news.example.com/world/2024/03/07/harbour-reopens"
PARAGRAPHS = [
    "The harbour reopened on Thursday after a week of repairs to the storm-damaged sea wall, "
    "port officials said, and the first ferries left for the islands before noon.",
    "Engineers had worked through the night to finish the last section of the wall, which "
    "collapsed during the gales that swept the coast at the end of February.",
    "Fishermen, who lost a week of income, said they would ask the council for compensation "
    "at its next meeting, while shop owners welcomed the return of day visitors.",
    "The council said a review of the coastal defences would be published in the summer, with "
    "proposals to raise the wall by half a metre along its whole length.",
]


def article_page(head: str = "", before: str = "", after: str = "", lang: str = "en") -> str:
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">{head}</head><body>'
            '<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>'
            f"<article>{before}{body}{after}</article>"
            "<footer>© 2024 Example News. All rights reserved.</footer></body></html>")


def tree(page: str) -> lxml_html.HtmlElement:
    """The lxml tree trafilatura and htmldate read."""
    return lxml_html.fromstring(page)


def parsed(page: str) -> LexborHTMLParser:
    """The Lexbor tree the metadata is read from."""
    return LexborHTMLParser(page)


OG_HEAD = (
    '<title>Harbour reopens after storm repairs | Example News</title>'
    '<meta property="og:title" content="Harbour reopens after storm repairs">'
    '<meta property="og:site_name" content="Example News">'
    '<meta property="og:url" content="https://news.example.com/harbour-reopens">'
    '<meta property="article:published_time" content="2024-03-07T09:30:00+00:00">'
    '<meta name="author" content="By Jane Doe and John Smith">'
    '<link rel="canonical" href="/world/harbour-reopens">'
)


def test_open_graph_and_meta_tags() -> None:
    meta = read_metadata(parsed(article_page(OG_HEAD)), URL)
    assert meta.title == "Harbour reopens after storm repairs"
    assert meta.site_name == "Example News"
    assert meta.published_at == "2024-03-07T09:30:00Z"
    assert meta.authors == ["Jane Doe", "John Smith"]
    # rel=canonical wins over og:url, and a relative href is made absolute.
    assert meta.canonical_url == "https://news.example.com/world/harbour-reopens"
    assert meta.language == "en"


def test_json_ld_article_in_a_graph() -> None:
    ld = {"@context": "https://schema.org", "@graph": [
        {"@type": "WebSite", "name": "Site"},
        {"@type": ["NewsArticle"], "headline": "Harbour reopens",
         "datePublished": "2024-03-07T10:00:00Z",
         "author": [{"@type": "Person", "name": "Jane Doe"}, {"name": "Ali Khan"}],
         "publisher": {"@type": "Organization", "name": "Coast Times"}},
    ]}
    head = f'<script type="application/ld+json">{json.dumps(ld)}</script>'
    meta = read_metadata(parsed(article_page(head)), None)
    assert meta.title == "Harbour reopens"
    assert meta.published_at == "2024-03-07T10:00:00Z"
    assert meta.authors == ["Jane Doe", "Ali Khan"]
    assert meta.site_name == "Coast Times"
    assert meta.canonical_url is None


def test_odd_json_ld_and_links_are_read_without_failing_the_page() -> None:
    ld = {"@type": "NewsArticle", "headline": ["Harbour quay reopens", "after storm repairs"]}
    head = (f'<script type="application/ld+json">{json.dumps(ld)}</script>'
            '<meta property="og:url" content="https://[SITE_URL]/harbour">')  # a placeholder
    meta = read_metadata(parsed(article_page(head)), "http://x.example:99999/a")
    assert meta.title == "Harbour quay reopens"  # the first line, not a Python list's repr
    assert meta.canonical_url is None  # no link rather than a page lost


@pytest.mark.parametrize("depth", [50, 400, 950])
def test_deeply_nested_json_ld_does_not_exhaust_the_stack(depth: int) -> None:
    # Written out by hand: json.dumps itself recurses. Authors nested in names, articles in
    # lists of lists: deeper than any real page's, followed only so far.
    author = '{"name": ' * depth + '"Jane Doe"' + "}" * depth
    article = '{"@type": "NewsArticle", "headline": "Quay", "author": ' + author + "}"
    for document in (article, "[" * depth + article + "]" * depth):
        head = f'<script type="application/ld+json">{document}</script>'
        meta = read_metadata(parsed(article_page(head)), None)
        assert meta.authors == []


def test_broken_json_ld_is_ignored() -> None:
    head = '<script type="application/ld+json">{"@type": "NewsArticle", </script>'
    assert json_ld_article(parsed(article_page(head))) == {}


def test_title_falls_back_to_html_title_and_date_to_url() -> None:
    head = "<title>Harbour reopens - Example News</title>"
    meta = read_metadata(parsed(article_page(head)), URL)
    assert meta.title == "Harbour reopens - Example News"  # no site name known: kept whole
    assert meta.published_at == "2024-03-07T00:00:00Z"  # a bare date: midnight UTC


def test_an_svg_icon_title_is_not_the_page_title() -> None:
    icon = '<button><svg viewBox="0 0 8 8"><title>Close</title><path d="M0 0"/></svg></button>'
    assert read_metadata(parsed(article_page(before=icon)), URL).title is None
    head = "<title>Harbour reopens</title>"
    assert read_metadata(parsed(article_page(head, before=icon)), URL).title == "Harbour reopens"


def test_date_from_time_element_and_rel_author() -> None:
    before = ('<p class="byline">By <a rel="author" href="/p/jd">Jane Doe</a> '
              '<time datetime="2024-03-06T18:00:00Z">6 March</time></p>')
    meta = read_metadata(parsed(article_page(before=before)), "https://example.com/a")
    assert meta.published_at == "2024-03-06T18:00:00Z"
    assert meta.authors == ["Jane Doe"]


def test_og_url_when_no_canonical_link_and_language_subtag() -> None:
    head = '<meta property="og:url" content="https://news.example.com/x?utm_source=a">'
    meta = read_metadata(parsed(article_page(head, lang="pt-BR")), URL)
    assert meta.canonical_url == "https://news.example.com/x?utm_source=a"
    assert meta.language == "pt"


@pytest.mark.parametrize(("value", "names"), [
    ("By Jane Doe, John Smith & Ali Khan", ["Jane Doe", "John Smith", "Ali Khan"]),
    ("https://www.facebook.com/janedoe", []),
    ("Jane Doe; @janedoe", ["Jane Doe"]),
    ("By: Jane Doe", ["Jane Doe"]),
    ("Written by Jane Doe", ["Jane Doe"]),
    ("Jane Doe (jane@example.com)", ["Jane Doe"]),  # the name used to go with the address
    ("Jane Doe <jane@example.com>", ["Jane Doe"]),
    # A profile link split at its query's "&" made "fref=ts" an author.
    ("https://www.facebook.com/profile.php?id=1&fref=ts", []),
    ("//news.example.com/staff/jane-doe/", []),
    ("Jane Doe - http://janedoe.example", ["Jane Doe"]),
    ("Harbour Radio (www.harbour.example)", ["Harbour Radio"]),
    # Credentials and a firm's legal form after a comma were authors of their own.
    ("Jane Doe, MS, RDN", ["Jane Doe"]),
    ("Harbour Polls, Inc.", ["Harbour Polls"]),
    ("By Jane Doe For The Daily Planet", ["Jane Doe"]),
    ("Institute for Harbour Studies", ["Institute for Harbour Studies"]),
    ("Doe, Jane", ["Doe", "Jane"]),  # two names in a plain byline; see the scholarly keys
])
def test_split_authors(value: str, names: list[str]) -> None:
    assert split_authors(value) == names


@pytest.mark.parametrize(("value", "names"), [
    ("By TOM KRISHER, AP Auto Writer", ["TOM KRISHER"]),
    ("Genevieve Carlton, Ph.D.", ["Genevieve Carlton"]),
    ("By Glen Owen And Brendan Carlin For The Mail On Sunday", ["Glen Owen", "Brendan Carlin"]),
    ("Amy Kuperinsky | NJ Advance Media for NJ.com", ["Amy Kuperinsky"]),
    ("Morgan & Morgan", ["Morgan & Morgan"]),
])
def test_a_credit_is_split_at_and_only_and_loses_its_affiliation(value: str,
                                                                 names: list[str]) -> None:
    assert split_authors(value, one_credit=True) == names


def test_meta_authors_skip_a_link_and_read_scholarly_names_surname_first() -> None:
    # The first article:author, a profile's URL, hid the byline after it; and only the first
    # citation_author was read, split at its comma into two authors ("Doe", "Jane").
    head = ('<meta property="article:author" content="https://news.example.com/search?a=1&b=2">'
            '<meta property="article:author" content="By Jane Doe">')
    assert read_metadata(parsed(article_page(head)), URL).authors == ["Jane Doe"]
    head = ('<meta name="citation_author" content="Doe, Jane A.">'
            '<meta name="citation_author" content="Roe, John">'
            '<meta name="citation_author" content="Harbour Survey Team">')
    assert read_metadata(parsed(article_page(head)), URL).authors == [
        "Jane A. Doe", "John Roe", "Harbour Survey Team"]
    # A plain byline key keeps its first tag: a related story's author further down the page
    # (itemprop="author" in its card) is not this article's.
    head = ('<meta name="author" content="Jane Doe">')
    after = '<div><meta itemprop="author" content="Ali Khan"></div>'
    assert read_metadata(parsed(article_page(head, after=after)), URL).authors == ["Jane Doe"]


def _ld(data: object, media: str = "application/ld+json") -> str:
    return f'<script type="{media}">{json.dumps(data)}</script>'


def test_json_ld_authors_are_read_as_bylines() -> None:
    # They were taken as they stood: "By ...", e-mail addresses, True.
    head = _ld({"@type": "NewsArticle", "author": [
        "By Jane Doe and John Roe", "desk@example.com", True,
        {"@type": "Person", "name": "Se&aacute;n O&#039;Brien"}]})
    assert read_metadata(parsed(article_page(head)), URL).authors == [
        "Jane Doe", "John Roe", "Se\u00e1n O'Brien"]


def test_json_ld_text_loses_entities_and_lone_surrogates() -> None:
    # A headline cut at a UTF-16 length ends in half a pair: UTF-8 cannot hold it, and the
    # article was dead-lettered when its record was written.
    head = ('<script type="application/ld+json">{"@type": "NewsArticle", "headline": '
            '"Q&amp;A: harbour reopens \\ud83d", "publisher": {"name": "Daily &amp; Planet"}}'
            "</script>")
    meta = read_metadata(parsed(article_page(head)), URL)
    assert (meta.title, meta.site_name) == ("Q&A: harbour reopens", "Daily & Planet")
    doc = clean_document(article_page(head), "text/html", URL)
    doc.title.encode("utf-8")  # no UnicodeEncodeError


@pytest.mark.parametrize("block", [
    # A raw line break inside a string: strict JSON refuses it, and the block was lost.
    '<script type="application/ld+json">{"@type": "NewsArticle", "description": "Line one.\n'
    'Line two.", "author": {"@type": "Person", "name": "Jane Doe"}}</script>',
    _ld({"@type": "NewsArticle", "author": {"name": "Jane Doe"}},
        "application/ld+json; charset=utf-8"),
    '<script type="application/ld+json"><!-- {"@type": "NewsArticle", "author": "Jane Doe"} -->'
    "</script>",
])
def test_json_ld_as_templates_write_it_is_read(block: str) -> None:
    assert read_metadata(parsed(article_page(block)), URL).authors == ["Jane Doe"]


@pytest.mark.parametrize("href", [
    "{{canonical_url}}", "https://news.example.com/%7B%7Burl%7D%7D", "/", "https://news.example.com",
    "http://",
])
def test_a_canonical_link_that_cannot_name_the_article_is_not_taken(href: str) -> None:
    # Two articles with the same placeholder or the front page as canonical were one story
    # to dedupe, and the second was dropped as a duplicate.
    head = f'<link rel="canonical" href="{href}">'
    assert read_metadata(parsed(article_page(head)), URL).canonical_url is None
    og = f'{head}<meta property="og:url" content="{URL}">'
    assert read_metadata(parsed(article_page(og)), URL).canonical_url == URL


def test_the_front_page_may_be_its_own_canonical() -> None:
    page = article_page('<link rel="canonical" href="/">')
    assert read_metadata(parsed(page), "https://news.example.com/").canonical_url == (
        "https://news.example.com/")


@pytest.mark.parametrize(("declared", "code"), [
    ("eng", "en"), ("fra", "fr"), ("ger", "de"), ("EN-gb", "en"), ("und", None), ("zxx", None),
])
def test_a_declared_language_is_an_iso_639_1_code(declared: str, code: str | None) -> None:
    # "eng" stood as it was, and an English page declared so was never tagged.
    assert read_metadata(parsed(article_page(lang=declared)), URL).language == code


def test_a_date_after_tomorrow_gives_way_to_the_next_candidate() -> None:
    head = (_ld({"@type": "NewsArticle", "datePublished": "2099-12-31"})
            + '<meta property="article:published_time" content="2024-03-07T09:30:00Z">')
    meta = read_metadata(parsed(article_page(head)), URL, today=date(2024, 3, 8))
    assert meta.published_at == "2024-03-07T09:30:00Z"  # was htmldate's midnight
    assert read_metadata(parsed(article_page(head)), URL).published_at == "2099-12-31T00:00:00Z"


def test_strip_site_suffix_only_strips_the_site() -> None:
    assert strip_site_suffix("Talks resume | Example News", "Example News") == "Talks resume"
    assert strip_site_suffix("Iran - US talks resume", "Example News") == "Iran - US talks resume"


def test_placeholder_date_falls_through_to_the_next_source() -> None:
    head = ('<meta property="article:published_time" content="0001-01-01T00:00:00Z">'
            '<meta name="pubdate" content="2024-03-05">')
    assert read_metadata(parsed(article_page(head)), URL).published_at == "2024-03-05T00:00:00Z"


def test_title_suffix_dropped_when_h1_is_the_headline() -> None:
    assert drop_suffix_after_headline("Spiced pear jam - The Kitchen", "Spiced pear jam") == (
        "Spiced pear jam")
    assert drop_suffix_after_headline("Pear jam recipes", "Pear jam") == "Pear jam recipes"
    page = article_page("<title>Harbour reopens – Coast Blog</title>",
                        before="<h1>Harbour reopens</h1>")
    assert read_metadata(parsed(page), URL).title == "Harbour reopens"


@pytest.mark.parametrize(("url", "date"), [
    ("https://a.example/2019/11/18/story/", "2019-11-18"),
    ("https://a.example/news/2019-1-8-story", "2019-01-08"),
    ("https://a.example/news/story-14848175.php", None),
])
def test_date_from_url(url: str, date: str | None) -> None:
    assert date_from_url(url) == date


def test_clean_document_on_a_page() -> None:
    before = ("<h1>Harbour reopens after storm repairs</h1><p>By Jane Doe</p>"
              "<p>Advertisement</p>")
    after = "<p>Sign up for our daily newsletter</p><p>Photo: Example News/Jo Bloggs</p>"
    doc = clean_document(article_page(OG_HEAD, before, after), "text/html; charset=utf-8", URL)
    assert doc.title == "Harbour reopens after storm repairs"
    assert doc.text == "\n\n".join(PARAGRAPHS)  # headline, byline and junk gone; paragraphs kept
    assert doc.authors == ["Jane Doe", "John Smith"]
    assert doc.published_at == "2024-03-07T09:30:00Z"
    assert doc.canonical_url == "https://news.example.com/world/harbour-reopens"
    assert doc.site_name == "Example News"
    assert doc.language == "en"
    assert doc.word_count == sum(len(p.split()) for p in PARAGRAPHS)
    assert doc.empty_reason is None


def test_detected_language_wins_over_a_wrong_declaration() -> None:
    german = ("Der Hafen wurde am Donnerstag nach einer Woche Reparaturarbeiten an der "
              "beschädigten Ufermauer wieder geöffnet, teilten die Behörden mit. Die ersten "
              "Fähren legten noch vor Mittag zu den Inseln ab, und die Fischer kehrten zurück.")
    page = (f'<html lang="en"><head><title>Hafen</title></head><body><article><p>{german}</p>'
            f"<p>{german}</p></article></body></html>")
    assert clean_document(page, "text/html").language == "de"


def test_title_hint_used_only_when_page_has_no_title() -> None:
    paragraphs = f"<p>{PARAGRAPHS[0]}</p><p>{PARAGRAPHS[1]}</p>"
    page = f"<html><body><article>{paragraphs}</article></body></html>"
    assert clean_document(page, "text/html", title_hint="From the feed").title == "From the feed"
    titled = page.replace("<body>", "<head><title>Page title</title></head><body>")
    assert clean_document(titled, "text/html", title_hint="From the feed").title == "Page title"


def test_navigation_detector() -> None:
    menu = "\n".join(["Home", "World", "Sport news", "Weather"] * 10)
    assert looks_like_navigation(menu)
    assert not looks_like_navigation("\n".join(PARAGRAPHS * 10))


# --- which extraction wins --------------------------------------------------------------------

Calls = list[str]


def _fake_runs(monkeypatch: pytest.MonkeyPatch, precise: str, balanced: str, full: str,
               estimate: str) -> Calls:
    calls: Calls = []

    def run(tree: object, url: str | None, *, fast: bool = True, precision: bool = False) -> str:
        calls.append("precision" if precision else "balanced" if fast else "full")
        return precise if precision else balanced if fast else full

    def main_content(html: str) -> str:
        calls.append("estimate")
        return estimate

    monkeypatch.setattr(extraction, "_run", run)
    monkeypatch.setattr(extraction, "main_content_estimate", main_content)
    return calls


LONG = "A full paragraph of article text that goes on for a while, sentence after sentence. " * 20
MENU = "\n".join(["Home", "World news", "Sport", "Contact us"] * 10)
TEASER = "Read our other story about the harbour, a teaser for a different article."
SHORT_LINES = "\n".join(["Play episode", "Subscribe on your app", "Share this"] * 60)
FAST = ["precision", "balanced"]


@pytest.mark.parametrize(("precise", "balanced", "full", "estimate", "winner", "calls"), [
    # a long precise text stands: one run, no second opinion
    (LONG, "unused", "unused", "unused", "precision", ["precision"]),
    # precision kept a scrap of what balanced found
    ("Caption only.", LONG, "unused", "unused", "balanced", FAST),
    # a short page: precision kept most of balanced's text, and the estimate is no longer
    (LONG[:500], LONG[:600], "unused", LONG[:700], "precision", [*FAST, "estimate"]),
    # the fast output is a menu, or empty: the full cascade
    ("", MENU, LONG, "unused", "full", [*FAST, "full"]),
    ("", "", LONG, "unused", "full", [*FAST, "full"]),
    # a scrap where the page holds much more: the full cascade finds the article
    (TEASER, TEASER, LONG, LONG, "full", [*FAST, "estimate", "full"]),
    # ... and when the full cascade finds the same scrap, the estimate (it reads as prose) wins
    (TEASER, TEASER, TEASER, LONG, "main_content", [*FAST, "estimate", "full"]),
    # ... but not when the estimate is itself a heap of short lines
    (TEASER, TEASER, TEASER, SHORT_LINES, "precision", [*FAST, "estimate", "full"]),
    # a short page is just short: the estimate is not much longer, nothing else runs
    (TEASER, TEASER, "unused", TEASER + " And one more line.", "precision", [*FAST, "estimate"]),
])
def test_extraction_choice(monkeypatch: pytest.MonkeyPatch, precise: str, balanced: str,
                           full: str, estimate: str, winner: str, calls: Calls) -> None:
    made = _fake_runs(monkeypatch, precise, balanced, full, estimate)
    page = "<html><body><p>x</p></body></html>"
    result = extraction.extract_main_text(tree(page), None, page)
    assert result.strategy == winner
    texts = {"precision": precise, "balanced": balanced, "full": full, "main_content": estimate}
    assert result.text == texts[winner]
    assert made == calls


def test_fragment_check_needs_the_page_source(monkeypatch: pytest.MonkeyPatch) -> None:
    made = _fake_runs(monkeypatch, TEASER, TEASER, LONG, LONG)
    result = extraction.extract_main_text(tree("<html><body><p>x</p></body></html>"))
    assert (result.strategy, made) == ("precision", FAST)


def test_teaser_in_page_markup_is_replaced_by_the_article() -> None:
    """End to end on a page whose article sits outside the markup trafilatura trusts."""
    story = "".join(f"<p>{p}</p>" for p in PARAGRAPHS * 3)
    page = ('<!DOCTYPE html><html lang="en"><head><title>Harbour</title></head><body>'
            f'<article><p>{TEASER}</p></article>'
            f'<div class="comments-area"><div class="story">{story}</div></div></body></html>')
    # trafilatura alone keeps only the teaser (it drops "comments" blocks) ...
    alone = extraction.extract_main_text(tree(page), URL)
    assert alone.text.strip() == TEASER
    # ... the fragment check sees the page holds far more and takes the story.
    assert extraction.extract_main_text(tree(page), URL, page).strategy in ("full", "main_content")
    doc = clean_document(page, "text/html", URL)
    assert all(paragraph in doc.text for paragraph in PARAGRAPHS)


def test_no_estimate_for_tag_soup_lxml_could_not_build(monkeypatch: pytest.MonkeyPatch) -> None:
    # thousands of unclosed nested tags: lxml stops at 256 levels, Lexbor would not
    soup = "<div><p>unclosed <b>bold <i>" * 2000 + "</table></html></body>"
    made = _fake_runs(monkeypatch, TEASER, TEASER, LONG, LONG)
    result = extraction.extract_main_text(lxml_html.fromstring(soup), None, soup)
    assert (result.strategy, made) == ("precision", FAST)


# --- metadata on the Lexbor tree, one parse when the block text stands ------------------------

def test_headline_inside_a_split_h1() -> None:
    # An HTML5 parser closes <h1> at the <h2>: the headline is the empty h1's next heading.
    page = article_page("<title>Harbour reopens - Coast Blog</title>",
                        before="<h1>\n<h2>Harbour reopens</h2></h1><h3>A standfirst</h3>")
    meta = read_metadata(parsed(page), URL)
    assert (meta.headline, meta.title) == ("Harbour reopens", "Harbour reopens")
    # ... but a heading after an h1 with text, or with a logo, stays a heading of its own.
    page = article_page(before="<h1>Harbour reopens</h1><h2>Storm repairs</h2>")
    assert read_metadata(parsed(page), URL).headline == "Harbour reopens"
    page = article_page(before='<h1><a href="/"><img src="logo.png"></a></h1><h2>Latest</h2>')
    assert read_metadata(parsed(page), URL).headline is None


STAMPED = ("<!-- generated at 2024-03-09 05:38:38 -->"
           '<p class="byline">By Jane Doe <span class="timestamp" title="2024-03-07T19:50:48Z">'
           "Published 7:50 pm, Thursday, March 7, 2024</span></p>")


def test_markup_date_is_left_to_htmldate_on_the_lxml_tree() -> None:
    page = article_page(before=STAMPED)
    assert read_metadata(parsed(page), None).published_at is None  # left to date_from_markup
    assert date_from_markup(_parse_html(page), None) == "2024-03-07T00:00:00Z"


# Distinct lines: a long line seen twice is dropped as a repeat (line rule `repeated_line`).
LONG_PARAGRAPHS = [f"{p} Update {n} of the day." for n in range(1, 4) for p in PARAGRAPHS]


def long_article(head: str, before: str = "") -> str:
    """A page whose block text stands (long and most of the page's prose)."""
    body = "".join(f"<p>{p}</p>" for p in LONG_PARAGRAPHS)
    return (f'<html lang="en"><head>{head}</head><body><nav><a href="/">Home</a></nav>'
            f"<article>{before}{body}</article></body></html>")


def test_one_parse_when_the_block_text_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    from newsflow.core import clean

    parses: list[str] = []
    parse = clean._parse_whole

    def counted(body: str) -> object:
        parses.append(body)
        return parse(body)

    monkeypatch.setattr(clean, "_parse_whole", counted)
    limits = CleanLimits(blocks_first=True)
    doc = clean_document(long_article(OG_HEAD), "text/html", URL, limits=limits)
    assert doc.text.split("\n\n") == LONG_PARAGRAPHS
    assert (doc.title, doc.published_at) == ("Harbour reopens after storm repairs",
                                             "2024-03-07T09:30:00Z")
    assert parses == []  # metadata and text from the one Lexbor tree
    # No date but in the markup: the lxml tree is parsed once, for htmldate.
    doc = clean_document(long_article("<title>Harbour</title>", STAMPED), "text/html", None,
                         limits=limits)
    assert doc.published_at == "2024-03-07T00:00:00Z"
    assert len(parses) == 1


# --- the markup date's upper bound comes from the caller, never from the clock -----------------

def stamped(day: str) -> str:
    """A page whose only date is htmldate's to find (no metadata, no <time>, no URL date)."""
    return article_page(before=f'<p class="byline">By Jane Doe <span class="timestamp" '
                               f'title="{day}T19:50:48Z">Published {day}</span></p>')


def test_markup_date_is_bounded_by_the_day_given_not_by_the_clock() -> None:
    # 2090 is after any day these tests run on: htmldate's own bound (the machine's today)
    # would drop it. Without a day given the bound is the end of dates.MAX_YEAR.
    page = _parse_html(stamped("2090-03-07"))
    assert date_from_markup(page, None) == "2090-03-07T00:00:00Z"
    assert date_from_markup(page, None, date(2090, 3, 7)) == "2090-03-07T00:00:00Z"
    assert date_from_markup(page, None, date(2090, 3, 6)) is None


def test_pipeline_bounds_the_markup_date_by_its_own_now() -> None:
    # A "now" in the past: the date in the markup, before the machine's today, is after it.
    pipeline = build_pipeline(Settings())
    raw = {"url": "https://news.example.com/harbour", "content_type": "text/html",
           "source": {"id": "t", "name": "T", "kind": "manual"},
           "body": stamped("2020-06-01")}
    now = datetime(2020, 6, 1, 12, tzinfo=UTC)
    assert pipeline.prepare(raw, Origin("t", 0, 1), now).article["published_at"] == (
        "2020-06-01T00:00:00Z")
    earlier = datetime(2020, 5, 31, 23, tzinfo=UTC)
    assert pipeline.prepare(raw, Origin("t", 0, 2), earlier).article["published_at"] is None


def test_a_metadata_date_after_tomorrow_is_dropped_for_the_markups() -> None:
    # A template's placeholder or a typo in the metadata is not the page's date; one day of
    # slack keeps pages dated ahead of UTC. The bound is the caller's day, not the clock.
    def published(meta_date: str, today: date, before: str = "") -> str | None:
        page = article_page(head=f'<meta property="article:published_time" content="{meta_date}">',
                            before=before)
        return clean_document(page, "text/html", "https://news.example.com/harbour",
                              today=today).published_at

    assert published("2099-12-31", date(2026, 11, 30)) is None
    assert published("2026-12-01T22:00:00+00:00", date(2026, 11, 30)) == "2026-12-01T22:00:00Z"
    assert published("2026-12-02T00:00:00Z", date(2026, 11, 30)) is None
    # Far past and far future relative to the wall clock alike: only ``today`` decides.
    assert published("2099-12-31", date(2099, 12, 30)) == "2099-12-31T00:00:00Z"
    # Dropped, the metadata date leaves the page's own markup date to be found.
    stamp = ('<p class="byline">By Jane Doe <span class="timestamp" '
             'title="2026-11-28T19:50:48Z">Published 2026-11-28</span></p>')
    assert published("2099-12-31", date(2026, 11, 30), before=stamp) == "2026-11-28T00:00:00Z"


def test_chinese_and_japanese_without_spaces_are_told_and_not_tagged() -> None:
    # A page of either is one space-separated "word": it was "too short to tell", read as
    # English, and tagged by the English terms among its characters (ICBM).
    japanese = "北朝鮮は日本海に向けて大陸間弾道ミサイルICBMを発射したと韓国軍が発表した。"
    chinese = "朝鲜今天向日本海发射了一枚洲际弹道导弹ICBM，韩国军方表示。"
    assert article_language("", japanese) == "ja"
    assert article_language("", chinese) == "zh"
    assert not taggable("ja") and not taggable("zh")
    assert article_language("Pyongyang fires missiles", "") is None  # still unknown: English


def test_words_of_chinese_and_japanese_are_their_characters() -> None:
    # A whole paragraph was one "word" (word_count 1): each Han or kana character counts, and
    # the Latin words among them count as words.
    assert count_words("朝鲜今天发射了导弹") == 9
    assert count_words("韩国军方表示 ICBM 已经发射") == 6 + 1 + 4
    assert count_words("北朝鮮はICBMを発射") == 3 + 1 + 1 + 1 + 2
    assert count_words("韩国军方表示，ICBM已经发射。") == 6 + 1 + 4  # punctuation is no word
    assert count_words("Seoul said on Monday") == 4
    doc = clean_document("朝鲜今天向日本海发射了一枚导弹。", "text/plain", title_hint="导弹")
    assert doc.word_count == 15


def test_a_header_h1_that_links_home_is_not_the_headline() -> None:
    # The logo's h1 was the headline: "Daily Planet | Harbour plan approved" became the
    # site's name, and the real headline a line of the text.
    head = "<title>Daily Planet | Harbour plan approved</title>"
    page = article_page(head, before="<h2>Harbour plan approved</h2>").replace(
        "<nav>", '<header><h1><a href="/">Daily Planet</a></h1></header><nav>')
    meta = read_metadata(parsed(page), URL)
    assert (meta.title, meta.headline) == ("Daily Planet | Harbour plan approved", None)
    linked = article_page(head).replace(
        "<nav>", '<h1><a href="/world/harbour-plan">Harbour plan approved</a></h1><nav>')
    assert read_metadata(parsed(linked), URL).headline == "Harbour plan approved"
    broken = article_page(head).replace("<nav>", '<h1><a href="http://[::1">Harbour</a></h1><nav>')
    assert read_metadata(parsed(broken), URL).headline == "Harbour"  # not a ValueError


@pytest.mark.parametrize(("written", "found"), [
    ("2025-03", "2025-03-01T00:00:00Z"),  # htmldate's first of the month, not today's day
    ("2025-03-04", "2025-03-04T00:00:00Z"),
    ("4 March 2025", "2025-03-04T00:00:00Z"),
])
def test_a_date_in_the_markup_does_not_take_a_part_from_the_clock(written: str,
                                                                   found: str) -> None:
    # dateutil, inside htmldate, completed "2025-03" with the day of the month it was run on:
    # the core's only read of the clock (the shifted-clock run of this test catches it).
    from dateutil.parser import parse
    from htmldate import extractors

    page = article_page(f'<meta name="date" content="{written}">')
    doc = clean_document(page, "text/html", "https://news.example.com/world/harbour-plan",
                         today=date(2026, 12, 2))
    assert doc.published_at == found
    assert extractors.__dict__["dateutil_parse"] is parse  # swapped back: trafilatura's is whole

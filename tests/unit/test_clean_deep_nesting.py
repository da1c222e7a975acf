"""Pages nested deeper than libxml2 (2,048 levels) or Python's stack (about 1,000) allow: the
article still comes out of cleaning, boilerplate removed, and nothing crashes."""

from __future__ import annotations

import pytest

from newsflow.core.clean import _parse_whole, clean_document
from newsflow.core.main_text import main_text_by_blocks
from newsflow.core.params import CleanLimits

pytestmark = pytest.mark.clock

PARAGRAPHS = [
    "The harbour authority reopened the quay on Monday after three weeks of storm repairs, "
    "officials said, and the first ferries docked by noon.",
    "Traders said the closure had cost the port about a fifth of its monthly traffic, most of "
    "it fruit and timber bound for the inland markets.",
    "Engineers will inspect the breakwater again next month, before the winter storms begin, "
    "and the council has set aside money for a second round of work.",
    "Fishing crews who had moored at a neighbouring port began returning in the afternoon, "
    "and the fish market is expected to open again on Thursday.",
]
ONE_PARAGRAPH = PARAGRAPHS[0]
MENU_WORDS = ("Weather", "Culture", "Crosswords")
HEADER = ("<header><a href='/'>Harbour Gazette</a></header><nav><ul>"
          + "".join(f"<li><a href='/{w.lower()}'>{w}</a></li>" for w in MENU_WORDS)
          + "</ul></nav>")
FOOTER = "<footer>Copyright Harbour Gazette. Terms of use.</footer>"


def nested(tag: str, depth: int, inner: str) -> str:
    return f"<{tag}>" * depth + inner + f"</{tag}>" * depth


def simple_page(tag: str, depth: int) -> str:
    return f"<html><body>{nested(tag, depth, f'<p>{ONE_PARAGRAPH}</p>')}</body></html>"


def article_page(depth: int) -> str:
    story = ("<article><h1>Harbour quay reopens</h1>"
             + "".join(f"<p>{p}</p>" for p in PARAGRAPHS) + "</article>")
    return ("<!DOCTYPE html><html><head><title>Harbour quay reopens</title></head><body>"
            f"{HEADER}{nested('div', depth, story)}{FOOTER}</body></html>")


def test_libxml2_cuts_such_a_page_so_the_lexbor_tree_must_be_read() -> None:
    # What the fix works around: even with its huge option, lxml's tree ends at 2,048 levels.
    assert _parse_whole(simple_page("div", 1_000))[1]
    tree, whole = _parse_whole(simple_page("div", 3_000))
    assert tree is not None and not whole
    assert ONE_PARAGRAPH[:40] not in tree.text_content()


@pytest.mark.parametrize("blocks_first", [True, False])
@pytest.mark.parametrize("tag", ["div", "span", "b", "section"])
def test_a_paragraph_below_3000_levels_is_the_article(tag: str, blocks_first: bool) -> None:
    doc = clean_document(simple_page(tag, 3_000), "text/html",
                         limits=CleanLimits(blocks_first=blocks_first))
    assert doc.text == ONE_PARAGRAPH
    assert doc.empty_reason is None


@pytest.mark.parametrize("blocks_first", [True, False])
@pytest.mark.parametrize("depth", [1_500, 3_000])
def test_a_deeply_nested_article_loses_its_menu_header_and_footer(depth: int,
                                                                  blocks_first: bool) -> None:
    doc = clean_document(article_page(depth), "text/html", "https://news.example.org/quay",
                         limits=CleanLimits(blocks_first=blocks_first))
    assert doc.text.split("\n\n") == PARAGRAPHS
    assert doc.title == "Harbour quay reopens"
    assert not any(word in doc.text for word in (*MENU_WORDS, "Harbour Gazette", "Terms"))


def test_the_block_scorer_reads_a_tree_deeper_than_pythons_stack() -> None:
    story = "".join(f"<p>{p}</p>" for p in PARAGRAPHS * 2)  # long enough to be confident
    result = main_text_by_blocks(f"<html><body>{HEADER}{nested('div', 5_000, story)}</body></html>")
    assert result.confident
    assert result.text.split("\n") == PARAGRAPHS * 2


def test_100000_levels_give_the_article_not_a_crash() -> None:
    # Inline elements nest at no extra cost to the parser; 100,000 block elements make Lexbor's
    # parse itself take seconds (the time budget of processor/prepare_pool.py stops that).
    story = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    body = nested("span", 100_000, story)
    doc = clean_document(f"<html><body>{HEADER}{body}{FOOTER}</body></html>", "text/html")
    assert doc.text.split("\n\n") == PARAGRAPHS

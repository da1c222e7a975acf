"""The remembered tree walks (``AncestorTest``, ``SubtreeText``) answer exactly as the one-off
walks they replace, on nested, mixed markup; and the article count that ``_widen`` asks for is
capped without changing its answer. Their point, time linear in the nesting depth on pages
nested thousands deep, is measured by benchmarks/deep_nesting.py, not timed here."""

from __future__ import annotations

import pytest
from selectolax.lexbor import LexborHTMLParser, LexborNode

from newsflow.core.lexbor_tree import AncestorTest, SubtreeText
from newsflow.core.main_text import _article_counts

MIXED = """<html><body><div id="outer"> lead words <!-- a comment that is not text -->
<p>A paragraph with <a href="/one"> a link </a> and <b>bold <a href="/two">nested link</a></b>.</p>
<ul><li><a href="/three"><span>linked <i>deep</i> words</span></a></li><li>plain item</li></ul>
<script>var hidden = "script text counts as text";</script><style>p { color: red }</style>
<template><p>template content is not in the tree</p></template><noscript>noscript words</noscript>
<div><span><span><a href="/four"><div>block in a link</div></a> tail</span></span></div>
<svg><title>Close</title></svg><a href="/five"><svg><title>Icon</title></svg></a>
</div></body></html>"""


def has_ancestor(node: LexborNode, tag: str) -> bool:
    """The plain walk up from ``node``, one per question: the reference."""
    parent = node.parent
    while parent is not None:
        if parent.tag == tag:
            return True
        parent = parent.parent
    return False


def _elements(page: str | LexborHTMLParser) -> list[LexborNode]:
    parser = LexborHTMLParser(page) if isinstance(page, str) else page
    assert parser.body is not None
    return [node for node in parser.body.traverse() if node.tag not in ("-text", "-comment")]


def _nested_teasers(depth: int) -> str:
    inner = "<div class='teaser'>" * depth + "<p>words</p>" + "</div>" * depth
    return f"<html><body><a href='/x'>{inner}</a>{inner}</body></html>"


@pytest.mark.parametrize("page", [MIXED, _nested_teasers(50)])
@pytest.mark.parametrize("tag", ["a", "svg", "div"])
def test_ancestor_test_agrees_with_the_plain_walk_on_every_element(page: str, tag: str) -> None:
    elements = _elements(page)
    test = AncestorTest(tag)
    answers = [test(node) for node in elements]
    assert answers == [has_ancestor(node, tag) for node in elements]
    # asked again, deepest first, the remembered answers are still right
    assert [test(node) for node in reversed(elements)] == answers[::-1]
    if page is MIXED or tag != "svg":
        assert any(answers) and not all(answers)


def test_ancestor_test_remembers_the_elements_it_walked_through() -> None:
    elements = _elements(_nested_teasers(200))
    test = AncestorTest("a")
    deepest = max(elements, key=lambda node: len(list(_ancestors(node))))
    test(deepest)
    walked = len(test.known)
    assert walked >= 200
    # every ancestor's answer is known now: another question adds nothing
    assert deepest.parent is not None
    test(deepest.parent)
    assert len(test.known) == walked


def _ancestors(node: LexborNode) -> list[LexborNode]:
    found = []
    while node.parent is not None:
        node = node.parent
        found.append(node)
    return found


@pytest.mark.parametrize("page", [MIXED, _nested_teasers(30)])
def test_subtree_text_agrees_with_selectolax_on_every_element(page: str) -> None:
    elements = _elements(page)
    sizes = SubtreeText()
    for node in reversed(elements):  # children first, then parents from what is remembered
        text = len(node.text(deep=True, strip=True))
        links = sum(len(a.text(deep=True, strip=True)) for a in node.css("a")
                    if a.mem_id != node.mem_id)
        assert sizes(node) == (text, links), node.html
    assert sizes(elements[0])[1] > 0


def test_subtree_text_of_an_outer_element_first_fills_in_the_inner_ones() -> None:
    elements = _elements(MIXED)
    sizes = SubtreeText()
    sizes(elements[0])
    assert len(sizes.sizes) >= len(elements)


@pytest.mark.parametrize("depth", [1, 2, 3, 40])
def test_article_counts_are_capped_at_two_and_right_below_it(depth: int) -> None:
    page = ("<html><body><main><section>" + "<article><p>words</p>" * depth
            + "</article>" * depth + "</section><article><p>one alone</p></article>"
            "</main></body></html>")
    parser = LexborHTMLParser(page)
    articles = parser.css("article")
    counts = _article_counts(articles[-1])
    for node in _elements(parser):
        true = len([a for a in node.css("article") if a.mem_id != node.mem_id])
        assert counts.get(node.mem_id, 0) == min(true, 2)

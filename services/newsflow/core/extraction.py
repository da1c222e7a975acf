"""Main text of an HTML page: trafilatura in the mode that measured best, with guarded fallbacks.

Measured on the 181-page article-extraction benchmark (see docs/cleaning.md):

* trafilatura's *precision* focus drops most teaser lists, decks and share bars, but on a few
  pages it keeps only a scrap (a caption, a date line). When its text is short we also run the
  *balanced* focus and keep precision's text only if it holds at least ``MIN_PRECISION_SHARE`` of
  balanced's; otherwise balanced wins.
* Both run with ``fast=True`` (no readability/justext comparison): that halves the cost and is
  more accurate on average. The one failure of fast mode is a page whose "text" is really its
  navigation (hundreds of one-word lines); only then the full cascade with fallbacks runs.

The parsed tree is shared: trafilatura copies a tree it is given, so parsing happens once and
the metadata reader sees the untouched page.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml.html import HtmlElement

# Precision text shorter than this (characters) is suspicious enough to run balanced as well.
SHORT_TEXT_CHARS = 600
# Keep precision's text when it is at least this share of balanced's (lower: it lost content).
MIN_PRECISION_SHARE = 0.6
# "Navigation, not an article": many lines, most of them under NAV_LINE_WORDS words.
NAV_MIN_LINES = 20
NAV_LINE_WORDS = 4
NAV_SHORT_SHARE = 0.6
# The full cascade costs ~5x a fast run and grows steeply with page size (16 s on a page of
# 100,000 links); benchmark pages have under 1,600 elements. Above this, fast output stands.
FULL_MAX_ELEMENTS = 10_000


@dataclass(frozen=True, slots=True)
class Extracted:
    text: str
    strategy: str  # which extraction won: "precision", "balanced" or "full"


def _run(tree: HtmlElement, url: str | None, *, fast: bool = True, precision: bool = False) -> str:
    import trafilatura

    doc = trafilatura.bare_extraction(
        tree, url=url, include_comments=False, with_metadata=False, fast=fast,
        favor_precision=precision,
    )
    return str(getattr(doc, "text", None) or "")


def _size(tree: HtmlElement) -> int:
    return sum(1 for _ in tree.iter())


def looks_like_navigation(text: str) -> bool:
    """True for menu-like output: many lines, most of them only a word or three."""
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) < NAV_MIN_LINES:
        return False
    short = sum(1 for line in lines if len(line.split()) < NAV_LINE_WORDS)
    return short / len(lines) > NAV_SHORT_SHARE


def extract_main_text(tree: HtmlElement, url: str | None = None) -> Extracted:
    """The page's article text, one paragraph per line."""
    precise = _run(tree, url, precision=True)
    if len(precise) >= SHORT_TEXT_CHARS:
        return Extracted(precise, "precision")
    balanced = _run(tree, url)
    if (not balanced or looks_like_navigation(balanced)) and _size(tree) <= FULL_MAX_ELEMENTS:
        full = _run(tree, url, fast=False)
        if full and not looks_like_navigation(full):
            return Extracted(full, "full")
    if len(precise) >= MIN_PRECISION_SHARE * len(balanced):
        return Extracted(precise, "precision")
    return Extracted(balanced, "balanced")

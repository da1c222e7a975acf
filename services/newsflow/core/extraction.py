"""Main text of an HTML page: trafilatura's fast precision run, with guarded fallbacks.

* trafilatura's *precision* focus with ``fast=True`` (no readability/justext comparison) drops
  most teaser lists, decks and share bars. When its text is short we also run the *balanced*
  focus and keep precision's text only if it holds at least ``MIN_PRECISION_SHARE`` of
  balanced's; otherwise balanced wins. (Set on the 181-page Zyte set, before the tune/report
  split existed; see docs/cleaning.md.)
* When the balanced output looks like a navigation menu (many one-to-three-word lines) or is
  empty, the full trafilatura cascade with its fallbacks runs instead.
* **Fragment check** (set on the tune part of four datasets, ``benchmarks/extraction.py``). A
  fast run sometimes keeps a scrap of the page: a teaser for another story, a standfirst, a
  player's links. When the kept text is short (under ``FRAGMENT_MAX_CHARS``) we estimate the
  page's main content with Resiliparse (Lexbor parser, 1-3 ms). If the kept text is under
  ``FRAGMENT_SHARE`` of that estimate, the full cascade runs and wins when it finds at least
  half the estimate; failing that, and only for a very short kept text, the estimate itself
  wins when it reads as prose (most of it in lines of a dozen words or more).

**Block-scoring fast path** (``CleanLimits.blocks_first``, ``NEWSFLOW_CLEAN_BLOCKS_FIRST``,
on by default in the stream; this function's own ``blocks_first`` defaults to off).
``core.main_text`` scores blocks on a Lexbor tree at about a seventh of trafilatura's CPU;
when its text looks whole it is the result (strategy ``"blocks"``), otherwise the trafilatura
path below runs. On the tune pages it is at least level with that path on all four datasets
(docs/cleaning.md).

The parsed lxml tree is shared: trafilatura copies a tree it is given, so parsing happens once
and htmldate's date scan (``metadata.date_from_markup``) sees the untouched page. Resiliparse
parses the raw HTML itself, and only on the pages that reach the fragment check.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml.html import HtmlElement

# Try core.main_text's block scoring first (see the module docstring). A module switch, read at
# call time, so the benchmark can compare both paths through the same clean_document.
# Precision text shorter than this (characters) is suspicious enough to run balanced as well.
SHORT_TEXT_CHARS = 600
# Keep precision's choice when it is at least this share of balanced's (lower: it lost content).
MIN_PRECISION_SHARE = 0.6
# "Navigation, not an article": many lines, most of them under NAV_LINE_WORDS words.
NAV_MIN_LINES = 20
NAV_LINE_WORDS = 4
NAV_SHORT_SHARE = 0.6
# The full cascade costs ~5x a fast run and grows steeply with page size (16 s on a page of
# 100,000 links); benchmark pages have under 1,600 elements. Above this, fast output stands.
FULL_MAX_ELEMENTS = 10_000
# Fragment check: a kept text shorter than FRAGMENT_MAX_CHARS and than FRAGMENT_SHARE of the
# page's main-content estimate (itself at least ESTIMATE_MIN_CHARS) is suspected to be a scrap.
FRAGMENT_MAX_CHARS = 1200
FRAGMENT_SHARE = 0.33
ESTIMATE_MIN_CHARS = 1500
# The full cascade replaces a scrap when it is this much longer and covers this share of the
# estimate.
FULL_GROWTH = 1.5
FULL_ESTIMATE_SHARE = 0.5
# The estimate itself replaces a kept text under SCRAP_MAX_CHARS when at least PROSE_SHARE of
# its characters are in lines of PROSE_LINE_WORDS words or more.
SCRAP_MAX_CHARS = 600
# No estimate for tag soup that lxml could not build (libxml2 stops at 256 levels of nesting):
# Lexbor builds the whole depth and its main-content pass then takes seconds. Markup with more
# than this many "<" per element of the lxml tree (plus a margin) is skipped.
SOUP_TAGS_PER_ELEMENT = 6
SOUP_MARGIN_TAGS = 1000
PROSE_SHARE = 0.6
PROSE_LINE_WORDS = 12


@dataclass(frozen=True, slots=True)
class Extracted:
    text: str
    # which extraction won: "blocks", "precision", "balanced", "full" or "main_content"
    strategy: str


def _run(tree: HtmlElement, url: str | None, *, fast: bool = True, precision: bool = False) -> str:
    import trafilatura

    doc = trafilatura.bare_extraction(
        tree, url=url, include_comments=False, with_metadata=False, fast=fast,
        favor_precision=precision,
    )
    return str(getattr(doc, "text", None) or "")


def main_content_estimate(html: str) -> str:
    """Resiliparse's main-content text of the page: a cheap, recall-heavy second opinion."""
    from resiliparse.extract.html2text import extract_plain_text

    try:
        return str(extract_plain_text(html, main_content=True))
    except (ValueError, TypeError):
        return ""


def _size(tree: HtmlElement) -> int:
    return sum(1 for _ in tree.iter())


def looks_like_navigation(text: str) -> bool:
    """True for menu-like output: many lines, most of them only a word or three."""
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) < NAV_MIN_LINES:
        return False
    short = sum(1 for line in lines if len(line.split()) < NAV_LINE_WORDS)
    return short / len(lines) > NAV_SHORT_SHARE


def prose_share(text: str) -> float:
    """Share of the characters that sit in lines of PROSE_LINE_WORDS words or more."""
    lines = [line for line in text.split("\n") if line.strip()]
    prose = sum(len(line) for line in lines if len(line.split()) >= PROSE_LINE_WORDS)
    return prose / len(text) if text else 0.0


def _is_soup(html: str, elements: int) -> bool:
    return html.count("<") > SOUP_TAGS_PER_ELEMENT * elements + SOUP_MARGIN_TAGS


def extract_main_text(tree: HtmlElement, url: str | None = None,
                      html: str | None = None, blocks_first: bool = False) -> Extracted:
    """The page's article text, one paragraph per line.

    ``html`` is the page's source, for the fragment check and the block-scoring fast path;
    without it both are skipped.
    """
    if blocks_first and html is not None:
        from newsflow.core.main_text import main_text_by_blocks

        blocks = main_text_by_blocks(html)
        if blocks.confident:
            return Extracted(blocks.text, "blocks")
    elements = _size(tree)  # counted once: the full cascade's bound and the soup check
    small = elements <= FULL_MAX_ELEMENTS
    full: str | None = None
    result = Extracted(_run(tree, url, precision=True), "precision")
    if len(result.text) < SHORT_TEXT_CHARS:
        precise = result.text
        balanced = _run(tree, url)
        if (not balanced or looks_like_navigation(balanced)) and small:
            full = _run(tree, url, fast=False)
        if full and not looks_like_navigation(full):
            result = Extracted(full, "full")
        elif len(precise) < MIN_PRECISION_SHARE * len(balanced):
            result = Extracted(balanced, "balanced")
    kept = len(result.text)
    if html is None or kept >= FRAGMENT_MAX_CHARS or _is_soup(html, elements):
        return result
    estimate = main_content_estimate(html)
    if len(estimate) < ESTIMATE_MIN_CHARS or kept >= FRAGMENT_SHARE * len(estimate):
        return result
    if full is None and small:
        full = _run(tree, url, fast=False)
    if (full and len(full) >= max(FULL_GROWTH * kept, FULL_ESTIMATE_SHARE * len(estimate))
            and not looks_like_navigation(full)):
        return Extracted(full, "full")
    if kept < SCRAP_MAX_CHARS and prose_share(estimate) >= PROSE_SHARE:
        return Extracted(estimate, "main_content")
    return result

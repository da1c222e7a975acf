"""Main text of a page by block scoring on a Lexbor tree: the fast path, tried before trafilatura.

One parse with Lexbor (selectolax, ~0.7 ms a page), then, in Python over that tree:

1. junk goes: scripts, navigation, asides, players, and elements whose class or id names a
   boilerplate role (share bars, related links, comments, galleries, cookie notices, ...) unless
   they hold much prose or most of the page (article wrappers get such names too), or are a
   link in a paragraph's sentence (a player's tooltip link);
2. every block with at least ``MIN_PARAGRAPH_CHARS`` of its own text that is not mostly links
   is a paragraph; it scores its holder (the block itself when it is a div-like container, else
   its parent) and, half, the holder's parent, by its length;
3. the best container (score less its link share) widens to an ancestor that holds much more
   paragraph text without being link-heavy: article bodies split over sibling sections (but
   not into one holding several ``<article>`` elements: a list of other posts), and takes in
   its siblings that are paragraphs of the kind it holds (a story's first paragraphs beside the
   wrapper of the rest), and its twins before it in another column of the page (the same tag
   and class, holding paragraphs of the same kind);
4. the container's text comes out one block per line, headline and captions left out; groups
   of blocks (a teaser list, a card) that are largely link text go whole, and so do lines that
   are mostly link text (less an inline cluster of links, such as a hover card), except a list
   that a line ending in a colon introduces ("Here's our roadmap:"); a short
   teaser heading ("Related stories", "More in Science") or closing furniture ("Share this",
   "Comments") after most of the text ends it; prose among the few blocks before the
   container, or before its parent, or else a block named as the standfirst a few levels up
   (class ``lead``, ``dek``, ...), leads it.

``MainText.confident`` says whether the result looks like a whole article (long enough, and
most of the page's paragraph text, and no less than the page hides) rather than a scrap;
``core.extraction`` falls back to trafilatura when it does not. Tuned on the tune part of
``benchmarks/extraction.py`` only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from newsflow.core.boilerplate import match_rule
from newsflow.core.lexbor_tree import AncestorTest, SubtreeText

# Not "form": ASP.NET pages wrap the whole page in one.
JUNK_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "button",
             "select", "textarea", "input", "nav", "aside", "footer", "object", "embed",
             "canvas", "video", "audio", "map", "dialog", "menu", "head")
# One selector for all of them: a single pass over the tree, not one per tag.
JUNK_TAGS_SELECTOR = ",".join(JUNK_TAGS)
# Elements that have a class or an id: the ones whose names can mark them as boilerplate.
NAMED_SELECTOR = "[class],[id]"
# Class/id words of elements that hold no article text. Matched as whole words of the
# attribute (split on -, _ and spaces), so "header" does not match "ad".
BOILERPLATE_WORDS = (
    "related", "share", "sharing", "sharebar", "social", "newsletter", "subscribe",
    "subscription", "promo", "advert", "advertisement", "ad", "ads", "sponsor", "sponsored",
    "sidebar", "footer", "nav", "navbar", "navigation", "menu", "breadcrumb", "breadcrumbs",
    "cookie", "cookies", "consent", "popup", "modal", "banner", "recommended",
    "recommendations", "trending", "popular", "outbrain", "taboola", "byline", "author",
    "toolbar", "masthead", "signup", "caption", "credit", "credits", "video", "player",
    "playlist", "teaser", "teasers", "rail", "login", "print",
    # calls to action, product disclosures, donation boxes, app-store badges (issue 15e)
    "cta", "disclosure", "donate", "donation", "appstore", "appstores",
)
# Words for reader comments, photo galleries, reference lists and readers' testimonials:
# dropped whatever their size (threads, captions, citations and quotes hold much prose), unless
# they hold nearly all of the page. A paper's reference list outweighs its abstract and would be
# chosen over it; a wall of testimonials (a boilerplate word since issue 15h) passed the 1,500
# characters that keep a named block (both issue 15i).
PROSE_JUNK_WORDS = ("comment", "comments", "kommentar", "kommentare", "disqus", "replies",
                    "respond", "gallery", "slideshow", "carousel", "legend", "legends",
                    "references", "bibliography", "citations", "testimonial", "testimonials")
PROSE_JUNK_PAGE_SHARE = 0.8


def _words(words: tuple[str, ...], flags: int = re.IGNORECASE) -> re.Pattern[str]:
    return re.compile(r"(?:^|[\s_-])(?:" + "|".join(words) + r")(?:$|[\s_-])", flags)


# Matched against lower-cased names: a case-insensitive search of every class and id costs
# about three times as much (2 ms a page).
BOILERPLATE = _words(BOILERPLATE_WORDS + PROSE_JUNK_WORDS, flags=0)
# camelCase names are words too: "newsCaption", "relatedLinks".
CAMEL_HUMP = re.compile(r"(?<=[a-z])(?=[A-Z])")
# A BEM modifier ("TestReport__Section--Ads", "article--with-sidebar") says what a block holds
# or how it looks, not what it is: boilerplate words there do not count (issue 15e). But a
# modifier that names the element ("field--name-field-related-articles",
# "paragraph--type--recommended-articles", "node--view-mode-teaser": Drupal's field, paragraph
# and display names) says what it is, so its words count (issue 15g). A modifier ends where the
# next one starts: in "card--wide--name-related" only "--wide" goes.
BEM_MODIFIER = re.compile(r"--(name-|type-|view-mode-)?(?:(?!--)\S)*")

PROSE_JUNK = _words(PROSE_JUNK_WORDS)
# An id made of the element's own words is an anchor (a heading's table-of-contents target),
# not a name: "h-what-is-social-shopping" is a heading, not a social bar (issue 15h). Only ids
# of at least this many words, looked for in the first characters of the element's text.
ID_WORDS = re.compile(r"[^\W_]+")
TEXT_WORDS = re.compile(r"\w+")
ANCHOR_MIN_WORDS = 2
ANCHOR_TEXT_CHARS = 300
# Without "teaser": a block named only "teaser" that links nowhere and is not inside a link is
# the article's own standfirst ("article-teaser", "teaser-text"), not a card for another story,
# which always links to it.
TEASER_WORDS = ("teaser", "teasers")
BOILERPLATE_BUT_TEASER = _words(tuple(w for w in BOILERPLATE_WORDS if w not in TEASER_WORDS)
                                + PROSE_JUNK_WORDS, flags=0)
# Class/id words of article bodies; such a container's score is multiplied by ARTICLE_BOOST.
ARTICLE_NAMES = _words(("article", "content", "entry", "post", "story", "body", "text", "main",
                        "articlebody", "article-body", "post-content", "entry-content"))
ARTICLE_BOOST = 1.5
# Elements a browser does not show (teaser microdata, templates for scripts).
HIDDEN_SELECTOR = ('[hidden],[aria-hidden="true"],[style*="display:none" i],'
                   '[style*="display: none" i],[style*="visibility:hidden" i]')
# Never dropped by class/id: the article's own wrappers.
KEEP_TAGS = frozenset({"html", "body", "main", "article"})
# A class/id match holding more prose than this (mostly not links) is kept: pages name their
# article wrapper "...-ad-margins" or "post tag-business".
BOILERPLATE_MAX_PROSE_CHARS = 1500
# ... and so is a link inside a paragraph that holds this much text besides it: words of a
# sentence ("MADRID — <a class=player-link>Rafael Nadal</a> kept ..."; issue 15j).
RUNNING_TEXT_MIN_CHARS = 80
# ... and so is one that holds most of the page (a page wrapper with "banner" in its class).
WRAPPER_PAGE_SHARE = 0.5

# Not scored: blocks with less text of their own than this (labels, buttons, bylines).
MIN_PARAGRAPH_CHARS = 25
# Blocks whose loose text makes them the article's container themselves (not their parent).
CONTAINER_TAGS = frozenset({"div", "section", "article", "main", "td", "body"})
BLOCK_TAGS = frozenset({
    "p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
    "pre", "section", "article", "table", "ul", "ol", "dl", "dd", "dt", "figcaption", "figure",
    "header", "main", "hr", "address", "details", "summary",
})
# The container widens to an ancestor with this much more paragraph text, if not link-heavy.
CLIMB_GROWTH = 1.3
CLIMB_MAX_LINK_SHARE = 0.2
# It stops below an ancestor holding several <article> elements (a list of other posts) once
# it holds this much paragraph text; a smaller one is a fragment of a page that wraps each
# block of one story in an <article>.
ARTICLE_STOP_MIN_CHARS = 500
# The container's siblings that are paragraphs of the kind it holds at least this many of
# are part of the body (issue 15h).
SPLIT_MIN_PARAGRAPHS = 2
# ... and so are blocks before it with its tag and class that hold at least that many
# paragraphs of its kind, within this many levels above it: a body split over two columns of
# the page, the first paragraphs beside the share tools (issue 15j).
TWIN_SCOPE_LEVELS = 6
# Groups of blocks (teaser cards, link lists) dropped whole when this share is link text.
GROUP_TAGS = frozenset({"div", "section", "ul", "ol", "dl", "table", "header", "figure"})
GROUP_MAX_LINK_SHARE = 0.3
# ... but a list only when over this share of its items are mostly link text (issue 15e).
LIST_TAGS = frozenset({"ul", "ol"})
LINK_LIST_ITEM_SHARE = 0.2
# ... but a list the text introduces, right after a line of at least this many words that ends
# in a colon ("Here's our roadmap:", "Other restaurant recommendations:"), is part of it, links
# and all: a series' table of contents, a listicle's links (issue 15j). Not after a teaser
# heading ("Related:", "Read more:", "See also:"): the links there are other stories.
INTRO_MIN_WORDS = 2
# Left out of the text: the headline (a field of its own) and captions (not article text).
SKIP_TAGS = frozenset({"h1", "figcaption"})
# A previous sibling of the container with this much paragraph text is its standfirst; the
# container's last few siblings are looked at (an image or a share bar may sit between).
LEAD_MIN_CHARS = 80
LEAD_MAX_SIBLINGS = 3
# ... unless it holds media (then its prose is a caption or a video's blurb) and is not the
# container's next-door sibling.
MEDIA_SELECTOR = "img,picture,figure"
# Failing that, a block whose class or id names it a standfirst, before the container and
# within this many levels above it.
LEAD_NAMES = _words(("lead", "standfirst", "intro", "subtitle", "summary", "abstract", "dek",
                     "deck", "excerpt", "subheadline", "sapo", "chapo",
                     "teaser-text", "lede",
                     # in Spanish, Italian and German newsrooms (issue 15j)
                     "bajada", "entradilla", "copete", "sumario", "sommario", "vorspann"))
LEAD_SCOPE_LEVELS = 5
# A lead whose first characters the container's text already holds is not added again.
LEAD_REPEAT_CHARS = 100
# A short line like these after the article's text ends it: what follows is teasers for other
# stories ("Related stories", "More in Science", "Next in World News", ...), which widening can
# take in when their blurbs are plain prose, or share, rating and comment furniture.
TEASER_HEADING = re.compile(
    r"(?:related(?: stories| articles| posts| news| content| coverage)?"
    r"|recommended(?: for you| stories| articles| reading)?"
    r"|(?:more|next) (?:from|in|on) .{1,40}|more (?:stories|news|articles)"
    r"|also read|read (?:next|also)|latest (?:news|stories|articles|posts)"
    r"|you (?:may|might) also (?:like|enjoy)|most (?:popular|read|viewed)|trending(?: now)?"
    r"|mehr zum thema|meist gelesen|das könnte sie auch interessieren|lesen sie auch"
    r"|weitere artikel|à lire aussi|lire aussi|sur le même sujet|noticias relacionadas"
    r"|te puede interesar|leggi anche|vous aimerez aussi|à lire également|lire également"
    r"|ähnliche artikel|weitere (?:aktuelle )?themen.{0,40}|también te puede interesar"
    r"|zum weiterlesen|auch interessant|ebenfalls interessant|mehr themen|mehr zu[mr]? .{1,40}"
    r"|lesen sie (?:auch|mehr).{0,40}|verwandte (?:themen|artikel|beiträge)\w*"
    r"|das könnte (?:sie|dich) auch interessieren|weitere beiträge.{0,40}"
    r"|leia também|veja também|lees ook|czytaj (?:także|też)|zobacz (?:także|też)"
    r"|читайте также|смотрите также|похожие (?:статьи|новости)|новости по теме"
    r"|(?:самые |самое )?(?:популярн|читаем)\w* ?.{0,30}"
    # ... and the furniture that closes an article: share, rate, comment.
    r"|share this(?: article| story| post)?|was this (?:article|page|post) helpful"
    r"|leave a (?:comment|reply)|comments?(?: \(\d+\))?|(?:mit freunden |artikel )?teilen"
    r"|kommentieren|kommentare?(?: \(\d+\))?|war (?:der|dieser) artikel (?:nützlich|hilfreich)"
    r"|wie (?:bewerten|gefällt) (?:sie|ihnen) diese[nrm]? artikel|partager(?: cet article)?"
    r"|commentaires?|comentarios|compartir"
    # ... and the author's box after it
    r"|about the author|über (?:den autor|die autorin)|à propos de l'auteur|sobre el autor"
    r")\W*", re.IGNORECASE)
TEASER_HEADING_MAX_CHARS = 60
# ... once this much text is written (a heading at the top is a page's own section name), and
# only when less text follows it than precedes it (else it heads a box inside the article).
TEASER_CUT_MIN_CHARS = 500
# Lines whose characters are mostly link text are menus and teaser lists.
MAX_LINE_LINK_SHARE = 0.5
# ... but a paragraph made link-heavy by an inline cluster of links inside it (a hover card
# with a person's latest stories, inline "related" links) is written without the cluster, when
# what is left holds this much text that is not link text (issue 15g). A cluster: an inline
# element with at least two links among its children, nearly all of its text link text.
CLUSTER_MIN_LINKS = 2
CLUSTER_LINK_SHARE = 0.9
CLUSTER_REST_MIN_CHARS = 80
# Not looked into for clusters: whole-page wrappers (a link-heavy page is not a paragraph).
PAGE_WRAPPER_TAGS = frozenset({"body", "main", "article"})
# Confidence: at least this much text, and at least this share of the page's paragraph text.
CONFIDENT_MIN_CHARS = 1000
CONFIDENT_MIN_SHARE = 0.7
# ... or, for a short article, this much text that is nearly all of the page's (issue 15e),
SHORT_CONFIDENT_MIN_CHARS = 600
SHORT_CONFIDENT_MIN_SHARE = 0.9
# ... when its container also holds most of the page's text, paragraphs or not (code, recipe
# steps and a list of episodes are short lines outside it), and the text written is most of
# the container's (a player's or a listing's link lines were left out): else the short text is
# a fragment, and trafilatura's path with its fragment check decides (issue 15g).
SHORT_CONTAINER_PAGE_SHARE = 0.75
SHORT_WRITTEN_SHARE = 0.6
# ... and never when the page hides more prose than the text holds (issue 15i): a transcript,
# the rest of a story or a listicle's items behind a "show more" toggle, while the visible
# text is a teaser or a player's links. Hidden blocks under HIDDEN_PROSE_MIN_CHARS, or link
# text beyond HIDDEN_PROSE_MAX_LINK_SHARE (a hidden menu), or named as boilerplate (a cookie
# dialog), are not counted. A share of 0.5 (with 500 characters) cost a WCEB tune page 0.27.
HIDDEN_PROSE_MIN_CHARS = 1000
HIDDEN_PROSE_MAX_LINK_SHARE = 0.3
HIDDEN_PROSE_TEXT_SHARE = 1.0


@dataclass(frozen=True, slots=True)
class MainText:
    text: str
    confident: bool


def _strip_junk(root: LexborNode) -> int:
    """Detach junk subtrees. Detached, not destroyed: later matches may lie inside them.

    Returns the characters of the largest hidden element that reads as prose: text the page
    holds besides what will be kept."""
    for node in root.css(JUNK_TAGS_SELECTOR):  # a nested match leaves a detached subtree
        node.decompose(recursive=False)
    page_chars = len(root.text(deep=True, strip=True))
    hidden = _HiddenProse()
    for node in root.css(HIDDEN_SELECTOR):
        chars = len(node.text(deep=True, strip=True))
        if chars <= WRAPPER_PAGE_SHARE * page_chars:
            hidden.add(node, chars)
            node.decompose(recursive=False)
    # Matching class/id in Python is ~3x cheaper than a CSS selector per word; pages repeat
    # the same names (menu items, cards), so each is judged once.
    verdicts: dict[str, tuple[bool, bool] | None] = {}
    in_link = AncestorTest("a")  # a teaser's prose inside a link is a linked teaser
    # In document order; a node with both a class and an id is listed twice in a row.
    nodes = root.css(NAMED_SELECTOR)
    index = 0
    previous = None
    while index < len(nodes):
        node = nodes[index]
        index += 1
        if node.mem_id == previous:  # its second listing: already judged
            continue
        previous = node.mem_id
        attrs = node.attributes
        names = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
        if names in verdicts:
            verdict = verdicts[names]
        else:
            verdict = verdicts[names] = _junk_name(names)
        if verdict is None or node.tag in KEEP_TAGS:
            continue
        anchor = attrs.get("id")
        if anchor and _names_own_text(anchor, node):
            # The id is an anchor named after the element's own words (a table of contents'
            # target: <h2 id="h-what-is-social-shopping">): only the class can say it is junk.
            names = attrs.get("class") or ""
            if names not in verdicts:
                verdicts[names] = _junk_name(names)
            verdict = verdicts[names]
            if verdict is None:
                continue
        teaser_only, prose_junk = verdict
        if teaser_only and _unlinked_prose(node, in_link):
            continue
        if node.tag == "a" and _in_running_text(node):
            continue
        if prose_junk:
            junk = len(node.text(deep=True, strip=True)) <= PROSE_JUNK_PAGE_SHARE * page_chars
        else:
            junk = _little_prose(node, page_chars)
        if junk:
            # Its descendants come next in the list; detached with it, they need no verdict.
            index += len(node.css(NAMED_SELECTOR)) - 1  # the node matches itself
            node.decompose(recursive=False)
    return hidden.chars


class _HiddenProse:
    """The largest hidden element that reads as prose (few links), by its characters."""

    def __init__(self) -> None:
        self.chars = 0

    def add(self, node: LexborNode, chars: int) -> None:
        if chars <= max(self.chars, HIDDEN_PROSE_MIN_CHARS):
            return
        attrs = node.attributes
        if _junk_name(f"{attrs.get('class') or ''} {attrs.get('id') or ''}") is not None:
            return  # a hidden cookie dialog or modal is no article
        links = sum(len(a.text(deep=True, strip=True)) for a in node.css("a"))
        if links <= HIDDEN_PROSE_MAX_LINK_SHARE * chars:
            self.chars = chars


def _junk_name(names: str) -> tuple[bool, bool] | None:
    """None when the class/id names hold no boilerplate word; else whether the word is only
    "teaser", and whether the names are a comment thread's or a gallery's."""
    words = names if names.islower() else CAMEL_HUMP.sub(" ", names).lower()
    match = BOILERPLATE.search(words)
    if match is None:
        return None
    if "--" in words:  # matched in a BEM modifier only? ("Section--Ads": a section with ads)
        words = _drop_bem_modifiers(words)
        match = BOILERPLATE.search(words)
        if match is None:
            return None
    teaser_only = "teaser" in match.group() and BOILERPLATE_BUT_TEASER.search(words) is None
    # A camelCase gallery or comment name ("slideshowWrapper") is judged by its prose.
    return teaser_only, PROSE_JUNK.search(names) is not None


def _names_own_text(anchor: str, node: LexborNode) -> bool:
    """Whether an id is a slug of the element's own text: each of its words (two or more, less
    numbers and one-letter prefixes such as WordPress's "h-") is a word of the text."""
    words = [word for word in ID_WORDS.findall(CAMEL_HUMP.sub(" ", anchor).lower())
             if len(word) > 1 and not word.isdigit()]
    if len(words) < ANCHOR_MIN_WORDS:
        return False
    text = set(TEXT_WORDS.findall(node.text(deep=True, strip=True)[:ANCHOR_TEXT_CHARS].lower()))
    return all(word in text for word in words)


def _drop_bem_modifiers(words: str) -> str:
    """The names without their BEM modifiers, except those that name the element."""
    return BEM_MODIFIER.sub(lambda match: match.group() if match.group(1) else "", words)


def _unlinked_prose(node: LexborNode, in_link: AncestorTest) -> bool:
    """Prose of a standfirst's length with no link in it or around it."""
    if len(node.text(deep=True, strip=True)) < LEAD_MIN_CHARS or node.css_first("a"):
        return False
    return not in_link(node)


def _in_running_text(link: LexborNode) -> bool:
    """Whether a link is words of a paragraph's sentence (a player's or a glossary entry's
    tooltip link, named like a widget): its paragraph holds a standfirst's length of text
    besides it."""
    paragraph = link.parent
    if paragraph is None or paragraph.tag != "p":
        return False
    rest = len(paragraph.text(deep=True, strip=True)) - len(link.text(deep=True, strip=True))
    return rest >= RUNNING_TEXT_MIN_CHARS


def _little_prose(node: LexborNode, page_chars: int) -> bool:
    chars = len(node.text(deep=True, strip=True))
    if chars > WRAPPER_PAGE_SHARE * page_chars:
        return False
    if chars <= BOILERPLATE_MAX_PROSE_CHARS:
        return True
    links = sum(len(a.text(deep=True, strip=True)) for a in node.css("a"))
    return links > MAX_LINE_LINK_SHARE * chars


class _Measure:
    """One pass over the tree: paragraphs' scores for their containers, text/link sizes."""

    def __init__(self) -> None:
        self.scores: dict[int, float] = {}
        self.nodes: dict[int, LexborNode] = {}
        self.chars: dict[int, int] = {}
        self.links: dict[int, int] = {}
        self.prose: dict[int, int] = {}  # paragraph characters in the subtree
        self.paragraph_chars = 0

    def walk(self, root: LexborNode, in_link: bool = False) -> tuple[int, int, int, int]:
        """(chars, link chars) of the whole subtree and of its loose (non-block) text.

        Depth first with a stack of its own, not by recursion: a page may nest its elements
        deeper than Python's stack allows (thousands of unclosed ``<div>``; Lexbor builds any
        depth), and each element's figures are complete when its end is reached, as they were
        when this recursed (same order of paragraphs, so the same scores)."""
        # The element being summed, and the saved sums of the elements around it.
        stack: list[tuple[LexborNode, bool, Iterator[LexborNode], int, int, int, int, int]] = []
        push, pop = stack.append, stack.pop
        node = root
        children = node.iter(include_text=True, skip_empty=True)
        chars = links = own = own_links = 0
        prose_before = self.paragraph_chars
        while True:
            # Whitespace-only text counts nothing here, so it is not even visited.
            for child in children:
                tag = child.tag
                if tag == "-text":
                    size = len((child.text_content or "").strip())
                    chars += size
                    own += size
                    if in_link:
                        links += size
                        own_links += size
                    continue
                if tag in ("-comment", None):
                    continue
                push((node, in_link, children, chars, links, own, own_links, prose_before))
                node, in_link = child, in_link or tag == "a"
                children = child.iter(include_text=True, skip_empty=True)
                chars = links = own = own_links = 0
                prose_before = self.paragraph_chars
                break
            else:  # the element's end: its sums are complete
                tag = node.tag
                if tag in BLOCK_TAGS or tag in ("body",):
                    key = node.mem_id
                    self.chars[key] = chars
                    self.links[key] = links
                    self.nodes[key] = node
                    if own >= MIN_PARAGRAPH_CHARS and own_links <= MAX_LINE_LINK_SHARE * own:
                        self._paragraph(node, own)
                    self.prose[key] = self.paragraph_chars - prose_before
                if not stack:
                    return chars, links, own, own_links
                (node, in_link, children, outer_chars, outer_links, outer_own, outer_own_links,
                 prose_before) = pop()
                chars += outer_chars
                links += outer_links
                if tag in BLOCK_TAGS:  # a block's loose text is its own, not its parent's
                    own, own_links = outer_own, outer_own_links
                else:  # inline: its loose text is its parent's
                    own += outer_own
                    own_links += outer_own_links

    def _paragraph(self, node: LexborNode, size: int) -> None:
        self.paragraph_chars += size
        value = 1 + min(size // 100, 3)
        holder = node if node.tag in CONTAINER_TAGS else node.parent
        for weight, ancestor in ((1.0, holder), (0.5, holder.parent if holder else None)):
            if ancestor is None or ancestor.tag in ("html", None):
                continue
            key = ancestor.mem_id
            self.nodes[key] = ancestor
            self.scores[key] = self.scores.get(key, 0.0) + weight * value


class _Writer:
    """The text under a container, a line per block, without link-heavy blocks and lines."""

    def __init__(self, measure: _Measure) -> None:
        self.measure = measure
        self.lines: list[str] = []
        self.line: list[str] = []
        self.line_chars = 0  # characters in ``line``: a sum per link would be quadratic
        self.link_chars = 0
        self.in_introduced_list = 0  # inside a list the text introduces: its link lines stay
        self.written = 0
        self.ended = False  # a teaser heading was met: the article is over
        self.tail: list[str] = []  # the lines after it
        # Only the first <h1> is the headline; later ones head sections of the text.
        self.headline_seen = False
        self.clusters: set[int] = set()  # link clusters left out of their paragraph

    def write(self, root: LexborNode) -> None:
        """Write the text under ``root``, depth first with a stack of its own (not recursion:
        see ``_Measure.walk``)."""
        # Per element entered: its parent's place among its children, and what its end does
        # (a link's characters counted as link text, a list the text introduced, a block's
        # line ended).
        stack: list[tuple[Iterator[LexborNode], bool, int, bool, bool]] = []
        push, pop = stack.append, stack.pop
        children = root.iter(include_text=True)
        is_link = introduced = block = False
        before = 0
        while True:
            for child in children:
                tag = child.tag
                if tag == "-text":
                    part = child.text_content or ""
                    self.line.append(part)
                    self.line_chars += len(part)
                    continue
                if tag in ("-comment", None):
                    continue
                entered = (tag in LIST_TAGS and self.measure.links.get(child.mem_id, 0) > 0
                           and self._introduces_list())  # a list without links loses no line
                if tag in GROUP_TAGS and not entered and self._link_heavy(child):
                    if self.measure.chars.get(child.mem_id, 0) <= TEASER_HEADING_MAX_CHARS:
                        self._check_end(child.text(deep=True, strip=True))  # a linked heading
                    continue
                if tag in SKIP_TAGS and not (tag == "h1" and self.headline_seen):
                    self.headline_seen |= tag == "h1"
                    self._check_end(child.text(deep=True, strip=True))
                    continue
                if self.clusters and child.mem_id in self.clusters:
                    continue
                push((children, is_link, before, introduced, block))
                block = tag in BLOCK_TAGS
                if block:
                    self.flush()
                    self._leave_out_link_clusters(child)
                is_link = tag == "a"
                introduced = entered  # a list, never a link
                before = self.line_chars
                if introduced:
                    self.in_introduced_list += 1
                children = child.iter(include_text=True)
                break
            else:  # the end of the element entered last
                if not stack:
                    return
                if is_link:
                    self.link_chars += self.line_chars - before
                elif introduced:
                    self.flush()
                    self.in_introduced_list -= 1
                if block:
                    self.flush()
                children, is_link, before, introduced, block = pop()

    def _leave_out_link_clusters(self, block: LexborNode) -> None:
        """Mark the link clusters of a link-heavy block to be skipped, when the rest of it is a
        paragraph of its own."""
        key = block.mem_id
        chars = self.measure.chars.get(key, 0)
        links = self.measure.links.get(key, 0)
        if not chars or links <= MAX_LINE_LINK_SHARE * chars or block.tag in PAGE_WRAPPER_TAGS:
            return
        found: set[int] = set()
        cluster_chars = cluster_links = 0
        sizes = SubtreeText()  # nested inline markup is asked about at every level
        # Only the block's own line: a nested block is a line of its own, checked when it is
        # written (else the rest of the outer block could leave a link line's few words behind).
        inline = [child for child in block.iter() if child.tag not in BLOCK_TAGS]
        while inline:
            node = inline.pop()
            if node.tag in ("a", "-text", "-comment", None):
                continue
            children = [child for child in node.iter() if child.tag not in BLOCK_TAGS]
            if sum(child.tag == "a" for child in children) < CLUSTER_MIN_LINKS:
                inline.extend(children)  # a cluster may sit further in
                continue
            size, linked = sizes(node)
            if size and linked >= CLUSTER_LINK_SHARE * size:
                found.add(node.mem_id)
                cluster_chars += size
                cluster_links += linked
            else:
                inline.extend(children)
        rest, rest_links = chars - cluster_chars, links - cluster_links
        if (found and rest - rest_links >= CLUSTER_REST_MIN_CHARS
                and rest_links <= MAX_LINE_LINK_SHARE * rest):
            self.clusters |= found

    def _introduces_list(self) -> bool:
        """Whether the line before a list introduces it (ends in a colon, a few words, and is
        no teaser heading)."""
        line = self._line_text() or (self.lines[-1] if self.lines else "")
        if not line.endswith(":") or len(line.split()) < INTRO_MIN_WORDS:
            return False
        # "See also:" heads a teaser link when the headline follows it on the same line.
        return (TEASER_HEADING.fullmatch(line) is None and match_rule(line) is None
                and match_rule(f"{line} …") is None)

    def _link_heavy(self, node: LexborNode) -> bool:
        key = node.mem_id
        chars = self.measure.chars.get(key, 0)
        if not chars or self.measure.links.get(key, 0) <= GROUP_MAX_LINK_SHARE * chars:
            return False
        if node.tag in LIST_TAGS:
            return self._link_list(node)
        return True

    def _link_list(self, node: LexborNode) -> bool:
        """A list whose items are links (a menu, related stories), not a list of words or
        sentences of which one or two hold a link."""
        items = linked = 0
        for item in node.iter():
            if item.tag != "li":
                continue
            items += 1
            chars = self.measure.chars.get(item.mem_id, 0)
            linked += self.measure.links.get(item.mem_id, 0) > MAX_LINE_LINK_SHARE * chars
        return linked > LINK_LIST_ITEM_SHARE * items

    def _line_text(self) -> str:
        """The line being written, whitespace collapsed."""
        return " ".join("".join(self.line).split())

    def flush(self) -> None:
        if not self.line:  # most calls: nothing written since the last block boundary
            self.link_chars = 0
            return
        text = self._line_text()
        self._check_end(text)
        if text and (self.in_introduced_list
                     or self.link_chars <= MAX_LINE_LINK_SHARE * len(text)):
            if self.ended:
                self.tail.append(text)
            else:
                self.lines.append(text)
                self.written += len(text)
        self.line.clear()
        self.line_chars = 0
        self.link_chars = 0

    def _check_end(self, text: str) -> None:
        if (self.written >= TEASER_CUT_MIN_CHARS and len(text) <= TEASER_HEADING_MAX_CHARS
                and TEASER_HEADING.fullmatch(text)):
            self.ended = True


# How a container's text is written (``_container_text``; a benchmark passes one that records
# every line it meets).
ContainerText = Callable[[LexborNode, "_Measure"], tuple[str, int]]


def _container_text(container: LexborNode, measure: _Measure) -> tuple[str, int]:
    """The container's text, and how many characters of it a teaser heading cut off."""
    writer = _Writer(measure)
    writer.write(container)
    writer.flush()
    cut = sum(len(line) for line in writer.tail)
    if cut > writer.written:  # more text after the heading than before: a mid-article box
        return "\n".join(writer.lines + writer.tail), 0
    return "\n".join(writer.lines), cut


def _adjusted_score(key: int, measure: _Measure) -> float:
    """A container's score as the choice of the best one weighs it: less its links' share,
    more when the page marks it as its article."""
    chars = measure.chars.get(key, 0) or 1
    adjusted = measure.scores[key] * (1 - min(measure.links.get(key, 0) / chars, 1.0))
    if _names_article(measure.nodes[key]):
        adjusted *= ARTICLE_BOOST
    return adjusted


def _best(measure: _Measure) -> LexborNode | None:
    best: LexborNode | None = None
    best_score = 0.0
    for key in measure.scores:
        adjusted = _adjusted_score(key, measure)
        if adjusted > best_score:
            best, best_score = measure.nodes[key], adjusted
    return best


def _names_article(node: LexborNode) -> bool:
    """An element the page marks as its article: <article>, articleBody, an article-ish class."""
    if node.tag == "article":
        return True
    attrs = node.attributes
    if (attrs.get("itemprop") or "").lower() == "articlebody":
        return True
    return ARTICLE_NAMES.search(f"{attrs.get('class') or ''} {attrs.get('id') or ''}") is not None


def _widen(best: LexborNode, measure: _Measure) -> LexborNode:
    """Climb to the ancestor that holds the article's other parts (bodies split in sections),
    but not into one that holds other ``<article>`` elements too: a list of other posts."""
    prose = measure.prose.get(best.mem_id, 0)
    articles = _article_counts(best)
    node = best.parent
    while node is not None and node.tag not in ("html", "body", None):
        key = node.mem_id
        if articles.get(key, 0) > 1 and prose >= ARTICLE_STOP_MIN_CHARS:
            break
        wider = measure.prose.get(key, 0)
        chars = measure.chars.get(key, 0) or 1
        if (wider >= CLIMB_GROWTH * prose
                and measure.links.get(key, 0) <= CLIMB_MAX_LINK_SHARE * chars):
            best, prose = node, wider
        node = node.parent
    return best


def _block_kind(node: LexborNode) -> tuple[str, str] | None:
    """A block's tag and first class name: what a page's template gives each of its paragraphs
    ("zn-body__paragraph speakable" is of the kind "zn-body__paragraph")."""
    names = (node.attributes.get("class") or "").split()
    return (node.tag or "", names[0]) if names else None


def _with_split_siblings(best: LexborNode, kind: tuple[str, str] | None,
                         measure: _Measure) -> list[LexborNode]:
    """The container and those of its siblings that are paragraphs of the same kind as its own
    (a body whose first paragraphs sit beside the wrapper of the rest), in page order."""
    parent = best.parent
    if parent is None or parent.tag in ("html", "body", None):
        return [best]
    if kind is None:
        return [best]
    parts: list[LexborNode] = []
    for sibling in parent.iter():
        key = sibling.mem_id
        if key == best.mem_id:
            parts.append(best)
        elif (_block_kind(sibling) == kind
              and measure.prose.get(key, 0) >= MIN_PARAGRAPH_CHARS
              and measure.links.get(key, 0) <= CLIMB_MAX_LINK_SHARE * measure.chars.get(key, 1)):
            parts.append(sibling)
    return parts


def _paragraph_kind(node: LexborNode, measure: _Measure) -> tuple[str, str] | None:
    """The kind of paragraph a block holds most of, when it holds at least
    ``SPLIT_MIN_PARAGRAPHS`` of them (children with prose, by tag and first class name)."""
    kinds: dict[tuple[str, str], int] = {}
    for child in node.iter():
        kind = _block_kind(child)
        if kind is not None and measure.prose.get(child.mem_id, 0) >= MIN_PARAGRAPH_CHARS:
            kinds[kind] = kinds.get(kind, 0) + 1
    if not kinds:
        return None
    kind, count = max(kinds.items(), key=lambda item: item[1])
    return kind if count >= SPLIT_MIN_PARAGRAPHS else None


def _earlier_twins(best: LexborNode, kind: tuple[str, str] | None,
                   measure: _Measure) -> list[LexborNode]:
    """Blocks before the container, in another column of the page, that are its twins: the same
    tag and class, holding paragraphs of the same kind (``kind``: a story's first paragraphs in
    a column beside the share tools, the rest in the next column). Looked for within
    ``TWIN_SCOPE_LEVELS`` above the container; not its ancestors, which hold it."""
    names = best.attributes.get("class")
    if kind is None or not names:
        return []
    scope = best
    above: set[int] = set()
    for _ in range(TWIN_SCOPE_LEVELS):
        if scope.parent is None or scope.parent.tag in ("html", "body", None):
            break
        scope = scope.parent
        above.add(scope.mem_id)
    same = f'{best.tag}[class="{_css_string(names)}"]'  # matched in C, in page order
    twins: list[LexborNode] = []
    inside: set[int] = set()  # the twins' own descendants
    for node in scope.css(same):
        key = node.mem_id
        if key == best.mem_id:
            break
        if key in above or key in inside:
            continue
        if (measure.links.get(key, 0) <= CLIMB_MAX_LINK_SHARE * measure.chars.get(key, 1)
                and _paragraph_kind(node, measure) == kind):
            twins.append(node)
            inside.update(child.mem_id for child in node.css(same))
    return twins


# What a CSS string cannot hold as it is: a backslash, its quote and line breaks.
CSS_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\a ", "\r": "\\d ",
                                    "\f": "\\c "})


def _css_string(value: str) -> str:
    """``value`` escaped for a double-quoted CSS string."""
    return value.translate(CSS_STRING_ESCAPES)


def _article_counts(best: LexborNode) -> dict[int, int]:
    """How many ``<article>`` elements each ancestor of the page's articles holds, counted up to
    two (all that ``_widen`` asks): an element that holds two already has two for all its
    ancestors, so each climb stops there and nested articles cost linear, not quadratic, time."""
    counts: dict[int, int] = {}
    root = best
    while root.parent is not None and root.parent.tag not in ("html", None):
        root = root.parent
    for article in root.css("article"):
        node = article.parent
        while node is not None and node.tag not in ("html", None):
            held = counts.get(node.mem_id, 0)
            if held >= 2:
                break
            counts[node.mem_id] = held + 1
            node = node.parent
    return counts


def _lead_text(container: LexborNode, measure: _Measure,
               container_text: ContainerText = _container_text) -> str:
    """A standfirst just before the container: prose among its few previous siblings, or, when
    none, among its parent's (a header section beside the body's wrapper)."""
    for anchor in (container, container.parent):
        if anchor is None or anchor.tag in ("html", "body", None):
            break
        leads: list[str] = []
        node = anchor.prev
        seen = 0
        while node is not None and seen < LEAD_MAX_SIBLINGS:
            key = node.mem_id
            # Empty blocks (spacers, emptied ad slots) are not counted as siblings.
            if node.tag not in ("-text", "-comment", None) and measure.chars.get(key, 1):
                seen += 1
                prose = measure.prose.get(key, 0)
                near = anchor is container and seen == 1  # the old rule: the next-door block
                if prose >= LEAD_MIN_CHARS and (near or node.css_first(MEDIA_SELECTOR) is None):
                    if measure.links.get(key, 0) > CLIMB_MAX_LINK_SHARE * prose:
                        break  # a teaser or menu: no lead beyond it
                    leads.append(container_text(node, measure)[0])
            node = node.prev
        if leads:
            return "\n".join(reversed(leads))
    return _named_lead(container, measure, container_text)


def _named_lead(container: LexborNode, measure: _Measure,
                container_text: ContainerText) -> str:
    """A block the page names as its standfirst (class ``lead``, ``standfirst``, ...) before the
    container, within a few levels above it: a header column beside the body's column."""
    scope = container
    for _ in range(LEAD_SCOPE_LEVELS):
        if scope.parent is None or scope.parent.tag in ("html", "body", None):
            break
        scope = scope.parent
    if scope is container:
        return ""
    target = container.mem_id
    above: set[int] = set()  # the container's ancestors inside the scope hold it, not a lead
    node = container.parent
    while node is not None and node.mem_id != scope.mem_id:
        above.add(node.mem_id)
        node = node.parent
    for node in scope.traverse():
        key = node.mem_id
        if key == target:
            break
        if key in above or measure.prose.get(key, 0) < LEAD_MIN_CHARS:
            continue
        attrs = node.attributes
        names = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
        if (LEAD_NAMES.search(names)
                and measure.links.get(key, 0) <= CLIMB_MAX_LINK_SHARE * measure.chars.get(key, 1)
                and node.css_first(MEDIA_SELECTOR) is None):
            return container_text(node, measure)[0]
    return ""


def _whole_short_article(container: LexborNode, measure: _Measure, chars: int, written: int,
                         page_text: int) -> bool:
    """A short text is the whole article when it and its container hold nearly all of the
    page's paragraph text, the container most of the page's text, and the text most of the
    container's."""
    page = measure.paragraph_chars
    held = measure.chars.get(container.mem_id, 0)
    return (chars >= SHORT_CONFIDENT_MIN_CHARS
            and written >= SHORT_CONFIDENT_MIN_SHARE * page
            and measure.prose.get(container.mem_id, 0) >= SHORT_CONFIDENT_MIN_SHARE * page
            and held >= SHORT_CONTAINER_PAGE_SHARE * page_text
            and written >= SHORT_WRITTEN_SHARE * held)


def main_text_by_blocks(html: str) -> MainText:
    """The article text of ``html`` (one block per line) and whether it looks whole."""
    return main_text_of_page(LexborHTMLParser(html))


def main_text_of_page(parser: LexborHTMLParser) -> MainText:
    """``main_text_by_blocks`` on a page already parsed; it detaches junk (the ``<head>`` too)
    from the tree, so read anything else from it first."""
    root: Any = parser.body or parser.root
    if root is None:
        return MainText("", False)
    # No recursion over the tree (``_Measure.walk``, ``_Writer.write``): a page nested
    # thousands of levels deep is scored like any other.
    return _main_text(root)


def _main_text(root: LexborNode) -> MainText:
    hidden = _strip_junk(root)
    measure = _Measure()
    page_text = measure.walk(root)[0]
    best = _best(measure)
    if best is None:
        return MainText("", False)
    body = body_text(_widen(best, measure), measure, page_text, hidden)
    return MainText(with_lead(body, measure)[0], body.confident)


@dataclass(frozen=True)
class Body:
    """A container's text with the parts that joined it, before a lead is added."""

    parts: list[LexborNode]  # the container first among its split siblings, after its twins
    text: str
    written: int  # the text's characters and those a teaser heading cut off
    long_enough: bool  # long, and most of the page's paragraph text
    short_whole: bool  # short, but nearly all of the page (``_whole_short_article``)
    confident: bool  # either, and the page hides less prose than it writes


def body_text(best: LexborNode, measure: _Measure, page_text: int, hidden: int,
              container_text: ContainerText = _container_text) -> Body:
    """The text of ``best`` (already widened) and of the parts that join it, and whether it
    looks whole. ``page_text`` and ``hidden``: the page's text and its largest hidden prose."""
    texts: list[str] = []
    cut = 0
    kind = _paragraph_kind(best, measure)
    parts = _with_split_siblings(best, kind, measure)
    parts = _earlier_twins(best, kind, measure) + parts
    for part in parts:
        part_text, part_cut = container_text(part, measure)
        if part_text:
            texts.append(part_text)
        cut += part_cut
    text = "\n".join(texts)
    # A lead does not count toward confidence: it must not make a scrap look whole.
    page = measure.paragraph_chars
    written = len(text) + cut
    long_enough = len(text) >= CONFIDENT_MIN_CHARS and written >= CONFIDENT_MIN_SHARE * page
    # A short text counts as whole only when the container holds nearly all of the page's
    # paragraph text: its length alone could be short lines of a list or a form.
    short_whole = _whole_short_article(best, measure, len(text), written, page_text)
    # A page that hides more prose than we write: the visible text may be a teaser of it.
    confident = (long_enough or short_whole) and hidden <= HIDDEN_PROSE_TEXT_SHARE * written
    return Body(parts, text, written, long_enough, short_whole, confident)


def with_lead(body: Body, measure: _Measure,
              container_text: ContainerText = _container_text) -> tuple[str, str]:
    """The body's text with its lead before it, and the lead (empty when there is none or the
    body repeats it)."""
    # Looked for before the first part: paragraphs that joined the body are not a lead.
    lead = _lead_text(body.parts[0], measure, container_text)
    # A lead the body repeats (a summary of its first paragraph) is left out.
    if lead and " ".join(lead.split())[:LEAD_REPEAT_CHARS] not in " ".join(body.text.split()):
        return f"{lead}\n{body.text}", lead
    return body.text, ""

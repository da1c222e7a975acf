"""Line-level boilerplate removal: the junk that extractors (and copy-pasted text) leave behind.

Each rule is named, so removals can be counted per rule. Rules are deliberately narrow: a rule
must match the *whole* line in a shape no ordinary sentence has, because deleting real content is
worse than keeping a stray "Advertisement".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LineRule:
    name: str
    pattern: re.Pattern[str]


def _rule(name: str, pattern: str) -> LineRule:
    return LineRule(name, re.compile(pattern, re.IGNORECASE))


# Whole-line rules: the line is removed when the pattern matches all of it (fullmatch).
LINE_RULES: tuple[LineRule, ...] = (
    _rule("also_read", r"(also read|read also|read more|see also|must read|also see|related)"
                       r"\s*[:|–—-]\s*\S.{0,200}"),
    _rule("advertisement", r"(advertisement|advertisment|sponsored( content)?|ad|"
                           r"story continues (below|after) (this )?advertisement|"
                           r"continue reading (below|the main story)|scroll to continue.*)"),
    _rule("link_list_item", r"-?\s*list \d+ of \d+\s*\S.{0,300}"),
    _rule("link_list_end", r"end of list"),
    _rule("newsletter", r"(sign up|subscribe)( now| today| here)?( for| to)( our| the)? .{0,60}"
                        r"(newsletter|updates|alerts|briefing)s?[.!]?"),
    _rule("share_bar", r"((share|tweet|email|print|whatsapp|facebook|twitter|linkedin|copy link)"
                       r"(\s*(this|article|story|on \w+))?[\s|·•,/]*){2,}"),
    _rule("share_prompt", r"share (this|the) (article|story)( on \w+)?[:.]?"),
    _rule("photo_credit", r"(\(?(photo|image|picture|file photo)( credit)?s?\s*[:|]\s*.{2,120}\)?|"
                          r"\((reuters|ap|afp|getty images|epa|anadolu)( photo)?\))"),
    _rule("cookie_notice", r"(we use cookies|this (web)?site uses cookies).{0,300}"),
    _rule("subscription_notice", r"(subscribe to (continue|read)|already a subscriber\??.{0,80}|"
                                 r"you have reached your (free )?article limit.{0,120})"),
)

# A heading that opens a block of headline links running to the end of the text.
RELATED_HEADING = re.compile(
    r"(related (news|stories|articles|content|coverage|reading)|"
    r"more (stories|news)( from .{1,40})?|"
    r"recommended( for you| stories)?|you may also like|read next|most read|top stories|"
    r"trending( now)?|more on this story)\s*:?",
    re.IGNORECASE,
)
HEADLINE_MAX_WORDS = 22


def _looks_like_headline(line: str) -> bool:
    words = line.split()
    return 0 < len(words) <= HEADLINE_MAX_WORDS and not line.rstrip().endswith((".", ":", ";"))


def _related_block_start(lines: Sequence[str]) -> int | None:
    """Index of a 'Related News'-style heading whose following lines are all headlines."""
    for index, line in enumerate(lines):
        if RELATED_HEADING.fullmatch(line.strip()):
            tail = [candidate for candidate in lines[index + 1:] if candidate.strip()]
            if all(_looks_like_headline(candidate) for candidate in tail):
                return index
    return None


def strip_boilerplate(
    lines: Sequence[str], authors: Sequence[str] = ()
) -> tuple[list[str], Counter[str]]:
    """Remove boilerplate lines; return the kept lines and how many lines each rule removed."""
    removed: Counter[str] = Counter()
    kept: list[str] = list(lines)
    block_start = _related_block_start(kept)
    if block_start is not None:
        removed["related_block"] += sum(1 for line in kept[block_start:] if line.strip())
        kept = kept[:block_start]
    result: list[str] = []
    for line in kept:
        stripped = line.strip()
        rule = next((r for r in LINE_RULES if stripped and r.pattern.fullmatch(stripped)), None)
        if rule is None:
            result.append(line)
        else:
            removed[rule.name] += 1
    return result, removed

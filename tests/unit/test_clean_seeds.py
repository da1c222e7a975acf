"""The seeds, line by line: every junk line removed (by the right rule), every other line kept."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from newsflow.core.clean import clean_document, normalise_text, split_title

pytestmark = pytest.mark.clock

SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"

# The junk the seeds carry, by file: line -> the rule that must remove it.
JUNK: dict[str, dict[str, str]] = {
    "002_1e3b8ea4781e2cf4.txt": {
        "Also Read: Malala becomes second Pakistani to be honored with portrait at Oxford":
            "also_read",
        "Also Read: India reduces Russian crude imports amid new US trade framework": "also_read",
    },
    "003_0c4851bab53c4404.txt": {
        "- list 1 of 3What happens when Netanyahu visits Trump? A look at his past trips":
            "link_list_item",
        "- list 2 of 3Netanyahu says he’ll present ‘principles’ for Iran talks to Trump":
            "link_list_item",
        "- list 3 of 3Trump threatens Iran with ‘something very tough’ if US demands are not met":
            "link_list_item",
        "end of list": "link_list_end",
        "Advertisement": "advertisement",
        "Related News": "related_block",
        "EU votes to allow deportation of migrants to ‘safe’ third countries": "related_block",
        "US Department of Justice releases three million new Epstein documents": "related_block",
        "Are ‘low-cost, high-impact’ drones making Sahel fighters tougher to beat?":
            "related_block",
    },
}
SEED_FILES = sorted(path.name for path in SEEDS.glob("*.txt"))


def test_seeds_are_there() -> None:
    assert len(SEED_FILES) >= 5
    assert set(JUNK) <= set(SEED_FILES)


@pytest.mark.parametrize("name", SEED_FILES)
def test_seed_line_by_line(name: str) -> None:
    raw = (SEEDS / name).read_text(encoding="utf-8")
    junk = JUNK.get(name, {})
    lines = [line for line in normalise_text(raw).split("\n") if line]
    assert set(junk) <= set(lines), "the expected junk lines must be in the seed"
    doc = clean_document(raw, "text/plain")
    title, _ = split_title(raw)
    paragraphs = doc.text.split("\n\n")
    assert doc.title == title
    for line in lines:
        if line in junk:
            assert line not in paragraphs, f"junk kept: {line!r}"
        elif line != title:
            assert line in paragraphs, f"content lost: {line!r}"
    # Nothing else is in the text, and every removal is counted under its rule.
    assert len(paragraphs) == len(lines) - len(junk) - (1 if title in lines else 0)
    assert doc.removals == Counter(junk.values())


def test_subheadings_in_seed_are_kept() -> None:
    """Short headline-like lines *inside* the story are subheadings, not a related block."""
    doc = clean_document((SEEDS / "003_0c4851bab53c4404.txt").read_text(encoding="utf-8"),
                         "text/plain")
    paragraphs = doc.text.split("\n\n")
    assert "‘Will not yield to aggression’" in paragraphs
    assert "Qatari emir speaks to Trump, Iran’s Larijani" in paragraphs

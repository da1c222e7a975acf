"""benchmarks/learned_blocks.py (issue 15k): its copy of the block scorer's writer must give the
scorer's own text, and its pieces (labels, the logistic fit, the text assembly) must work.

Synthetic pages only: no benchmark page is read here.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from newsflow.core.clean import clean_document
from newsflow.core.main_text import main_text_by_blocks
from newsflow.core.metadata import parse_page, read_metadata
from newsflow.core.params import CleanLimits
from tests.helpers import benchmark_script

pytestmark = pytest.mark.clock

PARAGRAPHS = [
    "The harbour reopened on Tuesday after a week of repairs to the sea wall, officials said.",
    "Fishing crews, who had moored at a neighbouring port, began returning in the afternoon.",
    "The council estimates the storm damage at four million euros, most of it to the quay.",
    "Engineers will inspect the breakwater again next month before the winter storms begin.",
] * 3
LEAD = "A week after the storm, boats are back in the harbour and the quay is open again."
PAGE = (
    "<!DOCTYPE html><html><head><title>Harbour reopens</title></head><body>"
    "<nav><a href='/'>Home</a><a href='/w'>World</a></nav>"
    "<div class='wrap'><div class='standfirst'><p>" + LEAD + "</p></div>"
    "<article class='story'><h1>Harbour reopens</h1>"
    + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    + "<p><a href='/a'>Storm coverage</a> <a href='/b'>More storm news here</a></p>"
    "<h3>Related stories</h3><p>A long blurb of another story that is not part of this one at"
    " all, about a different town.</p></article></div>"
    "<footer>Contact us</footer></body></html>"
)


@pytest.fixture(scope="module")
def learned() -> ModuleType:
    return benchmark_script("learned_blocks")


def test_instrumented_scorer_gives_the_scorers_own_text(learned: ModuleType) -> None:
    parser = parse_page(PAGE)
    root = parser.body or parser.root
    result, info = learned.instrumented_main_text(root)
    own = main_text_by_blocks(PAGE)
    assert (result.text, result.confident) == (own.text, own.confident)
    statuses = {row["text"]: row["status"] for row in learned.line_rows(info)}
    assert statuses[PARAGRAPHS[0]] == "kept"
    assert statuses["Storm coverage More storm news here"] == "link"


def test_kept_lines_reassemble_into_the_pipelines_text(learned: ModuleType) -> None:
    parser = parse_page(PAGE)
    meta = read_metadata(parser, None)
    _, info = learned.instrumented_main_text(parser.body or parser.root)
    entry = {"lines": learned.line_rows(info),
             "meta": (meta.title, meta.headline, tuple(meta.authors))}
    keep = {i: row["status"] == "kept" for i, row in enumerate(entry["lines"])}
    forced = clean_document(PAGE, "text/html", limits=CleanLimits(blocks_first=True)).text
    assert learned.assemble(entry, keep) == forced
    assert LEAD in forced
    features = learned.line_features(entry["lines"], {"text_chars": 1000})
    assert len({len(row) for row in features}) == 1


def test_line_labels_from_gold_and_snippets(learned: ModuleType) -> None:
    bench = learned.bench
    gold = bench.Page("x", "", "", " ".join(PARAGRAPHS))
    index = learned.gold_index(gold.truth)
    assert learned.line_label(PARAGRAPHS[1], gold, index)[0] == 1.0
    assert learned.line_label("Subscribe to our daily newsletter for more", gold, index)[0] == 0.0
    snippets = bench.Page("y", "", "", "", has_gold=False,
                          with_snippets=("began returning in the afternoon",),
                          without_snippets=("Contact us",))
    assert learned.line_label(PARAGRAPHS[1], snippets, None) == (1.0, 1.0)
    assert learned.line_label("Contact us", snippets, None) == (0.0, 1.0)
    assert learned.line_label(PARAGRAPHS[0], snippets, None) is None


def test_logistic_fit_separates_a_separable_feature(learned: ModuleType) -> None:
    rng = np.random.default_rng(0)
    signal = rng.normal(size=400)
    x = np.column_stack([np.ones(400), signal, rng.normal(size=400)])
    y = (signal > 0).astype(float)
    beta = learned.fit_logistic(x, y, np.ones(400))
    assert beta[1] > 1.0 and abs(beta[2]) < 0.5
    accuracy = float(((learned.predict(x, beta) >= 0.5) == (y == 1)).mean())
    assert accuracy > 0.95

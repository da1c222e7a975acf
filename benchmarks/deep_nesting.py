"""How the block scorer's time grows with nesting depth, beside Resiliparse, as JSON.

    python benchmarks/deep_nesting.py [--depths 1000,2000,4000,8000] [--runs 3]

Real pages nest a few dozen levels; generated or broken ones (tags never closed) nest
thousands, and a walk that asks afresh at every level makes such a page cost time quadratic
in its depth (10,000 nested ``<article>``s took 21 s before 2 Dec). Each shape below is built
at each depth, and ``core.main_text.main_text_by_blocks`` (parse and block scoring) and
Resiliparse's main-content extraction (the Lexbor-based peer, the baseline) run on the same
page in turns, beside Lexbor's parse alone (the floor: its parse of nested blocks is itself
quadratic). Reported per shape and system: the median CPU seconds at each depth, and the
*growth per doubling*: the median, over the depth pairs (N, 2N), of time(2N) / time(N). About
2 is linear; about 4 is quadratic. The pages are synthetic: they measure time, not quality.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "services"))

from newsflow.core.main_text import main_text_by_blocks  # noqa: E402

PROSE = ("<p>" + "The council met on Tuesday to weigh the budget and what it means for the "
         "harbour district's schools and roads. " * 4 + "</p>")


def _nested(open_tag: str, close_tag: str, depth: int, inner: str) -> str:
    return open_tag * depth + inner + close_tag * depth


# Each shape: depth -> page. The first three were quadratic in the block scorer before 2 Dec.
SHAPES: dict[str, Callable[[int], str]] = {
    "articles": lambda depth: "<html><body>" + _nested(
        "<article>", "</article>", depth, PROSE) + "</body></html>",
    "teaser_boxes": lambda depth: "<html><body>" + _nested(
        "<div class='teaser'>", "</div>", depth, PROSE) + "</body></html>",
    "link_spans": lambda depth: "<html><body>" + PROSE * 3 + "<p>" + _nested(
        "<span><a href='/a'>linked words</a> <a href='/b'>more</a> plain ", "</span>", depth,
        "") + "</p></body></html>",
    "inline_spans": lambda depth: "<html><body>" + _nested(
        "<span>", "</span>", depth, PROSE) + "</body></html>",
}


def newsflow(html: str) -> str:
    return main_text_by_blocks(html).text


def resiliparse(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text

    return str(extract_plain_text(html, main_content=True))


def lexbor_parse(html: str) -> str:
    """The parse alone, the floor under both: Lexbor's own parse of nested blocks is quadratic
    (each block start looks down the stack of open elements for a <p> to close)."""
    from selectolax.lexbor import LexborHTMLParser

    LexborHTMLParser(html)
    return ""


SYSTEMS: dict[str, Callable[[str], str]] = {
    "newsflow": newsflow, "resiliparse": resiliparse, "lexbor_parse": lexbor_parse}


def cpu_seconds(system: Callable[[str], str], html: str) -> float:
    started = time.process_time()
    system(html)
    return time.process_time() - started


def measure(depths: list[int], runs: int) -> dict[str, dict[str, object]]:
    report: dict[str, dict[str, object]] = {}
    for shape, build in SHAPES.items():
        times: dict[str, list[float]] = {name: [] for name in SYSTEMS}
        for depth in depths:
            html = build(depth)
            samples: dict[str, list[float]] = {name: [] for name in SYSTEMS}
            for _ in range(runs):  # the systems take turns: load hits them alike
                for name, system in SYSTEMS.items():
                    samples[name].append(cpu_seconds(system, html))
            for name in SYSTEMS:
                times[name].append(statistics.median(samples[name]))
        report[shape] = {name: {
            "seconds": dict(zip(map(str, depths), (round(t, 4) for t in series), strict=True)),
            "growth_per_doubling": _growth(depths, series),
        } for name, series in times.items()}
    return report


def _growth(depths: list[int], series: list[float]) -> float | None:
    ratios = [series[i + 1] / series[i] for i in range(len(depths) - 1)
              if depths[i + 1] == 2 * depths[i] and series[i] > 0]
    return round(statistics.median(ratios), 2) if ratios else None


def _depths(text: str) -> list[int]:
    try:
        depths = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {text!r}") from None
    if len(depths) < 2 or any(d < 1 for d in depths) or depths != sorted(set(depths)):
        raise argparse.ArgumentTypeError("give two or more rising depths, each at least 1")
    return depths


def _runs(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of at least 1: {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--depths", type=_depths, default=[1000, 2000, 4000, 8000])
    parser.add_argument("--runs", type=_runs, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.depths, args.runs), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

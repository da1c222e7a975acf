"""Extraction quality and cost: our cleaner vs plain trafilatura on the article-extraction set.

Runs ``clean_document(html, "text/html", url)`` (exactly what the stream runs) and
``trafilatura.extract(html, include_comments=False)`` over the same pages in one process and
prints JSON: F1/precision/recall (the benchmark's own metric, see its README), ms/page (median
of ``--runs`` timing runs) for both, and the ratios.

    python benchmarks/extraction.py [--runs 3] [--limit N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT.parent / "shared" / "benchmarks" / "article-extraction"
TOKEN = re.compile(r"\w+")
SHINGLE = 4


@dataclass(frozen=True, slots=True)
class Page:
    id: str
    url: str
    html: str
    truth: str


def shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = TOKEN.findall(text)
    return Counter(tuple(tokens[i:i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1))


def page_precision_recall(predicted: str, truth: str) -> tuple[float, float]:
    """The benchmark's per-page figures: shingle counts normalised to sum to one."""
    pred, true = shingles(predicted), shingles(truth)
    tp = sum((pred & true).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    total = tp + fp + fn
    if total == 0:
        return 1.0, 1.0
    tp_, fp_, fn_ = tp / total, fp / total, fn / total
    precision = tp_ / (tp_ + fp_) if tp_ + fp_ else 0.0
    recall = tp_ / (tp_ + fn_) if tp_ + fn_ else 0.0
    return precision, recall


def score(predictions: Sequence[str], pages: Sequence[Page]) -> dict[str, float]:
    pairs = [page_precision_recall(predicted, page.truth)
             for predicted, page in zip(predictions, pages, strict=True)]
    precision = statistics.fmean(p for p, _ in pairs)
    recall = statistics.fmean(r for _, r in pairs)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": round(f1, 4), "precision": round(precision, 4), "recall": round(recall, 4)}


def load_pages(ids: Sequence[str] | None = None, data_dir: Path = DATA_DIR) -> list[Page]:
    truth = json.loads((data_dir / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(ids if ids is not None else truth):
        raw = gzip.decompress((data_dir / "html" / f"{page_id}.html.gz").read_bytes())
        # The stream carries decoded text (the fetcher decodes); the pages are UTF-8.
        html = raw.decode("utf-8", errors="replace")
        entry = truth[page_id]
        pages.append(Page(page_id, entry["url"], html, entry["articleBody"]))
    return pages


def ours(page: Page) -> str:
    from newsflow.core.clean import clean_document

    return clean_document(page.html, "text/html", page.url).text


def baseline(page: Page) -> str:
    import trafilatura

    return trafilatura.extract(page.html, include_comments=False) or ""


def timed_run(fn: Callable[[Page], str], pages: Sequence[Page]) -> tuple[list[str], float]:
    start = time.perf_counter()
    out = [fn(page) for page in pages]
    return out, (time.perf_counter() - start) * 1000 / len(pages)


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timing runs (median reported)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    args = parser.parse_args(argv)
    pages = load_pages()[: args.limit]
    ours(pages[0]), baseline(pages[0])  # warm up imports and caches outside the timings
    times: dict[str, list[float]] = {"ours": [], "trafilatura": []}
    outputs: dict[str, list[str]] = {}
    for _ in range(args.runs):
        # Alternate the two so machine noise hits both alike.
        for name, fn in (("trafilatura", baseline), ("ours", ours)):
            outputs[name], ms = timed_run(fn, pages)
            times[name].append(ms)
    result: dict[str, object] = {"pages": len(pages), "runs": args.runs}
    for name in ("ours", "trafilatura"):
        result[name] = {**score(outputs[name], pages),
                        "ms_per_page": round(statistics.median(times[name]), 2),
                        "ms_per_page_runs": [round(t, 2) for t in times[name]]}
    ours_r, base_r = result["ours"], result["trafilatura"]
    assert isinstance(ours_r, dict) and isinstance(base_r, dict)
    result["ratios"] = {
        "f1_delta": round(ours_r["f1"] - base_r["f1"], 4),
        "precision_delta": round(ours_r["precision"] - base_r["precision"], 4),
        "recall_delta": round(ours_r["recall"] - base_r["recall"], 4),
        "time_ratio": round(ours_r["ms_per_page"] / base_r["ms_per_page"], 3),
        # Each run times both back to back; the median of those paired ratios is less exposed
        # to load from other processes than the ratio of medians.
        "time_ratio_paired_median": round(statistics.median(
            o / b for o, b in zip(times["ours"], times["trafilatura"], strict=True)), 3),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

"""Extraction quality and cost, out of sample: newsflow and its peers on four datasets, one run.

Datasets (read at run time, never copied into the project):

* ``zyte``: the 181-page article-extraction benchmark (``../shared/benchmarks/article-extraction``);
* ``msv-chaos``, ``wceb-articles``, ``trafilatura-eval``: ``../shared/benchmarks/extraction-dev``.

Every page falls into a fixed part, ``tune`` or ``report``, by a hash of its id (see ``part_of``):
rules and thresholds are developed on ``tune`` pages only; ``report`` pages are the held-out figure.

Scores: where a gold text exists, the 4-token-shingle precision/recall/F1 of the Zyte benchmark
(per-page normalised counts, means over pages). Where snippets exist (trafilatura-eval, WCEB), the
snippet rule: a ``with`` snippet found is a true positive, one missing a false negative, a
``without`` snippet found a false positive; precision/recall/F1 over the counts of all pages, plus
the share of ``with`` snippets found and of ``without`` snippets leaked.

Margin: on each dataset's part, ``newsflow_blocks`` (what the stream runs) less the best peer of
the run, with a 95 % interval from a paired bootstrap over the pages (``margin_95``).

Cost: CPU time (``time.process_time``) of each system's call on each page; the medians per page,
the median of the per-page ratios to trafilatura's default and fast modes and the ratios of the
totals.

newsflow systems: ``newsflow`` (``clean_document`` with the block-scoring fast path off: the
trafilatura path), ``newsflow_extraction`` (the HTML-to-text step alone: lxml parse +
``extract_main_text``), the same two with the fast path on, which is what the stream runs by
default (``newsflow_blocks``, ``newsflow_blocks_extraction``;
``blocks_share`` = share of pages where its text was kept, the rest fell back to trafilatura),
and ``blocks_only`` (``core.main_text`` alone, no fallback).

    python benchmarks/extraction.py [--systems newsflow,trafilatura,...] [--parts tune,report]
        [--datasets zyte,wceb-articles] [--limit N] [--runs 1] [--per-page FILE]

JSON on stdout. ``--per-page`` writes one line per page and system (id, scores, lengths) for
error analysis; keep such files outside the repository.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "benchmarks"
DATA_DIR = SHARED / "article-extraction"
DEV_DIR = SHARED / "extraction-dev"
DEV_DATASETS = ("msv-chaos", "wceb-articles", "trafilatura-eval")
DATASETS = ("zyte", *DEV_DATASETS)
TOKEN = re.compile(r"\w+")
SHINGLE = 4
PARTS = ("tune", "report")
# Share of pages in the tune part; the rest is held out for reporting.
TUNE_SHARE = 0.5
BASELINE = "trafilatura"
FAST_BASELINE = "trafilatura_fast"
# The margin the goal is about: what the stream runs against the best peer of the same run.
OURS = "newsflow_blocks"
PEERS = ("trafilatura", "trafilatura_fast", "trafilatura_precision", "readability_lxml",
         "resiliparse")
# Page resamples for the margin's bootstrap interval; a fixed seed, so a run is repeatable.
RESAMPLES = 2000


@dataclass(frozen=True, slots=True)
class Page:
    id: str
    url: str  # "" when the dataset has none
    html: str
    truth: str  # the gold text; "" and has_gold False when the dataset has none
    dataset: str = "zyte"
    title: str = ""
    with_snippets: tuple[str, ...] = ()
    without_snippets: tuple[str, ...] = ()
    has_gold: bool = True

    @property
    def part(self) -> str:
        return part_of(self.id)


def part_of(page_id: str) -> str:
    """``tune`` or ``report``: fixed by the SHA-256 of the page id, so it never changes."""
    digest = hashlib.sha256(page_id.encode("utf-8")).digest()
    return "tune" if int.from_bytes(digest[:4], "big") / 2**32 < TUNE_SHARE else "report"


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


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def score(predictions: Sequence[str], pages: Sequence[Page]) -> dict[str, float]:
    """Shingle precision/recall/F1 over the pages that have a gold text."""
    pairs = [page_precision_recall(predicted, page.truth)
             for predicted, page in zip(predictions, pages, strict=True) if page.has_gold]
    if not pairs:
        return {}
    precision = statistics.fmean(p for p, _ in pairs)
    recall = statistics.fmean(r for _, r in pairs)
    return {"f1": round(_f1(precision, recall), 4), "precision": round(precision, 4),
            "recall": round(recall, 4)}


def _squash(text: str) -> str:
    return " ".join(text.split())


def snippet_counts(predicted: str, page: Page) -> tuple[int, int, int, int]:
    """(with found, with missing, without leaked, without kept out) for one page."""
    out = _squash(predicted)
    found = sum(1 for s in page.with_snippets if _squash(s) in out)
    leaked = sum(1 for s in page.without_snippets if _squash(s) in out)
    return (found, len(page.with_snippets) - found, leaked, len(page.without_snippets) - leaked)


def _snippet_precision_recall(tp: int, fn: int, fp: int) -> tuple[float, float]:
    return tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0


def snippet_score(predictions: Sequence[str], pages: Sequence[Page]) -> dict[str, float]:
    """Snippet precision/recall/F1 over all pages' counts, and the with/without rates."""
    tp = fn = fp = tn = 0
    for predicted, page in zip(predictions, pages, strict=True):
        a, b, c, d = snippet_counts(predicted, page)
        tp, fn, fp, tn = tp + a, fn + b, fp + c, tn + d
    if not tp + fn + fp + tn:
        return {}
    precision, recall = _snippet_precision_recall(tp, fn, fp)
    return {"snippet_f1": round(_f1(precision, recall), 4),
            "snippet_precision": round(precision, 4), "snippet_recall": round(recall, 4),
            "with_found": round(tp / (tp + fn), 4) if tp + fn else 0.0,
            "without_leaked": round(fp / (fp + tn), 4) if fp + tn else 0.0}


def load_pages(ids: Sequence[str] | None = None, data_dir: Path = DATA_DIR) -> list[Page]:
    """The Zyte article-extraction pages (dataset ``zyte``)."""
    truth = json.loads((data_dir / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(ids if ids is not None else truth):
        raw = gzip.decompress((data_dir / "html" / f"{page_id}.html.gz").read_bytes())
        # The stream carries decoded text (the fetcher decodes); the pages are UTF-8.
        html = raw.decode("utf-8", errors="replace")
        entry = truth[page_id]
        pages.append(Page(page_id, entry["url"], html, entry["articleBody"]))
    return pages


def _page_url(url: str | None) -> str:
    # trafilatura-eval keys such as "hard::file.html" are not URLs.
    return url if url and url.startswith(("http://", "https://")) else ""


def load_dev_pages(dataset: str, dev_dir: Path = DEV_DIR) -> Iterator[Page]:
    with gzip.open(dev_dir / f"{dataset}.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            gold = record.get("gold")
            yield Page(record["id"], _page_url(record.get("url")), record["html"], gold or "",
                       record["dataset"], record.get("title") or "",
                       tuple(record.get("with") or ()), tuple(record.get("without") or ()),
                       has_gold=gold is not None)


def load_all(datasets: Sequence[str], parts: Sequence[str], limit: int | None) -> list[Page]:
    pages: list[Page] = []
    for dataset in datasets:
        source = load_pages() if dataset == "zyte" else load_dev_pages(dataset)
        chosen = [page for page in source if page.part in parts]
        pages.extend(chosen[:limit])
    return pages


# --- systems -------------------------------------------------------------------------------

@dataclass(slots=True)
class Output:
    text: str
    title: str | None = None
    strategy: str | None = None  # which path of newsflow's extraction produced the text


def newsflow(page: Page, blocks_first: bool = False) -> Output:
    from newsflow.core.clean import clean_document
    from newsflow.core.params import CleanLimits

    doc = clean_document(page.html, "text/html", page.url or None,
                         limits=CleanLimits(blocks_first=blocks_first))
    return Output(doc.text, doc.title)


def newsflow_extraction(page: Page) -> Output:
    """The HTML-to-text step alone (parse + extraction, no metadata, language or line rules)."""
    from newsflow.core.clean import _parse_html
    from newsflow.core.extraction import extract_main_text

    tree = _parse_html(page.html)
    if tree is None:
        return Output("")
    extracted = extract_main_text(tree, page.url or None, page.html)
    return Output(extracted.text, strategy=extracted.strategy)


def newsflow_blocks(page: Page) -> Output:
    """``newsflow`` with the block-scoring fast path on (what the stream runs): one Lexbor parse
    for metadata and text; lxml as well when the page falls back or needs htmldate's date."""
    return newsflow(page, blocks_first=True)


def newsflow_blocks_extraction(page: Page) -> Output:
    """The extraction step with the fast path on: Lexbor block scoring; the lxml parse and
    trafilatura only when its text does not look whole."""
    from newsflow.core.main_text import main_text_by_blocks

    blocks = main_text_by_blocks(page.html)
    if blocks.confident:
        return Output(blocks.text, strategy="blocks")
    return newsflow_extraction(page)


def blocks_only(page: Page) -> Output:
    """core.main_text alone, whatever its confidence (no fallback)."""
    from newsflow.core.main_text import main_text_by_blocks

    return Output(main_text_by_blocks(page.html).text)


def ours(page: Page) -> str:  # kept for tests/unit/test_extraction_benchmark.py
    return newsflow(page).text


def _trafilatura(fast: bool = False, favor_precision: bool = False) -> Callable[[Page], Output]:
    def run(page: Page) -> Output:
        import trafilatura

        return Output(trafilatura.extract(page.html, url=page.url or None, include_comments=False,
                                          fast=fast, favor_precision=favor_precision) or "")
    return run


def baseline(page: Page) -> str:
    return _trafilatura()(page).text


BLOCKS = ("p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
          "section", "article", "table", "ul", "ol", "dd", "dt", "figcaption")


def _block_text(node: Any) -> Iterator[str]:
    """Text of an lxml element with a line break around each block element."""
    block = isinstance(node.tag, str) and node.tag in BLOCKS
    if block:
        yield "\n"
    if isinstance(node.tag, str) and node.text:
        yield node.text
    for child in node:
        yield from _block_text(child)
        if child.tail:
            yield child.tail
    if block:
        yield "\n"


def readability_lxml(page: Page) -> Output:
    from lxml import html as lxml_html
    from readability import Document

    summary = Document(page.html).summary(html_partial=True)
    root = lxml_html.fromstring(summary)
    return Output("".join(_block_text(root)))


def resiliparse(page: Page) -> Output:
    from resiliparse.extract.html2text import extract_plain_text

    return Output(extract_plain_text(page.html, main_content=True))


SYSTEMS: dict[str, Callable[[Page], Output]] = {
    "newsflow": newsflow,
    "newsflow_extraction": newsflow_extraction,
    "newsflow_blocks": newsflow_blocks,
    "newsflow_blocks_extraction": newsflow_blocks_extraction,
    "blocks_only": blocks_only,
    "trafilatura": _trafilatura(),
    "trafilatura_fast": _trafilatura(fast=True),
    "trafilatura_precision": _trafilatura(favor_precision=True),
    "readability_lxml": readability_lxml,
    "resiliparse": resiliparse,
}


# --- metadata ------------------------------------------------------------------------------

def fold(text: str | None) -> str:
    return " ".join(TOKEN.findall((text or "").lower()))


def title_score(titles: Sequence[str | None], pages: Sequence[Page]) -> dict[str, float]:
    """Exact match after case/punctuation folding, and mean token F1, over pages with a title."""
    exact, token_f1 = [], []
    for got, page in zip(titles, pages, strict=True):
        if not page.title:
            continue
        want, have = fold(page.title), fold(got)
        exact.append(want == have)
        common = sum((Counter(want.split()) & Counter(have.split())).values())
        p = common / len(have.split()) if have else 0.0
        r = common / len(want.split()) if want else 0.0
        token_f1.append(_f1(p, r))
    if not exact:
        return {}
    return {"title_pages": len(exact), "title_exact": round(statistics.fmean(exact), 4),
            "title_token_f1": round(statistics.fmean(token_f1), 4)}


# --- run -----------------------------------------------------------------------------------

@dataclass(slots=True)
class Results:
    outputs: dict[str, list[Output]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)  # seconds per page, min of runs


def run_systems(systems: Sequence[str], pages: Sequence[Page], runs: int) -> Results:
    results = Results()
    for name in systems:
        fn = SYSTEMS[name]
        fn(pages[0])  # imports and caches outside the timings
        results.cpu[name] = [float("inf")] * len(pages)
    for _ in range(runs):
        for index, page in enumerate(pages):
            # Systems take turns on each page, so load from other processes hits them alike.
            for name in systems:
                start = time.process_time()
                try:
                    out = SYSTEMS[name](page)
                except Exception:  # a system failing on a page scores an empty text
                    out = Output("")
                spent = time.process_time() - start
                results.cpu[name][index] = min(results.cpu[name][index], spent)
                results.outputs.setdefault(name, [Output("")] * len(pages))[index] = out
    return results


def _cpu_summary(cpu: Sequence[float], base: Sequence[float] | None,
                 fast_base: Sequence[float] | None = None) -> dict[str, float]:
    """Median and mean CPU per page; against trafilatura (default and fast mode): the median of
    the per-page ratios (robust to load spikes, which hit both calls of a page alike) and the
    ratio of the totals."""
    summary = {"cpu_ms_median": round(statistics.median(cpu) * 1000, 2),
               "cpu_ms_mean": round(statistics.fmean(cpu) * 1000, 2)}
    for suffix, reference in (("", base), ("_vs_fast", fast_base)):
        if reference is None:
            continue
        summary[f"cpu_ratio_paired_median{suffix}"] = round(statistics.median(
            c / b for c, b in zip(cpu, reference, strict=True) if b > 0), 3)
        summary[f"cpu_ratio_totals{suffix}"] = round(sum(cpu) / sum(reference), 3)
    return summary


def report_groups(pages: Sequence[Page]) -> list[tuple[str, list[int]]]:
    """The report's rows: each dataset's part and all datasets' part, as page indexes."""
    groups: dict[str, list[int]] = {}
    for index, page in enumerate(pages):
        groups.setdefault(f"{page.dataset}/{page.part}", []).append(index)
        groups.setdefault(f"all/{page.part}", []).append(index)
    return sorted(groups.items())


def _row_f1(pages: Sequence[Page], texts: Sequence[str]) -> Callable[[Sequence[int]], float]:
    """The dataset's F1 (shingle F1 where the pages have a gold text, else snippet F1) of any
    resample of these pages, given as indexes; per-page figures are worked out once."""
    if all(page.has_gold for page in pages):
        pairs = [page_precision_recall(text, page.truth) for text, page in zip(
            texts, pages, strict=True)]

        def shingle_f1(sample: Sequence[int]) -> float:
            return _f1(statistics.fmean(pairs[i][0] for i in sample),
                       statistics.fmean(pairs[i][1] for i in sample))
        return shingle_f1
    if any(page.has_gold for page in pages):  # one dataset's pages share one kind of gold
        raise ValueError("pages with and without a gold text have no F1 in common")
    counts = [snippet_counts(text, page) for text, page in zip(texts, pages, strict=True)]

    def snippet_f1(sample: Sequence[int]) -> float:
        tp = sum(counts[i][0] for i in sample)
        fn = sum(counts[i][1] for i in sample)
        fp = sum(counts[i][2] for i in sample)
        return _f1(*_snippet_precision_recall(tp, fn, fp))
    return snippet_f1


def margin(pages: Sequence[Page], ours: Sequence[str], peers: Mapping[str, Sequence[str]],
           resamples: int = RESAMPLES, seed: int = 15) -> dict[str, object]:
    """Ours less the best peer on one dataset's pages (the best chosen on all of them), with a
    95 % paired bootstrap interval: pages drawn with replacement, both systems scored on the
    same draw. A margin of +0.005 on 100 pages can be noise; the interval says so."""
    if not pages or not peers or resamples < 40:
        raise ValueError("a margin needs pages, a peer, and at least 40 resamples for a 95 % "
                         "interval")
    whole = list(range(len(pages)))
    ours_f1 = _row_f1(pages, ours)
    peer_f1 = {name: _row_f1(pages, texts) for name, texts in peers.items()}
    best = max(peer_f1, key=lambda name: peer_f1[name](whole))
    rng = random.Random(seed)
    diffs = sorted(ours_f1(sample) - peer_f1[best](sample) for sample in (
        [rng.randrange(len(pages)) for _ in whole] for _ in range(resamples)))
    outside = int(0.025 * resamples)  # draws left out on each side
    low, high = diffs[outside], diffs[resamples - 1 - outside]
    return {"best_peer": best, "f1_margin": round(ours_f1(whole) - peer_f1[best](whole), 4),
            "margin_95": [round(low, 4), round(high, 4)]}


def report(pages: Sequence[Page], results: Results) -> dict[str, object]:
    table: dict[str, object] = {}
    for group, indexes in report_groups(pages):
        chosen = [pages[i] for i in indexes]
        row: dict[str, object] = {"pages": len(chosen)}
        base = results.cpu.get(BASELINE)
        fast_base = results.cpu.get(FAST_BASELINE)
        for name, outputs in results.outputs.items():
            texts = [outputs[i].text for i in indexes]
            figures: dict[str, float] = {**score(texts, chosen), **snippet_score(texts, chosen)}
            figures.update(_cpu_summary([results.cpu[name][i] for i in indexes],
                                        [base[i] for i in indexes] if base else None,
                                        [fast_base[i] for i in indexes] if fast_base else None))
            if name in ("newsflow", "newsflow_blocks"):
                figures.update(title_score([outputs[i].title for i in indexes], chosen))
            if name == "newsflow_blocks_extraction":
                kept = sum(1 for i in indexes if outputs[i].strategy == "blocks")
                figures["blocks_share"] = round(kept / len(indexes), 4)
            row[name] = figures
        peers = {name: [results.outputs[name][i].text for i in indexes]
                 for name in PEERS if name in results.outputs}
        if not group.startswith("all/") and OURS in results.outputs and peers:
            row["margin"] = margin(chosen, [results.outputs[OURS][i].text for i in indexes],
                                   peers)
        table[group] = row
    return table


def write_per_page(out: TextIO, pages: Sequence[Page], results: Results) -> None:
    """One JSON line per page and system: its text's length, CPU and scores."""
    for index, page in enumerate(pages):
        for name, outputs in results.outputs.items():
            text = outputs[index].text
            row: dict[str, object] = {"id": page.id, "dataset": page.dataset,
                                      "part": page.part, "system": name, "chars": len(text),
                                      "cpu_ms": round(results.cpu[name][index] * 1000, 2)}
            if outputs[index].strategy:
                row["strategy"] = outputs[index].strategy
            if page.has_gold:
                p, r = page_precision_recall(text, page.truth)
                row.update(precision=round(p, 4), recall=round(r, 4),
                           f1=round(_f1(p, r), 4), gold_chars=len(page.truth))
            if page.with_snippets or page.without_snippets:
                row["snippets"] = snippet_counts(text, page)
            out.write(json.dumps(row) + "\n")


def positive_int(text: str) -> int:
    """An option's count: 1 or more (``--limit -1`` sliced "all but the last page")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


def page_options(description: str, systems: Iterable[str]) -> argparse.ArgumentParser:
    """The options every benchmark over these pages takes: systems, datasets, parts, limit."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--systems", default=",".join(systems))
    parser.add_argument("--datasets", default=",".join(DATASETS), help=", ".join(DATASETS))
    parser.add_argument("--parts", default=",".join(PARTS), help=", ".join(PARTS))
    parser.add_argument("--limit", type=positive_int, default=None,
                        help="first N pages per dataset")
    return parser


def _names(parser: argparse.ArgumentParser, option: str, text: str,
           known: Iterable[str]) -> list[str]:
    """A comma-separated list of known names, each once, in the order given; an unknown one or
    none at all is a usage error."""
    names = list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    known = list(known)
    unknown = [name for name in names if name not in known]
    if unknown:
        parser.error(f"{option}: unknown {', '.join(map(repr, unknown))} (known: "
                     f"{', '.join(known)})")
    if not names:
        parser.error(f"{option}: none given (known: {', '.join(known)})")
    return names


def chosen_systems_and_pages(parser: argparse.ArgumentParser, args: argparse.Namespace,
                             systems: Iterable[str]) -> tuple[list[str], list[Page]]:
    """The systems asked for and the pages they run on; an unknown system, dataset or part, or
    a choice with no page, is a usage error."""
    chosen = _names(parser, "--systems", args.systems, systems)
    datasets = _names(parser, "--datasets", args.datasets, DATASETS)
    parts = _names(parser, "--parts", args.parts, PARTS)
    pages = load_all(datasets, parts, args.limit)
    if not pages:
        parser.error("no page to run on")
    return chosen, pages


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    parser = page_options((__doc__ or "").splitlines()[0], SYSTEMS)
    parser.add_argument("--runs", type=positive_int, default=1,
                        help="timing runs (minimum CPU kept)")
    parser.add_argument("--per-page", type=Path, default=None)
    args = parser.parse_args(argv)
    systems, pages = chosen_systems_and_pages(parser, args, SYSTEMS)
    # Opened before the run, not after it: a path that cannot be written would otherwise end
    # a 15-minute run in a traceback with nothing printed. Written beside the file and moved
    # over it at the end, so that a run that fails keeps the last one's rows.
    partial = args.per_page.with_name(f".{args.per_page.name}.partial") if args.per_page else None
    try:
        per_page = partial.open("w", encoding="utf-8") if partial else None
    except OSError as exc:
        parser.error(f"--per-page: cannot write {args.per_page}: {exc.strerror or exc}")
    try:
        results = run_systems(systems, pages, args.runs)
        result: dict[str, object] = {"pages": len(pages), "runs": args.runs, "systems": systems,
                                     "tune_share": TUNE_SHARE, "results": report(pages, results)}
        print(json.dumps(result, indent=2), flush=True)
        if per_page is not None and partial is not None:
            with per_page:
                write_per_page(per_page, pages, results)
            partial.replace(args.per_page)
    finally:
        if per_page is not None and partial is not None and not per_page.closed:
            per_page.close()
            partial.unlink(missing_ok=True)
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

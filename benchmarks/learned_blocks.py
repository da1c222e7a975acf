"""Issue 15k: a learned decision on top of the block scorer, judged out of fold on tune pages.

Learned decisions over features the Lexbor walk of ``core.main_text`` already computes (no
extra parse; inference would be a dot product per line or page):

* **lines**: which lines the block scorer writes (a logistic regression, or a small tree
  ensemble, over each line's block: length, link share, tag, depth, position, class/id words
  hashed, punctuation, neighbours, the hand rules' verdict; optionally the line's own words
  hashed), as an override of the hand rules: a written line goes when its probability is under
  ``drop``, a line they drop stays when over ``add``;
* **gate**: whether the block scorer's text stands or the trafilatura path runs (a logistic
  model over page figures, as an override of the hand ``confident`` rule or alone; at most
  ``GATE_MAX_FALLBACK`` of the pages fall back, which is what costs CPU);
* **container** among the scorer's top five: only its ceiling (``cache-candidates``).

Only ``tune`` pages are read (``extraction.part_of``); the report part is never run. Labels
come from the gold text (a line's share of 4-token shingles found in the gold) or, for
trafilatura-eval, from its snippets (a line holding a ``with`` snippet is kept, a ``without``
one dropped). Judged by cross-validation: leave one dataset out (train on three, test on the
fourth) and three hash folds (SHA-256 of ``"fold:" + id``), each against the current default
on the same pages and the best peer per dataset; thresholds are chosen on the training
folds for the best worst training dataset. ``evaluate`` also prints ceilings (gold labels
used: the most each decision could gain). Result, docs/cleaning.md ("Tune part, issue 15k"):
no learned decision beat the default out of fold, so nothing of it ships.

    python benchmarks/learned_blocks.py cache             # run the systems once (~10 min)
    python benchmarks/learned_blocks.py cache-candidates  # the top containers' texts
    python benchmarks/learned_blocks.py evaluate [VARIANT,...]  # out of fold, from the cache

numpy for the logistic models (Newton's method); the tree variants need scikit-learn, which
is not a dependency of the project (they are skipped without it). The cache holds extracted
texts of third-party pages: it lives outside the project (``/tmp`` by default,
``LEARNED_BLOCKS_CACHE``), never in the repository.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import re
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import extraction as bench

CACHE_DIR = Path(os.environ.get("LEARNED_BLOCKS_CACHE", "/tmp/learned_blocks_cache"))
PEERS = ("trafilatura", "trafilatura_fast", "trafilatura_precision", "readability_lxml",
         "resiliparse")
FOLDS = 3


def hash_fold(page_id: str) -> int:
    digest = hashlib.sha256(f"fold:{page_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % FOLDS


# --- instrumented block scorer ---------------------------------------------------------------

def _instrumented_writer_class() -> Any:
    from newsflow.core import main_text as mt

    class Writer(mt._Writer):  # type: ignore[misc,name-defined]
        """``_Writer`` that also records every line it meets: kept, dropped for link share, or
        cut after a teaser heading, with the block that wrote it."""

        def __init__(self, measure: Any, role: str) -> None:
            super().__init__(measure)
            self.role = role
            self.block_stack: list[Any] = []
            self.records: list[dict[str, Any]] = []
            self.root: Any = None

        def write(self, root: Any) -> None:
            self.root = root
            stack: list[Any] = []
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
                    entered = (tag in mt.LIST_TAGS
                               and self.measure.links.get(child.mem_id, 0) > 0
                               and self._introduces_list())
                    if tag in mt.GROUP_TAGS and not entered and self._link_heavy(child):
                        if self.measure.chars.get(child.mem_id, 0) <= mt.TEASER_HEADING_MAX_CHARS:
                            self._check_end(child.text(deep=True, strip=True))
                        continue
                    if tag in mt.SKIP_TAGS and not (tag == "h1" and self.headline_seen):
                        self.headline_seen |= tag == "h1"
                        self._check_end(child.text(deep=True, strip=True))
                        continue
                    if self.clusters and child.mem_id in self.clusters:
                        continue
                    push((children, is_link, before, introduced, block))
                    block = tag in mt.BLOCK_TAGS
                    if block:
                        self.flush()
                        self.block_stack.append(child)
                        self._leave_out_link_clusters(child)
                    is_link = tag == "a"
                    introduced = entered
                    before = self.line_chars
                    if introduced:
                        self.in_introduced_list += 1
                    children = child.iter(include_text=True)
                    break
                else:
                    if not stack:
                        return
                    if is_link:
                        self.link_chars += self.line_chars - before
                    elif introduced:
                        self.flush()
                        self.in_introduced_list -= 1
                    if block:
                        self.flush()
                        self.block_stack.pop()
                    children, is_link, before, introduced, block = pop()

        def flush(self) -> None:
            if not self.line:
                self.link_chars = 0
                return
            text = self._line_text()
            link_chars = self.link_chars
            ended_before = self.ended
            self._check_end(text)
            if text:
                keep_links = (self.in_introduced_list
                              or link_chars <= mt.MAX_LINE_LINK_SHARE * len(text))
                if not keep_links:
                    status = "link"
                elif self.ended:
                    status = "tail"
                else:
                    status = "kept"
                owner = self.block_stack[-1] if self.block_stack else self.root
                self.records.append({
                    "text": text, "links": link_chars, "status": status, "role": self.role,
                    "node": owner, "introduced": bool(self.in_introduced_list),
                    "heading_end": self.ended and not ended_before,
                })
            super().flush()

    return Writer


def instrumented_main_text(root: Any) -> tuple[Any, dict[str, Any]]:
    """``main_text._main_text`` with its page figures and line records (same text)."""
    from newsflow.core import main_text as mt

    writer_class = _instrumented_writer_class()
    records: list[dict[str, Any]] = []
    groups = [0]

    def container_text(container: Any, measure: Any, role: str) -> tuple[str, int]:
        writer = writer_class(measure, role)
        writer.write(container)
        writer.flush()
        groups[0] += 1
        for record in writer.records:
            record["container"] = container
            record["group"] = groups[0]
        cut = sum(len(line) for line in writer.tail)
        batch = writer.records
        if cut > writer.written:
            for record in batch:
                if record["status"] == "tail":
                    record["status"] = "kept"
            records.extend(batch)
            return "\n".join(writer.lines + writer.tail), 0
        records.extend(batch)
        return "\n".join(writer.lines), cut

    hidden = mt._strip_junk(root)
    measure = mt._Measure()
    page_text = measure.walk(root)[0]
    best = mt._best(measure)
    info: dict[str, Any] = {"records": records}
    if best is None:
        return mt.MainText("", False), info
    scores = sorted(measure.scores.values(), reverse=True)
    first = best
    best = mt._widen(best, measure)
    body = mt.body_text(best, measure, page_text, hidden,
                        lambda node, m: container_text(node, m, "body"))
    text, lead = mt.with_lead(body, measure, lambda node, m: container_text(node, m, "lead"))
    if not lead:
        for record in records:
            if record["role"] == "lead":
                record["status"] = "unused"
    key = best.mem_id
    chars = measure.chars.get(key, 0)
    info.update(
        text_chars=len(body.text), written=body.written,
        cut=body.written - len(body.text), paragraph_chars=measure.paragraph_chars,
        page_text=page_text, hidden=hidden,
        container_chars=chars, container_links=measure.links.get(key, 0),
        container_prose=measure.prose.get(key, 0), parts=len(body.parts),
        lead_chars=len(lead), top_score=scores[0] if scores else 0.0,
        second_score=scores[1] if len(scores) > 1 else 0.0, widened=first.mem_id != key,
        container_tag=best.tag, names_article=mt._names_article(best), long_ok=body.long_enough,
        short_ok=body.short_whole, confident=body.confident, depth=_depth(best),
        measure=measure,
    )
    return mt.MainText(text, body.confident), info


def _depth(node: Any) -> int:
    depth = 0
    while node.parent is not None:
        depth += 1
        node = node.parent
    return depth


# --- line features ---------------------------------------------------------------------------

HASH_BUCKETS = 32
NAME_WORDS = re.compile(r"[a-z]+")
LINE_TAGS = ("p", "div", "li", "td", "h2", "h3", "h4", "blockquote", "section", "span", "dd",
             "pre", "article", "header")
PUNCT = re.compile(r"[.,;:!?\"'()«»“”‘’—–-]")


def _bucket(word: str) -> int:
    return int.from_bytes(hashlib.md5(word.encode()).digest()[:4], "big") % HASH_BUCKETS


def _names(node: Any) -> list[str]:
    if node is None or node.tag in ("-text", None):
        return []
    attrs = node.attributes
    raw = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
    raw = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", raw).lower()
    return [w for w in NAME_WORDS.findall(raw) if 2 < len(w) < 20]


def line_rows(info: dict[str, Any]) -> list[dict[str, Any]]:
    """One plain record per line (no nodes), with its features' raw values."""
    records = info.get("records", [])
    measure = info.get("measure")
    rows: list[dict[str, Any]] = []
    total_kept = sum(len(r["text"]) for r in records if r["status"] == "kept") or 1
    position = 0
    for index, record in enumerate(records):
        node, container = record["node"], record["container"]
        text = record["text"]
        depth = 0
        walk = node
        while walk is not None and walk.mem_id != container.mem_id and depth < 20:
            depth += 1
            walk = walk.parent
        parent = node.parent if node is not None else None
        block_chars = measure.chars.get(node.mem_id, len(text)) if measure else len(text)
        block_links = measure.links.get(node.mem_id, 0) if measure else 0
        rows.append({
            "text": text, "status": record["status"], "role": record["role"],
            "group": record["group"],
            "links": record["links"], "tag": node.tag if node is not None else "",
            "parent_tag": parent.tag if parent is not None else "",
            "names": _names(node) + ["p:" + w for w in _names(parent)],
            "depth": depth, "introduced": record["introduced"],
            "heading_end": record["heading_end"], "index": index, "count": len(records),
            "position": position / total_kept, "block_chars": block_chars,
            "block_links": block_links,
        })
        if record["status"] == "kept":
            position += len(text)
    return rows


def line_features(rows: Sequence[dict[str, Any]], page: dict[str, Any]) -> list[list[float]]:
    feats: list[list[float]] = []
    for i, row in enumerate(rows):
        text = row["text"]
        n = len(text)
        words = text.split()
        prev = rows[i - 1] if i else None
        nxt = rows[i + 1] if i + 1 < len(rows) else None
        f = [
            1.0,
            math.log1p(n) / 8,
            math.log1p(len(words)) / 6,
            row["links"] / max(n, 1),
            row["block_links"] / max(row["block_chars"], 1),
            len(PUNCT.findall(text)) / max(n, 1) * 10,
            float(text.rstrip()[-1:] in ".!?\"”’)…:" if text else 0),
            float(text.rstrip().endswith(":")),
            sum(c.isdigit() for c in text) / max(n, 1) * 5,
            sum(c.isupper() for c in text) / max(n, 1) * 5,
            float(len(words) >= 12),
            float(len(words) <= 3),
            min(row["depth"], 10) / 10,
            row["position"],
            float(row["index"] == 0),
            float(row["index"] == row["count"] - 1),
            float(row["role"] == "lead"),
            float(row["status"] == "link"),
            float(row["status"] == "tail"),
            float(row["introduced"]),
            float(row["heading_end"]),
            math.log1p(len(prev["text"])) / 8 if prev else 0.0,
            math.log1p(len(nxt["text"])) / 8 if nxt else 0.0,
            prev["links"] / max(len(prev["text"]), 1) if prev else 0.0,
            nxt["links"] / max(len(nxt["text"]), 1) if nxt else 0.0,
            float("©" in text or "copyright" in text.lower()),
            float("http" in text or "www." in text),
            float("|" in text),
            math.log1p(page.get("text_chars", 0)) / 10,
        ]
        f += [float(row["tag"] == t) for t in LINE_TAGS]
        f += [float(row["parent_tag"] == t) for t in LINE_TAGS]
        hashed = [0.0] * HASH_BUCKETS
        for word in row["names"]:
            hashed[_bucket(word)] = 1.0
        f += hashed
        feats.append(f)
    return feats


# --- page (gate) features --------------------------------------------------------------------

GATE_TAGS = ("div", "article", "section", "main", "body", "td")


def gate_features(page: dict[str, Any]) -> list[float]:
    text = max(page["text_chars"], 1)
    written = max(page["written"], 1)
    para = max(page["paragraph_chars"], 1)
    ptext = max(page["page_text"], 1)
    cchars = max(page["container_chars"], 1)
    f = [
        1.0,
        math.log1p(page["text_chars"]) / 10,
        math.log1p(page["paragraph_chars"]) / 10,
        math.log1p(page["page_text"]) / 10,
        min(written / para, 2.0),
        min(page["container_prose"] / para, 2.0),
        min(page["container_chars"] / ptext, 2.0),
        page["container_links"] / cchars,
        min(written / cchars, 2.0),
        min(page["hidden"] / written, 3.0),
        min(page["cut"] / written, 2.0),
        min(page["parts"], 5) / 5,
        min(page["lead_chars"] / text, 1.0),
        math.log1p(page["top_score"]) / 6,
        page["second_score"] / max(page["top_score"], 1e-9),
        float(page["widened"]),
        float(page["names_article"]),
        float(page["long_ok"]),
        float(page["short_ok"]),
        float(page["confident"]),
        min(page["depth"], 30) / 30,
        page.get("prose_share", 0.0),
        min(page.get("lines", 0), 200) / 200,
        page.get("link_dropped_share", 0.0),
    ]
    f += [float(page["container_tag"] == t) for t in GATE_TAGS]
    return f


# --- cache -----------------------------------------------------------------------------------

def tune_pages() -> list[bench.Page]:
    return bench.load_all(bench.DATASETS, ("tune",), None)


def _cache_page(page: bench.Page) -> dict[str, Any]:
    from newsflow.core import clean as clean_module
    from newsflow.core import main_text as mt
    from newsflow.core import metadata as md
    from newsflow.core.clean import clean_document
    from newsflow.core.params import CleanLimits

    captured: dict[str, Any] = {}
    original_main = mt.main_text_of_page
    original_meta = md.read_metadata

    def forced(parser: Any) -> Any:
        root = parser.body or parser.root
        if root is None:
            captured["info"] = {"records": []}
            return mt.MainText("", True)
        result, info = instrumented_main_text(root)
        captured["info"] = info
        captured["blocks_raw"] = result.text
        captured["confident"] = result.confident
        return mt.MainText(result.text, True)

    def meta(parser: Any, url: str | None = None) -> Any:
        value = original_meta(parser, url)
        captured["meta"] = (value.title, value.headline, tuple(value.authors))
        return value

    mt.main_text_of_page = forced  # type: ignore[assignment]
    md.read_metadata = meta  # type: ignore[assignment]
    try:
        forced_doc = clean_document(page.html, "text/html", page.url or None,
                                    limits=CleanLimits(blocks_first=True))
    finally:
        mt.main_text_of_page = original_main  # type: ignore[assignment]
        md.read_metadata = original_meta  # type: ignore[assignment]
    del clean_module
    traf_doc = clean_document(page.html, "text/html", page.url or None,
                              limits=CleanLimits(blocks_first=False))
    default_doc = clean_document(page.html, "text/html", page.url or None,
                                 limits=CleanLimits(blocks_first=True))
    info = captured.get("info", {"records": []})
    rows = line_rows(info) if info.get("records") else []
    page_info = {k: v for k, v in info.items() if k not in ("records", "measure")}
    out: dict[str, Any] = {
        "id": page.id, "dataset": page.dataset, "fold": hash_fold(page.id),
        "forced": forced_doc.text, "traf": traf_doc.text, "default": default_doc.text,
        "blocks_raw": captured.get("blocks_raw", ""), "confident": captured.get("confident"),
        "meta": captured.get("meta", (None, None, ())), "page": page_info, "lines": rows,
    }
    # CPU of the extraction step (default) and trafilatura's default, paired on this page
    start = time.process_time()
    bench.newsflow_blocks_extraction(page)
    out["cpu_default_extraction"] = time.process_time() - start
    for name in PEERS:
        start = time.process_time()
        try:
            text = bench.SYSTEMS[name](page).text
        except Exception:
            text = ""
        out[f"cpu_{name}"] = time.process_time() - start
        out[name] = text
    return out


def cache() -> None:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    pages = tune_pages()
    assert all(p.part == "tune" for p in pages)
    path = CACHE_DIR / "pages.pkl"
    done: dict[str, Any] = {}
    if path.exists():
        done = pickle.loads(path.read_bytes())
    bench.SYSTEMS["trafilatura"](pages[0])
    for index, page in enumerate(pages):
        if page.id in done:
            continue
        done[page.id] = _cache_page(page)
        if index % 50 == 0:
            path.write_bytes(pickle.dumps(done))
            print(index, len(pages), file=sys.stderr, flush=True)
    path.write_bytes(pickle.dumps(done))


def load_cache() -> dict[str, Any]:
    result: dict[str, Any] = pickle.loads((CACHE_DIR / "pages.pkl").read_bytes())
    return result


# --- post-processing of an extraction text (as clean.extract_html does) ----------------------

def finish(raw_lines: Sequence[str], meta: tuple[Any, Any, tuple[str, ...]]) -> str:
    from newsflow.core.boilerplate import strip_boilerplate
    from newsflow.core.clean import drop_leading_title, normalise_text

    title, headline, authors = meta
    lines = [line for line in normalise_text("\n".join(raw_lines)).split("\n") if line]
    kept, _ = strip_boilerplate(lines, authors=authors)
    kept, _ = drop_leading_title(kept, [title, headline])
    return "\n\n".join(kept)


# --- labels ----------------------------------------------------------------------------------

def _tokens(text: str) -> list[str]:
    return bench.TOKEN.findall(text)


def gold_index(truth: str) -> tuple[set[tuple[str, ...]], str]:
    tokens = _tokens(truth)
    grams = {tuple(tokens[i:i + bench.SHINGLE]) for i in range(len(tokens) - bench.SHINGLE + 1)}
    return grams, f" {' '.join(tokens)} "


def line_label(text: str, page: bench.Page, index: Any) -> tuple[float, float] | None:
    """(label, weight) of one line: 1 when it belongs in the page's text, None when unknown."""
    if page.has_gold:
        grams, joined = index
        tokens = _tokens(text)
        if not tokens:
            return None
        if len(tokens) >= bench.SHINGLE:
            mine = [tuple(tokens[i:i + bench.SHINGLE])
                    for i in range(len(tokens) - bench.SHINGLE + 1)]
            share = sum(g in grams for g in mine) / len(mine)
        else:
            share = float(f" {' '.join(tokens)} " in joined)
        return float(share >= 0.5), float(len(tokens))
    line = bench._squash(text)
    if len(line) < 3:
        return None
    good = any(bench._squash(s) in line or (len(line) >= 20 and line in bench._squash(s))
               for s in page.with_snippets)
    bad = any(bench._squash(s) in line or (len(line) >= 20 and line in bench._squash(s))
              for s in page.without_snippets)
    if good == bad:
        return None
    return float(good), 1.0


# --- a logistic regression by Newton's method ----------------------------------------------

def fit_logistic(x: Any, y: Any, w: Any, l2: float = 1.0) -> Any:
    import numpy as np

    beta = np.zeros(x.shape[1])
    penalty = l2 * np.eye(x.shape[1])
    penalty[0, 0] = 1e-6  # the intercept is not shrunk
    for _ in range(30):
        p = 1 / (1 + np.exp(-np.clip(x @ beta, -30, 30)))
        grad = x.T @ (w * (p - y)) + penalty @ beta
        hess = (x * (w * p * (1 - p))[:, None]).T @ x + penalty
        step = np.linalg.solve(hess, grad)
        beta -= step
        if float(np.abs(step).max()) < 1e-6:
            break
    return beta


def predict(x: Any, beta: Any) -> Any:
    import numpy as np

    return 1 / (1 + np.exp(-np.clip(x @ beta, -30, 30)))


# --- evaluation ------------------------------------------------------------------------------

def _candidates(entry: dict[str, Any]) -> list[int]:
    """Indexes of the lines the model decides on: all lines of the body, and the lead's when
    the lead was used (the default keeps those with status ``kept``)."""
    return [i for i, row in enumerate(entry["lines"]) if row["status"] != "unused"]


def assemble(entry: dict[str, Any], keep: dict[int, bool]) -> str:
    """The finished text from the lines kept: the lead (its blocks in page order) first."""
    rows = entry["lines"]
    lead_groups: dict[int, list[str]] = {}
    body: list[str] = []
    for i, row in enumerate(rows):
        if not keep.get(i, False):
            continue
        if row["role"] == "lead":
            lead_groups.setdefault(row["group"], []).append(row["text"])
        else:
            body.append(row["text"])
    lead = [line for group in sorted(lead_groups, reverse=True) for line in lead_groups[group]]
    return finish(lead + body, entry["meta"])


def page_features(entry: dict[str, Any]) -> dict[str, Any]:
    page = dict(entry["page"])
    rows = [r for r in entry["lines"] if r["status"] == "kept"]
    text = "\\n".join(r["text"] for r in rows)
    from newsflow.core.extraction import prose_share

    page["prose_share"] = prose_share(text)
    page["lines"] = len(rows)
    all_chars = sum(len(r["text"]) for r in entry["lines"]) or 1
    page["link_dropped_share"] = sum(len(r["text"]) for r in entry["lines"]
                                     if r["status"] == "link") / all_chars
    return page


_GOLD: dict[str, Any] = {}


def _gold_shingles(page: bench.Page) -> Any:
    if page.id not in _GOLD:
        _GOLD[page.id] = bench.shingles(page.truth)
    return _GOLD[page.id]


_PAGE_FIGURES: dict[tuple[str, str], tuple[float, ...]] = {}


def _figures(text: str, page: bench.Page) -> tuple[float, ...]:
    """(precision, recall) of a page with a gold text, else its snippet counts; memoised."""
    key = (page.id, text)
    if key not in _PAGE_FIGURES:
        if page.has_gold:
            pred, true = bench.shingles(text), _gold_shingles(page)
            tp = sum((pred & true).values())
            fp = sum(pred.values()) - tp
            fn = sum(true.values()) - tp
            total = tp + fp + fn
            if total == 0:
                _PAGE_FIGURES[key] = (1.0, 1.0)
            else:
                _PAGE_FIGURES[key] = (tp / (tp + fp) if tp + fp else 0.0,
                                      tp / (tp + fn) if tp + fn else 0.0)
        else:
            _PAGE_FIGURES[key] = tuple(float(v) for v in bench.snippet_counts(text, page))
    return _PAGE_FIGURES[key]


def _dataset_score(texts: Sequence[str], pages: Sequence[bench.Page]) -> float:
    """The benchmark's figure for these pages: shingle F1 (means over pages), else snippet F1."""
    if not pages:
        return float("nan")
    figures = [_figures(t, p) for t, p in zip(texts, pages, strict=True)]
    if pages[0].has_gold:
        precision = statistics.fmean(f[0] for f in figures)
        recall = statistics.fmean(f[1] for f in figures)
        return round(bench._f1(precision, recall), 4)
    tp = sum(f[0] for f in figures)
    fn = sum(f[1] for f in figures)
    fp = sum(f[2] for f in figures)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return round(bench._f1(precision, recall), 4)


def _page_value(text: str, page: bench.Page) -> float:
    """A page's own figure: shingle F1, or snippets found less leaked per snippet."""
    f = _figures(text, page)
    if page.has_gold:
        return bench._f1(f[0], f[1])
    return (f[0] - f[2]) / max(sum(f), 1.0)


# Overrides of the hand rules, tried on the training pages (the first is the default):
# a written line is dropped when its probability is under DROP, a line the rules drop
# (link-heavy, after a teaser heading) is kept when over ADD.
LINE_GRID = [(0.0, 1.01)] + [(d, a) for d in (0.1, 0.2, 0.3, 0.4) for a in (0.7, 0.8, 0.9, 1.01)]
# The gate: a confident text falls back when the probability that the trafilatura path is
# better is over HIGH; a text not confident stands when under LOW.
GATE_GRID = [(-0.01, 1.01)] + [(lo, hi) for lo in (-0.01, 0.1, 0.2, 0.3)
                               for hi in (0.6, 0.7, 0.8, 0.9, 1.01)]
GATE_MAX_FALLBACK = 0.2
_ASSEMBLED: dict[tuple[str, tuple[int, ...]], str] = {}


def _lines_text(entry: dict[str, Any], probs: Any, drop: float, add: float) -> str:
    if not entry["lines"] or probs is None:
        return str(entry["forced"])
    keep = {}
    for i, p in zip(_candidates(entry), probs, strict=True):
        kept = entry["lines"][i]["status"] == "kept"
        keep[i] = (p >= drop) if kept else (p > add)
    key = (entry["id"], tuple(i for i, k in keep.items() if k))
    if key not in _ASSEMBLED:
        _ASSEMBLED[key] = assemble(entry, keep)
    return _ASSEMBLED[key]


def _gate_choice(entry: dict[str, Any], prob: float | None, low: float, high: float) -> bool:
    """True: the trafilatura path's text."""
    if prob is None:
        return not entry["confident"]
    return prob > high if entry["confident"] else prob >= low


LEXICAL_BUCKETS = 256
LEX_WORDS = re.compile(r"\w+")


def lexical_features(rows: Sequence[dict[str, Any]]) -> Any:
    """The line's own words, hashed (a learned counterpart of the line rules' phrase lists)."""
    import numpy as np

    lex = np.zeros((len(rows), LEXICAL_BUCKETS))
    for j, row in enumerate(rows):
        for word in set(LEX_WORDS.findall(row["text"].lower())):
            lex[j, int.from_bytes(hashlib.md5(word.encode()).digest()[:4], "big")
                % LEXICAL_BUCKETS] = 1.0
    return lex


class _Data:
    """Features and labels of every tune page's lines and of its gate decision."""

    def __init__(self) -> None:
        import numpy as np

        self.entries = load_cache()
        self.pages = {p.id: p for p in tune_pages()}
        self.ids = [i for i in self.pages if i in self.entries]
        assert all(self.pages[i].part == "tune" for i in self.ids)
        self.dataset_of = {pid: self.pages[pid].dataset for pid in self.ids}
        self.feats: dict[str, Any] = {}
        self.lex: dict[str, Any] = {}
        rows: dict[str, list[Any]] = {k: [] for k in ("x", "lex", "y", "w", "page")}
        gate: dict[str, list[Any]] = {k: [] for k in ("x", "y", "w", "page")}
        for pid in self.ids:
            entry, page = self.entries[pid], self.pages[pid]
            entry["default"] = str(entry["default"])
            entry["gate_x"] = None
            if not entry["lines"]:
                continue
            pf = page_features(entry)
            feats = np.array(line_features(entry["lines"], pf))
            lex = lexical_features(entry["lines"])
            self.feats[pid], self.lex[pid] = feats, lex
            index = gold_index(page.truth) if page.has_gold else None
            labels = []
            for i in _candidates(entry):
                label = line_label(entry["lines"][i]["text"], page, index)
                if label is not None:
                    labels.append((i, *label))
            total = sum(w for _, _, w in labels) or 1.0
            for i, y, w in labels:
                rows["x"].append(feats[i])
                rows["lex"].append(lex[i])
                rows["y"].append(y)
                # a page with a gold text weighs the same whatever its length (the benchmark's
                # per-page means); a snippet line a quarter of such a page
                rows["w"].append(w / total if page.has_gold else 0.25)
                rows["page"].append(pid)
            entry["gate_x"] = gate_features(pf)
            delta = _page_value(entry["traf"], page) - _page_value(entry["forced"], page)
            gate["x"].append(entry["gate_x"])
            gate["y"].append(float(delta > 0))
            gate["w"].append(abs(delta) + 1e-3)
            gate["page"].append(pid)
        self.lines = {k: np.array(v) for k, v in rows.items()}
        self.gate = {k: np.array(v) for k, v in gate.items()}


def _fit_lines(data: _Data, train: set[str], model: str) -> Any:
    """A function page id -> the probabilities of its candidate lines."""
    import numpy as np

    mask = np.isin(data.lines["page"], list(train))
    x = data.lines["x"]
    if model.endswith("+lex"):
        x = np.hstack([x, data.lines["lex"]])
    y, w = data.lines["y"][mask], data.lines["w"][mask]
    w = w / w.mean()
    if model.startswith("gbm"):
        from sklearn.ensemble import HistGradientBoostingClassifier  # training-time only

        clf = HistGradientBoostingClassifier(max_iter=150, max_depth=4, learning_rate=0.1,
                                             min_samples_leaf=40, random_state=0)
        clf.fit(x[mask], y, sample_weight=w)

        def score(f: Any) -> Any:
            return clf.predict_proba(f)[:, 1]
    else:
        beta = fit_logistic(x[mask], y, w)

        def score(f: Any) -> Any:
            return predict(f, beta)

    def probs(pid: str) -> Any:
        entry = data.entries[pid]
        cands = _candidates(entry)
        if pid not in data.feats or not cands:
            return None
        f = data.feats[pid]
        if model.endswith("+lex"):
            f = np.hstack([f, data.lex[pid]])
        return score(f[cands])
    return probs


def _line_variant(model: str) -> Any:
    def run(data: _Data, train_ids: Sequence[str], test_ids: Sequence[str]) -> Any:
        probs_of = _fit_lines(data, set(train_ids), model)
        probs = {p: probs_of(p) for p in data.ids}
        drop, add = _choose_lines(data.entries, data.pages, train_ids, probs)
        texts = {}
        for pid in test_ids:
            entry = data.entries[pid]
            texts[pid] = (_lines_text(entry, probs[pid], drop, add) if entry["confident"]
                          else entry["default"])
        return texts, {"drop_below": drop, "add_above": add}
    return run


def _gate_variant(replace: bool) -> Any:
    def run(data: _Data, train_ids: Sequence[str], test_ids: Sequence[str]) -> Any:
        import numpy as np

        train = set(train_ids)
        gmask = np.isin(data.gate["page"], list(train))
        w = data.gate["w"][gmask]
        gbeta = fit_logistic(data.gate["x"][gmask], data.gate["y"][gmask], w / w.mean())
        gprob = {p: float(predict(np.array([data.entries[p]["gate_x"]]), gbeta)[0])
                 if data.entries[p]["gate_x"] is not None else None for p in data.ids}
        low, high = _choose_gate(data.entries, data.pages, train_ids, gprob, replace)
        texts = {}
        falls = 0
        for pid in test_ids:
            entry = data.entries[pid]
            go = _gate_choice(entry, gprob[pid], low, high)
            falls += go
            texts[pid] = entry["traf"] if go else entry["forced"]
        return texts, {"low": low, "high": high, "fallback": falls}
    return run


def _oracles(data: _Data) -> dict[str, Any]:
    """Upper bounds on the tune pages (gold labels used: not a result, a ceiling)."""
    candidates_path = CACHE_DIR / "candidates.pkl"
    candidates = pickle.loads(candidates_path.read_bytes()) if candidates_path.exists() else {}
    out: dict[str, Any] = {}
    for dataset in bench.DATASETS:
        chosen = [p for p in data.ids if data.dataset_of[p] == dataset]
        plist = [data.pages[p] for p in chosen]
        default = [data.entries[p]["default"] for p in chosen]
        gate, cont, lines_drop, lines_all = [], [], [], []
        for pid in chosen:
            entry, page = data.entries[pid], data.pages[pid]
            value = _page_value(entry["traf"], page) > _page_value(entry["forced"], page)
            gate.append(entry["traf"] if value else entry["forced"])
            options: list[str] = [entry["default"]] + [c["final"] for c in candidates.get(pid, [])]
            values = [_page_value(t, page) for t in options]
            cont.append(options[values.index(max(values))])
            if not entry["confident"] or not entry["lines"]:
                lines_drop.append(entry["default"])
                lines_all.append(entry["default"])
                continue
            index = gold_index(page.truth) if page.has_gold else None
            keep_drop, keep_all = {}, {}
            for i in _candidates(entry):
                kept = entry["lines"][i]["status"] == "kept"
                label = line_label(entry["lines"][i]["text"], page, index)
                keep_all[i] = kept if label is None else label[0] == 1
                keep_drop[i] = kept and (label is None or label[0] == 1)
            lines_drop.append(assemble(entry, keep_drop))
            lines_all.append(assemble(entry, keep_all))
        base = _dataset_score(default, plist)
        out[dataset] = {
            "default": base,
            "gate_best_of_blocks_or_trafilatura": _dataset_score(gate, plist),
            "container_best_of_default_or_top5": _dataset_score(cont, plist),
            "lines_drop_only": _dataset_score(lines_drop, plist),
            "lines_drop_and_add": _dataset_score(lines_all, plist),
        }
    return out


def _cpu(data: _Data) -> dict[str, Any]:
    ratios = [data.entries[p]["cpu_default_extraction"] / data.entries[p]["cpu_trafilatura"]
              for p in data.ids if data.entries[p]["cpu_trafilatura"] > 0]
    total = (sum(data.entries[p]["cpu_default_extraction"] for p in data.ids)
             / sum(data.entries[p]["cpu_trafilatura"] for p in data.ids))
    return {"default_extraction_vs_trafilatura_paired_median": round(statistics.median(ratios), 3),
            "default_extraction_vs_trafilatura_totals": round(total, 3)}


VARIANTS = {
    "lines_logit": _line_variant("logit"),
    "lines_logit+lex": _line_variant("logit+lex"),
    "lines_gbm": _line_variant("gbm"),
    "lines_gbm+lex": _line_variant("gbm+lex"),
    "gate_override": _gate_variant(replace=False),
    "gate_replace": _gate_variant(replace=True),
}


def available_variants() -> list[str]:
    """All variants; the tree ensembles only where scikit-learn is installed (it is not a
    dependency of the project, not even of its ``dev`` extra: ``pip install scikit-learn``)."""
    import importlib.util

    has_sklearn = importlib.util.find_spec("sklearn") is not None
    return [name for name in VARIANTS if has_sklearn or "gbm" not in name]


def evaluate(variants: Sequence[str] | None = None) -> dict[str, Any]:
    variants = available_variants() if variants is None else variants
    data = _Data()
    ids, entries, pages = data.ids, data.entries, data.pages
    out: dict[str, Any] = {"pages": len(ids), "lines_labelled": len(data.lines["y"]),
                           "line_positive_share": round(float(data.lines["y"].mean()), 4),
                           "cpu": _cpu(data), "oracles": _oracles(data)}
    schemes: dict[str, list[tuple[list[str], str | int]]] = {
        "leave_one_dataset_out": [([p for p in ids if data.dataset_of[p] != d], d)
                                  for d in bench.DATASETS],
        "hash_folds": [([p for p in ids if entries[p]["fold"] != f], f) for f in range(FOLDS)],
    }
    for scheme, splits in schemes.items():
        texts: dict[str, dict[str, str]] = {name: {} for name in variants}
        params: dict[str, list[Any]] = {name: [] for name in variants}
        for train_ids, held in splits:
            test_ids = [p for p in ids if p not in set(train_ids)]
            for name in variants:
                got, chosen_params = VARIANTS[name](data, train_ids, test_ids)
                texts[name].update(got)
                params[name].append({"held": held, **chosen_params})
        rows = {}
        for dataset in bench.DATASETS:
            chosen = [p for p in ids if data.dataset_of[p] == dataset]
            plist = [pages[p] for p in chosen]
            row: dict[str, Any] = {
                "pages": len(chosen),
                "default": _dataset_score([entries[p]["default"] for p in chosen], plist)}
            for name in variants:
                row[name] = _dataset_score([texts[name][p] for p in chosen], plist)
            peers = {n: _dataset_score([entries[p][n] for p in chosen], plist) for n in PEERS}
            best = max(peers, key=lambda n: peers[n])
            row["best_peer"] = [best, peers[best]]
            row["pages_changed"] = {name: sum(texts[name][p] != entries[p]["default"]
                                              for p in chosen) for name in variants}
            if scheme == "hash_folds":
                for f in range(FOLDS):
                    fold_ids = [p for p in chosen if entries[p]["fold"] == f]
                    fl = [pages[p] for p in fold_ids]
                    row[f"fold{f}"] = {
                        "default": _dataset_score([entries[p]["default"] for p in fold_ids], fl),
                        **{n: _dataset_score([texts[n][p] for p in fold_ids], fl)
                           for n in variants}}
            rows[dataset] = row
        out[scheme] = rows
        out[scheme + "_params"] = params
    return out


def _by_dataset(pages: dict[str, bench.Page], chosen: Sequence[str]) -> list[list[str]]:
    groups: dict[str, list[str]] = {}
    for p in chosen:
        groups.setdefault(pages[p].dataset, []).append(p)
    return list(groups.values())


def _choose_lines(entries: dict[str, Any], pages: dict[str, bench.Page],
                  train_ids: Sequence[str], probs: dict[str, Any]) -> tuple[float, float]:
    """The override thresholds that gain most on the training pages' worst dataset (the
    default's own thresholds, no override, when none gains)."""
    confident = [p for p in train_ids if entries[p]["confident"] and entries[p]["lines"]]
    groups = _by_dataset(pages, confident)
    best, best_gain = LINE_GRID[0], 0.0
    for drop, add in LINE_GRID[1:]:
        gains = []
        for chosen in groups:
            plist = [pages[p] for p in chosen]
            new = [_lines_text(entries[p], probs[p], drop, add) for p in chosen]
            old = [entries[p]["forced"] for p in chosen]
            gains.append(_dataset_score(new, plist) - _dataset_score(old, plist))
        if min(gains) > best_gain:
            best, best_gain = (drop, add), min(gains)
    return best


def _choose_gate(entries: dict[str, Any], pages: dict[str, bench.Page],
                 train_ids: Sequence[str], gprob: dict[str, Any],
                 replace: bool = False) -> tuple[float, float]:
    """Override thresholds of the hand rule (``replace``: one threshold for every page, the
    rule ignored), chosen for the training pages' worst dataset; at most
    ``GATE_MAX_FALLBACK`` of the pages may fall back."""
    groups = _by_dataset(pages, train_ids)
    grid = ([(t, t) for t in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)] if replace
            else GATE_GRID[1:])
    best, best_gain = (grid[-1] if replace else GATE_GRID[0]), (-1.0 if replace else 0.0)
    for low, high in grid:
        gains = []
        falls = 0
        for chosen in groups:
            plist = [pages[p] for p in chosen]
            decide = [_gate_choice(entries[p], gprob[p], low, high) for p in chosen]
            falls += sum(decide)
            new = [entries[p]["traf"] if d else entries[p]["forced"]
                   for p, d in zip(chosen, decide, strict=True)]
            gains.append(_dataset_score(new, plist)
                         - _dataset_score([entries[p]["default"] for p in chosen], plist))
        if falls > GATE_MAX_FALLBACK * len(train_ids):
            continue
        if min(gains) > best_gain:
            best, best_gain = (low, high), min(gains)
    return best


# --- candidate containers (a learned choice among the scorer's top containers) ---------------

TOP_CANDIDATES = 5


def candidate_texts(html: str) -> list[dict[str, Any]]:
    """The scorer's top containers by its own adjusted score, each carried through the same
    steps as the chosen one (widening, split siblings, twins, lead, confidence)."""
    from newsflow.core import main_text as mt
    from newsflow.core.metadata import parse_page

    parser = parse_page(html)
    root = parser.body or parser.root
    if root is None:
        return []
    hidden = mt._strip_junk(root)
    measure = mt._Measure()
    page_text = measure.walk(root)[0]
    ranked = [(mt._adjusted_score(key, measure), key) for key in measure.scores]
    ranked.sort(key=lambda item: -item[0])
    top = ranked[0][0] if ranked else 1.0
    seen: set[int] = set()
    out: list[dict[str, Any]] = []
    for rank, (adjusted, key) in enumerate(ranked):
        if len(out) >= TOP_CANDIDATES or adjusted <= 0:
            break
        first = measure.nodes[key]
        best = mt._widen(first, measure)
        if best.mem_id in seen:
            continue
        seen.add(best.mem_id)
        body = mt.body_text(best, measure, page_text, hidden)
        text, lead = mt.with_lead(body, measure)
        page = measure.paragraph_chars
        bkey = best.mem_id
        chars = measure.chars.get(bkey, 0) or 1
        out.append({
            "raw": text, "confident": body.confident, "rank": rank,
            "score_share": adjusted / top, "text_share": body.written / max(page, 1),
            "prose_share": measure.prose.get(bkey, 0) / max(page, 1),
            "chars_share": chars / max(page_text, 1), "links": measure.links.get(bkey, 0) / chars,
            "tag": best.tag, "names_article": mt._names_article(best), "depth": _depth(best),
            "widened": best.mem_id != first.mem_id, "lead_chars": len(lead),
            "text_chars": len(text), "parts": len(body.parts),
        })
    return out


def cache_candidates() -> None:
    entries = load_cache()
    pages = tune_pages()
    result: dict[str, Any] = {}
    for index, page in enumerate(pages):
        entry = entries[page.id]
        try:
            candidates = candidate_texts(page.html)
        except Exception:
            candidates = []
        for candidate in candidates:
            candidate["final"] = finish(candidate.pop("raw").split("\n"), entry["meta"])
        result[page.id] = candidates
        if index % 100 == 0:
            print(index, file=sys.stderr, flush=True)
    (CACHE_DIR / "candidates.pkl").write_bytes(pickle.dumps(result))


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["cache"]:
        cache()
        return 0
    if argv[:1] == ["cache-candidates"]:
        cache_candidates()
        return 0
    if argv[:1] == ["evaluate"]:
        print(json.dumps(evaluate(argv[1].split(",") if len(argv) > 1 else None), indent=2))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Metadata accuracy and cost: newsflow's reader against trafilatura's and htmldate, one run.

Pages: the four datasets of ``benchmarks/extraction.py`` (same loaders, same tune/report split).

**Gold.** Of the four, only two carry gold metadata, and only a title: ``msv-chaos`` (the gold
file's first line, when it has 30 words or fewer) and ``wceb-articles`` (the dataset's
``title``). ``zyte`` carries a body and a URL; ``trafilatura-eval`` carries snippets. No dataset
has a gold date, author or site name.

* **Title accuracy** (pages with a gold title): ``title_exact`` is the share whose title equals
  the gold after folding case and punctuation (word characters only, single spaces);
  ``title_token_f1`` the mean token F1 between the two (``extraction.title_score``: the same
  rule as the extraction benchmark's title figure).
* **Agreement, not accuracy** (every page, no gold): for date, authors and site name, the share
  of pages where newsflow and a peer both give a value and the values agree, where exactly one
  gives a value, and where neither does. Dates agree when they are the same calendar day or one
  day apart (newsflow stores UTC, the peers the local date the page states: a late-evening
  local time is the next day in UTC). Authors agree when the two folded name sets share a name;
  ``authors_same_set`` when the sets are equal. Site names agree when equal after folding.

Systems: ``newsflow`` (what ``clean_document`` reads: the Lexbor tree's metadata, then
htmldate's markup scan on the lxml tree when there is no date), ``trafilatura``
(``trafilatura.extract_metadata`` with its defaults) and, for the date, ``htmldate``
(``find_date`` with ``original_date=True``, its default extensive search, the page URL).
CPU per page (``time.process_time``) covers each system's parse(s); in ``clean_document`` the
Lexbor parse is shared with the block scorer, so newsflow's marginal cost there is lower.

    python benchmarks/metadata.py [--datasets ...] [--parts tune,report] [--limit N]

JSON on stdout.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from extraction import Page, chosen_systems_and_pages, fold, page_options, report_groups, title_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services"))

DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
# A UTC date may be the day after the page's local date (or the day before, east of UTC).
DATE_SLACK_DAYS = 1


@dataclass(slots=True)
class Meta:
    title: str | None = None
    date: str | None = None  # YYYY-MM-DD
    authors: list[str] = field(default_factory=list)
    site: str | None = None


def newsflow(page: Page) -> Meta:
    """The metadata ``clean_document`` keeps (before a feed's title hint)."""
    from newsflow.core.clean import _parse_html, normalise_text
    from newsflow.core.metadata import date_from_markup, parse_page, read_metadata

    meta = read_metadata(parse_page(page.html), page.url or None)
    published = meta.published_at
    if published is None:
        tree = _parse_html(page.html)
        published = date_from_markup(tree, page.url or None) if tree is not None else None
    title = normalise_text(meta.title or meta.headline or "").replace("\n", " ")
    return Meta(title or None, published, meta.authors, meta.site_name)


def trafilatura_meta(page: Page) -> Meta:
    from trafilatura import extract_metadata

    doc = extract_metadata(page.html, default_url=page.url or None)
    authors = [a.strip() for a in (doc.author or "").split(";") if a.strip()]
    return Meta(doc.title, doc.date, authors, doc.sitename)


def htmldate_meta(page: Page) -> Meta:
    from htmldate import find_date

    return Meta(date=find_date(page.html, original_date=True, url=page.url or None))


SYSTEMS: dict[str, Callable[[Page], Meta]] = {
    "newsflow": newsflow,
    "trafilatura": trafilatura_meta,
    "htmldate": htmldate_meta,
}
FIELDS = ("title", "date", "authors", "site")
READS = {"htmldate": ("date",)}  # the fields a system reads, when not all of them
PEERS = ("trafilatura", "htmldate")


def day(value: str | None) -> date | None:
    match = DAY.search(value or "")
    if not match:
        return None
    try:
        return date(*map(int, match.groups()))
    except ValueError:
        return None


def dates_agree(a: str | None, b: str | None) -> bool:
    first, second = day(a), day(b)
    return (first is not None and second is not None
            and abs((first - second).days) <= DATE_SLACK_DAYS)


def authors_agree(a: Sequence[str], b: Sequence[str]) -> bool:
    return bool({fold(x) for x in a} & {fold(y) for y in b} - {""})


def agreement(ours: Sequence[Meta], theirs: Sequence[Meta]) -> dict[str, float | None]:
    """Per field: the share of pages where both give a value (``_both``), of those the share
    where they agree (``_agree_of_both``; null when there is none), and the share where only
    one does. A field the peer never gives on these pages is left out (htmldate reads the date
    only; on a few pages a peer may give no site at all)."""
    result: dict[str, float | None] = {}
    fields: dict[str, tuple[Callable[[Meta], object], Callable[[Meta, Meta], bool]]] = {
        "date": (lambda m: m.date, lambda x, y: dates_agree(x.date, y.date)),
        "authors": (lambda m: m.authors, lambda x, y: authors_agree(x.authors, y.authors)),
        "site": (lambda m: m.site, lambda x, y: fold(x.site) == fold(y.site)),
    }
    total = len(ours)
    for name, (value, agree) in fields.items():
        both = [(x, y) for x, y in zip(ours, theirs, strict=True) if value(x) and value(y)]
        if not any(value(y) for y in theirs):
            continue  # the peer does not read this field (htmldate: date only)
        one = sum(1 for x, y in zip(ours, theirs, strict=True) if bool(value(x)) != bool(value(y)))
        result[f"{name}_both"] = round(len(both) / total, 4)
        result[f"{name}_agree_of_both"] = (round(statistics.fmean(agree(x, y) for x, y in both), 4)
                                           if both else None)
        result[f"{name}_only_one"] = round(one / total, 4)
        if name == "date" and both:
            result["date_same_day_of_both"] = round(statistics.fmean(
                day(x.date) == day(y.date) for x, y in both), 4)
        if name == "authors" and both:
            result["authors_same_set_of_both"] = round(statistics.fmean(
                {fold(a) for a in x.authors} == {fold(a) for a in y.authors} for x, y in both), 4)
    return result


def coverage(metas: Sequence[Meta], fields: Sequence[str]) -> dict[str, float]:
    return {f"{name}_given": round(statistics.fmean(bool(getattr(m, name)) for m in metas), 4)
            for name in fields}


def run(systems: Sequence[str], pages: Sequence[Page]) -> tuple[dict[str, list[Meta]],
                                                                 dict[str, list[float]]]:
    outputs: dict[str, list[Meta]] = {name: [] for name in systems}
    cpu: dict[str, list[float]] = {name: [] for name in systems}
    for name in systems:
        SYSTEMS[name](pages[0])  # imports outside the timings
    for page in pages:
        for name in systems:  # systems take turns on each page: load hits them alike
            start = time.process_time()
            try:
                meta = SYSTEMS[name](page)
            except Exception:  # a system failing on a page gives no metadata
                meta = Meta()
            cpu[name].append(time.process_time() - start)
            outputs[name].append(meta)
    return outputs, cpu


def report(pages: Sequence[Page], outputs: dict[str, list[Meta]],
           cpu: dict[str, list[float]]) -> dict[str, object]:
    table: dict[str, object] = {}
    for group, indexes in report_groups(pages):
        chosen = [pages[i] for i in indexes]
        row: dict[str, object] = {"pages": len(chosen)}
        for name, metas in outputs.items():
            picked = [metas[i] for i in indexes]
            fields = READS.get(name, FIELDS)
            titles = title_score([m.title for m in picked], chosen) if "title" in fields else {}
            figures: dict[str, object] = {
                **titles, **coverage(picked, fields),
                "cpu_ms_median": round(statistics.median(cpu[name][i] for i in indexes) * 1000, 2),
                "cpu_ms_mean": round(statistics.fmean(cpu[name][i] for i in indexes) * 1000, 2)}
            if name != "newsflow" and "newsflow" in outputs:
                ours = [outputs["newsflow"][i] for i in indexes]
                figures["agreement_with_newsflow"] = agreement(ours, picked)
            row[name] = figures
        table[group] = row
    return table


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    parser = page_options((__doc__ or "").splitlines()[0], SYSTEMS)
    args = parser.parse_args(argv)
    systems, pages = chosen_systems_and_pages(parser, args, SYSTEMS)
    outputs, cpu = run(systems, pages)
    result: dict[str, object] = {"pages": len(pages), "systems": systems,
                                 "results": report(pages, outputs, cpu)}
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

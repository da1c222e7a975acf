"""`newsflow process` wall time with one preparing process and with more, side by side, as JSON.

    python benchmarks/offline.py [--processes 2] [--runs 3] [--pages DIR]

Each run processes the same real pages (``../shared/benchmarks/article-extraction/html``, read
at run time) with ``NEWSFLOW_PREPARE_PROCESSES=1`` (the baseline: one child, which now also has
the next page queued; before 1 Dec a second child only waited) and then with ``--processes``,
through ``process_files`` as the command does; the
two take turns, so load from other processes hits them alike. Reported: each setting's median
wall time and pages per second, and the median of the per-run ratios (more / one). The lines
written must be the same apart from times, so the figure is for the same work.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "services"))

from newsflow.config import Settings  # noqa: E402
from newsflow.offline import process_files  # noqa: E402

PAGES = ROOT.parent / "shared" / "benchmarks" / "article-extraction" / "html"
TIMES = {"processed_at", "failed_at", "fetched_at", "story", "original"}


def run(paths: list[Path], processes: int) -> tuple[float, list[Any]]:
    out = io.StringIO()
    started = time.perf_counter()
    process_files(Settings(prepare_processes=processes), paths, out)
    elapsed = time.perf_counter() - started
    lines = []
    for line in out.getvalue().splitlines():
        decoded = json.loads(line)
        lines.append((decoded["topic"], {key: value for key, value in decoded["record"].items()
                                         if key not in TIMES}))
    return elapsed, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pages", type=Path, default=PAGES)
    args = parser.parse_args()
    paths = sorted(args.pages.glob("*.html*"))
    if not paths:
        raise SystemExit(f"benchmarks/offline.py: no pages in {args.pages}")
    one: list[float] = []
    more: list[float] = []
    for _ in range(args.runs):
        base_time, base_lines = run(paths, 1)
        more_time, more_lines = run(paths, args.processes)
        if base_lines != more_lines:
            raise SystemExit("benchmarks/offline.py: the two settings wrote different lines")
        one.append(base_time)
        more.append(more_time)
    ratios = [m / b for m, b in zip(more, one, strict=True)]
    print(json.dumps({
        "pages": len(paths), "runs": args.runs, "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "one_process": {"median_s": round(statistics.median(one), 2),
                        "pages_per_s": round(len(paths) / statistics.median(one), 1)},
        f"{args.processes}_processes": {"median_s": round(statistics.median(more), 2),
                                        "pages_per_s": round(len(paths) /
                                                             statistics.median(more), 1)},
        "time_ratio_median_of_paired": round(statistics.median(ratios), 3),
        "time_ratios": [round(r, 3) for r in ratios],
    }, indent=2))


if __name__ == "__main__":
    main()

"""The demo's lines: a long title is cut between words, never inside one; a failure is told
on stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from newsflow.demo import _worker_failed, clip

pytestmark = pytest.mark.clock  # the demo module reaches code that reads the clock


def test_a_long_title_is_cut_between_words_with_an_ellipsis() -> None:
    title = "Navy sends two destroyers to the strait as talks on shipping lanes stall again"
    cut = clip(title, 50)
    assert len(cut) <= 50 and cut.endswith(" …")
    words = cut.removesuffix(" …").split()
    assert words == title.split()[:len(words)]  # whole words only, from the start
    assert clip("Short title", 50) == "Short title"


def test_a_title_without_spaces_is_cut_where_it_must_be() -> None:
    title = "北京宣布对多家美国军工企业实施制裁并冻结其在华资产" * 3
    assert clip(title, 20) == title[:19] + "…"


def test_a_failed_worker_is_told_on_stderr(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    # On stdout it was lost, and the run ended with exit 0, when stdout's reader was gone
    # (`newsflow demo | head`).
    (tmp_path / "worker.log").write_text("starting\nKafkaError: broker gone\n", encoding="utf-8")
    worker = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    worker.wait(timeout=60)
    assert _worker_failed(worker, tmp_path) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == ["worker exited with code 3; the end of its log:",
                                "    starting", "    KafkaError: broker gone"]

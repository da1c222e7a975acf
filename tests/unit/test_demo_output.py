"""The demo's lines: a long title is cut between words, never inside one."""

from __future__ import annotations

import pytest

from newsflow.demo import clip

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

"""benchmarks/deep_nesting.py: every shape gives its article at any depth, and the report has a
time and a growth figure per system (the figures themselves are read from a real run)."""

from __future__ import annotations

import pytest

from tests.helpers import benchmark_script

bench = benchmark_script("deep_nesting")


@pytest.mark.parametrize("shape", sorted(bench.SHAPES))
def test_each_shape_still_gives_its_prose(shape: str) -> None:
    text = bench.newsflow(bench.SHAPES[shape](300))
    assert "The council met on Tuesday" in text


def test_the_report_has_seconds_and_growth_for_every_system() -> None:
    report = bench.measure([20, 40, 80], runs=1)
    assert set(report) == set(bench.SHAPES)
    for systems in report.values():
        assert set(systems) == {"newsflow", "resiliparse", "lexbor_parse"}
        for figures in systems.values():
            assert list(figures["seconds"]) == ["20", "40", "80"]
            growth = figures["growth_per_doubling"]
            assert growth is None or growth > 0


@pytest.mark.parametrize("bad", ["1000", "10,5", "a,b", "0,10", "10,10"])
def test_bad_depths_are_a_usage_error(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        bench.main(["--depths", bad])
    assert stopped.value.code == 2
    assert "--depths" in capsys.readouterr().err

"""The core (services/newsflow/core) is pure: it imports nothing that does I/O, reads the clock,
the environment or signals, and never calls such functions (a Path may name a file in a message;
opening it is the adapters' job); its inputs are built outside it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from newsflow.config import Settings
from newsflow.core.params import CleanLimits, DedupeParams
from newsflow.pipeline_setup import build_pipeline

pytestmark = pytest.mark.clock

CORE = Path(__file__).resolve().parents[2] / "services" / "newsflow" / "core"
FORBIDDEN_MODULES = {"os", "signal", "time", "threading", "subprocess", "socket", "asyncio",
                     "io", "yaml", "httpx", "kafka", "faust", "pydantic",
                     "pydantic_settings", "newsflow.config"}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "monotonic", "perf_counter", "getenv", "open",
                   "read_text", "read_bytes", "write_text", "setitimer", "alarm"}


@pytest.mark.parametrize("module", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_core_module_does_no_io_clock_env_or_signals(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""])
            for name in names:
                # Of the project, only the core itself, the version and the exceptions.
                assert not name.startswith("newsflow") or name in ("newsflow", "newsflow.errors") or (
                    name.startswith("newsflow.core")), f"{module.name} imports {name}"
                assert name not in FORBIDDEN_MODULES and name.split(".")[0] not in (
                    FORBIDDEN_MODULES - {"newsflow.config"}), f"{module.name} imports {name}"
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert called not in FORBIDDEN_CALLS, f"{module.name}:{node.lineno} calls {called}()"


def test_settings_defaults_are_the_core_defaults() -> None:
    """Settings takes its defaults from core/params.py, in its own units (hours, days)."""
    pipeline = build_pipeline(Settings())
    assert pipeline.params == DedupeParams()
    assert pipeline.clean_limits == CleanLimits()

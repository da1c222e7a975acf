"""Which test modules exercise code that reads the wall clock.

The shifted-clock run (`make test-shifted-clock`) runs only the tests marked ``clock``, and
conftest refuses an unmarked unit-test module that this finds, so a new clock-reading test
cannot silently drop out of that run. The analysis is static and errs on the side of marking:

- a module reads the clock when it calls ``datetime.now/utcnow/today``, ``date.today``,
  ``time.time/time_ns``, an argument-less ``time.gmtime/localtime/ctime``, or the tests'
  ``ago()``, or imports a library that reads it (feedparser, htmldate, trafilatura), even
  inside a function;
- a project module (services/newsflow) also reads it when it imports one that does;
- a test module exercises the clock when it reads it itself, imports such a project module,
  runs one (``python -m newsflow ...``) or loads a benchmark script (``benchmark_script``)
  that does.
"""

from __future__ import annotations

import ast
import functools
import itertools
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "services"
BENCHMARK_SCRIPTS = REPO / "benchmarks"

# Libraries that read the clock on their own: feedparser dates an ISO 8601 date without a
# year in the current year; htmldate and trafilatura bound page dates by today unless given
# a bound (the core passes one, but a test run with the clock moved is what shows it).
CLOCK_LIBRARIES = {"feedparser", "htmldate", "trafilatura"}
CLOCK_METHODS = {"now", "utcnow", "today"}
CLOCK_FUNCTIONS = {"time", "time_ns"}
CLOCK_WITHOUT_ARGUMENTS = {"gmtime", "localtime", "ctime"}


def _is_clock_call(call: ast.Call, from_time: dict[str, str]) -> bool:
    """``from_time`` maps the local names of ``from time import ...`` to the functions."""
    func = call.func
    if isinstance(func, ast.Attribute):
        name, on_time = func.attr, isinstance(func.value, ast.Name) and func.value.id == "time"
        if name in CLOCK_METHODS or name == "ago":
            return True
    elif isinstance(func, ast.Name):
        name, on_time = from_time.get(func.id, func.id), func.id in from_time
        if name == "ago":
            return True
    else:
        return False
    return on_time and (name in CLOCK_FUNCTIONS
                        or (name in CLOCK_WITHOUT_ARGUMENTS and not call.args))


def _reads_clock_itself(tree: ast.AST) -> bool:
    from_time = {alias.asname or alias.name: alias.name for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module == "time"
                 for alias in node.names}
    return any(_is_clock_call(node, from_time) for node in ast.walk(tree)
               if isinstance(node, ast.Call))


def _imports(tree: ast.AST) -> set[str]:
    """Modules a file imports or runs (``-m name`` in an argument list), with every
    ``from a import b`` also named ``a.b`` (b may be a submodule), and the benchmark scripts
    it loads as ``benchmarks.<name>``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.List | ast.Tuple):
            items = node.elts
            for flag, value in itertools.pairwise(items):
                if (isinstance(flag, ast.Constant) and flag.value == "-m"
                        and isinstance(value, ast.Constant) and isinstance(value.value, str)):
                    names.update((value.value, f"{value.value}.__main__"))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "benchmark_script" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names.add(f"benchmarks.{node.args[0].value}")
    return names


def _parse(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@functools.cache
def project_clock_readers() -> frozenset[str]:
    """The project modules (dotted names) that read the clock, directly or through imports."""
    files = {".".join(path.relative_to(PROJECT).with_suffix("").parts).removesuffix(".__init__"):
             path for path in PROJECT.rglob("*.py")}
    trees = {name: _parse(path) for name, path in files.items()}
    imports = {name: _imports(tree) & files.keys() for name, tree in trees.items()}
    readers = {name for name, tree in trees.items()
               if _reads_clock_itself(tree) or any(
                   imported.split(".")[0] in CLOCK_LIBRARIES for imported in _imports(tree))}
    grown = True
    while grown:
        new = {name for name, imported in imports.items()
               if name not in readers and imported & readers}
        readers |= new
        grown = bool(new)
    return frozenset(readers)


@functools.cache
def clock_use(path: Path) -> str | None:
    """Why the test module (or benchmark script) at ``path`` exercises the wall clock, or None."""
    tree = _parse(path)
    if _reads_clock_itself(tree):
        return "reads the clock itself"
    imported = _imports(tree)
    if readers := sorted(imported & project_clock_readers()):
        return f"uses {readers[0]}, which reads the clock"
    if libraries := sorted(name for name in imported if name.split(".")[0] in CLOCK_LIBRARIES):
        return f"uses {libraries[0]}, which reads the clock"
    for name in sorted(imported):
        # benchmark_script("x") and a script's own `import y` of a sibling script.
        script = BENCHMARK_SCRIPTS / f"{name.removeprefix('benchmarks.')}.py"
        is_script = name.startswith("benchmarks.") or path.parent == BENCHMARK_SCRIPTS
        if is_script and script.is_file() and script != path and clock_use(script):
            return f"loads benchmarks/{script.name}, which reads the clock"
    return None

"""YAML files a user writes (the sources file, a taxonomy overlay): read, or refused with one
line naming the file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from newsflow.errors import ConfigError
from newsflow.user_files import read_user_file


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping. PyYAML keeps the last
    silently: a second ``topics:`` in an overlay dropped every topic of the first, a
    ``threshold`` written twice kept one without a word. Merge keys (``<<: *base``) may still be
    overridden."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._checked: set[int] = set()

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        # Checked here, the first time a mapping is flattened: PyYAML merges an anchored mapping
        # into its own node when another one merges it, so a check made later would see the
        # inherited keys beside the node's own overrides.
        if id(node) not in self._checked:
            self._checked.add(id(node))
            self._refuse_repeated_keys(node)
        super().flatten_mapping(node)  # type: ignore[no-untyped-call]

    def _refuse_repeated_keys(self, node: yaml.MappingNode) -> None:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            try:
                repeated = key in seen
                seen.add(key)
            except TypeError:  # unhashable: PyYAML's own error says so
                continue
            if repeated:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"found duplicate key {key!r}", key_node.start_mark)


# Longer numbers are refused where they are: a 5,000-digit decimal stopped int() with a
# ValueError, and a hexadecimal one of that size loaded and then stopped the error message
# that tried to print it.
MAX_NUMBER_CHARS = 100


def _construct_int(loader: _UniqueKeyLoader, node: yaml.ScalarNode) -> Any:
    text = str(loader.construct_scalar(node))  # type: ignore[no-untyped-call]
    if len(text) > MAX_NUMBER_CHARS:
        raise yaml.constructor.ConstructorError(
            None, None, f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})",
            node.start_mark)
    return loader.construct_yaml_int(node)  # type: ignore[no-untyped-call]


def _construct_timestamp(loader: _UniqueKeyLoader, node: yaml.ScalarNode) -> Any:
    # A date YAML's pattern matches but the calendar refuses (2026-02-30, month 13): Python's
    # ValueError carries no position, so the file was named without its line.
    try:
        return loader.construct_yaml_timestamp(node)  # type: ignore[no-untyped-call]
    except ValueError as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"not a date: {node.value!r} ({exc})", node.start_mark) from exc


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)

# YAML's line breaks, for a position's line and column.
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def read_yaml(path: Path, what: str, error: type[ConfigError]) -> Any:
    """The YAML document in ``path`` (``what`` it is, for messages); ``error`` with one line
    when it cannot be read: missing, not a regular file (``read_user_file``), not UTF-8, a
    syntax error or a key given twice in one mapping (where it is), nested too deeply for
    PyYAML, which composes collections recursively."""
    data = read_user_file(path, what, error)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: cannot read {what}: not UTF-8: {exc}") from exc
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader
    except yaml.YAMLError as exc:
        raise error(yaml_problem(path, exc, text)) from exc
    except RecursionError as exc:
        raise error(f"{path}: cannot read {what}: nested too deeply") from exc
    except ValueError as exc:  # a number Python will not convert: 5,000 digits
        raise error(f"{path}: cannot read {what}: {exc}") from exc


def yaml_problem(path: Path, exc: yaml.YAMLError, text: str | None = None) -> str:
    """One line for a YAML syntax error: ``FILE:LINE:COLUMN: problem`` (1-based), with what
    was being parsed and where it started when that is elsewhere. PyYAML's own message is
    several lines and names the file ``<unicode string>``. A character YAML does not allow
    (NUL, a control character) is reported by its offset in ``text``: line and column."""
    if isinstance(exc, yaml.reader.ReaderError) and text is not None:
        lines = _LINE_BREAK.split(text[:exc.position])
        # A byte order mark is no column of the first line.
        row, column = len(lines), len(lines[-1].removeprefix("\ufeff") if len(lines) == 1
                                      else lines[-1]) + 1
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1])
        return (f"{path}:{row}:{column}: not valid YAML: the character U+{code:04X} is not "
                "allowed in YAML")
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if not isinstance(exc, yaml.MarkedYAMLError) or mark is None or not problem:
        return f"{path}: not valid YAML: {' '.join(str(exc).split())}"
    line = f"{path}:{mark.line + 1}:{mark.column + 1}: not valid YAML: {' '.join(problem.split())}"
    context, start = exc.context, exc.context_mark
    if context and start is not None:
        line += f" ({' '.join(context.split())} at line {start.line + 1}, column {start.column + 1})"
    return line

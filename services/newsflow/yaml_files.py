"""YAML files a user writes (the sources file, a taxonomy overlay): read, or refused with one
line naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from newsflow.errors import ConfigError
from newsflow.user_files import read_user_file


def read_yaml(path: Path, what: str, error: type[ConfigError]) -> Any:
    """The YAML document in ``path`` (``what`` it is, for messages); ``error`` with one line
    when it cannot be read: missing, not a regular file (``read_user_file``), not UTF-8, a
    syntax error (where it is), nested too deeply for PyYAML, which composes collections
    recursively."""
    data = read_user_file(path, what, error)
    try:
        return yaml.safe_load(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"{path}: cannot read {what}: not UTF-8: {exc}") from exc
    except yaml.YAMLError as exc:
        raise error(yaml_problem(path, exc)) from exc
    except RecursionError as exc:
        raise error(f"{path}: cannot read {what}: nested too deeply") from exc


def yaml_problem(path: Path, exc: yaml.YAMLError) -> str:
    """One line for a YAML syntax error: ``FILE:LINE:COLUMN: problem`` (1-based), with what
    was being parsed and where it started when that is elsewhere. PyYAML's own message is
    several lines and names the file ``<unicode string>``."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if not isinstance(exc, yaml.MarkedYAMLError) or mark is None or not problem:
        return f"{path}: not valid YAML: {' '.join(str(exc).split())}"
    line = f"{path}:{mark.line + 1}:{mark.column + 1}: not valid YAML: {' '.join(problem.split())}"
    context, start = exc.context, exc.context_mark
    if context and start is not None:
        line += f" ({' '.join(context.split())} at line {start.line + 1}, column {start.column + 1})"
    return line

"""One-line messages for YAML files a user writes (the sources file, a taxonomy overlay)."""

from __future__ import annotations

from pathlib import Path

import yaml


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

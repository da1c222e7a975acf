"""Reading the taxonomy files: the bundled ``data/taxonomy.yaml`` and a newsroom's overlay.

The file I/O the pure core (``core/tagging.py``: parsing, merging, scoring) does not do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from newsflow.config import PACKAGE_DIR
from newsflow.core.tagging import Topic, merge_taxonomy, parse_taxonomy
from newsflow.errors import TaxonomyError
from newsflow.yaml_files import read_yaml

BUNDLED_TAXONOMY = PACKAGE_DIR / "data" / "taxonomy.yaml"


def _read_yaml(path: Path) -> Any:
    return read_yaml(path, "taxonomy", TaxonomyError)


def load_taxonomy(overlay: Path | None = None, bundled: Path = BUNDLED_TAXONOMY
                  ) -> tuple[Topic, ...]:
    """The bundled taxonomy, with ``overlay`` (``NEWSFLOW_TAXONOMY_PATH``) applied if given."""
    base = _read_yaml(bundled)
    # realpath, not Path.resolve: a symbolic link loop is then the read's one-line error, not
    # resolve's RuntimeError.
    if overlay is None or os.path.realpath(overlay) == os.path.realpath(bundled):
        return parse_taxonomy(base, bundled)
    layer = _read_yaml(overlay)  # its errors name the file already
    try:
        merged = merge_taxonomy(base, layer)
    except TaxonomyError as exc:
        raise TaxonomyError(f"{overlay}: {exc}") from exc
    return parse_taxonomy(merged, overlay)  # its errors name the file already

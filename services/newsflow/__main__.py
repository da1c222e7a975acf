"""The ``newsflow`` command (``python -m newsflow`` and the console script).

Kept apart from ``newsflow.cli`` so that a Ctrl-C while the command's modules load (half a
second: pydantic, the settings) ends it like one later on, with exit 130 and no traceback."""

from __future__ import annotations

from newsflow.errors import INTERRUPTED  # the standard library only: nothing slow to load


def main() -> int:
    try:
        from newsflow.cli import main as run_command

        return run_command()
    except KeyboardInterrupt:  # Ctrl-C: the user knows; no traceback
        return INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())

"""The ``newsflow`` command ends a Ctrl-C that comes while its modules load (half a second) as
it ends one later: exit 130, nothing on stderr. It printed a KeyboardInterrupt traceback."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.clock  # the command's modules are imported


def test_a_ctrl_c_while_the_command_loads_exits_130_without_a_traceback() -> None:
    # A real SIGINT, sent as the command's own module starts to load: Python turns it into
    # KeyboardInterrupt inside that import, as with a Ctrl-C pressed at that moment.
    script = textwrap.dedent("""
        import os, signal, sys
        from newsflow.__main__ import main

        class CtrlC:
            def find_spec(self, name, path=None, target=None):
                if name == "newsflow.cli":
                    os.kill(os.getpid(), signal.SIGINT)
                return None

        sys.meta_path.insert(0, CtrlC())
        sys.argv = ["newsflow", "--help"]
        raise SystemExit(main())
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (130, "", "")


def test_the_command_runs_through_its_entry_module() -> None:
    result = subprocess.run([sys.executable, "-m", "newsflow", "--help"], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0 and "usage: newsflow" in result.stdout, result.stderr

"""Reading a file the user names as configuration or input (the sources file, a taxonomy and
its overlay, `tags check`'s labelled articles): whole, and only when it is a regular file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from newsflow.errors import ConfigError


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a directory" if stat.S_ISDIR(mode) else "not a file"


def read_user_file(path: Path, what: str, error: type[ConfigError]) -> bytes:
    """The bytes of ``path`` (``what`` it is, for messages); ``error`` with one line naming the
    file when it cannot be read: missing, no permission, or not a regular file. A named pipe
    with no writer would block the command for ever and a device (/dev/zero) would be read
    until memory runs out; both are refused before a byte is read."""
    try:
        # O_NONBLOCK: opening a named pipe with no writer returns at once instead of waiting
        # for one; fstat then judges the file opened, not one a rename put there after a stat.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc}") from exc
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode):
            os.set_blocking(fd, True)
            with os.fdopen(fd, "rb", closefd=False) as file:
                return file.read()
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc}") from exc
    finally:
        os.close(fd)
    raise error(f"{path}: cannot read {what}: not a regular file ({_kind(mode)})")

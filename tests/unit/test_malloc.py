"""pin_mmap_threshold must never stop the worker from starting, whatever the C library."""

from __future__ import annotations

import ctypes

import pytest

from newsflow.processor.malloc import pin_mmap_threshold


class _LibcWithoutMallopt:
    """A C library that loads but has no ``mallopt`` (musl, or a glibc shim without it)."""

    def __getattr__(self, name: str) -> object:
        raise AttributeError(name)


def test_a_c_library_without_mallopt_is_reported_not_raised(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctypes, "CDLL", lambda name: _LibcWithoutMallopt())
    assert pin_mmap_threshold() is False


def test_no_libc_so_6_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> ctypes.CDLL:
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", missing)
    assert pin_mmap_threshold() is False

"""Small walks over a Lexbor (selectolax) tree that several extraction modules need."""

from __future__ import annotations

from selectolax.lexbor import LexborNode


def has_ancestor(node: LexborNode, tag: str) -> bool:
    """Whether an element above ``node`` is a ``tag`` (e.g. a title inside an SVG icon, a
    paragraph inside a link)."""
    parent = node.parent
    while parent is not None:
        if parent.tag == tag:
            return True
        parent = parent.parent
    return False

"""Small walks over a Lexbor (selectolax) tree that several extraction modules need."""

from __future__ import annotations

from selectolax.lexbor import LexborNode


class AncestorTest:
    """Whether an element above a node is a ``tag`` (a paragraph inside a link, a title inside
    an SVG icon), for many nodes of one tree, each answer remembered for the elements
    walked through: asked for every level of a page nested thousands deep, one walk per node
    would take time quadratic in the depth. Valid while the walked elements stay attached."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.known: dict[int, bool] = {}  # element -> whether a ``tag`` is above it

    def __call__(self, node: LexborNode) -> bool:
        walked: list[int] = []
        answer = False
        parent = node.parent
        while parent is not None:
            if parent.tag == self.tag:
                answer = True
                break
            known = self.known.get(parent.mem_id)
            if known is not None:
                answer = known
                break
            walked.append(parent.mem_id)
            parent = parent.parent
        for key in walked:  # none of them is a ``tag``: each has the same answer as ``node``
            self.known[key] = answer
        return answer


class SubtreeText:
    """Characters of an element's text (``len(node.text(deep=True, strip=True))``) and of its
    links' text (each link inside it once), remembered per element: a search that asks
    again for each level of nested markup would otherwise redo the whole subtree each time.
    Valid while the elements asked about keep their subtrees."""

    def __init__(self) -> None:
        self.sizes: dict[int, tuple[int, int]] = {}  # element -> (text chars, link chars)

    def __call__(self, node: LexborNode) -> tuple[int, int]:
        sizes = self.sizes
        done = sizes.get(node.mem_id)
        if done is not None:
            return done
        # Depth first without recursion (the nesting may be deeper than Python's stack); an
        # element is summed when all its children are.
        stack: list[tuple[LexborNode, bool]] = [(node, False)]
        while stack:
            current, children_done = stack.pop()
            if not children_done:
                stack.append((current, True))
                stack.extend((child, False) for child in current.iter()
                             if child.mem_id not in sizes)
                continue
            chars = links = 0
            for child in current.iter(include_text=True):
                tag = child.tag
                if tag == "-text":
                    chars += len((child.text_content or "").strip())
                elif tag not in ("-comment", None):
                    child_chars, child_links = sizes[child.mem_id]
                    chars += child_chars
                    links += child_links + (child_chars if tag == "a" else 0)
            sizes[current.mem_id] = (chars, links)
        return sizes[node.mem_id]

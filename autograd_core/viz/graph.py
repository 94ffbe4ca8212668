"""Reading the recorded graph for a picture: the walk, names, module paths, and the grouping of
modules (collapsed below `depth`, identical sibling blocks folded)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..graph import Node
from ..tensor import Tensor

# ---- reading the graph -------------------------------------------------------------------------

def _walk(output: Tensor) -> tuple[list[Node], list[Node]]:
    """(nodes reaching `output` in recording order, the released ones among them).

    An explicit stack, no recursion: a chain of 100,000 ops is fine. A released node's inputs
    are gone, so the walk cannot go past it.
    """
    root = output._node
    if root is None:
        return [], []
    seen = {root}
    stack = [root]
    released = []
    while stack:
        node = stack.pop()
        if node.inputs is None:
            released.append(node)
            continue
        for t in node.inputs:
            if isinstance(t, Tensor) and t._node is not None and t._node not in seen:
                seen.add(t._node)
                stack.append(t._node)
    return sorted(seen, key=lambda n: n.index), released


def _check_output(output: Any, who: str) -> Tensor:
    if not isinstance(output, Tensor):
        raise TypeError(f"{who}: expected the Tensor whose graph to draw, "
                        f"got {type(output).__name__}")
    return output


def _named(params) -> tuple[dict[int, str], dict[str, str], list]:
    """(id(tensor) → name, module path → class name, the tensors kept alive) from `params`:
    a dict name → Tensor, or anything with named_parameters() (an nn.Module, duck-typed)."""
    if params is None:
        return {}, {}, []
    classes = {}
    if hasattr(params, "named_parameters"):
        items = list(params.named_parameters())
        if hasattr(params, "named_modules"):
            classes = {path: type(m).__name__ for path, m in params.named_modules()}
    elif isinstance(params, Mapping):
        items = list(params.items())
    else:
        raise TypeError("params: expected a dict name → Tensor or a module with "
                        f"named_parameters(), got {type(params).__name__}")
    names = {}
    for name, t in items:
        if not isinstance(t, Tensor):
            raise TypeError(f"params[{name!r}]: expected a Tensor, got {type(t).__name__}")
        names.setdefault(id(t), str(name))
    return names, classes, [t for _, t in items]


def _shape(shape: tuple) -> str:
    return "scalar" if shape == () else str(tuple(shape))


def _depth(path: str) -> int:
    return 0 if path == "" else path.count(".") + 1


def _ancestors(path: str) -> list[str]:
    """'' and every prefix of `path`, outermost first, `path` included."""
    parts = path.split(".") if path else []
    return [""] + [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _parent(path: str) -> str | None:
    return None if path == "" else path.rpartition(".")[0]


def _relative(path: str, base: str) -> str:
    if path == base:
        return ""
    return path[len(base) + 1:] if base else path


def _inside(path: str | None, base: str) -> bool:
    return path is not None and (base == "" or path == base or path.startswith(base + "."))


# ---- grouping: collapsed modules (depth=) and folded repeats -----------------------------------

def _module_groups(nodes: list[Node], depth: int | None, fold: bool,
                   highlighted: set[Node]) -> dict[Node, tuple]:
    """node → group key for nodes drawn inside one box: ("module", path) for a module collapsed
    by `depth`, ("fold", (path, ...)) for a run of identical sibling blocks."""
    group: dict[Node, tuple] = {}
    if depth is not None:
        for n in nodes:
            if n.module is not None and _depth(n.module) >= depth:
                group[n] = ("module", ".".join(n.module.split(".")[:depth]) if depth else "")
    if not fold:
        return group
    # every module path's nodes (its own and its submodules'), in recording order
    subtree: dict[str, list[Node]] = {}
    for n in nodes:
        if n.module is not None:
            for p in _ancestors(n.module):
                subtree.setdefault(p, []).append(n)
    # candidate blocks: modules named by an integer (Sequential children), not inside a box
    siblings: dict[str, list[tuple[int, str]]] = {}
    for p in subtree:
        head, _, last = p.rpartition(".")
        if last.isdigit() and (depth is None or _depth(p) <= depth):
            siblings.setdefault(head, []).append((int(last), p))
    consumed: list[str] = []  # outermost first, so an outer fold hides the inner ones
    for parent in sorted(siblings, key=lambda h: (_depth(h) if h else 0, h)):
        if any(_inside(parent, c) for c in consumed):
            continue
        blocks = sorted(siblings[parent])
        # a block holding a highlighted node is its own signature: it stays drawn, and splits a run
        sig = {p: ("highlighted", p) if highlighted.intersection(subtree[p])
               else _signature(subtree[p], p) for _, p in blocks}
        start = 0
        while start < len(blocks):
            end = start + 1
            while (end < len(blocks) and blocks[end][0] == blocks[end - 1][0] + 1
                   and sig[blocks[end][1]] == sig[blocks[start][1]]):
                end += 1
            run = tuple(p for _, p in blocks[start:end])
            if len(run) >= 2:
                consumed.extend(run)
                for p in run:
                    for n in subtree[p]:
                        group[n] = ("fold", run)
            start = end
    return group


def _signature(nodes: list[Node], base: str) -> tuple:
    return tuple((n.op, _relative(n.module, base), n.out_shape, n.out_dtype) for n in nodes)

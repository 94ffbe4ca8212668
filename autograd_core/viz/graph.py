"""Reading the recorded graph for a picture: the walk, names, module paths, and the grouping of
modules (collapsed below `depth`, identical sibling blocks folded)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..graph import Node
from ..tensor import Tensor

# ---- reading the graph -------------------------------------------------------------------------

def _producer(x) -> Node | None:
    """The node whose output `x` is (None for a leaf or a constant). Before backward an op output
    is a Tensor with its node; after, the released node stands for it (Note [the graph outlives
    backward] in backward.py)."""
    if isinstance(x, Node):
        return x
    return x._node if isinstance(x, Tensor) else None


def _walk(outputs: list[Tensor]) -> tuple[list[Node], list[Node]]:
    """(nodes reaching `outputs` in recording order, the cut ones among them).

    An explicit stack, no recursion: a chain of 100,000 ops is fine. The walk goes through nodes
    released by backward (they keep which node fed each input); a node released outside a sweep
    (an error stopped backward half way) has no inputs left: the graph is cut there.
    """
    seen: set[Node] = set()
    stack = []
    for o in outputs:
        if o._node is not None and o._node not in seen:
            seen.add(o._node)
            stack.append(o._node)
    cut = []
    while stack:
        node = stack.pop()
        if node.inputs is None:
            cut.append(node)
            continue
        for x in node.inputs:
            p = _producer(x)
            if p is not None and p not in seen:
                seen.add(p)
                stack.append(p)
    return sorted(seen, key=lambda n: n.index), sorted(cut, key=lambda n: n.index)


def _check_outputs(output: Any, who: str) -> list[Tensor]:
    """`output` as a list: a Tensor, or a non-empty tuple or list of Tensors."""
    outputs = list(output) if isinstance(output, (tuple, list)) else [output]
    if not outputs:
        raise ValueError(f"{who}: expected a Tensor or a tuple or list of Tensors, got an empty "
                         f"{type(output).__name__}")
    for i, o in enumerate(outputs):
        if not isinstance(o, Tensor):
            where = f"output[{i}]" if isinstance(output, (tuple, list)) else "output"
            raise TypeError(f"{who}: expected the Tensor whose graph to draw (or a tuple or list "
                            f"of them), {where} is {type(o).__name__}")
    return outputs


def _outputs_text(outputs: list[Tensor]) -> str:
    """'output scalar float32', or 'outputs scalar float32, (3,) float64'."""
    each = [f"{_shape(o.shape)} {o.dtype}" for o in outputs]
    return ("output " if len(each) == 1 else f"{len(each)} outputs ") + ", ".join(each)


def _value_flags(x) -> list[str]:
    """["NaN"], ["Inf"], both or none: the non-finite entries of a leaf's or constant's value."""
    data = x.data if isinstance(x, Tensor) else x
    if not isinstance(data, (np.ndarray, np.generic, float, complex)):
        return []
    data = np.asarray(data)
    if data.dtype.kind not in "fc":
        return []
    return [f for f, on in (("NaN", np.isnan(data).any()), ("Inf", np.isinf(data).any())) if on]


def _leaves(nodes: list[Node], outputs: list[Tensor],
            names: dict[int, str]) -> tuple[dict[int, Any], dict[int, list[Node]]]:
    """(id → the leaves and constants a picture shows, id → the ops that take each), in the order
    the ops take them; an output that is a leaf itself is one too."""
    leaves: dict[int, Any] = {}
    consumers: dict[int, list[Node]] = {}
    for n in nodes:
        for t in n.inputs or ():
            if _producer(t) is None and _drawn(t, names):
                leaves.setdefault(id(t), t)
                consumers.setdefault(id(t), []).append(n)
    for o in outputs:
        if o._node is None and id(o) not in leaves:
            leaves[id(o)] = o
            consumers[id(o)] = []
    return leaves, consumers


def _drawn(x, names: dict[int, str]) -> bool:
    """Is leaf or constant input `x` drawn? Tensors that require grad or are named (any shape,
    0-d included), constant arrays of one or more axes, and any value holding NaN or Inf; not
    other 0-d constants and Python numbers (``x * 2.0``), nor non-numeric arguments."""
    if isinstance(x, Tensor):
        if x.requires_grad or id(x) in names or x.data.ndim > 0:
            return True
    elif isinstance(x, np.ndarray):
        if x.ndim > 0:
            return True
    elif not isinstance(x, (np.generic, float, complex)):
        return False
    return bool(_value_flags(x))


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

"""The reverse sweep: one generic loop that applies every node's VJP.

Recording order is a topological order (each node's index is larger than its inputs' nodes'). The
sweep keeps the nodes that have received a cotangent in a heap keyed by index and always applies
the latest one next: every node that could still send it a cotangent was recorded after it, so
its cotangent is complete when it is popped. No recursion and no separate collection pass (a chain
of 100,000 ops works at the default recursion limit), and each node is released right after its
VJP has run, so saved arrays are freed while the sweep goes on. Cotangents live in a dict keyed by
node (each non-leaf Tensor is the output of exactly one node); leaf cotangents in a dict keyed by
the leaf.
"""

from __future__ import annotations

import sys
from heapq import heappop, heappush
from operator import attrgetter

import numpy as np

from . import anomaly, ops
from .tape import Node, _per_thread, no_grad
from .tensor import Tensor


def _released_error(node: Node) -> RuntimeError:
    return RuntimeError(
        f"backward through node #{node.index} '{node.op}' (output {node.out_shape}), whose graph "
        "was already released by an earlier backward(). Pass retain_graph=True to the first "
        "backward() if you need to go through the graph twice"
        + (f" [forward at {node.source}]" if node.source else "")
    )


_index = attrgetter("index")


def _collect(roots: list[Node]) -> list[Node]:
    """Nodes reachable from `roots`, latest first."""
    seen: set[Node] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        if node.args is None:
            raise _released_error(node)
        seen.add(node)
        for t, need in zip(node.inputs, node.needs, strict=True):  # need: a Tensor that requires grad
            if need and t._node is not None:
                stack.append(t._node)
    return sorted(seen, key=_index, reverse=True)


def _leading_to(nodes: list[Node], src_nodes: set[Node], src_leaves: set[Tensor]) -> list[Node]:
    """The nodes (latest first) through which some source is reached: the only ones a sweep for
    those sources must apply. Walks forward (earliest first), so each node's inputs are known."""
    useful: set[Node] = set()
    for node in reversed(nodes):
        if node in src_nodes or any(
                need and ((t._node in useful) if t._node is not None else (t in src_leaves))
                for t, need in zip(node.inputs, node.needs, strict=True)):
            useful.add(node)
    return [n for n in nodes if n in useful]


def _where(node: Node) -> str:
    parts = []
    if node.module:
        parts.append(f"in module '{node.module}'")
    if node.source:
        parts.append(f"forward at {node.source}")
    return f" ({', '.join(parts)})" if parts else ""


def _fit(c, t: Tensor, node: Node, i: int, create_graph: bool):
    """Check cotangent `c` for input `t` of `node`; undo broadcasting; match t's dtype."""
    shape = t.data.shape
    cshape = np.shape(c)
    if cshape != shape:
        if node.prim.broadcasting and _broadcasts_to(shape, cshape):
            c = ops.sum_to(c, shape)  # Note [broadcasting]: undone once, here
        else:
            raise ValueError(
                f"VJP of '{node.op}' returned a cotangent of shape {cshape} for "
                f"{node.prim.input_label(i)} of shape {shape}{_where(node)}; a cotangent must have "
                "its input's shape (nothing is summed or broadcast for you)"
            )
    dtype = t.data.dtype
    if create_graph:
        if not isinstance(c, Tensor):
            c = Tensor._result(np.asarray(c, dtype=dtype), False)
        elif c.data.dtype != dtype:
            c = ops.astype(c, dtype=dtype)
    elif type(c) is not np.ndarray or c.dtype != dtype:
        if isinstance(c, Tensor):
            raise TypeError(
                f"VJP of '{node.op}' returned a Tensor for {node.prim.input_label(i)} in a "
                "first-order sweep; compute on the arrays it receives"
            )
        c = np.asarray(c, dtype=dtype)
    return c


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    if len(shape) > len(target):
        return False
    return all(s == 1 or s == d for s, d in zip(shape[::-1], target[::-1], strict=False))


def _seed(out: Tensor, grad, create_graph: bool):
    if grad is None:
        if out.data.size != 1:
            raise RuntimeError(
                f"backward() on a Tensor of shape {out.shape} needs `grad` (the cotangent, same "
                "shape as the Tensor); only a one-element Tensor has an implicit grad of 1. "
                "Reduce it first (e.g. .sum()) or pass grad=np.ones(shape)"
            )
        g = np.ones(out.data.shape, dtype=out.data.dtype)
    else:
        graw = grad.data if isinstance(grad, Tensor) else np.asarray(grad)
        if graw.shape != out.data.shape:
            raise ValueError(
                f"backward(): grad has shape {graw.shape} but the Tensor has shape "
                f"{out.data.shape}; they must match"
            )
        if graw.dtype.kind != "f":
            raise TypeError(f"backward(): grad must be floating point, got dtype {graw.dtype}")
        if create_graph and isinstance(grad, Tensor):
            return grad if grad.dtype == out.dtype else ops.astype(grad, dtype=out.dtype)
        g = graw.astype(out.data.dtype, copy=False)
    return Tensor._result(g, False) if create_graph else g


_NO_COTANGENT = object()  # a node reached only through VJPs that returned None (zero)


def _sweep(outputs: list[Tensor], seeds: list, sources: list[Tensor] | None, *,
           retain_graph: bool, create_graph: bool):
    """Run the sweep. Returns (cotangents by node: each source node's complete cotangent, or
    leftovers; cotangents by leaf). With `sources`, only nodes that lead to a source are applied
    (a source in the middle of a chain does not stop the sweep: one upstream may need it)."""
    useful = None
    src_nodes: set[Node] = set()
    if sources is not None:
        roots = [o._node for o in outputs if o._node is not None and o.requires_grad]
        src_nodes = {s._node for s in sources if s._node is not None}
        useful = set(_leading_to(_collect(roots), src_nodes, {s for s in sources if s._node is None}))
    cot: dict[Node, object] = {}
    leaf: dict[Tensor, object] = {}
    found: dict[Node, object] = {}
    heap: list[tuple[int, Node]] = []  # (-index, node): the latest node first
    for o, g in zip(outputs, seeds, strict=True):
        if not o.requires_grad:
            continue
        key = o._node
        if key is None:
            leaf[o] = leaf[o] + g if o in leaf else g
        elif key in cot:
            cot[key] = cot[key] + g
        else:
            cot[key] = g
            heappush(heap, (-key.index, key))
    st = _per_thread.state
    prev = st.enabled
    st.enabled = create_graph  # a first-order sweep records nothing
    apply = anomaly.checked(_apply) if anomaly.state.enabled else _apply  # read once per sweep
    release = not retain_graph
    try:
        while heap:
            node = heappop(heap)[1]
            if node.args is None:
                raise _released_error(node)
            g = cot.pop(node)
            if g is _NO_COTANGENT or (useful is not None and node not in useful):
                if release:  # still visit what it reaches, to release it
                    _pass_on_nothing(node, cot, heap)
            else:
                if node in src_nodes:
                    found[node] = g  # complete: every node after it has been applied
                apply(node, g, cot, leaf, create_graph, heap)
            if release:
                node.release()
    finally:
        st.enabled = prev
        if release:  # after an error: the nodes still waiting
            for _, node in heap:
                node.release()
    cot.update(found)
    return cot, leaf


def _pass_on_nothing(node: Node, cot: dict, heap: list) -> None:
    for t, need in zip(node.inputs, node.needs, strict=True):
        key = t._node if need else None
        if key is not None and key not in cot:
            cot[key] = _NO_COTANGENT
            heappush(heap, (-key.index, key))


def _apply(node: Node, g, cot: dict, leaf: dict, create_graph: bool, heap: list | None = None) -> None:
    """Run `node`'s VJP on cotangent `g` and add what it returns to its inputs' cotangents; a
    node getting its first cotangent is pushed on `heap` (when one is given)."""
    prim = node.prim
    inputs = node.inputs
    if create_graph:
        ans = node.output  # a Tensor on node.ans whose node is `node`: differentiable again
        args = inputs
    else:
        ans = node.ans
        args = node.args
    kwargs = node.kwargs
    if prim.saves:
        kwargs = {**kwargs, "saved": node.saved}
    if prim.vjp_wants_needs:
        cots = prim.vjp(g, ans, *args, needs=node.needs, **kwargs)
    elif kwargs:
        cots = prim.vjp(g, ans, *args, **kwargs)
    else:  # `f(*a, **{})` costs a dict unpacking
        cots = prim.vjp(g, ans, *args)
    if type(cots) is not tuple or len(cots) != len(inputs):
        cots = _check_cotangents(node, cots)
    needs = node.needs
    for i in range(len(cots)):  # lengths checked above
        if not needs[i]:
            continue
        c = cots[i]
        t = inputs[i]
        key = t._node
        if c is None:  # zero: the node behind is still visited, so a backward releases it
            if key is not None and heap is not None and key not in cot:
                cot[key] = _NO_COTANGENT
                heappush(heap, (-key.index, key))
            continue
        d = t.data
        if create_graph or type(c) is not np.ndarray or c.shape != d.shape or (
                c.dtype is not d.dtype and c.dtype != d.dtype):
            c = _fit(c, t, node, i, create_graph)
        if key is not None:
            prev = cot.get(key)
            if prev is None:
                cot[key] = c
                if heap is not None:
                    heappush(heap, (-key.index, key))
            else:
                cot[key] = c if prev is _NO_COTANGENT else prev + c
        else:
            prev = leaf.get(t)
            leaf[t] = c if prev is None else prev + c


def _check_cotangents(node: Node, cots) -> tuple:
    """A VJP's result as a tuple of one cotangent per input, or an error saying what is wrong."""
    inputs = node.inputs
    if type(cots) is not tuple:
        if isinstance(cots, list):
            cots = tuple(cots)
        elif len(inputs) == 1:
            cots = (cots,)  # a bare cotangent for a one-input primitive
        else:
            raise TypeError(
                f"VJP of '{node.op}' returned {type(cots).__name__}; it must return a tuple of "
                f"{len(inputs)} cotangents, one per input (None where an input gets none)"
            )
    if len(cots) != len(inputs):
        raise ValueError(
            f"VJP of '{node.op}' returned {len(cots)} cotangents for {len(inputs)} inputs"
            f"{_where(node)}; return one per input, None where an input gets none"
        )
    return cots


def _base_refs(c: np.ndarray) -> int:
    base = c.base
    return sys.getrefcount(base)


# What `_base_refs` reads for a view whose base nothing else refers to (c.base, the local, the
# call's argument: 3 on CPython 3.11), measured rather than assumed, since newer interpreters
# may borrow references to locals. Without reference counts (not CPython) views are copied.
_SOLE_REFS = _base_refs(np.zeros((2, 2)).T) if hasattr(sys, "getrefcount") else -1


def _sole_view(c: np.ndarray) -> bool:
    """Whether `c` is a view through which alone its memory can be reached, so it may become a
    `.grad` uncopied: e.g. ``(xᵀg)ᵀ``, the gradient of W in ``x @ W.T`` (a transpose VJP's view of
    a fresh matmul result; copying it cost 0.8 MB per step for W1's first layer). That is, its
    base owns its data, is the same size (nothing else kept alive), and is referenced by nothing
    but `c` (by its reference count)."""
    base = c.base
    if type(base) is not np.ndarray or base.base is not None or base.nbytes != c.nbytes:
        return False
    del base  # (a reference of ours would count)
    return _base_refs(c) == _SOLE_REFS


def backward(out: Tensor, grad=None, *, retain_graph: bool = False,
             create_graph: bool = False) -> None:
    """`Tensor.backward`: accumulate into the `.grad` of every leaf that requires grad."""
    if not out.requires_grad:
        raise RuntimeError(
            "backward() on a Tensor that does not require grad: no input of the computation "
            "had requires_grad=True (or it ran under no_grad)"
        )
    seed = _seed(out, grad, create_graph)
    _, leaf = _sweep([out], [seed], None, retain_graph=retain_graph or create_graph,
                     create_graph=create_graph)
    handed_out: set[int] = set()  # ids of arrays already given to a leaf in this sweep
    for t, c in leaf.items():
        if not create_graph and type(c) is not np.ndarray:
            c = np.asarray(c, dtype=t.data.dtype)  # a 0-d sum is a NumPy scalar: .grad is an array
        if t.grad is None:
            # own the array: a VJP may hand the same array to two inputs (add) or a view
            if not create_graph and (c is seed or id(c) in handed_out or (
                    c.base is not None and not _sole_view(c))):
                c = c.copy()
            handed_out.add(id(c))
            t.grad = c
        elif create_graph or isinstance(t.grad, Tensor):
            t.grad = ops.add(t.grad, c) if isinstance(t.grad, Tensor) else Tensor._result(t.grad, False) + c
        else:
            t.grad = np.asarray(t.grad + c)


def gradients(outputs: list[Tensor], seeds: list, sources: list[Tensor], *,
              create_graph: bool) -> list:
    """Cotangents of `sources` (Tensors) for the given outputs and seeds; leaves untouched.

    Never releases the graph (transforms run several sweeps over it). Sources the outputs do not
    depend on get zeros. Results are Tensors (recorded ones when `create_graph`).
    """
    for s in sources:
        if not isinstance(s, Tensor):
            raise TypeError(f"gradient sources must be Tensors, got {type(s).__name__}")
    seeds = [_seed(o, g, create_graph) for o, g in zip(outputs, seeds, strict=True)]
    cot, leaf = _sweep(outputs, seeds, sources, retain_graph=True, create_graph=create_graph)
    result = []
    for s in sources:
        c = cot.get(s._node) if s._node is not None else leaf.get(s)
        if c is None:
            c = np.zeros(s.data.shape, dtype=s.data.dtype)
        if not isinstance(c, Tensor):
            c = Tensor._result(np.array(c, dtype=s.data.dtype), False)
        result.append(c)
    return result


__all__ = ["backward", "gradients", "no_grad"]

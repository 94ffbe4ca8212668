"""The reverse sweep: one generic loop that applies every node's VJP.

Recording order is a topological order (a node's index is larger than its inputs' nodes'). The
sweep keeps the nodes that have received a cotangent in a heap keyed by index and always applies
the latest one next: every node that could still send it a cotangent was recorded after it, so
its cotangent is complete when it is popped. No recursion and no collection pass (a chain of
100,000 ops works at the default recursion limit), and each node is released right after its
VJP has run, so saved arrays are freed while the sweep goes on. Cotangents live in one dict keyed
by node (a non-leaf Tensor is the output of exactly one node) or, for leaves, by the Tensor.

Note [the graph outlives backward]: releasing a node frees its saved arrays and the op outputs
it took as inputs, but it keeps which node made each of them (and its leaves and constants), as
PyTorch's grad_fn graph does: a picture drawn after backward shows the whole graph. That record
holds no activations, and it goes when the output is dropped. With `grad_norms` switched on in
the recording state, the sweep also keeps each node's cotangent norm (`Node.grad_norm`).
"""

from __future__ import annotations

from heapq import heappop, heappush

import numpy as np

from . import anomaly, ops
from .graph import Node, local
from .tensor import Tensor


def backward(self: Tensor, grad=None, retain_graph: bool = False, create_graph: bool = False) -> None:
    """Accumulate d(self)/d(leaf) into every leaf's `.grad` (the leaf's own array: writeable,
    sharing memory with nothing else) by one reverse sweep. `grad`, the cotangent of self (array or
    Tensor), may be omitted only for a one-element Tensor. The graph's saved arrays are released
    unless `retain_graph=True` (or `create_graph=True`, which also records the sweep so that the
    `.grad` Tensors it leaves can be differentiated again)."""
    if not self.requires_grad:
        raise RuntimeError("backward() on a Tensor that does not require grad: no input of the "
                           "computation had requires_grad=True (or it ran under no_grad)")
    seed = seed_cotangent(self, grad, create_graph)
    cot = sweep([self], [seed], release=not (retain_graph or create_graph),
                 create_graph=create_graph)
    owned: set[int] = set()  # ids of the arrays given to leaves in this sweep
    for t, c in cot.items():
        if isinstance(t, Node) or c is None:
            continue
        if t.grad is not None:
            grad = t.grad + c
            t.grad = grad if isinstance(grad, Tensor) else np.asanyarray(grad)
        elif create_graph:
            t.grad = c
        else:  # a view, a read-only array, the seed or another leaf's grad is copied, not shared
            c = np.asanyarray(c)  # (a 0-d sum is a NumPy scalar; ag.jit's traced arrays stay)
            if c.base is not None or not c.flags.writeable or c is seed or id(c) in owned:
                c = c.copy(order="K")  # (in its own layout: a transposed view copies straight)
            owned.add(id(c))
            t.grad = c


Tensor.backward = backward  # the sweep is the layer above Tensor (Note [layers])


def sweep(outputs: list[Tensor], seeds: list, *, release: bool, create_graph: bool,
           only: set[Node] | None = None, keep: set = frozenset()) -> dict:
    """Run the sweep; returns the cotangents by leaf and, for the nodes in `keep`, by node.
    With `only`, the VJPs of other nodes are skipped (they lead to no source)."""
    cot: dict = {}  # node (for its output) or leaf -> its cotangent so far (None: zero so far)
    kept: dict = {}
    heap: list[tuple[int, Node]] = []  # (-index, node): the latest node first
    for o, g in zip(outputs, seeds, strict=True):
        if o.requires_grad:
            key = o._node or o  # a node stands for its output, a leaf for itself
            if key in cot:
                cot[key] = cot[key] + g
            else:
                cot[key] = g
                if key is o._node:
                    heappush(heap, (-key.index, key))
    rec = local.recording
    prev, rec.enabled = rec.enabled, create_graph  # a first-order sweep records nothing
    vjp = anomaly.checked(node_vjp) if anomaly.state.enabled else node_vjp
    try:
        while heap:
            node = heappop(heap)[1]
            if node.args is None:
                raise released_error(node)
            g = cot.pop(node)
            if g is not None and (only is None or node in only):
                if rec.grad_norms:
                    a = g.data if isinstance(g, Tensor) else g  # (in float64: float32 squares overflow)
                    node.grad_norm = float(np.sqrt(np.square(a, dtype=np.float64).sum()))
                if node in keep:
                    kept[node] = g  # complete: every node after it has been applied
                cots = vjp(node, g, create_graph)
            elif release:  # nothing to apply, but what it reaches must still be released
                cots = (None,) * len(node.inputs)
            else:
                continue
            inputs, needs = node.inputs, node.needs
            parents = list(inputs) if release else None
            for i in range(len(inputs)):
                if needs[i]:  # add the cotangent into the input's, fitted to its shape and dtype
                    t, c = inputs[i], cots[i]
                    if c is not None and (create_graph or type(c) is not np.ndarray
                                          or c.shape != t.data.shape or c.dtype != t.data.dtype):
                        c = fit(c, t, node, i, create_graph)
                    key = t._node or t
                    if release and key is not t:
                        parents[i] = key  # what the picture after backward keeps of it
                    if key not in cot:
                        cot[key] = c
                        if key is t._node:  # reached for the first time: its VJP will run
                            heappush(heap, (-key.index, key))
                    elif c is not None:
                        cot[key] = c if cot[key] is None else cot[key] + c
            if release:
                node.release(parents)
    finally:
        rec.enabled = prev
        if release:  # after an error: the nodes still waiting
            for _, node in heap:
                node.release()
    cot.update(kept)
    return cot


def node_vjp(node: Node, g, create_graph: bool = False) -> tuple | list:
    """The node's VJP applied to cotangent `g`: one cotangent per input (None for zero), as the
    rule returned them (`fit` them to their inputs)."""
    prim = node.prim
    ans, args = (node.output, node.inputs) if create_graph else (node.ans, node.args)
    kwargs = node.kwargs
    if prim.saves or prim.vjp_wants_needs:
        kwargs = dict(kwargs)
        if prim.saves:
            kwargs["saved"] = None if create_graph else node.saved  # Primitive's `saves`
        if prim.vjp_wants_needs:
            kwargs["needs"] = node.needs
    cots, n = prim.vjp(g, ans, *args, **kwargs) if kwargs else prim.vjp(g, ans, *args), len(node.inputs)
    if not isinstance(cots, (tuple, list)):
        if n != 1:
            raise TypeError(f"VJP of '{node.op}' returned {type(cots).__name__}; it must return a "
                            f"tuple of {n} cotangents, one per input (None where an input gets none)")
        cots = (cots,)  # a bare cotangent for a one-input primitive
    if len(cots) != n:
        raise ValueError(f"VJP of '{node.op}' returned {len(cots)} cotangents for {n} inputs"
                         f"{_where(node)}; return one per input, None where an input gets none")
    return cots


def fit(c, t: Tensor, node: Node, i: int, create_graph: bool = False):
    """Check cotangent `c` for input `t` of `node`; undo broadcasting; match t's dtype."""
    d = t.data
    if np.shape(c) != d.shape:
        if node.prim.broadcasting and len(d.shape) <= len(np.shape(c)) and all(
                s == 1 or s == n for s, n in zip(d.shape[::-1], np.shape(c)[::-1], strict=False)):
            c = ops.sum_to(c, d.shape)  # Note [broadcasting]: undone once, here
        else:
            raise ValueError(
                f"VJP of '{node.op}' returned a cotangent of shape {np.shape(c)} for "
                f"{node.prim.input_label(i)} of shape {d.shape}{_where(node)}; a cotangent must "
                "have its input's shape (nothing is summed or broadcast for you)")
    if isinstance(c, Tensor):
        if not create_graph:
            raise TypeError(f"VJP of '{node.op}' returned a Tensor for {node.prim.input_label(i)} "
                            "in a first-order sweep; compute on the arrays it receives")
        return c if c.dtype == d.dtype else ops.astype(c, d.dtype)
    c = np.asanyarray(c).astype(d.dtype, copy=False)  # (ag.jit's traced arrays stay traced)
    return Tensor._of(c) if create_graph else c


def seed_cotangent(out: Tensor, grad, create_graph: bool):
    """The cotangent a sweep starts from: `grad`, checked, or 1 for a one-element output."""
    shape, dtype = out.data.shape, out.data.dtype
    if grad is None and out.data.size != 1:
        raise RuntimeError(
            f"backward() on a Tensor of shape {shape} needs `grad` (the cotangent, same shape as "
            "the Tensor); only a one-element Tensor has an implicit grad of 1. Reduce it first "
            "(e.g. .sum()) or pass grad=np.ones(shape)")
    g = np.ones(shape, dtype) if grad is None else grad.data if isinstance(grad, Tensor) else np.asarray(grad)
    if g.shape != shape:
        raise ValueError(f"backward(): grad has shape {g.shape} but the Tensor has shape {shape}; "
                         "they must match")
    if g.dtype.kind != "f":
        raise TypeError(f"backward(): grad must be floating point, got dtype {g.dtype}")
    if create_graph and isinstance(grad, Tensor):  # the seed may carry a graph of its own
        return grad if g.dtype == dtype else ops.astype(grad, dtype)
    g = g.astype(dtype, copy=False)
    return Tensor._of(g) if create_graph else g


def _where(node: Node) -> str:
    parts = ([f"in module '{node.module}'"] if node.module else []) + (
        [f"forward at {node.source}"] if node.source else [])
    return f" ({', '.join(parts)})" if parts else ""


def released_error(node: Node) -> RuntimeError:
    return RuntimeError(
        f"backward through node #{node.index} '{node.op}' (output {node.out_shape}), whose graph "
        "was already released by an earlier backward(). Pass retain_graph=True to the first "
        "backward() if you need to go through the graph twice"
        + (f" [forward at {node.source}]" if node.source else ""))

"""Function transforms in JAX's style: `grad`, `value_and_grad`, `elementwise_grad`, `vjp`, `jvp`,
`hvp`, `jacobian`, `hessian`; and `Tape`, which keeps the nodes recorded in a ``with`` block and
differentiates through them.

`f` takes and returns Tensors; arrays passed in are wrapped. Results are Tensors, so transforms
compose (`hessian` is a `jacobian` of a `grad`): when an argument already carries a graph (we are
inside another transform), the inner sweep is recorded (``create_graph``) and linked to the outer
graph through an `identity` node. Transforms never touch any leaf's ``.grad``, and an input the
output does not depend on gets zeros, never None.

Arguments and results may be containers (Note [containers] in transforms/pytree.py).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from .. import ops
from ..backward import released_error, seed_cotangent, sweep
from ..graph import Node, enable_grad, local
from ..numpy_data import as_array
from ..tensor import Tensor
from .pytree import TreeDef, flatten_like, tree_flatten, tree_unflatten


def gradients(outputs: list[Tensor], seeds: list, sources: list[Tensor], *,
              create_graph: bool) -> list[Tensor]:
    """Cotangents of `sources` for the given outputs and seeds, as Tensors (recorded ones when
    `create_graph`); zeros for a source the outputs do not depend on. Leaves' `.grad` is not
    touched and the graph is kept (transforms run several sweeps over it)."""
    for s in sources:
        if not isinstance(s, Tensor):
            raise TypeError(f"gradient sources must be Tensors, got {type(s).__name__}")
    if create_graph:  # a recorded node would lock the caller's array (a copy: it stays writeable)
        seeds = [g if g is None or isinstance(g, Tensor) else np.array(g) for g in seeds]
    # recording on while seeds are set: two seeds of one output are summed before the sweep
    with enable_grad():
        seeds = [seed_cotangent(o, g, create_graph) for o, g in zip(outputs, seeds, strict=True)]
        cot = sweep(outputs, seeds, release=False, create_graph=create_graph,
                     only=_leading_to(outputs, sources), keep={s._node for s in sources})
    result = []
    for s in sources:
        c = cot.get(s if s._node is None else s._node)
        if not isinstance(c, Tensor):
            c = Tensor._of(np.zeros(s.shape, s.dtype) if c is None else np.asanyarray(c).astype(s.dtype))
        result.append(c)
    return result


def _leading_to(outputs: list[Tensor], sources: list[Tensor]) -> set[Node]:
    """The nodes through which some source is reached from the outputs (a pre-pass pruning a
    sweep for `sources`): walk back from the outputs, then forward in recording order."""
    reached: set[Node] = set()
    stack = [o._node for o in outputs if o._node is not None and o.requires_grad]
    while stack:
        node = stack.pop()
        if node not in reached:
            if node.args is None:
                raise released_error(node)
            reached.add(node)
            stack += [t._node for t, need in zip(node.inputs, node.needs, strict=True)
                      if need and t._node is not None]
    useful = {s._node for s in sources if s._node is not None}
    leaves = {s for s in sources if s._node is None}
    for node in sorted(reached, key=lambda n: n.index):
        if any(need and (t._node in useful if t._node is not None else t in leaves)
               for t, need in zip(node.inputs, node.needs, strict=True)):
            useful.add(node)
    return useful


# ---- tracing f ----------------------------------------------------------------------------------


def _argnums(argnums, n: int) -> tuple[tuple[int, ...], bool]:
    single = isinstance(argnums, (int, np.integer))
    nums = (int(argnums),) if single else tuple(int(a) for a in argnums)
    for a in nums:
        if not -n <= a < n:
            raise ValueError(f"argnums {a} is out of range for a function called with {n} arguments")
    return tuple(a % n for a in nums), single


class _Traced(NamedTuple):
    out: Any  # what f returned
    sources: list[Tensor]  # the differentiable leaves of the chosen arguments, in order
    paths: list[str]  # each source's place: "[argument index][key]..."
    arg_defs: list[TreeDef]  # the structure of each chosen argument
    nested: bool  # some argument already carries a graph (we are inside another transform)


def _trace(f: Callable, args: tuple, nums: tuple[int, ...], what: str) -> _Traced:
    """Call f with the leaves of the chosen args as fresh differentiable sources (Note
    [containers]).

    The sweeps over the result must be recorded (``create_graph``) when an argument already
    carries a graph (`nested`), or when the output depends on a differentiable Tensor other than
    the sources (a closure over an outer transform's variable, or over parameters): the gradient
    is then a function of those, and must stay differentiable (see `_recorded`).
    """
    args = list(args)
    sources: list[Tensor] = []
    paths: list[str] = []
    defs = []
    with enable_grad():
        for i in nums:
            leaves, leaf_paths, d = tree_flatten(args[i])
            srcs = [_source(x, what, f"argument {i}{p}") for x, p in zip(leaves, leaf_paths, strict=True)]
            args[i] = tree_unflatten(d, srcs)
            sources += srcs
            paths += [f"[{i}]{p}" for p in leaf_paths]
            defs.append(d)
        out = f(*args)
    return _Traced(out, sources, paths, defs, any(s._node is not None for s in sources))


def _source(x, what: str, where: str) -> Tensor:
    """A leaf of a differentiated argument as a source: a copy that requires grad (the caller's
    array stays unlocked), or, for a Tensor that carries a graph, a new `identity` node on it
    (the inner sweep's source; the outer graph goes on)."""
    if isinstance(x, Tensor) and x.requires_grad:
        return ops._identity(x)
    data = x.data.copy() if isinstance(x, Tensor) else as_array(x, what=what)
    if data.dtype.kind != "f":
        raise TypeError(f"{what}: cannot differentiate with respect to {where} of dtype {data.dtype}: "
                        "only float arguments can be differentiated (convert it to float, or leave "
                        "it out of argnums)")
    return Tensor._of(data, True)


def _recorded(tr: _Traced, outs: list[Tensor]) -> bool:
    return tr.nested or _depends_on_others(outs, tr.sources)


def _per_argument(flat: list, tr: _Traced) -> list:
    """Per-source results regrouped into one structure per chosen argument."""
    it = iter(flat)
    return [tree_unflatten(d, it) for d in tr.arg_defs]


def _pick(per_argument: list, single: bool):
    return per_argument[0] if single else tuple(per_argument)


def _as_tensor(o, what: str = "transform") -> Tensor:
    if isinstance(o, Tensor):
        return o
    arr = np.asarray(o)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{what}: f must return Tensors (or a tuple, list or dict of them), got "
                        f"{type(o).__name__}")
    return Tensor._of(arr)


def _outputs(out, what: str) -> tuple[list[Tensor], TreeDef]:
    """f's output as a flat list of Tensors and its structure."""
    leaves, _, d = tree_flatten(out)
    return [_as_tensor(o, what) for o in leaves], d


def _scalar(value, what: str) -> Tensor:
    """f's value, which must be one Tensor of one element."""
    if isinstance(value, (tuple, list, dict)):
        got = f"a {type(value).__name__}"
    else:
        value = _as_tensor(value, what)
        if value.data.size == 1:
            return value
        got = f"shape {value.shape}"
    raise TypeError(f"{what} requires f to return a scalar (one element), got {got}; use jacobian, "
                    "vjp or jvp for other outputs")


def _depends_on_others(outs: list[Tensor], sources: list[Tensor]) -> bool:
    """Does any output reach a Tensor that requires grad, other than through the sources?"""
    src_nodes = {s._node for s in sources if s._node is not None}
    src_leaves = {id(s) for s in sources if s._node is None}
    stack = [o._node for o in outs if o._node is not None]
    seen: set = set()
    while stack:
        node = stack.pop()
        if node in seen or node in src_nodes:
            continue
        seen.add(node)
        for t, need in zip(node.inputs or (), node.needs, strict=False):
            if not need:
                continue
            if t._node is not None:
                stack.append(t._node)
            elif id(t) not in src_leaves:
                return True
    return False


def _detach_aux(aux, sources: list[Tensor]):
    """`aux` with its Tensors detached where their history runs only to this transform's own
    copies of the arguments (useless to the caller, and it would keep the graph and the locks on
    the arrays it read alive). A Tensor that also depends on another differentiable Tensor (a
    parameter) is returned as it is, so that no gradient is silently lost."""
    leaves, _, d = tree_flatten(aux)
    ids = {id(s) for s in sources}

    def strip(t):
        if not isinstance(t, Tensor) or not t.requires_grad:
            return t
        if t._node is None:
            return t.detach() if id(t) in ids else t
        return t if _depends_on_others([t], sources) else t.detach()

    stripped = [strip(t) for t in leaves]
    if all(a is b for a, b in zip(stripped, leaves, strict=True)):
        return aux
    return tree_unflatten(d, stripped)


# ---- reverse mode -------------------------------------------------------------------------------


def _value_and_grad(f: Callable, argnums, has_aux: bool, what: str) -> Callable:
    def wrapper(*args):
        nums, single = _argnums(argnums, len(args))
        tr = _trace(f, args, nums, what)
        value, aux = tr.out, None
        if has_aux:
            if not (isinstance(tr.out, (tuple, list)) and len(tr.out) == 2):
                raise TypeError(f"{what}(has_aux=True) requires f to return a pair (value, aux), got "
                                f"{type(tr.out).__name__}" + (f" of {len(tr.out)}" if isinstance(
                                    tr.out, (tuple, list)) else ""))
            value, aux = tr.out
        out = _scalar(value, what)
        recorded = _recorded(tr, [out])
        grads = _pick(_per_argument(gradients([out], [None], tr.sources, create_graph=recorded), tr),
                      single)
        # a value nobody differentiates further need not keep its graph (nor its locks) alive
        out = out if recorded else out.detach()
        if has_aux:
            return (out, aux if recorded else _detach_aux(aux, tr.sources)), grads
        return out, grads

    return wrapper


def value_and_grad(f: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """Like `grad`, but the function returns ``(value, gradient)``.

    With ``has_aux=True``, f returns ``(value, aux)`` and the result is ``((value, aux), grad)``
    (JAX's convention); only `value` is differentiated. `aux` is returned as f gave it, except
    that a Tensor in it whose history runs only to this transform's own copies of the arguments
    is detached (that history is of no use outside, and would keep the graph alive); one that
    also depends on another Tensor requiring grad (a parameter), or any aux inside another
    transform, keeps its graph. Arguments may be containers (Note [containers]).
    """
    return _value_and_grad(f, argnums, has_aux, "value_and_grad")


def grad(f: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """The gradient of a scalar function, as a function.

    >>> import numpy as np, autograd_core as ag
    >>> df = ag.grad(lambda x: (x ** 3).sum())
    >>> df(np.array([1.0, 2.0]))          # 3x²
    tensor([ 3., 12.], dtype=float64)

    A tuple `argnums` gives a tuple of gradients. An argument that is a tuple, list or dict of
    arrays gets a gradient of the same structure (Note [containers]):

    >>> ag.grad(lambda p: (p["w"] * p["b"][0]).sum())({"w": np.ones(2), "b": [np.array(3.0)]})
    {'w': tensor([3., 3.], dtype=float64), 'b': [tensor(2., dtype=float64)]}

    With ``has_aux=True`` f returns ``(value, aux)`` and the result is ``(grad, aux)``, as in JAX.
    Nested use (``grad(grad(f))``, or a `grad` inside a function that another transform
    differentiates) works: the inner gradient is recorded whenever it depends on something
    differentiable besides its own arguments.
    """
    vg = _value_and_grad(f, argnums, has_aux, "grad")

    def wrapper(*args):
        value, g = vg(*args)
        return (g, value[1]) if has_aux else g

    return wrapper


def elementwise_grad(f: Callable, argnums=0) -> Callable:
    """The gradient of ``f(x).sum()``: for an elementwise f, the derivative at each point
    (HIPS autograd's `elementwise_grad`), in x's shape. For other f it is the sum of the rows of
    the Jacobian (a VJP with a cotangent of ones). f must return one Tensor."""

    def summed(*args):
        out = f(*args)
        if isinstance(out, (tuple, list, dict)):
            raise TypeError(f"elementwise_grad: f must return one Tensor, got a {type(out).__name__}")
        return ops.sum(_as_tensor(out, "elementwise_grad"))

    vg = _value_and_grad(summed, argnums, False, "elementwise_grad")
    return lambda *args: vg(*args)[1]


def vjp(f: Callable, *primals):
    """``(out, vjp_fn)``: `vjp_fn(g)` returns the tuple of cotangents of all primals (each in its
    primal's structure, Note [containers]) for output cotangent `g`: same shape as `out`, and the
    same structure when f returns a tuple, list or dict of Tensors. It may be called many times."""
    tr = _trace(f, primals, tuple(range(len(primals))), "vjp")
    outs, out_def = _outputs(tr.out, "vjp")
    recorded = _recorded(tr, outs)

    def vjp_fn(g):
        gs = flatten_like(g, out_def, "vjp_fn", "the cotangent", "f's output")
        rec = recorded or any(isinstance(c, Tensor) and c.requires_grad for c in gs)
        return tuple(_per_argument(gradients(outs, gs, tr.sources, create_graph=rec), tr))

    return tree_unflatten(out_def, outs), vjp_fn


def jacobian(f: Callable, argnums=0) -> Callable:
    """The Jacobian as a function: shape ``out.shape + in.shape`` (one reverse sweep per output
    element). A tuple `argnums` gives a tuple of Jacobians; a function returning a tuple (list,
    dict) gives a tuple (list, dict), one entry per output, of those, as in JAX; a container
    argument gives Jacobians in its structure (Note [containers])."""

    def wrapper(*args):
        nums, single = _argnums(argnums, len(args))
        tr = _trace(f, args, nums, "jacobian")
        outs, out_def = _outputs(tr.out, "jacobian")
        recorded = _recorded(tr, outs)
        per_output = []
        for out in outs:
            rows: list[list] = [[] for _ in tr.sources]
            n_out = out.data.size
            for k in range(n_out):
                e = np.zeros(n_out, dtype=out.data.dtype)
                e[k] = 1
                grads = gradients([out], [e.reshape(out.shape)], tr.sources, create_graph=recorded)
                for r, g in zip(rows, grads, strict=True):
                    r.append(g)
            jacs = []
            for s, r in zip(tr.sources, rows, strict=True):
                if r:
                    j = ops.reshape(ops.stack(r, axis=0), out.shape + s.shape)
                else:
                    j = Tensor._of(np.zeros(out.shape + s.shape, dtype=s.dtype))
                jacs.append(j)
            per_output.append(_pick(_per_argument(jacs, tr), single))
        return tree_unflatten(out_def, per_output)

    return wrapper


def hessian(f: Callable, argnums=0) -> Callable:
    """The Hessian of a scalar function: the `jacobian` of its `grad` (shape ``in.shape * 2``).
    With a tuple `argnums`, a nested tuple: ``H[i][j] = d²f / d(arg i) d(arg j)``, as in JAX."""
    return jacobian(grad(f, argnums), argnums)


# ---- forward mode -------------------------------------------------------------------------------


def _check_pairs(primals, tangents, what: str) -> None:
    for name, v in (("primals", primals), ("tangents", tangents)):
        if not isinstance(v, (tuple, list)):
            raise TypeError(f"{what}: {name} must be a tuple of f's arguments, got "
                            f"{type(v).__name__}; write {what}(f, (x,), (v,)) for one argument")
    if len(primals) != len(tangents):
        raise ValueError(f"{what}: {len(primals)} primals but {len(tangents)} tangents; give one "
                         "tangent per primal")


def _tangents(tangents, tr: _Traced, what: str) -> list:
    """The tangents' leaves, checked against the sources they go with: same structure, shape
    and dtype (a Python number or list takes its primal's dtype, like a weak scalar)."""
    leaves = []
    for i, (t, d) in enumerate(zip(tangents, tr.arg_defs, strict=True)):
        leaves += flatten_like(t, d, what, "tangents", "primals", f"[{i}]")
    checked = []
    for t, s, path in zip(leaves, tr.sources, tr.paths, strict=True):
        if isinstance(t, Tensor):
            arr = t.data
        elif isinstance(t, (np.ndarray, np.generic)):
            arr = np.asarray(t)
        else:
            arr = as_array(t, s.data.dtype, what=what)
        if arr.shape != s.shape:
            raise ValueError(f"{what}: tangents{path} has shape {arr.shape} but primals{path} has shape "
                             f"{s.shape}; a tangent must have its primal's shape and dtype")
        if arr.dtype != s.data.dtype:
            raise TypeError(f"{what}: tangents{path} has dtype {arr.dtype} but primals{path} has dtype "
                            f"{s.data.dtype}; a tangent must have its primal's shape and dtype")
        checked.append(t if isinstance(t, Tensor) else arr)
    return checked


def jvp(f: Callable, primals, tangents):
    """Forward mode: ``(out, tangent_out)`` with ``tangent_out = J v``, the derivative of f at
    `primals` in the direction `tangents` (JAX's signature: both are tuples, one entry per
    argument of f, each tangent of its primal's shape and dtype; containers as in Note
    [containers]). `out` and `tangent_out` have the structure of f's output (a Tensor, or a
    tuple, list or dict of them); an output that does not depend on the primals gets zeros.

    >>> ag.jvp(ag.exp, (np.array([0.0, 1.0]),), (np.array([1.0, 2.0]),))[1]   # exp(x) v
    tensor([1.        , 5.43656366], dtype=float64)

    The engine is reverse mode only; forward mode is the double-VJP trick. ``vjp(u) = Jᵀu`` is
    linear in the cotangent u, so its own VJP for cotangent v is ``(Jᵀ)ᵀv = J v``: one recorded
    (``create_graph``) sweep from placeholder cotangents u (zeros: the value does not matter)
    builds Jᵀu as a graph, and a second sweep over that graph, seeded with the tangents, gives
    J v. The cost is a few reverse sweeps, not one forward pass; the result is exact.
    """
    _check_pairs(primals, tangents, "jvp")
    tr = _trace(f, primals, tuple(range(len(primals))), "jvp")
    vs = _tangents(tangents, tr, "jvp")
    outs, out_def = _outputs(tr.out, "jvp")
    recorded = _recorded(tr, outs)
    live = [o for o in outs if o.requires_grad]
    us = [Tensor._of(np.zeros(o.shape, o.data.dtype), True) for o in live]
    pulled = gradients(live, us, tr.sources, create_graph=True)  # Jᵀu, linear in u
    rec = recorded or any(isinstance(v, Tensor) and v.requires_grad for v in vs)
    pushed = iter(gradients(pulled, vs, us, create_graph=rec))  # the VJP of u ↦ Jᵀu at v: J v
    tangent_out = [next(pushed) if o.requires_grad else Tensor._of(np.zeros(o.shape, o.data.dtype))
                   for o in outs]
    outs = outs if recorded else [o.detach() for o in outs]
    return tree_unflatten(out_def, outs), tree_unflatten(out_def, tangent_out)


def hvp(f: Callable, primals, tangents) -> tuple:
    """The Hessian-vector product ``H v`` of a scalar f at `primals`, without forming H: the
    gradient of ``<grad f, v>`` (a recorded sweep for grad f, then one sweep over it seeded with
    the tangents). Same value as JAX's ``jvp(grad(f, argnums=all), primals, tangents)[1]``
    (the Hessian is symmetric): a tuple with one entry per primal, each in its primal's
    structure (Note [containers]); H is the Hessian with respect to all primals together.

    >>> ag.hvp(lambda x: (x ** 3).sum(), (np.array([1.0, 2.0]),), (np.array([1.0, 1.0]),))
    (tensor([ 6., 12.], dtype=float64),)
    """
    _check_pairs(primals, tangents, "hvp")
    tr = _trace(f, primals, tuple(range(len(primals))), "hvp")
    vs = _tangents(tangents, tr, "hvp")
    out = _scalar(tr.out, "hvp")
    grads = gradients([out], [None], tr.sources, create_graph=True)
    rec = _recorded(tr, [out]) or any(isinstance(v, Tensor) and v.requires_grad for v in vs)
    return tuple(_per_argument(gradients(grads, vs, tr.sources, create_graph=rec), tr))


class Tape:
    """Keeps the nodes recorded inside a ``with`` block, in recording order.

    >>> x = ag.tensor([1.0, 2.0], requires_grad=True)
    >>> with ag.Tape() as tape:
    ...     y = (x * x).sum()
    >>> [node.op for node in tape]
    ['multiply', 'sum']
    >>> tape.gradient(y, [x])
    [tensor([2., 4.], dtype=float32)]

    Only operations that are recorded (some input requires grad, recording on) appear. The tape
    holds its nodes and their outputs alive until the tape itself is dropped.
    """

    def __init__(self) -> None:
        self._nodes: list[Node] = []
        self._outputs: list = []  # keeps node.output alive while the tape lives

    def __enter__(self) -> Tape:
        local.recording.tapes.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        local.recording.tapes.remove(self)

    def _record(self, node: Node, out: Tensor) -> None:
        node._out = weakref.ref(out)  # node.output is then the very object
        self._nodes.append(node)
        self._outputs.append(out)

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self._nodes)

    def __getitem__(self, i: int) -> Node:
        return self._nodes[i]

    def gradient(self, target, sources):
        """Gradient of `target` (a scalar Tensor) with respect to each of `sources`.

        Returns one Tensor per source: a list for a list (or tuple), a single Tensor for a single
        source. A source the target does not depend on gets zeros. Leaves' ``.grad`` is not
        touched, and the graph is kept (call it as often as you like).
        """
        single = not isinstance(sources, (list, tuple))
        srcs = [sources] if single else list(sources)
        grads = gradients([target], [None], srcs, create_graph=False)
        return grads[0] if single else type(sources)(grads) if isinstance(sources, tuple) else grads

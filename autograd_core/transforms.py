"""Function transforms in JAX's style: `grad`, `value_and_grad`, `vjp`, `jacobian`, `hessian`;
and `Tape`, which keeps the nodes recorded in a ``with`` block and differentiates through them.

`f` takes and returns Tensors; arrays passed in are wrapped. Results are Tensors, so transforms
compose (`hessian` is a `jacobian` of a `grad`): when an argument already carries a graph (we are
inside another transform), the inner sweep is recorded (``create_graph``) and linked to the outer
graph through an `identity` node. Transforms never touch any leaf's ``.grad``, and an input the
output does not depend on gets zeros, never None.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import ops
from .backward import released_error, seed_cotangent, sweep
from .graph import Node, enable_grad, local
from .tensor import Tensor


def gradients(outputs: list[Tensor], seeds: list, sources: list[Tensor], *,
              create_graph: bool) -> list[Tensor]:
    """Cotangents of `sources` for the given outputs and seeds, as Tensors (recorded ones when
    `create_graph`); zeros for a source the outputs do not depend on. Leaves' `.grad` is not
    touched and the graph is kept (transforms run several sweeps over it)."""
    for s in sources:
        if not isinstance(s, Tensor):
            raise TypeError(f"gradient sources must be Tensors, got {type(s).__name__}")
    seeds = [seed_cotangent(o, g, create_graph) for o, g in zip(outputs, seeds, strict=True)]
    cot = sweep(outputs, seeds, release=False, create_graph=create_graph,
                 only=_leading_to(outputs, sources), keep={s._node for s in sources})
    result = []
    for s in sources:
        c = cot.get(s if s._node is None else s._node)
        if not isinstance(c, Tensor):
            c = Tensor._of(np.zeros(s.shape, s.dtype) if c is None else np.array(c, dtype=s.dtype))
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


def _argnums(argnums, n: int) -> tuple[tuple[int, ...], bool]:
    single = isinstance(argnums, (int, np.integer))
    nums = (int(argnums),) if single else tuple(int(a) for a in argnums)
    for a in nums:
        if not -n <= a < n:
            raise ValueError(f"argnums {a} is out of range for a function called with {n} arguments")
    return tuple(a % n for a in nums), single


def _trace(f: Callable, args: tuple, nums: tuple[int, ...]):
    """Call f with the chosen args as fresh differentiable sources.

    Returns (outputs: a list of Tensors, tuple_out: whether f returned a tuple, sources, recorded).
    `recorded` says whether the sweeps must be recorded (``create_graph``): when an argument
    already carries a graph (we are inside another transform), or when the output depends on a
    differentiable Tensor other than the sources (a closure over an outer transform's variable, or
    over parameters): the gradient is then a function of those, and must stay differentiable.
    """
    args = list(args)
    sources = []
    nested = False
    with enable_grad():
        for i in nums:
            x = args[i]
            if isinstance(x, Tensor) and x.requires_grad:
                nested = True
                s = ops._identity(x)  # a new node: the inner sweep's source; the outer graph goes on
            elif isinstance(x, Tensor):
                _check_float(x)
                s = Tensor._of(x.data.copy(), True)  # a copy: the caller's array stays unlocked
            else:
                s = Tensor(x, requires_grad=True)
            args[i] = s
            sources.append(s)
        out = f(*args)
    tuple_out = isinstance(out, (tuple, list))
    outs = [_as_tensor(o) for o in (out if tuple_out else [out])]
    return outs, tuple_out, sources, nested or _depends_on_others(outs, sources)


def _as_tensor(o) -> Tensor:
    if isinstance(o, Tensor):
        return o
    arr = np.asarray(o)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"a transformed function must return Tensors (or a tuple of them), got "
                        f"{type(o).__name__}")
    return Tensor._of(arr)


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


def _check_float(x: Tensor) -> bool:
    if x.data.dtype.kind != "f":
        raise TypeError(f"cannot differentiate with respect to an argument of dtype {x.data.dtype}")
    return True


def _pick(grads: list, single: bool):
    return grads[0] if single else tuple(grads)


def value_and_grad(f: Callable, argnums=0) -> Callable:
    """Like `grad`, but the function returns ``(value, gradient)``."""

    def wrapper(*args):
        nums, single = _argnums(argnums, len(args))
        outs, tuple_out, sources, recorded = _trace(f, args, nums)
        out = outs[0]
        if tuple_out or out.data.size != 1:
            raise TypeError(
                f"grad requires f to return a scalar (one element), got "
                f"{'a tuple' if tuple_out else f'shape {out.shape}'}; use jacobian or vjp")
        grads = gradients([out], [None], sources, create_graph=recorded)
        # a value nobody differentiates further need not keep its graph (nor its locks) alive
        return (out if recorded else out.detach()), _pick(grads, single)

    return wrapper


def grad(f: Callable, argnums=0) -> Callable:
    """The gradient of a scalar function, as a function.

    >>> import numpy as np, autograd_core as ag
    >>> df = ag.grad(lambda x: (x ** 3).sum())
    >>> df(np.array([1.0, 2.0]))          # 3x²
    tensor([ 3., 12.], dtype=float64)

    A tuple `argnums` gives a tuple of gradients. Nested use (``grad(grad(f))``, or a `grad`
    inside a function that another transform differentiates) works: the inner gradient is
    recorded whenever it depends on something differentiable besides its own arguments.
    """
    vg = value_and_grad(f, argnums)
    return lambda *args: vg(*args)[1]


def vjp(f: Callable, *primals):
    """``(out, vjp_fn)``: `vjp_fn(g)` returns the tuple of cotangents of all primals for output
    cotangent `g` (same shape as `out`; a tuple of them when f returns a tuple). It may be
    called many times."""
    nums = tuple(range(len(primals)))
    outs, tuple_out, sources, recorded = _trace(f, primals, nums)

    def vjp_fn(g):
        gs = list(g) if tuple_out else [g]
        if len(gs) != len(outs):
            raise ValueError(f"vjp_fn: f returned {len(outs)} outputs, got {len(gs)} cotangents")
        rec = recorded or any(isinstance(c, Tensor) and c.requires_grad for c in gs)
        return tuple(gradients(outs, gs, sources, create_graph=rec))

    return (tuple(outs) if tuple_out else outs[0]), vjp_fn


def jacobian(f: Callable, argnums=0) -> Callable:
    """The Jacobian as a function: shape ``out.shape + in.shape`` (one reverse sweep per output
    element). A tuple `argnums` gives a tuple of Jacobians; a function returning a tuple gives a
    tuple (one entry per output) of those, as in JAX."""

    def wrapper(*args):
        nums, single = _argnums(argnums, len(args))
        outs, tuple_out, sources, recorded = _trace(f, args, nums)
        per_output = []
        for out in outs:
            rows: list[list] = [[] for _ in sources]
            n_out = out.data.size
            for k in range(n_out):
                e = np.zeros(n_out, dtype=out.data.dtype)
                e[k] = 1
                grads = gradients([out], [e.reshape(out.shape)], sources, create_graph=recorded)
                for r, g in zip(rows, grads, strict=True):
                    r.append(g)
            jacs = []
            for s, r in zip(sources, rows, strict=True):
                if r:
                    j = ops.reshape(ops.stack(r, axis=0), out.shape + s.shape)
                else:
                    j = Tensor._of(np.zeros(out.shape + s.shape, dtype=s.dtype))
                jacs.append(j)
            per_output.append(_pick(jacs, single))
        return tuple(per_output) if tuple_out else per_output[0]

    return wrapper


def hessian(f: Callable, argnums=0) -> Callable:
    """The Hessian of a scalar function: the `jacobian` of its `grad` (shape ``in.shape * 2``).
    With a tuple `argnums`, a nested tuple: ``H[i][j] = d²f / d(arg i) d(arg j)``, as in JAX."""
    return jacobian(grad(f, argnums), argnums)


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

"""Function transforms in JAX's style: `grad`, `value_and_grad`, `vjp`, `jacobian`, `hessian`.

`f` takes and returns Tensors; arrays passed in are wrapped. Results are Tensors, so transforms
compose (`hessian` is a `jacobian` of a `grad`): when an argument already carries a graph (we are
inside another transform), the inner sweep is recorded (``create_graph``) and linked to the outer
graph through an `identity` node. Transforms never touch any leaf's ``.grad``, and an input the
output does not depend on gets zeros, never None.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import ops
from .backward import gradients
from .tape import enable_grad
from .tensor import Tensor


def _argnums(argnums, n: int) -> tuple[tuple[int, ...], bool]:
    single = isinstance(argnums, (int, np.integer))
    nums = (int(argnums),) if single else tuple(int(a) for a in argnums)
    for a in nums:
        if not -n <= a < n:
            raise ValueError(f"argnums {a} is out of range for a function called with {n} arguments")
    return tuple(a % n for a in nums), single


def _trace(f: Callable, args: tuple, nums: tuple[int, ...]):
    """Call f with the chosen args as fresh differentiable sources; returns (out, sources, nested)."""
    args = list(args)
    sources = []
    nested = False
    with enable_grad():
        for i in nums:
            x = args[i]
            if isinstance(x, Tensor) and x.requires_grad:
                nested = True
                s = ops.identity(x)  # a new node: the inner sweep's source; the outer graph goes on
            else:
                s = Tensor(x, requires_grad=True) if not isinstance(x, Tensor) else Tensor._result(
                    x.data, _check_float(x))
            args[i] = s
            sources.append(s)
        out = f(*args)
    if not isinstance(out, Tensor):
        out = Tensor._result(np.asarray(out), False)
    return out, sources, nested


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
        out, sources, nested = _trace(f, args, nums)
        if out.data.size != 1:
            raise TypeError(
                f"grad requires f to return a scalar (one element), got shape {out.shape}; "
                "use jacobian or vjp for non-scalar outputs")
        grads = gradients([out], [None], sources, create_graph=nested)
        return out, _pick(grads, single)

    return wrapper


def grad(f: Callable, argnums=0) -> Callable:
    """The gradient of a scalar function, as a function.

    >>> import numpy as np, autograd_core as ag
    >>> df = ag.grad(lambda x: (x ** 3).sum())
    >>> df(np.array([1.0, 2.0]))          # 3x²
    tensor([ 3., 12.], dtype=float64)

    A tuple `argnums` gives a tuple of gradients. Nested use (``grad(grad(f))``) works.
    """
    vg = value_and_grad(f, argnums)
    return lambda *args: vg(*args)[1]


def vjp(f: Callable, *primals):
    """``(out, vjp_fn)``: `vjp_fn(g)` returns the tuple of cotangents of all primals for output
    cotangent `g` (same shape as `out`). It may be called many times."""
    nums = tuple(range(len(primals)))
    out, sources, nested = _trace(f, primals, nums)

    def vjp_fn(g):
        recorded = nested or (isinstance(g, Tensor) and g.requires_grad)
        return tuple(gradients([out], [g], sources, create_graph=recorded))

    return out, vjp_fn


def jacobian(f: Callable, argnums=0) -> Callable:
    """The Jacobian as a function: shape ``out.shape + in.shape`` (one reverse sweep per output
    element). A tuple `argnums` gives a tuple of Jacobians."""

    def wrapper(*args):
        nums, single = _argnums(argnums, len(args))
        out, sources, nested = _trace(f, args, nums)
        rows: list[list] = [[] for _ in sources]
        n_out = out.data.size
        for k in range(n_out):
            e = np.zeros(n_out, dtype=out.data.dtype)
            e[k] = 1
            for r, g in zip(rows, gradients([out], [e.reshape(out.shape)], sources, create_graph=nested),
                            strict=True):
                r.append(g)
        jacs = []
        for s, r in zip(sources, rows, strict=True):
            if r:
                j = ops.reshape(ops.stack(r, axis=0), out.shape + s.shape)
            else:
                j = Tensor._result(np.zeros(out.shape + s.shape, dtype=s.dtype), False)
            jacs.append(j)
        return _pick(jacs, single)

    return wrapper


def hessian(f: Callable, argnums=0) -> Callable:
    """The Hessian of a scalar function: the `jacobian` of its `grad` (shape ``in.shape * 2``)."""
    return jacobian(grad(f, argnums), argnums)

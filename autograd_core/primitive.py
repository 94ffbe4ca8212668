"""`@primitive` and `.defvjp`: the one way ops are defined, built-in and user-written alike.

A primitive wraps a NumPy function. Called with plain arrays it *is* that function (no Tensor, no
recording), which is what makes first-order backward run at NumPy speed: the sweep feeds rules
plain arrays, and rules are written with these same primitives. Called with Tensors it computes
on their data and, if any input requires grad and recording is on, records a `Node`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from operator import itemgetter

import numpy as np

from .tape import Node, _fill, _per_thread
from .tensor import Tensor

_new = object.__new__


class Primitive:
    """A differentiable function: a NumPy forward plus a vector-Jacobian product (VJP).

    The VJP is called as ``vjp(g, ans, *inputs, **kwargs)`` and returns one cotangent per
    positional input (None where an input gets none); a bare cotangent is accepted for a
    one-input primitive. If the VJP has a keyword-only parameter ``needs``, it also receives a
    tuple of bools saying which inputs need a cotangent, so it can skip work.

    `broadcasting=True` declares that the forward broadcasts its inputs NumPy-style; only then
    does the sweep sum a cotangent back to its input's shape (Note [broadcasting]). For any other
    primitive a cotangent of the wrong shape is an error naming the primitive and the input.

    `reads` names the inputs whose values the VJP reads (None: all of them, the safe default).
    Only those are locked read-only while the node lives (Note [saved arrays are read-only]);
    e.g. `add` reads none, `multiply` both, `exp` only its output.

    `saves=True` (like PyTorch's ``ctx.save_for_backward`` or the residuals of JAX's
    ``custom_vjp``): `fun` returns ``(ans, saved)``, where `saved` is what the VJP would otherwise
    recompute (e.g. conv2d's im2col columns). The node keeps it until it is released, and the VJP
    receives it as keyword ``saved``; called on plain arrays, the primitive returns `ans` alone.
    `saved` is a constant to the graph: a VJP that must be differentiable again (``create_graph``,
    where it receives Tensors) computes from its inputs instead.
    """

    def __init__(self, fun: Callable, name: str | None = None, broadcasting: bool = False,
                 reads: tuple[int, ...] | None = None, saves: bool = False):
        self.name = name or getattr(fun, "__name__", "primitive")
        # `fun` is always "arrays in, the output array out" (the plain-array path calls it);
        # with `saves`, `forward` is the given function, which also returns what it saves
        self.saves = saves
        self.forward = _returning_saved(fun, self.name) if saves else None
        self.fun = (lambda *a, **k: self.forward(*a, **k)[0]) if saves else fun
        self.broadcasting = broadcasting
        self.reads = reads
        # the inputs a VJP reads, picked from the call's arrays in one C call (two or more)
        self.read_inputs = itemgetter(*reads) if reads and len(reads) > 1 else None
        self.vjp: Callable | None = None
        self.vjp_wants_needs = False
        self.__doc__ = getattr(fun, "__doc__", None)
        self.__wrapped__ = fun
        try:
            params = list(inspect.signature(fun).parameters.values())
            self.input_names = tuple(
                p.name for p in params
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
            )
        except (TypeError, ValueError):  # NumPy ufuncs have no signature
            self.input_names = ()

    def defvjp(self, vjp: Callable) -> Callable:
        """Attach the VJP rule; usable as a decorator (returns `vjp`)."""
        self.vjp = vjp
        try:
            p = inspect.signature(vjp).parameters.get("needs")
            self.vjp_wants_needs = p is not None and p.kind is p.KEYWORD_ONLY
        except (TypeError, ValueError):
            self.vjp_wants_needs = False
        return vjp

    def input_label(self, i: int) -> str:
        if i < len(self.input_names) and not (
            i == len(self.input_names) - 1 and self.input_names[-1] in ("xs", "args", "arrays")
        ):
            return f"input {i} ({self.input_names[i]})"
        return f"input {i}"

    def __call__(self, *args, **kwargs):
        # Which inputs are Tensors; arities 1 to 3 spelled out (most ops: this is the hot path).
        # `f(*a, **{})` costs a dict unpacking, so calls without keywords skip it.
        n = len(args)
        if n == 1:
            (x,) = args
            if not isinstance(x, Tensor):  # plain arrays in, plain array out: the sweep's path
                return self.fun(x, **kwargs) if kwargs else self.fun(x)
            raw = (x.data,)
            needs = (True,) if x.requires_grad else (False,)  # constants: no tuple built
        elif n == 2:
            x, y = args
            tx, ty = isinstance(x, Tensor), isinstance(y, Tensor)
            if not (tx or ty):
                return self.fun(x, y, **kwargs) if kwargs else self.fun(x, y)
            raw = (x.data if tx else x, y.data if ty else y)
            needs = (tx and x.requires_grad, ty and y.requires_grad)
        elif n == 3:  # linear(x, W, b), where(c, x, y), conv2d(x, W, b)
            x, y, z = args
            tx, ty, tz = isinstance(x, Tensor), isinstance(y, Tensor), isinstance(z, Tensor)
            if not (tx or ty or tz):
                return self.fun(x, y, z, **kwargs)
            raw = (x.data if tx else x, y.data if ty else y, z.data if tz else z)
            needs = (tx and x.requires_grad, ty and y.requires_grad, tz and z.requires_grad)
        else:
            for a in args:
                if isinstance(a, Tensor):
                    break
            else:
                return self.fun(*args, **kwargs)
            raw = tuple([a.data if isinstance(a, Tensor) else a for a in args])
            needs = tuple([isinstance(a, Tensor) and a.requires_grad for a in args])
        try:
            if self.saves:
                ans, saved = self.forward(*raw, **kwargs)
            else:
                ans = self.fun(*raw, **kwargs) if kwargs else self.fun(*raw)
                saved = None
        except ValueError as e:  # NumPy's shape errors do not name our op
            msg = str(e).removeprefix(f"{self.name}: ")  # a rule's own message may name it already
            shapes = ", ".join(str(np.shape(r)) for r in raw)
            raise ValueError(f"{self.name}: {msg} (input shapes: {shapes})") from None
        if type(ans) is not np.ndarray:
            ans = np.asarray(ans)
        elif ans is raw[0] or (n > 1 and (ans is raw[1] or (n > 2 and (
                ans is raw[2] or (n > 3 and any(ans is r for r in raw[3:])))))):
            ans = ans.view()  # an input handed back: the output's own array, so locking it is ours
        out = _new(Tensor)
        out.data = ans
        out.grad = None
        # integer and bool results carry no gradient (like their inputs could not)
        if True in needs and (st := _per_thread.state).enabled and ans.dtype.kind in "fc":
            if self.vjp is None:
                raise NotImplementedError(
                    f"primitive '{self.name}' has no VJP: define one with @{self.name}.defvjp"
                )
            out.requires_grad = True
            out._node = node = _new(Node)
            _fill(node, self, args, raw, kwargs, ans, needs, saved, st)  # (Node.__init__'s body)
            if st.tapes:
                for tape in st.tapes:
                    tape._record(node, out)
        else:
            out.requires_grad = False
            out._node = None
        return out

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


def _returning_saved(fun: Callable, name: str) -> Callable:
    """`fun`, checked to return ``(ans, saved)`` (indexing a bare array would take its first row)."""
    def forward(*args, **kwargs):
        result = fun(*args, **kwargs)
        if type(result) is not tuple or len(result) != 2:
            raise TypeError(f"primitive '{name}' has saves=True: its forward must return a pair "
                            f"(output, saved), got {type(result).__name__}"
                            + (f" of length {len(result)}" if isinstance(result, tuple) else ""))
        return result

    return forward


def primitive(fun: Callable | None = None, *, name: str | None = None,
              broadcasting: bool = False, reads: tuple[int, ...] | None = None, saves: bool = False):
    """Turn a NumPy function into a differentiable primitive; attach its VJP with `.defvjp`.

    >>> @primitive
    ... def cube(x):
    ...     return x ** 3
    >>> @cube.defvjp
    ... def cube_vjp(g, ans, x):
    ...     return (3 * x ** 2 * g,)

    The forward receives NumPy arrays (and constants as passed) and must return an array. The VJP
    receives arrays in an ordinary sweep and Tensors in a ``create_graph`` sweep, so a VJP written
    with ``autograd_core`` functions and operators can be differentiated again.
    """
    if fun is None:
        return lambda f: Primitive(f, name=name, broadcasting=broadcasting, reads=reads, saves=saves)
    return Primitive(fun, name=name, broadcasting=broadcasting, reads=reads, saves=saves)


def defop(fun: Callable, vjp: Callable, name: str | None = None, broadcasting: bool = False,
          reads: tuple[int, ...] | None = None, saves: bool = False) -> Primitive:
    """A primitive and its VJP in one line (the rule table's row format)."""
    p = Primitive(fun, name=name, broadcasting=broadcasting, reads=reads, saves=saves)
    p.defvjp(vjp)
    return p

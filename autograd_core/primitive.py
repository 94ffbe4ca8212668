"""`@primitive` and `.defvjp`: the one way ops are defined, built-in and user-written alike."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import numpy as np

from .graph import Node, local
from .tensor import Tensor

_SEQUENCES = (list, tuple)


def _holds_tensor(seq) -> bool:
    """Does a (nested) list or tuple hold a Tensor? NumPy would turn it into a plain array."""
    for v in seq:
        if isinstance(v, Tensor) or (type(v) in _SEQUENCES and _holds_tensor(v)):
            return True
    return False


def _sequence_error(name: str, i: int) -> TypeError:
    return TypeError(
        f"{name}: input {i} is a list or tuple holding Tensors; NumPy would turn it into a plain "
        "array and the gradient would be lost. Make it one Tensor first: ag.array([...]) for a "
        "nested list, ag.stack([...]) for a list of same-shape Tensors")


class Primitive:
    """A differentiable function: a NumPy forward plus a vector-Jacobian product (VJP).

    Called with no Tensor among its arguments it *is* the forward (nothing recorded), which keeps
    first-order backward at NumPy speed: the sweep feeds rules plain arrays, and rules are written
    with primitives. Called with Tensors it unwraps them, computes, and records a `Node` when an
    input requires grad and recording is on.

    The VJP is called as ``vjp(g, ans, *inputs, **kwargs)`` and returns one cotangent per
    positional input (None where an input gets none; a bare one for a one-input primitive). A VJP
    with a keyword-only parameter ``needs`` also gets a tuple of bools: which inputs need one.

    Options, each declared beside the rule:
    - `broadcasting=True`: the forward broadcasts NumPy-style, so the sweep sums a cotangent
      back to its input's shape (Note [broadcasting] in ops.py); for any other primitive a
      cotangent of the wrong shape is an error naming the primitive and the input.
    - `reads`: the inputs whose values the VJP reads (None: all of them and the output). Only
      those are kept read-only while the node lives (Note [saved arrays are read-only]).
    - `saves=True`: `fun` returns ``(ans, saved)``, and the VJP gets `saved` as a keyword (like
      PyTorch's ``ctx.save_for_backward``); in a ``create_graph`` sweep it gets ``saved=None``
      and recomputes from its Tensor inputs, so that its result is differentiable again.
    - `kinks(ans, *inputs, **kwargs)`: how far each element of the first input is from a point
      where the function is not differentiable; gradcheck uses it to tell a kink from a bug.
    """

    def __init__(self, fun: Callable, name: str | None = None, broadcasting: bool = False,
                 reads: tuple[int, ...] | None = None, saves: bool = False,
                 kinks: Callable | None = None):
        self.fun, self.name = fun, name or getattr(fun, "__name__", "primitive")
        self.broadcasting, self.reads, self.saves, self.kinks = broadcasting, reads, saves, kinks
        self.vjp: Callable | None = None
        self.vjp_wants_needs = False
        self.__doc__, self.__wrapped__ = getattr(fun, "__doc__", None), fun
        try:
            self.input_names = tuple(p.name for p in inspect.signature(fun).parameters.values()
                                     if p.kind not in (p.KEYWORD_ONLY, p.VAR_KEYWORD))
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
        named = i < len(self.input_names) and self.input_names[i] not in ("xs", "args", "arrays")
        return f"input {i} ({self.input_names[i]})" if named else f"input {i}"

    def forward(self, *args, **kwargs) -> tuple:
        """``(ans, saved)`` of the NumPy forward (saved is None unless `saves`)."""
        result = self.fun(*args, **kwargs)
        if not self.saves:
            return result, None
        if type(result) is not tuple or len(result) != 2:
            raise TypeError(f"primitive '{self.name}' has saves=True: its forward must return a "
                            f"pair (output, saved), got {type(result).__name__}")
        return result

    def __call__(self, *args, **kwargs):
        raw, needs, tensors = [], [], False
        for a in args:
            if isinstance(a, Tensor):
                raw.append(a.data)
                needs.append(a.requires_grad)
                tensors = True
            else:
                if type(a) in _SEQUENCES and _holds_tensor(a):
                    raise _sequence_error(self.name, len(raw))
                raw.append(a)
                needs.append(False)
        if kwargs:
            for key, v in kwargs.items():
                if isinstance(v, Tensor) or (type(v) in _SEQUENCES and _holds_tensor(v)):
                    raise TypeError(f"{self.name}: keyword argument '{key}' holds a Tensor; keyword "
                                    "arguments of a primitive are constants (no gradient flows to "
                                    "them): pass it positionally, or pass its .data if it is constant")
        if not tensors:  # plain arrays in, plain array out (the rules of a first-order sweep)
            return self.forward(*args, **kwargs)[0] if self.saves else self.fun(*args, **kwargs)
        try:
            ans, saved = self.forward(*raw, **kwargs) if self.saves else (self.fun(*raw, **kwargs), None)
        except ValueError as e:  # NumPy's shape errors do not name our op
            msg = str(e).removeprefix(f"{self.name}: ")  # a rule's own message may name it already
            shapes = ", ".join(str(np.shape(r)) for r in raw)
            kind = type(e) if type(e).__init__ is ValueError.__init__ else ValueError  # LinAlgError stays
            raise kind(f"{self.name}: {msg} (input shapes: {shapes})") from None
        if type(ans) is not np.ndarray:  # a NumPy scalar (a subclass stays: ag.jit's traced arrays)
            ans = np.asanyarray(ans)
        for r in raw:
            if r is ans:  # an input handed back: the output gets its own view
                ans = ans.view()
                break
        rec, kind = local.recording, ans.dtype.kind
        if not (True in needs and rec.enabled and kind in "fc"):
            return Tensor._of(ans)  # integer and bool results carry no gradient
        if kind == "c":  # a real gradient of a complex graph would be silently wrong
            raise TypeError(f"{self.name}: complex result ({ans.dtype}) in a recorded computation; "
                            "the engine differentiates real-valued functions only")
        if self.vjp is None:
            raise NotImplementedError(
                f"primitive '{self.name}' has no VJP: define one with @{self.name}.defvjp")
        node = Node(self, args, raw, kwargs, ans, tuple(needs), saved, rec)
        out = Tensor._of(ans, True, node)
        for tape in rec.tapes:
            tape._record(node, out)
        return out

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


def primitive(fun: Callable | None = None, *, name: str | None = None, broadcasting: bool = False,
              reads: tuple[int, ...] | None = None, saves: bool = False, kinks: Callable | None = None):
    """Turn a NumPy function into a differentiable primitive; attach its VJP with `.defvjp`.

    >>> @primitive
    ... def cube(x):
    ...     return x ** 3
    >>> @cube.defvjp
    ... def cube_vjp(g, ans, x):
    ...     return (3 * x ** 2 * g,)

    The forward receives NumPy arrays (and constants as passed) and returns an array. The VJP
    receives arrays in an ordinary sweep and Tensors in a ``create_graph`` sweep, so a VJP written
    with ``autograd_core`` functions and operators can be differentiated again. The options are
    `Primitive`'s.
    """
    options = dict(name=name, broadcasting=broadcasting, reads=reads, saves=saves, kinks=kinks)
    return functools.partial(Primitive, **options) if fun is None else Primitive(fun, **options)


def defop(fun: Callable, vjp: Callable, name: str | None = None, **options) -> Primitive:
    """A primitive and its VJP in one line (the rule table's row format)."""
    p = Primitive(fun, name=name, **options)
    p.defvjp(vjp)
    return p


def rule_table(namespace: dict, module: str) -> tuple[list[str], dict[str, Primitive]]:
    """A rule module's public ops and its primitives by op name, from its globals: every
    primitive or function defined there, but for rules (`*_vjp`) and names with a leading
    underscore (internal primitives are in the second, not the first)."""
    public = sorted(name for name, v in list(namespace.items())
                    if not name.startswith("_") and not name.endswith("_vjp") and (
                        isinstance(v, Primitive) or (callable(v) and not isinstance(v, type)
                                                     and getattr(v, "__module__", None) == module)))
    return public, {v.name: v for v in list(namespace.values()) if isinstance(v, Primitive)}

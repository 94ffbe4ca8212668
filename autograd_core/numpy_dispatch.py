"""NumPy's functions called on Tensors: `np.sin(t)`, `np.sum(t)`, `np.dot(a, t)`, `arr + t`.

Note [no silent gradient loss]
Without this, NumPy would turn a Tensor into a plain array through `__array__`, and a gradient
would silently be lost (worse than any error). So Tensor implements NumPy's two protocols:
- `__array_ufunc__` (NEP 13: ufuncs and the operators of an ndarray on the left) and
  `__array_function__` (NEP 18: `np.sum`, `np.dot`, `np.linalg.inv`, ...) run the engine's op of
  the same name (`np.abs` -> `ag.abs`, `np.linalg.inv` -> `ag.linalg.inv`) and return Tensors.
  NumPy's arguments are matched to the op's by name; one the op does not take (`out=`, `dtype=`,
  `where=`) raises a TypeError naming it, unless it is None.
- A NumPy function the engine has no op for runs on the arrays when its result can carry no
  gradient (integers, bools, shapes: `np.argmax`, `np.isnan`, `np.shape`, `np.allclose`), or when
  no input requires grad with recording on; a floating result from a Tensor that requires grad
  raises a TypeError naming the function. `np.zeros_like(t)` and its kin read t's shape only.
- A NumPy function that writes in place (`np.copyto`, `np.put`, `np.add.at`, any `out=`) is
  refused before it writes: into a Tensor it would change data under the graph, and a Tensor's
  values written into an array would lose their gradient.
Conversion is explicit: `t.data`, `t.numpy()` and `t.detach()` give the data (no gradient);
`np.asarray(t)`/`np.array(t)` of a Tensor that requires grad is refused while recording (it
converts under `no_grad`), as documented on `Tensor.__array__`. Lists holding Tensors given to an
op are refused by the primitive itself (primitive.py), since NumPy would convert them element by
element.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

from . import rules
from .graph import local
from .tensor import Tensor

# NumPy's ufunc names where the engine's op is named otherwise
_UFUNC_ALIASES = {"absolute": "abs", "true_divide": "divide"}
# NumPy's parameter names and the engine's, where they differ
_SYNONYMS = {"a": "x", "array": "x", "arrays": "xs", "m": "x", "a_min": "lo", "a_max": "hi",
             "min": "lo", "max": "hi", "x1": "x", "x2": "y", "newshape": "shape"}
_COMPARISONS = {np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal}
# NumPy's functions whose result depends on the first argument's shape and dtype only, not on its
# values: a constant, with no gradient to lose (np.zeros_like(t) is a common idiom)
_SHAPE_ONLY = {"zeros_like", "ones_like", "empty_like", "full_like"}
# NumPy's functions that write into their first argument (np.add.at too, a ufunc method)
_IN_PLACE = {"copyto", "put", "place", "putmask", "put_along_axis", "fill_diagonal"}


def _in_place_error(what: str) -> TypeError:
    return TypeError(
        f"{what} with Tensors writes in place: a Tensor written into would change under the graph "
        "(Tensors are not written in place), and a Tensor's values written into an array lose "
        "their gradient. Build the result with the engine's ops (ag.where, ag.stack, "
        "ag.concatenate, ag.pad, ...), or pass t.data where you mean a constant")


def _engine_op(name: str, namespace: str | None = None):
    """The engine's public op for NumPy's `name` (in ag.linalg / ag.special for a namespace)."""
    if namespace is not None:
        module = rules.NAMESPACES.get(namespace)
        return getattr(module, name, None) if module and name in module.__all__ else None
    if name not in rules.OPS:
        return None
    return next(getattr(f, name) for f in rules.FAMILIES if name in f.__all__)


def _unwrap(v):
    if isinstance(v, Tensor):
        return v.data
    if type(v) in (list, tuple):
        return type(v)(_unwrap(u) for u in v)
    return v


def _needs_grad(values) -> bool:
    if not local.recording.enabled:
        return False
    for v in values:
        if isinstance(v, Tensor) and v.requires_grad:
            return True
        if type(v) in (list, tuple) and _needs_grad(v):
            return True
    return False


def _floating(result) -> bool:
    if isinstance(result, (tuple, list)):
        return any(_floating(r) for r in result)
    return np.asarray(result).dtype.kind in "fc"


def _without_op(what: str, fun, args: tuple, kwargs: dict, shape_only: bool = False):
    """A NumPy function the engine has no op for: run it on the arrays if no gradient is lost
    (with `shape_only`, the first argument's values do not matter: only the others are checked)."""
    result = fun(*_unwrap(args), **_unwrap(kwargs))
    if shape_only:  # np.zeros_like(a=t) names it "a"
        args, kwargs = args[1:], {k: v for k, v in kwargs.items() if k != "a"}
    if _needs_grad(args) or _needs_grad(kwargs.values()):
        if _floating(result):
            raise TypeError(
                f"{what} on a Tensor that requires grad: the engine has no op for it, and its "
                "result would silently carry no gradient. Write it with the engine's ops (ag.*), "
                "or pass t.data (or t.detach()) if you mean a constant")
    return result


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    what = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    if kwargs.get("out") is not None:
        raise TypeError(f"{what}(..., out=...) with Tensors: Tensors are not written in place; "
                        f"use the result, e.g. y = np.{ufunc.__name__}(x)")
    if method == "at":
        raise _in_place_error(what)
    name = _UFUNC_ALIASES.get(ufunc.__name__, ufunc.__name__)
    op = None if method != "__call__" else _engine_op(name)
    if ufunc in _COMPARISONS:  # a bool Tensor, as the operators give
        return Tensor._of(ufunc(*_unwrap(inputs)))
    if op is None:
        result = _without_op(what, getattr(ufunc, method), inputs, kwargs)
        return Tensor._of(result) if isinstance(result, np.ndarray) else result
    extra = sorted(k for k, v in kwargs.items() if v is not None)
    if extra:
        raise TypeError(f"{what} with Tensors runs ag.{name}, which takes no "
                        f"{', '.join(extra)} argument")
    return op(*inputs)


@functools.cache
def _signatures(func, op) -> tuple:
    try:
        return inspect.signature(func), inspect.signature(op)
    except (TypeError, ValueError):
        return None, None


def _call_engine_op(what: str, engine: str, func, op, args: tuple, kwargs: dict):
    """`op` (called `engine` in messages) with NumPy's arguments matched to its parameters by name
    (NumPy's 'a' is the op's 'x', ...); the first two operands by position where the names differ
    otherwise. NumPy's own **kwargs (np.pad's constant_values) are matched by name too."""
    np_sig, op_sig = _signatures(func, op)
    if np_sig is None:
        return op(*args, **kwargs)
    bound = np_sig.bind(*args, **kwargs)
    params = op_sig.parameters
    positional, keywords, named = [], {}, []
    names, np_names = list(params), list(np_sig.parameters)
    for name, value in bound.arguments.items():
        kind = np_sig.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            positional.extend(value)
        elif kind is inspect.Parameter.VAR_KEYWORD:
            named += [(k, v, None) for k, v in value.items()]
        else:
            named.append((name, value, np_names.index(name)))
    for name, value, i in named:
        target = name if name in params else _SYNONYMS.get(name)
        if target not in params and i is not None and i < 2 and i < len(names):
            target = names[i]  # the operands: np.dot(a, b) is ag.dot(x, y)
        if target not in params or target in keywords:
            if value is None:
                continue  # NumPy's default, e.g. out=None
            raise TypeError(f"{what} with Tensors runs {engine}, which takes no '{name}' argument")
        if params[target].kind is inspect.Parameter.POSITIONAL_ONLY:
            positional.append(value)
        else:
            keywords[target] = value
    return op(*positional, **keywords)


# functions that read only shapes and dtypes: no gradient to lose, so the arrays go straight in
_METADATA = frozenset({np.shape, np.ndim, np.size, np.result_type, np.iscomplexobj, np.isrealobj})


def _array_function(self, func, types, args, kwargs):
    if func in _METADATA:
        return func(*_unwrap(args), **kwargs)
    module = func.__module__ or "numpy"
    namespace = module.removeprefix("numpy").lstrip(".") or None
    what = f"{module.replace('numpy', 'np', 1)}.{func.__name__}"
    if func.__name__ in _IN_PLACE or kwargs.get("out") is not None:  # before it writes anything
        raise _in_place_error(what)
    if func is np.where and len(args) + len(kwargs) == 1:  # np.where(cond) is np.nonzero(cond)
        return _without_op(what, func, args, kwargs)
    op = _engine_op(func.__name__, namespace)
    if op is None:
        return _without_op(what, func, args, kwargs, shape_only=func.__name__ in _SHAPE_ONLY)
    engine = "ag." + (f"{namespace}." if namespace else "") + func.__name__
    return _call_engine_op(what, engine, func, op, args, kwargs)


Tensor.__array_ufunc__ = _array_ufunc
Tensor.__array_function__ = _array_function

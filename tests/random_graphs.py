"""Seeded random computation graphs over every op of the rule table, with a float64 NumPy oracle.

A graph is a list of values, each made from earlier ones:
- `Leaf`: a Tensor that requires grad, float32 or float64, whose data may be a view (transposed,
  strided, reversed, or a read-only zero-stride broadcast of a smaller array);
- `Const`: a plain NumPy array operand (float constants, bool conditions, integer labels);
- `OpCall`: one row of `SPECS` applied to earlier values and Python scalars (`Scalar`), spelled
  in one of the row's forms (function, operator or Tensor method).
The graph's `output` is one op call; its loss is ⟨output, cot⟩ for a fixed cotangent `cot`.

Each `OpSpec` row says how to pick operands of compatible shapes inside the op's safe domain (its
`pick`), how the engine is called (`forms`), and an independent reference of the forward written
with NumPy (`numpy`) and, optionally, with PyTorch (`torch`). Templates use `{0}`, `{1}`, ... for
the operands, `{args}` for all of them, and `{name}` for the parameters the pick chose (source
text). A torch template that names a parameter the pick did not give marks the call as one
PyTorch cannot make (e.g. a negative-step slice).

Adding an op to the rule table (`rules.QUALIFIED`: "sin", "linalg.inv") means adding one row
to `SPECS` (in this file or its family's random_graph_specs_*.py) (or, with a reason, to `EXCLUDED`)
unless it is a unary NumPy ufunc, whose spec comes from its OpCase row;
`test_every_op_has_a_spec` fails until then.

Domains: every op call is checked on the oracle's float64 values when it is generated (and again
whenever the shrinker changes the graph): log/sqrt/power bases are positive, divisors and
relu/abs/sign inputs stay `KINK` away from 0, maximum/minimum operands and clip inputs stay
`KINK` away from each other and the bounds, max/min reductions have a unique winner by `KINK`,
and every value stays finite and below `MAX_ABS`. Inputs that do not fit are rejected: the pick
tries another operand or a fresh leaf, else the builder tries another op.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import random_graph_specs_array
import random_graph_specs_linalg
import random_graph_specs_math
import random_graph_specs_products
from op_cases import OP_CASES, np_conv2d, np_log_softmax, np_logsumexp, np_sigmoid, np_softmax, np_windows

from autograd_core import rules

KINK = 0.05  # distance of a kinked op's input from its kink (and of tied values from a tie)
MAX_ABS = 50.0  # |value| bound for every value: keeps differences and float32 rounding tame
MAX_SIZE = 64  # elements per value (differences cost one oracle run per leaf element)
LEAF_SIZE = 24  # elements per fresh leaf
F64, F32 = np.dtype(np.float64), np.dtype(np.float32)

# ---- the graph ---------------------------------------------------------------------------------

# views a leaf's data can be: name -> (the base's shape from the leaf's shape, the cut, its source)
VIEWS: dict[str, tuple[Callable, Callable, str]] = {
    "T": (lambda s: s[::-1], lambda a, s: a.T, "{}.T"),
    "step": (lambda s: (2 * s[0],) + s[1:], lambda a, s: a[::2], "{}[::2]"),
    "step_last": (lambda s: s[:-1] + (2 * s[-1],), lambda a, s: a[..., ::2], "{}[..., ::2]"),
    "flip": (lambda s: s, lambda a, s: a[::-1], "{}[::-1]"),
    # a read-only zero-stride view of a smaller base (its shape is chosen per leaf)
    "bcast": (None, lambda a, s: np.broadcast_to(a, s), "np.broadcast_to({}, {shape})"),
}


@dataclass(frozen=True, eq=False)
class Leaf:
    """A Tensor that requires grad; its data is `view` cut from `base` cast to `dtype`."""

    base: np.ndarray  # float64 numbers with few decimals: printed exactly in snippets
    dtype: np.dtype
    shape: tuple
    view: str | None = None

    def array(self) -> np.ndarray:
        """Fresh data for this leaf (a new base each call: runs never share memory)."""
        a = self.base.astype(self.dtype)
        return a if self.view is None else VIEWS[self.view][1](a, self.shape)


@dataclass(frozen=True, eq=False)
class Const:
    """A plain NumPy array operand: the engine sees an ndarray, not a Tensor."""

    array: np.ndarray


@dataclass(frozen=True)
class Scalar:
    """A Python number operand (weak in NumPy 2's promotion: `t * 3.0` keeps t's dtype); None is
    an absent clip bound."""

    value: float | int | None


@dataclass(frozen=True)
class Ref:
    """An operand that is an earlier value of the graph."""

    index: int


Operand = Ref | Scalar


@dataclass(frozen=True, eq=False)
class OpCall:
    op: str  # the spec's name
    form: str  # the engine spelling, e.g. "{0} * {1}"
    args: tuple[Operand, ...]
    params: dict[str, str] = field(default_factory=dict)  # source text by name
    ok: Callable[[list], bool] | None = None  # the op's safe domain on its operands' values


Value = Leaf | Const | OpCall


@dataclass(eq=False)
class Graph:
    values: list[Value]
    output: int
    cot: np.ndarray
    label: str = ""
    cache: dict = field(default_factory=dict, repr=False)  # oracle results, by what they are

    @property
    def leaves(self) -> list[int]:
        return [i for i, v in enumerate(self.values) if isinstance(v, Leaf)]

    @property
    def calls(self) -> list[int]:
        return [i for i, v in enumerate(self.values) if isinstance(v, OpCall)]

    def name(self, i: int) -> str:
        return {Leaf: "x", Const: "c", OpCall: "v"}[type(self.values[i])] + str(i)

    def exact(self) -> list[np.ndarray]:
        """The float64 oracle's value of every value (cached)."""
        if "exact" not in self.cache:
            self.cache["exact"] = evaluate(self.values)
        return self.cache["exact"]

    def typed(self) -> list[np.ndarray]:
        """NumPy's forward on the operands' own dtypes: its dtypes are the expected ones."""
        if "typed" not in self.cache:
            self.cache["typed"] = evaluate(self.values, typed=True)
        return self.cache["typed"]

    def has_float32(self) -> bool:
        return any(a.dtype == F32 for a in self.typed())


def cotangent(shape: tuple) -> np.ndarray:
    """A fixed cotangent for an output of `shape`: nonzero multiples of 1/4, exact in float32."""
    rng = np.random.default_rng(len(shape) * 1000 + math.prod(shape))
    return rng.choice([-1.0, 1.0], shape) * rng.integers(1, 9, shape) / 4


def is_tensor(values: list[Value], op: Operand) -> bool:
    return isinstance(op, Ref) and isinstance(values[op.index], (Leaf, OpCall))


def needs_tensor_first(form: str) -> bool:
    """Method and operator spellings on operand 0 need a Tensor there (`c.exp()` is no op)."""
    return form.startswith(("{0}.", "{0}[", "-{0}"))


# ---- the NumPy oracle -----------------------------------------------------------------------------


def np_clip(x, lo, hi):
    return np.array(x, copy=True) if lo is None and hi is None else np.clip(x, lo, hi)


def np_sum_to(x, shape):
    """Sum the axes that broadcasting `shape` up to x's shape would have added or stretched."""
    lead = x.ndim - len(shape)
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    axes = tuple(range(lead)) + stretched
    return np.sum(x, axis=axes).reshape(shape)


def np_linear(x, w, b=None):
    return x @ w.T if b is None else x @ w.T + b


def np_conv(x, w, b=None, *, stride, padding):
    return np_conv2d(x, w, b, stride, padding)


def np_avg_pool(x, size, stride):
    return np_windows(x, size, stride).mean(axis=tuple(range(-len(size), 0)))


def np_softmax_cross_entropy(u, labels):
    return np_logsumexp(u, axis=1) - u[np.arange(u.shape[0]), labels]


def _numpy_namespace(typed: bool) -> dict:
    def cast(x, dtype):
        # astype's reference: NumPy's cast for the dtype; for values the identity (a float64
        # oracle that rounded to float32 would make central differences meaningless)
        return np.asarray(x).astype(dtype) if typed else x

    helpers = (np_clip, np_sum_to, np_linear, np_conv, np_avg_pool, np_softmax_cross_entropy, np_windows,
               np_logsumexp, np_softmax, np_log_softmax, np_sigmoid)
    helpers += random_graph_specs_math.NUMPY_HELPERS  # erf, digamma, ...: NumPy has none
    return {"np": np, "cast": cast, **{f.__name__: f for f in helpers}}


_NAMESPACES = {False: _numpy_namespace(False), True: _numpy_namespace(True)}
_compiled: dict[tuple, Callable] = {}


def render(template: str, names: list[str], params: dict[str, str]) -> str:
    """The template with operand names and parameters filled in (KeyError: a parameter is missing)."""
    return template.format(*names, args=", ".join(names), **params)


def compile_call(template: str, call: OpCall, namespace: dict, key) -> Callable:
    """A function of the operands that evaluates `template` for this call (cached by source)."""
    names = [f"a{k}" for k in range(len(call.args))]
    src = f"lambda {', '.join(names)}: {render(template, names, call.params)}"
    fn = _compiled.get((key, src))
    if fn is None:
        fn = _compiled[(key, src)] = eval(src, namespace)  # noqa: S307 (our own templates)
    return fn


def operand_values(values: list[Value], results: list, call: OpCall) -> list:
    return [a.value if isinstance(a, Scalar) else results[a.index] for a in call.args]


def evaluate_call(call: OpCall, operands: list, typed: bool = False) -> np.ndarray:
    fn = compile_call(SPECS[call.op].numpy, call, _NAMESPACES[typed], ("numpy", typed))
    with np.errstate(all="raise"):
        return np.asarray(fn(*operands))


def leaf_value(v: Value, typed: bool) -> np.ndarray:
    a = v.array() if isinstance(v, Leaf) else v.array
    return a if typed or a.dtype.kind != "f" else a.astype(F64)


def evaluate(values: list[Value], typed: bool = False, overrides: dict | None = None,
             start: list | None = None, only: list[int] | None = None) -> list:
    """Every value by the oracle: float64, or (typed) in the operands' own dtypes. `overrides`
    replaces leaf values; with `start` (earlier results) only the values in `only` are redone."""
    results = list(start) if start is not None else [None] * len(values)
    for i, a in (overrides or {}).items():
        results[i] = a
    for i in range(len(values)) if only is None else only:
        v = values[i]
        if overrides and i in overrides:
            continue
        if isinstance(v, OpCall):
            results[i] = evaluate_call(v, operand_values(values, results, v), typed)
        else:
            results[i] = leaf_value(v, typed)
    return results


def downstream(values: list[Value], i: int) -> list[int]:
    """The op calls whose value depends on value i, in order."""
    hit = {i}
    out = []
    for j in range(i + 1, len(values)):
        v = values[j]
        if isinstance(v, OpCall) and any(isinstance(a, Ref) and a.index in hit for a in v.args):
            hit.add(j)
            out.append(j)
    return out


def numeric_gradients(graph: Graph, step: float = 1e-4) -> dict[int, np.ndarray]:
    """d⟨output, cot⟩/d(leaf) by 5-point central differences of the float64 oracle, per element.
    Steps are 1e-4·max(1, |x|): truncation O(h⁴) and rounding O(ε/h) are both ~1e-12 here."""
    if "numeric" in graph.cache:
        return graph.cache["numeric"]
    values, exact, out = graph.values, graph.exact(), graph.output
    grads = {}
    for i in graph.leaves:
        after = downstream(values, i)
        x0 = exact[i]
        g = np.zeros(x0.shape)

        def loss(x, i=i, after=after):
            res = evaluate(values, overrides={i: x}, start=exact, only=after)
            return float(np.sum(res[out] * graph.cot))

        for e in np.ndindex(x0.shape):
            h = step * max(1.0, abs(x0[e]))
            f = []
            for k in (-2, -1, 1, 2):
                x = x0.copy()
                x[e] += k * h
                f.append(loss(x))
            g[e] = (8 * (f[2] - f[1]) - (f[3] - f[0])) / (12 * h)  # (differences first: exact 0 if flat)
        grads[i] = g
    graph.cache["numeric"] = grads
    return grads


def depends_on_leaf(values: list[Value], i: int) -> bool:
    v = values[i]
    if isinstance(v, Leaf):
        return True
    if isinstance(v, Const):
        return False
    return any(isinstance(a, Ref) and depends_on_leaf(values, a.index) for a in v.args)


def value_fits(a: np.ndarray) -> bool:
    return (a.dtype.kind != "f" or bool(np.all(np.isfinite(a)) and np.all(np.abs(a) <= MAX_ABS))) \
        and 1 <= a.size <= MAX_SIZE


def valid(values: list[Value], output: int) -> bool:
    """Can this graph be checked: every call inside its domain and with a Tensor where its form
    needs one, every value finite and bounded, and an output that depends on a leaf."""
    if not isinstance(values[output], OpCall) or not depends_on_leaf(values, output):
        return False
    try:
        exact = evaluate(values)
        evaluate(values, typed=True)
    except (ArithmeticError, ValueError, IndexError, RuntimeWarning):
        return False
    for i, v in enumerate(values):
        if not value_fits(np.asarray(exact[i])):
            return False
        if isinstance(v, OpCall):
            if not any(is_tensor(values, a) for a in v.args):
                return False
            if needs_tensor_first(v.form) and not is_tensor(values, v.args[0]):
                return False
            if v.ok is not None and not v.ok(operand_values(values, exact, v)):
                return False
    return True


# ---- domains and predicates ----------------------------------------------------------------------


def real(rng, shape):
    return rng.standard_normal(shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def nonzero(rng, shape):
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.4, 2.0, shape)


def small(rng, shape):
    return rng.uniform(-1.5, 1.5, shape)


def distinct(rng, shape):
    """Values at least 0.2 apart, in random order: no near-ties for max/min."""
    n = math.prod(shape)
    return (rng.permutation(n) * 0.25 - n * 0.125 + rng.uniform(0, 0.05, n)).reshape(shape)


def away_from_zero(v) -> bool:
    return bool(np.all(np.abs(v) > KINK))


def apart(a, b) -> bool:
    return bool(np.all(np.abs(np.asarray(a) - np.asarray(b)) > KINK))


def unique_extremum(v, axis, largest: bool) -> bool:
    """Each reduced group's max (min) beats the runner-up by KINK: no tie within a step."""
    v = np.asarray(v)
    axes = range(v.ndim) if axis is None else [axis] if isinstance(axis, int) else axis
    axes = sorted(a % v.ndim for a in axes) if v.ndim else []
    k = math.prod(v.shape[a] for a in axes)
    if k <= 1:
        return True
    groups = np.sort(np.moveaxis(v, axes, range(-len(axes), 0)).reshape(-1, k), axis=1)
    gap = groups[:, -1] - groups[:, -2] if largest else groups[:, 1] - groups[:, 0]
    return bool(np.all(gap > KINK))


def rounded(a, decimals: int = 2) -> np.ndarray:
    return np.asarray(np.round(np.asarray(a, dtype=F64), decimals) + 0.0)  # (+0.0: no -0.0 printed)


def broadcastable(a: tuple, b: tuple) -> bool:
    try:
        return math.prod(np.broadcast_shapes(a, b)) <= MAX_SIZE
    except ValueError:
        return False


# ---- the builder: picks operands while the graph grows -----------------------------------------------


@dataclass
class Pick:
    """What a spec's `pick` chose: operands, parameters (source text), the domain its operands must
    stay in (rechecked when shrinking), and optionally the form (else any form that fits)."""

    args: tuple
    params: dict[str, str] = field(default_factory=dict)
    ok: Callable[[list], bool] | None = None
    form: str | None = None


class Builder:
    """Grows one graph: operand pickers for the specs, and the oracle values so far."""

    def __init__(self, rng: np.random.Generator, dtypes: str) -> None:
        self.rng = rng
        self.dtypes = dtypes  # "float64", "float32" or "mixed" (each leaf and constant at random)
        self.values: list[Value] = []
        self.exact: list[np.ndarray] = []
        self.typed: list[np.ndarray] = []
        self.uses: list[int] = []

    # -- shapes and values
    def value(self, op: Operand) -> np.ndarray:
        return np.asarray(op.value, F64) if isinstance(op, Scalar) else self.exact[op.index]

    def shape(self, op: Operand) -> tuple:
        return np.shape(self.value(op))

    def float_dtype(self) -> np.dtype:
        if self.dtypes == "mixed":
            return F32 if self.rng.random() < 0.5 else F64
        return np.dtype(self.dtypes)

    def random_shape(self, lo: int = 0, hi: int = 3, max_size: int = LEAF_SIZE) -> tuple:
        rng = self.rng
        while True:
            ndim = int(rng.choice(np.arange(lo, hi + 1), p=_ndim_weights(lo, hi)))
            shape = tuple(int(n) for n in rng.choice([1, 2, 3, 4], ndim, p=[0.2, 0.35, 0.3, 0.15]))
            if math.prod(shape) <= max_size:
                return shape

    def partner_shape(self, shape: tuple) -> tuple:
        """A shape broadcasting with `shape`: fewer axes, size-1 axes, a stretched size-1 axis of
        `shape`, a new leading axis, or 0-d."""
        rng = self.rng
        if rng.random() < 0.12:
            return ()
        dims = list(shape)
        if dims and rng.random() < 0.3:
            dims = dims[int(rng.integers(1, len(dims) + 1)):]
        dims = [1 if n > 1 and rng.random() < 0.3
                else int(rng.integers(2, 4)) if n == 1 and rng.random() < 0.3
                else n for n in dims]
        if len(dims) < 3 and rng.random() < 0.1:
            dims.insert(0, int(rng.integers(2, 4)))
        return tuple(dims) if broadcastable(shape, tuple(dims)) else tuple(shape)

    # -- new values
    def _append(self, v: Value) -> Ref:
        self.values.append(v)
        self.exact.append(leaf_value(v, typed=False))
        self.typed.append(leaf_value(v, typed=True))
        self.uses.append(0)
        return Ref(len(self.values) - 1)

    def fresh(self, shape: tuple, domain=real, ok=None, dtype=None) -> Ref | None:
        """A new leaf of `shape` from `domain` (a view of a bigger or smaller base at times)."""
        for _ in range(8):
            view, base_shape = self._random_view(tuple(shape))
            base = rounded(domain(self.rng, base_shape))
            leaf = Leaf(base, dtype or self.float_dtype(), tuple(shape), view)
            if ok is None or ok(leaf.array().astype(F64)):
                return self._append(leaf)
        return None

    def _random_view(self, shape: tuple) -> tuple[str | None, tuple]:
        rng = self.rng
        kinds = [k for k, ok in (("T", len(shape) >= 2), ("step", len(shape) >= 1), ("flip", len(shape) >= 1),
                                 ("step_last", len(shape) >= 1), ("bcast", any(n > 1 for n in shape))) if ok]
        if not kinds or rng.random() < 0.6:
            return None, shape
        kind = kinds[int(rng.integers(len(kinds)))]
        if kind != "bcast":
            return kind, VIEWS[kind][0](shape)
        base = [1 if n > 1 and rng.random() < 0.6 else n for n in shape]
        if base == list(shape):
            base[[k for k, n in enumerate(shape) if n > 1][0]] = 1
        while base and base[0] == 1 and rng.random() < 0.5:  # fewer axes broadcast too
            base = base[1:]
        return kind, tuple(base)

    def const(self, shape: tuple, domain=real, ok=None, dtype=None) -> Ref | None:
        for _ in range(8):
            a = rounded(domain(self.rng, shape)).astype(dtype or self.float_dtype())
            if ok is None or ok(a.astype(F64)):
                return self._append(Const(a))
        return None

    def int_const(self, a) -> Ref:
        return self._append(Const(np.asarray(a)))

    def mask_const(self, shape: tuple) -> Ref:
        return self._append(Const(self.rng.random(shape) < 0.5))

    def scalar(self, domain=real, ok=None) -> Scalar | None:
        for _ in range(8):
            v = float(rounded(domain(self.rng, ())))
            if ok is None or ok(np.asarray(v)):
                return Scalar(v)
        return None

    def tensor(self, shape: tuple | None = None, *, ndim: tuple[int, int] = (0, 3), like: tuple | None = None,
               domain=real, ok=None, reuse: float = 0.75) -> Ref | None:
        """A Tensor operand: an existing value (fan-out; unused op outputs first, to grow deep
        graphs) or a fresh leaf. `shape`: exactly this shape; `like`: broadcasting with it;
        else any shape with `ndim` in the given range."""

        def fits(i: int) -> bool:
            s = self.exact[i].shape
            if shape is not None:
                return s == tuple(shape)
            if like is not None:
                return broadcastable(s, like)
            return ndim[0] <= len(s) <= ndim[1]

        cands = [i for i, v in enumerate(self.values)
                 if isinstance(v, (Leaf, OpCall)) and fits(i) and (ok is None or ok(self.exact[i]))]
        sinks = [i for i in cands if isinstance(self.values[i], OpCall) and not self.uses[i]]
        if sinks and self.rng.random() < 0.8:  # chain: deep graphs with one output
            return Ref(sinks[int(self.rng.integers(len(sinks)))])
        if cands and self.rng.random() < reuse:
            return Ref(cands[int(self.rng.integers(len(cands)))])
        if shape is None:
            shape = self.partner_shape(like) if like is not None else self.random_shape(*ndim)
        return self.fresh(shape, domain, ok)

    def partner(self, anchor: Ref, domain=real, ok=None) -> Operand | None:
        """The second operand of an elementwise op: the anchor itself (the same tensor twice), a
        Python scalar, a constant array, or a tensor of a broadcasting shape."""
        r = self.rng.random()
        if r < 0.1 and (ok is None or ok(self.value(anchor))):
            return anchor
        if r < 0.22:
            s = self.scalar(domain, ok)
            if s is not None:
                return s
        if r < 0.34:
            c = self.const(self.partner_shape(self.shape(anchor)), domain, ok)
            if c is not None:
                return c
        return self.tensor(like=self.shape(anchor), domain=domain, ok=ok)

    def pair(self, domains=(real, real), oks=(None, None), joint=None) -> tuple[Operand, Operand] | None:
        """Operands (a, b) of an elementwise op, at least one a Tensor; `oks` are each operand's
        domain, `joint(a, b)` one on both."""
        k = int(self.rng.integers(2))  # which position the anchor Tensor takes
        anchor = self.tensor(domain=domains[k], ok=oks[k])
        if anchor is None:
            return None
        av = self.value(anchor)

        def ok_other(v):
            if oks[1 - k] is not None and not oks[1 - k](v):
                return False
            return joint is None or (joint(av, v) if k == 0 else joint(v, av))

        other = self.partner(anchor, domains[1 - k], ok_other)
        if other is None:
            return None
        return (anchor, other) if k == 0 else (other, anchor)

    # -- op calls
    def add(self, spec: OpSpec) -> bool:
        """Try to append one call of `spec`; on any misfit, undo what the pick added."""
        n = len(self.values)
        pick = spec.pick(self)
        if pick is None or not self.append_call(spec, pick):
            del self.values[n:], self.exact[n:], self.typed[n:], self.uses[n:]
            return False
        return True

    def append_call(self, spec: OpSpec, pick: Pick) -> bool:
        """Append the call `pick` describes, if it has a Tensor operand, a form that fits and a
        value inside the bounds; else append nothing."""
        if not any(is_tensor(self.values, a) for a in pick.args):
            return False
        forms = [pick.form] if pick.form else [f for f in spec.forms if _fits(f, pick)]
        forms = [f for f in forms if not needs_tensor_first(f) or is_tensor(self.values, pick.args[0])]
        if not forms:
            return False
        form = forms[int(self.rng.integers(len(forms)))]
        call = OpCall(spec.name, form, tuple(pick.args), pick.params, pick.ok)
        operands = [self.value(a) if isinstance(a, Ref) else a.value for a in call.args]
        try:
            exact = evaluate_call(call, operands)
            typed = evaluate_call(call, [self.typed[a.index] if isinstance(a, Ref) else a.value
                                         for a in call.args], typed=True)
        except (ArithmeticError, ValueError, IndexError, RuntimeWarning):
            return False
        if not value_fits(exact) or (call.ok is not None and not call.ok(operands)):
            return False
        self.values.append(call)
        self.exact.append(exact)
        self.typed.append(typed)
        self.uses.append(0)
        for a in call.args:
            if isinstance(a, Ref):
                self.uses[a.index] += 1
        return True

    def finish(self, label: str) -> Graph | None:
        """The graph whose output joins every unused op output (reshaped to 1-D, concatenated)."""
        sinks = [i for i, v in enumerate(self.values) if isinstance(v, OpCall) and not self.uses[i]]
        if not sinks:
            return None
        if len(sinks) > 1:
            flat = []
            for i in sinks:
                if self.exact[i].ndim != 1:
                    flatten = Pick((Ref(i),), {"shape": "-1"}, form="{0}.reshape(-1)")
                    self.append_call(SPECS["reshape"], flatten)
                    i = len(self.values) - 1
                flat.append(Ref(i))
            join = Pick(tuple(flat), {"axis": "0"}, form="ag.concatenate([{args}])")
            if not self.append_call(SPECS["concatenate"], join):
                return None
        out = len(self.values) - 1
        return Graph(list(self.values), out, cotangent(self.exact[out].shape), label)


def _ndim_weights(lo: int, hi: int) -> np.ndarray:
    w = np.array([{0: 0.12, 1: 0.35, 2: 0.38, 3: 0.15}.get(d, 0.15) for d in range(lo, hi + 1)])
    return w / w.sum()


def _fits(form: str, pick: Pick) -> bool:
    try:
        render(form, ["_"] * len(pick.args), pick.params)
        return True
    except (KeyError, IndexError):
        return False


def random_graph(rng: np.random.Generator, label: str = "", dtypes: str | None = None,
                 n_ops: int | None = None) -> Graph:
    """A random graph of 2 to 10 op calls (plus the ones joining its outputs)."""
    while True:
        b = Builder(rng, dtypes or ("float64", "mixed", "float32", "mixed")[int(rng.integers(4))])
        target = n_ops or int(rng.integers(2, 11))
        names = list(SPECS)
        w = np.array([SPECS[n].weight for n in names])
        done = tries = 0
        while done < target and tries < 40 * target:
            tries += 1
            done += b.add(SPECS[names[int(rng.choice(len(names), p=w / w.sum()))]])
        graph = b.finish(label)
        if graph is not None:
            return graph


def random_graphs(n: int, seed: int) -> list[Graph]:
    """Graph k depends only on (seed, k): a failure names the graph that reproduces it."""
    return [random_graph(np.random.default_rng([seed, k]), f"seed {seed}, graph {k}") for k in range(n)]


# ---- picks: how each op chooses its operands ------------------------------------------------------


def pick_unary(domain=real, ok=None) -> Callable[[Builder], Pick | None]:
    def pick(b: Builder) -> Pick | None:
        x = b.tensor(domain=domain, ok=ok)
        return None if x is None else Pick((x,), ok=None if ok is None else lambda v: ok(v[0]))

    return pick


def pick_elementwise(domains=(real, real), oks=(None, None), joint=None) -> Callable[[Builder], Pick | None]:
    def pick(b: Builder) -> Pick | None:
        ab = b.pair(domains, oks, joint)
        if ab is None:
            return None

        def ok(v):
            each = all(f is None or f(x) for f, x in zip(oks, v, strict=True))
            return each and (joint is None or joint(*v))

        return Pick(ab, ok=ok)

    return pick


def _positive_base(v) -> bool:
    return bool(np.all((v > 0.2) & (v < 4)))


def pick_power(b: Builder) -> Pick | None:
    rng = b.rng
    kind = int(rng.integers(5))
    if kind == 0:  # an integer exponent: any base
        x = b.tensor(ok=lambda v: np.all(np.abs(v) <= 3))
        e = Scalar(int(rng.integers(2, 4)))
        return None if x is None else Pick((x, e), ok=lambda v: np.all(np.abs(v[0]) <= 3))
    if kind == 1:  # a fractional or negative exponent: a positive base
        x = b.tensor(domain=positive, ok=_positive_base)
        e = Scalar(float(rng.choice([0.5, 1.5, -0.5, -1.5, 2.5])))
        return None if x is None else Pick((x, e), ok=lambda v: _positive_base(v[0]))
    if kind == 2:  # a Python number to a Tensor power (rpow)
        y = b.tensor(ok=lambda v: np.all(np.abs(v) <= 4))
        base = Scalar(float(rng.choice([2.0, 0.5, 3.0])))
        return None if y is None else Pick((base, y), ok=lambda v: np.all(np.abs(v[1]) <= 4))
    # Tensor or constant exponents (both gradients; the same tensor as base and exponent at times)
    ab = b.pair((positive, small), (_positive_base, lambda v: np.all(np.abs(v) <= 2.5)))
    return None if ab is None else Pick(ab, ok=lambda v: _positive_base(v[0]) and np.all(np.abs(v[1]) <= 2.5))


def pick_matmul(b: Builder) -> Pick | None:
    """x @ y for x of 1 to 3 axes and y a vector, a matrix or a batch of matrices whose batch axes
    broadcast against x's; at times a constant array on either side."""
    rng = b.rng
    x = b.tensor(ndim=(1, 3))
    if x is None:
        return None
    xs = b.shape(x)
    k, m = xs[-1], int(rng.integers(1, 4))
    kind = int(rng.integers(3))
    if kind == 0:
        ys = (k,)
    elif kind == 1:
        ys = (k, m)
    else:
        batch = (int(rng.integers(1, 3)),) if len(xs) <= 2 else tuple(1 if rng.random() < 0.5 else n
                                                                      for n in xs[:-2])
        ys = batch + (k, m)
    y = b.const(ys) if rng.random() < 0.1 else b.tensor(shape=ys)
    if y is None:
        return None
    if len(ys) == 1 and len(xs) > 1 and rng.random() < 0.2:  # (k,) @ (..., k, n): the vector on the left
        return Pick((y, x))
    return Pick((x, y))


def _size(shape) -> int:
    return math.prod(shape)


def pick_clip(b: Builder) -> Pick | None:
    rng = b.rng
    x = b.tensor(ndim=(0, 3))
    if x is None:
        return None
    xv = b.value(x)
    xs = xv.shape
    grid = np.sort(xv.ravel())

    def bound(side: int):
        r = rng.random()
        if r < 0.25:
            return Scalar(None)
        if r < 0.8 or not xs:  # a number inside the spread of x (so clipping happens)
            q = float(np.quantile(grid, 0.3 if side == 0 else 0.7)) + float(rng.uniform(-0.3, 0.3))
            return Scalar(float(rounded(q)))
        bs = tuple(1 if rng.random() < 0.5 else n for n in xs[int(rng.integers(len(xs) + 1)):])
        center = np.quantile(grid, 0.3 if side == 0 else 0.7)
        return b.const(bs, lambda r_, s: center + r_.uniform(-0.5, 0.5, s))

    lo, hi = bound(0), bound(1)
    if lo is None or hi is None:
        return None

    def ok(v):
        x_, lo_, hi_ = (np.asarray(a, dtype=F64) if a is not None else None for a in v)
        if lo_ is not None and hi_ is not None and not np.all(lo_ + 2 * KINK < hi_):
            return False
        return all(bd is None or apart(x_, bd) for bd in (lo_, hi_))

    return Pick((x, lo, hi), {}, ok)


def pick_where(b: Builder) -> Pick | None:
    ab = b.pair()
    if ab is None:
        return None
    out = np.broadcast_shapes(*(b.shape(a) for a in ab))
    cs = tuple(1 if b.rng.random() < 0.3 else n for n in out[int(b.rng.integers(len(out) + 1)):])
    cond = b.mask_const(cs)
    return Pick((cond,) + ab)


def _axis_choice(rng, ndim: int, *, allow_none: bool = True, allow_tuple: bool = True):
    """An axis argument for a reduction: None, an int (maybe negative) or a tuple of axes."""
    r = rng.random()
    if ndim == 0 or (allow_none and r < 0.25):
        return None
    if not allow_tuple or ndim == 1 or r < 0.7:
        return int(rng.integers(-ndim, ndim))
    axes = rng.choice(ndim, int(rng.integers(2, ndim + 1)), replace=False)
    return tuple(int(a) - (ndim if rng.random() < 0.3 else 0) for a in axes)


def _kw(**kw) -> dict[str, str]:
    """Keyword arguments as source, in two spellings: `kw` ("axis=1") and `kw_` (", axis=1")."""
    src = ", ".join(f"{k}={v!r}" for k, v in kw.items())
    return {"kw": src, "kw_": ", " + src if src else ""}


def pick_reduction(domain=real, largest: bool | None = None, default_axis=None,
                   allow_tuple: bool = True) -> Callable[[Builder], Pick | None]:
    """sum/mean (largest None), max (True), min (False), logsumexp (default_axis -1)."""

    def pick(b: Builder) -> Pick | None:
        rng = b.rng
        if default_axis is None:
            nd = int(rng.choice(4, p=[0.15, 0.35, 0.35, 0.15]))
        else:  # (the default axis -1 needs an axis)
            nd = int(rng.integers(1, 4))
        axis = _axis_choice(rng, nd, allow_tuple=allow_tuple)
        keepdims = bool(rng.random() < 0.3)
        ok = None if largest is None else (lambda v: unique_extremum(v, axis, largest))
        x = b.tensor(ndim=(nd, nd), domain=distinct if largest is not None else domain, ok=ok)
        if x is None:
            return None
        kw = {}
        if axis != default_axis or rng.random() < 0.5:
            kw["axis"] = axis
        if keepdims or rng.random() < 0.3:
            kw["keepdims"] = keepdims
        params = {**_kw(**kw), "axis": repr(axis), "keepdims": repr(keepdims)}
        return Pick((x,), params, None if ok is None else lambda v: ok(v[0]))

    return pick


def pick_softmax(b: Builder) -> Pick | None:
    x = b.tensor(ndim=(1, 3))
    if x is None:
        return None
    nd = len(b.shape(x))
    axis = int(b.rng.integers(-nd, nd))
    kw = _kw(axis=axis) if axis != -1 or b.rng.random() < 0.5 else _kw()
    return Pick((x,), {**kw, "axis": repr(axis)})


EINSUM = ("ij,jk->ik", "ij,jk", "bij,bjk->bik", "ij,ij->", "ij->i", "ji", "ij,k->i", "i,j->ij",
          "ij,jk,kl->il", "ijk,ik->j", "...ij,...jk->...ik", "...ij,...j->...i", "...ij,...jk->...",
          "...i,...i->...", "i...->...",
          # repeated indices (diagonals, traces) beside other operands
          "ii->i", "ii", "iij,j->ij", "...ii->...i", "ij,jj->i")


def pick_einsum(b: Builder) -> Pick | None:
    """Operands for one of EINSUM's subscripts; '...' axes broadcast (each operand keeps some of
    the batch axes, with size 1 at times)."""
    rng = b.rng
    eq = EINSUM[int(rng.integers(len(EINSUM)))]
    sizes = {c: int(rng.integers(1, 4)) for c in sorted(set(eq) - set(".,->"))}
    batch = b.random_shape(1, 2, max_size=6)
    args = []
    for k, sub in enumerate(eq.partition("->")[0].split(",")):
        pre, ell, post = sub.partition("...")
        mid = ()
        if ell:
            mid = batch[int(rng.integers(len(batch) + 1)):] if rng.random() < 0.4 else batch
            mid = tuple(1 if rng.random() < 0.3 else n for n in mid)
        shape = tuple(sizes[c] for c in pre) + mid + tuple(sizes[c] for c in post)
        a = b.const(shape) if k and rng.random() < 0.1 else b.tensor(shape=shape)
        if a is None:
            return None
        args.append(a)
    return Pick(tuple(args), {"eq": repr(eq)})


def _factor_shape(rng, n: int) -> tuple:
    """A random shape with n elements (size-1 axes included at times)."""
    factors = [p for p in (2, 3, 5, 7) for _ in range(64) if n % p ** (_ + 1) == 0]
    ndim = int(rng.integers(0 if n == 1 else 1, 4))
    dims = [1] * ndim
    for f in factors:
        dims[int(rng.integers(ndim))] *= f
    return tuple(dims)


def pick_reshape(b: Builder) -> Pick | None:
    rng = b.rng
    x = b.tensor()
    if x is None:
        return None
    shape = list(_factor_shape(rng, _size(b.shape(x))))
    if shape and rng.random() < 0.3:
        shape[int(rng.integers(len(shape)))] = -1
    params = {"shape": repr(tuple(shape))}
    if shape:
        params["shape_args"] = ", ".join(map(str, shape))
    if len(shape) == 1 and rng.random() < 0.5:
        params["shape"] = str(shape[0])
    return Pick((x,), params)


def pick_expand_dims(b: Builder) -> Pick | None:
    x = b.tensor()
    if x is None:
        return None
    nd = len(b.shape(x))
    return Pick((x,), {"axis": str(int(b.rng.integers(-nd - 1, nd + 1)))})


TRANSPOSE_FORMS = ("{0}.T", "ag.transpose({0})", "{0}.transpose()", "ag.transpose({0}, axes={axes})",
                   "{0}.transpose({axes_args})")


def pick_transpose(b: Builder) -> Pick | None:
    rng = b.rng
    x = b.tensor()
    if x is None:
        return None
    nd = len(b.shape(x))
    perm = tuple(int(a) - (nd if rng.random() < 0.3 else 0) for a in rng.permutation(nd))
    form = TRANSPOSE_FORMS[int(rng.integers(len(TRANSPOSE_FORMS) if nd else 3))]
    axes = perm if "axes" in form else None  # the first three forms reverse the axes
    return Pick((x,), {"axes": repr(axes), "axes_args": ", ".join(map(str, perm))}, form=form)


def pick_broadcast_to(b: Builder) -> Pick | None:
    rng = b.rng
    x = b.tensor()
    if x is None:
        return None
    shape = tuple(int(rng.integers(1, 4)) if n == 1 else n for n in b.shape(x))
    if rng.random() < 0.4:
        shape = (int(rng.integers(1, 4)),) + shape
    return Pick((x,), {"shape": repr(shape)}) if _size(shape) <= MAX_SIZE else None


def pick_sum_to(b: Builder) -> Pick | None:
    rng = b.rng
    x = b.tensor(ndim=(1, 3))
    if x is None:
        return None
    xs = b.shape(x)
    shape = tuple(1 if rng.random() < 0.4 else n for n in xs[int(rng.integers(len(xs) + 1)):])
    return Pick((x,), {"shape": repr(shape)})


def pick_concatenate(b: Builder) -> Pick | None:
    rng = b.rng
    x = b.tensor(ndim=(1, 3))
    if x is None:
        return None
    xs = b.shape(x)
    flat = rng.random() < 0.15  # axis=None: pieces of any shape, flattened
    axis = None if flat else int(rng.integers(-len(xs), len(xs)))
    pieces = [x]
    for _ in range(int(rng.integers(1, 3))):
        shape = list(xs) if not flat else list(b.random_shape(0, 2, 6))
        if axis is not None:
            shape[axis] = int(rng.integers(1, 4))
        r = rng.random()
        p = x if r < 0.2 else b.const(tuple(shape)) if r < 0.35 else b.tensor(shape=tuple(shape))
        if p is None:
            return None
        pieces.append(p)
    rng.shuffle(pieces)
    return Pick(tuple(pieces), {"axis": repr(axis)})


def pick_stack(b: Builder) -> Pick | None:
    rng = b.rng
    x = b.tensor()
    if x is None:
        return None
    xs = b.shape(x)
    pieces = [x]
    for _ in range(int(rng.integers(1, 3))):
        r = rng.random()
        p = x if r < 0.2 else b.const(xs) if r < 0.35 else b.tensor(shape=xs)
        if p is None:
            return None
        pieces.append(p)
    rng.shuffle(pieces)
    axis = int(rng.integers(-len(xs) - 1, len(xs) + 1))
    kw = _kw(axis=axis) if axis or rng.random() < 0.5 else _kw()
    return Pick(tuple(pieces), {**kw, "axis": repr(axis)})


def _windows(b: Builder, pool: bool) -> Pick | None:
    rng = b.rng
    x = b.tensor(ndim=(1, 3))
    if x is None:
        return None
    xs = b.shape(x)
    k = int(rng.integers(1, min(2, len(xs)) + 1))
    size = tuple(int(rng.integers(1, n + 1)) for n in xs[-k:])
    r = rng.random()
    stride = size if pool and r < 0.5 else tuple(int(rng.integers(1, 3)) for _ in size)
    default = size if pool else (1,) * k
    params = {"size": str(size[0]) if k == 1 and rng.random() < 0.5 else repr(size),
              "size_t": repr(size), "stride_t": repr(stride),
              "stride_kw": "" if stride == default and rng.random() < 0.6 else f", stride={stride!r}"}
    return Pick((x,), params)


def pick_conv2d(b: Builder) -> Pick | None:
    rng = b.rng
    x = b.tensor(ndim=(4, 4), reuse=0.5) if rng.random() < 0.5 else None
    x = x or b.fresh((int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(2, 5)),
                      int(rng.integers(2, 5))))
    n, c, h, w = b.shape(x)
    pad = (int(rng.integers(0, 2)), int(rng.integers(0, 2)))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    kern = tuple(int(rng.integers(1, min(3, n + 2 * p) + 1)) for n, p in ((h, pad[0]), (w, pad[1])))
    o = int(rng.integers(1, 3))
    weight = b.tensor(shape=(o, c) + kern)
    args = [x, weight]
    if rng.random() < 0.6:
        args.append(b.const((o,)) if rng.random() < 0.2 else b.tensor(shape=(o,)))
    if any(a is None for a in args):
        return None
    src = {k: repr(v[0]) if v[0] == v[1] and rng.random() < 0.5 else repr(v)
           for k, v in (("stride", stride), ("padding", pad))}
    return Pick(tuple(args), {**src, "stride_t": repr(stride), "padding_t": repr(pad)})


def pick_linear(b: Builder) -> Pick | None:
    rng = b.rng
    x = b.tensor(ndim=(1, 3))
    if x is None:
        return None
    n_in, n_out = b.shape(x)[-1], int(rng.integers(1, 4))
    w = b.const((n_out, n_in)) if rng.random() < 0.1 else b.tensor(shape=(n_out, n_in))
    args = [x, w]
    if rng.random() < 0.7:
        # at times a bias of the other float dtype than x's: the result's dtype is NumPy's promotion
        other = F64 if b.typed[x.index].dtype == F32 else F32
        dtype = other if b.dtypes == "mixed" and rng.random() < 0.5 else None
        args.append(b.fresh((n_out,), dtype=dtype) if dtype else b.tensor(shape=(n_out,)))
    return None if any(a is None for a in args) else Pick(tuple(args))


def pick_softmax_cross_entropy(b: Builder) -> Pick | None:
    u = b.tensor(ndim=(2, 2))
    if u is None:
        return None
    n, k = b.shape(u)
    return Pick((u, b.int_const(b.rng.integers(0, k, n))))


def pick_astype(b: Builder) -> Pick | None:
    x = b.tensor()
    if x is None:
        return None
    dtype = "float64" if b.dtypes == "float64" or b.rng.random() < 0.5 else "float32"
    return Pick((x,), {"dtype": dtype})


def _slice(rng, n: int) -> slice:
    """A non-empty slice of an axis of length n; steps of either sign."""
    while True:
        step = int(rng.choice([1, 1, 2, -1, -2]))
        start = None if rng.random() < 0.4 else int(rng.integers(-n, n))
        stop = None if rng.random() < 0.4 else int(rng.integers(-n - 1, n + 1))
        sl = slice(start, stop, None if step == 1 and rng.random() < 0.5 else step)
        if len(range(*sl.indices(n))):
            return sl


def _repeated(rng, n: int, length: int | None = None) -> np.ndarray:
    """Integer indices into an axis of length n, some negative, the first position repeated last."""
    length = length or int(rng.integers(2, n + 3))
    idx = rng.integers(0, n, length)
    idx[-1] = idx[0]
    return np.where(rng.random(length) < 0.3, idx - n, idx)


def pick_getitem(b: Builder) -> Pick | None:
    rng = b.rng
    x = b.tensor()
    if x is None:
        return None
    xs = b.shape(x)
    nd = len(xs)
    kinds = ["newaxis"] + (["int", "slices", "int_array", "list", "mask_first", "tensor_index", "mask_full"]
                           if nd else []) + (["pairs", "array_slice", "slice_array"] if nd >= 2 else [])
    kind = kinds[int(rng.integers(len(kinds)))]
    if kind == "newaxis":
        last = (int(rng.integers(-xs[-1], xs[-1])),) if nd and rng.random() < 0.5 else ()
        parts = (None, Ellipsis) + last
    elif kind == "int":
        parts = (int(rng.integers(-xs[0], xs[0])),)
    elif kind == "slices":
        parts = tuple(_slice(rng, n) for n in xs[:int(rng.integers(1, nd + 1))])
    elif kind in ("int_array", "tensor_index"):
        parts = (_repeated(rng, xs[0]),)
    elif kind == "list":
        parts = (_repeated(rng, xs[0]).tolist(),)
    elif kind == "pairs":  # (row, column) pairs, the first pair repeated last
        rows, cols = _repeated(rng, xs[0]), _repeated(rng, xs[1])
        parts = (rows, rng.integers(-xs[1], xs[1], len(rows)) if len(cols) != len(rows) else cols)
        parts[1][-1] = parts[1][0]
    elif kind == "array_slice":
        parts = (_repeated(rng, xs[0]), _slice(rng, xs[1]))
    elif kind == "slice_array":
        parts = (slice(None), _repeated(rng, xs[1]))
    else:  # masks: over the first axis or the whole array, never empty
        m = rng.random(xs if kind == "mask_full" else xs[:1]) < 0.5
        m.flat[int(rng.integers(m.size))] = True
        parts = (m,)
    tensor = kind == "tensor_index"
    params = {"idx": _subscript(parts, tensor), "np_idx": _subscript(parts),
              "idx_obj": _index_object(parts, tensor)}
    if not any(isinstance(p, slice) and (p.step or 1) < 0 for p in parts):
        params["idx_t"] = _subscript(parts, torch=True)  # torch has no negative-step slices
    return Pick((x,), params)


def _part(p, tensor: bool = False, torch: bool = False, obj: bool = False) -> str:
    if isinstance(p, slice):
        if obj:
            return f"slice({p.start!r}, {p.stop!r}, {p.step!r})"
        s = f"{'' if p.start is None else p.start}:{'' if p.stop is None else p.stop}"
        return s + ("" if p.step is None else f":{p.step}")
    if p is Ellipsis:
        return "..."
    if isinstance(p, np.ndarray):
        lst = repr(p.tolist())
        if torch:
            return f"torch.tensor({lst})"
        return f"ag.tensor(np.array({lst}))" if tensor else f"np.array({lst})"
    return repr(p)


def _subscript(parts: tuple, tensor: bool = False, torch: bool = False) -> str:
    return ", ".join(_part(p, tensor, torch) for p in parts)


def _index_object(parts: tuple, tensor: bool) -> str:
    return "(" + ", ".join(_part(p, tensor, obj=True) for p in parts) + ",)"


# ---- the spec table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpSpec:
    """One op: how to pick operands (`pick`), how the engine is called (`forms`: one is chosen per
    call), and references of the forward: `numpy` (float64 values, and NumPy's dtype rule on the
    operands' own dtypes) and `torch` (None: no PyTorch comparison for graphs using this op)."""

    name: str
    pick: Callable[[Builder], Pick | None]
    forms: tuple[str, ...]
    numpy: str
    torch: str | None = None
    weight: float = 1.0


def _away(v) -> bool:
    return away_from_zero(v)


# One row per op: name, pick, engine forms, NumPy reference, PyTorch reference, weight (how often)
SPEC_ROWS: list[OpSpec] = [
    # elementwise arithmetic: operators, reflected operators (a scalar or array on the left), broadcasting
    OpSpec("add", pick_elementwise(), ("ag.add({0}, {1})", "{0} + {1}"), "{0} + {1}", "{0} + {1}", 2),
    OpSpec("subtract", pick_elementwise(), ("ag.subtract({0}, {1})", "{0} - {1}"), "{0} - {1}", "{0} - {1}"),
    OpSpec("multiply", pick_elementwise(), ("ag.multiply({0}, {1})", "{0} * {1}"), "{0} * {1}", "{0} * {1}",
           2),
    OpSpec("divide", pick_elementwise((real, nonzero), (None, lambda v: np.all(np.abs(v) > 0.3))),
           ("ag.divide({0}, {1})", "{0} / {1}"), "{0} / {1}", "{0} / {1}"),
    OpSpec("negative", pick_unary(), ("ag.negative({0})", "-{0}"), "-{0}", "-{0}"),
    OpSpec("power", pick_power, ("ag.power({0}, {1})", "{0} ** {1}"), "np.power({0}, {1})", "T({0}) ** {1}"),
    OpSpec("matmul", pick_matmul, ("ag.matmul({0}, {1})", "{0} @ {1}"), "np.matmul({0}, {1})",
           "torch.matmul({0}, {1})"),
    # elementwise functions
    OpSpec("exp", pick_unary(ok=lambda v: np.all(v < 3)), ("ag.exp({0})", "{0}.exp()"), "np.exp({0})",
           "torch.exp({0})"),
    OpSpec("log", pick_unary(positive, lambda v: np.all(v > 0.2)), ("ag.log({0})", "{0}.log()"),
           "np.log({0})", "torch.log({0})"),
    OpSpec("sqrt", pick_unary(positive, lambda v: np.all(v > 0.2)), ("ag.sqrt({0})", "{0}.sqrt()"),
           "np.sqrt({0})", "torch.sqrt({0})"),
    OpSpec("abs", pick_unary(nonzero, _away), ("ag.abs({0})", "{0}.abs()"), "np.abs({0})", "torch.abs({0})"),
    OpSpec("tanh", pick_unary(), ("ag.tanh({0})", "{0}.tanh()"), "np.tanh({0})", "torch.tanh({0})"),
    OpSpec("sigmoid", pick_unary(), ("ag.sigmoid({0})", "{0}.sigmoid()"), "np_sigmoid({0})",
           "torch.sigmoid({0})"),
    OpSpec("relu", pick_unary(nonzero, _away), ("ag.relu({0})", "{0}.relu()"), "np.maximum({0}, 0)",
           "torch.relu({0})"),
    OpSpec("sign", pick_unary(nonzero, _away), ("ag.sign({0})",), "np.sign({0})", "torch.sign({0})", 0.5),
    OpSpec("clip", pick_clip, ("ag.clip({0}, {1}, {2})", "{0}.clip({1}, {2})"), "np_clip({0}, {1}, {2})",
           "t_clip({0}, {1}, {2})"),
    OpSpec("where", pick_where, ("ag.where({0}, {1}, {2})",), "np.where({0}, {1}, {2})",
           "torch.where({0}, T({1}), T({2}))"),
    OpSpec("maximum", pick_elementwise(joint=apart), ("ag.maximum({0}, {1})",), "np.maximum({0}, {1})",
           "torch.maximum(T({0}), T({1}))"),
    OpSpec("minimum", pick_elementwise(joint=apart), ("ag.minimum({0}, {1})",), "np.minimum({0}, {1})",
           "torch.minimum(T({0}), T({1}))"),
    OpSpec("astype", pick_astype, ("ag.astype({0}, np.{dtype})", "{0}.astype(np.{dtype})"),
           "cast({0}, np.{dtype})", "{0}", 0.5),
    # reductions
    OpSpec("sum", pick_reduction(), ("ag.sum({0}{kw_})", "{0}.sum({kw})"), "np.sum({0}{kw_})",
           "t_reduce(torch.sum, {0}, {axis}, {keepdims})", 1.5),
    OpSpec("mean", pick_reduction(), ("ag.mean({0}{kw_})", "{0}.mean({kw})"), "np.mean({0}{kw_})",
           "t_reduce(torch.mean, {0}, {axis}, {keepdims})"),
    OpSpec("max", pick_reduction(largest=True), ("ag.max({0}{kw_})", "{0}.max({kw})"), "np.max({0}{kw_})",
           "t_reduce(torch.amax, {0}, {axis}, {keepdims})"),
    OpSpec("min", pick_reduction(largest=False), ("ag.min({0}{kw_})", "{0}.min({kw})"), "np.min({0}{kw_})",
           "t_reduce(torch.amin, {0}, {axis}, {keepdims})"),
    OpSpec("logsumexp", pick_reduction(default_axis=-1), ("ag.logsumexp({0}{kw_})",),
           "np_logsumexp({0}{kw_})", "t_reduce(torch.logsumexp, {0}, {axis}, {keepdims})"),
    OpSpec("softmax", pick_softmax, ("ag.softmax({0}{kw_})",), "np_softmax({0}{kw_})",
           "torch.softmax({0}, dim={axis})"),
    OpSpec("log_softmax", pick_softmax, ("ag.log_softmax({0}{kw_})",), "np_log_softmax({0}{kw_})",
           "torch.log_softmax({0}, dim={axis})"),
    OpSpec("einsum", pick_einsum, ("ag.einsum({eq}, {args})",), "np.einsum({eq}, {args})",
           "torch.einsum({eq}, {args})", 2),
    # shapes and views
    OpSpec("reshape", pick_reshape,
           ("ag.reshape({0}, {shape})", "{0}.reshape({shape})", "{0}.reshape({shape_args})"),
           "np.reshape({0}, {shape})", "torch.reshape({0}, t_shape({shape}))"),
    OpSpec("expand_dims", pick_expand_dims, ("ag.expand_dims({0}, {axis})",), "np.expand_dims({0}, {axis})",
           "torch.unsqueeze({0}, {axis})"),
    OpSpec("transpose", pick_transpose, TRANSPOSE_FORMS, "np.transpose({0}, {axes})",
           "t_transpose({0}, {axes})"),
    OpSpec("broadcast_to", pick_broadcast_to, ("ag.broadcast_to({0}, {shape})",),
           "np.broadcast_to({0}, {shape})", "torch.broadcast_to({0}, {shape})"),
    OpSpec("sum_to", pick_sum_to, ("ag.sum_to({0}, {shape})",), "np_sum_to({0}, {shape})",
           "t_sum_to({0}, {shape})"),
    OpSpec("concatenate", pick_concatenate, ("ag.concatenate([{args}], axis={axis})",
                                             "ag.concatenate(({args},), axis={axis})"),
           "np.concatenate([{args}], axis={axis})", "t_cat([{args}], {axis})"),
    OpSpec("stack", pick_stack, ("ag.stack([{args}]{kw_})",), "np.stack([{args}]{kw_})",
           "torch.stack([{args}], dim={axis})"),
    # pad: its row (every mode) is in random_graph_specs_array.py
    OpSpec("getitem", pick_getitem, ("{0}[{idx}]", "ag.getitem({0}, {idx_obj})"), "{0}[{np_idx}]",
           "{0}[{idx_t}]", 2),
    # windows, convolution, fused layers
    OpSpec("sliding_window", lambda b: _windows(b, pool=False),
           ("ag.sliding_window({0}, {size}{stride_kw})",),
           "np_windows({0}, {size_t}, {stride_t})", "t_windows({0}, {size_t}, {stride_t})", 0.7),
    OpSpec("avg_pool", lambda b: _windows(b, pool=True), ("ag.avg_pool({0}, {size}{stride_kw})",),
           "np_avg_pool({0}, {size_t}, {stride_t})", "t_windows({0}, {size_t}, {stride_t}, mean=True)", 0.7),
    OpSpec("conv2d", pick_conv2d, ("ag.conv2d({args}, stride={stride}, padding={padding})",),
           "np_conv({args}, stride={stride_t}, padding={padding_t})",
           "F.conv2d({args}, stride={stride_t}, padding={padding_t})"),
    OpSpec("linear", pick_linear, ("ag.linear({args})",), "np_linear({args})", "F.linear({args})"),
    OpSpec("softmax_cross_entropy", pick_softmax_cross_entropy, ("ag.softmax_cross_entropy({0}, {1})",),
           "np_softmax_cross_entropy({0}, {1})", "F.cross_entropy({0}, {1}, reduction='none')", 0.7),
]

# An elementwise op named after a unary NumPy ufunc needs no row above: its spec is derived from
# its OpCase row in tests/op_cases.py (the domain that keeps it differentiable), so adding such
# an op is one rule in ops.py and one OpCase row.
_CASE_DOMAINS = {"real": (real, None), "positive": (positive, lambda v: np.all(v > 0.2)),
                 "away_from_kink": (nonzero, _away)}


def _derived_rows(explicit: set[str]) -> list[OpSpec]:
    rows = []
    for name in sorted(set(rules.QUALIFIED) - explicit):
        ufunc = getattr(np, name, None)
        case = next((c for c in OP_CASES if c.name == name and isinstance(c.domain[0], str)), None)
        if isinstance(ufunc, np.ufunc) and ufunc.nin == 1 and case and case.domain[0] in _CASE_DOMAINS:
            domain, ok = _CASE_DOMAINS[case.domain[0]]
            rows.append(OpSpec(name, pick_unary(domain, ok), (f"ag.{name}({{0}})",), f"np.{name}({{0}})",
                               f"torch.{name}({{0}})"))
    return rows


# each family's rows (their files build them from this module's picks)
for _family in (random_graph_specs_math, random_graph_specs_array, random_graph_specs_products,
                random_graph_specs_linalg):
    SPEC_ROWS += _family.rows()
SPEC_ROWS += _derived_rows({s.name for s in SPEC_ROWS})
SPECS: dict[str, OpSpec] = {s.name: s for s in SPEC_ROWS}

# Names in rules.QUALIFIED deliberately without a spec, each with the reason (none at present: every
# public op of the rule table is generated).
EXCLUDED: dict[str, str] = {}


# ---- PyTorch references (float64) -------------------------------------------------------------------


def torch_namespace() -> dict:
    """Names the torch templates use; imports torch (ImportError where it is not installed)."""
    import torch
    import torch.nn.functional as F

    def T(v):  # a Python number as a float64 tensor (torch.maximum and friends take only tensors)
        return v if isinstance(v, torch.Tensor) else torch.tensor(v, dtype=torch.float64)

    def t_reduce(fn, x, axis, keepdims):
        dims = tuple(range(x.ndim)) if axis is None else axis
        if x.ndim == 0:
            return fn(x, dim=()) if fn is not torch.logsumexp else x.clone()
        return fn(x, dim=dims, keepdim=keepdims)

    def t_clip(x, lo, hi):
        lo, hi = (None if v is None else T(v) for v in (lo, hi))  # (clamp takes no tensor-number mix)
        return x.clone() if lo is None and hi is None else torch.clamp(x, lo, hi)

    def t_transpose(x, axes):
        return x.permute(tuple(reversed(range(x.ndim))) if axes is None else tuple(axes))

    def t_sum_to(x, shape):
        return x.sum() if shape == () else x.sum_to_size(shape)

    def t_shape(shape):
        return (shape,) if isinstance(shape, int) else shape

    def t_cat(xs, axis):
        return torch.cat([x.reshape(-1) for x in xs]) if axis is None else torch.cat(xs, dim=axis)

    def t_pad(x, per_axis):
        return F.pad(x, [p for pair in reversed(per_axis) for p in pair])

    def t_windows(x, size, stride, mean=False):
        # unfold replaces an axis by the window count and appends the window: (..., o1, o2, s1, s2)
        first = x.ndim - len(size)
        for k, (s, st) in enumerate(zip(size, stride, strict=True)):
            x = x.unfold(first + k, s, st)
        return x.mean(dim=tuple(range(-len(size), 0))) if mean else x

    helpers = (T, t_reduce, t_clip, t_transpose, t_sum_to, t_shape, t_cat, t_pad, t_windows)
    return {"torch": torch, "F": F, "np": np, **{f.__name__: f for f in helpers}}

"""What a row of the op-case table is (`OpCase`), the input domains and views its inputs are
drawn from, and `leaves`. The table is tests/op_cases.py plus one file of rows per op family
(op_cases_math.py, op_cases_array.py, op_cases_products.py, op_cases_linalg.py), which all import this module.

Each `OpCase` names the primitive it exercises (`Primitive.name`, as recorded on the tape), a
function of Tensors, its inputs' shapes and domains, and a plain-NumPy reference for the forward.
Adding a primitive to `autograd_core/ops.py` means adding rows here: a completeness test fails
until every primitive has one. Composite functions (mean, expand_dims, sum_to) and the Tensor
operators and methods have rows too, under the name of the composite or of the primitive that the
operator records.

Domains keep each case differentiable with margin (central differences must not cross a kink or a
tie) and free of NumPy warnings (pytest turns RuntimeWarning into errors): log/sqrt/power bases are
positive, relu/abs/divisors stay away from 0, maximum/minimum inputs come from interleaved grids
(never equal), max/min reductions get distinct values, clip inputs stay away from the bounds.

Views: an input may be built as a non-contiguous view of a bigger array (`view="T"`: a transpose,
`"step"`: every other row, `"step_last"`: every other column, `"flip"`: reversed rows, `"bcast"`:
a read-only, zero-stride broadcast), so ops are exercised on strided data, not only on fresh
C-contiguous arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import autograd_core as ag

# ---- domains: (rng, shape) -> float64 (or bool / integer) array -------------------------------


def real(rng, shape):
    return rng.standard_normal(shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def away_from_kink(rng, shape):
    """|x| in [0.2, 2]: away from the kink of relu/abs at 0 and from the pole of 1/x."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.2, 2.0, shape)


def distinct(rng, shape):
    """Distinct values at least 0.2 apart, in random order: no ties for max/min reductions."""
    n = int(np.prod(shape, dtype=np.int64))
    return (rng.permutation(n) * 0.25 - n * 0.125 + rng.uniform(0, 0.05, n)).reshape(shape)


def grid(rng, shape):
    """Multiples of 0.5; with `offgrid` (multiples of 0.5 plus 0.25) never closer than 0.25."""
    return rng.integers(-6, 7, shape) * 0.5


def offgrid(rng, shape):
    return rng.integers(-6, 6, shape) * 0.5 + 0.25


def big(rng, shape):
    """Logits like 1e4 * randn: exp overflows unless the op subtracts the max first."""
    return 1e4 * rng.standard_normal(shape)


def big_offset(rng, shape):
    """1e4 + randn: unsaturated softmax (non-trivial gradients) far from 0."""
    return 1e4 + rng.standard_normal(shape)


def f32_exact(rng, shape):
    """Multiples of 1/16 in [-4, 4]: exact in float32, and so are x ± 2**-8 (astype checks)."""
    return rng.integers(-64, 65, shape) / 16.0


def away_from(*points: float, margin: float = 0.15, lo: float = -2.0, hi: float = 2.0):
    """Uniform in [lo, hi], at least `margin` away from each of `points` (e.g. clip bounds)."""

    def gen(rng, shape):
        x = rng.uniform(lo, hi, shape)
        for p in points:
            near = np.abs(x - p) < margin
            pushed = p + np.where(x >= p, 1, -1) * (margin + rng.uniform(0, 0.5, shape))
            x = np.where(near, pushed, x)
        return x

    gen.__name__ = f"away_from{points}"
    return gen


def mask(rng, shape):
    """A bool input (passed through as a constant by gradcheck)."""
    return rng.random(shape) < 0.5


def indices(n: int):
    """An integer index input into an axis of length n (passed through as a constant); an index
    array longer than n always repeats a position."""

    def gen(rng, shape):
        return rng.integers(0, n, shape)

    gen.__name__ = f"indices({n})"
    return gen


DOMAINS: dict[str, Callable] = {
    f.__name__: f
    for f in (real, positive, away_from_kink, distinct, grid, offgrid, big, big_offset, f32_exact,
              mask)
}

# ---- views: name -> (shape of the bigger base array, how the input is cut from it) -------------
VIEWS: dict[str, tuple[Callable, Callable]] = {
    "T": (lambda s: s[::-1], lambda a, s: a.T),
    "step": (lambda s: (2 * s[0],) + s[1:], lambda a, s: a[::2]),
    "step_last": (lambda s: s[:-1] + (2 * s[-1],), lambda a, s: a[..., ::2]),
    "flip": (lambda s: s, lambda a, s: a[::-1]),
    "bcast": (lambda s: (1,) + s[1:], lambda a, s: np.broadcast_to(a, s)),
}


@dataclass(frozen=True, eq=False)
class OpCase:
    """One way to call an op.

    name:       the primitive exercised, as recorded (`Primitive.name`), or a composite's name
    id:         a short description of the way it is called
    call:       a function of Tensors (one per input) returning a Tensor
    shapes:     the inputs' shapes
    domain:     one domain for all inputs or one per input (a name in DOMAINS or a generator)
    numpy_ref:  the forward in plain NumPy, on the same inputs as arrays
    view:       None, or per input None / a name in VIEWS (one name applies to every input)
    out_dtype:  the forward's dtype when it is not the float inputs' dtype (astype)
    no_grad:    the rule gives no cotangent at all (sign: derivative 0 almost everywhere)
    gradgrad:   None, or why gradgradcheck does not apply to this case
    check:      extra keyword arguments for gradcheck/gradgradcheck (with the reason in a comment)
    """

    name: str
    id: str
    call: Callable
    shapes: tuple
    domain: str | Callable | tuple = "real"
    numpy_ref: Callable | None = None
    view: str | tuple | None = None
    out_dtype: np.dtype | None = None
    no_grad: bool = False
    gradgrad: str | None = None
    check: dict = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "shapes", tuple(tuple(s) for s in self.shapes))
        n = len(self.shapes)
        for attr in ("domain", "view"):
            v = getattr(self, attr)
            if not isinstance(v, tuple):
                object.__setattr__(self, attr, (v,) * n)
            elif len(v) != n:
                raise ValueError(f"{self}: {attr} has {len(v)} entries for {n} inputs")

    def __str__(self) -> str:
        return f"{self.name}-{self.id}"

    def __repr__(self) -> str:
        views = "" if not any(self.view) else f" views={list(self.view)}"
        doms = [d if isinstance(d, str) else getattr(d, "__name__", "custom") for d in self.domain]
        return f"OpCase({self}: shapes={list(self.shapes)} domains={doms}{views})"

    def inputs(self, rng: np.random.Generator, dtype=np.float64) -> list[np.ndarray]:
        """Fresh inputs: floats in `dtype` (built as views where asked), masks/indices as is."""
        out = []
        for shape, dom, view in zip(self.shapes, self.domain, self.view, strict=True):
            gen = DOMAINS[dom] if isinstance(dom, str) else dom
            base_shape, cut = VIEWS[view] if view else ((lambda s: s), (lambda a, s: a))
            a = np.asarray(gen(rng, base_shape(shape)))
            if a.dtype.kind == "f":
                a = a.astype(dtype)
            a = cut(a, shape)
            assert a.shape == shape, f"{self!r}: built an input of shape {a.shape}"
            out.append(a)
        return out

    def float_inputs(self, arrays) -> list[int]:
        return [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]


def leaves(arrays, requires_grad: bool = True) -> list:
    """Tensors holding exactly these arrays (views kept: `Tensor()` would copy them)."""
    ts = []
    for a in arrays:
        t = ag.tensor(np.zeros((), a.dtype), requires_grad=requires_grad and a.dtype.kind == "f")
        t.data = a
        ts.append(t)
    return ts

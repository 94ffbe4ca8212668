"""THE rule table: every built-in op's NumPy forward and its vector-Jacobian product.

Rules read like the math: `g` is the cotangent of the output `ans`, then the forward's inputs,
then static parameters by keyword. They return one cotangent per input (None for none).

One rule per op serves both sweeps: rules are written with the functions of this file and Tensor
operators, so a first-order sweep runs them on plain arrays (NumPy speed, nothing recorded) and a
`create_graph` sweep on Tensors (recorded, so they can be differentiated again). Masks at kinks
are computed on the raw data (`_raw`): constants whose derivative is zero. Array kernels that
buy a large factor live in kernels.py, each wrapped here as a primitive whose VJP is its adjoint.

Note [broadcasting]: rules ignore broadcasting. Primitives declared `broadcasting=True` may return
a cotangent of the (broadcast) output's shape; the sweep sums it back to the input's shape once.

Kinks (any valid subgradient is allowed; these are the ones returned, and each kinked primitive
declares `kinks=` for gradcheck):
- relu'(0) = 0; abs'(0) = 0 (sign); clip passes the gradient at a bound (lo <= x <= hi);
- max/min reductions share the gradient equally among tied maxima (like `torch.amax`);
- maximum/minimum give each of two tied inputs half.

Adding an op: one row (or a rule function right under its forward) here, and one `OpCase` row in
tests/op_cases.py. Its name joins `ag.__all__` by itself (see `__all__` at the end).
"""

from __future__ import annotations

import builtins
import itertools
import math
import string

import numpy as np

from . import kernels
from .graph import local
from .primitive import defop, rule_table
from .tensor import Tensor, attach_methods


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def _shape(x) -> tuple[int, ...]:
    return x.shape if isinstance(x, (np.ndarray, Tensor)) else np.shape(x)


def _dtype(x) -> np.dtype:
    return x.dtype if hasattr(x, "dtype") else np.result_type(x)


def _axes(axis, ndim: int) -> tuple[int, ...]:
    """Normalized, sorted reduction axes (None means all)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of bounds for an array of dimension {ndim}")
    return tuple(sorted(int(a) % builtins.max(ndim, 1) for a in axes))


def _keep(g, shape: tuple, axis, keepdims: bool):
    """A reduction's cotangent reshaped so it broadcasts against the input (keepdims form)."""
    if keepdims:
        return g
    axes = _axes(axis, len(shape))
    return g.reshape(tuple(1 if i in axes else n for i, n in enumerate(shape)))


def _distance(x, to):
    """|x - to|, or inf where there is no `to` (None): how far x is from a kink at `to`."""
    return np.full(np.shape(x), np.inf) if to is None else np.abs(x - to)


# ---- elementwise arithmetic (broadcasting) -----------------------------------------------------
add      = defop(np.add,      lambda g, ans, x, y: (g, g),   "add",      broadcasting=True, reads=())
subtract = defop(np.subtract, lambda g, ans, x, y: (g, -g),  "subtract", broadcasting=True, reads=())
negative = defop(np.negative, lambda g, ans, x: (-g,),       "negative", reads=())


def multiply_vjp(g, ans, x, y, *, needs):
    return (g * y if needs[0] else None), (g * x if needs[1] else None)


def divide_vjp(g, ans, x, y, *, needs):
    return (g / y if needs[0] else None), (-g * ans / y if needs[1] else None)


multiply = defop(np.multiply, multiply_vjp, "multiply", broadcasting=True, reads=(0, 1))
divide   = defop(np.divide,   divide_vjp,   "divide",   broadcasting=True, reads=(1,))


def power_vjp(g, ans, x, y, *, needs):
    # at x = y = 0 the x-gradient is 0 (not 0 * 0**-1 = nan); at x = 0 the y-gradient is 0 (the
    # limit of x**y log x for y > 0), as in PyTorch and JAX. The masks leave y free elsewhere, so
    # the rule's own derivative in y stays right (d/dy y x**(y-1) = 1/x at y = 0).
    gx = gy = None
    if needs[0]:
        both0 = (_raw(x) == 0) & (_raw(y) == 0)
        gx = g * y * (where(both0, 1, x) if np.any(both0) else x) ** (y - 1)
    if needs[1]:
        x0 = _raw(x) == 0
        gy = g * log(where(x0, 1, x) if np.any(x0) else x) * ans
    return gx, gy


power = defop(np.power, power_vjp, "power", broadcasting=True)

# ---- elementwise functions ---------------------------------------------------------------------
exp   = defop(np.exp,   lambda g, ans, x: (g * ans,),                "exp",   reads=())
log   = defop(np.log,   lambda g, ans, x: (g / x,),                  "log",   reads=(0,))
log1p = defop(np.log1p, lambda g, ans, x: (g / (1 + x),),            "log1p", reads=(0,))
sqrt  = defop(np.sqrt,  lambda g, ans, x: (g / (ans * 2),),          "sqrt",  reads=())
tanh  = defop(np.tanh,  lambda g, ans, x: (g * (1 - ans * ans),),    "tanh",  reads=())
sign  = defop(np.sign,  lambda g, ans, x: (None,),                   "sign",  reads=())  # 0 a.e.
abs   = defop(np.abs,   lambda g, ans, x: (g * np.sign(_raw(x)),),   "abs",   reads=(0,),
              kinks=lambda ans, x: x)
relu  = defop(lambda x: np.maximum(x, 0), lambda g, ans, x: (g * (ans > 0),), "relu", reads=(),
              kinks=lambda ans, x: x)


def _sigmoid(x):
    # 1/(1 + e^{-x}) has a relative error of a few ulp everywhere: for x << 0, e^{-x} overflows
    # to inf and the quotient is the correct limit 0 (an expected overflow, so not reported)
    with np.errstate(over="ignore"):
        e = np.exp(np.negative(x))
        e += 1  # (in place on our own temporaries)
        return np.divide(1, e, out=e) if e.ndim else 1 / e


def _sigmoid_slope_fwd(x, s):
    # σ'(x) = σ(x)σ(−x) = s/(1 + e^x) with s = σ(x): a few ulp everywhere, where the textbook
    # s·(1 − s) loses all relative precision once s rounds to 1; e^x overflows where σ' is 0
    with np.errstate(over="ignore"):
        d = np.exp(x)
        d += 1  # (in place on our own temporary)
        return np.divide(s, d, out=d) if d.ndim else s / d


# ∂/∂x s/(1 + e^x) = −ans·σ(x) and ∂/∂s = σ(−x): bounded, so second derivatives stay finite
_sigmoid_slope = defop(_sigmoid_slope_fwd,
                       lambda g, ans, x, s: (-g * ans * sigmoid(x), g * sigmoid(-x)),
                       "sigmoid_slope", reads=(0,))
sigmoid = defop(_sigmoid, lambda g, ans, x: (g * _sigmoid_slope(x, ans),), "sigmoid", reads=(0,))


def clip_vjp(g, ans, x, *, lo, hi):
    xr = _raw(x)
    inside = np.ones(np.shape(xr), dtype=bool)
    if lo is not None:
        inside &= xr >= lo
    if hi is not None:
        inside &= xr <= hi
    return (g * inside,)


def _clip(x, *, lo, hi):
    return np.array(x, copy=True) if lo is None and hi is None else np.clip(x, lo, hi)


_clip_p = defop(_clip, clip_vjp, "clip", reads=(0,),
                kinks=lambda ans, x, *, lo, hi: np.minimum(_distance(x, lo), _distance(x, hi)))


def clip(x, lo=None, hi=None):
    """Elementwise clip to [lo, hi]; either bound may be None. The gradient passes where
    lo <= x <= hi (bounds included, like ``torch.clamp``). Bounds are constants: for a
    differentiable bound use `maximum`/`minimum`; bounds may not broadcast x to a bigger shape."""
    for name, b in (("lo", lo), ("hi", hi)):
        if isinstance(b, Tensor) and b.requires_grad:
            raise TypeError(f"clip: bound {name} requires grad, but clip's bounds are constants; "
                            "use ag.maximum(x, lo) / ag.minimum(x, hi) for a differentiable bound")
    xs = _shape(x)
    shapes = [_shape(b) for b in (lo, hi) if b is not None]
    if shapes and np.broadcast_shapes(xs, *shapes) != xs:
        raise ValueError(f"clip: bounds of shapes {shapes} would broadcast x of shape {xs} to "
                         f"{np.broadcast_shapes(xs, *shapes)}; clip keeps x's shape")
    # bounds are copied: the VJP's mask reads them, and a later write by the caller must not matter
    lo, hi = (np.array(_raw(b)) if isinstance(_raw(b), np.ndarray) else _raw(b) for b in (lo, hi))
    return _clip_p(x, lo=lo, hi=hi)


def where_vjp(g, ans, cond, x, y):
    c = _raw(cond)
    return None, where(c, g, 0), where(c, 0, g)


_where = defop(np.where, where_vjp, "where", broadcasting=True, reads=(0,))


def where(condition, x=None, y=None, /):
    """x where `condition` is true, else y (NumPy broadcasting). With the condition alone, the
    indices where it is true (``np.nonzero``: a tuple of integer arrays, no gradient)."""
    if x is None and y is None:
        return np.nonzero(_raw(condition))
    if x is None or y is None:
        raise ValueError("where: give both x and y, or neither (then the indices are returned)")
    return _where(condition, x, y)


def _tie_mask(a, b, dtype):
    """1 where a wins, 1/2 on ties, 0 elsewhere (as `dtype`)."""
    return (a > b).astype(dtype) + (a == b).astype(dtype) * 0.5


def maximum_vjp(g, ans, x, y):
    m = _tie_mask(_raw(x), _raw(y), _dtype(g))
    return g * m, g * (1 - m)


def minimum_vjp(g, ans, x, y):
    m = _tie_mask(_raw(y), _raw(x), _dtype(g))  # 1 where x is the smaller (y > x), 1/2 on ties
    return g * m, g * (1 - m)


maximum = defop(np.maximum, maximum_vjp, "maximum", broadcasting=True, reads=(0, 1),
                kinks=lambda ans, x, y: x - y)
minimum = defop(np.minimum, minimum_vjp, "minimum", broadcasting=True, reads=(0, 1),
                kinks=lambda ans, x, y: x - y)

_astype = defop(lambda x, *, dtype: np.asarray(x).astype(dtype),
                lambda g, ans, x, *, dtype: (g.astype(_dtype(x)),), "astype", reads=())


def astype(x, dtype):
    """Cast to `dtype`; the gradient is cast back. An integer or bool result carries no gradient."""
    return _astype(x, dtype=np.dtype(dtype))


# ---- linear algebra ----------------------------------------------------------------------------
def _swap(a):
    """`a` with its last two axes swapped."""
    return a.transpose(tuple(range(a.ndim - 2)) + (a.ndim - 1, a.ndim - 2))


def matmul_vjp(g, ans, x, y, *, needs):
    """NumPy matmul semantics, 1-D operands included; batch broadcasting is summed by the sweep."""
    nx, ny = np.ndim(_raw(x)), np.ndim(_raw(y))
    gx = gy = None
    if nx == 1 and ny == 1:  # inner product
        gx = g * y if needs[0] else None
        gy = g * x if needs[1] else None
    elif nx == 1:  # (k,) @ (..., k, n) -> (..., n)
        gx = (y @ g[..., None])[..., 0] if needs[0] else None
        gy = x[:, None] * g[..., None, :] if needs[1] else None
    elif ny == 1:  # (..., m, k) @ (k,) -> (..., m)
        gx = g[..., None] * y if needs[0] else None
        gy = (_swap(x) @ g[..., None])[..., 0] if needs[1] else None
    else:
        g = kernels.matmul_operand(g)
        gx = g @ _swap(y) if needs[0] else None
        gy = _swap(x) @ g if needs[1] else None
    return gx, gy


matmul = defop(lambda x, y: np.matmul(kernels.matmul_operand(x), kernels.matmul_operand(y)),
               matmul_vjp, "matmul", broadcasting=True, reads=(0, 1))
matmul.__doc__ = "NumPy's matmul (`x @ y`), batched and 1-D operands included."


def _linear(x, W, b=None):
    x, W, b = np.asarray(x), np.asarray(W), (None if b is None else np.asarray(b))
    if W.ndim != 2 or x.shape[-1:] != W.shape[1:] or (b is not None and b.shape != W.shape[:1]):
        raise ValueError(
            f"linear: x {x.shape} @ W.T + b needs W of shape (n_out, n_in) with n_in = x's last "
            f"axis and b of shape (n_out,); got W {W.shape}, b {None if b is None else np.shape(b)}")
    out = np.matmul(kernels.matmul_operand(x), W.T)
    if b is not None:  # in place on the fresh product unless b promotes the dtype (NumPy's rule)
        out = np.add(out, b, out=out) if np.can_cast(b, out.dtype, "safe") else out + b
    return out


def linear_vjp(g, ans, x, W, b=None, *, needs):
    """gW = gᵀx comes out in W's own layout: no transpose node, no copy into .grad."""
    g = kernels.matmul_operand(g)
    g2 = g if g.ndim == 2 else g.reshape(-1, g.shape[-1])
    gx = g @ W if needs[0] else None
    gW = g2.T @ (x if x.ndim == 2 else x.reshape(-1, x.shape[-1])) if needs[1] else None
    gb = g2.sum(axis=0) if len(needs) > 2 and needs[2] else None
    return (gx, gW, gb)[:len(needs)]


linear = defop(_linear, linear_vjp, "linear", reads=(0, 1))
linear.__doc__ = """linear(x, W, b=None) = x @ W.T + b for W of shape (n_out, n_in) (the lecture's W_j,
PyTorch's layout), x of shape (..., n_in): one fused node instead of transpose, matmul and add."""


def _einsum_parse(subscripts: str, shapes: list[tuple]) -> tuple[list[str], str]:
    """Explicit letter-only subscripts for each operand and the output ('...' expanded)."""
    s = subscripts.replace(" ", "")
    lhs, arrow, out = s.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"einsum: subscripts '{subscripts}' name {len(ins)} operands, got {len(shapes)}")
    spare = [c for c in string.ascii_letters if c not in set(s)]
    n_ell = builtins.max([len(shp) - len(sub.replace("...", ""))
                          for sub, shp in zip(ins, shapes, strict=True) if "..." in sub], default=0)
    ell = "".join(spare[:n_ell])
    ins = [sub.replace("...", ell[n_ell - (len(shp) - len(sub.replace("...", ""))):])
           if "..." in sub else sub for sub, shp in zip(ins, shapes, strict=True)]
    if arrow:
        out = out.replace("...", ell)
    else:  # implicit mode: ellipsis letters, then letters seen once, alphabetically
        counts = {c: "".join(ins).count(c) for c in set("".join(ins))}
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return ins, out


def _einsum(*xs, subscripts):
    big = builtins.sum(np.size(x) for x in xs) > 4096
    return np.einsum(subscripts, *xs, optimize="greedy" if big or len(xs) > 2 else False)


def einsum_vjp(g, ans, *xs, subscripts, needs):
    shapes = [_shape(x) for x in xs]
    ins, out = _einsum_parse(subscripts, shapes)
    size: dict[str, int] = {}  # each letter's size in the computation (size-1 axes broadcast)
    for sub, shape in zip(ins, shapes, strict=True):
        for c, n in zip(sub, shape, strict=True):
            size[c] = n if size.get(c, 1) == 1 else size[c]  # (an empty axis stays 0)
    cots = []
    for i, sub in enumerate(ins):
        if not needs[i]:
            cots.append(None)
            continue
        others = [(s, x) for j, (s, x) in enumerate(zip(ins, xs, strict=True)) if j != i]
        present = set(out).union(*(set(s) for s, _ in others))
        letters = "".join(dict.fromkeys(sub))  # a repeated index ('ii': a diagonal) once
        kept = "".join(c for c in letters if c in present)
        c = _einsum_p(g, *[x for _, x in others], subscripts=",".join([out] + [s for s, _ in others])
                      + "->" + kept)
        if kept != letters or _shape(c) != tuple(size[ch] for ch in kept):
            # letters summed over in operand i alone, or of size 1 wherever else they appear
            c = broadcast_to(c.reshape(tuple(_shape(c)[kept.index(ch)] if ch in kept else 1
                                             for ch in letters)), tuple(size[ch] for ch in letters))
        if letters != sub:
            c = _einsum_diagonal_embed(c, letters, sub, size, _dtype(g))
        cots.append(c)  # at the broadcast sizes: the sweep sums size-1 axes back (broadcasting)
    return tuple(cots)


def _einsum_diagonal_embed(c, letters: str, sub: str, size: dict, dtype):
    """The adjoint of taking a diagonal: `c` (indexed by `letters`) placed on the diagonal of an
    operand indexed by `sub`, zeros elsewhere; each repeat of a letter gets a fresh letter tied
    to the first by an identity matrix."""
    fresh = iter(c for c in string.ascii_letters if c not in sub)
    seen, target, ties = set(), "", []
    for ch in sub:
        if ch in seen:
            k = next(fresh)
            target += k
            ties.append(ch + k)
        else:
            seen.add(ch)
            target += ch
    eyes = [np.eye(size[t[0]], dtype=dtype) for t in ties]
    return _einsum_p(c, *eyes, subscripts=",".join([letters] + ties) + "->" + target)


_einsum_p = defop(_einsum, einsum_vjp, "einsum", broadcasting=True)


def einsum(subscripts, *xs):
    """NumPy's einsum, differentiable in every operand: explicit or implicit mode, '...', repeated
    indices (``einsum('ii->i', a)``, a diagonal), and NumPy's sublist form
    ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` (integers for letters, ``...`` for an ellipsis)."""
    if not isinstance(subscripts, str):
        subscripts, xs = _einsum_sublists((subscripts, *xs))
    return _einsum_p(*xs, subscripts=subscripts)


def _einsum_sublists(args: tuple) -> tuple[str, tuple]:
    """NumPy's sublist form (operand, sublist, operand, sublist, ..., [output]) as subscripts."""
    def letters(sublist) -> str:
        try:
            return "".join("..." if v is Ellipsis else string.ascii_letters[v] for v in sublist)
        except (TypeError, IndexError):
            raise ValueError(f"einsum: a sublist holds integers in [0, 52) or Ellipsis, got "
                             f"{sublist!r}") from None

    xs, subs = args[0:len(args) - len(args) % 2:2], args[1::2]
    out = "->" + letters(args[-1]) if len(args) % 2 else ""
    if len(args) % 2:
        subs = subs[:len(xs)]
    return ",".join(letters(s) for s in subs) + out, xs


# ---- reductions --------------------------------------------------------------------------------
_sum = defop(lambda x, *, axis, keepdims: np.add.reduce(x, axis=axis, keepdims=keepdims),
             lambda g, ans, x, *, axis, keepdims: (
                 broadcast_to(_keep(g, _shape(x), axis, keepdims), _shape(x)),),
             "sum", reads=())


def sum(x, axis=None, keepdims: bool = False):
    """Sum over `axis` (None: all; an int or a tuple), like ``np.sum``."""
    return _sum(x, axis=axis, keepdims=keepdims)


def _count(shape: tuple, axis) -> int:
    """How many numbers a reduction over `axis` combines into each result."""
    return math.prod([shape[a] for a in _axes(axis, len(shape))])


def _mean(x, *, axis, keepdims):
    return np.true_divide(np.add.reduce(x, axis=axis, keepdims=keepdims), _count(np.shape(x), axis))


def mean_vjp(g, ans, x, *, axis, keepdims):
    shape = _shape(x)
    return (broadcast_to(_keep(g / _count(shape, axis), shape, axis, keepdims), shape),)


_mean_p = defop(_mean, mean_vjp, "mean", reads=())  # one node, not sum then divide


def mean(x, axis=None, keepdims: bool = False):
    """Mean over `axis` (None: all; an int or a tuple): ``sum / count``, like ``np.mean``; the mean
    over nothing is NaN (with NumPy's warning)."""
    return _mean_p(x, axis=axis, keepdims=keepdims)


def extremum_vjp(g, ans, x, *, axis, keepdims):
    shape = _shape(x)
    xr, best = _raw(x), _keep(_raw(ans), shape, axis, keepdims)
    winners = xr == best
    if np.isnan(best).any():  # NaN wins (max/min propagate it): its gradient goes there, not 0/0
        winners |= np.isnan(xr) & np.isnan(best)
    winners = winners.astype(_dtype(g))
    share = winners / np.sum(winners, axis=axis, keepdims=True)  # ties share equally
    return (_keep(g, shape, axis, keepdims) * share,)


def _gap_to_best(ans, x, *, axis, keepdims):
    """How far each non-winning element is from the winner (a kink where they would tie)."""
    gap = np.abs(x - _keep(ans, np.shape(x), axis, keepdims))
    return np.where(gap > 0, gap, np.inf)


_max = defop(lambda x, *, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims), extremum_vjp,
             "max", reads=(0,), kinks=_gap_to_best)
_min = defop(lambda x, *, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims), extremum_vjp,
             "min", reads=(0,), kinks=_gap_to_best)


def max(x, axis=None, keepdims: bool = False):
    """Largest element over `axis`; tied maxima share the gradient equally."""
    return _max(x, axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims: bool = False):
    """Smallest element over `axis`; tied minima share the gradient equally."""
    return _min(x, axis=axis, keepdims=keepdims)


def _logsumexp(x, *, axis, keepdims):
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)  # rows of -inf: avoid inf - inf
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m  # subtract max: no overflow
    return out if keepdims else np.squeeze(out, axis=_axes(axis, np.ndim(x)))


def logsumexp_vjp(g, ans, x, *, axis, keepdims):
    shape = _shape(x)
    return (_keep(g, shape, axis, keepdims) * exp(x - _keep(ans, shape, axis, keepdims)),)


_logsumexp_p = defop(_logsumexp, logsumexp_vjp, "logsumexp", reads=(0,))


def logsumexp(x, axis=-1, keepdims: bool = False):
    """log Σ exp(x) over `axis` (-1 by default; None or a tuple like SciPy), stable for any size."""
    return _logsumexp_p(x, axis=axis, keepdims=keepdims)


def _softmax_fwd(x, *, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


_softmax = defop(_softmax_fwd, lambda g, ans, x, *, axis: (
    ans * (g - (g * ans).sum(axis=axis, keepdims=True)),), "softmax", reads=())
_log_softmax = defop(lambda x, *, axis: x - _logsumexp(x, axis=axis, keepdims=True),
                     lambda g, ans, x, *, axis: (g - exp(ans) * g.sum(axis=axis, keepdims=True),),
                     "log_softmax", reads=())


def softmax(x, axis: int = -1):
    """exp(x) / Σ exp(x) along `axis`, stable for any size."""
    return _softmax(x, axis=axis)


def log_softmax(x, axis: int = -1):
    """x − logsumexp(x) along `axis`, stable for any size."""
    return _log_softmax(x, axis=axis)


def _softmax_cross_entropy(u, labels):
    if np.ndim(u) != 2 or np.shape(labels) != (np.shape(u)[0],):
        raise ValueError(f"softmax_cross_entropy: needs logits (N, K) and labels (N,), got "
                         f"{np.shape(u)} and {np.shape(labels)}")
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":  # floats cannot index; bools would select, not index
        raise TypeError(f"softmax_cross_entropy: labels must be integer class indices, got dtype "
                        f"{labels.dtype}")
    k = np.shape(u)[1]
    if labels.size and (labels.min() < 0 or labels.max() >= k):  # -1 would pick the last class
        bad = np.flatnonzero((labels < 0) | (labels >= k))
        raise ValueError(f"softmax_cross_entropy: label {labels[bad[0]]} of sample {bad[0]} is out "
                         f"of range: labels must lie in [0, {k}) for {k} classes (u.shape[1]); "
                         f"{len(bad)} label(s) out of range")
    m = np.max(u, axis=1, keepdims=True)
    shifted = u - np.where(np.isfinite(m), m, 0)  # lse(u) - u_y on shifted logits: no cancellation
    e = np.exp(shifted)
    total = np.sum(e, axis=1, keepdims=True)
    return np.log(total[:, 0]) - shifted[np.arange(len(shifted)), labels], e / total


def softmax_cross_entropy_vjp(g, ans, u, labels, *, saved):
    onehot = np.zeros(np.shape(u), dtype=_dtype(u))
    onehot[np.arange(len(onehot)), _raw(labels)] = 1
    p = saved if saved is not None else softmax(u, axis=1)  # the forward's softmax, when it may
    return g[:, None] * (p - onehot), None


softmax_cross_entropy = defop(_softmax_cross_entropy, softmax_cross_entropy_vjp,
                              "softmax_cross_entropy", reads=(0, 1), saves=True)
softmax_cross_entropy.__doc__ = """Per-sample log Σ_k e^{u_ik} − u_{i,y_i} for logits u (N, K) and
integer labels (N,) in [0, K), stable for logits of any size; one fused node (gradient
softmax(u) − onehot). A label outside [0, K) (e.g. −1, which NumPy indexing would read as the last
class) is a ValueError naming it, non-integer labels a TypeError."""


# ---- shape ops ---------------------------------------------------------------------------------
_reshape = defop(lambda x, *, shape: np.reshape(x, shape),
                 lambda g, ans, x, *, shape: (g.reshape(_shape(x)),), "reshape", reads=())


def reshape(x, shape):
    """NumPy reshape (one dimension may be -1)."""
    return _reshape(x, shape=(shape,) if isinstance(shape, (int, np.integer)) else tuple(shape))


def expand_dims(x, axis):
    """Insert size-1 axes at `axis` (an int or a tuple, positions in the result, like
    ``np.expand_dims``): a reshape."""
    shape = _shape(x)
    nd = len(shape) + (1 if isinstance(axis, (int, np.integer)) else len(axis))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    try:
        new = {int(a) % nd for a in axes if -nd <= a < nd}
    except TypeError:
        raise TypeError(f"expand_dims: axis must be an int or a tuple of ints, got {axis!r}") from None
    if len(new) != len(axes):
        raise ValueError(f"expand_dims: axis {axis!r} is out of range or repeated for a result of "
                         f"{nd} dimensions")
    rest = iter(shape)
    return reshape(x, tuple(1 if i in new else next(rest) for i in range(nd)))


def _inverse(axes: tuple[int, ...]) -> tuple[int, ...]:
    """The permutation that undoes `axes`."""
    inverse = [0] * len(axes)
    for i, a in enumerate(axes):
        inverse[a] = i
    return tuple(inverse)


_transpose = defop(lambda x, *, axes: np.transpose(x, axes),
                   lambda g, ans, x, *, axes: (g.transpose(_inverse(axes)),), "transpose", reads=())


def transpose(x, axes=None):
    """Permute axes like ``np.transpose`` (None reverses them, as ``.T``)."""
    shape = _shape(x)
    nd = len(shape)
    if axes is None:
        return _transpose(x, axes=tuple(range(nd - 1, -1, -1)))
    if builtins.any(not -nd <= int(a) < nd for a in axes):  # no wrap-around
        raise ValueError(f"transpose: axes {tuple(axes)} are out of range for the {nd} axes of "
                         f"shape {shape}")
    axes = tuple(int(a) % builtins.max(nd, 1) for a in axes)
    if sorted(axes) != list(range(nd)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of the {nd} axes of shape "
                         f"{shape}")
    return _transpose(x, axes=axes)


def sum_to(x, shape: tuple):
    """Sum `x` down to `shape` (the reverse of broadcasting `shape` up to x's shape)."""
    xs = _shape(x)
    lead = len(xs) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and xs[lead + i] != 1)
    if axes:  # (the size-1 axes of `shape` come back by the reshape)
        x = x.sum(axis=axes)
    return x.reshape(shape) if x.shape != tuple(shape) else x


_broadcast_to = defop(lambda x, *, shape: np.broadcast_to(x, shape),
                      lambda g, ans, x, *, shape: (sum_to(g, _shape(x)),), "broadcast_to",
                      reads=())


def broadcast_to(x, shape):
    """NumPy's broadcast_to (a read-only view); its VJP sums back to x's shape."""
    if len(shape) < np.ndim(_raw(x)):
        raise ValueError(f"broadcast_to: cannot broadcast shape {_shape(x)} to fewer "
                         f"dimensions {tuple(shape)}")
    return _broadcast_to(x, shape=tuple(shape))


def _scatter_add_fwd(g, *, index, shape):
    out = np.zeros(shape, dtype=np.result_type(g))
    parts = index if isinstance(index, tuple) else (index,)
    if builtins.any(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts):
        np.add.at(out, index, g)  # repeated integer indices accumulate
    else:
        out[index] = g  # slices and masks never repeat a position
    return out


_scatter_add = defop(_scatter_add_fwd, lambda g, ans, x, *, index, shape: (g[index],),
                     "scatter_add", reads=())
_getitem = defop(lambda x, *, index: x[index], lambda g, ans, x, *, index: (
    _scatter_add(g, index=index, shape=_shape(x)),), "getitem", reads=())


def _norm_index(index):
    """Tensors and lists inside an index become arrays (NumPy's fancy indexing)."""
    if isinstance(index, tuple):
        return tuple(_norm_index(i) for i in index)
    if isinstance(index, Tensor):
        index = index.data
    if isinstance(index, np.ndarray):
        return index.copy()  # the VJP scatters with it: a later write by the caller must not matter
    if isinstance(index, list):
        arr = np.asarray(index)
        return arr.astype(np.intp) if arr.size == 0 else arr  # x[[]] is an empty selection
    return index


def getitem(x, index):
    """``x[index]``: basic slices (negative steps too), integers, None, Ellipsis, boolean masks and
    integer arrays; repeated integer indices accumulate in backward (``np.add.at``)."""
    return _getitem(x, index=_norm_index(index))


def concatenate_vjp(g, ans, *xs, axis):
    edges = np.cumsum([0] + [_shape(x)[axis] for x in xs])
    pre = (slice(None),) * (axis % ans.ndim)
    return tuple(g[pre + (slice(int(a), int(b)),)] for a, b in itertools.pairwise(edges))


_concatenate = defop(lambda *xs, axis: np.concatenate(xs, axis=axis), concatenate_vjp, "concatenate",
                     reads=())


def concatenate(xs, axis: int | None = 0):
    """Join a sequence of arrays along an existing axis (``np.concatenate``; ``axis=None``
    flattens them first)."""
    if axis is None:
        return _concatenate(*[reshape(x, (-1,)) for x in xs], axis=0)
    return _concatenate(*xs, axis=axis)


_stack = defop(lambda *xs, axis: np.stack(xs, axis=axis), lambda g, ans, *xs, axis: tuple(
    g[(slice(None),) * (axis % ans.ndim) + (i,)] for i in range(len(xs))),
    "stack", reads=())


def stack(xs, axis: int = 0):
    """Join a sequence of same-shape arrays along a new axis (``np.stack``)."""
    return _stack(*xs, axis=axis)


def _pad_fwd(x, *, pad_width, mode="constant", constant_values=0):
    x = np.asarray(x)
    if mode != "constant" or constant_values != 0:
        fill = {"constant_values": constant_values} if mode == "constant" else {}
        return np.pad(x, pad_width, mode=mode, **fill)
    out = np.zeros(tuple(n + b + a for n, (b, a) in zip(x.shape, pad_width, strict=True)), dtype=x.dtype)
    out[tuple(slice(b, b + n) for n, (b, _) in zip(x.shape, pad_width, strict=True))] = x
    return out


def _pad_source(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """For each position of an axis of length n padded by `mode` ("edge", "reflect"), the position
    it copies: NumPy's own padding of 0..n-1, so widths past the axis follow NumPy's rules."""
    return np.pad(np.arange(n), (before, after), mode=mode)


def pad_vjp(g, ans, x, *, pad_width, mode="constant", constant_values=0):
    shape = _shape(x)
    if mode == "constant":  # the fill is constant: the cotangent of x is the middle
        return (g[tuple(slice(b, b + n) for (b, _), n in zip(pad_width, shape, strict=True))],)
    # edge/reflect copy positions of x: axis by axis, the copies' cotangents add onto their sources
    for k, ((b, a), n) in enumerate(zip(pad_width, shape, strict=True)):
        if b or a:
            g = _scatter_add(g, index=(slice(None),) * k + (_pad_source(n, b, a, mode),),
                             shape=shape[:k + 1] + _shape(g)[k + 1:])
    return (g,)


_pad = defop(_pad_fwd, pad_vjp, "pad", reads=())
_PAD_MODES = ("constant", "edge", "reflect")


def pad(x, pad_width, mode: str = "constant", constant_values=0):
    """Pad with NumPy's per-axis ``(before, after)`` pairs (an int or one pair applies to every
    axis), like ``np.pad``. Modes: "constant" fills with `constant_values` (a number or NumPy's
    per-axis pairs; constants, not differentiated), "edge" repeats the edge value, "reflect"
    mirrors about the edge without repeating it (NumPy's default ``reflect_type="even"``); widths
    past the axis follow NumPy's rules. The VJP of "edge" and "reflect" adds the cotangent of
    every padded copy onto the position it copies."""
    nd = np.ndim(_raw(x))
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode {mode!r} is not supported; supported modes: "
                         f"{', '.join(map(repr, _PAD_MODES))}")
    try:
        pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (nd, 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit an array of {nd} dimensions; "
                         "give one (before, after) pair per axis") from None
    if (pw < 0).any():
        raise ValueError(f"pad: pad_width {pad_width!r} has negative entries")
    pad_width = tuple((int(b), int(a)) for b, a in pw)
    if mode != "constant":
        if np.any(np.asarray(_raw(constant_values)) != 0):
            raise ValueError(f"pad: constant_values applies to mode='constant' only, not {mode!r}")
        empty = [k for k, (n, (b, a)) in enumerate(zip(_shape(x), pad_width, strict=True))
                 if n == 0 and b + a]
        if empty:
            raise ValueError(f"pad: cannot pad the empty axis {empty[0]} of shape {_shape(x)} with mode "
                             f"{mode!r} (there is nothing to copy); use mode='constant'")
        return _pad(x, pad_width=pad_width, mode=mode)
    if isinstance(constant_values, Tensor) and constant_values.requires_grad:
        raise TypeError("pad: constant_values requires grad, but pad's fill values are constants; "
                        "pad with zeros and add a differentiable fill instead")
    try:
        fill = np.broadcast_to(np.asarray(_raw(constant_values)), (nd, 2))
    except ValueError:
        raise ValueError(f"pad: constant_values {constant_values!r} does not fit an array of {nd} "
                         "dimensions; give a number or one (before, after) pair per axis") from None
    fill = 0 if not fill.any() else tuple((b.item(), a.item()) for b, a in fill)
    return _pad(x, pad_width=pad_width, mode=mode, constant_values=fill)


# ---- windows, pooling, convolution: kernels (kernels.py) wrapped as adjoint pairs --------------
_sliding_window = defop(kernels.sliding_window, lambda g, ans, x, *, size, stride: (
    _sliding_window_transpose(g, shape=_shape(x), size=size, stride=stride),),
    "sliding_window", reads=())
_sliding_window_transpose = defop(
    kernels.sliding_window_transpose,
    lambda g, ans, x, *, shape, size, stride: (_sliding_window(g, size=size, stride=stride),),
    "sliding_window_transpose", reads=())


def _window_size_stride(what: str, x, size, stride) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Normalize and check `size`/`stride` (ints or tuples) against the input's trailing axes."""
    size = (int(size),) if isinstance(size, (int, np.integer)) else tuple(int(s) for s in size)
    stride = size if stride is None else stride
    stride = ((int(stride),) * len(size) if isinstance(stride, (int, np.integer))
              else tuple(int(s) for s in stride))
    shape = _shape(x)
    if len(stride) != len(size) or len(size) > len(shape):
        raise ValueError(f"{what}: size {size} and stride {stride} do not fit input shape {shape}")
    too_big = builtins.any(k < 1 or k > n for k, n in zip(size, shape[-len(size):], strict=True))
    if too_big or builtins.min(stride, default=1) < 1:
        raise ValueError(f"{what}: window {size} (stride {stride}) does not fit input shape {shape}")
    return size, stride


def sliding_window(x, size, stride=1):
    """Windows over the last ``len(size)`` axes: shape ``x.shape[:-k] + out + size`` with
    ``out[i] = (n_i - size_i) // stride_i + 1``. A read-only view in the forward (no copy); the
    VJP adds each window's cotangent back (one strided add per window offset, not per pixel).
    """
    size, stride = _window_size_stride("sliding_window", x, size, stride)
    return _sliding_window(x, size=size, stride=stride)


_avg_pool = defop(kernels.avg_pool, lambda g, ans, x, *, size, stride: (
    _avg_pool_transpose(g, shape=_shape(x), size=size, stride=stride),), "avg_pool", reads=())
_avg_pool_transpose = defop(kernels.avg_pool_transpose, lambda g, ans, x, *, shape, size, stride: (
    _avg_pool(g, size=size, stride=stride),), "avg_pool_transpose", reads=())


def avg_pool(x, size, stride=None):
    """Mean over windows of the last ``len(size)`` axes (average pooling): shape
    ``x.shape[:-k] + out`` with ``out[i] = (n_i - size_i) // stride_i + 1``; `stride` defaults
    to `size` (non-overlapping windows, PyTorch's default), no padding, floor mode. The same as
    ``mean(sliding_window(x, size, stride), axis=(-k, ..., -1))``."""
    size, stride = _window_size_stride("avg_pool", x, size, stride)
    return _avg_pool(x, size=size, stride=stride)


_im2col = defop(kernels.im2col, lambda g, ans, x, *, geom: (_col2im(g, geom=geom),), "im2col", reads=())
_col2im = defop(kernels.col2im, lambda g, ans, x, *, geom: (_im2col(g, geom=geom),), "col2im", reads=())


def _conv2d(x, W, b=None, *, stride, padding):
    """(output, cols): the columns are saved for the VJP's gW (Note [conv2d layout])."""
    x, W = np.asarray(x), np.asarray(W)
    geom = kernels.conv_geometry(x.shape, W.shape, stride, padding)
    cols = kernels.im2col(x, geom)
    out = np.matmul(W.reshape(geom.o, -1), cols)  # (N, O, L), fresh
    if b is not None:  # in place unless b promotes the dtype (NumPy's rule)
        b = np.reshape(b, (geom.o, 1))
        out = np.add(out, b, out=out) if np.result_type(out, b) == out.dtype else out + b
    out = out.reshape((geom.n, geom.o) + geom.grid)
    return (np.ascontiguousarray(out[..., :geom.out[1]]) if geom.flat else out), cols  # junk cropped


def conv2d_vjp(g, ans, x, W, b=None, *, stride, padding, needs, saved):
    geom = kernels.conv_geometry(_shape(x), _shape(W), stride, padding)
    (n, o), grid = (geom.n, geom.o), geom.grid
    gL = g if not geom.flat else _pad(  # the grid's junk columns (Note [conv2d layout]) get 0
        g, pad_width=((0, 0), (0, 0), (0, 0), (0, grid[1] - geom.out[1])))
    gL = gL.reshape(n, o, grid[0] * grid[1])
    gx = _col2im(W.reshape(o, -1).T @ gL, geom=geom) if needs[0] else None
    gW = None
    if needs[1]:
        cols = saved if saved is not None else _im2col(x, geom=geom)  # Primitive's `saves`
        gW = (gL @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(_shape(W))
    # the batch axis first, then the pixels: one reduction over (0, 2, 3) strides badly
    gb = g.sum(axis=0).reshape(o, -1).sum(axis=1) if len(needs) > 2 and needs[2] else None
    return (gx, gW, gb)[:len(needs)]


_conv2d_p = defop(_conv2d, conv2d_vjp, "conv2d", reads=(0, 1), saves=True)


def conv2d(x, W, b=None, stride=1, padding=0):
    """2-D cross-correlation of NCHW `x` with kernel `W` ``(c_out, c_in, kh, kw)`` plus bias `b`
    ``(c_out,)`` (PyTorch's ``F.conv2d``): ``out[n, o, h, w] = b[o] + Σ_{c,i,j} W[o, c, i, j] ·
    xp[n, c, h·s_h + i, w·s_w + j]`` with ``xp`` zero-padded by `padding`; output
    ``(N, c_out, (H + 2p_h − kh)//s_h + 1, (W + 2p_w − kw)//s_w + 1)``. `stride` and `padding`
    are an int or an ``(h, w)`` pair. One node: im2col and one batched matmul forward, one more
    matmul per needed gradient and col2im backward (Note [conv2d layout] in kernels.py)."""
    pairs = []
    for name, v, low in (("stride", stride, 1), ("padding", padding, 0)):
        pair = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
        if len(pair) != 2 or not builtins.all(isinstance(p, (int, np.integer)) and not isinstance(p, bool)
                                               for p in pair) or builtins.min(pair) < low:
            raise ValueError(f"conv2d: {name} must be an int >= {low} or a pair of them, got {v!r}")
        pairs.append((int(pair[0]), int(pair[1])))
    xs, ws = _shape(x), _shape(W)
    if len(xs) != 4 or len(ws) != 4 or xs[1] != ws[1]:
        raise ValueError(f"conv2d: x must be (N, C, H, W) and W (c_out, C, kh, kw) with the same C; "
                         f"got x {xs}, W {ws}")
    if b is not None and _shape(b) != ws[:1]:
        raise ValueError(f"conv2d: b must have shape ({ws[0]},) (one bias per output channel), "
                         f"got {_shape(b)}")
    (ph, pw) = pairs[1]
    if xs[2] + 2 * ph < ws[2] or xs[3] + 2 * pw < ws[3]:
        raise ValueError(f"conv2d: input of spatial size {xs[2:]} with padding {pairs[1]} is smaller "
                         f"than the kernel {ws[2:]}")
    args = (x, W) if b is None else (x, W, b)
    return _conv2d_p(*args, stride=pairs[0], padding=pairs[1])


_identity = defop(lambda x: x, lambda g, ans, x: (g,), "identity", reads=())


# ---- Tensor's operators and methods, attached once the rules exist (as HIPS's numpy_boxes.py) --
def _compare(ufunc, x: Tensor, y) -> Tensor:
    """A bool Tensor with no gradient."""
    return Tensor._of(ufunc(x.data, _raw(y)))


class _TensorMethods:
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    def _no_inplace(self, *_):
        raise TypeError(
            "in-place operators (+=, -=, *=, /=, x[i] = v) are not supported on Tensors: they "
            "would change data recorded for backward. Write `x = x + y`, or rebind `x.data = ...` "
            "under no_grad for parameters")

    __iadd__ = __isub__ = __imul__ = __itruediv__ = __ipow__ = __imatmul__ = _no_inplace
    __setitem__ = _no_inplace

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shares memory, like ``torch.Tensor.numpy``)."""
        return self.data

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError(f"item(): only a one-element Tensor converts to a scalar, got shape "
                             f"{self.shape}")
        return self.data.item()

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """``np.asarray(t)``, ``np.array(t)``: the data, with no gradient. Refused (TypeError) for
        a Tensor that requires grad while recording is on, as PyTorch and JAX refuse it: NumPy
        calls this for the Tensors inside ``np.array([x, y])``, ``np.mean([x, x + 2])`` or
        ``a[i] = x`` too, where the gradient would be silently lost (Note [no silent gradient
        loss] in numpy_dispatch.py). The explicit ways to the values are ``t.data``, ``t.numpy()``
        and ``t.detach()``; under ``ag.no_grad()`` it converts."""
        if self.requires_grad and local.recording.enabled:
            raise TypeError(
                f"a Tensor that requires grad (shape {self.data.shape}) was converted to a NumPy array, "
                "which would drop its gradient (np.array/np.asarray of it, or of a list holding it, "
                "or an array assignment a[i] = t). Inside a computation build arrays with ag.array "
                "or ag.stack; for the values as a constant use t.data, t.numpy() or t.detach()")
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d Tensor")
        return len(self.data)

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d Tensor")
        return (self[i] for i in range(len(self.data)))

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        op = f", op={self._node.op}" if self._node is not None else ""
        return f"tensor({body}, dtype={self.data.dtype}{extra}{op})"

    def __add__(self, other): return add(self, other)
    def __radd__(self, other): return add(other, self)
    def __sub__(self, other): return subtract(self, other)
    def __rsub__(self, other): return subtract(other, self)
    def __mul__(self, other): return multiply(self, other)
    def __rmul__(self, other): return multiply(other, self)
    def __truediv__(self, other): return divide(self, other)
    def __rtruediv__(self, other): return divide(other, self)
    def __pow__(self, other): return power(self, other)
    def __rpow__(self, other): return power(other, self)
    def __matmul__(self, other): return matmul(self, other)
    def __rmatmul__(self, other): return matmul(other, self)
    def __neg__(self): return negative(self)
    def __pos__(self): return self
    def __getitem__(self, index): return getitem(self, index)
    def __lt__(self, other): return _compare(np.less, self, other)
    def __le__(self, other): return _compare(np.less_equal, self, other)
    def __gt__(self, other): return _compare(np.greater, self, other)
    def __ge__(self, other): return _compare(np.greater_equal, self, other)
    def __eq__(self, other): return _compare(np.equal, self, other)
    def __ne__(self, other): return _compare(np.not_equal, self, other)

    @property
    def T(self):
        """The transpose with all axes reversed (NumPy's ``.T``)."""
        return transpose(self)

    def sum(self, axis=None, keepdims=False): return sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return mean(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return min(self, axis, keepdims)
    def exp(self): return exp(self)
    def log(self): return log(self)
    def sqrt(self): return sqrt(self)
    def abs(self): return abs(self)
    def tanh(self): return tanh(self)
    def sigmoid(self): return sigmoid(self)
    def relu(self): return relu(self)
    def clip(self, lo=None, hi=None): return clip(self, lo, hi)
    def astype(self, dtype): return astype(self, dtype)

    def reshape(self, *shape):
        return reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes):
        if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
            axes = axes[0]  # t.transpose((1, 0)) or t.transpose(None); t.transpose(0) is axes (0,)
        return transpose(self, axes=None if axes is None or len(axes) == 0 else axes)


attach_methods(_TensorMethods)

# The public ops (every primitive or function defined above, but for rules `*_vjp` and names with
# a leading underscore) and every primitive by op name (each needs a row in tests/op_cases.py).
__all__, PRIMITIVES = rule_table(globals(), __name__)

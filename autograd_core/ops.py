"""THE rule table: every built-in op's NumPy forward and its vector-Jacobian product.

Rules read like the math: `g` is the cotangent of the output `ans`, then the forward's inputs,
then static parameters by keyword. They return one cotangent per input (None for none).

Rules are written with the functions of this file and Tensor operators, so the same rule runs on
plain arrays in a first-order sweep (NumPy speed, nothing recorded) and on Tensors in a
`create_graph` sweep (recorded, so it can be differentiated again). Masks at kinks are computed on
the raw data (`_raw`): they are constants whose derivative is zero.

Note [broadcasting]: rules ignore broadcasting. Primitives declared `broadcasting=True` may return
a cotangent of the (broadcast) output's shape; the sweep sums it back to the input's shape once.

Kinks (any valid subgradient is allowed; these are the ones returned):
- relu'(0) = 0; abs'(0) = 0 (sign); clip passes the gradient at a bound (lo <= x <= hi);
- max/min reductions share the gradient equally among tied maxima (like `torch.amax`);
- maximum/minimum give each of two tied inputs half.
"""

from __future__ import annotations

import builtins
import functools
import itertools
import math
import string

import numpy as np

from .fpstate import quiet_overflow, restore
from .primitive import Primitive, defop
from .tensor import Tensor


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def _dtype(x) -> np.dtype:
    return x.dtype if hasattr(x, "dtype") else np.result_type(x)


def _axes(axis, ndim: int) -> tuple[int, ...]:
    """Normalized, sorted reduction axes (None means all)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of bounds for an array of dimension {ndim}")
        out.append(int(a) % builtins.max(ndim, 1))
    return tuple(sorted(out))


def _keep(g, shape: tuple, axis, keepdims: bool):
    """Reshape a reduction's cotangent so it broadcasts against the input (keepdims form)."""
    if keepdims:
        return g
    axes = _axes(axis, len(shape))
    return reshape(g, tuple(1 if i in axes else n for i, n in enumerate(shape)))


# ---- elementwise arithmetic (broadcasting) -----------------------------------------------------
add      = defop(np.add,      lambda g, ans, x, y: (g, g),         "add",      broadcasting=True, reads=())
subtract = defop(np.subtract, lambda g, ans, x, y: (g, -g),        "subtract", broadcasting=True, reads=())
negative = defop(np.negative, lambda g, ans, x: (-g,),             "negative", reads=())


def multiply_vjp(g, ans, x, y, *, needs):
    return (g * y if needs[0] else None), (g * x if needs[1] else None)


def divide_vjp(g, ans, x, y, *, needs):
    return (g / y if needs[0] else None), (-g * ans / y if needs[1] else None)


multiply = defop(np.multiply, multiply_vjp, "multiply", broadcasting=True, reads=(0, 1))
divide   = defop(np.divide,   divide_vjp,   "divide",   broadcasting=True, reads=(1,))


def power_vjp(g, ans, x, y, *, needs):
    # at y = 0 the x-gradient is 0 (not 0 * x**-1 = nan at x = 0); at x = 0 the y-gradient is 0
    # (the limit of x**y log x for y > 0), as in PyTorch and JAX
    gx = gy = None
    if needs[0]:
        y0 = _raw(y) == 0
        gx = g * y * x ** (where(y0, 1, y - 1) if np.any(y0) else y - 1)
    if needs[1]:
        x0 = _raw(x) == 0
        gy = g * log(where(x0, 1, x) if np.any(x0) else x) * ans  # log(x) only when y needs it
    return gx, gy


power = defop(np.power, power_vjp, "power", broadcasting=True)

# ---- elementwise functions ---------------------------------------------------------------------
exp  = defop(np.exp,  lambda g, ans, x: (g * ans,),               "exp",  reads=())
log  = defop(np.log,  lambda g, ans, x: (g / x,),                 "log",  reads=(0,))
sqrt = defop(np.sqrt, lambda g, ans, x: (g / (ans * 2),),         "sqrt", reads=())
tanh = defop(np.tanh, lambda g, ans, x: (g * (1 - ans * ans),),   "tanh", reads=())
sign = defop(np.sign, lambda g, ans, x: (None,),                  "sign", reads=())  # 0 a.e.
abs  = defop(np.abs,  lambda g, ans, x: (g * np.sign(_raw(x)),),  "abs",  reads=(0,))


# Note [constant operands]: NumPy's `maximum` has a SIMD loop for two contiguous arrays but not
# for an array and a scalar: np.maximum(x, 0) takes 3.8 µs on a (64, 128) float32 array, against
# an equally shaped array of zeros 1.7 µs (49 -> 19 µs on W4's first conv output); and every
# Python-scalar operand costs a conversion (1 + e: 0.95 µs on (32, 64), ones + e: 0.67 µs). So
# relu and sigmoid take their constants from `_filled`: one read-only array per (shape, dtype,
# value), for arrays of up to 2^18 elements (beyond that the ops are memory-bound and the copy
# would only cost memory), at most 16 MiB in all (then the cache starts afresh). The results are
# bitwise those of the scalar forms, -0.0, NaN and ±inf included (tested).
_FILLED: dict[tuple, np.ndarray] = {}
_FILLED_MAX_SIZE = 1 << 18  # elements per array
_FILLED_MAX_BYTES = 16 << 20  # all arrays together


def _filled(x, value):
    """A read-only array of `value` with x's shape and dtype, or `value` itself where x is not an
    ndarray or is large (Note [constant operands])."""
    if type(x) is not np.ndarray or x.size > _FILLED_MAX_SIZE:
        return value
    key = (x.shape, x.dtype, value)
    c = _FILLED.get(key)
    if c is None:
        # (a snapshot: another thread may add an entry meanwhile; a new shape is rare in
        # training, so this runs about once per shape)
        if builtins.sum(a.nbytes for a in tuple(_FILLED.values())) + x.nbytes > _FILLED_MAX_BYTES:
            _FILLED.clear()
        c = np.full(x.shape, value, x.dtype)
        c.setflags(False)
        _FILLED[key] = c
    return c


def _relu(x):
    return np.maximum(x, _filled(x, 0))


def relu_vjp(g, ans, x):
    # the mask from the output: ans > 0 exactly where x > 0, and ans is saved anyway; cast first
    # (float x float is ~10% faster than float x bool), then multiplied in place into the cast
    # copy in a first-order sweep (one temporary less: another ~10%)
    if type(g) is np.ndarray and type(ans) is np.ndarray:
        m = (ans > 0).astype(g.dtype)
        m *= g
        return (m,)
    return (g * (_raw(ans) > 0).astype(g.dtype),)  # create_graph: g is a Tensor


relu = defop(_relu, relu_vjp, "relu", reads=())


def _sigmoid(x):
    # 1/(1 + e^{-x}) has relative error of a few ulp everywhere: for x << 0, e^{-x} overflows to
    # inf and the quotient is the correct limit 0 (the overflow is expected, so not reported).
    # Four ufuncs; the where-based two-branch form takes seven. (Note [quiet overflow])
    token = quiet_overflow()
    try:
        e = np.exp(np.negative(x))
        one = _filled(e, 1)  # (Note [constant operands]; in place on our own temporary)
        e += one
        return np.divide(one, e, out=e) if e.ndim else one / e
    finally:
        restore(token)


def sigmoid_vjp(g, ans, x):
    # σ'(x) = σ(x)·σ(-x), with σ(-x) computed from x: the textbook σ·(1 − σ) loses all relative
    # precision once σ rounds to 1 (x ≳ 17 in float32), this form keeps it on both sides
    if type(x) is np.ndarray:  # first order: three more ufuncs than the forward's output
        token = quiet_overflow()
        try:
            d = np.exp(x)
            d += _filled(d, 1)  # (in place on our own temporaries, Note [constant operands])
            r = g * ans
            r /= d
            return (r,)
        finally:
            restore(token)
    return (g * ans * sigmoid(negative(x)),)  # differentiable again (create_graph)


sigmoid = defop(_sigmoid, sigmoid_vjp, "sigmoid", reads=(0,))  # ans is read too: outputs are read-only


def _clip(x, *, lo, hi):
    if lo is None and hi is None:
        return np.array(x, copy=True)
    return np.clip(x, lo, hi)


def clip_vjp(g, ans, x, *, lo, hi):
    xr = _raw(x)
    inside = np.ones(np.shape(xr), dtype=bool)
    if lo is not None:
        inside &= xr >= _raw(lo)
    if hi is not None:
        inside &= xr <= _raw(hi)
    return (g * inside,)


_clip_p = defop(_clip, clip_vjp, "clip", reads=(0,))


def clip(x, lo=None, hi=None):
    """Elementwise clip to [lo, hi]; either bound may be None. The gradient passes where
    lo <= x <= hi (bounds included, like ``torch.clamp``). Bounds are constants: for a
    differentiable bound use `maximum`/`minimum`; bounds may not broadcast x to a bigger shape."""
    for name, b in (("lo", lo), ("hi", hi)):
        if isinstance(b, Tensor) and b.requires_grad:
            raise TypeError(f"clip: bound {name} requires grad, but clip's bounds are constants; "
                            "use ag.maximum(x, lo) / ag.minimum(x, hi) for a differentiable bound")
    xs = np.shape(_raw(x))
    shapes = [np.shape(_raw(b)) for b in (lo, hi) if b is not None]
    if shapes and np.broadcast_shapes(xs, *shapes) != xs:
        raise ValueError(f"clip: bounds of shapes {shapes} would broadcast x of shape {xs} to "
                         f"{np.broadcast_shapes(xs, *shapes)}; clip keeps x's shape")
    # bounds are copied: the VJP's mask reads them, and a later write by the caller must not matter
    lo, hi = (np.array(_raw(b)) if isinstance(_raw(b), np.ndarray) else _raw(b) for b in (lo, hi))
    return _clip_p(x, lo=lo, hi=hi)


def where_vjp(g, ans, cond, x, y):
    c = _raw(cond)
    return None, where(c, g, 0), where(c, 0, g)


where = defop(np.where, where_vjp, "where", broadcasting=True, reads=(0,))
where.__doc__ = "where(cond, x, y): x where cond is true, else y (NumPy broadcasting)."


def _tie_mask(a, b, dtype):
    """1 where a wins, 1/2 on ties, 0 elsewhere (as `dtype`)."""
    return (a > b).astype(dtype) + (a == b).astype(dtype) * 0.5


def maximum_vjp(g, ans, x, y):
    xr, yr = _raw(x), _raw(y)
    m = _tie_mask(xr, yr, _dtype(g))
    return g * m, g * (1 - m)


def minimum_vjp(g, ans, x, y):
    xr, yr = _raw(x), _raw(y)
    m = _tie_mask(yr, xr, _dtype(g))  # 1 where x is the smaller (y > x), 1/2 on ties
    return g * m, g * (1 - m)


maximum = defop(np.maximum, maximum_vjp, "maximum", broadcasting=True, reads=(0, 1))
minimum = defop(np.minimum, minimum_vjp, "minimum", broadcasting=True, reads=(0, 1))


def _astype(x, *, dtype):
    return np.asarray(x).astype(dtype)


_astype_p = defop(_astype, lambda g, ans, x, *, dtype: (astype(g, _dtype(x)),), "astype", reads=())


def astype(x, dtype):
    """Cast to `dtype`; the gradient is cast back. An integer or bool result carries no gradient."""
    return _astype_p(x, dtype=np.dtype(dtype))

# ---- linear algebra ----------------------------------------------------------------------------


def _swap(a):
    return transpose(a, axes=tuple(range(a.ndim - 2)) + (a.ndim - 1, a.ndim - 2))


def matmul_vjp(g, ans, x, y, *, needs):
    """NumPy matmul semantics, 1-D operands included; batch broadcasting is summed by the sweep."""
    g = _blas(g)
    if type(g) is np.ndarray and g.ndim == 2 and type(x) is np.ndarray and type(y) is np.ndarray \
            and x.ndim == 2 and y.ndim == 2:  # first order, 2-D (`x @ W.T`): NumPy directly
        return (g @ y.T if needs[0] else None), (x.T @ g if needs[1] else None)
    nx, ny = np.ndim(_raw(x)), np.ndim(_raw(y))
    gx = gy = None
    if nx == 1 and ny == 1:  # inner product
        gx = g * y if needs[0] else None
        gy = g * x if needs[1] else None
    elif nx == 1:  # (k,) @ (..., k, n) -> (..., n)
        if needs[0]:
            gx = reshape(matmul(y, expand_dims(g, -1)), g.shape[:-1] + (y.shape[-2],))
        if needs[1]:
            gy = expand_dims(x, -1) * expand_dims(g, -2)
    elif ny == 1:  # (..., m, k) @ (k,) -> (..., m)
        if needs[0]:
            gx = expand_dims(g, -1) * y
        if needs[1]:
            gy = reshape(matmul(_swap(x), expand_dims(g, -1)), g.shape[:-1] + (x.shape[-1],))
    else:
        gx = matmul(g, _swap(y)) if needs[0] else None
        gy = matmul(_swap(x), g) if needs[1] else None
    return gx, gy


matmul = defop(np.matmul, matmul_vjp, "matmul", broadcasting=True, reads=(0, 1))


def _blas(a):
    """NumPy's matmul takes the BLAS path only for arrays with one contiguous axis; anything
    else (e.g. a cotangent through a transposed view) falls to a loop that is ~100x slower."""
    if type(a) is np.ndarray and a.ndim >= 2 and not (a.flags.c_contiguous or a.flags.f_contiguous):
        return np.ascontiguousarray(a)
    return a


def _linear(x, W, b=None):
    if type(x) is not np.ndarray or type(W) is not np.ndarray:
        x, W = np.asarray(x), np.asarray(W)
    if not (x.flags.c_contiguous or x.flags.f_contiguous):
        x = _blas(x)
    wshape = W.shape
    if len(wshape) != 2 or x.shape[-1:] != wshape[1:] or (
            b is not None and (type(b) is not np.ndarray or b.shape != wshape[:1])
            and np.shape(b) != wshape[:1]):
        raise ValueError(
            f"linear: x {np.shape(x)} @ W.T + b needs W of shape (n_out, n_in) with n_in = x's last "
            f"axis and b of shape (n_out,); got W {np.shape(W)}, b {None if b is None else np.shape(b)}")
    out = np.matmul(x, W.T)
    if b is not None:
        out += b  # in place: `out` is a fresh array
    return out


def linear_vjp(g, ans, x, W, b=None, *, needs):
    """gW = gᵀx comes out contiguous in W's own layout: no transpose node, no copy into .grad."""
    n_inputs = len(needs)  # 2 when called as linear(x, W)
    if n_inputs != 3:
        needs = tuple(needs) + (False,) * (3 - n_inputs)
    if type(g) is np.ndarray and g.ndim == 2 and type(x) is np.ndarray:  # first order, 2-D: NumPy
        if not (g.flags.c_contiguous or g.flags.f_contiguous):
            g = np.ascontiguousarray(g)  # (see _blas)
        gx = (g @ W) if needs[0] else None
        gW = (g.T @ _blas(x)) if needs[1] else None
        gb = np.add.reduce(g, 0) if needs[2] else None  # (ndarray.sum goes through Python)
        return (gx, gW, gb)[:n_inputs]
    g = _blas(g)
    gx = matmul(g, W) if needs[0] else None
    gW = gb = None
    if needs[1] or needs[2]:
        g2 = reshape(g, (-1, g.shape[-1])) if g.ndim != 2 else g
        if needs[1]:
            x2 = reshape(x, (-1, x.shape[-1])) if x.ndim != 2 else x
            gW = matmul(transpose(g2), x2)
        if needs[2]:
            gb = sum(g2, axis=0)
    return (gx, gW, gb)[:n_inputs]


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
    used = set(s) - set(".,->")
    spare = [c for c in string.ascii_letters if c not in used]
    n_ell = builtins.max(
        [len(shp) - len(sub.replace("...", ""))
         for sub, shp in zip(ins, shapes, strict=True) if "..." in sub],
        default=0,
    )
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
    ins, out = _einsum_parse(subscripts, [np.shape(_raw(x)) for x in xs])
    cots = []
    for i, sub in enumerate(ins):
        if not needs[i]:
            cots.append(None)
            continue
        if len(set(sub)) != len(sub):
            raise NotImplementedError(
                f"einsum: the gradient for operand {i} with a repeated index ('{sub}', a "
                "diagonal) is not supported; take the diagonal explicitly instead"
            )
        others = [(s, x) for j, (s, x) in enumerate(zip(ins, xs, strict=True)) if j != i]
        present = set(out).union(*(set(s) for s, _ in others))
        kept = "".join(c for c in sub if c in present)
        spec = ",".join([out] + [s for s, _ in others]) + "->" + kept
        c = _einsum_p(g, *[x for _, x in others], subscripts=spec)
        if kept != sub:  # letters summed over in operand i alone: broadcast back
            shape = np.shape(_raw(xs[i]))
            kept_shape = tuple(n if ch in kept else 1 for ch, n in zip(sub, shape, strict=True))
            c = broadcast_to(reshape(c, kept_shape), shape)
        cots.append(c)
    return tuple(cots)


_einsum_p = defop(_einsum, einsum_vjp, "einsum", broadcasting=True)


def einsum(subscripts: str, *xs):
    """NumPy's einsum (explicit or implicit mode, '...' allowed), differentiable in every operand
    except one with a repeated index (a diagonal), which raises NotImplementedError."""
    return _einsum_p(*xs, subscripts=subscripts)


# ---- reductions --------------------------------------------------------------------------------


def sum_vjp(g, ans, x, *, axis, keepdims):
    return (broadcast_to(_keep(g, np.shape(_raw(x)), axis, keepdims), np.shape(_raw(x))),)


_sum_p = defop(lambda x, *, axis, keepdims: np.add.reduce(x, axis=axis, keepdims=keepdims), sum_vjp, "sum",
               reads=())


def sum(x, axis=None, keepdims: bool = False):
    """Sum over `axis` (None: all; an int or a tuple), like ``np.sum``."""
    if type(x) is np.ndarray:  # inside a first-order VJP: straight to NumPy
        return np.add.reduce(x, axis=axis, keepdims=keepdims)
    return _sum_p(x, axis=axis, keepdims=keepdims)


def _count(shape: tuple, axis) -> int:
    """How many numbers a reduction over `axis` combines into each result."""
    return math.prod([shape[a] for a in _axes(axis, len(shape))])


def _mean(x, *, axis, keepdims):
    return np.true_divide(np.add.reduce(x, axis=axis, keepdims=keepdims), _count(np.shape(x), axis))


def mean_vjp(g, ans, x, *, axis, keepdims):
    shape = np.shape(_raw(x))
    return (broadcast_to(_keep(g / _count(shape, axis), shape, axis, keepdims), shape),)


# one node, not sum then divide: every mean-reduced loss ends in it
_mean_p = defop(_mean, mean_vjp, "mean", reads=())


def mean(x, axis=None, keepdims: bool = False):
    """Mean over `axis` (None: all; an int or a tuple): ``sum / count``, like ``np.mean``; the mean
    over nothing is NaN (with NumPy's warning)."""
    return _mean_p(x, axis=axis, keepdims=keepdims)


def extremum_vjp(g, ans, x, *, axis, keepdims):
    shape = np.shape(_raw(x))
    xr, best = _raw(x), _keep(_raw(ans), shape, axis, keepdims)
    winners = xr == best
    if np.isnan(best).any():  # NaN wins (max/min propagate it): its gradient goes there, not 0/0
        winners |= np.isnan(xr) & np.isnan(best)
    winners = winners.astype(_dtype(g))
    share = winners / np.sum(winners, axis=axis, keepdims=True)  # ties share equally
    return (_keep(g, shape, axis, keepdims) * share,)


_max_p = defop(lambda x, *, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims), extremum_vjp, "max",
               reads=(0,))
_min_p = defop(lambda x, *, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims), extremum_vjp, "min",
               reads=(0,))


def max(x, axis=None, keepdims: bool = False):
    """Largest element over `axis`; tied maxima share the gradient equally."""
    return _max_p(x, axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims: bool = False):
    """Smallest element over `axis`; tied minima share the gradient equally."""
    return _min_p(x, axis=axis, keepdims=keepdims)


def _logsumexp(x, *, axis, keepdims):
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)  # rows of -inf: avoid inf - inf
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m  # subtract max: no overflow
    return out if keepdims else np.squeeze(out, axis=_axes(axis, np.ndim(x)))


def logsumexp_vjp(g, ans, x, *, axis, keepdims):
    shape = np.shape(_raw(x))
    return (_keep(g, shape, axis, keepdims) * exp(x - _keep(ans, shape, axis, keepdims)),)


_logsumexp_p = defop(_logsumexp, logsumexp_vjp, "logsumexp", reads=(0,))


def logsumexp(x, axis=-1, keepdims: bool = False):
    """log Σ exp(x) over `axis` (-1 by default; None or a tuple like SciPy), stable for any size."""
    return _logsumexp_p(x, axis=axis, keepdims=keepdims)


def _softmax(x, *, axis):
    e = np.exp(x - np.maximum.reduce(x, axis=axis, keepdims=True))  # ufunc.reduce: no np.max wrapper
    return e / np.add.reduce(e, axis=axis, keepdims=True)


softmax_p = defop(_softmax, lambda g, ans, x, *, axis: (ans * (g - sum(g * ans, axis=axis, keepdims=True)),),
                  "softmax", reads=())


def _log_softmax(x, *, axis):
    return x - _logsumexp(x, axis=axis, keepdims=True)


log_softmax_p = defop(_log_softmax,
                      lambda g, ans, x, *, axis: (g - exp(ans) * sum(g, axis=axis, keepdims=True),),
                      "log_softmax", reads=())


def softmax(x, axis: int = -1):
    """exp(x) / Σ exp(x) along `axis`, stable for any size."""
    return softmax_p(x, axis=axis)


def log_softmax(x, axis: int = -1):
    """x − logsumexp(x) along `axis`, stable for any size."""
    return log_softmax_p(x, axis=axis)


def _softmax_cross_entropy(u, labels):
    if np.ndim(u) != 2 or np.shape(labels) != (np.shape(u)[0],):
        raise ValueError(f"softmax_cross_entropy: needs logits (N, K) and labels (N,), got "
                         f"{np.shape(u)} and {np.shape(labels)}")
    m = np.maximum.reduce(u, axis=1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)  # a row of -inf: avoid inf - inf
    shifted = u - m  # lse(u) - u_y computed on shifted logits: no cancellation of huge numbers
    e = np.exp(shifted)
    total = np.add.reduce(e, axis=1, keepdims=True)
    lse = np.log(total[:, 0])
    return lse - shifted[np.arange(len(shifted)), labels], e / total  # saves softmax(u) for the VJP


def softmax_cross_entropy_vjp(g, ans, u, labels, *, saved):
    onehot = np.zeros(np.shape(u), dtype=_dtype(u))
    onehot[np.arange(len(onehot)), _raw(labels)] = 1
    if type(g) is np.ndarray:  # first order: the forward's softmax
        return g[:, None] * (saved - onehot), None
    return expand_dims(g, -1) * (softmax(u, axis=1) - onehot), None  # differentiable again


softmax_cross_entropy = defop(_softmax_cross_entropy, softmax_cross_entropy_vjp,
                              "softmax_cross_entropy", reads=(0, 1), saves=True)
softmax_cross_entropy.__doc__ = """Per-sample log Σ_k e^{u_ik} − u_{i,y_i} for logits u (N, K) and
integer labels (N,), stable for logits of any size; one fused node (gradient softmax(u) − onehot)."""


# ---- shape ops ---------------------------------------------------------------------------------
_reshape_p = defop(lambda x, *, shape: np.reshape(x, shape),
                   lambda g, ans, x, *, shape: (reshape(g, np.shape(_raw(x))),), "reshape", reads=())


def reshape(x, shape):
    """NumPy reshape (one dimension may be -1)."""
    if type(x) is np.ndarray:  # inside a first-order VJP: straight to NumPy
        return x.reshape(shape)
    return _reshape_p(x, shape=(shape,) if isinstance(shape, (int, np.integer)) else tuple(shape))


def expand_dims(x, axis: int):
    """Insert a size-1 axis (a reshape)."""
    shape = list(np.shape(_raw(x)))
    shape.insert(axis if axis >= 0 else len(shape) + 1 + axis, 1)
    return reshape(x, tuple(shape))


def _inverse(axes: tuple[int, ...]) -> tuple[int, ...]:
    """The permutation that undoes `axes`."""
    inv = [0] * len(axes)
    for i, a in enumerate(axes):
        inv[a] = i
    return tuple(inv)


_transpose_p = defop(lambda x, *, axes: x.transpose(axes),
                     lambda g, ans, x, *, axes: (transpose(g, axes=_inverse(axes)),),
                     "transpose", reads=())


def transpose(x, axes=None):
    """Permute axes like ``np.transpose`` (None reverses them, as ``.T``)."""
    if type(x) is np.ndarray:  # inside a first-order VJP: straight to NumPy
        if axes is None:
            return x.T
        try:
            return x.transpose(axes)
        except ValueError:  # bad axes: the checks below say what is wrong, naming the op
            pass
    elif axes is None and isinstance(x, Tensor):  # `.T`: nothing to check
        return _transpose_p(x, axes=tuple(range(x.data.ndim - 1, -1, -1)))
    nd = np.ndim(_raw(x))
    if axes is not None and builtins.any(not -nd <= int(a) < nd for a in axes):  # no wrap-around
        raise ValueError(f"transpose: axes {tuple(axes)} are out of range for the {nd} axes of "
                         f"shape {np.shape(_raw(x))}")
    axes = tuple(range(nd))[::-1] if axes is None else tuple(int(a) % builtins.max(nd, 1) for a in axes)
    if sorted(axes) != list(range(nd)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of the {nd} axes of shape "
                         f"{np.shape(_raw(x))}")
    return _transpose_p(x, axes=axes)


def sum_to(x, shape: tuple):
    """Sum `x` down to `shape` (the reverse of broadcasting `shape` up to x's shape)."""
    xs = np.shape(_raw(x))
    lead = len(xs) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and xs[lead + i] != 1)
    if axes:  # (the size-1 axes of `shape` come back by the reshape: a bias's sum needs none)
        x = sum(x, axis=axes)
    return reshape(x, shape) if np.shape(_raw(x)) != tuple(shape) else x


_broadcast_to_p = defop(lambda x, *, shape: np.broadcast_to(x, shape),
                        lambda g, ans, x, *, shape: (sum_to(g, np.shape(_raw(x))),), "broadcast_to",
                        reads=())


def broadcast_to(x, shape):
    """NumPy's broadcast_to (a read-only view); its VJP sums back to x's shape."""
    return _broadcast_to_p(x, shape=tuple(shape))


def _has_int_array(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return builtins.any(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts)


def _scatter_add(g, *, index, shape):
    out = np.zeros(shape, dtype=np.result_type(g))
    if _has_int_array(index):
        np.add.at(out, index, g)  # repeated integer indices accumulate
    else:
        out[index] = g  # slices and masks never repeat a position
    return out


scatter_add = defop(_scatter_add, lambda g, ans, x, *, index, shape: (getitem_p(g, index=index),),
                    "scatter_add", reads=())
getitem_p = defop(lambda x, *, index: x[index],
                  lambda g, ans, x, *, index: (scatter_add(g, index=index, shape=np.shape(_raw(x))),),
                  "getitem", reads=())


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
    return getitem_p(x, index=_norm_index(index))


def _concatenate(*xs, axis):
    return np.concatenate(xs, axis=axis)


def concatenate_vjp(g, ans, *xs, axis):
    ax = axis % ans.ndim
    edges = np.cumsum([0] + [np.shape(_raw(x))[ax] for x in xs])
    pre = (slice(None),) * ax
    return tuple(getitem_p(g, index=pre + (slice(int(a), int(b)),)) for a, b in itertools.pairwise(edges))


_concatenate_p = defop(_concatenate, concatenate_vjp, "concatenate", reads=())


def concatenate(xs, axis: int | None = 0):
    """Join a sequence of arrays along an existing axis (``np.concatenate``; ``axis=None``
    flattens them first)."""
    if axis is None:
        return _concatenate_p(*[reshape(x, (-1,)) for x in xs], axis=0)
    return _concatenate_p(*xs, axis=axis)


def _stack(*xs, axis):
    return np.stack(xs, axis=axis)


def stack_vjp(g, ans, *xs, axis):
    pre = (slice(None),) * (axis % ans.ndim)
    return tuple(getitem_p(g, index=pre + (i,)) for i in range(len(xs)))


_stack_p = defop(_stack, stack_vjp, "stack", reads=())


def stack(xs, axis: int = 0):
    """Join a sequence of same-shape arrays along a new axis (``np.stack``)."""
    return _stack_p(*xs, axis=axis)


def _pad(x, *, pad_width):
    # zeros + one slice assignment: ~4x faster than np.pad's general machinery for zero fill
    x = np.asarray(x)
    out = np.zeros(tuple(n + b + a for n, (b, a) in zip(x.shape, pad_width, strict=True)), dtype=x.dtype)
    out[tuple(slice(b, b + n) for n, (b, _) in zip(x.shape, pad_width, strict=True))] = x
    return out


_pad_p = defop(_pad,
               lambda g, ans, x, *, pad_width: (
                   getitem_p(g, index=tuple(slice(b, b + n) for (b, _), n
                                            in zip(pad_width, np.shape(_raw(x)), strict=True))),),
               "pad", reads=())


def pad(x, pad_width):
    """Zero padding with NumPy's per-axis ``(before, after)`` pairs (an int or one pair applies to
    every axis)."""
    nd = np.ndim(_raw(x))
    try:
        pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (nd, 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit an array of {nd} dimensions; "
                         "give one (before, after) pair per axis") from None
    if (pw < 0).any():
        raise ValueError(f"pad: pad_width {pad_width!r} has negative entries")
    return _pad_p(x, pad_width=tuple((int(b), int(a)) for b, a in pw))


# ---- sliding windows (convolution and pooling are built on these) -----------------------------


def _window_out(shape, size, stride):
    return tuple((n - k) // s + 1 for n, k, s in zip(shape[-len(size):], size, stride, strict=True))


def _sliding_window(x, *, size, stride):
    k = len(size)
    v = np.lib.stride_tricks.sliding_window_view(x, size, axis=tuple(range(x.ndim - k, x.ndim)))
    return v[(Ellipsis,) + tuple(slice(None, None, s) for s in stride) + (slice(None),) * k]


def _sliding_window_transpose(g, *, shape, size, stride):
    """Scatter-add windows back into an array of `shape` (col2im): one strided add per offset."""
    k = len(size)
    out = np.zeros(shape, dtype=np.result_type(g))
    outsz = _window_out(shape, size, stride)
    for offs in itertools.product(*(range(n) for n in size)):
        dst = tuple(slice(o, o + s * (m - 1) + 1, s) for o, s, m in zip(offs, stride, outsz, strict=True))
        out[(Ellipsis,) + dst] += g[(Ellipsis,) + offs] if k else g
    return out


sliding_window_p = defop(
    _sliding_window,
    lambda g, ans, x, *, size, stride: (
        sliding_window_transpose(g, shape=np.shape(_raw(x)), size=size, stride=stride),),
    "sliding_window", reads=())
sliding_window_transpose = defop(
    _sliding_window_transpose,
    lambda g, ans, x, *, shape, size, stride: (sliding_window_p(g, size=size, stride=stride),),
    "sliding_window_transpose", reads=())


def sliding_window(x, size, stride=1):
    """Windows over the last ``len(size)`` axes: shape ``x.shape[:-k] + out + size`` with
    ``out[i] = (n_i - size_i) // stride_i + 1``. A read-only view in the forward (no copy); the
    VJP adds each window's cotangent back (one strided add per window offset, not per pixel).
    """
    size, stride = _window_size_stride("sliding_window", x, size, stride)
    return sliding_window_p(x, size=size, stride=stride)


def _window_size_stride(what: str, x, size, stride) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Normalize and check `size`/`stride` (ints or tuples) against the input's trailing axes."""
    size = (int(size),) if isinstance(size, (int, np.integer)) else tuple(int(s) for s in size)
    if stride is None:
        stride = size
    stride = ((int(stride),) * len(size) if isinstance(stride, (int, np.integer))
              else tuple(int(s) for s in stride))
    shape = np.shape(_raw(x))
    if len(stride) != len(size) or len(size) > len(shape):
        raise ValueError(f"{what}: size {size} and stride {stride} do not fit input shape {shape}")
    too_big = builtins.any(k < 1 or k > n for k, n in zip(size, shape[-len(size):], strict=True))
    if too_big or builtins.min(stride, default=1) < 1:
        raise ValueError(f"{what}: window {size} (stride {stride}) does not fit input shape {shape}")
    return size, stride


# Note [pooling as a matmul]
# Non-overlapping tiles over the last one or two axes, with few output columns: with kh rows of
# tiles of kh x kw, each group of kh input rows (kh*w contiguous numbers) maps to one output row
# of wo numbers by a fixed (kh*w, wo) matrix holding 1/(kh*kw) where input column j // kw is
# output column, and the VJP maps back by its transpose. One BLAS call instead of kh*kw strided
# adds (or np.repeat) that move 2 or 3 numbers at a time: at W4's sizes 2-5x faster both ways. The
# matmul does wo times the additions needed, so it is used only for wo <= 16 (at wo = 32 the
# strided adds win). A matmul would spread a NaN or inf to its whole row (0 * inf = NaN), so a
# result that is not all finite is recomputed the exact way.
_POOL_MATMUL_MAX_WO = 16


@functools.lru_cache(maxsize=64)
def _pool_matrix(kh: int, w: int, kw: int, wo: int, dtype: np.dtype) -> np.ndarray:
    m = np.zeros((kh, w, wo), dtype=dtype)
    cols = np.arange(wo * kw)
    m[:, cols, cols // kw] = 1.0 / (kh * kw)
    m.setflags(write=False)
    return m.reshape(kh * w, wo)


def _pool_by_matmul(size, stride, dtype, wo: int) -> bool:
    return size == stride and len(size) <= 2 and dtype.kind == "f" and wo <= _POOL_MATMUL_MAX_WO


def _avg_pool(x, *, size, stride):
    # one strided add per window offset over the whole output (a reshape + mean over the small
    # window axes iterates in steps of 2 or 3 elements and is ~15x slower)
    outsz = _window_out(x.shape, size, stride)
    if _pool_by_matmul(size, stride, x.dtype, outsz[-1]):  # Note [pooling as a matmul]
        kh, kw = (1,) + size if len(size) == 1 else size
        ho, wo = outsz[-2] if len(size) == 2 else 1, outsz[-1]
        xc = x[..., :ho * kh, :wo * kw] if len(size) == 2 else x[..., :wo * kw]
        out = np.matmul(xc.reshape(-1, kh * wo * kw), _pool_matrix(kh, wo * kw, kw, wo, x.dtype))
        if np.isfinite(out).all():
            return out.reshape(x.shape[:-len(size)] + outsz)
    acc = None
    for offs in itertools.product(*(range(n) for n in size)):
        src = x[(Ellipsis,) + tuple(slice(o, o + s * (m - 1) + 1, s)
                                    for o, s, m in zip(offs, stride, outsz, strict=True))]
        if acc is None:
            acc = np.array(src, dtype=np.result_type(x.dtype, np.float32) if x.dtype.kind != "f" else x.dtype)
        else:
            acc += src
    acc *= 1.0 / math.prod(size)
    return acc


def avg_pool_vjp(g, ans, x, *, size, stride):
    # every input in a window gets the window's cotangent over the window size
    k = len(size)
    shape = np.shape(_raw(x))
    if (type(g) is np.ndarray and _pool_by_matmul(size, stride, g.dtype, g.shape[-1])
            and np.isfinite(g).all()):
        # Note [pooling as a matmul]: each output row back to its kh input rows
        kh, kw = (1,) + size if len(size) == 1 else size
        wo = g.shape[-1]
        gx = np.matmul(g.reshape(-1, wo), _pool_matrix(kh, wo * kw, kw, wo, g.dtype).T)
        gx = gx.reshape(shape[:-k] + tuple(m * s for m, s in zip(g.shape[-k:], size, strict=True)))
        if gx.shape != shape:  # floor mode cut rows/columns: they get zeros
            gx = np.pad(gx, [(0, n - m) for n, m in zip(shape, gx.shape, strict=True)])
        return (gx,)
    if type(g) is np.ndarray and size == stride:
        # first order, non-overlapping tiles: repeat each entry over its tile (np.repeat is ~3x
        # faster than adding strided slices into zeros), zeros for the rows/columns floor mode cut
        gx = g * (1.0 / math.prod(size))
        for axis, s in zip(range(g.ndim - k, g.ndim), size, strict=True):
            gx = np.repeat(gx, s, axis=axis)
        if gx.shape != shape:
            gx = np.pad(gx, [(0, n - m) for n, m in zip(shape, gx.shape, strict=True)])
        return (gx,)
    # in general: broadcast g to the windows' shape (a view), then add the windows back (col2im)
    gw = broadcast_to(reshape(g * (1.0 / math.prod(size)), np.shape(_raw(g)) + (1,) * k),
                      np.shape(_raw(g)) + size)
    return (sliding_window_transpose(gw, shape=shape, size=size, stride=stride),)


_avg_pool_p = defop(_avg_pool, avg_pool_vjp, "avg_pool", reads=())


def avg_pool(x, size, stride=None):
    """Mean over windows of the last ``len(size)`` axes (average pooling): shape
    ``x.shape[:-k] + out`` with ``out[i] = (n_i - size_i) // stride_i + 1``; `stride` defaults
    to `size` (non-overlapping windows, PyTorch's default), no padding, floor mode. The same as
    ``mean(sliding_window(x, size, stride), axis=(-k, ..., -1))``, computed with one strided
    add per window offset."""
    size, stride = _window_size_stride("avg_pool", x, size, stride)
    return _avg_pool_p(x, size=size, stride=stride)


# ---- convolution -------------------------------------------------------------------------------
# Note [conv2d layout]
# im2col per sample: cols (N, C·kh·kw, L), then ONE batched matmul with the kernel as a
# (O, C·kh·kw) matrix gives (N, O, L): NCHW directly, no transpose. With stride 1 the columns come
# from the zero-padded input flattened per channel: the window at offset (i, j) of output pixel
# (h, w) starts at flat index (h + i)·Wp + (w + j), so for each offset the columns of every pixel
# are ONE contiguous slice of length L = Ho·Wp (each row carries kw − 1 junk columns, cropped from
# the output). Building cols is then kh·kw long copies, and col2im in the VJP kh·kw long adds, where
# window views copy and add W' elements at a time (~2-3x slower at W4's sizes). Other strides
# take the window-view path. The forward saves cols for the VJP's gW (`saves=True`), as PyTorch's
# CPU im2col convolution did: kh·kw copies of the input held until backward, instead of building
# them a second time (~90 µs of W4's second convolution).


def _conv_geometry(xshape, wshape, stride, padding):
    (n, c, h, w), (o, _, kh, kw) = xshape, wshape
    (sh, sw), (ph, pw) = stride, padding
    hp, wp = h + 2 * ph, w + 2 * pw
    return n, c, h, w, o, kh, kw, sh, sw, ph, pw, hp, wp, (hp - kh) // sh + 1, (wp - kw) // sw + 1


def _im2col(x, geom):
    """(cols (N, C·kh·kw, L), L): see Note [conv2d layout]."""
    n, c, h, w, o, kh, kw, sh, sw, ph, pw, hp, wp, ho, wo = geom
    if sh == sw == 1:
        flat = np.zeros((n, c, hp * wp + kw - 1), dtype=x.dtype)
        flat[:, :, :hp * wp].reshape(n, c, hp, wp)[:, :, ph:ph + h, pw:pw + w] = x
        L = ho * wp
        cols = np.empty((n, c, kh, kw, L), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                cols[:, :, i, j] = flat[:, :, i * wp + j: i * wp + j + L]
        return cols.reshape(n, c * kh * kw, L), L
    xp = np.zeros((n, c, hp, wp), dtype=x.dtype)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, ho * wo), ho * wo


def _col2im(gcols, geom, dtype):
    """The adjoint of `_im2col`: add each window's cotangent back; the input's cotangent."""
    n, c, h, w, o, kh, kw, sh, sw, ph, pw, hp, wp, ho, wo = geom
    gc = gcols.reshape(n, c, kh, kw, -1)
    if sh == sw == 1:
        L = ho * wp
        flat = np.zeros((n, c, hp * wp + kw - 1), dtype=dtype)
        for i in range(kh):
            for j in range(kw):
                flat[:, :, i * wp + j: i * wp + j + L] += gc[:, :, i, j]
        return flat[:, :, :hp * wp].reshape(n, c, hp, wp)[:, :, ph:ph + h, pw:pw + w]
    gxp = np.zeros((n, c, hp, wp), dtype=dtype)
    gc = gc.reshape(n, c, kh, kw, ho, wo)
    for i in range(kh):
        for j in range(kw):
            gxp[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw] += gc[:, :, i, j]
    return gxp[:, :, ph:ph + h, pw:pw + w]


def _conv2d(x, W, b=None, *, stride, padding):
    """(output, cols): the columns are saved for the VJP's gW (Note [conv2d layout])."""
    x, W = np.asarray(x), np.asarray(W)
    b = None if b is None else np.asarray(b)
    geom = _conv_geometry(x.shape, W.shape, stride, padding)
    n, o, ho, wo, wp = geom[0], geom[4], geom[13], geom[14], geom[12]
    cols, L = _im2col(x, geom)
    out = np.matmul(W.reshape(o, -1), cols)  # (N, O, L), fresh
    if b is not None:  # in place on the contiguous product: a broadcast add into the cropped
        out += b.reshape(o, 1)  # view below would be ~1.5x slower than this plus the crop
    if L != ho * wo:  # stride 1: crop the junk columns
        return np.ascontiguousarray(out.reshape(n, o, ho, wp)[..., :wo]), cols
    return out.reshape(n, o, ho, wo), cols


def conv2d_vjp(g, ans, x, W, b=None, *, stride, padding, needs, saved):
    n_inputs = len(needs)
    needs = tuple(needs) + (False,) * (3 - n_inputs)
    if type(g) is not np.ndarray:
        return _conv2d_vjp_graph(g, x, W, stride, padding, needs)[:n_inputs]
    geom = _conv_geometry(x.shape, W.shape, stride, padding)
    n, o, ho, wo, wp = geom[0], geom[4], geom[13], geom[14], geom[12]
    gx = gW = gb = None
    if needs[2]:  # the batch axis first, then the pixels: ~3x faster than one (0, 2, 3) reduce
        gb = np.add.reduce(np.add.reduce(g, axis=0).reshape(o, -1), axis=1)
    if needs[0] or needs[1]:
        if geom[7] == geom[8] == 1:  # stride 1: g on the padded-width grid, zero junk columns
            gL = np.zeros((n, o, ho, wp), dtype=g.dtype)  # (zeroing all beats a strided fill)
            gL[..., :wo] = g
            gL = gL.reshape(n, o, ho * wp)
        else:
            gL = g.reshape(n, o, ho * wo)
        if needs[1]:
            gW = np.add.reduce(np.matmul(gL, saved.transpose(0, 2, 1)), 0).reshape(W.shape)
        if needs[0]:
            gx = _col2im(np.matmul(W.reshape(o, -1).T, gL), geom, g.dtype)
    return (gx, gW, gb)[:n_inputs]


def _conv2d_vjp_graph(g, x, W, stride, padding, needs):
    """The same VJP with recorded ops (create_graph), so it can be differentiated again."""
    geom = _conv_geometry(np.shape(_raw(x)), np.shape(_raw(W)), stride, padding)
    n, c, h, w, o, kh, kw, sh, sw, ph, pw, hp, wp, ho, wo = geom
    gL = reshape(g, (n, o, ho * wo))
    Wm = reshape(W, (o, c * kh * kw))
    gx = gW = gb = None
    if needs[1]:
        win = sliding_window(pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))), (kh, kw), (sh, sw))
        cols = reshape(transpose(win, (0, 1, 4, 5, 2, 3)), (n, c * kh * kw, ho * wo))
        gW = reshape(sum(matmul(gL, transpose(cols, (0, 2, 1))), axis=0), (o, c, kh, kw))
    if needs[0]:
        gwin = transpose(reshape(matmul(transpose(Wm), gL), (n, c, kh, kw, ho, wo)), (0, 1, 4, 5, 2, 3))
        gxp = sliding_window_transpose(gwin, shape=(n, c, hp, wp), size=(kh, kw), stride=(sh, sw))
        gx = getitem_p(gxp, index=(slice(None), slice(None), slice(ph, ph + h), slice(pw, pw + w)))
    if needs[2]:
        gb = sum(g, axis=(0, 2, 3))
    return gx, gW, gb


_conv2d_p = defop(_conv2d, conv2d_vjp, "conv2d", reads=(0, 1), saves=True)


def conv2d(x, W, b=None, stride=1, padding=0):
    """2-D cross-correlation of NCHW `x` with kernel `W` ``(c_out, c_in, kh, kw)`` plus bias `b`
    ``(c_out,)`` (PyTorch's ``F.conv2d``): ``out[n, o, h, w] = b[o] + Σ_{c,i,j} W[o, c, i, j] ·
    xp[n, c, h·s_h + i, w·s_w + j]`` with ``xp`` zero-padded by `padding`; output
    ``(N, c_out, (H + 2p_h − kh)//s_h + 1, (W + 2p_w − kw)//s_w + 1)``. `stride` and `padding`
    are an int or an ``(h, w)`` pair. One node: im2col and one batched matmul forward, one more
    matmul per needed gradient and col2im backward (Note [conv2d layout])."""
    pairs = []
    for name, v, low in (("stride", stride, 1), ("padding", padding, 0)):
        pair = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
        if len(pair) != 2 or not builtins.all(isinstance(p, (int, np.integer)) and not isinstance(p, bool)
                                               for p in pair) or builtins.min(pair) < low:
            raise ValueError(f"conv2d: {name} must be an int >= {low} or a pair of them, got {v!r}")
        pairs.append((int(pair[0]), int(pair[1])))
    xs, ws = np.shape(_raw(x)), np.shape(_raw(W))
    if len(xs) != 4 or len(ws) != 4 or xs[1] != ws[1]:
        raise ValueError(f"conv2d: x must be (N, C, H, W) and W (c_out, C, kh, kw) with the same C; "
                         f"got x {xs}, W {ws}")
    if b is not None and np.shape(_raw(b)) != ws[:1]:
        raise ValueError(f"conv2d: b must have shape ({ws[0]},) (one bias per output channel), "
                         f"got {np.shape(_raw(b))}")
    (ph, pw) = pairs[1]
    if xs[2] + 2 * ph < ws[2] or xs[3] + 2 * pw < ws[3]:
        raise ValueError(f"conv2d: input of spatial size {xs[2:]} with padding {pairs[1]} is smaller "
                         f"than the kernel {ws[2:]}")
    args = (x, W) if b is None else (x, W, b)
    return _conv2d_p(*args, stride=pairs[0], padding=pairs[1])


identity = defop(lambda x: x, lambda g, ans, x: (g,), "identity", reads=())

__all__ = [
    "add", "subtract", "multiply", "divide", "negative", "power", "matmul", "exp", "log", "sqrt",
    "abs", "tanh", "sigmoid", "relu", "sign", "clip", "where", "maximum", "minimum", "astype",
    "sum", "mean", "max", "min", "logsumexp", "softmax", "log_softmax", "einsum", "reshape",
    "expand_dims", "transpose", "broadcast_to", "sum_to", "concatenate", "stack", "pad",
    "sliding_window", "avg_pool", "conv2d", "getitem", "linear", "softmax_cross_entropy",
]

# Every Primitive defined above, by op name (the completeness test checks each has a test case).
PRIMITIVES: dict[str, Primitive] = {
    v.name: v for v in list(globals().values()) if isinstance(v, Primitive)
}

"""The rule table, continued: products, reductions and scans beyond ops.py's core (dot, inner,
outer, tensordot, trace, diag, diagonal, tril, triu, kron, vdot; prod, var, std, cumsum, cumprod,
diff, sort).

Rules follow ops.py's conventions (its module docstring): `g`, `ans`, the inputs, then keywords;
one rule serves both sweeps. Adding an op: one rule here and one row in tests/op_cases_products.py.

Most ops here are composites of ops.py's primitives (dot and vdot are matmul, tensordot, inner,
outer and kron are einsum, tril and triu are where, var is NumPy's own
mean-subtract-square-sum, diff is slices and subtract). The primitives are the ones a composite
would get wrong or do wastefully: diagonal (a view) and its adjoint, prod and cumprod (exact
gradients at zeros, no division by x), cumsum, std (a chosen subgradient at constant slices) and
sort (the gradient routed through the permutation).

Non-differentiable points (each documented on its op):
- std at a slice whose variance is exactly 0: gradient 0 (std is a norm of x - mean, convex, and 0
  is in its subdifferential there; JAX and PyTorch give nan);
- sort at ties: equal elements keep their input order (a stable sort), and each output slot's
  cotangent goes back to the input it came from.

Signatures are NumPy's, but for `keepdims` and `ddof` of prod, var and std, which are keyword-only:
NumPy's third positional parameter there is `dtype`, so a positional call would mean something
else in NumPy.
"""

from __future__ import annotations

import math
import operator
import string

import numpy as np

from . import ops
from .numpy_array import _array_like
from .ops import _axes, _dtype, _inverse, _keep, _raw, _shape
from .primitive import defop, rule_table
from .tensor import attach_methods


def _axis(op: str, axis, ndim: int) -> int:
    """One axis of an `ndim`-dimensional array, made non-negative; errors name the op."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of bounds for an array of dimension {ndim}")
    return int(axis) % ndim


def _reduction_axes(op: str, axis, ndim: int) -> tuple[int, ...]:
    """`ops._axes` (None: all axes) with the op's name in its error."""
    try:
        return _axes(axis, ndim)
    except ValueError as e:
        raise ValueError(f"{op}: {e}") from None


def _along(axis: int, index) -> tuple:
    """An index applying `index` (a slice) to `axis` and taking everything of the other axes."""
    return (slice(None),) * axis + (index,)


def _flip(v, axis: int):
    return v[_along(axis, slice(None, None, -1))]


def _shift(v, d: int, axis: int, fill: float):
    """`v` moved |d| places along `axis` (towards higher indices for d > 0), the vacated places
    filled with `fill`: ``_shift([a, b, c], 1, 0, 1) = [1, a, b]``."""
    shape = list(_shape(v))
    n = shape[axis]
    shape[axis] = abs(d)
    pad = np.full(shape, fill, dtype=_dtype(v))
    if d > 0:
        return ops.concatenate([pad, v[_along(axis, slice(0, n - d))]], axis=axis)
    return ops.concatenate([v[_along(axis, slice(-d, n))], pad], axis=axis)


# ---- products ----------------------------------------------------------------------------------
def dot(a, b):
    """NumPy's dot: with a 0-d operand the product of every element by it; otherwise the sum over
    the last axis of `a` and the second-to-last of `b` (its only axis if 1-d), with shape
    ``a.shape[:-1] + b.shape[:-2] + b.shape[-1:]``. That is `matmul` when either is 1-d or both
    are 2-d, and an outer product over the leading axes (`tensordot`) otherwise. As in NumPy, a
    Python number is a float64 array here (``dot(2.0, x32)`` is float64)."""
    sa, sb = _shape(a), _shape(b)
    if not sa or not sb:
        return tensordot(a, b, axes=0)
    k_axis = max(len(sb) - 2, 0)
    if sa[-1] != sb[k_axis]:
        raise ValueError(f"dot: shapes {sa} and {sb} not aligned: {sa[-1]} (dim {len(sa) - 1}) != "
                         f"{sb[k_axis]} (dim {k_axis})")
    if len(sa) == 1 or len(sb) == 1 or (len(sa) == 2 and len(sb) == 2):
        return ops.matmul(a, b)
    return tensordot(a, b, axes=([len(sa) - 1], [k_axis]))


def _tensordot_axes(axes, sa: tuple, sb: tuple) -> tuple[list[int], list[int]]:
    """The contracted axes of a and b (non-negative, in pairs), checked against the shapes."""
    if isinstance(axes, (int, np.integer)) and not isinstance(axes, bool):
        n = int(axes)
        if not 0 <= n <= min(len(sa), len(sb)):
            raise ValueError(f"tensordot: axes={n} needs 0 <= axes <= the dimensions of both "
                             f"operands, got shapes {sa} and {sb}")
        ax_a, ax_b = list(range(len(sa) - n, len(sa))), list(range(n))
    else:
        try:
            ax_a, ax_b = axes
        except (TypeError, ValueError):
            raise ValueError(f"tensordot: axes must be an int or a pair (axes of a, axes of b), got "
                             f"{axes!r}") from None
        ax_a, ax_b = ([v] if isinstance(v, (int, np.integer)) else list(v) for v in (ax_a, ax_b))
        if len(ax_a) != len(ax_b):
            raise ValueError(f"tensordot: {len(ax_a)} axes of a {tuple(ax_a)} but {len(ax_b)} of b "
                             f"{tuple(ax_b)}: contracted axes come in pairs")
        ax_a = [_axis("tensordot", i, len(sa)) for i in ax_a]
        ax_b = [_axis("tensordot", j, len(sb)) for j in ax_b]
        if len(set(ax_a)) != len(ax_a) or len(set(ax_b)) != len(ax_b):
            raise ValueError(f"tensordot: repeated axes in {axes!r}")
    for i, j in zip(ax_a, ax_b, strict=True):
        if sa[i] != sb[j]:
            raise ValueError(f"tensordot: shape mismatch: axis {i} of a {sa} has {sa[i]} elements, "
                             f"axis {j} of b {sb} has {sb[j]}")
    return ax_a, ax_b


def tensordot(a, b, axes=2):
    """NumPy's tensordot: the sum over the axes `axes` names (an int n: the last n of a with the
    first n of b; or a pair of sequences, or of ints), then a's remaining axes and b's. One
    `einsum` node."""
    sa, sb = _shape(a), _shape(b)
    ax_a, ax_b = _tensordot_axes(axes, sa, sb)
    if len(sa) + len(sb) > len(string.ascii_letters):
        raise ValueError(f"tensordot: operands of {len(sa)} and {len(sb)} dimensions are too many")
    la = list(string.ascii_letters[:len(sa)])
    lb = list(string.ascii_letters[len(sa):len(sa) + len(sb)])
    for i, j in zip(ax_a, ax_b, strict=True):
        lb[j] = la[i]
    out = [la[i] for i in range(len(sa)) if i not in ax_a] + [lb[j] for j in range(len(sb)) if j not in ax_b]
    return ops.einsum(f"{''.join(la)},{''.join(lb)}->{''.join(out)}", a, b)


def inner(a, b):
    """NumPy's inner: the sum over the last axes of both, with shape
    ``a.shape[:-1] + b.shape[:-1]``; with a 0-d operand the product of every element by it."""
    sa, sb = _shape(a), _shape(b)
    if not sa or not sb:
        return tensordot(a, b, axes=0)
    if sa[-1] != sb[-1]:
        raise ValueError(f"inner: the last axes of shapes {sa} and {sb} differ ({sa[-1]} != {sb[-1]})")
    return tensordot(a, b, axes=([len(sa) - 1], [len(sb) - 1]))


def outer(a, b):
    """NumPy's outer: ``out[i, j] = a.ravel()[i] * b.ravel()[j]`` (inputs of any shape are
    flattened)."""
    return ops.einsum("i,j->ij", ops.reshape(a, (-1,)), ops.reshape(b, (-1,)))


def vdot(a, b):
    """NumPy's vdot for real inputs: the dot product of the flattened inputs (a 0-d result); they
    must have the same number of elements."""
    na, nb = math.prod(_shape(a)), math.prod(_shape(b))
    if na != nb:
        raise ValueError(f"vdot: shapes {_shape(a)} and {_shape(b)} have {na} and {nb} elements; "
                         "vdot needs the same number")
    return ops.matmul(ops.reshape(a, (-1,)), ops.reshape(b, (-1,)))


def kron(a, b):
    """NumPy's kron: the Kronecker product, ``out[i*q + k, ...] = a[i, ...] * b[k, ...]`` for b of
    shape (q, ...); the operand with fewer axes gets leading size-1 axes first, and a 0-d operand
    multiplies every element."""
    sa, sb = _shape(a), _shape(b)
    if not sa or not sb:
        return tensordot(a, b, axes=0)
    nd = max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    # every product a[i] * b[k] once, its axes interleaved (i0, k0, i1, k1, ...): the reshape
    # then merges each pair (i_j, k_j) into the index i_j * q_j + k_j
    la, lb = string.ascii_letters[:nd], string.ascii_letters[nd:2 * nd]
    pairs = ops.einsum(f"{la},{lb}->{''.join(i + k for i, k in zip(la, lb, strict=True))}",
                       ops.reshape(a, sa), ops.reshape(b, sb))
    return ops.reshape(pairs, tuple(p * q for p, q in zip(sa, sb, strict=True)))


def _diagonal_transpose_fwd(g, *, shape, offset, axis1, axis2):
    g = np.asarray(g)  # (diag's v may be a list of numbers)
    out = np.zeros(shape, dtype=g.dtype)
    n = np.shape(g)[-1]
    rows, cols = np.arange(n) + max(-offset, 0), np.arange(n) + max(offset, 0)
    np.moveaxis(out, (axis1, axis2), (-2, -1))[..., rows, cols] = g  # (a view of out)
    return out


# diagonal and its adjoint (the diagonal placed into zeros of the input's shape)
_diagonal = defop(lambda x, *, offset, axis1, axis2: np.diagonal(x, offset, axis1, axis2),
                  lambda g, ans, x, *, offset, axis1, axis2: (_diagonal_transpose(
                      g, shape=_shape(x), offset=offset, axis1=axis1, axis2=axis2),),
                  "diagonal", reads=())
_diagonal_transpose = defop(_diagonal_transpose_fwd, lambda g, ans, x, *, shape, offset, axis1, axis2: (
    _diagonal(g, offset=offset, axis1=axis1, axis2=axis2),), "diagonal_transpose", reads=())


def _checked_diagonal(op: str, a, offset, axis1, axis2):
    """`_diagonal` after checking its arguments; errors name `op` (diagonal, trace)."""
    shape = _shape(a)
    if len(shape) < 2:
        raise ValueError(f"{op}: needs an array of at least 2 dimensions, got shape {shape}")
    ax1, ax2 = _axis(op, axis1, len(shape)), _axis(op, axis2, len(shape))
    if ax1 == ax2:
        raise ValueError(f"{op}: axis1 and axis2 are the same axis ({axis1}, {axis2})")
    return _diagonal(a, offset=operator.index(offset), axis1=ax1, axis2=ax2)


def diagonal(a, offset: int = 0, axis1: int = 0, axis2: int = 1):
    """NumPy's diagonal: ``a[..., i, ..., i + offset, ...]`` over axes `axis1` and `axis2`, which
    are removed; the diagonal is the last axis of the result (a read-only view, as in NumPy)."""
    return _checked_diagonal("diagonal", a, offset, axis1, axis2)


def trace(a, offset: int = 0, axis1: int = 0, axis2: int = 1):
    """NumPy's trace: the sum of `diagonal(a, offset, axis1, axis2)` along the diagonal."""
    return ops.sum(_checked_diagonal("trace", a, offset, axis1, axis2), axis=-1)


def diag(v, k: int = 0):
    """NumPy's diag: a 1-d `v` gives the square matrix with `v` on its k-th diagonal (zeros
    elsewhere); a 2-d `v` gives its k-th diagonal."""
    shape, k = _shape(v), operator.index(k)
    if len(shape) == 1:
        n = shape[0] + abs(k)
        return _diagonal_transpose(v, shape=(n, n), offset=k, axis1=0, axis2=1)
    if len(shape) == 2:
        return _diagonal(v, offset=k, axis1=0, axis2=1)
    raise ValueError(f"diag: input must be 1-d or 2-d, got shape {shape}")


def _triangle(op: str, m, k: int, lower: bool):
    shape = _shape(m)
    if not shape:
        raise ValueError(f"{op}: input must be at least 1-d, got a 0-d array")
    k = operator.index(k)
    # np.tri over the last two axes; a 1-d input broadcasts to a square matrix, as in NumPy
    keep = np.tri(*shape[-2:], k=k, dtype=bool) if lower else ~np.tri(*shape[-2:], k=k - 1, dtype=bool)
    return ops.where(keep, m, 0)


def tril(m, k: int = 0):
    """NumPy's tril: zeros above the k-th diagonal of the last two axes (a 1-d input is
    broadcast to a square matrix first)."""
    return _triangle("tril", m, k, lower=True)


def triu(m, k: int = 0):
    """NumPy's triu: zeros below the k-th diagonal of the last two axes (a 1-d input is
    broadcast to a square matrix first)."""
    return _triangle("triu", m, k, lower=False)


# ---- reductions and scans -----------------------------------------------------------------------
def cumprod_vjp(g, ans, x, *, axis):
    """The reverse of the doubling scan that forms a cumulative product: the step of shift d
    (1, 2, 4, ...) sets ``y_i <- y_i * y_{i-d}``, so its VJP sends ``g_i * y_{i-d}`` and
    ``g_{i+d} * y_{i+d}`` to ``y_i``. Only products of inputs appear, never a division by x:
    zeros get exact gradients, and the rule is differentiable again. O(n log n) per slice."""
    n = _shape(x)[axis]
    if n <= 1:
        return (g,)
    steps = [1 << k for k in range((n - 1).bit_length())]  # 1, 2, 4, ... below n
    levels = [x]
    for d in steps[:-1]:
        levels.append(levels[-1] * _shift(levels[-1], d, axis, 1))
    for y, d in zip(reversed(levels), reversed(steps), strict=True):
        g = g * _shift(y, d, axis, 1) + _shift(g * y, -d, axis, 0)
    return (g,)


def cumsum_vjp(g, ans, x, *, axis):
    return (_flip(_cumsum(_flip(g, axis), axis=axis), axis),)  # a cumulative sum from the end


_cumsum = defop(lambda x, *, axis: np.cumsum(x, axis=axis), cumsum_vjp, "cumsum", reads=())
_cumprod = defop(lambda x, *, axis: np.cumprod(x, axis=axis), cumprod_vjp, "cumprod", reads=(0,))


def _scan_input(op: str, a, axis):
    """(a, axis) for a scan: axis None flattens `a` first, and a 0-d `a` is scanned as 1-d
    (NumPy's rules)."""
    shape = _shape(a)
    if axis is None:
        return (a if len(shape) == 1 else ops.reshape(a, (-1,))), 0
    if not shape:
        a = ops.reshape(a, (1,))
    return a, _axis(op, axis, max(len(shape), 1))


def cumsum(a, axis: int | None = None):
    """NumPy's cumsum along `axis` (None: of the flattened input)."""
    a, axis = _scan_input("cumsum", a, axis)
    return _cumsum(a, axis=axis)


def cumprod(a, axis: int | None = None):
    """NumPy's cumprod along `axis` (None: of the flattened input). The gradient is exact where
    inputs are 0 (no division by x; see `cumprod_vjp`)."""
    a, axis = _scan_input("cumprod", a, axis)
    return _cumprod(a, axis=axis)


def _others_product(x, axes: tuple[int, ...]):
    """For each element of x, the product of the other elements of its group (the elements a
    reduction over `axes` multiplies together): exclusive products from the left times those
    from the right, so a zero anywhere needs no special case and nothing is divided by x."""
    shape = _shape(x)
    if math.prod(shape) == 0:
        return np.zeros(shape, dtype=_dtype(x))
    kept = tuple(i for i in range(len(shape)) if i not in axes)
    perm = kept + axes
    moved = ops.transpose(x, perm) if perm != tuple(range(len(shape))) else x
    flat = ops.reshape(moved, tuple(shape[i] for i in kept) + (math.prod(shape[i] for i in axes),))
    last = len(kept)
    before = _cumprod(_shift(flat, 1, last, 1), axis=last)  # x_0 * ... * x_{k-1}
    after = _flip(_cumprod(_shift(_flip(flat, last), 1, last, 1), axis=last), last)  # x_{k+1} * ...
    out = ops.reshape(before * after, _shape(moved))
    return ops.transpose(out, _inverse(perm)) if perm != tuple(range(len(shape))) else out


def prod_vjp(g, ans, x, *, axis, keepdims):
    shape = _shape(x)
    return (_keep(g, shape, axis, keepdims) * _others_product(x, _axes(axis, len(shape))),)


_prod = defop(lambda x, *, axis, keepdims: np.multiply.reduce(x, axis=axis, keepdims=keepdims),
              prod_vjp, "prod", reads=(0,))


def prod(a, axis=None, *, keepdims: bool = False):
    """NumPy's prod over `axis` (None: all; an int or a tuple). The gradient of each element is
    the product of the others in its group, exact where inputs are 0 (one zero or several)."""
    _reduction_axes("prod", axis, len(_shape(a)))
    return _prod(a, axis=axis, keepdims=keepdims)


def _dof(op: str, shape: tuple, axis, ddof) -> float:
    """The divisor n - ddof of var and std; n - ddof <= 0 is refused (NumPy warns and returns
    inf or nan)."""
    n = math.prod(shape[i] for i in _reduction_axes(op, axis, len(shape)))
    if n - ddof <= 0:
        raise ValueError(f"{op}: ddof={ddof} with {n} element(s) per slice of shape {shape} (axis "
                         f"{axis}) leaves no degrees of freedom; NumPy returns inf or nan here")
    return n - ddof


def var(a, axis=None, *, ddof=0, keepdims: bool = False):
    """NumPy's var: ``sum(|a - mean(a)|**2) / (n - ddof)`` over `axis` (None: all; an int or a
    tuple), computed as NumPy does (mean, subtract, square, sum, divide; ``d ** 2`` is NumPy's
    ``d * d`` to the bit). Raises ValueError where ``n - ddof <= 0`` (NumPy returns inf or nan
    with a warning)."""
    dof = _dof("var", _shape(a), axis, ddof)
    d = ops.subtract(a, ops.mean(a, axis=axis, keepdims=True))
    return ops.divide(ops.sum(ops.power(d, 2), axis=axis, keepdims=keepdims), dof)


def std_vjp(g, ans, x, *, axis, ddof, keepdims):
    shape = _shape(x)
    s = _keep(ans, shape, axis, keepdims)
    flat = _raw(s) == 0  # constant slices: the subgradient 0 there (see `std`), not 0/0
    if flat.any():
        s = ops.where(flat, 1, s)
    scale = _keep(g, shape, axis, keepdims) / (_dof("std", shape, axis, ddof) * s)
    if flat.any():
        scale = ops.where(flat, 0, scale)
    return (scale * (x - ops.mean(x, axis=axis, keepdims=True)),)


def _std_kinks(ans, x, *, axis, ddof, keepdims):
    """std is not differentiable where a slice is constant: how far each element's slice is."""
    return np.broadcast_to(_keep(ans, np.shape(x), axis, keepdims), np.shape(x))


_std = defop(lambda x, *, axis, ddof, keepdims: np.std(x, axis=axis, ddof=ddof, keepdims=keepdims),
             std_vjp, "std", reads=(0,), kinks=_std_kinks)


def std(a, axis=None, *, ddof=0, keepdims: bool = False):
    """NumPy's std: ``sqrt(var(a, axis, ddof=ddof))``. Where a slice is constant (its variance is
    exactly 0) the gradient is 0: std is a norm of ``a - mean(a)``, convex, and 0 is in its
    subdifferential there (JAX and PyTorch give nan). Raises ValueError where ``n - ddof <= 0``."""
    _dof("std", _shape(a), axis, ddof)
    return _std(a, axis=axis, ddof=ddof, keepdims=keepdims)


def diff(a, n: int = 1, axis: int = -1, prepend=None, append=None):
    """NumPy's diff: the n-th difference ``a[1:] - a[:-1]`` along `axis`, applied n times, after
    `prepend` and `append` (arrays, Tensors or numbers; a 0-d one is broadcast to one slice) are
    joined to `a` along `axis`. ``n = 0`` returns `a` itself. Of bools, as NumPy: where a value
    changes (``a[1:] != a[:-1]``)."""
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"diff: order n must be non-negative, got {n}")
    if n == 0:
        return a
    a = _array_like("diff", a)
    shape = _shape(a)
    if not shape:
        raise ValueError("diff: needs an input of at least one dimension, got a 0-d array")
    axis = _axis("diff", axis, len(shape))
    pieces = []
    for v in (prepend, a, append):
        if v is None:
            continue
        if v is not a:
            vs = _shape(v)
            if not vs:
                v = ops.broadcast_to(v, shape[:axis] + (1,) + shape[axis + 1:])
            elif len(vs) != len(shape) or vs[:axis] + vs[axis + 1:] != shape[:axis] + shape[axis + 1:]:
                which = "prepend" if v is prepend else "append"
                raise ValueError(f"diff: {which} of shape {vs} does not fit a of shape {shape}: "
                                 f"they may differ along axis {axis} only")
        pieces.append(v)
    if len(pieces) > 1:
        a = ops.concatenate(pieces, axis=axis)
    later, earlier = _along(axis, slice(1, None)), _along(axis, slice(None, -1))
    step = np.not_equal if _dtype(a) == np.bool_ else ops.subtract  # NumPy's diff of bools: changes
    for _ in range(n):
        a = step(a[later], a[earlier])
    return a


# sort: a permutation of its input (fixed by the input's values); its VJP scatters the cotangent
# back through the permutation, and the gather and the scatter are each other's adjoints
_permute = defop(lambda x, *, index, axis: np.take_along_axis(x, index, axis=axis),
                 lambda g, ans, x, *, index, axis: (_unpermute(g, index=index, axis=axis),),
                 "permute_along_axis", reads=())


def _unpermute_fwd(g, *, index, axis):
    out = np.empty(np.shape(g), dtype=np.result_type(g))
    np.put_along_axis(out, index, g, axis=axis)
    return out


_unpermute = defop(_unpermute_fwd, lambda g, ans, x, *, index, axis: (_permute(g, index=index, axis=axis),),
                   "unpermute_along_axis", reads=())


def _sort_fwd(x, *, axis):
    x = np.asarray(x)  # (a list of numbers)
    order = np.argsort(x, axis=axis, kind="stable")
    return np.take_along_axis(x, order, axis=axis), order


def sort_vjp(g, ans, x, *, axis, saved):
    order = saved if saved is not None else np.argsort(_raw(x), axis=axis, kind="stable")
    return (_unpermute(g, index=order, axis=axis),)


def _tie_distance(ans, x, *, axis):
    """How far each element is from its nearest neighbour in its slice (sort's kinks are ties)."""
    edge = np.full(ans.shape[:axis] + (1,) + ans.shape[axis + 1:], np.inf)
    gaps = np.diff(ans, axis=axis)
    near = np.minimum(np.concatenate([edge, gaps], axis=axis), np.concatenate([gaps, edge], axis=axis))
    return _unpermute_fwd(near, index=np.argsort(x, axis=axis, kind="stable"), axis=axis)


_sort = defop(_sort_fwd, sort_vjp, "sort", reads=(0,), saves=True, kinks=_tie_distance)


def sort(a, axis: int | None = -1):
    """NumPy's sort (a copy, ascending) along `axis` (None: of the flattened input). The gradient
    goes back through the permutation; tied elements keep their input order (a stable sort), so
    each output slot's cotangent goes to the input it was taken from."""
    if axis is None:
        a, axis = ops.reshape(a, (-1,)), 0
    shape = _shape(a)
    if not shape:
        raise ValueError("sort: a 0-d array has no axis to sort along; use axis=None")
    return _sort(a, axis=_axis("sort", axis, len(shape)))


class _TensorMethods:
    """Tensor methods NumPy's ndarray has for these ops (`sort` is not one: ndarray.sort sorts in
    place; use ag.sort)."""

    def dot(self, b): return dot(self, b)
    def prod(self, axis=None, *, keepdims=False): return prod(self, axis, keepdims=keepdims)
    def var(self, axis=None, *, ddof=0, keepdims=False): return var(self, axis, ddof=ddof, keepdims=keepdims)
    def std(self, axis=None, *, ddof=0, keepdims=False): return std(self, axis, ddof=ddof, keepdims=keepdims)
    def cumsum(self, axis=None): return cumsum(self, axis)
    def cumprod(self, axis=None): return cumprod(self, axis)
    def trace(self, offset=0, axis1=0, axis2=1): return trace(self, offset, axis1, axis2)
    def diagonal(self, offset=0, axis1=0, axis2=1): return diagonal(self, offset, axis1, axis2)


attach_methods(_TensorMethods)

__all__, PRIMITIVES = rule_table(globals(), __name__)

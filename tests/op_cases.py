"""One row per way to call an op: the table that the generic op tests run over (the rows of
ops.py's core here, each family's in tests/op_cases_<family>.py; what a row says, the input
domains and views are in op_case_kit.py).

Adding a primitive means adding rows: a completeness test fails until every primitive has one.
Composite functions (mean, expand_dims, sum_to) and the Tensor operators and methods have rows
too, under the name of the composite or of the primitive that the operator records.
"""

from __future__ import annotations

import numpy as np
import op_cases_array
import op_cases_linalg
import op_cases_math
import op_cases_products
from op_case_kit import (  # noqa: F401  (re-exported: the tests import them from here)
    DOMAINS,
    VIEWS,
    OpCase,
    away_from,
    away_from_kink,
    big,
    big_offset,
    distinct,
    f32_exact,
    grid,
    indices,
    leaves,
    mask,
    offgrid,
    positive,
    real,
)

import autograd_core as ag
from autograd_core import kernels, ops

# ---- NumPy references that NumPy does not have under one name ---------------------------------


def np_logsumexp(x, axis=-1, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    if keepdims:
        return out
    return np.squeeze(out, axis=tuple(range(x.ndim)) if axis is None else axis)


def np_softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def np_log_softmax(x, axis=-1):
    return x - np_logsumexp(x, axis=axis, keepdims=True)


def np_sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))  # no exp: no overflow for any x


def np_scatter_add(g, index, shape):
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, index, g)
    return out


def np_windows(x, size, stride):
    """Windows by explicit loops (independent of sliding_window_view)."""
    k = len(size)
    lead, spatial = x.shape[:-k], x.shape[-k:]
    outsz = [(n - w) // s + 1 for n, w, s in zip(spatial, size, stride, strict=True)]
    out = np.zeros(lead + tuple(outsz) + tuple(size), dtype=x.dtype)
    for pos in np.ndindex(*outsz):
        src = tuple(slice(p * s, p * s + w) for p, s, w in zip(pos, stride, size, strict=True))
        out[(Ellipsis,) + pos + (slice(None),) * k] = x[(Ellipsis,) + src]
    return out


def np_conv2d(x, w, b, stride, padding):
    """Cross-correlation by explicit window loops (independent of the engine's im2col)."""
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    win = np_windows(xp, w.shape[2:], stride)  # (N, C, Ho, Wo, kh, kw)
    out = np.einsum("nchwij,ocij->nohw", win, w)
    return out if b is None else out + b[:, None, None]


def np_windows_transpose(g, shape, size, stride):
    k = len(size)
    out = np.zeros(shape, dtype=g.dtype)
    outsz = g.shape[len(shape) - k: len(shape)]
    for pos in np.ndindex(*outsz):
        dst = tuple(slice(p * s, p * s + w) for p, s, w in zip(pos, stride, size, strict=True))
        out[(Ellipsis,) + dst] += g[(Ellipsis,) + pos + (slice(None),) * k]
    return out


GEOM_S1 = kernels.conv_geometry((2, 2, 4, 3), (3, 2, 3, 2), (1, 1), (1, 1))
GEOM_S2 = kernels.conv_geometry((1, 2, 5, 5), (1, 2, 3, 3), (2, 2), (0, 0))


def np_im2col(x, geom):
    """Columns (N, C·kh·kw, rows·cols of the output grid) by explicit window loops; stride 1
    keeps the kernel's junk columns (Note [conv2d layout]), here zero where a window runs past
    the padded input."""
    xp = np.pad(x, ((0, 0), (0, 0), (geom.ph,) * 2, (geom.pw,) * 2))
    (gh, gw), (kh, kw) = geom.grid, (geom.kh, geom.kw)
    xp = np.pad(xp, ((0, 0), (0, 0), (0, 1), (0, kw)))  # room for the junk windows
    cols = np.zeros((geom.n, geom.c, kh, kw, gh, gw))
    for h, w, i, j in np.ndindex(gh, gw, kh, kw):
        r, c = h * geom.sh + i, w * geom.sw + j
        if geom.flat and w * geom.sw + kw > xp.shape[3] - kw:  # a junk window wraps to the next row
            r, c = r + (c // (xp.shape[3] - kw)), c % (xp.shape[3] - kw)
        cols[:, :, i, j, h, w] = xp[:, :, r, c]
    return cols.reshape(geom.n, geom.c * kh * kw, gh * gw)


def np_col2im(cols, geom):
    """The adjoint of `np_im2col`, from its matrix: columns back to the input's shape."""
    shape = (geom.n, geom.c, geom.h, geom.w)
    out = np.zeros(shape)
    for idx in np.ndindex(*shape):
        e = np.zeros(shape)
        e[idx] = 1.0
        out[idx] = np.sum(np_im2col(e, geom) * cols)
    return out


COLS_S1 = (2, 2 * 3 * 2, GEOM_S1.grid[0] * GEOM_S1.grid[1])
COLS_S2 = (1, 2 * 3 * 3, GEOM_S2.grid[0] * GEOM_S2.grid[1])


def np_pad(pad_width):
    return lambda x: np.pad(x, pad_width)


# ---- the table ----------------------------------------------------------------------------------

REPEATED = np.array([0, 2, 0, 0])  # x[REPEATED]: backward must accumulate (np.add.at)
MASK_34 = np.array([[True, False, True, True],
                    [False, False, False, False],
                    [True, True, False, True]])
COND_31 = np.array([[True], [False], [True]])

OP_CASES: list[OpCase] = [
    # -- add / subtract / multiply / divide: same shape, scalars, broadcasting, views
    OpCase("add", "0d", lambda x, y: x + y, [(), ()], numpy_ref=np.add),
    OpCase("add", "1d", ag.add, [(5,), (5,)], numpy_ref=np.add),
    OpCase("add", "bcast_3x1x4_1x5x4", ag.add, [(3, 1, 4), (1, 5, 4)], numpy_ref=np.add),
    OpCase("add", "bcast_rank", ag.add, [(2, 3, 4), (4,)], numpy_ref=np.add),
    OpCase("add", "bcast_0d", ag.add, [(2, 3), ()], numpy_ref=np.add),
    OpCase("add", "views_T_step", ag.add, [(3, 4), (3, 4)], view=("T", "step"), numpy_ref=np.add),
    OpCase("add", "view_bcast", ag.add, [(3, 4), (3, 4)], view=("bcast", None), numpy_ref=np.add),
    OpCase("add", "same_tensor_twice", lambda x: x + x, [(3,)], numpy_ref=lambda x: x + x),
    OpCase("add", "radd_scalar", lambda x: 2.0 + x, [(2, 3)], numpy_ref=lambda x: 2.0 + x),
    OpCase("add", "zero_size", ag.add, [(0, 3), (1, 3)], numpy_ref=np.add),
    OpCase("subtract", "2d", lambda x, y: x - y, [(3, 4), (3, 4)], numpy_ref=np.subtract),
    OpCase("subtract", "bcast", ag.subtract, [(3, 1), (1, 4)], numpy_ref=np.subtract),
    OpCase("subtract", "rsub_scalar", lambda x: 1.0 - x, [(4,)], numpy_ref=lambda x: 1.0 - x),
    OpCase("subtract", "flip_view", ag.subtract, [(4, 2), (2,)], view=("flip", None),
           numpy_ref=np.subtract),
    OpCase("multiply", "2d", lambda x, y: x * y, [(3, 4), (3, 4)], numpy_ref=np.multiply),
    OpCase("multiply", "bcast_3x1x4_1x5x4", ag.multiply, [(3, 1, 4), (1, 5, 4)],
           numpy_ref=np.multiply),
    OpCase("multiply", "bcast_0d", ag.multiply, [(), (2, 3)], numpy_ref=np.multiply),
    OpCase("multiply", "scalar", lambda x: x * 3.0, [(2, 2)], numpy_ref=lambda x: x * 3.0),
    OpCase("multiply", "rmul_scalar", lambda x: -2.0 * x, [(3,)], numpy_ref=lambda x: -2.0 * x),
    OpCase("multiply", "square_self", lambda x: x * x, [(4,)], numpy_ref=lambda x: x * x),
    OpCase("multiply", "T_view", ag.multiply, [(4, 3), (4, 3)], view=("T", None),
           numpy_ref=np.multiply),
    OpCase("divide", "2d", lambda x, y: x / y, [(3, 4), (3, 4)], ("real", "away_from_kink"),
           numpy_ref=np.divide),
    OpCase("divide", "bcast", ag.divide, [(3, 1, 4), (5, 1)], ("real", "away_from_kink"),
           numpy_ref=np.divide),
    OpCase("divide", "rtruediv_scalar", lambda x: 1.0 / x, [(5,)], "away_from_kink",
           numpy_ref=lambda x: 1.0 / x),
    OpCase("divide", "by_scalar", lambda x: x / 4.0, [(2, 3)], numpy_ref=lambda x: x / 4.0),
    OpCase("divide", "0d_by_1d", ag.divide, [(), (3,)], ("real", "away_from_kink"),
           numpy_ref=np.divide),
    OpCase("negative", "2d", lambda x: -x, [(3, 2)], numpy_ref=np.negative),
    OpCase("negative", "0d", ag.ops.negative, [()], numpy_ref=np.negative),
    OpCase("negative", "step_view", ag.ops.negative, [(3, 2)], view="step", numpy_ref=np.negative),
    # -- power: constant exponents (any base), tensor exponents (positive base), broadcasting
    OpCase("power", "cube", lambda x: x ** 3, [(2, 3)], numpy_ref=lambda x: x ** 3),
    OpCase("power", "square_0d", lambda x: x ** 2, [()], numpy_ref=lambda x: x ** 2),
    OpCase("power", "fractional", lambda x: x ** 2.5, [(4,)], "positive",
           numpy_ref=lambda x: x ** 2.5),
    OpCase("power", "negative_exp", lambda x: x ** -1.5, [(4,)], "positive",
           numpy_ref=lambda x: x ** -1.5),
    OpCase("power", "tensor_exponent", lambda x, y: x ** y, [(3, 4), (3, 4)], ("positive", "real"),
           numpy_ref=np.power),
    OpCase("power", "tensor_exponent_bcast", ag.power, [(3, 1), (1, 4)], ("positive", "real"),
           numpy_ref=np.power),
    OpCase("power", "rpow_scalar_base", lambda y: 2.0 ** y, [(5,)], numpy_ref=lambda y: 2.0 ** y),
    OpCase("power", "0d_exponent", ag.power, [(2, 3), ()], ("positive", "real"),
           numpy_ref=np.power),
    # -- elementwise functions
    OpCase("exp", "2d", ag.exp, [(3, 4)], numpy_ref=np.exp),
    OpCase("exp", "0d_method", lambda x: x.exp(), [()], numpy_ref=np.exp),
    OpCase("exp", "T_view", ag.exp, [(2, 3, 4)], view="T", numpy_ref=np.exp),
    OpCase("log", "2d", ag.log, [(3, 4)], "positive", numpy_ref=np.log),
    OpCase("log1p", "2d", ag.log1p, [(3, 4)], "positive", numpy_ref=np.log1p),
    OpCase("log", "method_step_view", lambda x: x.log(), [(3, 2)], "positive", view="step",
           numpy_ref=np.log),
    OpCase("sqrt", "1d", ag.sqrt, [(5,)], "positive", numpy_ref=np.sqrt),
    OpCase("sqrt", "0d_method", lambda x: x.sqrt(), [()], "positive", numpy_ref=np.sqrt),
    OpCase("tanh", "2d", ag.tanh, [(3, 4)], numpy_ref=np.tanh),
    OpCase("tanh", "method_0d", lambda x: x.tanh(), [()], numpy_ref=np.tanh),
    OpCase("sigmoid", "2d", ag.sigmoid, [(3, 4)], numpy_ref=np_sigmoid),
    OpCase("sigmoid", "large_magnitude", ag.sigmoid, [(6,)],
           lambda rng, s: 30 * rng.standard_normal(s), numpy_ref=np_sigmoid),
    OpCase("sigmoid", "method_1d", lambda x: x.sigmoid(), [(4,)], numpy_ref=np_sigmoid),
    # the slope s/(1 + e^x), checked in both of its inputs (sigmoid's VJP passes s = σ(x))
    OpCase("sigmoid_slope", "2d", ops._sigmoid_slope, [(3, 4), (3, 4)], ("real", "positive"),
           numpy_ref=lambda x, s: s / (1 + np.exp(x))),
    OpCase("sigmoid_slope", "of_sigmoid_large", lambda x: ops._sigmoid_slope(x, ag.sigmoid(x)), [(6,)],
           lambda rng, s: 30 * rng.standard_normal(s), numpy_ref=lambda x: np_sigmoid(x) * np_sigmoid(-x)),
    OpCase("sign", "2d", ag.sign, [(3, 4)], "away_from_kink", numpy_ref=np.sign, no_grad=True),
    OpCase("abs", "2d", ag.abs, [(3, 4)], "away_from_kink", numpy_ref=np.abs),
    OpCase("abs", "method_T_view", lambda x: x.abs(), [(2, 3)], "away_from_kink", view="T",
           numpy_ref=np.abs),
    OpCase("relu", "2d", ag.relu, [(3, 4)], "away_from_kink", numpy_ref=lambda x: np.maximum(x, 0)),
    OpCase("relu", "method_0d", lambda x: x.relu(), [()], "away_from_kink",
           numpy_ref=lambda x: np.maximum(x, 0)),
    OpCase("identity", "2d", ops._identity, [(3, 2)], numpy_ref=lambda x: x),
    OpCase("identity", "0d", ops._identity, [()], numpy_ref=lambda x: x),
    # -- clip: both bounds, one bound, none, array bounds; inputs away from the bounds
    OpCase("clip", "lo_hi", lambda x: ag.clip(x, -0.5, 0.5), [(3, 4)], away_from(-0.5, 0.5),
           numpy_ref=lambda x: np.clip(x, -0.5, 0.5)),
    OpCase("clip", "lo_only", lambda x: ag.clip(x, lo=0.3), [(6,)], away_from(0.3),
           numpy_ref=lambda x: np.maximum(x, 0.3)),
    OpCase("clip", "hi_only_method", lambda x: x.clip(hi=-0.2), [(2, 3)], away_from(-0.2),
           numpy_ref=lambda x: np.minimum(x, -0.2)),
    OpCase("clip", "no_bounds", lambda x: ag.clip(x), [(2, 3)], numpy_ref=lambda x: x.copy()),
    OpCase("clip", "array_bounds", lambda x: ag.clip(x, np.array([-1.0, 0.0, 0.5]), 1.0), [(2, 3)],
           away_from(-1.0, 0.0, 0.5, 1.0, margin=0.1),
           numpy_ref=lambda x: np.clip(x, np.array([-1.0, 0.0, 0.5]), 1.0),
           out_dtype=np.dtype(np.float64)),  # NumPy promotion: float64 bounds, float64 result
    # -- where: constant condition (closure), a bool input, broadcasting
    OpCase("where", "const_cond", lambda x, y: ag.where(MASK_34, x, y), [(3, 4), (3, 4)],
           numpy_ref=lambda x, y: np.where(MASK_34, x, y)),
    OpCase("where", "bcast", lambda x, y: ag.where(COND_31, x, y), [(1, 4), (3, 4)],
           numpy_ref=lambda x, y: np.where(COND_31, x, y)),
    OpCase("where", "bcast_0d_y", lambda x, y: ag.where(COND_31, x, y), [(3, 4), ()],
           numpy_ref=lambda x, y: np.where(COND_31, x, y)),
    OpCase("where", "bool_input", ag.where, [(2, 3), (2, 3), (2, 3)], ("mask", "real", "real"),
           numpy_ref=np.where),
    OpCase("where", "scalar_y", lambda x: ag.where(MASK_34, x, 0.0), [(3, 4)],
           numpy_ref=lambda x: np.where(MASK_34, x, 0.0)),
    OpCase("where", "data_cond", lambda x: ag.where(x > 0, x, x * 0.1), [(3, 4)], "away_from_kink",
           numpy_ref=lambda x: np.where(x > 0, x, x * 0.1)),
    # -- maximum / minimum: inputs from interleaved grids, never tied
    OpCase("maximum", "2d", ag.maximum, [(3, 4), (3, 4)], ("grid", "offgrid"),
           numpy_ref=np.maximum),
    OpCase("maximum", "bcast", ag.maximum, [(3, 1, 4), (1, 5, 4)], ("grid", "offgrid"),
           numpy_ref=np.maximum),
    OpCase("maximum", "0d_vs_2d", ag.maximum, [(), (2, 3)], ("offgrid", "grid"),
           numpy_ref=np.maximum),
    OpCase("minimum", "2d", ag.minimum, [(3, 4), (3, 4)], ("grid", "offgrid"),
           numpy_ref=np.minimum),
    OpCase("minimum", "bcast_T_view", ag.minimum, [(4, 3), (3,)], ("offgrid", "grid"),
           view=("T", None), numpy_ref=np.minimum),
    # -- astype: exact-in-float32 inputs, step 2**-8 (central differences exact in float32 too)
    OpCase("astype", "to_float32", lambda x: ag.astype(x, dtype=np.float32), [(3, 4)], "f32_exact",
           numpy_ref=lambda x: x.astype(np.float32), out_dtype=np.dtype(np.float32),
           check={"eps": 2.0 ** -8}),
    OpCase("astype", "to_float64", lambda x: ag.astype(x, dtype=np.float64), [(3, 4)],
           numpy_ref=lambda x: x.astype(np.float64), out_dtype=np.dtype(np.float64)),
    OpCase("astype", "roundtrip_method", lambda x: x.astype(np.float32).astype(np.float64),
           [(5,)], "f32_exact", numpy_ref=lambda x: x.astype(np.float32).astype(np.float64),
           out_dtype=np.dtype(np.float64), check={"eps": 2.0 ** -8}),
    # -- matmul: 1-D, 2-D, batched, broadcast batch, operator
    # -- linear (fused x @ W.T + b) and softmax_cross_entropy (fused, integer labels)
    OpCase("linear", "2d_bias", ag.linear, [(5, 4), (3, 4), (3,)],
           numpy_ref=lambda x, W, b: x @ W.T + b),
    OpCase("linear", "no_bias", lambda x, W: ag.linear(x, W), [(5, 4), (3, 4)],
           numpy_ref=lambda x, W: x @ W.T),
    OpCase("linear", "batched_3d_T_view", ag.linear, [(2, 5, 4), (3, 4), (3,)], view=(None, "T", None),
           numpy_ref=lambda x, W, b: x @ W.T + b),
    OpCase("linear", "1d_input", ag.linear, [(4,), (3, 4), (3,)],
           numpy_ref=lambda x, W, b: x @ W.T + b),
    OpCase("softmax_cross_entropy", "labels",
           lambda u: ag.softmax_cross_entropy(u, np.array([0, 2, 1, 2])), [(4, 3)],
           numpy_ref=lambda u: np_logsumexp(u, axis=1) - u[np.arange(4), [0, 2, 1, 2]]),
    OpCase("softmax_cross_entropy", "huge_logits",
           lambda u: ag.softmax_cross_entropy(u, np.array([1, 0, 4])), [(3, 5)], "big",
           numpy_ref=lambda u: np_logsumexp(u, axis=1) - u[np.arange(3), [1, 0, 4]]),
    OpCase("matmul", "1d_1d", ag.matmul, [(4,), (4,)], numpy_ref=np.matmul),
    OpCase("matmul", "1d_2d", ag.matmul, [(3,), (3, 4)], numpy_ref=np.matmul),
    OpCase("matmul", "2d_1d", ag.matmul, [(3, 4), (4,)], numpy_ref=np.matmul),
    OpCase("matmul", "2d_2d_op", lambda x, y: x @ y, [(2, 3), (3, 4)], numpy_ref=np.matmul),
    OpCase("matmul", "2d_2d_T_views", ag.matmul, [(2, 3), (3, 4)], view=("T", "T"),
           numpy_ref=np.matmul),
    OpCase("matmul", "batched", ag.matmul, [(2, 3, 4), (2, 4, 5)], numpy_ref=np.matmul),
    OpCase("matmul", "bcast_view_batch", ag.matmul, [(3, 2, 4), (4, 2)],
           view=("bcast", "step_last"), numpy_ref=np.matmul),
    OpCase("matmul", "bcast_batch", ag.matmul, [(2, 1, 3, 4), (5, 4, 2)], numpy_ref=np.matmul),
    OpCase("matmul", "2d_batched", ag.matmul, [(3, 4), (2, 4, 2)], numpy_ref=np.matmul),
    OpCase("matmul", "1d_batched", ag.matmul, [(4,), (2, 4, 3)], numpy_ref=np.matmul),
    OpCase("matmul", "batched_1d", ag.matmul, [(2, 3, 4), (4,)], numpy_ref=np.matmul),
    OpCase("matmul", "rmatmul_const", lambda x: np.ones((2, 3)) @ x, [(3, 4)],
           numpy_ref=lambda x: np.ones((2, 3)) @ x, out_dtype=np.dtype(np.float64)),
    # -- einsum
    OpCase("einsum", "matmul", lambda a, b: ag.einsum("ij,jk->ik", a, b), [(2, 3), (3, 4)],
           numpy_ref=lambda a, b: np.einsum("ij,jk->ik", a, b)),
    OpCase("einsum", "batched", lambda a, b: ag.einsum("bij,bjk->bik", a, b),
           [(2, 3, 4), (2, 4, 2)],
           numpy_ref=lambda a, b: np.einsum("bij,bjk->bik", a, b)),
    OpCase("einsum", "full_contraction", lambda a, b: ag.einsum("ij,ij->", a, b), [(3, 4), (3, 4)],
           numpy_ref=lambda a, b: np.einsum("ij,ij->", a, b)),
    OpCase("einsum", "row_sum_one_operand", lambda a: ag.einsum("ij->i", a), [(3, 4)],
           numpy_ref=lambda a: np.einsum("ij->i", a)),
    OpCase("einsum", "index_summed_in_one_operand", lambda a, b: ag.einsum("ij,k->i", a, b),
           [(3, 4), (5,)], numpy_ref=lambda a, b: np.einsum("ij,k->i", a, b)),
    OpCase("einsum", "implicit", lambda a, b: ag.einsum("ij,jk", a, b), [(2, 3), (3, 4)],
           numpy_ref=lambda a, b: np.einsum("ij,jk", a, b)),
    OpCase("einsum", "implicit_transpose", lambda a: ag.einsum("ji", a), [(2, 3)],
           numpy_ref=lambda a: np.einsum("ji", a)),
    OpCase("einsum", "ellipsis", lambda a, b: ag.einsum("...ij,...jk->...ik", a, b),
           [(2, 3, 4), (2, 4, 2)], numpy_ref=lambda a, b: np.einsum("...ij,...jk->...ik", a, b)),
    OpCase("einsum", "ellipsis_bcast", lambda a, b: ag.einsum("...ij,...j->...i", a, b),
           [(2, 1, 3, 4), (5, 4)], numpy_ref=lambda a, b: np.einsum("...ij,...j->...i", a, b)),
    OpCase("einsum", "diagonal", lambda a: ag.einsum("ii->i", a), [(3, 3)],
           numpy_ref=lambda a: np.einsum("ii->i", a)),
    OpCase("einsum", "trace_implicit", lambda a: ag.einsum("ii", a), [(3, 3)], view="T",
           numpy_ref=lambda a: np.einsum("ii", a)),
    OpCase("einsum", "diagonal_with_other_operand", lambda a, b: ag.einsum("iij,j->ij", a, b),
           [(3, 3, 2), (2,)], numpy_ref=lambda a, b: np.einsum("iij,j->ij", a, b)),
    OpCase("einsum", "batched_diagonal_ellipsis", lambda a: ag.einsum("...ii->...i", a), [(2, 3, 3)],
           numpy_ref=lambda a: np.einsum("...ii->...i", a)),
    OpCase("einsum", "sublist", lambda a, b: ag.einsum(a, [0, 1], b, [1, 2], [0, 2]), [(2, 3), (3, 4)],
           numpy_ref=lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [0, 2])),
    OpCase("einsum", "sublist_implicit_ellipsis", lambda a: ag.einsum(a, [Ellipsis, 0, 0]), [(2, 3, 3)],
           numpy_ref=lambda a: np.einsum(a, [Ellipsis, 0, 0])),
    OpCase("einsum", "outer", lambda a, b: ag.einsum("i,j->ij", a, b), [(3,), (4,)],
           numpy_ref=lambda a, b: np.einsum("i,j->ij", a, b)),
    OpCase("einsum", "three_operands", lambda a, b, c: ag.einsum("ij,jk,kl->il", a, b, c),
           [(2, 3), (3, 4), (4, 2)], numpy_ref=lambda a, b, c: np.einsum("ij,jk,kl->il", a, b, c)),
    OpCase("einsum", "contract_to_middle", lambda a, b: ag.einsum("ijk,ik->j", a, b),
           [(2, 3, 4), (2, 4)], numpy_ref=lambda a, b: np.einsum("ijk,ik->j", a, b)),
    OpCase("einsum", "T_view_operand", lambda a, b: ag.einsum("ij,jk->ki", a, b), [(3, 2), (2, 4)],
           view=("T", None), numpy_ref=lambda a, b: np.einsum("ij,jk->ki", a, b)),
    # -- reductions: sum (incl. zero-size), max/min (distinct values), logsumexp (large logits)
    OpCase("sum", "all", ag.sum, [(3, 4)], numpy_ref=np.sum),
    OpCase("sum", "0d", ag.sum, [()], numpy_ref=np.sum),
    OpCase("sum", "axis0", lambda x: ag.sum(x, axis=0), [(3, 4)],
           numpy_ref=lambda x: np.sum(x, axis=0)),
    OpCase("sum", "neg_axis_keepdims", lambda x: ag.sum(x, axis=-1, keepdims=True), [(2, 3, 4)],
           numpy_ref=lambda x: np.sum(x, axis=-1, keepdims=True)),
    OpCase("sum", "axis_tuple", lambda x: x.sum(axis=(0, 2)), [(2, 3, 4)],
           numpy_ref=lambda x: np.sum(x, axis=(0, 2))),
    OpCase("sum", "neg_axis_tuple_keepdims", lambda x: ag.sum(x, axis=(-1, 0), keepdims=True),
           [(2, 3, 4)], numpy_ref=lambda x: np.sum(x, axis=(-1, 0), keepdims=True)),
    OpCase("sum", "size1_axis", lambda x: ag.sum(x, axis=1), [(3, 1, 2)],
           numpy_ref=lambda x: np.sum(x, axis=1)),
    OpCase("sum", "empty_axis", lambda x: ag.sum(x, axis=1), [(3, 0)],
           numpy_ref=lambda x: np.sum(x, axis=1)),
    OpCase("sum", "empty_all", ag.sum, [(0, 2)], numpy_ref=np.sum),
    OpCase("sum", "T_view_axis", lambda x: ag.sum(x, axis=0), [(3, 4)], view="T",
           numpy_ref=lambda x: np.sum(x, axis=0)),
    OpCase("sum", "bcast_view", lambda x: ag.sum(x, axis=0), [(3, 2)], view="bcast",
           numpy_ref=lambda x: np.sum(x, axis=0)),
    OpCase("max", "all", ag.max, [(3, 4)], "distinct", numpy_ref=np.max),
    OpCase("max", "axis1_method", lambda x: x.max(axis=1), [(3, 4)], "distinct",
           numpy_ref=lambda x: np.max(x, axis=1)),
    OpCase("max", "neg_axis_keepdims", lambda x: ag.max(x, axis=-2, keepdims=True), [(2, 3, 4)],
           "distinct", numpy_ref=lambda x: np.max(x, axis=-2, keepdims=True)),
    OpCase("max", "axis_tuple", lambda x: ag.max(x, axis=(0, 2)), [(2, 3, 4)], "distinct",
           numpy_ref=lambda x: np.max(x, axis=(0, 2))),
    OpCase("max", "0d", ag.max, [()], numpy_ref=np.max),
    OpCase("min", "all", ag.min, [(3, 4)], "distinct", numpy_ref=np.min),
    OpCase("min", "axis0_keepdims_method", lambda x: x.min(axis=0, keepdims=True), [(3, 4)],
           "distinct",
           numpy_ref=lambda x: np.min(x, axis=0, keepdims=True)),
    OpCase("min", "axis_tuple_neg", lambda x: ag.min(x, axis=(-1, 1)), [(2, 3, 4)], "distinct",
           numpy_ref=lambda x: np.min(x, axis=(-1, 1))),
    OpCase("logsumexp", "default_axis", ag.logsumexp, [(3, 4)], numpy_ref=np_logsumexp),
    OpCase("logsumexp", "axis0_keepdims", lambda x: ag.logsumexp(x, axis=0, keepdims=True),
           [(3, 4)],
           numpy_ref=lambda x: np_logsumexp(x, axis=0, keepdims=True)),
    OpCase("logsumexp", "axis_none", lambda x: ag.logsumexp(x, axis=None), [(2, 3)],
           numpy_ref=lambda x: np_logsumexp(x, axis=None)),
    OpCase("logsumexp", "axis_tuple", lambda x: ag.logsumexp(x, axis=(0, -1)), [(2, 3, 4)],
           numpy_ref=lambda x: np_logsumexp(x, axis=(0, -1))),
    OpCase("logsumexp", "0d", lambda x: ag.logsumexp(x, axis=None), [()],
           numpy_ref=lambda x: np_logsumexp(x, axis=None)),
    OpCase("logsumexp", "huge_logits", ag.logsumexp, [(3, 5)], "big", numpy_ref=np_logsumexp),
    OpCase("logsumexp", "huge_offset", lambda x: ag.logsumexp(x, axis=0), [(4, 3)], "big_offset",
           numpy_ref=lambda x: np_logsumexp(x, axis=0)),
    # -- softmax / log_softmax
    OpCase("softmax", "2d", ag.softmax, [(3, 4)], numpy_ref=np_softmax),
    OpCase("softmax", "1d", ag.softmax, [(5,)], numpy_ref=np_softmax),
    OpCase("softmax", "step_last_view", ag.softmax, [(3, 4)], view="step_last",
           numpy_ref=np_softmax),
    OpCase("softmax", "axis0", lambda x: ag.softmax(x, axis=0), [(3, 4)],
           numpy_ref=lambda x: np_softmax(x, axis=0)),
    OpCase("softmax", "3d_axis1", lambda x: ag.softmax(x, axis=1), [(2, 3, 4)],
           numpy_ref=lambda x: np_softmax(x, axis=1)),
    OpCase("softmax", "huge_logits", ag.softmax, [(3, 5)], "big", numpy_ref=np_softmax),
    OpCase("softmax", "huge_offset", ag.softmax, [(3, 5)], "big_offset", numpy_ref=np_softmax),
    OpCase("log_softmax", "2d", ag.log_softmax, [(3, 4)], numpy_ref=np_log_softmax),
    OpCase("log_softmax", "axis0", lambda x: ag.log_softmax(x, axis=0), [(3, 4)],
           numpy_ref=lambda x: np_log_softmax(x, axis=0)),
    OpCase("log_softmax", "huge_logits", ag.log_softmax, [(3, 5)], "big", numpy_ref=np_log_softmax),
    OpCase("log_softmax", "huge_offset", lambda x: ag.log_softmax(x, axis=-2), [(4, 3)],
           "big_offset", numpy_ref=lambda x: np_log_softmax(x, axis=-2)),
    # -- shape ops
    OpCase("reshape", "flat_minus1", lambda x: ag.reshape(x, -1), [(3, 4)],
           numpy_ref=lambda x: x.reshape(-1)),
    OpCase("reshape", "method_varargs", lambda x: x.reshape(2, -1, 3), [(3, 4)],
           numpy_ref=lambda x: x.reshape(2, -1, 3)),
    OpCase("reshape", "to_0d", lambda x: ag.reshape(x, ()), [(1,)],
           numpy_ref=lambda x: x.reshape(())),
    OpCase("reshape", "from_0d", lambda x: ag.reshape(x, (1, 1)), [()],
           numpy_ref=lambda x: x.reshape(1, 1)),
    OpCase("reshape", "T_view", lambda x: ag.reshape(x, (6, 2)), [(3, 4)], view="T",
           numpy_ref=lambda x: x.reshape(6, 2)),
    OpCase("reshape", "zero_size", lambda x: ag.reshape(x, (3, 0, 2)), [(0, 6)],
           numpy_ref=lambda x: x.reshape(3, 0, 2)),
    OpCase("transpose", "T", lambda x: x.T, [(3, 4)], numpy_ref=lambda x: x.T),
    OpCase("transpose", "axes", lambda x: ag.transpose(x, axes=(1, 0, 2)), [(2, 3, 4)],
           numpy_ref=lambda x: np.transpose(x, (1, 0, 2))),
    OpCase("transpose", "neg_axes", lambda x: ag.transpose(x, axes=(-1, 0, 1)), [(2, 3, 4)],
           numpy_ref=lambda x: np.transpose(x, (-1, 0, 1))),
    OpCase("transpose", "method_axes", lambda x: x.transpose(2, 0, 1), [(2, 3, 4)],
           numpy_ref=lambda x: np.transpose(x, (2, 0, 1))),
    OpCase("transpose", "0d", ag.transpose, [()], numpy_ref=np.transpose),
    OpCase("broadcast_to", "col_to_3d", lambda x: ag.broadcast_to(x, (2, 3, 4)), [(3, 1)],
           numpy_ref=lambda x: np.broadcast_to(x, (2, 3, 4))),
    OpCase("broadcast_to", "0d", lambda x: ag.broadcast_to(x, (2, 3)), [()],
           numpy_ref=lambda x: np.broadcast_to(x, (2, 3))),
    OpCase("broadcast_to", "same_shape", lambda x: ag.broadcast_to(x, (2, 3)), [(2, 3)],
           numpy_ref=lambda x: np.broadcast_to(x, (2, 3))),
    OpCase("broadcast_to", "one_element", lambda x: ag.broadcast_to(x, (2, 1, 3)), [(1, 1)],
           numpy_ref=lambda x: np.broadcast_to(x, (2, 1, 3))),
    OpCase("broadcast_to", "one_element_to_empty", lambda x: ag.broadcast_to(x, (0, 3)), [(1,)],
           numpy_ref=lambda x: np.broadcast_to(x, (0, 3))),
    OpCase("expand_dims", "axis0", lambda x: ag.expand_dims(x, 0), [(3, 4)],
           numpy_ref=lambda x: np.expand_dims(x, 0)),
    OpCase("expand_dims", "neg_axis", lambda x: ag.expand_dims(x, -1), [(3, 4)],
           numpy_ref=lambda x: np.expand_dims(x, -1)),
    OpCase("expand_dims", "middle_0d", lambda x: ag.expand_dims(x, 0), [()],
           numpy_ref=lambda x: np.expand_dims(x, 0)),
    OpCase("sum_to", "leading_and_size1", lambda x: ag.sum_to(x, (3, 1)), [(2, 3, 4)],
           numpy_ref=lambda x: x.sum(axis=(0, 2)).reshape(3, 1)),
    OpCase("sum_to", "to_0d", lambda x: ag.sum_to(x, ()), [(2, 3)], numpy_ref=lambda x: x.sum()),
    OpCase("sum_to", "identity", lambda x: ag.sum_to(x, (2, 3)), [(2, 3)], numpy_ref=lambda x: x),
    OpCase("mean", "all", ag.mean, [(3, 4)], numpy_ref=np.mean),
    OpCase("mean", "axis_method", lambda x: x.mean(axis=1), [(3, 4)],
           numpy_ref=lambda x: np.mean(x, axis=1)),
    OpCase("mean", "axis_tuple_keepdims", lambda x: ag.mean(x, axis=(0, -1), keepdims=True),
           [(2, 3, 4)],
           numpy_ref=lambda x: np.mean(x, axis=(0, -1), keepdims=True)),
    OpCase("mean", "zero_size_kept_axis", lambda x: ag.mean(x, axis=1), [(0, 3)],
           numpy_ref=lambda x: np.mean(x, axis=1)),
    OpCase("mean", "0d", ag.mean, [()], numpy_ref=np.mean),
    OpCase("mean", "T_view_axis", lambda x: ag.mean(x, axis=0), [(3, 4)], view="T",
           numpy_ref=lambda x: np.mean(x, axis=0)),
    # -- getitem: basic, negative steps, None/Ellipsis, integer arrays (repeated!), masks
    OpCase("getitem", "int", lambda x: x[1], [(3, 4)], numpy_ref=lambda x: x[1]),
    OpCase("getitem", "int_to_0d", lambda x: x[2], [(5,)], numpy_ref=lambda x: x[2]),
    OpCase("getitem", "slice", lambda x: x[1:3], [(4, 3)], numpy_ref=lambda x: x[1:3]),
    OpCase("getitem", "neg_step", lambda x: x[::-1], [(5,)], numpy_ref=lambda x: x[::-1]),
    OpCase("getitem", "neg_step_2d", lambda x: x[::-2, 3:0:-1], [(5, 4)],
           numpy_ref=lambda x: x[::-2, 3:0:-1]),
    OpCase("getitem", "none_ellipsis", lambda x: x[None, ..., 1], [(2, 3, 4)],
           numpy_ref=lambda x: x[None, ..., 1]),
    OpCase("getitem", "repeated_int_array", lambda x: x[REPEATED], [(4,)],
           numpy_ref=lambda x: x[REPEATED]),
    OpCase("getitem", "repeated_list_rows", lambda x: x[[0, 2, 0, 0]], [(3, 2)],
           numpy_ref=lambda x: x[[0, 2, 0, 0]]),
    OpCase("getitem", "repeated_cols", lambda x: x[:, np.array([1, 1, 0])], [(2, 3)],
           numpy_ref=lambda x: x[:, np.array([1, 1, 0])]),
    OpCase("getitem", "repeated_pairs_2d", lambda x: x[np.array([0, 1, 0]), np.array([2, 0, 2])],
           [(2, 3)], numpy_ref=lambda x: x[np.array([0, 1, 0]), np.array([2, 0, 2])]),
    OpCase("getitem", "neg_int_array", lambda x: x[np.array([-1, 0, -1])], [(3,)],
           numpy_ref=lambda x: x[np.array([-1, 0, -1])]),
    OpCase("getitem", "mixed_array_slice", lambda x: x[[2, 2, 0], 1:], [(3, 4)],
           numpy_ref=lambda x: x[[2, 2, 0], 1:]),
    OpCase("getitem", "tensor_index", lambda x: x[ag.tensor(np.array([1, 1, 0]))], [(2, 3)],
           numpy_ref=lambda x: x[np.array([1, 1, 0])]),
    OpCase("getitem", "index_input", lambda x, i: x[i], [(4, 3), (6,)], ("real", indices(4)),
           numpy_ref=lambda x, i: x[i]),
    OpCase("getitem", "bool_mask", lambda x: x[MASK_34], [(3, 4)], numpy_ref=lambda x: x[MASK_34]),
    OpCase("getitem", "tensor_mask", lambda x: x[x > 0], [(3, 4)], "away_from_kink",
           numpy_ref=lambda x: x[x > 0]),
    OpCase("getitem", "T_view_slice", lambda x: x[1:, ::2], [(3, 4)], view="T",
           numpy_ref=lambda x: x[1:, ::2]),
    OpCase("getitem", "empty_slice", lambda x: x[2:2], [(3, 2)], numpy_ref=lambda x: x[2:2]),
    # -- scatter_add (getitem's VJP, called directly)
    OpCase("scatter_add", "repeated", lambda g: ops._scatter_add(g, index=REPEATED, shape=(5,)),
           [(4,)],
           numpy_ref=lambda g: np_scatter_add(g, REPEATED, (5,))),
    OpCase("scatter_add", "rows_2d",
           lambda g: ops._scatter_add(g, index=np.array([2, 0, 2]), shape=(3, 2)),
           [(3, 2)], numpy_ref=lambda g: np_scatter_add(g, np.array([2, 0, 2]), (3, 2))),
    OpCase("scatter_add", "slice",
           lambda g: ops._scatter_add(g, index=(slice(None), slice(1, 3)), shape=(2, 4)), [(2, 2)],
           numpy_ref=lambda g: np_scatter_add(g, (slice(None), slice(1, 3)), (2, 4))),
    OpCase("scatter_add", "mask", lambda g: ops._scatter_add(g, index=MASK_34, shape=(3, 4)), [(6,)],
           numpy_ref=lambda g: np_scatter_add(g, MASK_34, (3, 4))),
    # -- concatenate / stack
    OpCase("concatenate", "axis0", lambda a, b: ag.concatenate([a, b]), [(2, 3), (1, 3)],
           numpy_ref=lambda a, b: np.concatenate([a, b])),
    OpCase("concatenate", "axis1_three", lambda a, b, c: ag.concatenate([a, b, c], axis=1),
           [(2, 1), (2, 3), (2, 2)], numpy_ref=lambda a, b, c: np.concatenate([a, b, c], axis=1)),
    OpCase("concatenate", "neg_axis", lambda a, b: ag.concatenate([a, b], axis=-1),
           [(2, 3, 1), (2, 3, 2)],
           numpy_ref=lambda a, b: np.concatenate([a, b], axis=-1)),
    OpCase("concatenate", "empty_piece", lambda a, b, c: ag.concatenate([a, b, c]),
           [(2, 3), (0, 3), (1, 3)],
           numpy_ref=lambda a, b, c: np.concatenate([a, b, c])),
    OpCase("concatenate", "1d_views", lambda a, b: ag.concatenate([a, b]), [(3,), (2,)],
           view=("flip", "step"), numpy_ref=lambda a, b: np.concatenate([a, b])),
    OpCase("concatenate", "single", lambda a: ag.concatenate([a], axis=1), [(2, 3)],
           numpy_ref=lambda a: np.concatenate([a], axis=1)),
    OpCase("stack", "axis0", lambda a, b: ag.stack([a, b]), [(2, 3), (2, 3)],
           numpy_ref=lambda a, b: np.stack([a, b])),
    OpCase("stack", "axis1_three", lambda a, b, c: ag.stack([a, b, c], axis=1), [(2, 3)] * 3,
           numpy_ref=lambda a, b, c: np.stack([a, b, c], axis=1)),
    OpCase("stack", "neg_axis", lambda a, b: ag.stack([a, b], axis=-1), [(2, 3), (2, 3)],
           numpy_ref=lambda a, b: np.stack([a, b], axis=-1)),
    OpCase("stack", "0d", lambda a, b: ag.stack([a, b]), [(), ()],
           numpy_ref=lambda a, b: np.stack([a, b])),
    # -- pad
    OpCase("pad", "pairs_2d", lambda x: ag.pad(x, ((1, 2), (0, 1))), [(2, 3)],
           numpy_ref=np_pad(((1, 2), (0, 1)))),
    OpCase("pad", "int", lambda x: ag.pad(x, 1), [(2, 3)], numpy_ref=np_pad(1)),
    OpCase("pad", "one_pair_3d", lambda x: ag.pad(x, (2, 0)), [(1, 2, 2)],
           numpy_ref=np_pad((2, 0))),
    OpCase("pad", "1d_T_view", lambda x: ag.pad(x, ((0, 0), (1, 1))), [(2, 3)], view="T",
           numpy_ref=np_pad(((0, 0), (1, 1)))),
    # -- sliding windows (conv/pool im2col and col2im)
    OpCase("sliding_window", "2d_stride1", lambda x: ag.sliding_window(x, (2, 2)), [(2, 4, 4)],
           numpy_ref=lambda x: np_windows(x, (2, 2), (1, 1))),
    OpCase("sliding_window", "2d_stride2", lambda x: ag.sliding_window(x, (2, 3), stride=2),
           [(2, 5, 5)],
           numpy_ref=lambda x: np_windows(x, (2, 3), (2, 2))),
    OpCase("sliding_window", "2d_mixed_stride",
           lambda x: ag.sliding_window(x, (3, 2), stride=(1, 2)),
           [(4, 5)], numpy_ref=lambda x: np_windows(x, (3, 2), (1, 2))),
    OpCase("sliding_window", "1d", lambda x: ag.sliding_window(x, 3), [(6,)],
           numpy_ref=lambda x: np_windows(x, (3,), (1,))),
    OpCase("sliding_window", "1d_stride2_batched", lambda x: ag.sliding_window(x, 2, stride=2),
           [(2, 5)],
           numpy_ref=lambda x: np_windows(x, (2,), (2,))),
    OpCase("sliding_window", "whole", lambda x: ag.sliding_window(x, (3, 3)), [(3, 3)],
           numpy_ref=lambda x: np_windows(x, (3, 3), (1, 1))),
    OpCase("sliding_window", "T_view", lambda x: ag.sliding_window(x, (2, 2)), [(3, 4)], view="T",
           numpy_ref=lambda x: np_windows(x, (2, 2), (1, 1))),
    # conv2d: against loop-built windows contracted with the kernel (stride 1 takes the flattened
    # im2col path, other strides the window-view path: both are covered)
    OpCase("conv2d", "pad1_bias", lambda x, w, b: ag.conv2d(x, w, b, padding=1),
           [(2, 3, 5, 4), (4, 3, 3, 3), (4,)],
           numpy_ref=lambda x, w, b: np_conv2d(x, w, b, (1, 1), (1, 1))),
    OpCase("conv2d", "no_pad_no_bias_2x3", lambda x, w: ag.conv2d(x, w), [(2, 2, 5, 6), (3, 2, 2, 3)],
           numpy_ref=lambda x, w: np_conv2d(x, w, None, (1, 1), (0, 0))),
    OpCase("conv2d", "stride2_pad_1_2", lambda x, w, b: ag.conv2d(x, w, b, stride=2, padding=(1, 2)),
           [(2, 2, 5, 5), (3, 2, 3, 3), (3,)],
           numpy_ref=lambda x, w, b: np_conv2d(x, w, b, (2, 2), (1, 2))),
    OpCase("conv2d", "stride_2_1", lambda x, w: ag.conv2d(x, w, stride=(2, 1)), [(1, 2, 6, 5), (2, 2, 3, 2)],
           numpy_ref=lambda x, w: np_conv2d(x, w, None, (2, 1), (0, 0))),
    OpCase("conv2d", "1x1_kernel", lambda x, w, b: ag.conv2d(x, w, b), [(2, 3, 3, 3), (2, 3, 1, 1), (2,)],
           numpy_ref=lambda x, w, b: np_conv2d(x, w, b, (1, 1), (0, 0))),
    OpCase("conv2d", "x_T_view", lambda x, w: ag.conv2d(x, w, padding=1), [(2, 2, 4, 3), (2, 2, 3, 3)],
           view=("T", None), numpy_ref=lambda x, w: np_conv2d(x, w, None, (1, 1), (1, 1))),
    # avg_pool: the mean over each window, checked against loop-built windows
    OpCase("avg_pool", "2x2_tiles", lambda x: ag.avg_pool(x, (2, 2)), [(2, 3, 4, 4)],
           numpy_ref=lambda x: np_windows(x, (2, 2), (2, 2)).mean(axis=(-2, -1))),
    OpCase("avg_pool", "3x2_stride1_overlap", lambda x: ag.avg_pool(x, (3, 2), stride=1), [(2, 5, 4)],
           numpy_ref=lambda x: np_windows(x, (3, 2), (1, 1)).mean(axis=(-2, -1))),
    OpCase("avg_pool", "2x2_floor_mode", lambda x: ag.avg_pool(x, (2, 2)), [(1, 5, 7)],
           numpy_ref=lambda x: np_windows(x, (2, 2), (2, 2)).mean(axis=(-2, -1))),
    OpCase("avg_pool", "1d_stride2", lambda x: ag.avg_pool(x, (3,), stride=2), [(2, 7)],
           numpy_ref=lambda x: np_windows(x, (3,), (2,)).mean(axis=-1)),
    OpCase("avg_pool", "T_view", lambda x: ag.avg_pool(x, (2, 2)), [(4, 6)], view="T",
           numpy_ref=lambda x: np_windows(x, (2, 2), (2, 2)).mean(axis=(-2, -1))),
    OpCase("sliding_window_transpose", "2d_stride1",
           lambda g: ops._sliding_window_transpose(g, shape=(2, 4, 4), size=(2, 2), stride=(1, 1)),
           [(2, 3, 3, 2, 2)],
           numpy_ref=lambda g: np_windows_transpose(g, (2, 4, 4), (2, 2), (1, 1))),
    OpCase("sliding_window_transpose", "2d_stride2_remainder",
           lambda g: ops._sliding_window_transpose(g, shape=(5, 5), size=(2, 3), stride=(2, 2)),
           [(2, 2, 2, 3)], numpy_ref=lambda g: np_windows_transpose(g, (5, 5), (2, 3), (2, 2))),
    OpCase("sliding_window_transpose", "1d",
           lambda g: ops._sliding_window_transpose(g, shape=(3, 6), size=(3,), stride=(1,)),
           [(3, 4, 3)], numpy_ref=lambda g: np_windows_transpose(g, (3, 6), (3,), (1,))),

    # the convolution's adjoint pair and the pooling adjoint (what conv2d's and avg_pool's VJPs
    # record in a create_graph sweep), against the engine-independent window loops
    OpCase("im2col", "stride1_pad1", lambda x: ops._im2col(x, geom=GEOM_S1), [(2, 2, 4, 3)],
           numpy_ref=lambda x: np_im2col(x, GEOM_S1)),
    OpCase("im2col", "stride2", lambda x: ops._im2col(x, geom=GEOM_S2), [(1, 2, 5, 5)],
           numpy_ref=lambda x: np_im2col(x, GEOM_S2)),
    OpCase("col2im", "stride1_pad1", lambda c: ops._col2im(c, geom=GEOM_S1), [COLS_S1],
           numpy_ref=lambda c: np_col2im(c, GEOM_S1)),
    OpCase("col2im", "stride2", lambda c: ops._col2im(c, geom=GEOM_S2), [COLS_S2],
           numpy_ref=lambda c: np_col2im(c, GEOM_S2)),
    OpCase("avg_pool_transpose", "2x2_tiles",
           lambda g: ops._avg_pool_transpose(g, shape=(2, 5, 4), size=(2, 2), stride=(2, 2)),
           [(2, 2, 2)], numpy_ref=lambda g: np_windows_transpose(
               np.broadcast_to(g[..., None, None] / 4, (2, 2, 2, 2, 2)), (2, 5, 4), (2, 2), (2, 2))),
    OpCase("avg_pool_transpose", "3_stride1_overlap",
           lambda g: ops._avg_pool_transpose(g, shape=(2, 6), size=(3,), stride=(1,)),
           [(2, 4)], numpy_ref=lambda g: np_windows_transpose(
               np.broadcast_to(g[..., None] / 3, (2, 4, 3)), (2, 6), (3,), (1,))),
]

# the families' rows
OP_CASES += (op_cases_math.CASES + op_cases_array.CASES + op_cases_products.CASES
             + op_cases_linalg.CASES)

# Public names that are composites of primitives (their rows use these names).
COMPOSITES = {"expand_dims", "sum_to"} | op_cases_math.COMPOSITES | op_cases_array.COMPOSITES | (
    op_cases_products.COMPOSITES | op_cases_linalg.COMPOSITES)

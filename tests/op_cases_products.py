"""Op-case rows for products (dot ... kron, vdot),
reductions and scans: part of the table in tests/op_cases.py
(see op_case_kit.py for what a row says).

Domains of their own: `zeros_at` puts exact zeros into prod and cumprod inputs (one zero, or
several, in a reduced group or a scanned slice): both are polynomials, so central differences stay
exact there, and a rule that divides by x would give nan. `constant_rows` makes std's slices
exactly constant (its chosen subgradient 0 at a kink).
"""

from __future__ import annotations

import numpy as np
from op_case_kit import OpCase

import autograd_core as ag
from autograd_core import numpy_products as products


def zeros_at(*positions: int):
    """Values of magnitude 0.5 to 1.5 with exact zeros at these flat positions (of the base)."""

    def gen(rng, shape):
        x = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 1.5, shape)
        x.flat[list(positions)] = 0.0
        return x

    gen.__name__ = f"zeros_at{positions}"
    return gen


def constant_rows(rng, shape):
    """Rows of one value each (multiples of 1/4: their mean is exact, so std is exactly 0)."""
    return np.broadcast_to(rng.integers(-8, 9, shape[:-1] + (1,)) / 4, shape).copy()


def np_diagonal_transpose(g, shape, offset, axis1, axis2):
    """The adjoint of np.diagonal by its definition: <diagonal(e), g> for each unit array e."""
    out = np.zeros(shape)
    for idx in np.ndindex(*shape):
        e = np.zeros(shape)
        e[idx] = 1.0
        out[idx] = np.sum(np.diagonal(e, offset, axis1, axis2) * g)
    return out


PERM_34 = np.array([[2, 0, 3, 1], [1, 3, 0, 2], [0, 1, 2, 3]])  # a permutation of each row


def np_unpermute(g, index, axis):
    out = np.empty_like(g)
    np.put_along_axis(out, index, g, axis=axis)
    return out


CASES: list[OpCase] = [
    # -- dot: NumPy's rule (0-d multiplies; the last axis of a with the second-to-last of b)
    OpCase("dot", "0d_2d", ag.dot, [(), (2, 3)], numpy_ref=np.dot),
    OpCase("dot", "1d_1d", ag.dot, [(4,), (4,)], numpy_ref=np.dot),
    OpCase("dot", "2d_1d", ag.dot, [(3, 4), (4,)], numpy_ref=np.dot),
    OpCase("dot", "1d_2d", ag.dot, [(3,), (3, 4)], numpy_ref=np.dot),
    OpCase("dot", "2d_2d_method", lambda a, b: a.dot(b), [(2, 3), (3, 4)], numpy_ref=np.dot),
    OpCase("dot", "3d_2d", ag.dot, [(2, 3, 4), (4, 2)], numpy_ref=np.dot),
    OpCase("dot", "2d_3d", ag.dot, [(2, 3), (2, 3, 4)], numpy_ref=np.dot),
    OpCase("dot", "3d_3d", ag.dot, [(2, 2, 3), (2, 3, 2)], numpy_ref=np.dot),
    OpCase("dot", "1d_3d", ag.dot, [(3,), (2, 3, 2)], numpy_ref=np.dot),
    OpCase("dot", "3d_1d", ag.dot, [(2, 3, 4), (4,)], numpy_ref=np.dot),
    OpCase("dot", "views_T_step", ag.dot, [(3, 4), (4, 2)], view=("T", "step"), numpy_ref=np.dot),
    # -- tensordot: an int, a pair of sequences, a pair of ints, negative axes
    OpCase("tensordot", "default_axes2", ag.tensordot, [(2, 3, 4), (3, 4, 2)],
           numpy_ref=np.tensordot),
    OpCase("tensordot", "axes1", lambda a, b: ag.tensordot(a, b, axes=1), [(2, 3), (3, 4)],
           numpy_ref=lambda a, b: np.tensordot(a, b, axes=1)),
    OpCase("tensordot", "axes0_outer", lambda a, b: ag.tensordot(a, b, axes=0), [(2, 3), (3,)],
           numpy_ref=lambda a, b: np.tensordot(a, b, axes=0)),
    OpCase("tensordot", "pair_of_lists", lambda a, b: ag.tensordot(a, b, axes=([1, 0], [0, 2])),
           [(3, 2, 4), (2, 5, 3)], numpy_ref=lambda a, b: np.tensordot(a, b, axes=([1, 0], [0, 2]))),
    OpCase("tensordot", "pair_of_ints_neg", lambda a, b: ag.tensordot(a, b, axes=(-1, 0)),
           [(2, 3), (3, 2, 2)], numpy_ref=lambda a, b: np.tensordot(a, b, axes=(-1, 0))),
    OpCase("tensordot", "0d", lambda a, b: ag.tensordot(a, b, axes=0), [(), (2, 3)],
           numpy_ref=lambda a, b: np.tensordot(a, b, axes=0)),
    OpCase("tensordot", "T_view", lambda a, b: ag.tensordot(a, b, axes=([0], [1])), [(3, 4), (2, 3)],
           view=("T", None), numpy_ref=lambda a, b: np.tensordot(a, b, axes=([0], [1]))),
    # -- inner / outer / vdot / kron
    OpCase("inner", "1d_1d", ag.inner, [(4,), (4,)], numpy_ref=np.inner),
    OpCase("inner", "2d_2d", ag.inner, [(2, 3), (4, 3)], numpy_ref=np.inner),
    OpCase("inner", "3d_1d", ag.inner, [(2, 3, 4), (4,)], numpy_ref=np.inner),
    OpCase("inner", "0d_2d", ag.inner, [(), (2, 3)], numpy_ref=np.inner),
    OpCase("inner", "step_last_view", ag.inner, [(2, 3), (3,)], view=("step_last", "flip"),
           numpy_ref=np.inner),
    OpCase("outer", "1d_1d", ag.outer, [(3,), (4,)], numpy_ref=np.outer),
    OpCase("outer", "2d_1d_flattened", ag.outer, [(2, 3), (2,)], numpy_ref=np.outer),
    OpCase("outer", "0d_1d", ag.outer, [(), (3,)], numpy_ref=np.outer),
    OpCase("outer", "T_view", ag.outer, [(2, 3), (4,)], view=("T", "flip"), numpy_ref=np.outer),
    OpCase("vdot", "1d", ag.vdot, [(5,), (5,)], numpy_ref=np.vdot),
    OpCase("vdot", "2d_1d_flattened", ag.vdot, [(2, 3), (6,)], numpy_ref=np.vdot),
    OpCase("vdot", "0d", ag.vdot, [(), ()], numpy_ref=np.vdot),
    OpCase("vdot", "T_view", ag.vdot, [(3, 4), (3, 4)], view=("T", None), numpy_ref=np.vdot),
    OpCase("kron", "2d_2d", ag.kron, [(2, 3), (3, 2)], numpy_ref=np.kron),
    OpCase("kron", "1d_2d", ag.kron, [(3,), (2, 2)], numpy_ref=np.kron),
    OpCase("kron", "3d_2d", ag.kron, [(2, 1, 2), (2, 3)], numpy_ref=np.kron),
    OpCase("kron", "0d_2d", ag.kron, [(), (2, 3)], numpy_ref=np.kron),
    OpCase("kron", "views", ag.kron, [(2, 2), (3,)], view=("T", "step"), numpy_ref=np.kron),
    # -- diagonal (a primitive), its adjoint, and trace / diag over them
    OpCase("diagonal", "2d", ag.diagonal, [(3, 3)], numpy_ref=np.diagonal),
    OpCase("diagonal", "rect_offset1", lambda x: ag.diagonal(x, 1), [(3, 4)],
           numpy_ref=lambda x: np.diagonal(x, 1)),
    OpCase("diagonal", "rect_offset_neg", lambda x: ag.diagonal(x, offset=-2), [(4, 3)],
           numpy_ref=lambda x: np.diagonal(x, offset=-2)),
    OpCase("diagonal", "3d_axes_2_0", lambda x: ag.diagonal(x, 1, axis1=2, axis2=0), [(3, 2, 4)],
           numpy_ref=lambda x: np.diagonal(x, 1, axis1=2, axis2=0)),
    OpCase("diagonal", "neg_axes_method", lambda x: x.diagonal(0, -1, -2), [(2, 3, 3)],
           numpy_ref=lambda x: np.diagonal(x, 0, -1, -2)),
    OpCase("diagonal", "offset_past_end", lambda x: ag.diagonal(x, 3), [(2, 3)],
           numpy_ref=lambda x: np.diagonal(x, 3)),
    OpCase("diagonal", "T_view", ag.diagonal, [(3, 4)], view="T", numpy_ref=np.diagonal),
    OpCase("diagonal_transpose", "2d_offset1",
           lambda g: products._diagonal_transpose(g, shape=(3, 4), offset=1, axis1=0, axis2=1), [(3,)],
           numpy_ref=lambda g: np_diagonal_transpose(g, (3, 4), 1, 0, 1)),
    OpCase("diagonal_transpose", "3d_axes_2_0",
           lambda g: products._diagonal_transpose(g, shape=(3, 2, 4), offset=-1, axis1=2, axis2=0),
           [(2, 3)], numpy_ref=lambda g: np_diagonal_transpose(g, (3, 2, 4), -1, 2, 0)),
    OpCase("trace", "2d", ag.trace, [(3, 3)], numpy_ref=np.trace),
    OpCase("trace", "offset1", lambda x: ag.trace(x, 1), [(3, 4)], numpy_ref=lambda x: np.trace(x, 1)),
    OpCase("trace", "offset_neg", lambda x: ag.trace(x, offset=-1), [(4, 3)],
           numpy_ref=lambda x: np.trace(x, offset=-1)),
    OpCase("trace", "3d_axes_1_2", lambda x: ag.trace(x, axis1=1, axis2=2), [(2, 3, 3)],
           numpy_ref=lambda x: np.trace(x, axis1=1, axis2=2)),
    OpCase("trace", "neg_axes_method", lambda x: x.trace(0, -1, 0), [(3, 2, 3)],
           numpy_ref=lambda x: np.trace(x, 0, -1, 0)),
    OpCase("trace", "T_view", ag.trace, [(3, 3)], view="T", numpy_ref=np.trace),
    OpCase("diag", "1d_to_2d", ag.diag, [(3,)], numpy_ref=np.diag),
    OpCase("diag", "1d_k1", lambda v: ag.diag(v, 1), [(3,)], numpy_ref=lambda v: np.diag(v, 1)),
    OpCase("diag", "1d_k_neg2", lambda v: ag.diag(v, k=-2), [(2,)], numpy_ref=lambda v: np.diag(v, k=-2)),
    OpCase("diag", "2d_to_1d", ag.diag, [(3, 4)], numpy_ref=np.diag),
    OpCase("diag", "2d_k1", lambda v: ag.diag(v, k=1), [(3, 3)], numpy_ref=lambda v: np.diag(v, k=1)),
    OpCase("diag", "1d_flip_view", ag.diag, [(4,)], view="flip", numpy_ref=np.diag),
    OpCase("diag", "2d_T_view", lambda v: ag.diag(v, -1), [(3, 4)], view="T",
           numpy_ref=lambda v: np.diag(v, -1)),
    # -- tril / triu: the last two axes; a 1-d input becomes a square matrix
    OpCase("tril", "2d", ag.tril, [(3, 3)], numpy_ref=np.tril),
    OpCase("tril", "k1_rect", lambda m: ag.tril(m, 1), [(3, 4)], numpy_ref=lambda m: np.tril(m, 1)),
    OpCase("tril", "k_neg1_batched", lambda m: ag.tril(m, k=-1), [(2, 3, 3)],
           numpy_ref=lambda m: np.tril(m, k=-1)),
    OpCase("tril", "1d", ag.tril, [(3,)], numpy_ref=np.tril),
    OpCase("tril", "T_view", ag.tril, [(3, 4)], view="T", numpy_ref=np.tril),
    OpCase("triu", "2d", ag.triu, [(3, 3)], numpy_ref=np.triu),
    OpCase("triu", "k_neg1_rect", lambda m: ag.triu(m, -1), [(4, 3)], numpy_ref=lambda m: np.triu(m, -1)),
    OpCase("triu", "k2_batched", lambda m: ag.triu(m, k=2), [(2, 3, 4)], numpy_ref=lambda m: np.triu(m, k=2)),
    OpCase("triu", "1d", lambda m: ag.triu(m, 1), [(3,)], numpy_ref=lambda m: np.triu(m, 1)),
    OpCase("triu", "step_view", ag.triu, [(3, 3)], view="step", numpy_ref=np.triu),
    # -- prod: axes, keepdims, and exact zeros (one, several, a whole group)
    OpCase("prod", "all", ag.prod, [(3, 4)], "positive", numpy_ref=np.prod),
    OpCase("prod", "0d", ag.prod, [()], numpy_ref=np.prod),
    OpCase("prod", "axis0", lambda x: ag.prod(x, axis=0), [(3, 4)], numpy_ref=lambda x: np.prod(x, axis=0)),
    OpCase("prod", "neg_axis_keepdims", lambda x: ag.prod(x, axis=-1, keepdims=True), [(2, 3, 4)],
           numpy_ref=lambda x: np.prod(x, axis=-1, keepdims=True)),
    OpCase("prod", "axis_tuple_method", lambda x: x.prod(axis=(0, 2)), [(2, 3, 2)],
           numpy_ref=lambda x: np.prod(x, axis=(0, 2))),
    OpCase("prod", "one_zero_per_row", lambda x: ag.prod(x, axis=1), [(3, 4)], zeros_at(1, 4, 11),
           numpy_ref=lambda x: np.prod(x, axis=1)),
    OpCase("prod", "several_zeros", lambda x: ag.prod(x, axis=1), [(3, 4)], zeros_at(0, 2, 5, 6, 7),
           numpy_ref=lambda x: np.prod(x, axis=1)),
    OpCase("prod", "zeros_all_axes", ag.prod, [(2, 3)], zeros_at(4), numpy_ref=np.prod),
    OpCase("prod", "two_zeros_all_axes", ag.prod, [(2, 3)], zeros_at(0, 4), numpy_ref=np.prod),
    OpCase("prod", "zeros_axis0_keepdims", lambda x: ag.prod(x, axis=0, keepdims=True), [(4, 3)],
           zeros_at(0, 3, 5), numpy_ref=lambda x: np.prod(x, axis=0, keepdims=True)),
    OpCase("prod", "empty_axis", lambda x: ag.prod(x, axis=0), [(0, 3)],
           numpy_ref=lambda x: np.prod(x, axis=0)),
    OpCase("prod", "T_view_axis", lambda x: ag.prod(x, axis=1), [(3, 4)], view="T",
           numpy_ref=lambda x: np.prod(x, axis=1)),
    # -- var (a composite: NumPy's algorithm) and std (a primitive: its subgradient at 0)
    OpCase("var", "all", ag.var, [(3, 4)], numpy_ref=np.var),
    OpCase("var", "axis0_ddof1", lambda x: ag.var(x, axis=0, ddof=1), [(3, 4)],
           numpy_ref=lambda x: np.var(x, axis=0, ddof=1)),
    OpCase("var", "neg_axis_keepdims", lambda x: ag.var(x, axis=-1, keepdims=True), [(2, 3, 4)],
           numpy_ref=lambda x: np.var(x, axis=-1, keepdims=True)),
    OpCase("var", "axis_tuple_ddof2_method", lambda x: x.var(axis=(0, 2), ddof=2), [(2, 3, 2)],
           numpy_ref=lambda x: np.var(x, axis=(0, 2), ddof=2)),
    OpCase("var", "1d", ag.var, [(5,)], numpy_ref=np.var),
    OpCase("var", "0d", ag.var, [()], numpy_ref=np.var),
    OpCase("var", "T_view_axis", lambda x: ag.var(x, axis=1), [(3, 4)], view="T",
           numpy_ref=lambda x: np.var(x, axis=1)),
    OpCase("std", "all", ag.std, [(3, 4)], numpy_ref=np.std),
    OpCase("std", "axis1_ddof1", lambda x: ag.std(x, axis=1, ddof=1), [(3, 4)],
           numpy_ref=lambda x: np.std(x, axis=1, ddof=1)),
    OpCase("std", "neg_axis_keepdims", lambda x: ag.std(x, axis=-2, keepdims=True), [(2, 3, 4)],
           numpy_ref=lambda x: np.std(x, axis=-2, keepdims=True)),
    OpCase("std", "axis_tuple_method", lambda x: x.std(axis=(0, -1), ddof=1), [(2, 3, 2)],
           numpy_ref=lambda x: np.std(x, axis=(0, -1), ddof=1)),
    OpCase("std", "1d", ag.std, [(5,)], numpy_ref=np.std),
    OpCase("std", "step_view_axis", lambda x: ag.std(x, axis=0), [(3, 4)], view="step",
           numpy_ref=lambda x: np.std(x, axis=0)),
    # std of constant rows is not differentiable (a kink); the gradient is the subgradient 0,
    # which central differences give too (|h| is symmetric); second differences blow up there
    OpCase("std", "constant_rows", lambda x: ag.std(x, axis=1), [(3, 4)], constant_rows,
           numpy_ref=lambda x: np.std(x, axis=1),
           gradgrad="a kink: std is not twice differentiable at a constant slice"),
    # -- cumsum / cumprod: axis None flattens; 0-d scans as 1-d; cumprod exact at zeros
    OpCase("cumsum", "1d", ag.cumsum, [(5,)], numpy_ref=np.cumsum),
    OpCase("cumsum", "2d_axis0", lambda x: ag.cumsum(x, axis=0), [(3, 4)],
           numpy_ref=lambda x: np.cumsum(x, axis=0)),
    OpCase("cumsum", "3d_neg_axis_method", lambda x: x.cumsum(-1), [(2, 3, 4)],
           numpy_ref=lambda x: np.cumsum(x, -1)),
    OpCase("cumsum", "none_flattens", ag.cumsum, [(3, 4)], numpy_ref=np.cumsum),
    OpCase("cumsum", "0d", ag.cumsum, [()], numpy_ref=np.cumsum),
    OpCase("cumsum", "0d_axis0", lambda x: ag.cumsum(x, axis=0), [()],
           numpy_ref=lambda x: np.cumsum(x, axis=0)),
    OpCase("cumsum", "T_view_axis1", lambda x: ag.cumsum(x, axis=1), [(3, 4)], view="T",
           numpy_ref=lambda x: np.cumsum(x, axis=1)),
    OpCase("cumprod", "1d", ag.cumprod, [(5,)], numpy_ref=np.cumprod),
    OpCase("cumprod", "2d_axis0", lambda x: ag.cumprod(x, axis=0), [(3, 4)],
           numpy_ref=lambda x: np.cumprod(x, axis=0)),
    OpCase("cumprod", "3d_neg_axis_method", lambda x: x.cumprod(-2), [(2, 3, 4)],
           numpy_ref=lambda x: np.cumprod(x, -2)),
    OpCase("cumprod", "none_flattens", ag.cumprod, [(2, 3)], numpy_ref=np.cumprod),
    OpCase("cumprod", "0d", ag.cumprod, [()], numpy_ref=np.cumprod),
    OpCase("cumprod", "long_9", ag.cumprod, [(9,)], "positive", numpy_ref=np.cumprod),
    OpCase("cumprod", "one_zero", ag.cumprod, [(6,)], zeros_at(2), numpy_ref=np.cumprod),
    OpCase("cumprod", "zero_first_and_last", ag.cumprod, [(5,)], zeros_at(0, 4), numpy_ref=np.cumprod),
    OpCase("cumprod", "several_zeros_axis1", lambda x: ag.cumprod(x, axis=1), [(3, 7)],
           zeros_at(1, 4, 8, 9, 15, 16, 17, 20), numpy_ref=lambda x: np.cumprod(x, axis=1)),
    OpCase("cumprod", "flip_view_axis0", lambda x: ag.cumprod(x, axis=0), [(4, 3)], view="flip",
           numpy_ref=lambda x: np.cumprod(x, axis=0)),
    # -- diff: orders, axes, prepend / append (numbers, arrays and Tensors)
    OpCase("diff", "1d", ag.diff, [(5,)], numpy_ref=np.diff),
    OpCase("diff", "n2", lambda a: ag.diff(a, 2), [(5,)], numpy_ref=lambda a: np.diff(a, 2)),
    OpCase("diff", "2d_axis0", lambda a: ag.diff(a, axis=0), [(3, 4)],
           numpy_ref=lambda a: np.diff(a, axis=0)),
    OpCase("diff", "3d_n2_neg_axis", lambda a: ag.diff(a, n=2, axis=-2), [(2, 4, 3)],
           numpy_ref=lambda a: np.diff(a, n=2, axis=-2)),
    OpCase("diff", "prepend_number", lambda a: ag.diff(a, prepend=0.5), [(2, 3)],
           numpy_ref=lambda a: np.diff(a, prepend=0.5),
           out_dtype=np.dtype(np.float64)),  # NumPy promotion: the number becomes a float64 array
    OpCase("diff", "append_array", lambda a: ag.diff(a, axis=0, append=np.ones((1, 3))), [(2, 3)],
           numpy_ref=lambda a: np.diff(a, axis=0, append=np.ones((1, 3))), out_dtype=np.dtype(np.float64)),
    OpCase("diff", "prepend_append_tensors", lambda a, p, q: ag.diff(a, 2, prepend=p, append=q),
           [(3, 4), (3, 1), (3, 2)], numpy_ref=lambda a, p, q: np.diff(a, 2, prepend=p, append=q)),
    OpCase("diff", "step_last_view", ag.diff, [(2, 4)], view="step_last", numpy_ref=np.diff),
    # -- sort (distinct values: no ties), and the permutation pair its VJP uses
    OpCase("sort", "1d", ag.sort, [(6,)], "distinct", numpy_ref=np.sort),
    OpCase("sort", "2d_default_last_axis", ag.sort, [(3, 4)], "distinct", numpy_ref=np.sort),
    OpCase("sort", "2d_axis0", lambda x: ag.sort(x, axis=0), [(3, 4)], "distinct",
           numpy_ref=lambda x: np.sort(x, axis=0)),
    OpCase("sort", "3d_axis1", lambda x: ag.sort(x, axis=1), [(2, 3, 2)], "distinct",
           numpy_ref=lambda x: np.sort(x, axis=1)),
    OpCase("sort", "none_flattens", lambda x: ag.sort(x, axis=None), [(2, 3)], "distinct",
           numpy_ref=lambda x: np.sort(x, axis=None)),
    OpCase("sort", "T_view", ag.sort, [(3, 4)], "distinct", view="T", numpy_ref=np.sort),
    OpCase("permute_along_axis", "rows",
           lambda x: products._permute(x, index=PERM_34, axis=1), [(3, 4)],
           numpy_ref=lambda x: np.take_along_axis(x, PERM_34, axis=1)),
    OpCase("permute_along_axis", "cols",
           lambda x: products._permute(x, index=PERM_34.T, axis=0), [(4, 3)],
           numpy_ref=lambda x: np.take_along_axis(x, PERM_34.T, axis=0)),
    OpCase("unpermute_along_axis", "rows",
           lambda g: products._unpermute(g, index=PERM_34, axis=1), [(3, 4)],
           numpy_ref=lambda g: np_unpermute(g, PERM_34, 1)),
    OpCase("unpermute_along_axis", "cols",
           lambda g: products._unpermute(g, index=PERM_34.T, axis=0), [(4, 3)],
           numpy_ref=lambda g: np_unpermute(g, PERM_34.T, 0)),
]

# Public names that are composites of primitives (their rows use these names).
COMPOSITES: set[str] = {"dot", "tensordot", "inner", "outer", "vdot", "kron", "trace", "diag",
                        "tril", "triu", "var", "diff"}

"""Op-case rows for ag.linalg: part of the table in tests/op_cases.py (see op_case_kit.py for
what a row says).

Rows are named by the primitive they record ("linalg_inv"); matrix_power, a composite of matmul,
has its rows under "matmul" (and "linalg_inv", "where" for the exponents -1 and 0). Domains keep
every case differentiable with margin for gradcheck's steps (up to 1e-2 relative): matrices are
well conditioned, eigenvalues and singular values at least 0.5 apart and away from 0, QR inputs
diagonally dominant (LAPACK's Householder signs stay put), norms away from their kinks.
Decompositions with several outputs are checked through functions of all of them that do not
depend on the eigen- or singular vectors' signs (v ** 2, u ** 2 * s, ...).
"""

from __future__ import annotations

import numpy as np
from op_case_kit import OpCase

import autograd_core as ag

L = ag.linalg


# ---- domains: (rng, shape) -> float64 matrices (of the last two axes) --------------------------
def _eye_like(shape) -> np.ndarray:
    return np.broadcast_to(np.eye(shape[-2], shape[-1]), shape)


def well_conditioned(rng, shape):
    """max(M, N)·I plus noise: singular values near max(M, N), far from 0 (inv, solve, det, qr:
    diagonally dominant, so the Householder signs of QR do not flip within a step)."""
    return max(shape[-2:]) * _eye_like(shape) + 0.5 * rng.standard_normal(shape)


def _orthogonal(rng, batch, n):
    q, r = np.linalg.qr(rng.standard_normal(batch + (n, n)))
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


def _spaced(rng, batch, k):
    """k values per matrix, descending, 0.7 apart, in [1, 0.7 k + 1.1]."""
    return 1.0 + 0.7 * np.arange(k)[::-1] + rng.uniform(0, 0.1, batch + (k,))


def spectral(rng, shape):
    """U diag(s) Vᵀ with singular values s 0.7 apart in [1, 4]: distinct and away from 0."""
    *batch, m, n = shape
    batch, k = tuple(batch), min(m, n)
    u = _orthogonal(rng, batch, m)[..., :k]
    v = _orthogonal(rng, batch, n)[..., :k]
    return (u * _spaced(rng, batch, k)[..., None, :]) @ np.swapaxes(v, -1, -2)


def symmetric(rng, shape):
    """Q diag(w) Qᵀ (exactly symmetric) with eigenvalues 0.7 apart, some negative."""
    *batch, n, _ = shape
    batch = tuple(batch)
    q = _orthogonal(rng, batch, n)
    w = _spaced(rng, batch, n) - 0.35 * n
    a = (q * w[..., None, :]) @ np.swapaxes(q, -1, -2)
    return (a + np.swapaxes(a, -1, -2)) / 2


def spd(rng, shape):
    """X Xᵀ + n·I (exactly symmetric): positive definite, eigenvalues at least n."""
    x = rng.standard_normal(shape)
    a = x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])
    return (a + np.swapaxes(a, -1, -2)) / 2


def spd_upper_noise(rng, shape):
    """spd plus noise above the diagonal: what cholesky/eigh (lower) must ignore."""
    return spd(rng, shape) + np.triu(rng.standard_normal(shape), 1)


def distinct_abs(rng, shape):
    """|x| distinct (0.2 apart) and at least 0.2, random signs: no ties or kinks for ord ±inf, 1."""
    n = int(np.prod(shape, dtype=np.int64))
    mag = 0.2 + 0.25 * rng.permutation(n) + rng.uniform(0, 0.05, n)
    return (rng.choice([-1.0, 1.0], n) * mag).reshape(shape)


def _sym_lower(a):
    """The symmetric matrix NumPy's eigh/cholesky read from a's lower triangle."""
    return np.tril(a) + np.swapaxes(np.tril(a, -1), -1, -2)


def _mT(a):
    return ag.transpose(a, tuple(range(a.ndim - 2)) + (a.ndim - 1, a.ndim - 2))


def _np_svd_combined(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return (u ** 2 * s[..., None, :]) @ vh ** 2


def _svd_combined(a):
    u, s, vh = L.svd(a, full_matrices=False)
    return (u ** 2 * s[..., None, :]) @ vh ** 2


def _w_v2(w, v):
    return w[..., None, :] * v ** 2


def _exp_quarter(w, v):
    """V diag(exp(w / 4)) Vᵀ: a matrix function, invariant to the eigenvectors' signs."""
    return (v * ag.exp(w / 4)[..., None, :]) @ _mT(v)


def _rank2(u, s, vh):
    """The best rank-2 approximation (each rank-1 term is invariant to the signs)."""
    return (u[:, :2] * s[:2]) @ vh[:2]


def _flat(*xs):
    return ag.concatenate([ag.reshape(x, (-1,)) for x in xs])


def _np_flat(*xs):
    return np.concatenate([np.reshape(x, (-1,)) for x in xs])


C33 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75], [-2.0, 1.0, 0.5]])  # a fixed weighting

CASES: list[OpCase] = [
    # -- inv: -A⁻ᵀ G A⁻ᵀ
    OpCase("linalg_inv", "2d", L.inv, [(3, 3)], well_conditioned, numpy_ref=np.linalg.inv),
    OpCase("linalg_inv", "batched", L.inv, [(2, 3, 3)], well_conditioned, numpy_ref=np.linalg.inv),
    OpCase("linalg_inv", "1x1", L.inv, [(1, 1)], well_conditioned, numpy_ref=np.linalg.inv),
    OpCase("linalg_inv", "T_view", L.inv, [(3, 3)], well_conditioned, view="T", numpy_ref=np.linalg.inv),
    OpCase("linalg_inv", "matrix_power_-1", lambda a: L.matrix_power(a, -1), [(3, 3)], well_conditioned,
           numpy_ref=lambda a: np.linalg.matrix_power(a, -1)),
    # -- solve: b (M,) only when b.ndim == 1 (NumPy 2); batch axes broadcast
    OpCase("linalg_solve", "matrix_b", L.solve, [(3, 3), (3, 2)], (well_conditioned, "real"),
           numpy_ref=np.linalg.solve),
    OpCase("linalg_solve", "vector_b", L.solve, [(3, 3), (3,)], (well_conditioned, "real"),
           numpy_ref=np.linalg.solve),
    OpCase("linalg_solve", "batched_a_vector_b", L.solve, [(2, 3, 3), (3,)], (well_conditioned, "real"),
           numpy_ref=np.linalg.solve),
    OpCase("linalg_solve", "bcast_a_batched_b", L.solve, [(3, 3), (2, 3, 2)], (well_conditioned, "real"),
           numpy_ref=np.linalg.solve),
    OpCase("linalg_solve", "batched_both", L.solve, [(2, 3, 3), (2, 3, 1)], (well_conditioned, "real"),
           numpy_ref=np.linalg.solve),
    OpCase("linalg_solve", "T_views", L.solve, [(3, 3), (3, 2)], (well_conditioned, "real"), view="T",
           numpy_ref=np.linalg.solve),
    # -- det and slogdet: det(A) A⁻ᵀ, A⁻ᵀ (sign: no gradient)
    OpCase("linalg_det", "2d", L.det, [(3, 3)], well_conditioned, numpy_ref=np.linalg.det),
    OpCase("linalg_det", "batched", L.det, [(2, 3, 3)], well_conditioned, numpy_ref=np.linalg.det),
    OpCase("linalg_det", "negative_flip_view", L.det, [(3, 3)], well_conditioned, view="flip",
           numpy_ref=np.linalg.det),
    OpCase("linalg_det", "T_view", L.det, [(2, 2)], well_conditioned, view="T", numpy_ref=np.linalg.det),
    OpCase("linalg_slogdet", "logabsdet", lambda a: L.slogdet(a)[1], [(3, 3)], well_conditioned,
           numpy_ref=lambda a: np.linalg.slogdet(a)[1]),
    OpCase("linalg_slogdet", "batched_sign_times_logabsdet",
           lambda a: (lambda s, la: s * la)(*L.slogdet(a)), [(2, 3, 3)], well_conditioned,
           numpy_ref=lambda a: np.prod(np.linalg.slogdet(a), axis=0)),
    OpCase("linalg_slogdet", "negative_det_flip_view", lambda a: L.slogdet(a)[0] * L.slogdet(a)[1],
           [(3, 3)], well_conditioned, view="flip",
           numpy_ref=lambda a: np.prod(np.linalg.slogdet(a), axis=0)),
    OpCase("linalg_slogdet", "sign_only", lambda a: L.slogdet(a)[0], [(2, 2)], well_conditioned,
           numpy_ref=lambda a: np.linalg.slogdet(a)[0]),
    # -- cholesky: reads one triangle; the gradient lies on it
    OpCase("linalg_cholesky", "2d", L.cholesky, [(3, 3)], spd, numpy_ref=np.linalg.cholesky),
    OpCase("linalg_cholesky", "batched", L.cholesky, [(2, 3, 3)], spd, numpy_ref=np.linalg.cholesky),
    OpCase("linalg_cholesky", "upper", lambda a: L.cholesky(a, upper=True), [(3, 3)], spd,
           numpy_ref=lambda a: np.linalg.cholesky(a, upper=True)),
    OpCase("linalg_cholesky", "reads_lower_triangle", L.cholesky, [(3, 3)], spd_upper_noise,
           numpy_ref=np.linalg.cholesky),
    OpCase("linalg_cholesky", "upper_reads_upper_triangle", lambda a: L.cholesky(_mT(a), upper=True),
           [(3, 3)], spd_upper_noise, numpy_ref=lambda a: np.linalg.cholesky(a.T, upper=True)),
    OpCase("linalg_cholesky", "of_x_xT", lambda x: L.cholesky(x @ _mT(x) + np.eye(3, dtype=x.dtype) * 3),
           [(3, 3)], numpy_ref=lambda x: np.linalg.cholesky(x @ x.T + 3.0 * np.eye(3))),
    OpCase("linalg_cholesky", "T_view", L.cholesky, [(3, 3)], spd, view="T", numpy_ref=np.linalg.cholesky),
    # -- eigh: (w, v); only sign-invariant functions of v
    OpCase("linalg_eigh", "eigenvalues", lambda a: L.eigh(a)[0], [(3, 3)], symmetric,
           numpy_ref=lambda a: np.linalg.eigh(a)[0]),
    OpCase("linalg_eigh", "batched_w_times_v_squared", lambda a: _w_v2(*L.eigh(a)), [(2, 3, 3)], symmetric,
           numpy_ref=lambda a: _w_v2(*np.linalg.eigh(a))),
    OpCase("linalg_eigh", "v_squared_weighted", lambda a: ag.sum(L.eigh(a)[1] ** 2 * C33.astype(a.dtype)),
           [(3, 3)], symmetric, numpy_ref=lambda a: np.sum(np.linalg.eigh(a)[1] ** 2 * C33)),
    OpCase("linalg_eigh", "reads_lower_triangle", lambda a: L.eigh(a)[1] ** 2, [(3, 3)], spd_upper_noise,
           numpy_ref=lambda a: np.linalg.eigh(a)[1] ** 2),
    OpCase("linalg_eigh", "UPLO_U", lambda a: (lambda w, v: v ** 2 + w)(*L.eigh(_mT(a), UPLO="U")), [(3, 3)],
           spd_upper_noise, numpy_ref=lambda a: (lambda w, v: v ** 2 + w)(*np.linalg.eigh(a.T, UPLO="U"))),
    OpCase("linalg_eigh", "function_of_matrix", lambda a: _exp_quarter(*L.eigh(a)), [(3, 3)], symmetric,
           numpy_ref=lambda a: (lambda w, v: (v * np.exp(w / 4)) @ v.T)(*np.linalg.eigh(a))),
    OpCase("linalg_eigh", "T_view", lambda a: L.eigh(a)[1] ** 2, [(3, 3)], symmetric, view="T",
           numpy_ref=lambda a: np.linalg.eigh(a)[1] ** 2),
    OpCase("linalg_eigh", "1x1", lambda a: L.eigh(a)[0] + L.eigh(a)[1], [(1, 1)], symmetric,
           numpy_ref=lambda a: np.linalg.eigh(a)[0] + np.linalg.eigh(a)[1]),
    # -- svd: (U, S, Vh); sign-invariant functions of U and Vh
    OpCase("linalg_svd", "tall_u2_s_vh2", _svd_combined, [(4, 3)], spectral, numpy_ref=_np_svd_combined),
    OpCase("linalg_svd", "wide_u2_s_vh2", _svd_combined, [(3, 5)], spectral, numpy_ref=_np_svd_combined),
    OpCase("linalg_svd", "batched_u2_s_vh2", _svd_combined, [(2, 3, 3)], spectral,
           numpy_ref=_np_svd_combined),
    OpCase("linalg_svd", "square_full_matrices_default", lambda a: (lambda u, s, vh: u ** 2 * s + vh ** 2)(
        *L.svd(a)), [(3, 3)], spectral,
        numpy_ref=lambda a: (lambda u, s, vh: u ** 2 * s + vh ** 2)(*np.linalg.svd(a))),
    OpCase("linalg_svd", "full_matrices_tall_S", lambda a: L.svd(a)[1], [(4, 2)], spectral,
           numpy_ref=lambda a: np.linalg.svd(a)[1]),
    OpCase("linalg_svd", "low_rank_projection", lambda a: _rank2(*L.svd(a, full_matrices=False)), [(4, 3)],
           spectral, numpy_ref=lambda a: _rank2(*np.linalg.svd(a, full_matrices=False))),
    OpCase("linalg_svd", "T_view", _svd_combined, [(4, 3)], spectral, view="T", numpy_ref=_np_svd_combined),
    OpCase("linalg_svdvals", "compute_uv_false", lambda a: L.svd(a, compute_uv=False), [(4, 3)], spectral,
           numpy_ref=lambda a: np.linalg.svd(a, compute_uv=False)),
    OpCase("linalg_svdvals", "batched_wide", lambda a: L.svd(a, compute_uv=False), [(2, 2, 3)], spectral,
           numpy_ref=lambda a: np.linalg.svd(a, compute_uv=False)),
    OpCase("linalg_svdvals", "T_view", lambda a: L.svd(a, compute_uv=False), [(3, 3)], spectral, view="T",
           numpy_ref=lambda a: np.linalg.svd(a, compute_uv=False)),
    OpCase("linalg_svdvals", "norm_nuc", lambda a: L.norm(a, "nuc"), [(3, 4)], spectral,
           numpy_ref=lambda a: np.linalg.norm(a, "nuc")),
    OpCase("linalg_svdvals", "norm_2", lambda a: L.norm(a, 2), [(4, 3)], spectral,
           numpy_ref=lambda a: np.linalg.norm(a, 2)),
    OpCase("linalg_svdvals", "norm_-2_axes_keepdims", lambda a: L.norm(a, -2, axis=(2, 0), keepdims=True),
           [(3, 2, 2)], spectral, numpy_ref=lambda a: np.linalg.norm(a, -2, axis=(2, 0), keepdims=True)),
    # -- qr: (Q, R), LAPACK's signs
    OpCase("linalg_qr", "tall_q_and_r", lambda a: _flat(*L.qr(a)), [(4, 3)], well_conditioned,
           numpy_ref=lambda a: _np_flat(*np.linalg.qr(a))),
    OpCase("linalg_qr", "square_batched", lambda a: _flat(*L.qr(a)), [(2, 3, 3)], well_conditioned,
           numpy_ref=lambda a: _np_flat(*np.linalg.qr(a))),
    OpCase("linalg_qr", "wide_q_and_r", lambda a: _flat(*L.qr(a)), [(3, 5)], well_conditioned,
           numpy_ref=lambda a: _np_flat(*np.linalg.qr(a))),
    OpCase("linalg_qr", "mode_r", lambda a: L.qr(a, mode="r"), [(4, 3)], well_conditioned,
           numpy_ref=lambda a: np.linalg.qr(a, mode="r")),
    OpCase("linalg_qr", "complete_tall_r", lambda a: L.qr(a, mode="complete")[1], [(4, 2)], well_conditioned,
           numpy_ref=lambda a: np.linalg.qr(a, mode="complete")[1]),
    OpCase("linalg_qr", "complete_wide", lambda a: _flat(*L.qr(a, mode="complete")), [(2, 3)],
           well_conditioned, numpy_ref=lambda a: _np_flat(*np.linalg.qr(a, mode="complete"))),
    OpCase("linalg_qr", "T_view", lambda a: _flat(*L.qr(a)), [(3, 3)], well_conditioned, view="T",
           numpy_ref=lambda a: _np_flat(*np.linalg.qr(a))),
    # -- pinv: the derivative at constant rank
    OpCase("linalg_pinv", "tall", L.pinv, [(4, 3)], spectral, numpy_ref=np.linalg.pinv),
    OpCase("linalg_pinv", "wide_batched", L.pinv, [(2, 2, 3)], spectral, numpy_ref=np.linalg.pinv),
    OpCase("linalg_pinv", "square", L.pinv, [(3, 3)], spectral, numpy_ref=np.linalg.pinv),
    OpCase("linalg_pinv", "hermitian_reads_lower", lambda a: L.pinv(a, hermitian=True), [(3, 3)],
           spd_upper_noise, numpy_ref=lambda a: np.linalg.pinv(a, hermitian=True)),
    OpCase("linalg_pinv", "rtol", lambda a: L.pinv(a, rtol=1e-3), [(3, 4)], spectral,
           numpy_ref=lambda a: np.linalg.pinv(a, rtol=1e-3)),
    OpCase("linalg_pinv", "T_view", L.pinv, [(4, 3)], spectral, view="T", numpy_ref=np.linalg.pinv),
    # -- norm: vector norms (ord None/2, 1, ±inf, 0, p), 'fro', matrix ±1 and ±inf
    OpCase("linalg_norm", "flat_default", L.norm, [(3, 4)], numpy_ref=np.linalg.norm),
    OpCase("linalg_norm", "0d", L.norm, [()], "away_from_kink", numpy_ref=np.linalg.norm),
    OpCase("linalg_norm", "1d_ord2", lambda x: L.norm(x, 2), [(5,)],
           numpy_ref=lambda x: np.linalg.norm(x, 2)),
    OpCase("linalg_norm", "3d_flat_keepdims", lambda x: L.norm(x, keepdims=True), [(2, 3, 2)],
           numpy_ref=lambda x: np.linalg.norm(x, keepdims=True)),
    OpCase("linalg_norm", "axis1", lambda x: L.norm(x, axis=1), [(3, 4)],
           numpy_ref=lambda x: np.linalg.norm(x, axis=1)),
    OpCase("linalg_norm", "ord1_axis0", lambda x: L.norm(x, 1, axis=0), [(3, 4)], "away_from_kink",
           numpy_ref=lambda x: np.linalg.norm(x, 1, axis=0)),
    OpCase("linalg_norm", "ord_inf", lambda x: L.norm(x, np.inf, axis=-1), [(3, 4)], distinct_abs,
           numpy_ref=lambda x: np.linalg.norm(x, np.inf, axis=-1)),
    OpCase("linalg_norm", "ord_-inf_1d", lambda x: L.norm(x, -np.inf), [(5,)], distinct_abs,
           numpy_ref=lambda x: np.linalg.norm(x, -np.inf)),
    OpCase("linalg_norm", "ord0_no_grad", lambda x: L.norm(x, 0, axis=1), [(3, 4)], "away_from_kink",
           numpy_ref=lambda x: np.linalg.norm(x, 0, axis=1), no_grad=True),
    OpCase("linalg_norm", "ord3_keepdims", lambda x: L.norm(x, 3, axis=0, keepdims=True), [(3, 4)],
           "away_from_kink", numpy_ref=lambda x: np.linalg.norm(x, 3, axis=0, keepdims=True)),
    OpCase("linalg_norm", "ord0.5", lambda x: L.norm(x, 0.5, axis=1), [(2, 3)], "away_from_kink",
           numpy_ref=lambda x: np.linalg.norm(x, 0.5, axis=1)),
    OpCase("linalg_norm", "ord-1.5", lambda x: L.norm(x, -1.5, axis=0), [(3, 2)], "away_from_kink",
           numpy_ref=lambda x: np.linalg.norm(x, -1.5, axis=0)),
    OpCase("linalg_norm", "fro_axes", lambda x: L.norm(x, "fro", axis=(0, 2)), [(3, 2, 4)],
           numpy_ref=lambda x: np.linalg.norm(x, "fro", axis=(0, 2))),
    OpCase("linalg_norm", "fro_2d", lambda x: L.norm(x, "fro"), [(3, 4)],
           numpy_ref=lambda x: np.linalg.norm(x, "fro")),
    OpCase("linalg_norm", "matrix_1", lambda x: L.norm(x, 1), [(3, 4)], distinct_abs,
           numpy_ref=lambda x: np.linalg.norm(x, 1)),
    OpCase("linalg_norm", "matrix_-1_batched", lambda x: L.norm(x, -1, axis=(1, 2)), [(2, 3, 3)],
           distinct_abs, numpy_ref=lambda x: np.linalg.norm(x, -1, axis=(1, 2))),
    OpCase("linalg_norm", "matrix_inf_keepdims", lambda x: L.norm(x, np.inf, axis=(2, 0), keepdims=True),
           [(3, 2, 4)], distinct_abs,
           numpy_ref=lambda x: np.linalg.norm(x, np.inf, axis=(2, 0), keepdims=True)),
    OpCase("linalg_norm", "matrix_-inf", lambda x: L.norm(x, -np.inf), [(4, 3)], distinct_abs,
           numpy_ref=lambda x: np.linalg.norm(x, -np.inf)),
    OpCase("linalg_norm", "T_view", lambda x: L.norm(x, axis=0), [(3, 4)], view="T",
           numpy_ref=lambda x: np.linalg.norm(x, axis=0)),
    # -- matrix_power: a composite of matmul (linalg_inv first for n < 0; where for n = 0)
    OpCase("matmul", "linalg_matrix_power_2", lambda a: L.matrix_power(a, 2), [(3, 3)],
           numpy_ref=lambda a: np.linalg.matrix_power(a, 2)),
    OpCase("matmul", "linalg_matrix_power_3_batched", lambda a: L.matrix_power(a, 3), [(2, 3, 3)],
           numpy_ref=lambda a: np.linalg.matrix_power(a, 3)),
    OpCase("matmul", "linalg_matrix_power_5", lambda a: L.matrix_power(a, 5), [(3, 3)],
           numpy_ref=lambda a: np.linalg.matrix_power(a, 5)),
    OpCase("matmul", "linalg_matrix_power_-2", lambda a: L.matrix_power(a, -2), [(2, 2)], well_conditioned,
           numpy_ref=lambda a: np.linalg.matrix_power(a, -2)),
    OpCase("matmul", "linalg_matrix_power_6_T_view", lambda a: L.matrix_power(a, 6), [(2, 2)], view="T",
           numpy_ref=lambda a: np.linalg.matrix_power(a, 6)),
    OpCase("where", "linalg_matrix_power_0", lambda a: L.matrix_power(a, 0), [(2, 3, 3)],
           numpy_ref=lambda a: np.linalg.matrix_power(a, 0)),
]

# Public names that are composites of primitives (their rows use these names).
COMPOSITES: set[str] = set()

"""`ag.linalg`: NumPy's `numpy.linalg` names, differentiable and batched over leading axes.

Rules follow ops.py's conventions: one VJP per primitive, written with the engine's functions
(this module's own primitives included: `_solve`, `_inv`), so that a `create_graph` sweep can
differentiate it again. Adding an op: one rule here and one row in tests/op_cases_linalg.py.
Primitive names are prefixed `linalg_` so that they stay unique in the whole rule table
(autograd_core/rules.py).

Note [packed outputs]: a primitive returns one array, so a decomposition with several outputs
(slogdet, eigh, svd, qr) is one primitive whose output packs them: each matrix's parts raveled
and joined along a last axis, shape ``batch + (total,)``. The public function slices the parts
back out with getitem and reshape (`_parts`), so each part is differentiable on its own and an
unused part sends a zero cotangent; the VJP slices the packed cotangent the same way.

Note [one triangle]: like LAPACK, NumPy's cholesky and eigh read only one triangle of their input
(the lower one by default) and assume the matrix is symmetric. These ops are differentiated as
the functions NumPy computes: the gradient lies on the triangle that is read (an entry below the
diagonal stands for itself and its mirror image, so it gets the sum of both symmetric partials),
and entries of the other triangle get 0. For a symmetric input built as ``X @ X.T`` or
``(B + B.T) / 2`` the gradient reaching X or B is the same as with the symmetric convention.

Where a function is not differentiable the VJP raises `numpy.linalg.LinAlgError` (a ValueError)
naming the op and why, instead of returning inf or NaN: repeated eigenvalues (eigh) or singular
values (svd) when the eigen- or singular vectors get a cotangent, a singular matrix for det and
slogdet, a rank-deficient input for qr and for the non-square part of svd.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from . import ops
from .ops import _dtype, _raw, _shape, _swap
from .primitive import defop, rule_table
from .tensor import Tensor

LinAlgError = np.linalg.LinAlgError
_UNSET = object()  # an argument not given (pinv's rtol: NumPy tells None from "not given")


# ---- helpers -----------------------------------------------------------------------------------
def _holds_tensor(x) -> bool:
    return isinstance(x, Tensor) or (isinstance(x, (list, tuple)) and any(_holds_tensor(v) for v in x))


def _operand(x, op: str):
    """A Tensor or an array as given; a list of numbers becomes an array. A list holding Tensors is
    refused (NumPy would turn them into plain arrays and drop their gradients)."""
    if isinstance(x, (Tensor, np.ndarray)):
        return x
    if _holds_tensor(x):
        raise TypeError(f"{op}: got a {type(x).__name__} holding Tensors; build one Tensor first "
                        "(ag.stack or ag.array) so that the gradient reaches them")
    return np.asarray(x)


def _matrix(op: str, a, square: bool = False):
    a = _operand(a, op)
    s = _shape(a)
    if len(s) < 2 or (square and s[-1] != s[-2]):
        what = "a square matrix (..., M, M)" if square else "a matrix (..., M, N)"
        raise LinAlgError(f"{op}: expected {what} or a stack of them, got an array of shape {s}")
    return a


def _parts(packed, shapes: tuple[tuple[int, ...], ...]) -> list:
    """The parts of a packed output or cotangent (Note [packed outputs]), as arrays or Tensors."""
    batch = tuple(_shape(packed)[:-1])
    out, start = [], 0
    for s in shapes:
        n = math.prod(s)
        out.append(packed[..., start:start + n].reshape(batch + tuple(s)))
        start += n
    return out


def _pack(*parts: np.ndarray, batch: tuple) -> np.ndarray:
    return np.concatenate([p.reshape(batch + (math.prod(p.shape[len(batch):]),)) for p in parts],
                          axis=-1)


def _lapack(name: str, fun, *args, **kwargs):
    """NumPy's LAPACK call, its error naming the op."""
    try:
        return fun(*args, **kwargs)
    except LinAlgError as e:
        raise LinAlgError(f"{name}: {e}") from None


def _triangle(n: int, dtype, upper: bool) -> np.ndarray:
    """1 strictly below the diagonal (above, if `upper`), 1/2 on it, 0 elsewhere: the gradient of a
    function of one triangle is ``mask * (G + G.T)`` for G its gradient as a symmetric matrix."""
    m = np.tril(np.ones((n, n), dtype), -1) + np.eye(n, dtype=dtype) / 2
    return m.T.copy() if upper else m


def _tol(v: np.ndarray, size: int) -> np.ndarray:
    """Per matrix: how far apart two of its eigen- or singular values `v` (..., k) may be and still
    be equal up to the rounding of a decomposition of a matrix of `size` rows at v's dtype."""
    return 10 * size * np.finfo(v.dtype).eps * np.max(np.abs(v), axis=-1, initial=0)


def _ties(v: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """Pairs (i, j), i != j, of values v (..., k) no more than `tol` apart: where 1/(v_j - v_i)
    would be rounding noise or infinite."""
    k = v.shape[-1]
    return (np.abs(v[..., None, :] - v[..., :, None]) <= tol[..., None, None]) & ~np.eye(k, dtype=bool)


def _gap_inverse(v, ties: np.ndarray, dtype):
    """F_ij = 1/(v_j - v_i) off the diagonal and away from ties, 0 elsewhere (differentiable in v)."""
    keep = (~ties & ~np.eye(ties.shape[-1], dtype=bool)).astype(dtype)
    diff = v[..., None, :] - v[..., :, None]
    return keep / ops.where(keep > 0, diff, 1)


def _nonzero(g, axes: tuple[int, ...]) -> np.ndarray:
    """Per matrix: does cotangent part `g` hold a nonzero entry."""
    return np.any(_raw(g) != 0, axis=axes)


# ---- inverse, solve, determinants --------------------------------------------------------------
_inv = defop(lambda a: _lapack("linalg_inv", np.linalg.inv, a),
             lambda g, ans, a: (-(_swap(ans) @ g @ _swap(ans)),), "linalg_inv", reads=())


def inv(a):
    """The inverse of a square matrix or of each in a stack (..., M, M), like ``np.linalg.inv``.
    Gradient: -A⁻ᵀ G A⁻ᵀ. A singular matrix raises LinAlgError (a ValueError) naming the op."""
    return _inv(_matrix("linalg.inv", a, square=True))


def solve_vjp(g, ans, a, b, *, needs):
    vector = np.ndim(_raw(b)) == 1
    at = _swap(a)
    gb = _solve(at, g[..., None])[..., 0] if vector else _solve(at, g)  # A⁻ᵀ g
    ga = None
    if needs[0]:
        ga = -(gb[..., :, None] * ans[..., None, :]) if vector else -(gb @ _swap(ans))
    return ga, (gb if needs[1] else None)


_solve = defop(lambda a, b: _lapack("linalg_solve", np.linalg.solve, a, b), solve_vjp, "linalg_solve",
               broadcasting=True, reads=(0,))


def solve(a, b):
    """x with a @ x = b, like ``np.linalg.solve`` (NumPy 2): b is one vector (M,) only when
    b.ndim == 1, else a stack of matrices (..., M, K); batch axes broadcast. A singular matrix
    raises LinAlgError naming the op. Gradients: gb = A⁻ᵀ g, ga = -gb xᵀ."""
    a = _matrix("linalg.solve", a, square=True)
    b = _operand(b, "linalg.solve")
    sa, sb = _shape(a), _shape(b)
    m = sa[-1]
    if len(sb) == 0 or (len(sb) == 1 and sb[0] != m) or (len(sb) >= 2 and sb[-2] != m):
        raise ValueError(f"linalg.solve: b must have shape ({m},) or (..., {m}, K) for a of shape "
                         f"{sa}, got {sb}")
    if len(sb) >= 2:
        try:
            np.broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            raise ValueError(f"linalg.solve: the batch axes of a {sa} and b {sb} do not "
                             "broadcast") from None
    return _solve(a, b)


def det_vjp(g, ans, a):
    if np.any((_raw(ans) == 0) & (_raw(g) != 0)):
        raise LinAlgError("linalg.det: the gradient at a singular matrix (det = 0) is not "
                          "implemented (it is the adjugate, not det * inv)")
    return ((g * ans)[..., None, None] * _swap(_inv(a)),)


_det = defop(np.linalg.det, det_vjp, "linalg_det", reads=(0,))


def det(a):
    """The determinant of a square matrix or of each in a stack (..., M, M), like
    ``np.linalg.det``. Gradient: det(A) A⁻ᵀ; at a singular matrix the VJP raises LinAlgError."""
    return _det(_matrix("linalg.det", a, square=True))


def _slogdet_fwd(a):
    sign, logabs = np.linalg.slogdet(a)
    return np.stack([sign, logabs], axis=-1)


def slogdet_vjp(g, ans, a):
    gl = g[..., 1]  # sign is piecewise constant: its cotangent contributes nothing
    if np.any((_raw(ans)[..., 0] == 0) & (_raw(gl) != 0)):
        raise LinAlgError("linalg.slogdet: logabsdet of a singular matrix is -inf; it has no "
                          "gradient")
    return (gl[..., None, None] * _swap(_inv(a)),)


_slogdet = defop(_slogdet_fwd, slogdet_vjp, "linalg_slogdet", reads=(0,))


def slogdet(a) -> tuple:
    """``(sign, logabsdet)`` of a square matrix or of each in a stack, like ``np.linalg.slogdet``
    (a plain tuple, not NumPy's named result). sign has zero gradient; logabsdet's is A⁻ᵀ, and
    at a singular matrix (sign 0, logabsdet -inf) the VJP raises LinAlgError."""
    out = _slogdet(_matrix("linalg.slogdet", a, square=True))
    return out[..., 0], out[..., 1]


# ---- decompositions: cholesky, eigh, svd, qr ---------------------------------------------------
def cholesky_vjp(g, ans, a, *, upper):
    # Murray (2016): with A = L Lᵀ, dL = L Φ(L⁻¹ dA L⁻ᵀ), so the gradient as a symmetric matrix
    # is sym(S), S = L⁻ᵀ Φ(Lᵀ Ḡ) L⁻¹ (Φ: the lower triangle, diagonal halved); Note [one triangle]
    n = _shape(ans)[-1]
    low, lbar = (_swap(ans), _swap(g)) if upper else (ans, g)
    phi = _triangle(n, _dtype(g), upper=False)
    lt = _swap(low)
    x = _solve(lt, (lt @ lbar) * phi)  # L⁻ᵀ Φ(Lᵀ Ḡ)
    s = _swap(_solve(lt, _swap(x)))  # ... L⁻¹
    return ((s + _swap(s)) * (phi.T if upper else phi),)


_cholesky = defop(lambda a, *, upper: _lapack("linalg_cholesky", np.linalg.cholesky, a, upper=upper),
                  cholesky_vjp, "linalg_cholesky", reads=())


def cholesky(a, /, *, upper: bool = False):
    """The Cholesky factor L (lower, A = L Lᵀ; with ``upper=True`` U = Lᵀ, A = Uᵀ U) of a
    symmetric positive-definite matrix or of each in a stack, like ``np.linalg.cholesky``.
    Only the lower (upper) triangle of `a` is read, and the gradient lies on it (Note [one
    triangle] in this module). A matrix that is not positive definite raises LinAlgError."""
    return _cholesky(_matrix("linalg.cholesky", a, square=True), upper=bool(upper))


def _eigh_fwd(a, *, UPLO):  # noqa: N803 (NumPy's name)
    w, v = np.linalg.eigh(a, UPLO=UPLO)
    return _pack(w, v, batch=w.shape[:-1])


def eigh_vjp(g, ans, a, *, UPLO):  # noqa: N803
    # Ā = V (diag(w̄) + F ∘ (Vᵀ V̄)) Vᵀ with F_ij = 1/(w_j - w_i) (Giles 2008), as a symmetric
    # matrix; then onto the triangle that was read (Note [one triangle])
    n = _shape(a)[-1]
    w, v = _parts(ans, ((n,), (n, n)))
    gw, gv = _parts(g, ((n,), (n, n)))
    wr = _raw(w)
    ties = _ties(wr, _tol(wr, n))
    bad = np.any(ties, axis=(-2, -1)) & _nonzero(gv, (-2, -1))
    if np.any(bad):
        raise LinAlgError(
            "linalg.eigh: the eigenvectors are not differentiable at repeated eigenvalues "
            f"({wr[bad][0]}), where they are not unique; only the eigenvalues are")
    dtype = _dtype(g)
    eye = np.eye(n, dtype=dtype)
    inner = gw[..., None, :] * eye + _gap_inverse(w, ties, dtype) * (_swap(v) @ gv)
    x = v @ inner @ _swap(v)
    return ((x + _swap(x)) * _triangle(n, dtype, upper=UPLO == "U"),)


_eigh = defop(_eigh_fwd, eigh_vjp, "linalg_eigh", reads=())


def eigh(a, UPLO: str = "L") -> tuple:  # noqa: N803
    """``(w, v)``: the eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix or
    of each in a stack, like ``np.linalg.eigh`` (a plain tuple, not NumPy's named result). Only the
    `UPLO` triangle is read and the gradient lies on it (Note [one triangle] in this module).

    An eigenvector is unique only up to its sign, so only functions of v that do not change when
    a column flips sign (v ** 2, v @ diag(f(w)) @ v.T, ...) have a meaningful gradient. At
    repeated eigenvalues the eigenvectors are not differentiable: if they get a cotangent there,
    the VJP raises LinAlgError; the eigenvalues' gradient V diag(w̄) Vᵀ is always returned (at a
    tie, one valid subgradient).
    """
    uplo = str(UPLO).upper()
    if uplo not in ("L", "U"):
        raise ValueError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    a = _matrix("linalg.eigh", a, square=True)
    n = _shape(a)[-1]
    return tuple(_parts(_eigh(a, UPLO=uplo), ((n,), (n, n))))


def _svd_shapes(m: int, n: int, full_matrices: bool) -> tuple:
    k = min(m, n)
    return ((m, m if full_matrices else k), (k,), (n if full_matrices else k, n))


def _svd_fwd(a, *, full_matrices):
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    return _pack(u, s, vh, batch=s.shape[:-1])


def svd_vjp(g, ans, a, *, full_matrices):
    m, n = _shape(a)[-2:]
    k = min(m, n)
    shapes = _svd_shapes(m, n, full_matrices)
    u, s, vh = _parts(ans, shapes)
    gu, gs, gvh = _parts(g, shapes)
    if full_matrices and m != n:  # the columns past k are any basis of a complement: no gradient
        if np.any(_raw(gu)[..., k:] != 0) or np.any(_raw(gvh)[..., k:, :] != 0):
            raise LinAlgError(
                f"linalg.svd: with full_matrices=True the extra columns of U or rows of Vh of a "
                f"{m}x{n} matrix are an arbitrary basis and have no gradient; use "
                "full_matrices=False")
        u, gu, vh, gvh = u[..., :k], gu[..., :k], vh[..., :k, :], gvh[..., :k, :]
    return (_svd_grad(u, s, vh, gu, gs, gvh, m, n, _dtype(g)),)


def _svd_grad(u, s, vh, gu, gs, gvh, m: int, n: int, dtype):
    # Townsend (2016), real case, reduced SVD with k = min(m, n):
    # Ā = U [J S + diag(s̄) + S K] Vᵀ + (I - U Uᵀ) Ū S⁻¹ Vᵀ + U S⁻¹ V̄ᵀ (I - V Vᵀ),
    # J = F ∘ (Uᵀ Ū - Ūᵀ U), K = F ∘ (Vᵀ V̄ - V̄ᵀ V), F_ij = 1/(s_j² - s_i²)
    k = min(m, n)
    sr = _raw(s)
    tol = _tol(sr, max(m, n))
    ties = _ties(sr, tol)
    vectors = _nonzero(gu, (-2, -1)) | _nonzero(gvh, (-2, -1))
    bad = np.any(ties, axis=(-2, -1)) & vectors
    if np.any(bad):
        raise LinAlgError(
            "linalg.svd: U and Vh are not differentiable at repeated singular values "
            f"({sr[bad][0]}), where they are not unique; only S is")
    eye = np.eye(k, dtype=dtype)
    f = _gap_inverse(s * s, ties, dtype)
    ut_gu = _swap(u) @ gu
    vt_gv = vh @ _swap(gvh)
    inner = (f * (ut_gu - _swap(ut_gu)) * s[..., None, :] + gs[..., None, :] * eye
             + s[..., :, None] * (f * (vt_gv - _swap(vt_gv))))
    ga = u @ inner @ vh
    if m != n:
        rank_deficient = np.any(sr <= tol[..., None], axis=-1)
        if np.any(rank_deficient & vectors):
            raise LinAlgError(f"linalg.svd: U and Vh of a rank-deficient {m}x{n} matrix (a zero "
                              "singular value) are not differentiable; only S is")
    if m > k:
        ga = ga + ((gu - u @ ut_gu) / s[..., None, :]) @ vh
    if n > k:
        ga = ga + u @ ((gvh - _swap(vt_gv) @ vh) / s[..., :, None])
    return ga


_svd = defop(_svd_fwd, svd_vjp, "linalg_svd", reads=())


def _svdvals_fwd(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return s, (u, vh)


def svdvals_vjp(g, ans, a, *, saved):
    u, vh = saved if saved is not None else svd(a, full_matrices=False)[::2]  # (Primitive's saves)
    return ((u * g[..., None, :]) @ vh,)


# the singular values alone: their gradient U diag(s̄) Vh needs no distinct values
_svdvals = defop(_svdvals_fwd, svdvals_vjp, "linalg_svdvals", reads=(0,), saves=True)


def svd(a, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False):
    """``(U, S, Vh)`` with a = U diag(S) Vh, or S alone with ``compute_uv=False``, for a matrix or
    a stack (..., M, N), like ``np.linalg.svd`` (a plain tuple, not NumPy's named result).

    Gradients: S's is U diag(S̄) Vh, defined everywhere (at repeated or zero singular values it is
    one valid subgradient). U and Vh are unique only up to flipping the sign of a column of U
    together with the matching row of Vh, so only functions invariant to that have a meaningful
    gradient; at repeated singular values, or at a zero one of a non-square matrix, U and Vh are
    not differentiable and the VJP raises LinAlgError if they get a cotangent. With
    ``full_matrices=True`` (NumPy's default) the extra columns of U (rows of Vh) of a non-square
    matrix are an arbitrary basis: a cotangent on them raises LinAlgError (use
    ``full_matrices=False``). ``hermitian=True`` is not supported (ValueError; use eigh).
    """
    if hermitian:
        raise ValueError("linalg.svd: hermitian=True is not supported; use hermitian=False (the "
                         "same decomposition up to signs) or linalg.eigh")
    a = _matrix("linalg.svd", a)
    if not compute_uv:
        return _svdvals(a)
    m, n = _shape(a)[-2:]
    full = bool(full_matrices)
    return tuple(_parts(_svd(a, full_matrices=full), _svd_shapes(m, n, full)))


def _qr_fwd(a, *, complete):
    q, r = np.linalg.qr(a, mode="complete" if complete else "reduced")
    return _pack(q, r, batch=q.shape[:-2])


def _qr_shapes(m: int, n: int, complete: bool) -> tuple:
    kq = m if complete else min(m, n)
    return ((m, kq), (kq, n))


def qr_vjp(g, ans, a, *, complete):
    m, n = _shape(a)[-2:]
    k = min(m, n)
    shapes = _qr_shapes(m, n, complete)
    q, r = _parts(ans, shapes)
    gq, gr = _parts(g, shapes)
    if complete and m > n:  # Q's columns past n are any basis of a complement; R's rows there are 0
        if np.any(_raw(gq)[..., k:] != 0):
            raise LinAlgError(f"linalg.qr: with mode='complete' the columns of Q past {n} of a "
                              f"{m}x{n} matrix are an arbitrary basis and have no gradient; use "
                              "mode='reduced'")
        q, gq, r, gr = q[..., :k], gq[..., :k], r[..., :k, :], gr[..., :k, :]
    diag = np.abs(np.diagonal(_raw(r)[..., :k, :k], axis1=-2, axis2=-1))
    if np.any(diag <= 10 * k * np.finfo(_dtype(g)).eps * np.max(diag, initial=0)):
        raise LinAlgError("linalg.qr: the QR decomposition of a matrix whose first min(M, N) "
                          "columns are linearly dependent (R has a zero on its diagonal) is not "
                          "differentiable")
    if m >= n:
        return (_qr_tall_grad(q, r, gq, gr),)
    # a wide matrix [X | Y] with X = Q R₁ square: Y = Q R₂ adds Y R̄₂ᵀ to Q̄, and Ȳ = Q R̄₂
    y = q @ r[..., :, m:]
    gx = _qr_tall_grad(q, r[..., :, :m], gq + y @ _swap(gr[..., :, m:]), gr[..., :, :m])
    return (ops.concatenate([gx, q @ gr[..., :, m:]], axis=-1),)


def _qr_tall_grad(q, r, gq, gr):
    # A = Q R with R square (Liao et al. 2019): M = R R̄ᵀ - Q̄ᵀ Q, Ā = (Q̄ + Q copyltu(M)) R⁻ᵀ,
    # copyltu(M) the symmetric matrix with M's lower triangle
    k = _shape(r)[-1]
    low = np.tril(np.ones((k, k), _dtype(gq)))
    mm = r @ _swap(gr) - _swap(gq) @ q
    sym = mm * low + _swap(mm * (low - np.eye(k, dtype=low.dtype)))
    b = gq + q @ sym
    return _swap(_solve(r, _swap(b)))  # B R⁻ᵀ


_qr = defop(_qr_fwd, qr_vjp, "linalg_qr", reads=())


def qr(a, mode: str = "reduced"):
    """The QR decomposition of a matrix or a stack (..., M, N), like ``np.linalg.qr``:
    ``(Q, R)`` for mode 'reduced' (Q (..., M, K), R (..., K, N), K = min(M, N)) or 'complete'
    (Q (..., M, M)), and R alone for mode 'r' (a plain tuple, not NumPy's named result). Q and R
    are NumPy's (LAPACK's Householder signs). Differentiable where the first K columns of `a` are
    linearly independent, else the VJP raises LinAlgError; with 'complete' and M > N a cotangent
    on Q's columns past N raises LinAlgError (they are an arbitrary basis). Mode 'raw' is not
    supported (ValueError)."""
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"linalg.qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    a = _matrix("linalg.qr", a)
    m, n = _shape(a)[-2:]
    complete = mode == "complete"
    q, r = _parts(_qr(a, complete=complete), _qr_shapes(m, n, complete))
    return r if mode == "r" else (q, r)


# ---- pinv, norm, matrix_power ------------------------------------------------------------------
def _pinv_fwd(a, *, rcond, hermitian, rtol):
    extra = {} if rtol is _UNSET else {"rtol": rtol}
    return np.linalg.pinv(a, rcond=rcond, hermitian=hermitian, **extra)


def pinv_vjp(g, ans, a, *, rcond, hermitian, rtol):
    # the derivative of A⁺ at constant rank (Golub & Pereyra 1973), X = A⁺:
    # Ā = -Xᵀ G Xᵀ + (I - A X) Gᵀ X Xᵀ + Xᵀ X Gᵀ (I - X A)
    x, xt, gt = ans, _swap(ans), _swap(g)
    if hermitian:  # the symmetric matrix whose lower triangle NumPy read (Note [one triangle])
        n = _shape(a)[-1]
        low = np.tril(np.ones((n, n), _dtype(g)), -1)
        a = a * (low + np.eye(n, dtype=low.dtype)) + _swap(a * low)
    gxx = gt @ x @ xt
    xxg = xt @ x @ gt
    ga = -(xt @ g @ xt) + (gxx - a @ (x @ gxx)) + (xxg - (xxg @ x) @ a)
    if hermitian:
        ga = (ga + _swap(ga)) * _triangle(_shape(ga)[-1], _dtype(g), upper=False)
    return (ga,)


_pinv = defop(_pinv_fwd, pinv_vjp, "linalg_pinv", reads=(0,))


def pinv(a, rcond=None, hermitian: bool = False, *, rtol=_UNSET):
    """The Moore-Penrose pseudo-inverse of a matrix or a stack (..., M, N), like
    ``np.linalg.pinv`` (same `rcond`, `rtol` and cutoff of small singular values). With
    ``hermitian=True`` only the lower triangle is read (as NumPy's eigh does) and the gradient
    lies on it. Gradient: the derivative at constant rank (Golub & Pereyra), exact wherever no
    singular value crosses the cutoff; at a rank-deficient matrix it is that of the map keeping
    the rank (the pseudo-inverse itself jumps when a singular value leaves zero)."""
    a = _matrix("linalg.pinv", a, square=bool(hermitian))
    return _pinv(a, rcond=rcond, hermitian=bool(hermitian), rtol=rtol)


def _order(ord) -> float:
    """The p of a vector norm (None and 'fro' are 2)."""
    return 2.0 if ord is None or ord in ("fro", "f") else float(ord)


def norm_vjp(g, ans, x, *, ord, axis, keepdims):
    p, shape = _order(ord), _shape(x)
    if p == 0:  # the number of nonzeros: piecewise constant
        return (None,)
    xr = _raw(x)
    gk = ops._keep(g, shape, axis, keepdims)
    if p == 1:
        return (gk * np.sign(xr),)
    nk = ops._keep(ans, shape, axis, keepdims)
    if math.isinf(p):  # max (min) of |x|: tied entries share the gradient, as in ag.max
        wins = (np.abs(xr) == _raw(nk)).astype(_dtype(g))
        share = wins / np.sum(wins, axis=axis, keepdims=True)
        return (gk * share * np.sign(xr),)
    zero = _raw(nk) == 0
    nk = ops.where(zero, 1, nk) if np.any(zero) else nk  # the subgradient 0 at x = 0
    if p == 2:
        return (gk * x / nk,)
    ratio = ops.abs(x) / nk  # d‖x‖_p/dx = sign(x) (|x| / ‖x‖_p)^(p-1)
    if p < 1 and np.any(xr == 0):  # |x|^(p-1) is infinite at 0: 0 there (no subgradient exists)
        at0 = xr == 0
        return (gk * np.sign(xr) * ops.where(at0, 0, ops.where(at0, 1, ratio) ** (p - 1)),)
    return (gk * np.sign(xr) * ratio ** (p - 1),)


def _norm_kinks(ans, x, *, ord, axis, keepdims):
    """How far each element is from a point where the norm is not differentiable."""
    p, ax = _order(ord), np.abs(x)
    if p == 0:
        return np.full(np.shape(x), np.inf)
    if math.isinf(p):
        gap = np.abs(ax - ops._keep(ans, np.shape(x), axis, keepdims))
        return np.minimum(np.where(gap > 0, gap, np.inf), ax)
    if p <= 1:
        return ax
    return np.broadcast_to(ops._keep(ans, np.shape(x), axis, keepdims), np.shape(x))  # at x = 0


_norm = defop(lambda x, *, ord, axis, keepdims: np.linalg.norm(x, ord, axis, keepdims), norm_vjp,
              "linalg_norm", reads=(0,), kinks=_norm_kinks)


def _matrix_norm(x, ord, row: int, col: int, keepdims: bool):
    shape = _shape(x)
    kept = tuple(1 if i in (row, col) else n for i, n in enumerate(shape))
    if ord in ("nuc", 2, -2):
        rest = tuple(i for i in range(len(shape)) if i not in (row, col))
        s = _svdvals(ops.transpose(x, axes=rest + (row, col)))
        out = ops.sum(s, axis=-1) if ord == "nuc" else (ops.max if ord == 2 else ops.min)(s, axis=-1)
    else:  # 1, -1: over columns of the sums down each column; inf, -inf: rows, across each row
        inner, outer = (row, col) if abs(ord) == 1 else (col, row)
        sums = _norm(x, ord=1, axis=inner, keepdims=True)
        out = (ops.max if ord > 0 else ops.min)(sums, axis=outer, keepdims=True)
    return ops.reshape(out, kept) if keepdims else ops.reshape(out, tuple(
        n for i, n in enumerate(shape) if i not in (row, col)))


def norm(x, ord=None, axis=None, keepdims: bool = False):
    """A vector or matrix norm, like ``np.linalg.norm`` (same `ord`, `axis`, `keepdims`).

    Vectors (an int axis, or 1-D x): ord None/2, 1, inf, -inf, 0 (the count of nonzeros: zero
    gradient) and any other p. Matrices (a pair of axes, or 2-D x with ord given): 'fro', 'nuc',
    2, -2 (by singular values), 1, -1, inf, -inf. ord None with axis None is the 2-norm of the
    flattened x. Subgradients at kinks: 0 for a 2-norm (or p-norm, 'fro') of a zero vector; 0 for
    |x_i| at x_i = 0 (ord 1, and p < 1 where the derivative is infinite); tied largest (smallest)
    entries or singular values share the gradient equally (ord ±inf, ±1, ±2 as in ag.max).
    """
    x = _operand(x, "linalg.norm")
    nd = len(_shape(x))
    if axis is None:
        if ord is None or (ord in ("fro", "f") and nd == 2) or (ord == 2 and nd == 1):
            return _norm(x, ord=None, axis=None, keepdims=bool(keepdims))
        axis = tuple(range(nd))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    try:
        axes = tuple(operator.index(a) for a in axes)
    except TypeError:
        raise TypeError(f"linalg.norm: axis must be None, an int or a tuple of ints, got {axis!r}") from None
    if len(axes) not in (1, 2):
        raise ValueError(f"linalg.norm: a norm is over one axis (vector) or two (matrix); x has "
                         f"{nd} dimensions and axis is {axis!r}")
    if any(not -nd <= a < nd for a in axes):
        raise ValueError(f"linalg.norm: axis {axis!r} is out of bounds for an array of dimension {nd}")
    axes = tuple(a % nd for a in axes)
    if len(axes) == 1:
        if isinstance(ord, str):
            raise ValueError(f"linalg.norm: invalid norm order {ord!r} for vectors")
        try:
            float(ord) if ord is not None else None
        except (TypeError, ValueError):
            raise ValueError(f"linalg.norm: invalid norm order {ord!r} for vectors") from None
        return _norm(x, ord=ord, axis=axes[0], keepdims=bool(keepdims))
    row, col = axes
    if row == col:
        raise ValueError(f"linalg.norm: duplicate axes {axis!r}")
    if ord is None or (isinstance(ord, str) and ord in ("fro", "f")):
        return _norm(x, ord="fro", axis=axes, keepdims=bool(keepdims))
    if not (isinstance(ord, str) and ord == "nuc") and (
            isinstance(ord, str) or ord not in (1, -1, 2, -2, np.inf, -np.inf)):
        raise ValueError(f"linalg.norm: invalid norm order {ord!r} for matrices; use 'fro', "
                         "'nuc', 1, -1, 2, -2, inf or -inf")
    return _matrix_norm(x, ord, row, col, bool(keepdims))


def matrix_power(a, n: int):
    """The n-th power of a square matrix or of each in a stack, like ``np.linalg.matrix_power``:
    repeated squaring with matmul (the same products as NumPy), n < 0 by the inverse first. n = 0
    gives the identity with a's shape and dtype (zero gradient); n = 1 returns `a` itself, as NumPy
    does. A composite: it records matmul (and linalg_inv, or where for n = 0)."""
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"linalg.matrix_power: the exponent must be an integer, got {n!r}") from None
    a = _matrix("linalg.matrix_power", a, square=True)
    if n == 0:  # the identity, still a function of a (with zero gradient), as NumPy's dtype
        shape = _shape(a)
        eye = np.broadcast_to(np.eye(shape[-1], dtype=_dtype(a)), shape)
        return ops.where(np.ones(shape, dtype=bool), eye, a)
    if n < 0:
        a, n = inv(a), -n
    if n == 1:
        return a
    if n == 2:
        return ops.matmul(a, a)
    if n == 3:
        return ops.matmul(ops.matmul(a, a), a)
    z = result = None
    while n > 0:  # binary decomposition, NumPy's order of products
        z = a if z is None else ops.matmul(z, z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else ops.matmul(result, z)
    return result


__all__, PRIMITIVES = rule_table(globals(), __name__)

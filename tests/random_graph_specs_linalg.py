"""Random-graph rows (`OpSpec`) for the ops of tests/op_cases_linalg.py's family: joined into
SPEC_ROWS by tests/random_graphs.py, from whose picks and templates they are built.

A linear-algebra op needs operands well inside its domain: matrices well conditioned, eigenvalues
and singular values apart (else eigen- and singular vectors are not differentiable), QR inputs
whose Householder signs do not flip within a difference step. Each pick asks for an operand of
the exact shape it needs that satisfies a predicate on the oracle's values (an earlier value of
the graph when one fits, else a fresh leaf drawn from a domain that usually does), and the
predicate is rechecked when the shrinker changes the graph.

cholesky and eigh read one triangle (Note [one triangle] in autograd_core/linalg.py): their
PyTorch templates build the symmetric matrix from that triangle, so that PyTorch differentiates
the function NumPy computes. Decompositions are spelled as one array: eigenvalues, singular
values, R, Q, or the squares of eigen- and singular vectors (invariant to their signs).
"""

from __future__ import annotations

import numpy as np

COND = 10.0  # the largest condition number of a matrix that is inverted or solved with
SMALLEST = 0.3  # the smallest singular value (eigenvalue for cholesky) allowed
GAP = 0.5  # the smallest distance between two eigenvalues or singular values
ALPHA = 0.1  # how far from 0 each Householder pivot of a QR stays (its sign would flip there)


# ---- domains for fresh leaves: (rng, shape) -> float64 ---------------------------------------------
def _eye_like(shape: tuple) -> np.ndarray:
    return np.broadcast_to(np.eye(shape[-2], shape[-1]), shape) if len(shape) >= 2 else np.ones(shape)


def dominant(rng, shape):
    """2.5·I plus noise (on the last two axes): well conditioned, pivots of QR far from 0."""
    return 2.5 * _eye_like(shape) + 0.5 * rng.standard_normal(shape)


def spd_like(rng, shape):
    """X Xᵀ / n + I with distinct eigenvalues most of the time (symmetric when square)."""
    if len(shape) < 2 or shape[-1] != shape[-2]:
        return rng.standard_normal(shape)
    x = rng.standard_normal(shape)
    return x @ np.swapaxes(x, -1, -2) + np.diag(np.arange(1.0, shape[-1] + 1))


def small(rng, shape):
    """Entries in [-0.6, 0.6]: powers stay bounded."""
    return rng.uniform(-0.6, 0.6, shape)


# ---- predicates on the oracle's float64 values ------------------------------------------------------
def _finite(v) -> bool:
    return bool(np.all(np.isfinite(v)))


def conditioned(v) -> bool:
    """Every matrix of the stack: singular values at least SMALLEST, condition at most COND."""
    v = np.asarray(v, dtype=np.float64)
    if v.ndim < 2 or not _finite(v):
        return False
    s = np.linalg.svd(v, compute_uv=False)
    return bool(np.all(s[..., -1] >= SMALLEST) and np.all(s[..., 0] <= COND * s[..., -1]))


def _sym_lower(v: np.ndarray, upper: bool = False) -> np.ndarray:
    """The symmetric matrix that NumPy's cholesky/eigh read from one triangle."""
    if upper:
        v = np.swapaxes(v, -1, -2)
    return np.tril(v) + np.swapaxes(np.tril(v, -1), -1, -2)


def _apart(values: np.ndarray) -> bool:
    """Sorted values (..., k): neighbours at least GAP apart."""
    return bool(np.all(np.abs(np.diff(np.sort(values, axis=-1), axis=-1)) >= GAP))


def positive_definite(upper: bool):
    def ok(v) -> bool:
        v = np.asarray(v, dtype=np.float64)
        if v.ndim < 2 or v.shape[-1] != v.shape[-2] or not _finite(v):
            return False
        w = np.linalg.eigvalsh(_sym_lower(v, upper))
        return bool(np.all(w[..., 0] >= SMALLEST) and np.all(w[..., -1] <= COND * w[..., 0]))

    return ok


def distinct_eigenvalues(upper: bool):
    def ok(v) -> bool:
        v = np.asarray(v, dtype=np.float64)
        if v.ndim < 2 or v.shape[-1] != v.shape[-2] or not _finite(v):
            return False
        return _apart(np.linalg.eigvalsh(_sym_lower(v, upper)))

    return ok


def distinct_singular_values(v) -> bool:
    """Singular values at least GAP apart and at least SMALLEST (U and Vh differentiable)."""
    v = np.asarray(v, dtype=np.float64)
    if v.ndim < 2 or not _finite(v):
        return False
    s = np.linalg.svd(v, compute_uv=False)
    return bool(np.all(s >= SMALLEST)) and _apart(s)


def _householder_pivots(a: np.ndarray) -> list[float]:
    """The pivots α_k that LAPACK's Householder QR (dgeqr2/dlarfg) reflects: R_kk = -sign(α_k)·‖·‖,
    so R and Q jump where one crosses 0. The last one of a square matrix is not reflected."""
    r = np.array(a, dtype=np.float64)
    m, n = r.shape
    pivots = []
    for k in range(min(m - 1, n)):
        x = r[k:, k]
        pivots.append(float(x[0]))
        u = x.copy()
        u[0] += np.copysign(np.linalg.norm(x), x[0])
        uu = float(u @ u)
        if uu > 0:
            r[k:, k:] -= np.outer(u, (2 / uu) * (u @ r[k:, k:]))
    return pivots


def qr_stable(v) -> bool:
    """Full rank in the first min(M, N) columns, and Householder pivots away from 0."""
    v = np.asarray(v, dtype=np.float64)
    if v.ndim < 2 or not _finite(v):
        return False
    k = min(v.shape[-2:])
    for a in v.reshape((-1,) + v.shape[-2:]):
        r = np.linalg.qr(a, mode="r")
        if np.any(np.abs(np.diagonal(r)[:k]) < SMALLEST):
            return False
        if any(abs(p) < ALPHA for p in _householder_pivots(a)):
            return False
    return True


# ---- picks ---------------------------------------------------------------------------------------------
def _square_shape(rng, batch: bool = True) -> tuple:
    n = int(rng.choice([1, 2, 3], p=[0.15, 0.4, 0.45]))
    return ((2,) if batch and rng.random() < 0.3 else ()) + (n, n)


def _matrix_shape(rng) -> tuple:
    m, n = (int(k) for k in rng.integers(1, 5, 2))
    return ((2,) if rng.random() < 0.2 and m * n <= 9 else ()) + (m, n)


def pick_matrix(ok, domain, square: bool = True, params=None):
    """One matrix operand satisfying `ok`; `params(rng, shape)` gives the call's parameters."""

    def pick(b):
        import random_graphs as rg

        shape = _square_shape(b.rng) if square else _matrix_shape(b.rng)
        x = b.tensor(shape=shape, domain=domain, ok=ok)
        if x is None:
            return None
        return rg.Pick((x,), params(b.rng, shape) if params else {}, ok=lambda v: ok(v[0]))

    return pick


def _slogdet_part(rng, shape) -> dict[str, str]:
    """logabsdet mostly, at times the sign (zero gradient)."""
    return {"part": "1" if rng.random() < 0.8 else "0"}


def pick_solve(b):
    """a (..., n, n) and b (n,) or (..., n, k): never a b that PyTorch would read as a batch of
    vectors (b.ndim == a.ndim - 1) where NumPy 2 reads a stack of matrices."""
    import random_graphs as rg

    rng = b.rng
    shape = _square_shape(rng)
    a = b.tensor(shape=shape, domain=dominant, ok=conditioned)
    if a is None:
        return None
    n = shape[-1]
    kind = int(rng.integers(3))
    if kind == 0:
        bs = (n,)
    elif kind == 1 and len(shape) == 2:
        bs = (n, int(rng.integers(1, 4)))
    else:
        bs = (int(rng.choice([1, 2])) if len(shape) == 3 else 2, n, int(rng.integers(1, 3)))
    rhs = b.const(bs) if rng.random() < 0.15 else b.tensor(shape=bs)
    if rhs is None:
        return None
    return rg.Pick((a, rhs), ok=lambda v: conditioned(v[0]))


def _triangle_params(upper: bool) -> dict[str, str]:
    """Source for PyTorch: the symmetric matrix NumPy reads from one triangle."""
    return {"tri": "triu" if upper else "tril", "off": "1" if upper else "-1"}


def pick_cholesky(b):
    import random_graphs as rg

    upper = bool(b.rng.random() < 0.3)
    ok = positive_definite(upper)
    x = b.tensor(shape=_square_shape(b.rng), domain=spd_like, ok=ok)
    if x is None:
        return None
    params = {"kw_": ", upper=True" if upper else "", **_triangle_params(upper)}
    return rg.Pick((x,), params, ok=lambda v: ok(v[0]))


def pick_eigh(b):
    import random_graphs as rg

    rng = b.rng
    upper = bool(rng.random() < 0.3)
    ok = distinct_eigenvalues(upper)
    x = b.tensor(shape=_square_shape(rng), domain=spd_like, ok=ok)
    if x is None:
        return None
    params = {"kw_": ", UPLO='U'" if upper else "", "post": "[0]" if rng.random() < 0.5 else "[1] ** 2",
              **_triangle_params(upper)}
    return rg.Pick((x,), params, ok=lambda v: ok(v[0]))


def pick_svd(b):
    """S (compute_uv=False, or from the tuple with NumPy's full_matrices=True), or U ** 2 or
    Vh ** 2 (full_matrices=False; the default for a square matrix)."""
    import random_graphs as rg

    rng = b.rng
    shape = _matrix_shape(rng)
    x = b.tensor(shape=shape, domain=dominant, ok=distinct_singular_values)
    if x is None:
        return None
    kind = int(rng.integers(4))
    square = shape[-1] == shape[-2]
    if kind == 0:
        kw, post, tpost = ", compute_uv=False", "", "[1]"
    elif kind == 1:
        kw, post, tpost = "", "[1]", "[1]"
    else:
        kw = "" if square and rng.random() < 0.5 else ", full_matrices=False"
        post = tpost = "[0] ** 2" if kind == 2 else "[2] ** 2"
    return rg.Pick((x,), {"kw_": kw, "post": post, "tpost": tpost},
                   ok=lambda v: distinct_singular_values(v[0]))


def pick_qr(b):
    import random_graphs as rg

    rng = b.rng
    x = b.tensor(shape=_matrix_shape(rng), domain=dominant, ok=qr_stable)
    if x is None:
        return None
    kind = int(rng.integers(3))
    params = ({"kw_": ", mode='r'", "post": "", "tpost": "[1]"} if kind == 0
              else {"kw_": "", "post": f"[{kind - 1}]", "tpost": f"[{kind - 1}]"})
    return rg.Pick((x,), params, ok=lambda v: qr_stable(v[0]))


def _norm_choice(rng, nd: int):
    """(ord, axis, keepdims, kind): a vector norm ('vector'), a matrix norm ('matrix', 'svd'), or
    the default 2-norm of the flattened array ('flat')."""
    keepdims = bool(rng.random() < 0.3)
    r = rng.random()
    if r < 0.2:
        return None, None, keepdims, "flat"
    if nd >= 2 and r < 0.55:
        axes = tuple(int(a) for a in rng.choice(nd, 2, replace=False))
        ord_ = [None, "fro", "nuc", 2, -2, 1, -1, np.inf, -np.inf][int(rng.integers(9))]
        kind = "svd" if ord_ in ("nuc", 2, -2) else "matrix"
        return ord_, axes, keepdims, kind
    ord_ = [None, 2, 1, np.inf, -np.inf, 0, 3, 0.5][int(rng.integers(8))]
    return ord_, int(rng.integers(-nd, nd)), keepdims, "vector"


def _src(v, torch: bool = False) -> str:
    if isinstance(v, float) and np.isinf(v):
        return ("float('inf')" if v > 0 else "-float('inf')") if torch else ("np.inf" if v > 0 else "-np.inf")
    return repr(v)


def _norm_ok(ord_, axis, kind):
    """Away from the norm's kinks: nonzero entries (ord 1, 0, p < 1, matrix ±1, ±inf), a nonzero
    vector (2-norms), one largest (smallest) |entry| or column/row sum, distinct nonzero singular
    values."""
    import random_graphs as rg

    def ok(v) -> bool:
        v = np.asarray(v, dtype=np.float64)
        if kind == "svd":
            return distinct_singular_values(np.moveaxis(v, axis, (-2, -1)))
        if kind == "flat" or (kind == "vector" and ord_ in (None, 2, 3)) or ord_ in (None, "fro"):
            axes = None if kind == "flat" else axis
            return bool(np.all(np.sqrt(np.sum(v * v, axis=axes)) > rg.KINK))
        if not rg.away_from_zero(v):
            return False
        if kind == "vector" and ord_ in (np.inf, -np.inf):
            return rg.unique_extremum(np.abs(v), axis, ord_ > 0)
        if kind == "matrix":  # ±1: sums down each column, compared across columns; ±inf: rows
            inner, outer = axis if abs(ord_) == 1 else axis[::-1]
            sums = np.sum(np.abs(v), axis=inner, keepdims=True)
            return rg.unique_extremum(sums, outer, ord_ > 0)
        return True

    return ok


def pick_norm(b):
    import random_graphs as rg

    rng = b.rng
    nd = int(rng.choice([1, 2, 3], p=[0.35, 0.45, 0.2]))
    ord_, axis, keepdims, kind = _norm_choice(rng, nd)
    ok = _norm_ok(ord_, axis, kind)
    x = b.tensor(ndim=(nd, nd), domain=rg.nonzero, ok=ok)
    if x is None:
        return None
    kw, tkw = [], []
    if ord_ is not None or rng.random() < 0.3:
        kw.append(f"ord={_src(ord_)}")
        tkw.append(f"ord={_src(ord_, torch=True)}")
    if axis is not None:
        kw.append(f"axis={axis!r}")
        tkw.append(f"dim={axis!r}")
    if keepdims or rng.random() < 0.2:
        kw.append(f"keepdims={keepdims}")
        tkw.append(f"keepdim={keepdims}")
    params = {"kw_": "".join(", " + k for k in kw), "tkw_": "".join(", " + k for k in tkw)}
    return rg.Pick((x,), params, ok=lambda v: ok(v[0]))


def pick_matrix_power(b):
    import random_graphs as rg

    rng = b.rng
    n = int(rng.choice([-2, -1, 0, 2, 3, 5]))
    if n < 0:
        ok = conditioned
    else:  # powers of a matrix with ‖A‖₂ <= 1.5 stay within the value bound
        def ok(v):
            v = np.asarray(v, dtype=np.float64)
            return v.ndim >= 2 and _finite(v) and bool(np.all(np.linalg.norm(v, 2, axis=(-2, -1)) <= 1.5))
    x = b.tensor(shape=_square_shape(rng), domain=dominant if n < 0 else small, ok=ok)
    if x is None:
        return None
    return rg.Pick((x,), {"n": str(n)}, ok=lambda v: ok(v[0]))


def rows() -> list:
    import random_graphs as rg  # (imported when random_graphs assembles its table)

    OpSpec = rg.OpSpec  # noqa: N806
    tri = "torch.{tri}({0}) + torch.{tri}({0}, {off}).mT"  # the symmetric matrix NumPy reads
    return [
        OpSpec("linalg.inv", pick_matrix(conditioned, dominant), ("ag.linalg.inv({0})",),
               "np.linalg.inv({0})", "torch.linalg.inv({0})", 0.7),
        OpSpec("linalg.solve", pick_solve, ("ag.linalg.solve({0}, {1})",), "np.linalg.solve({0}, {1})",
               "torch.linalg.solve({0}, {1})", 0.7),
        OpSpec("linalg.det", pick_matrix(conditioned, dominant), ("ag.linalg.det({0})",),
               "np.linalg.det({0})", "torch.linalg.det({0})", 0.5),
        OpSpec("linalg.slogdet", pick_matrix(conditioned, dominant, params=_slogdet_part),
               ("ag.linalg.slogdet({0})[{part}]",), "np.linalg.slogdet({0})[{part}]",
               "torch.linalg.slogdet({0})[{part}]", 0.5),
        OpSpec("linalg.cholesky", pick_cholesky, ("ag.linalg.cholesky({0}{kw_})",),
               "np.linalg.cholesky({0}{kw_})", f"torch.linalg.cholesky({tri}{{kw_}})", 0.6),
        OpSpec("linalg.eigh", pick_eigh, ("ag.linalg.eigh({0}{kw_}){post}",),
               "np.linalg.eigh({0}{kw_}){post}", f"torch.linalg.eigh({tri}){{post}}", 0.6),
        OpSpec("linalg.svd", pick_svd, ("ag.linalg.svd({0}{kw_}){post}",), "np.linalg.svd({0}{kw_}){post}",
               "torch.linalg.svd({0}, full_matrices=False){tpost}", 0.6),
        OpSpec("linalg.qr", pick_qr, ("ag.linalg.qr({0}{kw_}){post}",), "np.linalg.qr({0}{kw_}){post}",
               "torch.linalg.qr({0}){tpost}", 0.6),
        OpSpec("linalg.pinv", pick_matrix(distinct_singular_values, dominant, square=False),
               ("ag.linalg.pinv({0})",), "np.linalg.pinv({0})", "torch.linalg.pinv({0})", 0.5),
        OpSpec("linalg.norm", pick_norm, ("ag.linalg.norm({0}{kw_})",), "np.linalg.norm({0}{kw_})",
               "torch.linalg.norm({0}{tkw_})", 0.8),
        OpSpec("linalg.matrix_power", pick_matrix_power, ("ag.linalg.matrix_power({0}, {n})",),
               "np.linalg.matrix_power({0}, {n})", "torch.linalg.matrix_power({0}, {n})", 0.5),
    ]

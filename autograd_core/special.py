"""`ag.special`: SciPy's `scipy.special` names, differentiable, in NumPy (no SciPy needed).

Rules follow ops.py's conventions. Adding an op: one rule here and one row in
tests/op_cases_math.py. Primitive names are prefixed `special_` where they would collide with
a name elsewhere in the rule table (autograd_core/rules.py).

Accuracy: erf, erfc and gammaln apply Python's `math.erf`, `math.erfc` and `math.lgamma` to each
element (a few ulp in float64, at Python speed per element); digamma and its derivatives
(`_polygamma`) are NumPy code, accurate to about 1e-14 relative (absolute near a zero). All are
computed in float64 and returned in the input's float dtype (float32 stays float32; integers give
float64).

Composites record the op they are made of: `expit` is `sigmoid`, `log_softmax` is the top-level
`log_softmax` (with SciPy's default axis=None), `logsumexp` without `b` is the top-level
`logsumexp`; with `b` it records `special_logsumexp`.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import ops
from .ops import _axes, _keep, _raw
from .primitive import defop, rule_table
from .tensor import Tensor

_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


def _float_dtype(x: np.ndarray) -> np.dtype:
    return x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)


def _per_element(fun):
    """A float -> float function of the math module applied to every element (in float64, the
    result in the input's float dtype)."""
    ufunc = np.frompyfunc(fun, 1, 1)

    def apply(x):
        x = np.asarray(x)
        return np.asarray(ufunc(x.astype(np.float64)), dtype=_float_dtype(x))

    return apply


def _lgamma(v: float) -> float:
    try:
        return math.lgamma(v)
    except ValueError:  # a pole (0, -1, -2, ...): log|Γ| is +inf there, as SciPy's gammaln gives
        return math.inf


# ---- error functions and log-gamma -----------------------------------------------------------------
erf = defop(_per_element(math.erf), lambda g, ans, x: (
    g * (_TWO_OVER_SQRT_PI * ops.exp(-(x * x))),), "erf", reads=(0,))
erf.__doc__ = "SciPy's erf: 2/√π ∫₀ˣ e^(-t²) dt, elementwise (Python's math.erf per element)."
erfc = defop(_per_element(math.erfc), lambda g, ans, x: (
    g * (-_TWO_OVER_SQRT_PI * ops.exp(-(x * x))),), "erfc", reads=(0,))
erfc.__doc__ = """SciPy's erfc: 1 - erf(x), accurate where erf(x) rounds to 1 (Python's math.erfc per
element)."""
gammaln = defop(_per_element(_lgamma), lambda g, ans, x: (g * digamma(x),), "gammaln", reads=(0,))
gammaln.__doc__ = """SciPy's gammaln: log|Γ(x)| (Python's math.lgamma per element); +inf at the poles
0, -1, -2, .... Its derivative is digamma."""


# ---- digamma and its derivatives -------------------------------------------------------------------
# B_2, B_4, ..., B_22: the asymptotic series ψ(x) ~ ln x - 1/(2x) - Σ_k B_2k / (2k x^2k)
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798,
              -174611 / 330, 854513 / 138)
_ASYMPTOTIC_FROM = 10.0  # the series is used from x >= 10 + n: its first omitted term is < 1e-15


@functools.cache
def _cot_derivative(n: int) -> tuple[int, ...]:
    """Coefficients of Q_n, with d^n/dx^n cot(πx) = π^n Q_n(cot(πx)): Q_0(c) = c and
    Q_(m+1)(c) = -(1 + c²) Q_m'(c), as d/dx cot(πx) = -π(1 + cot²(πx))."""
    q = [0, 1]
    for _ in range(n):
        dq = [k * q[k] for k in range(1, len(q))]
        q = [0] * (len(dq) + 2)
        for i, a in enumerate(dq):
            q[i] -= a
            q[i + 2] -= a
    return tuple(q)


def _psi_positive(x: np.ndarray, n: int) -> np.ndarray:
    """ψ^(n)(x) for x > 0 (float64): the recurrence ψ^(n)(x) = ψ^(n)(x + 1) - (-1)^n n!/x^(n+1)
    up to x >= 10 + n, then the asymptotic series differentiated n times."""
    c = (-1) ** n * math.factorial(n)
    acc = np.zeros_like(x)
    start = _ASYMPTOTIC_FROM + n
    with np.errstate(over="ignore", divide="ignore"):  # x -> 0: the exact result is ±inf there
        while True:
            low = x < start
            if not low.any():
                break
            acc -= np.where(low, c / np.where(low, x, 1.0) ** (n + 1), 0.0)
            x = np.where(low, x + 1, x)
    t = 1 / x
    if n == 0:
        out = np.log(x) - 0.5 * t
    else:
        out = (-1) ** (n - 1) * math.factorial(n - 1) * t ** n - 0.5 * c * t ** (n + 1)
    for k, b in enumerate(_BERNOULLI, start=1):  # d^n/dx^n of -B_2k/(2k) x^(-2k)
        out -= (-1) ** n * b * math.factorial(2 * k + n - 1) / math.factorial(2 * k) * t ** (2 * k + n)
    return out + acc


def _psi(x, n: int) -> np.ndarray:
    """ψ^(n)(x), the n-th derivative of digamma (float64 inside, x's float dtype out). For x <= 0
    the reflection ψ^(n)(x) = (-1)^n ψ^(n)(1 - x) - π^(n+1) Q_n(cot πx) (see `_cot_derivative`).
    At the poles 0, -1, -2, ...: +inf for odd n (the limit from both sides), nan for even n (no
    limit: digamma goes to -inf on one side, +inf on the other); at -inf: nan."""
    x = np.asarray(x)
    dtype, x = _float_dtype(x), x.astype(np.float64)
    out = np.empty_like(x)
    right = ~(x <= 0)  # (nan stays here, and gives nan)
    out[right] = _psi_positive(x[right], n)
    left = x[~right]
    if (~right).any():  # (not left.size: a size is not traced, and ag.jit must replay this branch)
        finite = np.isfinite(left)
        left = np.where(finite, left, 0.0)  # (-inf: nan below)
        r = left - np.round(left)  # cot(πx) = cot(πr) with |r| <= 1/2: exact argument reduction
        pole = r == 0
        r = np.where(pole, 0.5, r)
        cot = np.cos(np.pi * r) / np.sin(np.pi * r)
        reflected = ((-1) ** n * _psi_positive(1 - left, n)
                     - np.pi ** (n + 1) * np.polynomial.polynomial.polyval(cot, _cot_derivative(n)))
        out[~right] = np.where(finite, np.where(pole, np.inf if n % 2 else np.nan, reflected), np.nan)
    return out.astype(dtype, copy=False)


digamma = defop(lambda x: _psi(x, 0), lambda g, ans, x: (g * _polygamma(x, n=1),), "digamma", reads=(0,))
digamma.__doc__ = """SciPy's digamma (psi): d/dx log Γ(x), for every real x, accurate to ~1e-14
relative, absolute near its zeros (recurrence, asymptotic series; reflection for x <= 0). At the
poles 0, -1, -2, ... it is nan (SciPy gives -inf at 0). Differentiable to any order (trigamma, ...
by `_polygamma`)."""
# ψ^(n) for n >= 1 (trigamma is n = 1); its VJP is order n + 1, so every order is differentiable
_polygamma = defop(lambda x, *, n: _psi(x, n), lambda g, ans, x, *, n: (g * _polygamma(x, n=n + 1),),
                   "polygamma", reads=(0,))


# ---- logistic functions -----------------------------------------------------------------------------
def expit(x):
    """SciPy's expit: the logistic sigmoid 1/(1 + e^-x) (records ag.sigmoid)."""
    return ops.sigmoid(x)


def _logit(p):
    p = np.asarray(p)  # (a list of numbers)
    q = 1 - p
    # near p = 1/2, log1p of the small (2p - 1)/(1 - p) keeps the relative precision that the log of
    # a ratio near 1 loses; logit(0) = -inf and logit(1) = inf, as SciPy (outside [0, 1]: nan)
    with np.errstate(divide="ignore"):
        return np.where(np.abs(p - 0.5) < 0.25, np.log1p((2 * p - 1) / q), np.log(p / q))


logit = defop(_logit, lambda g, ans, p: (g / (p * (1 - p)),), "logit", reads=(0,))
logit.__doc__ = "SciPy's logit: log(p / (1 - p)), the inverse of expit; ±inf at 0 and 1."


def _softplus(x):
    # max(x, 0) + log1p(e^-|x|): e^-|x| <= 1 never overflows, and for x << 0 this is log1p(e^x)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


softplus = defop(_softplus, lambda g, ans, x: (g * ops.sigmoid(x),), "softplus", reads=(0,))
softplus.__doc__ = "SciPy's softplus: log(1 + e^x), stable for x of any size; its derivative is expit."


# ---- logsumexp with weights, log_softmax -------------------------------------------------------------
def _drop_zero_weights(a, b):
    """a with -inf where b == 0: SciPy's rule, a zero weight drops its term however large a is
    (else e^(a - shift) may overflow, and 0 * inf is nan)."""
    zero = np.asarray(_raw(b)) == 0
    return ops.where(zero, -np.inf, a) if np.any(zero) else a


def _weighted_sum(a, b, axis):
    """(shift, s) with s = Σ b·e^(a - shift) over `axis` (keepdims), shift the largest a where
    b != 0 (subtracted before exp: e^1000 overflows)."""
    a, b = (np.asarray(v) if isinstance(v, (list, tuple)) else v for v in (a, b))
    dtype = np.result_type(a, b)  # (a Python number b does not upcast a, as in a * b)
    a, b = np.broadcast_arrays(np.asarray(a, dtype=dtype), np.asarray(b, dtype=dtype))
    a = _drop_zero_weights(a, b)
    shift = np.max(a, axis=axis, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0)
    return shift, np.sum(b * np.exp(a - shift), axis=axis, keepdims=True)


def _special_logsumexp(a, b, *, axis, keepdims, signed):
    shift, s = _weighted_sum(a, b, axis)
    if not signed and np.any(s < 0):
        raise ValueError("special.logsumexp: Σ b·exp(a) is negative, and its log is not real; "
                         "pass return_sign=True for log|Σ b·exp(a)| and the sign")
    with np.errstate(divide="ignore"):  # a sum of 0 gives -inf, as SciPy
        out = np.log(np.abs(s)) + shift
    return out if keepdims else np.squeeze(out, axis=_axes(axis, out.ndim))


def special_logsumexp_vjp(g, ans, a, b, *, axis, keepdims, signed, needs):
    # ∂/∂a = sign·b·e^(a - ans), ∂/∂b = sign·e^(a - ans) with sign = sign(Σ b·e^a), which is
    # Σ b·e^(a - ans) itself (its magnitude is 1); at the (broadcast) shape of a and b. A term
    # with b = 0 gives a nothing (its e^(a - ans) may overflow: inf * 0 is nan), b its slope.
    shape = np.broadcast_shapes(np.shape(_raw(a)), np.shape(_raw(b)))
    ans = _keep(ans, shape, axis, keepdims)
    w = ops.exp(_drop_zero_weights(a, b) - ans)
    sign = np.sign(np.sum(_raw(b) * _raw(w), axis=axis, keepdims=True))
    gs = _keep(g, shape, axis, keepdims) * sign
    return (gs * b * w if needs[0] else None), (gs * ops.exp(a - ans) if needs[1] else None)


_special_logsumexp_p = defop(_special_logsumexp, special_logsumexp_vjp, "special_logsumexp",
                             broadcasting=True, reads=(0, 1))


def _like(result, values: np.ndarray):
    """`values` as a Tensor without gradient where `result` is a Tensor, else the array."""
    return Tensor._of(values) if isinstance(result, Tensor) else values


def logsumexp(a, axis=None, b=None, keepdims: bool = False, return_sign: bool = False):
    """SciPy's logsumexp: log Σ b·e^a over `axis` (None: all; an int or a tuple), stable for any
    size of `a`. `b` (weights, broadcasting with `a`) is differentiable too. With
    `return_sign=True` the result is (log|Σ b·e^a|, its sign), the sign without gradient. A
    negative sum without `return_sign` raises ValueError (SciPy returns nan)."""
    if b is None:
        out = ops.logsumexp(a, axis=axis, keepdims=keepdims)
        return (out, _like(out, np.ones(out.shape, out.dtype))) if return_sign else out
    out = _special_logsumexp_p(a, b, axis=axis, keepdims=keepdims, signed=bool(return_sign))
    if not return_sign:
        return out
    _, s = _weighted_sum(_raw(a), _raw(b), axis)
    sign = np.sign(s).astype(out.dtype)
    return out, _like(out, sign if keepdims else np.squeeze(sign, axis=_axes(axis, sign.ndim)))


def log_softmax(x, axis=None):
    """SciPy's log_softmax: x - logsumexp(x, axis) (axis None by default, all elements, unlike
    ag.log_softmax's -1; an int or a tuple), stable for any size."""
    return ops.log_softmax(x, axis=axis)


__all__, PRIMITIVES = rule_table(globals(), __name__)

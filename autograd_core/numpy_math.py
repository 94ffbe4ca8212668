"""The rule table, continued: elementwise math beyond ops.py's core (trigonometric, hyperbolic and
their inverses, exp/log variants, powers, rounding, remainders, hypot, arctan2, logaddexp, sinc).

Rules follow ops.py's conventions (its module docstring): `g`, `ans`, the inputs, then keywords;
one rule serves both sweeps. Adding an op: one rule here and one row in tests/op_cases_math.py.

Non-differentiable points (any valid subgradient is allowed; these are the ones returned):
- floor, ceil, trunc, round: piecewise constant, so their gradient is 0 (no cotangent at all, as
  for `sign`), also at the jumps;
- remainder (mod), fmod: jump where x/y is an integer; between the jumps ∂/∂x = 1 and
  ∂/∂y = -floor(x/y) (remainder) or -trunc(x/y) (fmod), the quotient of the forward's own result;
- hypot and arctan2 at x = y = 0: gradient 0 (for hypot a subgradient: it is a norm);
- cbrt at 0: the derivative is +inf (a vertical tangent); the rule returns g / 0, so +-inf (nan
  where g = 0) with NumPy's divide-by-zero warning, as PyTorch and JAX do.
"""

from __future__ import annotations

import math

import numpy as np

from . import ops
from .ops import _raw
from .primitive import defop, rule_table
from .tensor import attach_methods

_LN2, _LN10 = math.log(2.0), math.log(10.0)

# ---- trigonometric functions and their inverses ----------------------------------------------------
sin    = defop(np.sin,    lambda g, ans, x: (g * cos(x),),                        "sin",    reads=(0,))
cos    = defop(np.cos,    lambda g, ans, x: (-g * sin(x),),                       "cos",    reads=(0,))
tan    = defop(np.tan,    lambda g, ans, x: (g * (1 + ans * ans),),               "tan",    reads=())
# 1 - x² as (1 - x)(1 + x): no cancellation near |x| = 1
arcsin = defop(np.arcsin, lambda g, ans, x: (g / ops.sqrt((1 - x) * (1 + x)),),   "arcsin", reads=(0,))
arccos = defop(np.arccos, lambda g, ans, x: (-g / ops.sqrt((1 - x) * (1 + x)),),  "arccos", reads=(0,))
arctan = defop(np.arctan, lambda g, ans, x: (g / (1 + x * x),),                   "arctan", reads=(0,))

# ---- hyperbolic functions and their inverses -------------------------------------------------------
sinh    = defop(np.sinh,    lambda g, ans, x: (g * cosh(x),),                         "sinh",    reads=(0,))
cosh    = defop(np.cosh,    lambda g, ans, x: (g * sinh(x),),                         "cosh",    reads=(0,))
# sqrt(x² + 1) as hypot(x, 1): no overflow of x² for large |x|
arcsinh = defop(np.arcsinh, lambda g, ans, x: (g / hypot(x, 1.0),),                   "arcsinh", reads=(0,))
arccosh = defop(np.arccosh, lambda g, ans, x: (g / ops.sqrt((x - 1) * (x + 1)),),     "arccosh", reads=(0,))
arctanh = defop(np.arctanh, lambda g, ans, x: (g / ((1 - x) * (1 + x)),),             "arctanh", reads=(0,))

# ---- exponentials and logarithms -----------------------------------------------------------------
# expm1' = e^x, not ans + 1: for x << 0, ans + 1 rounds to 0 while e^x is tiny but exact
expm1 = defop(np.expm1, lambda g, ans, x: (g * ops.exp(x),),    "expm1", reads=(0,))
exp2  = defop(np.exp2,  lambda g, ans, x: (g * ans * _LN2,),    "exp2",  reads=())
log2  = defop(np.log2,  lambda g, ans, x: (g / (x * _LN2),),    "log2",  reads=(0,))
log10 = defop(np.log10, lambda g, ans, x: (g / (x * _LN10),),   "log10", reads=(0,))

# ---- powers --------------------------------------------------------------------------------------
square     = defop(np.square,     lambda g, ans, x: (g * (2 * x),),         "square",     reads=(0,))
reciprocal = defop(np.reciprocal, lambda g, ans, x: (-g * ans * ans,),      "reciprocal", reads=())
cbrt       = defop(np.cbrt,       lambda g, ans, x: (g / (3 * ans * ans),), "cbrt",       reads=())
cbrt.__doc__ = """Elementwise cube root (NumPy's cbrt). Its derivative 1/(3 cbrt(x)²) is +inf at 0: the
gradient there is g / 0 (+-inf, nan where g = 0), with NumPy's divide-by-zero warning."""


# ---- rounding: piecewise constant, zero gradient -------------------------------------------------
def _from_integer(ans, x):
    """How far x is from the nearest integer, where floor/ceil/trunc jump."""
    return np.abs(x - np.rint(x))


floor = defop(np.floor, lambda g, ans, x: (None,), "floor", reads=(), kinks=_from_integer)
ceil  = defop(np.ceil,  lambda g, ans, x: (None,), "ceil",  reads=(), kinks=_from_integer)
trunc = defop(np.trunc, lambda g, ans, x: (None,), "trunc", reads=(), kinks=_from_integer)
for _op in (floor, ceil, trunc):
    _op.__doc__ = (f"NumPy's {_op.name}, elementwise. Piecewise constant: its gradient is 0 (the rule "
                   "gives no cotangent, as for sign), at the jumps too.")


def _from_half_step(ans, x, *, decimals):
    """How far x is from the nearest jump of round(x, decimals): a half step (k + 1/2)·10^-decimals."""
    scaled = x * 10.0 ** decimals
    return np.abs(scaled - np.floor(scaled) - 0.5) / 10.0 ** decimals


_round = defop(lambda x, *, decimals: np.round(x, decimals), lambda g, ans, x, *, decimals: (None,),
               "round", reads=(), kinks=_from_half_step)


def round(x, decimals: int = 0):
    """NumPy's round: to `decimals` digits (negative: tens, hundreds, ...), halves to even.
    Piecewise constant: its gradient is 0 (the rule gives no cotangent, as for sign)."""
    if isinstance(decimals, bool) or not isinstance(decimals, (int, np.integer)):
        raise TypeError(f"round: decimals must be an integer, got {decimals!r}")
    return _round(x, decimals=int(decimals))


# ---- remainders: jumps where x/y is an integer ----------------------------------------------------
def _from_multiple(ans, x, y):
    """How far x is from the nearest multiple of y (the remainder jumps there); |ans| < |y|."""
    r = np.abs(ans)
    return np.minimum(r, np.abs(y) - r)


def remainder_vjp(g, ans, x, y, *, needs):
    # x - y·floor(x/y): floor_divide is the quotient NumPy's remainder itself uses (divmod)
    gy = -g * np.floor_divide(_raw(x), _raw(y)) if needs[1] else None
    return (g if needs[0] else None), gy


def fmod_vjp(g, ans, x, y, *, needs):
    # x - y·trunc(x/y): the integer quotient from the forward's exact result, (x - ans)/y rounded
    gy = -g * np.round((_raw(x) - _raw(ans)) / _raw(y)) if needs[1] else None
    return (g if needs[0] else None), gy


remainder = defop(np.remainder, remainder_vjp, "remainder", broadcasting=True, reads=(0, 1),
                  kinks=_from_multiple)
remainder.__doc__ = """NumPy's remainder (= mod, Python's %): x - y·floor(x/y), the sign of y.
Gradients 1 for x and -floor(x/y) for y between the jumps where x/y is an integer."""
mod = remainder  # NumPy's alias (np.mod is np.remainder): one primitive, recorded as "remainder"
fmod = defop(np.fmod, fmod_vjp, "fmod", broadcasting=True, reads=(0, 1), kinks=_from_multiple)
fmod.__doc__ = """NumPy's fmod (C's): x - y·trunc(x/y), the sign of x. Gradients 1 for x and
-trunc(x/y) for y between the jumps where x/y is an integer."""


# ---- hypot, arctan2, logaddexp -------------------------------------------------------------------
def _nonzero(r):
    """r with its zeros replaced by 1 (the rules below return gradient 0 at the origin)."""
    zero = _raw(r) == 0
    return ops.where(zero, 1, r) if np.any(zero) else r


def hypot_vjp(g, ans, x, y, *, needs):
    # x/r and y/r are at most 1: nothing overflows however large x and y are
    r = _nonzero(ans)
    return (g * (x / r) if needs[0] else None), (g * (y / r) if needs[1] else None)


def arctan2_vjp(g, ans, y, x, *, needs):
    # ∂/∂y = x/r², ∂/∂x = -y/r², as (x/r)/r with r = hypot(x, y): x² + y² would overflow or
    # underflow for large or tiny inputs
    r = _nonzero(hypot(x, y))
    return (g * (x / r) / r if needs[0] else None), (-g * (y / r) / r if needs[1] else None)


def _from_branch_cut(ans, y, x):
    """How far y is from where arctan2 jumps (y = 0 with x < 0) or is undefined (the origin)."""
    return np.where(x < 0, np.abs(y), np.hypot(x, y))


def logaddexp_vjp(g, ans, x, y, *, needs):
    # e^(x - ans) = e^x / (e^x + e^y) <= 1: no overflow for any size of x and y
    return (g * ops.exp(x - ans) if needs[0] else None), (g * ops.exp(y - ans) if needs[1] else None)


def logaddexp2_vjp(g, ans, x, y, *, needs):
    return (g * exp2(x - ans) if needs[0] else None), (g * exp2(y - ans) if needs[1] else None)


hypot = defop(np.hypot, hypot_vjp, "hypot", broadcasting=True, reads=(0, 1), kinks=lambda ans, x, y: ans)
hypot.__doc__ = """NumPy's hypot: sqrt(x² + y²) without overflow. At x = y = 0 the gradient is 0."""
arctan2 = defop(np.arctan2, arctan2_vjp, "arctan2", broadcasting=True, reads=(0, 1),
                kinks=_from_branch_cut)
arctan2.__doc__ = """NumPy's arctan2(y, x): the angle of the point (x, y). At the origin (where NumPy
gives 0) the gradient is 0."""
logaddexp = defop(np.logaddexp, logaddexp_vjp, "logaddexp", broadcasting=True, reads=(0, 1))
logaddexp.__doc__ = "NumPy's logaddexp: log(e^x + e^y), stable for inputs of any size."
logaddexp2 = defop(np.logaddexp2, logaddexp2_vjp, "logaddexp2", broadcasting=True, reads=(0, 1))
logaddexp2.__doc__ = "NumPy's logaddexp2: log2(2^x + 2^y), stable for inputs of any size."


# ---- sinc and its derivatives --------------------------------------------------------------------
_SERIES_TERMS = 16  # of the power series for |πx| < 2: the last is below 1e-19 of the largest


def _sinc_derivative_fwd(x, *, order: int):
    """d^n/dx^n sinc(x) for n = `order` >= 1, as π^n f^(n)(u) with f(u) = sin(u)/u, u = πx.
    For |u| < 2 the power series f^(n)(u) = Σ_k (-1)^k u^(2k-n) / ((2k+1)·(2k-n)!) (no
    cancellation near 0, where the closed form divides by x^(n+1)); elsewhere Leibniz's rule on
    sin(u)·u⁻¹: Σ_j C(n, j) sin^(j)(u)·(-1)^(n-j) (n-j)! / u^(n-j+1)."""
    n = order
    u = np.pi * np.asarray(x)
    small = np.abs(u) < 2
    a = np.where(small, u, 0.0)  # the series' argument (each branch sees only its own inputs,
    b = np.where(small, 2.0, u)  # so Leibniz's rule never divides by 0)
    first = (n + 1) // 2  # the first k with 2k >= n
    series = sum((-1) ** k / ((2 * k + 1) * math.factorial(2 * k - n)) * a ** (2 * k - n)
                 for k in range(first, first + _SERIES_TERMS))
    sin_b, cos_b = np.sin(b), np.cos(b)
    sin_j = (sin_b, cos_b, -sin_b, -cos_b)  # sin^(j)(b) = sin(b + jπ/2), exactly
    leibniz = sum((-1) ** (n - j) * math.comb(n, j) * math.factorial(n - j) * sin_j[j % 4] / b ** (n - j + 1)
                  for j in range(n + 1))
    return np.pi ** n * np.where(small, series, leibniz)


# one primitive for every order: the VJP of order n is order n + 1, so derivatives of any order work
_sinc_derivative = defop(_sinc_derivative_fwd, lambda g, ans, x, *, order: (
    g * _sinc_derivative(x, order=order + 1),), "sinc_derivative", reads=(0,))
_sinc = defop(np.sinc, lambda g, ans, x: (g * _sinc_derivative(x, order=1),), "sinc", reads=(0,))


def sinc(x):
    """NumPy's sinc, normalized: sin(πx)/(πx), sinc(0) = 1. Its derivatives (of any order) are
    finite and accurate at and near 0 (a power series there, not the closed form)."""
    return _sinc(x)  # (a function: np.sinc(t) passes x by keyword, which a primitive refuses)


class _TensorMethods:
    """Tensor methods NumPy's ndarray has for these ops."""

    def round(self, decimals=0): return round(self, decimals)
    def __mod__(self, other): return remainder(self, other)
    def __rmod__(self, other): return remainder(other, self)


attach_methods(_TensorMethods)

__all__, PRIMITIVES = rule_table(globals(), __name__)

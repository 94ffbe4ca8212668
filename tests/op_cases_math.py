"""Op-case rows for elementwise math (trig, hyperbolic, exp/log variants, rounding,
mod, hypot, arctan2, logaddexp, sinc) and ag.special: part of the table in tests/op_cases.py
(see op_case_kit.py for what a row says).

The references are independent of the engine's code: NumPy's own functions where it has them;
Python's math module per element for erf, erfc and lgamma; Gauss-Legendre quadrature of
sinc⁽ⁿ⁾(x) = ∫₀¹ (πt)ⁿ cos⁽ⁿ⁾(πxt) dt for sinc's derivatives; the recurrence (through negative x
too) and asymptotic series, summed per element with math.fsum, for digamma and its derivatives.
tests/test_special.py checks these against SciPy and known values.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from op_case_kit import OpCase

import autograd_core as ag
from autograd_core import numpy_math, special

# ---- domains: (rng, shape) -> float64 array -----------------------------------------------------


def inside_unit(rng, shape):
    """|x| <= 0.9: inside the domain of arcsin, arccos, arctanh, away from its ends."""
    return rng.uniform(-0.9, 0.9, shape)


def above_one(rng, shape):
    """x in [1.2, 3]: arccosh's domain, away from 1."""
    return rng.uniform(1.2, 3.0, shape)


def moderate(rng, shape):
    """|x| <= 1.2: tan away from its poles at ±π/2."""
    return rng.uniform(-1.2, 1.2, shape)


def off_integer(rng, shape):
    """k + f with f in [0.15, 0.85]: away from the jumps of floor/ceil/trunc, and from integer
    quotients x/y for the divisors of `unit_divisor`."""
    return rng.integers(-4, 4, shape) + rng.uniform(0.15, 0.85, shape)


def unit_divisor(rng, shape):
    """y in {±1, ±2}: x/y of an `off_integer` x is at least 0.075 from an integer."""
    return rng.choice([-2.0, -1.0, 1.0, 2.0], shape)


def off_half(rng, shape):
    """k + f with |f| <= 0.35: away from round's jumps at the half-integers."""
    return rng.integers(-4, 5, shape) + rng.uniform(-0.35, 0.35, shape)


def off_half_tenths(rng, shape):
    return off_half(rng, shape) / 10


def off_half_tens(rng, shape):
    return off_half(rng, shape) * 10


def near_zero(rng, shape):
    """0 and points near it (sinc's series region)."""
    return rng.choice([0.0, 1e-9, -1e-6, 1e-3, -0.02, 0.05, -0.3], shape)


def huge(rng, shape):
    """1e30·randn: x² overflows float32 (tests/test_special.py tries 1e200 in float64)."""
    return 1e30 * rng.standard_normal(shape)


def wide(rng, shape):
    return rng.uniform(-6.0, 6.0, shape)


def tail(rng, shape):
    """erfc's tail, where erf rounds to 1."""
    return rng.uniform(2.0, 6.0, shape)


def very_negative(rng, shape):
    return rng.uniform(-40.0, -30.0, shape)


def large_positive(rng, shape):
    return rng.uniform(5.0, 40.0, shape)


def small_positive(rng, shape):
    return rng.uniform(0.05, 0.5, shape)


def negative_off_integer(rng, shape):
    """-k - f with f in [0.15, 0.85]: negative x away from the poles of Γ and digamma."""
    return -rng.integers(0, 5, shape) - rng.uniform(0.15, 0.85, shape)


def probability(rng, shape):
    return rng.uniform(0.05, 0.95, shape)


def near_half(rng, shape):
    return rng.uniform(0.4, 0.6, shape)


def small_real(rng, shape):
    return rng.uniform(-0.5, 0.5, shape)


def negative_weights(rng, shape):
    return -rng.uniform(0.5, 1.5, shape)


def mostly_positive(rng, shape):
    """Weights in [0.5, 1.5] but for -0.2 first along the last axis: with `small_real` logits the
    weighted sum stays positive."""
    b = rng.uniform(0.5, 1.5, shape)
    if b.ndim:
        b[..., 0] = -0.2
    return b


# ---- NumPy references ---------------------------------------------------------------------------


def _per_element(fun, name: str):
    """A math-module function over an array; the result in the input's float dtype."""

    def apply(x):
        x = np.asarray(x)
        out = np.array([fun(float(v)) for v in x.ravel()]).reshape(x.shape)
        return out.astype(x.dtype if x.dtype.kind == "f" else np.float64)

    apply.__name__ = name
    return apply


np_erf = _per_element(math.erf, "np_erf")
np_erfc = _per_element(math.erfc, "np_erfc")
np_gammaln = _per_element(math.lgamma, "np_gammaln")

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(60)
_T, _W = (_NODES + 1) / 2, _WEIGHTS / 2  # on [0, 1]


def np_sinc_derivative(x, order):
    """sinc⁽ⁿ⁾(x) = ∫₀¹ (πt)ⁿ cos(πxt + nπ/2) dt by 60-point Gauss-Legendre quadrature (exact to
    rounding for the |x| <= 5 of the rows)."""
    x = np.asarray(x)
    integrand = (np.pi * _T) ** order * np.cos(np.pi * x[..., None] * _T + order * np.pi / 2)
    return (integrand @ _W).astype(x.dtype)


_B2K = (Fraction(1, 6), Fraction(-1, 30), Fraction(1, 42), Fraction(-1, 30), Fraction(5, 66),
        Fraction(-691, 2730), Fraction(7, 6), Fraction(-3617, 510), Fraction(43867, 798))


def _polygamma_scalar(n: int, x: float) -> float:
    """ψ⁽ⁿ⁾(x): ψ⁽ⁿ⁾(x) = ψ⁽ⁿ⁾(x + 1) - (-1)ⁿ n!/xⁿ⁺¹ up to x >= 25 (negative x included), then
    ψ(x) ~ ln x - 1/(2x) - Σ B₂ₖ/(2k x²ᵏ) differentiated n times, summed with math.fsum."""
    c = (-1) ** n * math.factorial(n)
    terms = []
    while x < 25:
        terms.append(-c / x ** (n + 1))
        x += 1
    if n == 0:
        terms += [math.log(x), -0.5 / x]
    else:
        terms += [(-1) ** (n - 1) * math.factorial(n - 1) / x ** n, -0.5 * c / x ** (n + 1)]
    for k, b in enumerate(_B2K, start=1):
        terms.append(-(-1) ** n * float(b * math.factorial(2 * k + n - 1) / math.factorial(2 * k))
                     / x ** (2 * k + n))
    return math.fsum(terms)


def np_polygamma(n: int, x):
    x = np.asarray(x)
    out = np.array([_polygamma_scalar(n, float(v)) for v in x.ravel()]).reshape(x.shape)
    return out.astype(x.dtype if x.dtype.kind == "f" else np.float64)


def np_digamma(x):
    return np_polygamma(0, x)


def np_softplus(x):
    return np.logaddexp(0, x)


def np_logit(p):
    return np.log(p) - np.log1p(-p)


def np_special_logsumexp(a, b=None, axis=None, keepdims=False, return_sign=False):
    """log|Σ b·e^a| over `axis` (and its sign), the largest a subtracted first."""
    a = np.asarray(a)
    b = np.ones_like(a) if b is None else np.asarray(b)
    a, b = np.broadcast_arrays(a, b)
    a = np.where(b != 0, a, -np.inf)  # SciPy's rule: a zero weight drops its term
    m = np.max(a, axis=axis, keepdims=True)
    s = np.sum(b * np.exp(a - m), axis=axis, keepdims=True)
    out, sign = np.log(np.abs(s)) + m, np.sign(s)
    if not keepdims:
        axes = tuple(range(a.ndim)) if axis is None else axis
        out, sign = np.squeeze(out, axis=axes), np.squeeze(sign, axis=axes)
    return (out, sign) if return_sign else out


def np_special_log_softmax(x, axis=None):
    return x - np_special_logsumexp(x, axis=axis, keepdims=True)


# ---- rows ----------------------------------------------------------------------------------------
CASES: list[OpCase] = [
    # -- trigonometric and inverse trigonometric
    OpCase("sin", "2d", ag.sin, [(3, 4)], numpy_ref=np.sin),
    OpCase("sin", "0d", ag.sin, [()], numpy_ref=np.sin),
    OpCase("sin", "T_view", ag.sin, [(2, 3)], view="T", numpy_ref=np.sin),
    OpCase("cos", "2d", ag.cos, [(3, 4)], numpy_ref=np.cos),
    OpCase("cos", "step_view", ag.cos, [(2, 3)], view="step", numpy_ref=np.cos),
    OpCase("tan", "2d", ag.tan, [(3, 4)], moderate, numpy_ref=np.tan),
    OpCase("tan", "1d", ag.tan, [(5,)], moderate, numpy_ref=np.tan),
    OpCase("tan", "step_last_view", ag.tan, [(2, 3)], moderate, view="step_last", numpy_ref=np.tan),
    OpCase("arcsin", "2d", ag.arcsin, [(3, 4)], inside_unit, numpy_ref=np.arcsin),
    OpCase("arcsin", "flip_view", ag.arcsin, [(3, 2)], inside_unit, view="flip", numpy_ref=np.arcsin),
    OpCase("arccos", "2d", ag.arccos, [(3, 4)], inside_unit, numpy_ref=np.arccos),
    OpCase("arccos", "0d", ag.arccos, [()], inside_unit, numpy_ref=np.arccos),
    OpCase("arccos", "T_view", ag.arccos, [(2, 3)], inside_unit, view="T", numpy_ref=np.arccos),
    OpCase("arctan", "2d", ag.arctan, [(3, 4)], numpy_ref=np.arctan),
    OpCase("arctan", "bcast_view", ag.arctan, [(3, 4)], view="bcast", numpy_ref=np.arctan),
    # -- hyperbolic and inverse hyperbolic
    OpCase("sinh", "2d", ag.sinh, [(3, 4)], numpy_ref=np.sinh),
    OpCase("sinh", "0d", ag.sinh, [()], numpy_ref=np.sinh),
    OpCase("sinh", "flip_view", ag.sinh, [(3, 2)], view="flip", numpy_ref=np.sinh),
    OpCase("cosh", "2d", ag.cosh, [(3, 4)], numpy_ref=np.cosh),
    OpCase("cosh", "0d", ag.cosh, [()], numpy_ref=np.cosh),
    OpCase("arcsinh", "2d", ag.arcsinh, [(3, 4)], numpy_ref=np.arcsinh),
    OpCase("arcsinh", "huge", ag.arcsinh, [(4,)], huge, numpy_ref=np.arcsinh),
    OpCase("arccosh", "2d", ag.arccosh, [(3, 4)], above_one, numpy_ref=np.arccosh),
    OpCase("arccosh", "T_view", ag.arccosh, [(2, 3)], above_one, view="T", numpy_ref=np.arccosh),
    OpCase("arctanh", "2d", ag.arctanh, [(3, 4)], inside_unit, numpy_ref=np.arctanh),
    OpCase("arctanh", "1d_step_view", ag.arctanh, [(3,)], inside_unit, view="step", numpy_ref=np.arctanh),
    # -- exponentials and logarithms
    OpCase("expm1", "2d", ag.expm1, [(3, 4)], numpy_ref=np.expm1),
    OpCase("expm1", "very_negative", ag.expm1, [(4,)], very_negative, numpy_ref=np.expm1),
    OpCase("expm1", "0d", ag.expm1, [()], numpy_ref=np.expm1),
    OpCase("exp2", "2d", ag.exp2, [(3, 4)], numpy_ref=np.exp2),
    OpCase("exp2", "0d", ag.exp2, [()], numpy_ref=np.exp2),
    OpCase("exp2", "bcast_view", ag.exp2, [(3, 4)], view="bcast", numpy_ref=np.exp2),
    OpCase("log2", "2d", ag.log2, [(3, 4)], "positive", numpy_ref=np.log2),
    OpCase("log2", "0d", ag.log2, [()], "positive", numpy_ref=np.log2),
    OpCase("log2", "T_view", ag.log2, [(2, 3)], "positive", view="T", numpy_ref=np.log2),
    OpCase("log10", "2d", ag.log10, [(3, 4)], "positive", numpy_ref=np.log10),
    OpCase("log10", "step_last_view", ag.log10, [(2, 3)], "positive", view="step_last", numpy_ref=np.log10),
    # -- powers
    OpCase("square", "2d", ag.square, [(3, 4)], numpy_ref=np.square),
    OpCase("square", "0d", ag.square, [()], numpy_ref=np.square),
    OpCase("square", "T_view", ag.square, [(2, 3)], view="T", numpy_ref=np.square),
    OpCase("reciprocal", "2d", ag.reciprocal, [(3, 4)], "away_from_kink", numpy_ref=np.reciprocal),
    OpCase("reciprocal", "0d", ag.reciprocal, [()], "away_from_kink", numpy_ref=np.reciprocal),
    OpCase("reciprocal", "step_view", ag.reciprocal, [(2, 3)], "away_from_kink", view="step",
           numpy_ref=np.reciprocal),
    OpCase("cbrt", "2d", ag.cbrt, [(3, 4)], "away_from_kink", numpy_ref=np.cbrt),
    OpCase("cbrt", "flip_view", ag.cbrt, [(3, 2)], "away_from_kink", view="flip", numpy_ref=np.cbrt),
    # -- rounding: zero gradient
    OpCase("floor", "2d", ag.floor, [(3, 4)], off_integer, numpy_ref=np.floor, no_grad=True),
    OpCase("floor", "T_view", ag.floor, [(2, 3)], off_integer, view="T", numpy_ref=np.floor, no_grad=True),
    OpCase("ceil", "2d", ag.ceil, [(3, 4)], off_integer, numpy_ref=np.ceil, no_grad=True),
    OpCase("ceil", "0d", ag.ceil, [()], off_integer, numpy_ref=np.ceil, no_grad=True),
    OpCase("trunc", "2d", ag.trunc, [(3, 4)], off_integer, numpy_ref=np.trunc, no_grad=True),
    OpCase("trunc", "0d", ag.trunc, [()], off_integer, numpy_ref=np.trunc, no_grad=True),
    OpCase("trunc", "flip_view", ag.trunc, [(3, 2)], off_integer, view="flip", numpy_ref=np.trunc,
           no_grad=True),
    OpCase("round", "default", ag.round, [(3, 4)], off_half, numpy_ref=np.round, no_grad=True),
    OpCase("round", "decimals_1", lambda x: ag.round(x, 1), [(3, 4)], off_half_tenths,
           numpy_ref=lambda x: np.round(x, 1), no_grad=True),
    OpCase("round", "decimals_minus_1", lambda x: ag.round(x, decimals=-1), [(5,)], off_half_tens,
           numpy_ref=lambda x: np.round(x, -1), no_grad=True),
    OpCase("round", "method_decimals_1", lambda x: x.round(1), [(2, 3)], off_half_tenths, view="step",
           numpy_ref=lambda x: np.round(x, 1), no_grad=True),
    OpCase("round", "method_default_0d", lambda x: x.round(), [()], off_half, numpy_ref=np.round,
           no_grad=True),
    # -- remainders (x/y away from integers: off_integer x, divisors ±1, ±2)
    OpCase("remainder", "2d", ag.remainder, [(3, 4), (3, 4)], (off_integer, unit_divisor),
           numpy_ref=np.remainder),
    OpCase("remainder", "broadcast", ag.remainder, [(3, 4), (4,)], (off_integer, unit_divisor),
           numpy_ref=np.remainder),
    OpCase("remainder", "mod_alias", ag.mod, [(2, 3), (2, 1)], (off_integer, unit_divisor),
           numpy_ref=np.mod),
    OpCase("remainder", "scalar_divisor", lambda x: ag.remainder(x, 2.0), [(3, 4)], off_integer,
           numpy_ref=lambda x: np.remainder(x, 2.0)),
    OpCase("remainder", "method_operator", lambda x, y: x % y, [(3, 4), (3, 4)], (off_integer, unit_divisor),
           numpy_ref=np.remainder),
    OpCase("remainder", "method_reflected_operator", lambda y: 7.5 % y, [(4,)], unit_divisor,
           numpy_ref=lambda y: np.remainder(7.5, y)),
    OpCase("remainder", "T_view", ag.remainder, [(2, 3), (2, 3)], (off_integer, unit_divisor), view="T",
           numpy_ref=np.remainder),
    OpCase("fmod", "2d", ag.fmod, [(3, 4), (3, 4)], (off_integer, unit_divisor), numpy_ref=np.fmod),
    OpCase("fmod", "broadcast", ag.fmod, [(4,), (3, 1)], (off_integer, unit_divisor), numpy_ref=np.fmod),
    OpCase("fmod", "0d", ag.fmod, [(), ()], (off_integer, unit_divisor), numpy_ref=np.fmod),
    OpCase("fmod", "step_view", ag.fmod, [(2, 3), (2, 3)], (off_integer, unit_divisor), view="step",
           numpy_ref=np.fmod),
    # -- hypot, arctan2, logaddexp
    OpCase("hypot", "2d", ag.hypot, [(3, 4), (3, 4)], numpy_ref=np.hypot),
    OpCase("hypot", "broadcast", ag.hypot, [(3, 4), (4,)], numpy_ref=np.hypot),
    OpCase("hypot", "step_view", ag.hypot, [(2, 3), (2, 3)], view="step", numpy_ref=np.hypot),
    OpCase("hypot", "0d", ag.hypot, [(), ()], "away_from_kink", numpy_ref=np.hypot),
    OpCase("hypot", "huge", ag.hypot, [(4,), (4,)], huge, numpy_ref=np.hypot),
    OpCase("hypot", "scalar", lambda x: ag.hypot(x, 1.5), [(3,)], numpy_ref=lambda x: np.hypot(x, 1.5)),
    # |y| >= 0.2: away from the origin and from the jump at y = 0, x < 0
    OpCase("arctan2", "2d", ag.arctan2, [(3, 4), (3, 4)], ("away_from_kink", "real"), numpy_ref=np.arctan2),
    OpCase("arctan2", "broadcast", ag.arctan2, [(3, 1), (4,)], ("away_from_kink", "real"),
           numpy_ref=np.arctan2),
    OpCase("arctan2", "huge", ag.arctan2, [(4,), (4,)], huge, numpy_ref=np.arctan2),
    OpCase("logaddexp", "2d", ag.logaddexp, [(3, 4), (3, 4)], numpy_ref=np.logaddexp),
    OpCase("logaddexp", "broadcast", ag.logaddexp, [(3, 4), (3, 1)], numpy_ref=np.logaddexp),
    OpCase("logaddexp", "flip_view", ag.logaddexp, [(3, 2), (3, 2)], view="flip", numpy_ref=np.logaddexp),
    OpCase("logaddexp", "0d", ag.logaddexp, [(), ()], numpy_ref=np.logaddexp),
    OpCase("logaddexp", "huge_inputs", ag.logaddexp, [(4,), (4,)], "big", numpy_ref=np.logaddexp),
    OpCase("logaddexp", "huge_offset", ag.logaddexp, [(4,), (4,)], "big_offset", numpy_ref=np.logaddexp),
    OpCase("logaddexp2", "2d", ag.logaddexp2, [(3, 4), (3, 4)], numpy_ref=np.logaddexp2),
    OpCase("logaddexp2", "huge_inputs", ag.logaddexp2, [(4,), (1,)], "big", numpy_ref=np.logaddexp2),
    # -- sinc and its derivatives (a series near 0)
    OpCase("sinc", "2d", ag.sinc, [(3, 4)], numpy_ref=np.sinc),
    OpCase("sinc", "near_zero", ag.sinc, [(7,)], near_zero, numpy_ref=np.sinc),
    OpCase("sinc", "T_view", ag.sinc, [(2, 3)], wide, view="T", numpy_ref=np.sinc),
    OpCase("sinc_derivative", "order_1", lambda x: numpy_math._sinc_derivative(x, order=1), [(3, 4)],
           wide, numpy_ref=lambda x: np_sinc_derivative(x, 1)),
    OpCase("sinc_derivative", "order_1_near_zero", lambda x: numpy_math._sinc_derivative(x, order=1), [(7,)],
           near_zero, numpy_ref=lambda x: np_sinc_derivative(x, 1)),
    OpCase("sinc_derivative", "order_2", lambda x: numpy_math._sinc_derivative(x, order=2), [(3, 4)],
           numpy_ref=lambda x: np_sinc_derivative(x, 2)),
    OpCase("sinc_derivative", "order_3_near_zero", lambda x: numpy_math._sinc_derivative(x, order=3),
           [(7,)], near_zero, numpy_ref=lambda x: np_sinc_derivative(x, 3)),
]

# ---- ag.special ------------------------------------------------------------------------------------
CASES += [
    OpCase("erf", "2d", special.erf, [(3, 4)], numpy_ref=np_erf),
    OpCase("erf", "0d", special.erf, [()], numpy_ref=np_erf),
    OpCase("erf", "wide_T_view", special.erf, [(2, 3)], wide, view="T", numpy_ref=np_erf),
    OpCase("erfc", "2d", special.erfc, [(3, 4)], numpy_ref=np_erfc),
    OpCase("erfc", "tail", special.erfc, [(5,)], tail, numpy_ref=np_erfc),
    OpCase("erfc", "flip_view", special.erfc, [(3, 2)], view="flip", numpy_ref=np_erfc),
    OpCase("gammaln", "2d", special.gammaln, [(3, 4)], "positive", numpy_ref=np_gammaln),
    OpCase("gammaln", "negative", special.gammaln, [(6,)], negative_off_integer, numpy_ref=np_gammaln),
    OpCase("gammaln", "large", special.gammaln, [(5,)], large_positive, numpy_ref=np_gammaln),
    OpCase("gammaln", "T_view", special.gammaln, [(2, 3)], "positive", view="T", numpy_ref=np_gammaln),
    OpCase("digamma", "2d", special.digamma, [(3, 4)], "positive", numpy_ref=np_digamma),
    OpCase("digamma", "small", special.digamma, [(5,)], small_positive, numpy_ref=np_digamma),
    OpCase("digamma", "negative", special.digamma, [(6,)], negative_off_integer, numpy_ref=np_digamma),
    OpCase("digamma", "large_step_view", special.digamma, [(3, 2)], large_positive, view="step",
           numpy_ref=np_digamma),
    OpCase("polygamma", "trigamma", lambda x: special._polygamma(x, n=1), [(3, 4)], "positive",
           numpy_ref=lambda x: np_polygamma(1, x)),
    OpCase("polygamma", "trigamma_negative", lambda x: special._polygamma(x, n=1), [(6,)],
           negative_off_integer, numpy_ref=lambda x: np_polygamma(1, x)),
    OpCase("polygamma", "order_2", lambda x: special._polygamma(x, n=2), [(5,)], small_positive,
           numpy_ref=lambda x: np_polygamma(2, x)),
    OpCase("polygamma", "order_3_negative", lambda x: special._polygamma(x, n=3), [(6,)],
           negative_off_integer, numpy_ref=lambda x: np_polygamma(3, x)),
    OpCase("softplus", "2d", special.softplus, [(3, 4)], numpy_ref=np_softplus),
    OpCase("softplus", "0d", special.softplus, [()], numpy_ref=np_softplus),
    OpCase("softplus", "huge", special.softplus, [(6,)], "big", numpy_ref=np_softplus),
    OpCase("softplus", "bcast_view", special.softplus, [(3, 4)], view="bcast", numpy_ref=np_softplus),
    OpCase("logit", "2d", special.logit, [(3, 4)], probability, numpy_ref=np_logit),
    OpCase("logit", "near_half", special.logit, [(5,)], near_half, numpy_ref=np_logit),
    OpCase("logit", "step_view", special.logit, [(2, 3)], probability, view="step", numpy_ref=np_logit),
    OpCase("logit", "0d", special.logit, [()], probability, numpy_ref=np_logit),
    # composites: expit records sigmoid; logsumexp without b and log_softmax record the top-level ops
    OpCase("sigmoid", "special_expit", special.expit, [(3, 4)],
           numpy_ref=lambda x: 0.5 * (1 + np.tanh(x / 2))),
    OpCase("logsumexp", "special_axis_none", special.logsumexp, [(3, 4)], numpy_ref=np_special_logsumexp),
    OpCase("logsumexp", "special_axis_1_keepdims", lambda a: special.logsumexp(a, axis=1, keepdims=True),
           [(3, 4)], numpy_ref=lambda a: np_special_logsumexp(a, axis=1, keepdims=True)),
    OpCase("logsumexp", "special_return_sign", lambda a: special.logsumexp(a, axis=0, return_sign=True)[0],
           [(3, 4)], numpy_ref=lambda a: np_special_logsumexp(a, axis=0)),
    OpCase("log_softmax", "special_axis_none", special.log_softmax, [(3, 4)],
           numpy_ref=np_special_log_softmax),
    OpCase("log_softmax", "special_axis_0", lambda x: special.log_softmax(x, axis=0), [(3, 4)],
           numpy_ref=lambda x: np_special_log_softmax(x, axis=0)),
    OpCase("log_softmax", "special_axis_tuple", lambda x: special.log_softmax(x, axis=(0, 2)), [(2, 3, 2)],
           numpy_ref=lambda x: np_special_log_softmax(x, axis=(0, 2))),
    # logsumexp with weights b (differentiable in a and b)
    OpCase("special_logsumexp", "axis_none", lambda a, b: special.logsumexp(a, b=b), [(3, 4), (3, 4)],
           ("real", "positive"), numpy_ref=lambda a, b: np_special_logsumexp(a, b)),
    OpCase("special_logsumexp", "axis_0_broadcast_b", lambda a, b: special.logsumexp(a, axis=0, b=b),
           [(3, 4), (4,)], ("real", "positive"), numpy_ref=lambda a, b: np_special_logsumexp(a, b, axis=0)),
    OpCase("special_logsumexp", "b_broadcasts_a", lambda a, b: special.logsumexp(a, axis=-1, b=b),
           [(4,), (2, 4)], ("real", "positive"), numpy_ref=lambda a, b: np_special_logsumexp(a, b, axis=-1)),
    OpCase("special_logsumexp", "axis_tuple_keepdims",
           lambda a, b: special.logsumexp(a, axis=(0, 2), b=b, keepdims=True), [(2, 3, 2), (2, 3, 2)],
           ("real", "positive"),
           numpy_ref=lambda a, b: np_special_logsumexp(a, b, axis=(0, 2), keepdims=True)),
    OpCase("special_logsumexp", "constant_b",
           lambda a: special.logsumexp(a, axis=1, b=np.array([0.5, 2.0, 1.0], a.dtype)), [(2, 3)],
           numpy_ref=lambda a: np_special_logsumexp(a, np.array([0.5, 2.0, 1.0]), axis=1)),
    OpCase("special_logsumexp", "huge_logits", lambda a, b: special.logsumexp(a, axis=1, b=b),
           [(3, 4), (3, 4)], ("big", "positive"), numpy_ref=lambda a, b: np_special_logsumexp(a, b, axis=1)),
    OpCase("special_logsumexp", "negative_b_return_sign",
           lambda a, b: special.logsumexp(a, axis=1, b=b, return_sign=True)[0], [(3, 4), (3, 4)],
           ("real", negative_weights), numpy_ref=lambda a, b: np_special_logsumexp(a, b, axis=1)),
    OpCase("special_logsumexp", "mixed_sign_b", lambda a, b: special.logsumexp(a, axis=-1, b=b),
           [(3, 4), (3, 4)], (small_real, mostly_positive),
           numpy_ref=lambda a, b: np_special_logsumexp(a, b, axis=-1)),
    OpCase("special_logsumexp", "0d", lambda a, b: special.logsumexp(a, b=b), [(), ()], ("real", "positive"),
           numpy_ref=lambda a, b: np_special_logsumexp(a, b)),
    # a Python number as b does not upcast a (float32 stays float32, as a * 0.5 does)
    OpCase("special_logsumexp", "python_float_b", lambda a: special.logsumexp(a, axis=1, b=0.5), [(2, 3)],
           numpy_ref=lambda a: np_special_logsumexp(a, 0.5, axis=1)),
    # weights as a mask: the masked entry far above the others (its e^(a - shift) would overflow)
    OpCase("special_logsumexp", "zero_weight_masks_a_huge_term",
           lambda a: special.logsumexp(a + np.array([1000.0, 0.0, 0.0], a.dtype), axis=1,
                                       b=np.array([0.0, 1.0, 2.0], a.dtype)), [(2, 3)],
           numpy_ref=lambda a: np_special_logsumexp(a + [1000.0, 0.0, 0.0], np.array([0.0, 1.0, 2.0]),
                                                    axis=1)),
]

# Public names that are composites of primitives (their rows use these names).
COMPOSITES: set[str] = set()

"""ag.special and the edges of numpy_math's elementwise ops: known values, SciPy where it is
installed (the op table's references are SciPy-free), the choices at poles and kinks, and the
stability of the rules for inputs whose squares overflow."""

from __future__ import annotations

import math

import numpy as np
import pytest
from op_cases_math import np_polygamma, np_sinc_derivative

import autograd_core as ag
from autograd_core import numpy_math, special

EULER_GAMMA = 0.5772156649015329
ZETA_3 = 1.2020569031595942


def grad_of(f, x):
    """d sum(f(x)) / dx as an array."""
    return ag.grad(lambda t: ag.sum(f(t)))(np.asarray(x, dtype=np.float64)).data


# ---- digamma and its derivatives --------------------------------------------------------------------


@pytest.mark.parametrize("x, expected", [
    (1.0, -EULER_GAMMA),
    (0.5, -EULER_GAMMA - 2 * math.log(2)),
    (5.0, 1 + 1 / 2 + 1 / 3 + 1 / 4 - EULER_GAMMA),  # H_(n-1) - γ
    (-0.5, 2 - EULER_GAMMA - 2 * math.log(2)),  # = ψ(1.5): the reflection with cot(-π/2) = 0
    (1e-8, -1e8 - EULER_GAMMA),
    (1e6, math.log(1e6) - 0.5e-6 - 1 / 12e12),
])
def test_digamma_known_values(x, expected):
    np.testing.assert_allclose(special.digamma(np.array(x)), expected, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("n, x, expected", [
    (1, 1.0, math.pi ** 2 / 6),
    (1, 0.5, math.pi ** 2 / 2),
    (2, 1.0, -2 * ZETA_3),
    (3, 1.0, math.pi ** 4 / 15),
    (1, -0.5, math.pi ** 2 - math.pi ** 2 / 2 + 4),  # π²/sin²(-π/2) - ψ₁(1.5), ψ₁(1.5) = π²/2 - 4
])
def test_polygamma_known_values(n, x, expected):
    np.testing.assert_allclose(special._polygamma(np.array(x), n=n), expected, rtol=1e-14)


def test_digamma_against_the_reference_everywhere():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(1e-3, 1, 50), rng.uniform(1, 40, 50), -rng.uniform(0.05, 12, 50)])
    x = x[np.abs(x - np.round(x)) > 0.02]
    for n in range(4):
        got = special._psi(x, n)
        ref = np_polygamma(n, x)
        np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-13 * np.abs(ref).max(), err_msg=f"n={n}")


def test_poles():
    """nan where digamma has no limit (its sides go to ∓inf), +inf for trigamma and gammaln."""
    poles = np.array([0.0, -1.0, -3.0])
    assert np.all(np.isnan(special.digamma(poles)))
    assert np.all(special._polygamma(poles, n=1) == np.inf)
    assert np.all(special.gammaln(poles) == np.inf)


def test_special_keeps_float32():
    x = np.array([0.3, 1.7, 4.0], dtype=np.float32)
    for f in (special.erf, special.erfc, special.gammaln, special.digamma, special.softplus, special.expit):
        assert f(x).dtype == np.float32, f
    assert special.logit(x / 5).dtype == np.float32
    t = ag.tensor(x, requires_grad=True)
    ag.sum(special.gammaln(t)).backward()
    assert t.grad.dtype == np.float32


def test_third_derivative_of_gammaln():
    """gammaln''' = ψ₂: every order is differentiable (the VJP of ψ⁽ⁿ⁾ is ψ⁽ⁿ⁺¹⁾)."""
    x = np.array([0.7, 2.5])
    d1 = ag.grad(lambda v: ag.sum(special.gammaln(v)))
    d2 = ag.grad(lambda u: ag.sum(d1(u)))
    d3 = ag.grad(lambda t: ag.sum(d2(t)))
    np.testing.assert_allclose(d3(x).data, np_polygamma(2, x), rtol=1e-12)


# ---- against SciPy (where it is installed) -----------------------------------------------------------


def test_against_scipy():
    sp = pytest.importorskip("scipy.special")
    rng = np.random.default_rng(1)
    x = 4 * rng.standard_normal(300)
    np.testing.assert_allclose(special.erf(x), sp.erf(x), rtol=1e-15, atol=1e-16)
    np.testing.assert_allclose(special.erfc(x), sp.erfc(x), rtol=1e-13)
    np.testing.assert_allclose(special.gammaln(x), sp.gammaln(x), rtol=1e-13, atol=1e-13)
    off_poles = x[np.abs(x - np.round(x)) > 1e-3]
    np.testing.assert_allclose(special.digamma(off_poles), sp.digamma(off_poles), rtol=1e-12, atol=1e-13)
    for n in (1, 2, 3):
        np.testing.assert_allclose(special._polygamma(off_poles, n=n), sp.polygamma(n, off_poles), rtol=1e-12)
    np.testing.assert_allclose(special.expit(x), sp.expit(x), rtol=1e-15)
    p = rng.uniform(0, 1, 300)
    np.testing.assert_allclose(special.logit(p), sp.logit(p), rtol=1e-14, atol=1e-15)
    if hasattr(sp, "softplus"):
        np.testing.assert_allclose(special.softplus(100 * x), sp.softplus(100 * x), rtol=1e-15)
    a, b = rng.standard_normal((3, 4)), rng.uniform(-1, 1, (3, 4))
    for axis in (None, 0, 1, (0, 1)):
        np.testing.assert_allclose(special.logsumexp(a, axis=axis), sp.logsumexp(a, axis=axis), rtol=1e-14)
        out, sign = special.logsumexp(a, axis=axis, b=b, return_sign=True)
        ref, ref_sign = sp.logsumexp(a, axis=axis, b=b, return_sign=True)
        np.testing.assert_allclose(out, ref, rtol=1e-13)
        np.testing.assert_array_equal(sign, ref_sign)
        np.testing.assert_allclose(special.log_softmax(a, axis=axis), sp.log_softmax(a, axis=axis),
                                   rtol=1e-14)


# ---- logistic functions, softplus, logsumexp ---------------------------------------------------------


def test_logit_at_the_ends_and_near_half():
    np.testing.assert_array_equal(special.logit(np.array([0.0, 1.0])), [-np.inf, np.inf])
    p = 0.5 + np.array([1e-12, -1e-9, 1e-4])
    np.testing.assert_allclose(special.logit(p), np.log(p) - np.log1p(-p), rtol=1e-9)
    np.testing.assert_allclose(special.logit(p), 4 * (p - 0.5), rtol=1e-7)


def test_softplus_is_stable_for_large_inputs():
    x = np.array([-1e4, -800.0, -40.0, 40.0, 800.0, 1e4])
    np.testing.assert_allclose(special.softplus(x), np.logaddexp(0, x), rtol=1e-15)
    np.testing.assert_allclose(grad_of(special.softplus, x), [0, 0, math.exp(-40), 1, 1, 1], rtol=1e-15)


def test_logsumexp_negative_sum_needs_return_sign():
    a, b = np.array([1.0, 2.0]), np.array([-1.0, 0.1])
    with pytest.raises(ValueError, match=r"special\.logsumexp.*return_sign"):
        special.logsumexp(a, b=b)
    t = ag.tensor(a, requires_grad=True)
    out, sign = special.logsumexp(t, b=b, return_sign=True)
    assert isinstance(sign, ag.Tensor) and not sign.requires_grad and sign.item() == -1.0
    out.backward()
    w = b * np.exp(a)
    np.testing.assert_allclose(t.grad, w / w.sum(), rtol=1e-14)  # d log|S| / da = b e^a / S


def test_logsumexp_without_b_and_with_return_sign():
    out, sign = special.logsumexp(np.zeros((2, 3)), axis=1, return_sign=True)
    np.testing.assert_allclose(out, [math.log(3)] * 2, rtol=1e-15)
    np.testing.assert_array_equal(sign, [1.0, 1.0])


def test_logsumexp_zero_sum_is_minus_inf():
    out, sign = special.logsumexp(np.array([0.0, 0.0]), b=np.array([1.0, -1.0]), return_sign=True)
    assert out == -np.inf and sign == 0


def test_log_softmax_defaults_to_all_axes_as_scipy():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(np.exp(special.log_softmax(x)).sum(), 1.0, rtol=1e-15)
    np.testing.assert_allclose(np.exp(ag.log_softmax(x)).sum(axis=-1), [1.0, 1.0], rtol=1e-15)


def test_composites_record_their_ops():
    x = ag.tensor(np.ones(3), requires_grad=True)
    with ag.Tape() as tape:
        special.expit(x)
        special.log_softmax(x)
        special.logsumexp(x)
        special.logsumexp(x, b=np.ones(3))
    assert [node.op for node in tape] == ["sigmoid", "log_softmax", "logsumexp", "special_logsumexp"]


# ---- numpy_math: stability, kinks, the choices at non-differentiable points ---------------------------


def test_rules_do_not_overflow_where_squares_do():
    big = np.array([1e200, -3e200])
    np.testing.assert_allclose(grad_of(ag.arcsinh, big), 1 / np.abs(big), rtol=1e-15)
    x, y = ag.tensor(big, requires_grad=True), ag.tensor(np.array([2e200, 1e200]), requires_grad=True)
    ag.sum(ag.hypot(x, y)).backward()
    r = np.hypot(big, [2e200, 1e200])
    np.testing.assert_allclose(x.grad, big / r, rtol=1e-15)
    x.grad = y.grad = None
    ag.sum(ag.arctan2(y, x)).backward()
    np.testing.assert_allclose(y.grad, big / r / r, rtol=1e-14)
    tiny = ag.tensor(np.array([1e-200]), requires_grad=True)
    ag.sum(ag.arctan2(tiny, tiny)).backward()
    np.testing.assert_allclose(tiny.grad, [0.0], atol=1e-300)  # ∂/∂y + ∂/∂x = (x - y)/r² = 0, no 0/0


def test_logaddexp_gradients_for_huge_inputs():
    x = ag.tensor(np.array([1e4, 1000.0, -1e4]), requires_grad=True)
    y = ag.tensor(np.array([-1e4, 1000.0, 1e4]), requires_grad=True)
    ag.sum(ag.logaddexp(x, y) + ag.logaddexp2(x, y)).backward()
    np.testing.assert_allclose(x.grad, [2, 1, 0])
    np.testing.assert_allclose(y.grad, [0, 1, 2])


def test_hypot_and_arctan2_at_the_origin_give_zero():
    for f in (ag.hypot, ag.arctan2):
        x, y = ag.tensor(np.zeros(2), requires_grad=True), ag.tensor(np.zeros(2), requires_grad=True)
        ag.sum(f(x, y)).backward()
        np.testing.assert_array_equal(x.grad, 0)
        np.testing.assert_array_equal(y.grad, 0)


def test_sinc_derivatives_at_and_near_zero():
    x = np.array([0.0, 1e-12, -1e-7, 1e-4, 0.3, 0.637])  # 0.637: |πx| = 2, where the rule switches
    np.testing.assert_allclose(grad_of(ag.sinc, x), np_sinc_derivative(x, 1), rtol=1e-13, atol=1e-15)
    d2 = ag.grad(lambda t: ag.sum(ag.grad(lambda u: ag.sum(ag.sinc(u)))(t)))(x).data
    np.testing.assert_allclose(d2, np_sinc_derivative(x, 2), rtol=1e-13)
    np.testing.assert_allclose(d2[0], -math.pi ** 2 / 3, rtol=1e-15)
    for n in range(1, 6):  # the series and Leibniz's rule agree across the switch
        np.testing.assert_allclose(numpy_math._sinc_derivative(np.array([0.6366, 0.6367]), order=n),
                                   np_sinc_derivative(np.array([0.6366, 0.6367]), n), rtol=1e-12)


def test_cbrt_derivative_at_zero_is_inf():
    x = ag.tensor(np.array([0.0, 8.0]), requires_grad=True)
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        ag.sum(ag.cbrt(x)).backward()
    np.testing.assert_array_equal(x.grad, [np.inf, 1 / 12])


def test_piecewise_constant_ops_have_zero_gradient():
    x = np.array([-1.5, 0.2, 2.7])
    for f in (ag.floor, ag.ceil, ag.trunc, ag.round, lambda t: ag.round(t, decimals=1), lambda t: t.round()):
        np.testing.assert_array_equal(grad_of(f, x), 0)
    np.testing.assert_array_equal(ag.round(np.array([0.5, 1.5, 2.25]), 1), np.round([0.5, 1.5, 2.25], 1))
    with pytest.raises(TypeError, match="round: decimals"):
        ag.round(x, 1.5)


@pytest.mark.parametrize("op, quotient", [(ag.remainder, np.floor), (ag.mod, np.floor), (ag.fmod, np.trunc)])
def test_remainder_gradients(op, quotient):
    x, y = np.array([7.5, -7.5, 7.5, -2.2]), np.array([2.0, 2.0, -2.0, 0.7])
    tx, ty = ag.tensor(x, requires_grad=True), ag.tensor(y, requires_grad=True)
    ag.sum(op(tx, ty)).backward()
    np.testing.assert_array_equal(tx.grad, 1)
    np.testing.assert_array_equal(ty.grad, -quotient(x / y))


def test_percent_operator_and_numpy_functions_run_the_engine_ops():
    x = ag.tensor(np.array([2.5, -1.25]), requires_grad=True)
    with ag.Tape() as tape:
        x % 2.0
        3.0 % x
        np.mod(x, 2.0)
        np.sin(x)
        np.round(x, 1)
        np.sinc(x)
    assert [node.op for node in tape] == ["remainder", "remainder", "remainder", "sin", "round", "sinc"]

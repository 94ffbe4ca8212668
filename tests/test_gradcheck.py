"""gradcheck / gradgradcheck: pass correct VJPs, fail ones that are 0.1% wrong, and say where."""

import numpy as np
import pytest

import autograd_core as ag


@pytest.fixture
def rng():
    return np.random.default_rng(31337)


def _cube_with_factor(name: str, factor, *, at=None):
    """cube(x) = x³ whose VJP is multiplied by `factor` (everywhere, or only at index `at`)."""

    @ag.primitive(name=name)
    def p(x):
        return x ** 3

    @p.defvjp
    def p_vjp(g, ans, x):
        f = factor
        if at is not None:
            f = np.ones(np.shape(x))
            f[at] = factor
        return (3 * x ** 2 * g * f,)

    return p


cube = _cube_with_factor("cube", 1.0)
cube_off = _cube_with_factor("cube_off", 1.001)  # 0.1% wrong everywhere


# ---- gradcheck: pass / fail ---------------------------------------------------------------------


def test_correct_custom_vjp_passes(rng):
    a = rng.standard_normal((2, 3))
    report = ag.gradcheck(cube, [a])
    assert isinstance(report, ag.GradcheckReport)
    assert report.passed
    assert "PASSED" in str(report)


def test_vjp_wrong_by_a_tenth_of_a_percent_fails(rng):
    a = rng.uniform(0.5, 1.5, (2, 3)) * rng.choice([-1.0, 1.0], (2, 3))  # away from 0
    report = ag.gradcheck(cube_off, [a], raise_on_fail=False)
    assert not report.passed
    assert not report.rows[0].passed
    assert report.rows[0].max_rel_err == pytest.approx(1e-3, rel=1e-3)
    assert "FAILED" in str(report)


def test_raise_on_fail_raises_gradcheck_error_with_the_table(rng):
    a = rng.standard_normal((2, 3))
    assert issubclass(ag.GradcheckError, AssertionError)
    with pytest.raises(ag.GradcheckError) as info:
        ag.gradcheck(cube_off, [a])  # raise_on_fail defaults to True
    assert isinstance(info.value, AssertionError)
    msg = str(info.value)
    report = ag.gradcheck(cube_off, [a], raise_on_fail=False)
    row = report.rows[0]
    assert "pass rule" in msg
    assert str(row.worst_index) in msg
    assert f"{row.analytic:.6e}" in msg and f"{row.numeric:.6e}" in msg
    assert "FAIL" in msg


def test_rows_point_at_the_wrong_element(rng):
    a = rng.uniform(0.5, 1.5, (3, 4))
    bad = _cube_with_factor("cube_bad_at", 1.001, at=(1, 2))
    report = ag.gradcheck(bad, [a], raise_on_fail=False)
    (row,) = report.rows
    assert row.passed is False
    assert row.input == 0 and tuple(row.shape) == (3, 4)
    assert row.worst_index == (1, 2)
    assert isinstance(row.worst_index, tuple) and all(type(i) is int for i in row.worst_index)
    assert row.analytic / row.numeric == pytest.approx(1.001, rel=1e-7)
    assert row.max_rel_err == pytest.approx(1e-3, rel=1e-3)
    assert row.max_abs_err == pytest.approx(abs(row.analytic - row.numeric), rel=1e-9)
    assert "(1, 2)" in str(report)


def test_passing_row_fields_are_sensible(rng):
    a = rng.standard_normal((2, 3))
    report = ag.gradcheck(lambda x: ag.tanh(x) * x, [a])
    (row,) = report.rows
    assert row.passed is True
    assert 0.0 <= row.max_abs_err < 1e-8
    assert 0.0 <= row.max_rel_err < 1e-6
    assert isinstance(row.worst_index, tuple) and len(row.worst_index) == 2
    assert all(0 <= i < n for i, n in zip(row.worst_index, (2, 3), strict=True))
    assert report.first_bad_node is None


def test_one_row_per_float_input(rng):
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    report = ag.gradcheck(lambda x, y: x * ag.exp(y), [a, b])
    assert [r.input for r in report.rows] == [0, 1]
    assert all(r.passed for r in report.rows)


# ---- shapes, tuples, constants, dtypes ----------------------------------------------------------


def test_matrix_output(rng):
    a = rng.standard_normal((3, 2))
    assert ag.gradcheck(lambda x: x @ x.T, [a]).passed
    assert ag.gradcheck(lambda x: cube(x) @ x.T, [a]).passed
    assert not ag.gradcheck(lambda x: cube_off(x) @ x.T, [a], raise_on_fail=False).passed


def test_scalar_input_and_output():
    assert ag.gradcheck(ag.tanh, [np.array(0.3)]).passed
    assert not ag.gradcheck(cube_off, [np.array(0.7)], raise_on_fail=False).passed


def test_tuple_outputs(rng):
    a, b = rng.standard_normal((2, 2)), rng.standard_normal(2)

    def f(x, y):
        return x * y, ag.tanh(x).sum(), cube(y)

    assert ag.gradcheck(f, [a, b]).passed

    def g(x, y):
        return x * y, cube_off(y)  # only the second output is wrong

    report = ag.gradcheck(g, [a, b], raise_on_fail=False)
    assert not report.passed
    assert report.rows[0].passed and not report.rows[1].passed


def test_integer_constant_inputs_are_passed_through(rng):
    seen = []

    def f(x, n, idx):
        seen.append((type(n), np.asarray(idx).dtype.kind))
        return x[idx] ** n

    a = rng.standard_normal(5)
    report = ag.gradcheck(f, [a, 3, np.array([0, 2, 2])])
    assert report.passed
    assert [r.input for r in report.rows] == [0]  # only the float input is checked
    assert all(t is int and k == "i" for t, k in seen)


def test_float32_inputs_are_checked_in_float64(rng):
    seen = []

    def f(x):
        seen.append(x.dtype)
        return ag.tanh(x) * x

    a32 = rng.standard_normal(4).astype(np.float32)
    keep = a32.copy()
    report = ag.gradcheck(f, [a32])
    assert report.passed  # a float32 evaluation could never meet rtol=1e-6 differences
    assert set(seen) == {np.dtype(np.float64)}
    np.testing.assert_array_equal(a32, keep)  # the caller's array is not touched
    assert a32.dtype == np.float32


def test_tensor_inputs_accepted_and_untouched(rng):
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    keep = x.data.copy()
    assert ag.gradcheck(lambda t: ag.exp(t), [x]).passed
    assert x.grad is None
    np.testing.assert_array_equal(x.data, keep)


def test_explicit_eps(rng):
    a = rng.standard_normal(3)
    assert ag.gradcheck(lambda x: ag.exp(x), [a], eps=1e-6, atol=1e-6, rtol=1e-5).passed
    assert not ag.gradcheck(cube_off, [a + 2.0], eps=1e-6, atol=1e-6, rtol=1e-5,
                            raise_on_fail=False).passed


# ---- gradgradcheck ------------------------------------------------------------------------------


@ag.primitive
def three_x_squared(x):
    return 3 * x ** 2


three_x_squared.defvjp(lambda g, ans, x: (g * 5 * x,))  # wrong: d(3x²)/dx = 6x


@ag.primitive
def cube_via_helper(x):
    return x ** 3


cube_via_helper.defvjp(lambda g, ans, x: (g * three_x_squared(x),))  # first order is right


@ag.primitive
def sine(x):
    return np.sin(x)


sine.defvjp(lambda g, ans, x: (g * np.cos(np.asarray(x)),))  # np.asarray cuts the graph


def test_gradgradcheck_passes_correct_second_derivatives(rng):
    a = rng.standard_normal((2, 3))
    assert ag.gradgradcheck(cube, [a]).passed
    assert ag.gradgradcheck(lambda x: ag.tanh(x) * ag.exp(x), [a]).passed
    assert ag.gradgradcheck(lambda x, y: (x @ y.T) ** 2, [a, rng.standard_normal((4, 3))]).passed


def test_gradgradcheck_catches_wrong_derivative_of_the_vjp(rng):
    a = rng.standard_normal(4)
    assert ag.gradcheck(cube_via_helper, [a]).passed  # first order cannot see it
    report = ag.gradgradcheck(cube_via_helper, [a], raise_on_fail=False)
    assert not report.passed
    assert "second-derivative" in str(report)
    row = report.rows[0]
    idx = row.worst_index
    # <v, 3x²·g> differentiated: analytic uses 5x, numeric 6x
    assert row.analytic / row.numeric == pytest.approx(5 / 6, rel=1e-6), (a[idx], row)
    with pytest.raises(ag.GradcheckError, match="pass rule"):
        ag.gradgradcheck(cube_via_helper, [a])


def test_gradgradcheck_catches_vjp_that_is_not_differentiable(rng):
    a = rng.standard_normal(4)
    assert ag.gradcheck(sine, [a]).passed
    assert not ag.gradgradcheck(sine, [a], raise_on_fail=False).passed


# ---- first_bad_node -----------------------------------------------------------------------------


def test_first_bad_node_none_when_passing(rng):
    report = ag.gradcheck(lambda x: cube(x) * 2.0, [rng.standard_normal(3)])
    assert hasattr(report, "first_bad_node")
    assert report.first_bad_node is None


def test_first_bad_node_names_the_culprit(rng):
    a = rng.uniform(0.5, 1.5, 3)
    report = ag.gradcheck(lambda x: ag.tanh(cube_off(ag.exp(x)) * 0.1).sum(), [a],
                          raise_on_fail=False)
    assert not report.passed
    assert report.first_bad_node is not None
    assert "cube_off" in str(report.first_bad_node)
    assert "cube_off" in str(report)

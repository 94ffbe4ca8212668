"""gradcheck / gradgradcheck: pass correct VJPs, fail ones that are 0.1% wrong, and say where."""

import numpy as np
import pytest

import autograd_core as ag
from autograd_core.gradcheck import RECHECK


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
    assert report.entry(row) in msg  # 'f[o] / x[i]': a Jacobian entry, labelled
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
    assert row.output_index == (1, 2)  # a Jacobian entry: d cube(x)[1, 2] / d x[1, 2]
    assert "f[1, 2] / x[1, 2]" in str(report)


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


sine.defvjp(lambda g, ans, x: (g * np.cos(getattr(x, "data", x)),))  # .data cuts the graph


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
    report = ag.gradgradcheck(sine, [a], raise_on_fail=False)
    assert not report.passed
    assert "path the engine did not record" in str(report), report


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


# ---- the report's values are derivatives --------------------------------------------------------

cube_5x2 = _cube_with_factor("cube_5x2", 5 / 3)  # VJP 5x² where d(x³)/dx = 3x²


def test_one_element_output_shows_gradient_entries():
    # f(x) = sum(x³) at x = (0.5, -1, 2): the worst entry is x[2], true derivative 3·2² = 12,
    # the wrong VJP says 5·2² = 20 (not a projection on some random cotangent)
    report = ag.gradcheck(lambda x: cube_5x2(x).sum(), [np.array([0.5, -1.0, 2.0])], raise_on_fail=False)
    (row,) = report.rows
    assert not row.passed and row.worst_index == (2,)
    assert row.analytic == pytest.approx(20.0, rel=1e-12)
    assert row.numeric == pytest.approx(12.0, rel=1e-9)
    assert row.output_index is None and report.values == "gradient"
    text = str(report)
    assert "2.000000e+01" in text and "1.200000e+01" in text and "gradient entries" in text
    assert "x[2]" in text


def test_larger_output_shows_labelled_jacobian_entries():
    report = ag.gradcheck(cube_5x2, [np.array([-1.5, 0.5])], raise_on_fail=False)
    (row,) = report.rows
    assert report.values == "jacobian"
    assert row.worst_index == (0,) and row.output_index == (0,)
    assert row.numeric == pytest.approx(6.75, rel=1e-9)  # d(x³)/dx at -1.5
    assert row.analytic == pytest.approx(11.25, rel=1e-12)
    assert "f[0] / x[0]" in str(report) and "Jacobian entries" in str(report)
    # a correct op: every Jacobian entry, off-diagonal zeros included, agrees
    assert ag.gradcheck(cube, [np.array([-1.5, 0.5])]).passed


def test_tuple_outputs_label_the_output():
    report = ag.gradcheck(lambda x: (x * 2.0, cube_5x2(x)), [np.array([1.0, 2.0])], raise_on_fail=False)
    (row,) = report.rows
    assert row.output_index == (1, 1) and row.worst_index == (1,)  # output 1, its entry 1
    assert "f1[1] / x[1]" in str(report)
    assert row.numeric == pytest.approx(12.0, rel=1e-9)


def test_output_too_large_for_a_jacobian_is_a_labelled_projection(rng):
    x = rng.standard_normal(300)
    report = ag.gradcheck(cube_off, [x], raise_on_fail=False)
    assert report.values == "projection" and not report.passed
    assert "projected on a random cotangent" in str(report)
    v = np.random.default_rng(0).standard_normal(300)  # the cotangent the report names
    row = report.rows[0]
    i = row.worst_index
    assert row.numeric == pytest.approx(v[i] * 3 * x[i] ** 2, rel=1e-8)


def test_a_single_array_is_one_input():
    report = ag.gradcheck(lambda x: (x * x).sum(), np.ones((2, 2)))
    assert report.passed and len(report.rows) == 1 and report.rows[0].shape == (2, 2)
    assert ag.gradcheck(lambda t: ag.exp(t), ag.tensor(np.array([0.1, 0.2]))).passed
    assert ag.gradcheck(ag.tanh, 0.3).passed
    assert ag.gradgradcheck(lambda x: (x ** 3).sum(), np.ones((2, 2))).passed


def test_relative_error_with_a_zero_reference_is_not_applicable():
    report = ag.gradcheck(lambda x: ag.floor(x), [np.array([1.5, 2.3])])  # derivative 0 everywhere
    assert report.rows[0].max_rel_err is None
    assert "n/a" in str(report)
    # d/dx[2] = 1e-20: its difference is exactly 0; no 1e-20/1e-300 relative error
    report = ag.gradcheck(lambda x: (x[:2] ** 2).sum() + x[2] * 1e-20, [np.array([1.0, 2.0, 3.0])])
    assert report.passed and report.rows[0].max_rel_err < 1e-6
    assert "e+2" not in str(report) and "e+1" not in str(report)


# ---- hints that are true ------------------------------------------------------------------------

@ag.primitive
def planted_tanh(x):
    return np.tanh(x)


@planted_tanh.defvjp
def planted_tanh_vjp(g, ans, x):
    return (g * (1 - ans * ans) * 1.01,)  # a 1% error


def _relu_net(rng, near: float, act):
    """relu(x W1 + b1) → act → · W2, summed; every hidden unit has a sample whose pre-activation
    is `near` (so ReLU kinks lie within the difference steps of W1 and b1)."""
    x = rng.standard_normal((24, 3))
    w1, w2 = rng.standard_normal((3, 5)), rng.standard_normal((5, 2))
    b1 = near - (x @ w1)[np.arange(5), np.arange(5)]  # sample j sits at `near` in unit j

    def f(W1, B1, W2):
        return (act(ag.relu(x @ W1 + B1)) @ W2).sum()

    return f, [w1, b1, w2]


def test_a_real_bug_under_relu_kinks_is_a_wrong_formula_not_kinks(rng):
    f, params = _relu_net(rng, 1e-4, planted_tanh)
    report = ag.gradcheck(f, params, raise_on_fail=False)
    assert not report.passed
    assert report.first_bad_node.op == "planted_tanh" and report.first_bad_node.reason == "vjp"
    assert all(r.kinks == 0 for r in report.rows), report
    assert "kink" not in " ".join(report.notes), report
    assert "VJP formula is wrong" in str(report)
    assert "a wrong derivative" in str(report)


def test_relu_kinks_within_the_steps_give_no_false_failure(rng):
    f, params = _relu_net(rng, 1e-4, ag.tanh)  # a kink within the largest step, not the smallest
    report = ag.gradcheck(f, params)
    assert report.passed and all(r.kinks == 0 for r in report.rows), report  # stepped around


def test_relu_exactly_at_its_kink_is_accepted_and_shown_truthfully(rng):
    f, params = _relu_net(rng, 0.0, ag.tanh)
    report = ag.gradcheck(f, params)
    assert report.passed and report.rows[1].kinks > 0, report
    assert "at a kink of relu" in str(report)
    # an input whose only entry sits on the kink: the row shows that entry and its real error
    report = ag.gradcheck(lambda x: ag.relu(x) * 3.0 + x, [np.array(0.0)])
    (row,) = report.rows
    assert row.passed and row.at_kink and row.kinks == 1
    assert row.analytic == 1.0 and row.numeric == pytest.approx(2.5)  # relu'(0) = 0; sides 1 and 4
    assert row.max_abs_err == pytest.approx(abs(row.analytic - row.numeric))
    assert "(at a kink)" in str(report)


def test_noise_is_not_a_kink(rng):
    # a relu in the graph but nowhere near its kink: the float32 op's noise is not "kinks"
    report = ag.gradcheck(lambda x: tanh32(ag.relu(x + 10.0)), [rng.standard_normal(4)], raise_on_fail=False)
    assert not report.passed
    assert all(r.kinks == 0 for r in report.rows) and "kink" not in " ".join(report.notes)


@ag.primitive
def tanh32(x):
    return np.tanh(np.asarray(x, dtype=np.float32)).astype(np.float64)  # float32 inside


tanh32.defvjp(lambda g, ans, x: (g * (1 - ans * ans),))


def test_an_op_computing_in_float32_is_named_as_such(rng):
    report = ag.gradcheck(lambda x: tanh32(x * 0.5) * 2.0, [rng.standard_normal(5)], raise_on_fail=False)
    assert not report.passed
    assert "the op computes in lower precision" in str(report), report
    assert report.first_bad_node.op == "tanh32" and report.first_bad_node.reason == "precision"
    assert "kink" not in " ".join(report.notes) and all(r.kinks == 0 for r in report.rows)
    assert "wrong" not in " ".join(report.notes)


def test_a_layer_drawing_from_np_random_is_not_deterministic(rng):
    def noisy_dropout(x):  # draws a fresh mask on every call, outside ag.draw_random
        return x * (np.random.default_rng().random(x.shape) > 0.3) / 0.7

    report = ag.gradcheck(lambda x: ag.tanh(noisy_dropout(x)).sum(), [rng.standard_normal(6)],
                          raise_on_fail=False)
    assert not report.passed
    text = str(report)
    assert "f is not deterministic" in text and "ag.frozen_randomness" in text and "ag.draw_random" in text
    assert "kink" not in " ".join(report.notes) and report.first_bad_node is None


def test_draw_random_layers_are_deterministic_inside_a_check(rng):
    owner = object()

    def dropout(x):
        mask = ag.draw_random(owner, lambda: np.random.default_rng().random(x.shape) > 0.3)
        return x * mask / 0.7

    assert ag.gradcheck(lambda x: ag.tanh(dropout(x)).sum(), [rng.standard_normal(6)]).passed


@pytest.mark.parametrize("cut", ["data", "tensor"])
def test_a_path_the_engine_did_not_record_is_named(cut, rng):
    def f(x):
        const = x.data if cut == "data" else ag.tensor(x.data)  # the graph is cut here
        return (ag.tanh(x) * const).sum()

    report = ag.gradcheck(f, [rng.uniform(0.5, 1.5, 4)], raise_on_fail=False)
    assert not report.passed and report.first_bad_node is None
    assert "through a path the engine did not record (.data, np.asarray, ag.tensor(...))" in str(report)
    assert "wrong VJP" not in str(report) and "kink" not in " ".join(report.notes)


def test_an_exactly_zero_gradient_where_f_clearly_moves_is_an_unrecorded_path(rng):
    report = ag.gradcheck(lambda x: x * 0.0 + ag.tensor(x.data ** 2), [rng.uniform(0.5, 1.5, 3)],
                          raise_on_fail=False)
    assert not report.passed
    assert "exactly 0" in str(report) and "path the engine did not record" in str(report)


# ---- a failing check stays cheap ----------------------------------------------------------------

def test_a_failing_check_of_a_large_input_costs_a_few_passing_ones(rng):
    x = rng.standard_normal((8, 40))
    w, b = rng.standard_normal((40, 40)) / 6, rng.standard_normal(40)  # w: over FAST_THRESHOLD
    calls = {"ok": 0, "bad": 0}

    def model(act, key):
        def f(W, B):
            calls[key] += 1
            return act(ag.tanh(x @ W + B)).sum()
        return f

    good = ag.gradcheck(model(ag.tanh, "ok"), [w, b])
    report = ag.gradcheck(model(planted_tanh, "bad"), [w, b], raise_on_fail=False)
    assert good.passed and not report.passed
    assert calls["bad"] <= 3 * calls["ok"], calls
    row = report.rows[0]
    assert row.mode == "fast" and row.rechecked == RECHECK
    assert row.direction is None and len(row.worst_index) == 2  # an entry, shown as one
    # the value shown is the true derivative at that entry (the right VJP's gradient)
    with ag.Tape() as tape:
        W = ag.tensor(w, requires_grad=True)
        loss = ag.tanh(ag.tanh(x @ W + b)).sum()
    assert row.numeric == pytest.approx(tape.gradient(loss, W).data[row.worst_index], rel=1e-8)
    assert row.analytic == pytest.approx(1.01 * row.numeric, rel=1e-3)
    assert "re-checked one by one" in str(report)


def test_gradgradcheck_of_a_one_element_function_shows_second_derivatives():
    report = ag.gradgradcheck(lambda x: (x ** 3).sum(), [np.array([0.5, 2.0])])
    (row,) = report.rows
    assert row.worst_index == row.output_index  # on the diagonal: d²/dx[i]² of sum(x³) is 6·x[i]
    assert row.numeric == pytest.approx(6 * [0.5, 2.0][row.worst_index[0]], rel=1e-9)
    assert "second derivatives" in str(report)

"""Function transforms: grad, value_and_grad, vjp, jacobian, hessian."""

import numpy as np
import pytest

import autograd_core as ag


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


def _softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


# ---- grad / value_and_grad ----------------------------------------------------------------------


def test_grad_of_sum_of_cubes(rng):
    a = rng.standard_normal(5)
    g = ag.grad(lambda x: (x ** 3).sum())(a)
    assert isinstance(g, ag.Tensor)
    assert g.shape == a.shape and g.dtype == np.float64
    np.testing.assert_allclose(g.data, 3 * a ** 2, rtol=1e-14)


def test_grad_wraps_arrays_and_tensors_alike(rng):
    a = rng.standard_normal((2, 3))
    f = ag.grad(lambda x: (ag.tanh(x) * x).sum())
    g1 = f(a)
    g2 = f(ag.tensor(a))
    expected = np.tanh(a) + a * (1 - np.tanh(a) ** 2)
    np.testing.assert_allclose(g1.data, expected, rtol=1e-13)
    np.testing.assert_allclose(g2.data, expected, rtol=1e-13)


def test_grad_of_scalar_python_float():
    g = ag.grad(lambda x: x * x * 3.0)(2.0)
    assert isinstance(g, ag.Tensor)
    assert g.item() == pytest.approx(12.0)


def test_value_and_grad(rng):
    a = rng.standard_normal(4)
    val, g = ag.value_and_grad(lambda x: (ag.exp(x)).sum())(a)
    assert isinstance(val, ag.Tensor) and isinstance(g, ag.Tensor)
    assert val.item() == pytest.approx(np.exp(a).sum(), rel=1e-14)
    np.testing.assert_allclose(g.data, np.exp(a), rtol=1e-14)


def test_tuple_argnums_give_tuples(rng):
    a, b = rng.standard_normal(3), rng.standard_normal(3)

    def f(x, y):
        return (x * y * y).sum()

    gs = ag.grad(f, argnums=(0, 1))(a, b)
    assert isinstance(gs, tuple) and len(gs) == 2
    np.testing.assert_allclose(gs[0].data, b * b)
    np.testing.assert_allclose(gs[1].data, 2 * a * b)
    (g1,) = ag.grad(f, argnums=(1,))(a, b)  # a one-element tuple stays a tuple
    np.testing.assert_allclose(g1.data, 2 * a * b)
    g_single = ag.grad(f, argnums=1)(a, b)
    assert isinstance(g_single, ag.Tensor)
    val, gs2 = ag.value_and_grad(f, argnums=(0, 1))(a, b)
    assert isinstance(gs2, tuple) and len(gs2) == 2
    g_neg = ag.grad(f, argnums=-1)(a, b)
    np.testing.assert_allclose(g_neg.data, 2 * a * b)


def test_argnums_out_of_range():
    with pytest.raises(ValueError, match="argnums 2 is out of range"):
        ag.grad(lambda x, y: (x * y).sum(), argnums=2)(np.ones(2), np.ones(2))


def test_grad_of_grad_for_scalars():
    f = lambda x: x ** 3 + 2.0 * x * x  # noqa: E731
    x0 = np.array(1.7)
    d1 = ag.grad(f)(x0)
    d2 = ag.grad(ag.grad(f))(x0)
    d3 = ag.grad(ag.grad(ag.grad(f)))(x0)
    assert d1.item() == pytest.approx(3 * 1.7 ** 2 + 4 * 1.7, rel=1e-14)
    assert d2.item() == pytest.approx(6 * 1.7 + 4, rel=1e-14)
    assert d3.item() == pytest.approx(6.0, rel=1e-14)
    assert isinstance(d2, ag.Tensor)


def test_grad_of_grad_of_tanh():
    x0 = np.array(0.4)
    d2 = ag.grad(ag.grad(ag.tanh))(x0)
    t = np.tanh(0.4)
    assert d2.item() == pytest.approx(-2 * t * (1 - t * t), rel=1e-13)


def test_input_output_does_not_depend_on_gets_zeros(rng):
    a, b = rng.standard_normal(3), rng.standard_normal((2, 2))
    ga, gb = ag.grad(lambda x, y: (x * x).sum(), argnums=(0, 1))(a, b)
    assert gb is not None
    assert isinstance(gb, ag.Tensor)
    assert gb.shape == (2, 2) and gb.dtype == np.float64
    np.testing.assert_array_equal(gb.data, np.zeros((2, 2)))
    g_const = ag.grad(lambda x: ag.tensor(np.array(1.0)))(a)  # output ignores x entirely
    np.testing.assert_array_equal(g_const.data, np.zeros(3))
    (j,) = ag.jacobian(lambda x, y: x * 2.0, argnums=(1,))(a, b)
    np.testing.assert_array_equal(j.data, np.zeros((3, 2, 2)))


def test_grad_of_non_scalar_raises_type_error():
    with pytest.raises(TypeError, match=r"scalar.*\(3,\)"):
        ag.grad(lambda x: x * 2.0)(np.ones(3))


@pytest.mark.parametrize("arg", [3, np.array([1, 2]), True], ids=["int", "int-array", "bool"])
def test_int_argument_raises(arg):
    with pytest.raises(TypeError, match="float"):
        ag.grad(lambda x: (x * 2.0).sum())(arg)


def test_int_constant_argument_not_differentiated_is_fine(rng):
    a = rng.standard_normal(3)
    g = ag.grad(lambda x, n: (x ** n).sum())(a, 3)
    np.testing.assert_allclose(g.data, 3 * a ** 2)


# ---- transforms never touch .grad ---------------------------------------------------------------


def test_transforms_do_not_touch_closure_captured_grad(rng):
    W = ag.tensor(rng.standard_normal(3), requires_grad=True)

    def f(x):
        return (x * W).sum()

    g = ag.grad(f)(rng.standard_normal(3))
    np.testing.assert_allclose(g.data, W.data)
    assert W.grad is None
    ag.value_and_grad(f)(rng.standard_normal(3))
    ag.jacobian(lambda x: x * W)(rng.standard_normal(3))
    ag.hessian(lambda x: (x * x * W).sum())(rng.standard_normal(3))
    out, fn = ag.vjp(lambda x: x * W, rng.standard_normal(3))
    fn(np.ones(3))
    assert W.grad is None
    W.grad = np.full(3, 7.0)
    ag.grad(f)(rng.standard_normal(3))
    ag.value_and_grad(f)(rng.standard_normal(3))
    np.testing.assert_array_equal(W.grad, np.full(3, 7.0))


def test_transforms_do_not_touch_argument_grad(rng):
    x = ag.tensor(rng.standard_normal(3))
    x.grad = np.full(3, 5.0)
    ag.grad(lambda t: (t * t).sum())(x)
    np.testing.assert_array_equal(x.grad, np.full(3, 5.0))


def test_caller_array_unchanged(rng):
    a = rng.standard_normal(3)
    keep = a.copy()
    ag.grad(lambda x: (x * x).sum())(a)
    np.testing.assert_array_equal(a, keep)
    assert a.flags.writeable


# ---- vjp ----------------------------------------------------------------------------------------


def test_vjp_returns_tuple_and_can_be_called_many_times(rng):
    a = rng.standard_normal(4)
    out, vjp_fn = ag.vjp(lambda x: ag.exp(x) * 2.0, a)
    assert isinstance(out, ag.Tensor)
    np.testing.assert_allclose(out.data, 2 * np.exp(a))
    for _ in range(3):
        v = rng.standard_normal(4)
        cots = vjp_fn(v)
        assert isinstance(cots, tuple) and len(cots) == 1
        assert isinstance(cots[0], ag.Tensor)
        np.testing.assert_allclose(cots[0].data, v * 2 * np.exp(a))


def test_vjp_multiple_primals(rng):
    A = rng.standard_normal((3, 4))
    b = rng.standard_normal(4)
    out, vjp_fn = ag.vjp(lambda M, v: M @ v, A, b)
    assert out.shape == (3,)
    u = rng.standard_normal(3)
    gA, gb = vjp_fn(u)
    np.testing.assert_allclose(gA.data, np.outer(u, b))
    np.testing.assert_allclose(gb.data, A.T @ u)


def test_vjp_fn_rejects_wrong_cotangent_shape(rng):
    _, vjp_fn = ag.vjp(lambda x: x * 2.0, rng.standard_normal(3))
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        vjp_fn(np.ones(2))


# ---- jacobian -----------------------------------------------------------------------------------


def test_jacobian_of_softmax(rng):
    a = rng.standard_normal(5)
    J = ag.jacobian(ag.softmax)(a)
    assert isinstance(J, ag.Tensor)
    assert J.shape == (5, 5)
    s = _softmax(a)
    np.testing.assert_allclose(J.data, np.diag(s) - np.outer(s, s), atol=1e-15)


def test_jacobian_of_matmul_shape_and_values(rng):
    A = rng.standard_normal((2, 3))
    X = rng.standard_normal((3, 4))
    J = ag.jacobian(lambda x: ag.tensor(A) @ x)(X)
    assert J.shape == (2, 4) + (3, 4)  # out.shape + in.shape
    expected = np.einsum("ik,jl->ijkl", A, np.eye(4))  # d(AX)_ij / dX_kl = A_ik δ_jl
    np.testing.assert_allclose(J.data, expected, atol=1e-15)


def test_jacobian_tuple_argnums(rng):
    M = rng.standard_normal((2, 3))
    v = rng.standard_normal(3)
    JM, Jv = ag.jacobian(lambda m, x: m @ x, argnums=(0, 1))(M, v)
    assert JM.shape == (2, 2, 3) and Jv.shape == (2, 3)
    np.testing.assert_allclose(Jv.data, M)
    # d(Mv)_i / dM_jk = δ_ij v_k
    np.testing.assert_allclose(JM.data, np.einsum("ij,k->ijk", np.eye(2), v))


def test_jacobian_of_scalar_output(rng):
    a = rng.standard_normal((2, 2))
    J = ag.jacobian(lambda x: (x * x).sum())(a)
    assert J.shape == (2, 2)
    np.testing.assert_allclose(J.data, 2 * a)


# ---- hessian ------------------------------------------------------------------------------------


def test_hessian_of_quadratic_form(rng):
    A = rng.standard_normal((4, 4))  # not symmetric
    a = rng.standard_normal(4)
    H = ag.hessian(lambda x: x @ (ag.tensor(A) @ x))(a)
    assert isinstance(H, ag.Tensor)
    assert H.shape == (4, 4)
    np.testing.assert_allclose(H.data, A + A.T, atol=1e-13)


def test_hessian_of_sum_of_cubes(rng):
    a = rng.standard_normal(5)
    H = ag.hessian(lambda x: (x ** 3).sum())(a)
    np.testing.assert_allclose(H.data, np.diag(6 * a), atol=1e-13)


def test_hessian_of_matrix_input(rng):
    a = rng.standard_normal((2, 3))
    H = ag.hessian(lambda x: (ag.exp(x)).sum())(a)
    assert H.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(H.data.reshape(6, 6), np.diag(np.exp(a).ravel()), atol=1e-13)

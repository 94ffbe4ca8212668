"""ag.linalg beyond the op-case table (tests/op_cases_linalg.py): errors that name the op, where
the functions are not differentiable, the one-triangle convention of cholesky/eigh, NumPy's
conventions (solve's b, matrix_power's exponents, result types), and gradients against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag

L = ag.linalg
LinAlgError = np.linalg.LinAlgError


def leaf(a) -> ag.Tensor:
    return ag.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def spd(rng, n: int = 3) -> np.ndarray:
    x = rng.standard_normal((n, n))
    return x @ x.T + n * np.eye(n)


# ---- errors that name the op -------------------------------------------------------------------
@pytest.mark.parametrize("call, op", [
    (lambda: L.inv(np.ones((2, 3))), "linalg.inv"),
    (lambda: L.inv(np.ones(3)), "linalg.inv"),
    (lambda: L.det(np.ones((2, 3))), "linalg.det"),
    (lambda: L.slogdet(np.ones((3, 2))), "linalg.slogdet"),
    (lambda: L.cholesky(np.ones((2, 3))), "linalg.cholesky"),
    (lambda: L.eigh(np.ones((1, 2))), "linalg.eigh"),
    (lambda: L.matrix_power(np.ones((2, 3)), 2), "linalg.matrix_power"),
    (lambda: L.svd(np.ones(3)), "linalg.svd"),
    (lambda: L.qr(np.ones(3)), "linalg.qr"),
    (lambda: L.pinv(np.ones(3)), "linalg.pinv"),
    (lambda: L.solve(np.eye(3), np.ones(2)), "linalg.solve"),
    (lambda: L.solve(np.eye(3), np.ones((2, 2))), "linalg.solve"),
    (lambda: L.solve(np.ones((2, 3, 3)), np.ones((3, 3, 1))), "linalg.solve"),
    (lambda: L.eigh(np.eye(2), UPLO="X"), "linalg.eigh"),
    (lambda: L.qr(np.eye(2), mode="raw"), "linalg.qr"),
    (lambda: L.svd(np.eye(2), hermitian=True), "linalg.svd"),
    (lambda: L.norm(np.ones((2, 2, 2)), 2), "linalg.norm"),
    (lambda: L.norm(np.ones(3), "fro", axis=0), "linalg.norm"),
    (lambda: L.norm(np.ones((2, 2)), 3), "linalg.norm"),
    (lambda: L.norm(np.ones((2, 2)), axis=(0, 0)), "linalg.norm"),
    (lambda: L.norm(np.ones((2, 2)), axis=2), "linalg.norm"),
])
def test_bad_input_raises_valueerror_naming_the_op(call, op):
    with pytest.raises(ValueError, match=op.replace(".", r"\.")):
        call()


def test_shape_errors_are_numpys_linalgerror():
    with pytest.raises(LinAlgError, match="linalg.inv"):
        L.inv(leaf(np.ones((2, 3))))


def test_non_integer_exponent_and_lists_of_tensors_are_type_errors():
    with pytest.raises(TypeError, match="linalg.matrix_power"):
        L.matrix_power(np.eye(2), 1.5)
    t = leaf([1.0, 2.0])
    with pytest.raises(TypeError, match="linalg.inv"):
        L.inv([t, t])
    with pytest.raises(TypeError, match="linalg.norm"):
        L.norm([t, 1.0])


@pytest.mark.parametrize("call, name", [
    (lambda a: L.inv(a), "linalg_inv"),
    (lambda a: L.solve(a, np.ones(2)), "linalg_solve"),
    (lambda a: L.cholesky(a), "linalg_cholesky"),
])
def test_singular_or_indefinite_forward_raises_naming_the_op(call, name):
    with pytest.raises(ValueError, match=name):
        call(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=name):
        call(leaf(np.zeros((2, 2))))


# ---- where the functions are not differentiable: a clear error in the VJP ------------------------
def test_eigh_repeated_eigenvalues():
    a = leaf(np.diag([1.0, 1.0, 2.0]))
    w, v = L.eigh(a)
    with pytest.raises(LinAlgError, match="linalg.eigh.*repeated eigenvalues"):
        (v ** 2 * np.arange(9.0).reshape(3, 3)).sum().backward()
    a = leaf(np.diag([1.0, 1.0, 2.0]))
    (L.eigh(a)[0] * np.array([1.0, 2.0, 3.0])).sum().backward()  # eigenvalues alone: fine
    np.testing.assert_allclose(a.grad, np.diag([1.0, 2.0, 3.0]))  # V diag(w̄) Vᵀ, V = I here


def test_svd_repeated_singular_values_and_full_matrices():
    a = leaf(np.diag([2.0, 1.0, 1.0]))
    with pytest.raises(LinAlgError, match="linalg.svd.*repeated singular values"):
        (L.svd(a)[0] ** 2 * np.arange(9.0).reshape(3, 3)).sum().backward()
    L.svd(a)[1].sum().backward()  # S alone: U Vh, fine at ties
    np.testing.assert_allclose(a.grad, np.eye(3))
    rng = np.random.default_rng(0)
    tall = leaf(rng.standard_normal((4, 3)))
    with pytest.raises(LinAlgError, match="full_matrices=False"):
        (L.svd(tall)[0] ** 2).sum().backward()
    u, s, vh = L.svd(tall)  # NumPy's default full_matrices=True: S and the first columns of U
    (s.sum() + (u[:, :3] ** 2 * np.arange(12.0).reshape(4, 3)).sum()).backward()
    expected = ag.grad(lambda x: (lambda u, s, vh: s.sum() + (u ** 2 * np.arange(12.0).reshape(4, 3)).sum())(
        *L.svd(x, full_matrices=False)))(tall.data)
    np.testing.assert_allclose(tall.grad, expected.data, rtol=1e-12)


def test_svd_rank_deficient_non_square():
    a = leaf(np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]))  # 3x2 of rank 1
    with pytest.raises(LinAlgError, match="rank-deficient"):
        (L.svd(a, full_matrices=False)[0] ** 2).sum().backward()


def test_det_slogdet_singular_and_qr_rank_deficient():
    with pytest.raises(LinAlgError, match="linalg.det.*singular"):
        L.det(leaf(np.ones((3, 3)))).backward()
    with pytest.raises(LinAlgError, match="linalg.slogdet.*singular"):
        L.slogdet(leaf(np.zeros((2, 2))))[1].backward()
    with pytest.raises(LinAlgError, match="linalg.qr.*linearly dependent"):
        L.qr(leaf(np.ones((3, 2))))[1].sum().backward()
    with pytest.raises(LinAlgError, match="mode='reduced'"):
        L.qr(leaf(np.random.default_rng(1).standard_normal((4, 2))), mode="complete")[0].sum().backward()


def test_slogdet_sign_has_zero_gradient():
    a = leaf(np.array([[0.0, 2.0], [3.0, 1.0]]))  # det -6
    sign, logabs = L.slogdet(a)
    assert sign.item() == -1.0
    sign.backward()
    assert not a.grad.any()


# ---- norms: subgradient 0 at 0 ---------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, {"ord": 2}, {"ord": 3}, {"ord": 1}, {"ord": np.inf}])
def test_vector_norm_gradient_at_zero_is_zero(kwargs):
    x = leaf(np.zeros(4))
    L.norm(x, **kwargs).backward()
    assert np.all(x.grad == 0)


def test_frobenius_norm_gradient_at_zero_is_zero_and_second_order_finite():
    x = leaf(np.zeros((2, 3)))
    g = ag.grad(lambda t: L.norm(t, "fro"))(x.data)
    assert np.all(g.data == 0)
    h = ag.hessian(lambda t: L.norm(t) ** 2)(np.array([1.0, -2.0]))
    np.testing.assert_allclose(h.data, 2 * np.eye(2), atol=1e-12)


def test_norm_matches_numpy_for_every_ord_and_axis():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 2))
    for ord_ in (None, 1, 2, 3, 0.5, -1.5, np.inf, -np.inf, 0):
        for axis in (0, 1, -1):
            for keepdims in (False, True):
                np.testing.assert_allclose(L.norm(x, ord_, axis, keepdims),
                                           np.linalg.norm(x, ord_, axis, keepdims), rtol=1e-12)
    for ord_ in (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf):
        for axis in ((0, 1), (2, 0), (-1, -2)):
            for keepdims in (False, True):
                np.testing.assert_allclose(L.norm(x, ord_, axis, keepdims),
                                           np.linalg.norm(x, ord_, axis, keepdims), rtol=1e-12)
    np.testing.assert_allclose(L.norm(x), np.linalg.norm(x), rtol=1e-12)


# ---- the one-triangle convention of cholesky and eigh ------------------------------------------------
@pytest.mark.parametrize("f", [lambda a: L.cholesky(a), lambda a: L.eigh(a)[1] ** 2 + L.eigh(a)[0]])
def test_one_triangle_gradient_lies_on_the_lower_triangle(f, rng):
    a = leaf(spd(rng) + np.triu(rng.standard_normal((3, 3)), 1))
    ag.sum(f(a) * rng.standard_normal((3, 3))).backward()
    assert np.all(np.triu(a.grad, 1) == 0)
    assert np.any(np.tril(a.grad) != 0)


def test_one_triangle_gradient_through_a_symmetric_parametrization_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 3))
    c = rng.standard_normal((3, 3))

    def ours(x):
        a = x @ x.T + 3 * np.eye(3)
        w, v = L.eigh(a)
        return ag.sum(L.cholesky(a) * c) + ag.sum(v ** 2 * c) + ag.sum(w)

    g = ag.grad(ours)(x).data
    xt = torch.tensor(x, requires_grad=True)
    at = xt @ xt.T + 3 * torch.eye(3, dtype=torch.float64)
    wt, vt = torch.linalg.eigh(at)
    ct = torch.tensor(c)
    ((torch.linalg.cholesky(at) * ct).sum() + (vt ** 2 * ct).sum() + wt.sum()).backward()
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


W43 = np.arange(12.0).reshape(4, 3) / 4  # a fixed weighting of a (4, 3) output


@pytest.mark.parametrize("f, tf", [
    (lambda a: ag.sum(L.svd(a, full_matrices=False)[0] ** 2 * W43) + ag.sum(L.svd(a, compute_uv=False)),
     lambda t, a: (t.linalg.svd(a, full_matrices=False)[0] ** 2 * t.tensor(W43)).sum()
     + t.linalg.svdvals(a).sum()),
    (lambda a: ag.sum(L.qr(a)[0] * W43) + ag.sum(L.qr(a)[1]),
     lambda t, a: (t.linalg.qr(a)[0] * t.tensor(W43)).sum() + t.linalg.qr(a)[1].sum()),
    (lambda a: ag.sum(L.pinv(a) ** 2), lambda t, a: (t.linalg.pinv(a) ** 2).sum()),
    (lambda a: L.norm(a, "nuc") + L.norm(a, 2) + L.norm(a, -np.inf),
     lambda t, a: t.linalg.norm(a, "nuc") + t.linalg.norm(a, 2) + t.linalg.norm(a, -float("inf"))),
])
def test_gradients_match_torch(f, tf, rng):
    torch = pytest.importorskip("torch")
    a = rng.standard_normal((4, 3)) + 2 * np.eye(4, 3)
    g = ag.grad(f)(a).data
    at = torch.tensor(a, requires_grad=True)
    tf(torch, at).backward()
    np.testing.assert_allclose(g, at.grad.numpy(), rtol=1e-9, atol=1e-12)


# ---- NumPy's conventions --------------------------------------------------------------------------
def test_solve_b_is_a_vector_only_when_1d():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((3, 3, 3)) + 3 * np.eye(3)
    b = rng.standard_normal((3, 3))  # NumPy 2: a matrix (3, 3), broadcast over a's batch
    x = L.solve(leaf(a), leaf(b))
    assert x.shape == (3, 3, 3)
    np.testing.assert_allclose(x.data, np.linalg.solve(a, b), rtol=1e-12)
    assert ag.gradcheck(L.solve, [a, b]).passed
    v = rng.standard_normal(3)
    np.testing.assert_allclose(L.solve(a, v), np.linalg.solve(a, v), rtol=1e-12)


@pytest.mark.parametrize("n", [-3, -2, -1, 0, 1, 2, 3, 4, 7, 8, 11])
def test_matrix_power_matches_numpy(n, rng):
    a = rng.standard_normal((2, 3, 3)) / 2 + np.eye(3)
    out = L.matrix_power(leaf(a), n)
    np.testing.assert_allclose(out.data, np.linalg.matrix_power(a, n), rtol=1e-12, atol=1e-12)
    if n != 1:
        assert ag.gradcheck(lambda x: L.matrix_power(x, n), [a]).passed


def test_matrix_power_0_and_1():
    a = leaf(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert L.matrix_power(a, 1) is a  # as NumPy returns its input
    eye = L.matrix_power(a, 0)
    assert eye.dtype == a.dtype and np.array_equal(eye.data, np.eye(2))
    eye.sum().backward()
    assert np.array_equal(a.grad, np.zeros((2, 2)))
    assert L.matrix_power(np.arange(4).reshape(2, 2), 0).dtype == np.arange(1).dtype  # NumPy's dtype


def test_results_are_plain_tuples_of_tensors_or_arrays():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    for res in (L.slogdet(a), L.eigh(a), L.svd(a), L.qr(a)):
        assert type(res) is tuple and all(type(r) is np.ndarray for r in res)
    t = leaf(a)
    for res in (L.slogdet(t), L.eigh(t), L.svd(t), L.qr(t)):
        assert type(res) is tuple and all(isinstance(r, ag.Tensor) and r.requires_grad for r in res)
    assert isinstance(L.svd(t, compute_uv=False), ag.Tensor) and isinstance(L.qr(t, mode="r"), ag.Tensor)
    for ours, theirs in zip(L.svd(a), np.linalg.svd(a), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_float32_kept_for_every_output():
    a = (np.array([[3.0, 1.0, 0.5], [1.0, 2.0, 0.25], [0.5, 0.25, 1.0]])).astype(np.float32)
    t = ag.tensor(a, requires_grad=True)
    outs = [*L.slogdet(t), *L.eigh(t), *L.svd(t), *L.qr(t), L.inv(t), L.det(t), L.cholesky(t),
            L.pinv(t), L.norm(t), L.norm(t, "nuc"), L.matrix_power(t, -2), L.solve(t, a[:, 0])]
    assert all(o.dtype == np.float32 for o in outs)
    sum(ag.sum(o) for o in outs[1:3] + outs[6:]).backward()
    assert t.grad.dtype == np.float32


def test_unused_outputs_of_a_decomposition_get_zero_cotangents(rng):
    a = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    g_full = ag.grad(lambda x: ag.sum(L.svd(x)[1]))(a).data
    g_vals = ag.grad(lambda x: ag.sum(L.svd(x, compute_uv=False)))(a).data
    np.testing.assert_allclose(g_full, g_vals, rtol=1e-12)


def test_hessian_of_logdet(rng):
    """d²/dA² log det A [H] = -A⁻¹ H A⁻¹ (transposed): through slogdet's VJP, which uses inv."""
    a = spd(rng)
    h = ag.hessian(lambda x: L.slogdet(x)[1])(a).data  # (3, 3, 3, 3)
    ainv = np.linalg.inv(a)
    np.testing.assert_allclose(h, -np.einsum("li,jk->ijkl", ainv, ainv), rtol=1e-10, atol=1e-12)

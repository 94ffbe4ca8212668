"""Bugs found in review, each pinned by the smallest program that showed it."""

import gc

import numpy as np
import pytest

import autograd_core as ag
import nn


def test_inner_grad_closing_over_the_outer_variable():
    outer = lambda y: (ag.grad(lambda x: (x * y).sum())(np.ones(3)) ** 2).sum()  # noqa: E731
    np.testing.assert_allclose(ag.grad(outer)(np.array([1.0, 2.0, 3.0])).data, [2.0, 4.0, 6.0])


def test_gradient_penalty_feeds_a_backward():
    w = ag.tensor(np.array([1.0, -2.0]), requires_grad=True)
    gx = ag.grad(lambda x: ((x * w) ** 2).sum())(np.array([3.0, 4.0]))  # 2 x w²
    (gx * gx).sum().backward()  # d/dw Σ (2 x w²)² = 16 x² w³
    np.testing.assert_allclose(w.grad, 16 * np.array([9.0, 16.0]) * np.array([1.0, -8.0]))


def test_hessian_with_tuple_argnums_is_a_nested_tuple():
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    (haa, hab), (hba, hbb) = ag.hessian(lambda a, b: (a * a * b).sum(), argnums=(0, 1))(a, b)
    np.testing.assert_allclose(haa.data, np.diag(2 * b))
    np.testing.assert_allclose(hab.data, np.diag(2 * a))
    np.testing.assert_allclose(hba.data, np.diag(2 * a))
    np.testing.assert_allclose(hbb.data, 0)


def test_jacobian_and_vjp_of_a_tuple_valued_function():
    j2, j3 = ag.jacobian(lambda x: (x * 2, x * 3))(np.array([1.0, 2.0]))
    np.testing.assert_allclose(j2.data, 2 * np.eye(2))
    np.testing.assert_allclose(j3.data, 3 * np.eye(2))
    (o1, o2), vjp_fn = ag.vjp(lambda x: (x * 2, x.sum()), np.array([1.0, 2.0]))
    (g,) = vjp_fn((np.ones(2), np.array(1.0)))
    np.testing.assert_allclose(g.data, [3.0, 3.0])
    with pytest.raises(TypeError, match="scalar"):
        ag.grad(lambda x: (x.sum(), x.sum()))(np.ones(2))


def test_power_at_zero_has_finite_gradients():
    x = ag.tensor(np.zeros(3), requires_grad=True)
    (x ** np.arange(3.0)).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])
    x = ag.tensor(np.array([0.0, 1.0]), requires_grad=True)
    e = ag.tensor(np.array([2.0, 2.0]), requires_grad=True)
    (x ** e).sum().backward()
    np.testing.assert_array_equal(e.grad, [0.0, 0.0])
    np.testing.assert_array_equal(x.grad, [0.0, 2.0])


def test_transforms_leave_the_callers_arrays_writable():
    p = ag.tensor(np.ones(3), requires_grad=True)
    g = ag.grad(lambda z: (z * z).sum())(p)
    del g
    gc.collect()
    assert p.data.flags.writeable
    w = ag.tensor(np.ones(3))
    value, grad = ag.value_and_grad(lambda z: (z * z).sum())(w)
    w.data[0] = 2.0  # the value is detached: nothing of w stays locked
    assert value.item() == 3.0 and value.node is None


def test_primitive_returning_its_input_does_not_lock_it_for_good():
    @ag.primitive
    def passthrough(x):
        return x

    passthrough.defvjp(lambda g, ans, x: (g,))
    p = ag.tensor(np.ones(2), requires_grad=True)
    y = passthrough(p)
    assert y.data is not p.data
    del y
    gc.collect()
    assert p.data.flags.writeable


def test_tied_parameters_round_trip_and_are_checked_everywhere():
    d1, d2 = nn.Dense(3, 3, rng=0), nn.Dense(3, 3, rng=1)
    d2.W = d1.W
    model = nn.Sequential(d1, d2)
    state = model.state_dict()
    assert "1.W" not in state
    model.load_state_dict(state)
    x = np.random.default_rng(0).standard_normal((4, 3))
    report = nn.check_gradients(model, x, np.zeros((4, 3)), loss="mse")
    assert report.passed, report
    with ag.Tape() as tape:  # the checked gradient is the total one, through both uses
        loss = nn.mse_loss(model(x), np.zeros((4, 3)))
    total = tape.gradient(loss, [d1.W])[0].data
    assert np.isclose(report.rows[0].grad_norm, np.linalg.norm(total), rtol=1e-6)


def test_clip_bounds_are_constants_and_keep_the_shape():
    lo = ag.tensor(np.array([0.5, -1.0]), requires_grad=True)
    with pytest.raises(TypeError, match="bound lo requires grad"):
        ag.clip(ag.tensor(np.zeros(2), requires_grad=True), lo, None)
    with pytest.raises(ValueError, match="clip keeps x's shape"):
        ag.clip(ag.tensor(np.zeros(3), requires_grad=True), np.zeros((2, 3)), 1.0)


def test_a_0d_leaf_used_twice_gets_an_array_grad():
    p = nn.Parameter(np.array(1.5))
    (p * p).backward()
    assert type(p.grad) is np.ndarray and p.grad.shape == () and p.grad == 3.0
    (p * p).backward()
    assert type(p.grad) is np.ndarray and p.grad == 6.0


def test_integer_results_carry_no_gradient():
    t = ag.tensor(np.array([1.7, 2.2]), requires_grad=True)
    i = t.astype(np.int64)
    assert i.dtype == np.int64 and not i.requires_grad and i.node is None
    assert ag.astype(t, np.float32).dtype == np.float32  # dtype may be positional


def test_empty_list_index_and_flattening_concatenate():
    t = ag.tensor(np.arange(3.0), requires_grad=True)
    assert t[[]].shape == (0,)
    u = ag.tensor(np.ones((2, 2)), requires_grad=True)
    c = ag.concatenate([t, u], axis=None)
    assert c.shape == (7,)
    (c * np.arange(7.0)).sum().backward()
    np.testing.assert_array_equal(u.grad, [[3.0, 4.0], [5.0, 6.0]])


def test_check_gradients_with_dropout_sees_one_mask():
    def build():
        return nn.Sequential(nn.Dense(4, 8, rng=0), nn.Dropout(0.5, rng=1), nn.Dense(8, 2, rng=2))

    x, y = np.random.default_rng(3).standard_normal((5, 4)), np.zeros((5, 2))
    report = nn.check_gradients(build(), x, y, loss="mse")
    assert report.passed, report
    # the engine column's loss is the one under the first mask drawn (the one the differences
    # used), which is what an identically seeded model's first forward gives
    twin = build().astype(np.float64)
    assert report.loss == pytest.approx(nn.mse_loss(twin(x), y).item(), rel=1e-12)


def test_max_over_nan_sends_the_gradient_to_the_nan():
    x = ag.tensor(np.array([1.0, np.nan, 3.0]), requires_grad=True)
    with np.errstate(invalid="ignore"):
        ag.max(x).backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])


def test_index_arrays_and_clip_bounds_written_after_forward_do_not_change_gradients():
    x = ag.tensor(np.arange(4.0), requires_grad=True)
    idx = np.array([0, 0, 3])
    lo = np.array([0.5, 0.5, 0.5, 0.5])
    y = x[idx].sum() + ag.clip(x, lo, None).sum()
    idx[:] = 1  # the caller reuses its arrays
    lo[:] = 10.0
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 1.0, 1.0, 2.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_exact_and_quiet_in_both_tails(dtype):
    # 1/(1+e^-x) overflows e^-x for x << 0: the result must be the limit 0 with no warning (the
    # suite turns RuntimeWarnings into errors), and both tails keep relative precision
    x = np.array([-1000.0, -100.0, -30.0, -5.0, 0.0, 5.0, 30.0, 100.0, 1000.0], dtype=dtype)
    t = ag.tensor(x, requires_grad=True)
    s = ag.sigmoid(t)
    ag.sum(s).backward()
    xl = x.astype(np.longdouble)
    ref = 1 / (1 + np.exp(-xl))
    dref = np.exp(-np.abs(xl)) / (1 + np.exp(-np.abs(xl))) ** 2
    tiny = np.finfo(dtype).tiny  # below it (subnormals) relative precision is not promised
    for got, want in ((s.data, ref), (t.grad, dref)):
        assert got.dtype == dtype
        normal = want >= tiny
        np.testing.assert_allclose(got[normal], want[normal].astype(np.float64),
                                   rtol=8 * np.finfo(dtype).eps)
        assert np.all(np.abs(got[~normal]) <= tiny)


def test_sigmoid_quiets_only_overflow_and_leaves_the_users_error_state_as_it_was():
    # sigmoid's expected overflow is quiet; every other error setting stays the user's, and the
    # state is exactly restored afterwards (also when the op raises)
    x = ag.tensor(np.array([-200.0, 0.0, 200.0], dtype=np.float32), requires_grad=True)
    before = np.geterr()
    with np.errstate(under="raise"):  # e^{-200} underflows: the user asked for that to raise
        with pytest.raises(FloatingPointError, match="underflow"):
            ag.sigmoid(x)
        assert np.geterr()["under"] == "raise" and np.geterr()["over"] == before["over"]
    with np.errstate(over="raise", under="ignore"):  # the expected overflow is still quiet
        s = ag.sigmoid(x)
        ag.sum(s).backward()
        assert np.geterr() == {**before, "over": "raise", "under": "ignore"}
    np.testing.assert_array_equal(s.data, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(x.grad, [0.0, 0.25, 0.0])
    assert np.geterr() == before


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_avg_pool_keeps_a_non_finite_value_in_its_own_window(bad):
    # Small non-overlapping pools run as one matmul (Note [pooling as a matmul]), where 0 * inf
    # would make the whole row NaN; the result must match the window means exactly as NumPy has
    # them, both ways, with the bad value only where it belongs.
    rng = np.random.default_rng(5)
    a = rng.standard_normal((2, 3, 6, 8)).astype(np.float32)
    a[1, 2, 3, 5] = bad
    with np.errstate(invalid="ignore"):
        expected = a.reshape(2, 3, 3, 2, 4, 2).mean(axis=(3, 5))
        x = ag.tensor(a, requires_grad=True)
        y = ag.avg_pool(x, (2, 2))
        np.testing.assert_allclose(y.data, expected, rtol=1e-6)
        assert np.isfinite(y.data).sum() == y.data.size - 1
        g = np.ones(y.shape, np.float32)
        g[0, 1, 2, 3] = bad
        y.backward(g)
    gx = np.repeat(np.repeat(g, 2, axis=-1), 2, axis=-2) / 4
    np.testing.assert_array_equal(x.grad, gx)
    assert np.isfinite(x.grad).sum() == x.grad.size - 4


# ---- issue #19: four defects found by random graphs -----------------------------------------------


@pytest.mark.parametrize("read", ["x[1:] * w", "x @ W.T", "x.reshape(2, 2) * w2", "broadcast_to"])
def test_a_saved_view_protects_the_array_it_views(read):
    # the write goes through the leaf's own array, not through the view the node saved
    x = ag.tensor(np.array([1.0, 2.0, 3.0, 4.0]), requires_grad=True)
    w = ag.tensor(np.ones(3), requires_grad=True)
    if read == "x[1:] * w":
        loss, expected = (x[1:] * w).sum(), [2.0, 3.0, 4.0]
    elif read == "x @ W.T":
        W = ag.tensor(np.ones((3, 4)), requires_grad=True)
        loss, expected = (W @ x.T).sum(), None
    elif read == "x.reshape(2, 2) * w2":
        w2 = ag.tensor(np.ones((2, 2)), requires_grad=True)
        loss, expected = (x.reshape(2, 2) * w2).sum(), None
    else:
        w3 = ag.tensor(np.ones((3, 4)), requires_grad=True)
        loss, expected = (ag.broadcast_to(x, (3, 4)) * w3).sum(), None
    with pytest.raises(ValueError, match="read-only"):
        x.data[1] = 100.0
    loss.backward()
    if expected is not None:
        np.testing.assert_array_equal(w.grad, expected)  # the forward's values, not the write's
    x.data[1] = 100.0  # released by backward: the user's array is writable again


def test_einsum_with_a_broadcast_size_1_batch_axis():
    a = ag.tensor(np.ones((1, 2, 3)), requires_grad=True)
    b = ag.tensor(np.ones((4, 3, 2)), requires_grad=True)
    ag.einsum("...ij,...jk->...", a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, np.full((1, 2, 3), 8.0))
    np.testing.assert_array_equal(b.grad, np.full((4, 3, 2), 2.0))


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_grad_is_a_writeable_array_of_its_own_after_a_size_1_reduction(reduce):
    x = ag.tensor(np.ones(1), requires_grad=True)
    (getattr(x, reduce)() * 3.0).backward()
    x.grad *= 0.5
    np.testing.assert_array_equal(x.grad, [1.5])
    assert x.grad.base is None and not np.shares_memory(x.grad, x.data)


def test_linear_and_conv2d_follow_numpys_dtype_rule_like_their_spelled_out_forms():
    rng = np.random.default_rng(0)
    x, W, b = (rng.standard_normal(s).astype(np.float32) for s in [(4, 3), (2, 3), (2,)])
    b64 = b.astype(np.float64)
    assert ag.linear(x, W, b64).dtype == (ag.tensor(x) @ ag.tensor(W).T + b64).dtype == np.float64
    assert ag.linear(x, W, b).dtype == np.float32
    xi, K = (rng.standard_normal(s).astype(np.float32) for s in [(1, 2, 4, 4), (2, 2, 3, 3)])
    assert ag.conv2d(xi, K, b64).dtype == np.float64 and ag.conv2d(xi, K, b).dtype == np.float32
    bt = ag.tensor(b64, requires_grad=True)
    ag.linear(ag.tensor(x), ag.tensor(W), bt).sum().backward()
    assert bt.grad.dtype == np.float64

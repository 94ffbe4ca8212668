"""nn.constraints: clipping grads, the lecture's weight constraints ||W_j||_2 <= 1 and |W_lk| <= c.

Singular values are computed here independently (np.linalg.svd of the (n_out, rest) view).
"""

import math

import numpy as np
import pytest

import nn
from nn.constraints import clip_grad_norm, clip_grad_value, clip_weights, constrain_spectral_norm
from nn.optim import SGD, Adam


def sigma_max(w):
    w = np.asarray(w, dtype=np.float64)
    return np.linalg.svd(w.reshape(w.shape[0], -1), compute_uv=False)[0]


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


SHAPES = [(64, 128), (200, 50), (1, 30), (16, 8, 3, 3), (32, 3, 5, 5)]


# ---- spectral norm -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("max_norm", [1.0, 0.5, 3.0])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_spectral_norm_projected_onto_bound(shape, max_norm, dtype):
    rng = np.random.default_rng(1)
    w0 = (10 * rng.standard_normal(shape)).astype(dtype)
    p = nn.Parameter(w0.copy())
    sigma0 = sigma_max(w0)
    assert sigma0 > max_norm
    norms = constrain_spectral_norm([p], max_norm=max_norm)
    assert p.data.dtype == dtype and p.data.shape == shape
    s = sigma_max(p.data)
    assert s <= max_norm + 1e-6
    assert s >= max_norm * (1 - 1e-5)  # scaled onto the bound, not further (e.g. by ||W||_F)
    # one scalar factor: singular vectors kept (the matrix view of a conv kernel is c_out x rest)
    np.testing.assert_allclose(
        p.data, w0 * (max_norm / sigma0), rtol=1e-5 if dtype == np.float32 else 1e-12
    )
    assert norms == [pytest.approx(sigma0, rel=1e-10)]


def test_spectral_norm_leaves_small_matrices_and_biases_bit_for_bit():
    rng = np.random.default_rng(2)
    small = rng.standard_normal((40, 20))
    small *= 0.7 / sigma_max(small)
    small_conv = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    small_conv *= np.float32(0.99 / sigma_max(small_conv))
    big_bias = 100 * rng.standard_normal(40)  # ||b|| >> 1, but 1-D: never touched
    ps = [nn.Parameter(a.copy()) for a in (small, small_conv, big_bias)]
    scalar = nn.Parameter(np.array(50.0))
    norms = constrain_spectral_norm([*ps, scalar])
    for p, a in zip(ps, (small, small_conv, big_bias), strict=True):
        assert same_bits(p.data, a)
    assert scalar.data == 50.0
    assert len(norms) == 2  # only the ndim >= 2 parameters
    assert norms[0] == pytest.approx(0.7) and norms[1] == pytest.approx(0.99, rel=1e-6)


def test_spectral_norm_on_module_scales_matrices_only():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.W = nn.Parameter(5 * np.eye(3))
            self.b = nn.Parameter(5 * np.ones(3))

    m = Net()
    constrain_spectral_norm(m.parameters())
    np.testing.assert_allclose(m.W.data, np.eye(3))
    np.testing.assert_array_equal(m.b.data, 5 * np.ones(3))


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_spectral_norm_validates_max_norm(bad):
    with pytest.raises(ValueError, match="max_norm"):
        constrain_spectral_norm([nn.Parameter(np.eye(2))], max_norm=bad)


# ---- clip_grad_norm ------------------------------------------------------------------------------
def _params_with_grads(scale, dtype=np.float64):
    rng = np.random.default_rng(3)
    shapes = [(5, 4), (4,), (3, 2, 2, 2)]
    ps = [nn.Parameter(rng.standard_normal(s).astype(dtype)) for s in shapes]
    for p in ps:
        p.grad = (scale * rng.standard_normal(p.shape)).astype(dtype)
    no_grad = nn.Parameter(np.ones(3, dtype=dtype))  # .grad is None: ignored
    return ps, no_grad


def _global_norm(grads):
    return math.sqrt(sum(float(np.sum(np.asarray(g, np.float64) ** 2)) for g in grads))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: np.dtype(d).name)
def test_clip_grad_norm_scales_all_grads_by_one_factor(dtype):
    ps, no_grad = _params_with_grads(10.0, dtype)
    before = [p.grad.copy() for p in ps]
    total = _global_norm(before)
    max_norm = 2.0
    returned = clip_grad_norm([*ps, no_grad], max_norm)
    assert isinstance(returned, float)
    assert returned == pytest.approx(total, rel=1e-6)
    assert no_grad.grad is None
    assert _global_norm([p.grad for p in ps]) == pytest.approx(max_norm, rel=1e-5)
    coef = max_norm / (total + 1e-6)  # torch.nn.utils.clip_grad_norm_'s factor
    for p, g in zip(ps, before, strict=True):
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad, g * coef, rtol=1e-6)


def test_clip_grad_norm_leaves_small_grads_bit_for_bit():
    ps, _ = _params_with_grads(0.01)
    before = [p.grad.copy() for p in ps]
    total = clip_grad_norm(ps, max_norm=1.0)
    assert total == pytest.approx(_global_norm(before), rel=1e-12)
    for p, g in zip(ps, before, strict=True):
        assert same_bits(p.grad, g)


def test_clip_grad_norm_uses_torchs_epsilon():
    """coef = max_norm / (total + 1e-6): visible when the norm itself is tiny."""
    p = nn.Parameter(np.zeros(2))
    p.grad = np.array([3e-6, 4e-6])  # total 5e-6
    assert clip_grad_norm([p], 1e-6) == pytest.approx(5e-6, rel=1e-12)
    np.testing.assert_allclose(p.grad, np.array([3e-6, 4e-6]) / 6, rtol=1e-12)


def test_clip_grad_norm_edge_cases():
    assert clip_grad_norm([nn.Parameter(np.ones(2))], 1.0) == 0.0  # no grads at all
    p = nn.Parameter(np.zeros(2))
    p.grad = np.array([3.0, 4.0])
    assert clip_grad_norm(p, 5.0 + 1e-3) == 5.0  # a single Tensor is accepted; not clipped
    np.testing.assert_array_equal(p.grad, [3.0, 4.0])
    p.grad = np.array([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        clip_grad_norm([p], 1.0, error_if_nonfinite=True)
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match="max_norm"):
            clip_grad_norm([p], bad)


# ---- clip_grad_value, clip_weights ---------------------------------------------------------------
def test_clip_grad_value_bounds_and_only_params_passed():
    rng = np.random.default_rng(4)
    a0 = 3 * rng.standard_normal((4, 5))
    a, b = nn.Parameter(a0.copy()), nn.Parameter(np.zeros(5))
    ga, gb = 3 * rng.standard_normal((4, 5)), 3 * rng.standard_normal(5)
    a.grad, b.grad = ga.copy(), gb.copy()
    c = 0.5
    clip_grad_value([a], c)
    np.testing.assert_array_equal(a.grad, np.where(ga > c, c, np.where(ga < -c, -c, ga)))
    assert np.abs(a.grad).max() <= c and (np.abs(ga) > c).any()
    assert same_bits(b.grad, gb)
    assert same_bits(a.data, a0)  # the weights themselves are not clipped
    with pytest.raises(ValueError, match="c"):
        clip_grad_value([a], 0.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: np.dtype(d).name)
def test_clip_weights_bounds_and_only_params_passed(dtype):
    rng = np.random.default_rng(5)
    w0, b0 = (
        (3 * rng.standard_normal((6, 7))).astype(dtype),
        (3 * rng.standard_normal(6)).astype(dtype),
    )
    W, b = nn.Parameter(w0.copy()), nn.Parameter(b0.copy())
    clip_weights([W], 1.0)
    assert W.data.dtype == dtype
    assert np.abs(W.data).max() <= 1.0
    inside = np.abs(w0) <= 1.0
    np.testing.assert_array_equal(W.data[inside], w0[inside])  # entries within the bound kept
    np.testing.assert_array_equal(W.data[~inside], np.sign(w0[~inside]))
    assert same_bits(b.data, b0)  # not passed: untouched
    with pytest.raises(ValueError, match="c"):
        clip_weights([W], -1.0)


# ---- Note [saved arrays are read-only]: rebind, never write in place -----------------------------
UPDATES = {
    "constrain_spectral_norm": lambda p: constrain_spectral_norm([p], 1.0),
    "clip_weights": lambda p: clip_weights([p], 0.5),
    "sgd": lambda p: SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1).step(),
    "adam": lambda p: Adam([p], lr=0.1, weight_decay=0.1).step(),
}


@pytest.mark.parametrize("name", UPDATES)
def test_updates_work_while_a_graph_holds_the_parameter(name):
    x0 = 3 * np.random.default_rng(6).standard_normal((5, 4))
    p = nn.Parameter(x0.copy())
    p.grad = np.ones_like(x0)
    loss = (p * p).sum()  # recorded, no backward yet: the node saved p.data (now read-only)
    assert not p.data.flags.writeable, "engine no longer locks saved arrays: test is moot"
    UPDATES[name](p)
    assert not np.array_equal(p.data, x0), "the update did nothing"
    p.grad = None
    loss.backward()
    np.testing.assert_allclose(p.grad, 2 * x0, rtol=1e-12)  # gradient at the OLD value


def test_grad_clipping_works_on_grads_from_a_live_graph():
    x0 = 3 * np.random.default_rng(7).standard_normal((5, 4))
    p = nn.Parameter(x0.copy())
    (p * p).sum().backward()
    keep = (p * p).sum()  # a second, live graph
    clip_grad_norm([p], 1.0)
    clip_grad_value([p], 0.1)
    assert np.abs(p.grad).max() <= 0.1
    p.grad = None
    keep.backward()
    np.testing.assert_allclose(p.grad, 2 * x0)

"""Dropout and StochasticDepth: drop frequencies (binomial, 6σ margins), scaling rules in train
and eval for both modes, gradients through the masks, bad p, reproducible seeding."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn

SHAPE = (1000, 100)  # 100k units


def six_sigma(p: float, n: int) -> float:
    return 6 * np.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("mode", ["inverted", "classic"])
def test_fraction_dropped_matches_p(p, mode):
    x = ag.tensor(np.ones(SHAPE))
    out = nn.Dropout(p, mode=mode, rng=0)(x).data
    frac = np.mean(out == 0)
    assert abs(frac - p) < six_sigma(p, out.size), frac
    kept = out[out != 0]
    # inverted: kept units are scaled by 1/(1 − p); classic: kept as they are
    np.testing.assert_allclose(kept, 1 / (1 - p) if mode == "inverted" else 1.0, rtol=1e-15)


@pytest.mark.parametrize("p", [0.2, 0.7])
def test_inverted_mode_keeps_the_mean_and_is_the_identity_in_eval(p):
    x = np.random.default_rng(1).uniform(1, 2, size=SHAPE)
    drop = nn.Dropout(p, rng=0)
    train_out = drop(ag.tensor(x)).data
    # E[out_i] = x_i and Var[out_i] = x_i² p/(1 − p), so the mean is within 6 sd of x's mean
    sd = np.sqrt(np.sum(x**2) * p / (1 - p)) / x.size
    assert abs(train_out.mean() - x.mean()) < 6 * sd
    drop.eval()
    xt = ag.tensor(x)
    np.testing.assert_array_equal(drop(xt).data, x)


def test_classic_mode_scales_by_keep_probability_in_eval():
    p = 0.3
    x = np.random.default_rng(2).standard_normal((50, 20))
    drop = nn.Dropout(p, mode="classic", rng=0)
    out = drop(ag.tensor(x)).data
    assert np.all((out == 0) | (out == x))  # unscaled in training
    drop.eval()
    np.testing.assert_allclose(drop(ag.tensor(x)).data, (1 - p) * x, rtol=1e-15)
    drop.train()
    assert np.any(drop(ag.tensor(x)).data == 0)  # back to dropping


@pytest.mark.parametrize("mode", ["inverted", "classic"])
def test_gradient_flows_through_the_mask(mode):
    p = 0.4
    x = ag.tensor(np.random.default_rng(3).uniform(1, 2, size=(40, 30)), requires_grad=True)
    out = nn.Dropout(p, mode=mode, rng=5)(x)
    out.sum().backward()
    scale = 1 / (1 - p) if mode == "inverted" else 1.0
    np.testing.assert_allclose(x.grad, (out.data != 0) * scale, rtol=1e-15)


def test_dtype_is_kept_and_masks_are_fresh_each_call():
    drop = nn.Dropout(0.5, rng=0)
    x = ag.tensor(np.ones((20, 20), dtype=np.float32))
    a, b = drop(x), drop(x)
    assert a.dtype == np.float32
    assert not np.array_equal(a.data, b.data)


def test_seeded_rng_gives_reproducible_masks():
    x = ag.tensor(np.ones((30, 30)))
    np.testing.assert_array_equal(nn.Dropout(0.5, rng=4)(x).data, nn.Dropout(0.5, rng=4)(x).data)
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    np.testing.assert_array_equal(nn.Dropout(0.5, rng=g1)(x).data, nn.Dropout(0.5, rng=g2)(x).data)
    assert not np.array_equal(nn.Dropout(0.5, rng=4)(x).data, nn.Dropout(0.5, rng=5)(x).data)


def test_p_zero_is_the_identity():
    x = np.random.default_rng(0).standard_normal((5, 5))
    for mode in ("inverted", "classic"):
        drop = nn.Dropout(0.0, mode=mode)
        np.testing.assert_array_equal(drop(ag.tensor(x)).data, x)
        np.testing.assert_array_equal(drop.eval()(ag.tensor(x)).data, x)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, float("nan")])
def test_bad_p_raises(p):
    with pytest.raises(ValueError, match=r"Dropout: drop probability p must be in \[0, 1\)"):
        nn.Dropout(p)


def test_bad_mode_raises():
    with pytest.raises(ValueError, match="mode must be 'inverted' or 'classic'"):
        nn.Dropout(0.5, mode="scaled")


# ---------------------------------------------------------------- StochasticDepth


def _block(rng):
    # float64, the data's dtype: a model casts its input to its parameters' dtype
    return nn.Sequential(nn.Dense(4, 4, rng=rng), nn.ELU()).astype(np.float64)


def test_stochastic_depth_drops_the_whole_branch_with_frequency_p():
    p, trials = 0.3, 2000
    rng = np.random.default_rng(0)
    layer = nn.StochasticDepth(_block(rng), p, rng=1)
    z = ag.tensor(rng.standard_normal((6, 4)))
    full = (z + layer.block(z)).data
    dropped = 0
    for _ in range(trials):
        out = layer(z).data
        if np.array_equal(out, z.data):
            dropped += 1
        else:
            np.testing.assert_array_equal(out, full)  # all or nothing: never a partial branch
    assert abs(dropped / trials - p) < six_sigma(p, trials), dropped


def test_stochastic_depth_gradients_and_eval_rule():
    p = 0.25
    rng = np.random.default_rng(1)
    layer = nn.StochasticDepth(_block(rng), p, rng=3)
    z = rng.standard_normal((5, 4))
    seen = set()
    for _ in range(40):
        layer.zero_grad()
        zt = ag.tensor(z, requires_grad=True)
        out = layer(zt)
        out.sum().backward()
        W = layer.block[0].W
        if np.array_equal(out.data, z):
            seen.add("dropped")
            assert W.grad is None  # the branch was not run
            np.testing.assert_array_equal(zt.grad, np.ones_like(z))
        else:
            seen.add("kept")
            assert W.grad is not None and np.any(W.grad != 0)
    assert seen == {"dropped", "kept"}
    layer.eval()
    expected = z + (1 - p) * layer.block(ag.tensor(z)).data
    np.testing.assert_allclose(layer(ag.tensor(z)).data, expected, rtol=1e-15)
    # eval is deterministic and is what gradcheck sees
    assert ag.gradcheck(lambda a: layer(a), [z], raise_on_fail=False).passed


def test_stochastic_depth_seeding_and_bad_p():
    rng = np.random.default_rng(2)
    block = _block(rng)
    z = ag.tensor(rng.standard_normal((2, 4)))

    def pattern(seed):
        layer = nn.StochasticDepth(block, 0.5, rng=seed)
        return [np.array_equal(layer(z).data, z.data) for _ in range(50)]

    assert pattern(7) == pattern(7)
    assert pattern(7) != pattern(8)
    never = nn.StochasticDepth(block, 0.0, rng=0)
    assert not any(np.array_equal(never(z).data, z.data) for _ in range(20))
    always = nn.StochasticDepth(block, 1.0, rng=0)
    assert all(np.array_equal(always(z).data, z.data) for _ in range(20))
    for p in (-0.1, 1.1):
        with pytest.raises(
            ValueError, match=r"StochasticDepth: drop probability p must be in \[0, 1\]"
        ):
            nn.StochasticDepth(block, p)

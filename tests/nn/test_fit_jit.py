"""fit(jit=True): the same training as without it: bit for bit with the plain NumPy replay, to
float32 rounding where numba fuses runs of elementwise calls (Note [fusion]; docs/jit.md)."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn
from autograd_core.tracing import fusion
from nn.optim import SGD, Adam


def _same(a, b, err_msg=""):
    if fusion.available():  # the kernels' exp/tanh are the C library's: a few float32 ulps a step
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6, err_msg=err_msg)
    else:
        np.testing.assert_array_equal(a, b, err_msg=err_msg)


def _data(n=150, d=12, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = (x[:, :k].argmax(axis=1) + (x[:, -1] > 1)) % k
    return x, y


def _train(make, jit, **kw):
    model, opt = make()
    x, y = _data()
    history = nn.fit(model, x, y, optimizer=opt, epochs=3, batch_size=32, rng=0, progress=False,
                     quiet=True, jit=jit, **kw)
    return model, history


@pytest.mark.parametrize("name, make", [
    ("mlp_sgd", lambda: (m := nn.MLP([12, 16, 3], activation="sigmoid", rng=0),
                         SGD(m.parameters(), lr=0.1, momentum=0.9))),
    ("residual_dropout_adam", lambda: (m := nn.Sequential(nn.Dense(12, 16, rng=0), nn.ReLU(),
                                                          nn.Dropout(0.2, rng=1), nn.Dense(16, 3, rng=2)),
                                       Adam(m.parameters(), lr=1e-2))),
])
def test_fit_with_jit_trains_exactly_as_without(name, make):
    eager, h1 = _train(make, jit=False, val_split=0.2, lr_schedule=lambda e: 0.05 / (e + 1))
    jitted, h2 = _train(make, jit=True, val_split=0.2, lr_schedule=lambda e: 0.05 / (e + 1))
    for (n, a), (_, b) in zip(eager.named_parameters(), jitted.named_parameters(), strict=True):
        _same(a.data, b.data, err_msg=n)
    _same(h1.loss, h2.loss)
    _same(h1.val_loss, h2.val_loss)


def test_fit_with_jit_and_augmentation_and_regularization():
    def make():
        m = nn.MLP([12, 8, 3], rng=0)
        return m, SGD(m.parameters(), lr=0.05)

    def shift(xb, rng):
        return xb + rng.normal(0, 0.1, xb.shape).astype(xb.dtype)

    eager, _ = _train(make, jit=False, augment=shift, regularization=1e-3)
    jitted, _ = _train(make, jit=True, augment=shift, regularization=1e-3)
    for a, b in zip(eager.parameters(), jitted.parameters(), strict=True):
        _same(a.data, b.data)


def test_fit_with_jit_names_a_non_finite_loss_before_the_step():
    model = nn.MLP([12, 8, 3], rng=0)
    model.parameters()[0].data[0, 0] = np.inf
    before = [p.data.copy() for p in model.parameters()]
    x, y = _data()
    with pytest.raises(FloatingPointError, match="hold NaN/Inf"):
        nn.fit(model, x, y, optimizer=SGD(model.parameters(), lr=0.1), epochs=1, progress=False,
               quiet=True, jit=True)
    for a, b in zip(before, model.parameters(), strict=True):
        np.testing.assert_array_equal(a, b.data)
    assert ag.jit  # (the public name the option uses)

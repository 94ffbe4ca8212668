"""The mission's core check: the engine's gradients of nn models equal the lecture's hand-derived
backpropagation (`nn.reference.backprop`, plain NumPy) in float64 to rtol 1e-9, for MLPs of
depth 1–6 and residual networks (the lecture's, residual from the first layer on, and
ResidualMLP's, with a plain input projection) × every activation × both losses × all three
reductions."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn
from nn import reference

ACTIVATIONS = ["sigmoid", "relu", "leaky_relu", "elu", "selu"]
LOSSES = ["mse", "cross_entropy"]
REDUCTIONS = ["mean", "sum", "none"]
N = 7
WIDTHS = [4, 5, 3, 6, 4, 5, 3]  # n_in, hidden widths..., enough for depth 6
RTOL = 1e-9


@pytest.fixture(autouse=True)
def float64():
    old = ag.get_default_dtype()
    ag.set_default_dtype(np.float64)
    yield
    ag.set_default_dtype(old)


def dense_layers(model: nn.Module) -> list[nn.Dense]:
    return [m for m in model.modules() if isinstance(m, nn.Dense)]


def lecture_residual_net(width: int, n_layers: int, n_out: int, activation: str,
                         rng: np.random.Generator) -> nn.Module:
    """The lecture's residual network z_{j+1} = z_j + σ(W_j z_j + b_j), j = 1..n−1, z_1 = x, then
    u = W_n z_n + b_n, built from nn's blocks."""
    blocks = [nn.Residual(nn.Sequential(nn.Dense(width, width, rng=rng), _act(activation)))
              for _ in range(n_layers - 1)]
    return nn.Sequential(*blocks, nn.Dense(width, n_out, rng=rng))


def _act(name: str) -> nn.Module:
    return {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU,
            "selu": nn.SELU}[name]()


def randomize_biases(model: nn.Module, rng: np.random.Generator) -> None:
    for layer in dense_layers(model):  # biases start at zero; random ones exercise db fully
        layer.b.data = rng.standard_normal(layer.b.shape) * 0.5


def targets(loss: str, n_out: int, rng: np.random.Generator, soft: bool = False) -> np.ndarray:
    if loss == "mse":
        return rng.standard_normal((N, n_out))
    if soft:
        return rng.uniform(0, 1, size=(N, n_out))
    return rng.integers(0, n_out, size=N)


def engine_loss(model, x, y, loss, reduction):
    fn = nn.mse_loss if loss == "mse" else nn.cross_entropy
    return fn(model(ag.tensor(x)), y, reduction=reduction)


def assert_engine_matches_reference(model, x, y, activation, loss, reduction, residual):
    model.zero_grad()
    out = engine_loss(model, x, y, loss, reduction)
    # reduction="none": the reference returns the gradient of the SUM of per-sample losses
    out.backward(np.ones(out.shape) if reduction == "none" else None)
    layers = dense_layers(model)
    Ws, bs = [d.W.data for d in layers], [d.b.data for d in layers]
    # residual: False, "lecture" (z_1 = x, every layer but the last residual) or "projection"
    # (ResidualMLP: a plain first layer)
    ref_loss, dWs, dbs = reference.backprop(
        Ws, bs, x, y, activation=activation, loss=loss, reduction=reduction,
        residual=bool(residual), input_projection=residual == "projection"
    )
    np.testing.assert_allclose(out.data, ref_loss, rtol=RTOL, atol=0)
    assert len(layers) == len(dWs)
    for j, (layer, dW, db) in enumerate(zip(layers, dWs, dbs, strict=True)):
        # atol: gradient entries that are 0 up to rounding (e.g. dead ReLU units)
        scale = max(np.abs(dW).max(), np.abs(db).max(), 1e-300)
        np.testing.assert_allclose(
            layer.W.grad, dW, rtol=RTOL, atol=1e-13 * scale, err_msg=f"dW of layer {j}"
        )
        np.testing.assert_allclose(
            layer.b.grad, db, rtol=RTOL, atol=1e-13 * scale, err_msg=f"db of layer {j}"
        )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("depth", range(1, 7))
def test_mlp_gradients_equal_reference_backprop(depth, activation, loss, reduction):
    rng = np.random.default_rng(depth * 1000 + 17)
    sizes = WIDTHS[: depth + 1]
    model = nn.MLP(sizes, activation=activation, rng=rng)
    randomize_biases(model, rng)
    x = rng.standard_normal((N, sizes[0]))
    y = targets(loss, sizes[-1], rng)
    assert_engine_matches_reference(model, x, y, activation, loss, reduction, residual=False)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("depth", range(0, 4))
def test_residual_mlp_gradients_equal_reference_backprop(depth, activation, loss, reduction):
    rng = np.random.default_rng(depth * 1000 + 29)
    model = nn.ResidualMLP(4, 5, depth, 3, activation=activation, rng=rng)
    randomize_biases(model, rng)
    x = rng.standard_normal((N, 4))
    y = targets(loss, 3, rng)
    assert_engine_matches_reference(model, x, y, activation, loss, reduction, residual="projection")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("n_layers", range(1, 5))
def test_lecture_residual_net_gradients_equal_reference_backprop(n_layers, activation, loss,
                                                                 reduction):
    """residual=True is the lecture's network as written: every layer but the last is residual."""
    rng = np.random.default_rng(n_layers * 1000 + 31)
    model = lecture_residual_net(4, n_layers, 3, activation, rng)
    randomize_biases(model, rng)
    x = rng.standard_normal((N, 4))
    y = targets(loss, 3, rng)
    assert_engine_matches_reference(model, x, y, activation, loss, reduction, residual="lecture")


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_cross_entropy_rows_equal_reference(residual, reduction):
    rng = np.random.default_rng(5)
    model = (
        nn.ResidualMLP(4, 5, 2, 3, "elu", rng=rng)
        if residual
        else nn.MLP([4, 6, 3], "elu", rng=rng)
    )
    randomize_biases(model, rng)
    x = rng.standard_normal((N, 4))
    y = targets("cross_entropy", 3, rng, soft=True)  # rows not summing to 1 keep the m(1 − Σy) term
    assert_engine_matches_reference(model, x, y, "elu", "cross_entropy", reduction,
                                    "projection" if residual else False)


def test_a_single_dense_layer_equals_reference():
    rng = np.random.default_rng(6)
    layer = nn.Dense(4, 3, rng=rng)
    layer.b.data = rng.standard_normal(3)
    x, y = rng.standard_normal((N, 4)), rng.standard_normal((N, 3))
    loss = nn.mse_loss(layer(ag.tensor(x)), y)
    loss.backward()
    ref_loss, (dW,), (db,) = reference.backprop([layer.W.data], [layer.b.data], x, y, loss="mse")
    np.testing.assert_allclose(loss.data, ref_loss, rtol=RTOL)
    np.testing.assert_allclose(layer.W.grad, dW, rtol=RTOL)
    np.testing.assert_allclose(layer.b.grad, db, rtol=RTOL)


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu", "selu"])
def test_kink_conventions_agree_exactly_at_zero(activation, residual):
    """Zero biases and an all-zero sample make every pre-activation of that sample exactly 0
    (σ(0) = 0 for these activations), so relu'(0) etc. enter the gradient: the engine's
    subgradients must be the reference's (the u <= 0 branch)."""
    rng = np.random.default_rng(7)
    if residual:
        model = nn.ResidualMLP(4, 5, 2, 3, activation, rng=rng)
    else:
        model = nn.MLP([4, 5, 5, 3], activation, rng=rng)  # biases are zero at init
    x = rng.standard_normal((N, 4))
    x[2] = 0.0
    y = rng.standard_normal((N, 3))
    for layer in dense_layers(model)[:-1]:  # check the premise: the kink is really hit
        assert np.all(layer(ag.tensor(np.zeros((1, layer.n_in)))).data == 0)
    assert_engine_matches_reference(model, x, y, activation, "mse", "sum",
                                    "projection" if residual else False)

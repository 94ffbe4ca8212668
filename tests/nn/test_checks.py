"""nn.check_gradients: the three-way check finds what is wrong, and nothing when nothing is."""

import numpy as np
import pytest

import autograd_core as ag
import nn


@ag.primitive
def planted(x):
    return np.tanh(x)


@planted.defvjp
def planted_vjp(g, ans, x):
    return (g * (1 - ans * ans) * 1.01,)  # a 1% error, as a hand-written layer might have


class BadTanh(nn.Module):
    def forward(self, x):
        return planted(x)  # the forward line a report must cite


def _data(rng, n=6, d=4, k=3):
    return rng.standard_normal((n, d)), rng.integers(0, k, n)


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "leaky_relu", "elu", "selu"])
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_mlp_passes_three_ways(activation, loss, rng):
    model = nn.MLP([4, 5, 5, 3], activation=activation, rng=1)
    x, labels = _data(rng)
    y = labels if loss == "cross_entropy" else rng.standard_normal((6, 3))
    report = nn.check_gradients(model, x, y, loss=loss)
    assert report.passed, report
    assert report.has_reference and all(r.ref_passed for r in report.rows)
    assert report.first_divergent_layer is None
    assert [r.name for r in report.rows] == [n for n, _ in model.named_parameters()]


def test_residual_mlp_has_reference_column(rng):
    model = nn.ResidualMLP(4, 6, 3, 3, activation="elu", rng=2)
    x, y = _data(rng)
    report = nn.check_gradients(model, x, y, loss="cross_entropy", reduction="sum")
    assert report.passed and report.has_reference, report
    assert all(r.ref_max_abs_err is not None and r.ref_max_abs_err < 1e-9 for r in report.rows)


def test_planted_error_is_named_to_its_layer_node_and_line(rng):
    model = nn.Sequential(nn.Dense(4, 5, rng=0), BadTanh(), nn.Dense(5, 3, rng=1))
    x, y = _data(rng)
    report = nn.check_gradients(model, x, y, loss="cross_entropy")
    assert not report.passed
    assert not report.has_reference  # a Sequential has no hand-derived counterpart
    assert report.first_divergent_layer == "1"
    bad = report.first_bad_node
    assert bad.op == "planted" and bad.module == "1"
    line = next(i for i, text in enumerate(open(__file__), 1) if "the forward line a report" in text)
    assert bad.source == f"{__file__}:{line}", bad.source
    # the layer after the bad one is right; the one before inherits the error
    ok = {r.name: r.passed for r in report.rows}
    assert ok["2.W"] and ok["2.b"] and not ok["0.W"]
    assert "first layer where the gradients diverge: 1" in str(report)


def test_wrong_layer_inside_an_mlp_is_found(rng):
    model = nn.MLP([4, 5, 5, 3], activation="relu", rng=3)
    model.layers = nn.Sequential(*list(model.layers)[:3], BadTanh(), *list(model.layers)[4:])
    x, y = _data(rng)
    report = nn.check_gradients(model, x, y, loss="cross_entropy")
    assert not report.passed and report.first_divergent_layer == "layers.3"


def test_dropout_in_train_mode_gives_no_false_failure(rng):
    model = nn.Sequential(nn.Dense(4, 8, rng=0), nn.ReLU(), nn.Dropout(0.5, rng=1), nn.Dense(8, 3, rng=2))
    model.train()
    x, y = _data(rng)
    report = nn.check_gradients(model, x, y, loss="cross_entropy")
    assert report.passed, report


def test_relu_kink_gives_no_false_failure():
    model = nn.MLP([2, 3, 1], activation="relu", rng=0)
    model.layers[0].W.data = np.zeros((3, 2), np.float32)  # every hidden pre-activation is exactly 0
    model.layers[0].b.data = np.zeros(3, np.float32)
    x = np.array([[1.0, -1.0], [0.5, 2.0]])
    report = nn.check_gradients(model, x, np.zeros((2, 1)), loss="mse")
    assert report.passed, report


def test_model_is_left_as_it_was(rng):
    model = nn.MLP([4, 5, 3], rng=0)
    before = {n: (p.data, p.data.copy()) for n, p in model.named_parameters()}
    model.layers[0].W.grad = np.ones((5, 4), np.float32)
    x, y = _data(rng)
    nn.check_gradients(model, x, y, loss="cross_entropy")
    for n, p in model.named_parameters():
        assert p.data is before[n][0] and p.dtype == np.float32
        np.testing.assert_array_equal(p.data, before[n][1])
    np.testing.assert_array_equal(model.layers[0].W.grad, 1.0)
    assert model.layers[2].W.grad is None


def test_bad_arguments_are_refused(rng):
    model = nn.MLP([4, 3])
    x, y = _data(rng)
    with pytest.raises(ValueError, match="loss must be"):
        nn.check_gradients(model, x, y, loss="hinge")
    with pytest.raises(ValueError, match="reduction='none'"):
        nn.check_gradients(model, x, y, loss="cross_entropy", reduction="none")


def test_bad_node_is_highlighted_in_a_fresh_picture(rng):
    model = nn.Sequential(nn.Dense(4, 5, rng=0), BadTanh(), nn.Dense(5, 3, rng=1))
    x, y = _data(rng)
    report = nn.check_gradients(model, x, y, loss="cross_entropy")
    assert any(n.startswith("0.W:") for n in report.notes), report.notes  # hints name parameters
    loss = nn.cross_entropy(model(x), y)
    source = ag.viz.draw_graph(loss, params=model, highlight=report.first_bad_node).source
    red = [line for line in source.splitlines() if "planted" in line and ag.viz._HIGHLIGHT in line]
    assert len(red) == 1, source
    assert "not in this graph" not in source

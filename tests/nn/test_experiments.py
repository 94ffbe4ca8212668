"""The lecture's claims, each asserted by its experiment on a small, seeded size.

Each test runs the experiment's own code (``nn.experiments.NAME.run``) with small sizes and
checks the claim with a margin; the printed tables and plots come from the same functions.
"""

import importlib.util

import numpy as np
import pytest

import autograd_core as ag
import nn
from nn.experiments import (
    _common,
    depth,
    exploding,
    features,
    overparameterization,
    regularization,
    vanishing,
)
from nn.experiments.__main__ import main


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread():
    """Small matrices: one BLAS thread is faster, and much faster on a busy machine."""
    with _common.single_threaded_blas():
        yield


# the digits ship with scikit-learn (the "test" extra)
needs_sklearn = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None,
                                   reason="the digits come from scikit-learn")


# ---- vanishing -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def vanishing_result():
    return vanishing.run(quick=True, n=20, p=16, n_samples=8)


def test_sigmoid_deltas_obey_the_lecture_bound(vanishing_result):
    """‖W_j‖₂ = 1, sigmoid: every ‖δ_j‖ ≤ 0.25^(#sigmoid layers between z_j and the loss)·C."""
    d, n = vanishing_result.data, vanishing_result.data["n"]
    # lecture's model (affine last layer): the bound 0.25^(n−j)·C, per sample and layer
    assert np.all(d["ratio_proved"] <= 1 + 1e-9), d["ratio_proved"].max()
    # with a sigmoid on the output too, the lecture's formula 0.25^(n−j+1)·C as written
    assert np.all(d["ratio_lecture_sigmoid_out"] <= 1 + 1e-9), d["ratio_lecture_sigmoid_out"].max()
    # and it is not vacuous: δ_1 really is tiny, far below C
    assert np.all(d["spectral"]["sigmoid"][0] < 0.25 ** (n - 1) * d["spectral"]["sigmoid"][-1])


def test_sigmoid_first_layer_delta_is_orders_of_magnitude_below_relu(vanishing_result):
    d = vanishing_result.data["spectral"]
    sig = d["sigmoid"][0] / d["sigmoid"][-1]
    relu = d["relu"][0] / d["relu"][-1]
    assert np.median(relu) > 1e4 * np.median(sig)
    # and with a variance-preserving (He) init ReLU keeps δ_1 of the order of C
    v = vanishing_result.data["variance"]
    assert np.median(v["relu"][0] / v["relu"][-1]) > 1e-2


def test_deltas_from_the_engine_match_the_lecture_recursion(rng):
    """δ_j = ∂L/∂z_j from tape.gradient equals δ_j = W_jᵀ(δ_{j+1} ⊙ σ'(v_j)) in NumPy."""
    n, p = 5, 6
    model = _common.set_weights(nn.MLP([p] * n + [3], activation="sigmoid", rng=0),
                                lambda s, r: nn.init.spectral_normal(s, rng=r, dtype=np.float64),
                                rng, bias=lambda s, r: r.standard_normal(s))
    x, y = rng.standard_normal((4, p)), rng.standard_normal((4, 3))
    zs, deltas = _common.states_and_deltas(_common.layer_maps(model), x, y)
    Ws = [L.W.data for L in _common.dense_layers(model)]
    bs = [L.b.data for L in _common.dense_layers(model)]
    delta = zs[-1] - y  # δ_{n+1} of ½‖u − y‖² (summed over samples: one row per sample)
    np.testing.assert_allclose(deltas[-1], delta, rtol=1e-12)
    for j in reversed(range(n)):
        v = zs[j] @ Ws[j].T + bs[j]
        s = 1 / (1 + np.exp(-v))
        slope = np.ones_like(v) if j == n - 1 else s * (1 - s)
        delta = (delta * slope) @ Ws[j]
        np.testing.assert_allclose(deltas[j], delta, rtol=1e-10, atol=1e-300)


# ---- exploding -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def exploding_result():
    return exploding.run(quick=True, n=10, p=16, n_samples=16)


def test_constrained_net_obeys_both_bounds_layer_by_layer(exploding_result):
    d = exploding_result.data
    assert max(d["W_norms"]) <= 1 + 1e-9
    assert max(d["b_norms"]) <= d["d"] + 1e-12
    z, dl = d["z"]["constrained"], d["delta"]["constrained"]
    # ‖z_{j+1}‖ ≤ ‖z_j‖ + d and ‖δ_j‖ ≤ ‖δ_{j+1}‖ for every layer j and every sample
    assert np.all(z[1:] <= z[:-1] + d["d"] + 1e-9 * (1 + z[:-1]))
    assert np.all(dl[:-1] <= dl[1:] * (1 + 1e-9))


def test_large_init_makes_deltas_grow_toward_the_input(exploding_result):
    d = exploding_result.data
    n = d["n"]
    dl = np.median(d["delta"]["3×He"], axis=1)
    assert dl[0] / dl[-1] > 2.0 ** n  # ≈ 3 per layer
    assert np.mean(np.diff(np.log(dl)) < 0) > 0.8  # grows at (almost) every layer toward j = 1
    # plain SGD from there overflows; clipping the gradient keeps every loss finite
    clip = d["clipping"]
    assert not np.isfinite(clip["SGD"][-1])
    assert all(np.all(np.isfinite(v)) for k, v in clip.items() if k != "SGD")


# ---- depth ---------------------------------------------------------------------------------------

def test_deeper_plain_nets_train_worse_residual_nets_do_not():
    r = depth.run(depths=[2, 16], epochs=12, inits=("near-zero",))
    f = r.data["final"]
    plain_2, plain_16 = f[("near-zero", "plain", 2)], f[("near-zero", "plain", 16)]
    res_2, res_16 = f[("near-zero", "residual", 2)], f[("near-zero", "residual", 16)]
    assert plain_16 > 2 * plain_2, (plain_2, plain_16)
    assert res_16 < 0.5 * plain_16, (res_16, plain_16)
    assert res_16 - res_2 < 0.25 * (plain_16 - plain_2), (res_2, res_16, plain_2, plain_16)


# ---- regularization ------------------------------------------------------------------------------

@needs_sklearn
def test_regularization_shrinks_the_train_test_gap():
    r = regularization.run(epochs=80, seeds=1, methods=("none", "Tikhonov", "dropout"),
                           label_noises=(0.2,))
    m = r.data["regimes"]["20% labels flipped"]
    assert m["none"]["train_acc"] > 0.95  # the unregularized net memorizes the flipped labels
    best = min(m["Tikhonov"]["acc_gap"], m["dropout"]["acc_gap"])
    assert best < m["none"]["acc_gap"] - 0.05, m
    assert m["Tikhonov"]["loss_gap"] < 0.8 * m["none"]["loss_gap"], m


# ---- overparameterization ------------------------------------------------------------------------

@pytest.mark.parametrize("n,p", [(1, 5), (3, 8), (6, 4)])
def test_square_mlp_has_p2n_weights_and_pn_biases(n, p):
    weights, biases = _common.count_parameters(nn.MLP([p] * (n + 1)))
    assert (weights, biases) == (p * p * n, p * n)


def test_counts_of_the_experiment_models_equal_the_formulas():
    r = overparameterization.run()
    for row in r.data["rows"]:
        assert row["weights"] == row["formula_weights"], row
        assert row["biases"] == row["formula_biases"], row
        if row["square"]:
            p, n = row["p"], row["n"]
            assert (row["weights"], row["biases"]) == (p * p * n, p * n)
    assert _common.count_parameters(nn.ResidualMLP(3, 7, 4, 2)) == (3 * 7 + 4 * 49 + 7 * 2,
                                                                    7 + 4 * 7 + 2)


# ---- features ------------------------------------------------------------------------------------

@needs_sklearn
def test_learned_features_beat_fixed_random_features():
    r = features.run(width=32, n_train=400, steps=60)
    fixed, learned = r.data["fixed"]["history"], r.data["learned"]["history"]
    assert learned[-1] < 0.5 * fixed[-1], (learned[-1], fixed[-1])
    # the convex fixed-feature problem, gradient descent with step 1/L: monotone decrease
    assert np.all(np.diff(fixed) <= 1e-12 * np.abs(fixed[:-1]))
    assert fixed[-1] < fixed[0]
    # on the segment between two solutions the convex loss stays on or below the chord
    assert r.data["fixed"]["bump"] <= 1e-9 * fixed[-1]


# ---- the command line and the plots --------------------------------------------------------------

def test_command_line_prints_the_table(capsys):
    assert main(["overparameterization", "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "square MLP, n=8, p=64" in out and "32,768" in out


def test_unknown_experiment_is_refused():
    with pytest.raises(ValueError, match="valid: vanishing"):
        nn.experiments.get("nope")
    with pytest.raises(SystemExit):
        main(["nope"])


def test_plots_are_written(tmp_path, vanishing_result, exploding_result):
    pytest.importorskip("matplotlib")
    paths = [vanishing.plot(vanishing_result, tmp_path / "v.png"),
             exploding.plot(exploding_result, tmp_path / "e.png"),
             overparameterization.plot(overparameterization.run(), tmp_path / "o.png")]
    for path in paths:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_experiments_use_only_the_public_engine_api():
    """Like the rest of nn: the engine is reached only as `ag.<public name>`."""
    import ast
    import pathlib

    public = set(ag.__all__) | {"Tensor"}
    for path in pathlib.Path(nn.experiments.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and "autograd_core" in node.module:
                pytest.fail(f"{path.name} imports from {node.module}: use `import autograd_core "
                            "as ag`")
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "ag"):
                assert node.attr in public, f"{path.name}: ag.{node.attr} is not public API"

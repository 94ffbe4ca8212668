"""nn.reference.backprop against central finite differences of an independent forward pass.

Everything here is self-contained: the forward pass below is written separately from the module
under test (different formulas for every activation and loss), so a shared mistake is unlikely.
"""

import ast
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

from nn import reference

ACTIVATIONS = ["sigmoid", "relu", "leaky_relu", "elu", "selu", "identity"]
KINKED = {"relu", "leaky_relu", "selu"}  # σ' jumps at 0: finite differences must stay away
# "ce_labels" and "ce_soft" are both loss="cross_entropy"; the soft rows do not sum to 1
LOSSES = ["mse", "ce_labels", "ce_soft"]
REDUCTIONS = ["mean", "sum", "none"]
N = 3
STEP, RTOL, ATOL = 1e-6, 1e-6, 1e-9
# finite differences in extended precision where the platform has it (x86: 80-bit, aarch64 Linux:
# 128-bit); without it the float64 rounding noise needs a looser atol (Note [finite-difference
# precision])
FD_DTYPE = np.longdouble
FD_ATOL = ATOL if np.finfo(FD_DTYPE).eps < 1e-17 else 1e-8
LAMBDA, ALPHA = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717
# the network's layout: plain, the lecture's residual net (every layer but the last residual, the
# input already of the width), or nn.ResidualMLP's (a plain first layer projects the input)
LAYOUTS = [False, "lecture", "projection"]


def layout_kwargs(residual) -> dict:
    """backprop's keywords for a layout of LAYOUTS."""
    return {"residual": bool(residual), "input_projection": residual == "projection"}


# ---------------------------------------------------------------- an independent forward pass


def act(name: str, u: np.ndarray) -> np.ndarray:
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * u))  # = 1/(1+e^{-u}), and never overflows
    if name == "relu":
        return u * (u > 0)
    if name == "leaky_relu":
        return np.maximum(u, 0.01 * u)
    if name == "elu":
        return np.where(u > 0, u, np.exp(np.minimum(u, 0)) - 1.0)
    if name == "selu":
        return LAMBDA * np.where(u > 0, u, ALPHA * (np.exp(np.minimum(u, 0)) - 1.0))
    assert name in ("identity", "linear")
    return u


def forward(Ws, bs, x, activation, residual):
    """Output u and the pre-activations of the hidden layers (for the kink margin)."""
    z, pre = x, []
    for j, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        v = np.einsum("ki,ni->nk", W, z) + b
        if j == len(Ws) - 1:
            return v, pre
        pre.append(v)
        skip = residual == "lecture" or (residual == "projection" and j > 0)
        z = z + act(activation, v) if skip else act(activation, v)
    raise AssertionError("unreachable")


def per_sample_loss(u: np.ndarray, y: np.ndarray, loss: str) -> np.ndarray:
    if loss == "mse":
        return 0.5 * ((u - y) ** 2).sum(axis=1)
    if y.ndim == 1:
        y = np.eye(u.shape[1])[y]
    return np.logaddexp.reduce(u, axis=1) - (y * u).sum(axis=1)


def total_loss(Ws, bs, x, y, activation, loss, reduction, residual) -> float:
    """The scalar that the returned gradients differentiate (the sum for reduction="none")."""
    u, _ = forward(Ws, bs, x, activation, residual)
    losses = per_sample_loss(u, y, loss)
    return losses.mean() if reduction == "mean" else losses.sum()


def finite_differences(f, arrays):
    """Central differences of f() wrt every entry of every array in `arrays` (changed in place)."""
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + STEP
            plus = f()
            a[idx] = old - STEP
            minus = f()
            a[idx] = old
            g[idx] = (plus - minus) / (2 * STEP)
        grads.append(g)
    return grads


# ---------------------------------------------------------------- problems


def seed_of(*parts) -> int:
    return zlib.crc32(repr(parts).encode())


def make_problem(depth, activation, loss, residual, seed):
    """Tiny random net and data, redrawn until no hidden pre-activation is near a kink or dead."""
    rng = np.random.default_rng(seed)
    for _ in range(1000):
        n_in, n_out = rng.integers(2, 5, size=2)
        if residual == "lecture":  # z_1 = x: the input has the width
            sizes = [n_in] * depth + [n_out]
        elif residual:
            width = rng.integers(2, 5)
            sizes = [n_in] + [width] * (depth - 1) + [n_out]
        else:
            sizes = [n_in, *rng.integers(2, 5, size=depth - 1), n_out]
        Ws = [
            rng.normal(size=(o, i)) / np.sqrt(i) for i, o in zip(sizes[:-1], sizes[1:], strict=True)
        ]
        bs = [0.5 * rng.normal(size=o) for o in sizes[1:]]
        x = rng.normal(size=(N, n_in))
        if loss == "mse":
            y = rng.normal(size=(N, n_out))
        elif loss == "ce_labels":
            y = rng.integers(0, n_out, size=N)
        else:
            y = rng.uniform(0.1, 1.0, size=(N, n_out))  # rows summing to anything but 1
        _, pre = forward(Ws, bs, x, activation, residual)
        near_kink = activation in KINKED and any(np.abs(v).min() < 1e-3 for v in pre)
        dead = activation == "relu" and any((v <= 0).all() for v in pre)
        if not (near_kink or dead):
            return Ws, bs, x, y
    raise AssertionError("no usable problem drawn")


def loss_name(loss: str) -> str:
    return "mse" if loss == "mse" else "cross_entropy"


def check_against_finite_differences(depth, activation, loss, reduction, residual):
    seed = seed_of(depth, activation, loss, reduction, residual)
    Ws, bs, x, y = make_problem(depth, activation, loss, residual, seed)
    value, dWs, dbs = reference.backprop(
        Ws, bs, x, y, activation, loss_name(loss), reduction, **layout_kwargs(residual)
    )

    u, _ = forward(Ws, bs, x, activation, residual)
    expected = per_sample_loss(u, y, loss)
    if reduction == "none":
        assert isinstance(value, np.ndarray) and value.shape == (N,)
        np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12)
    else:
        assert isinstance(value, float)
        want = expected.mean() if reduction == "mean" else expected.sum()
        np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-12)

    # Note [finite-difference precision]: in float64 the rounding noise of (L(θ+h) − L(θ−h))/2h
    # is about eps·|L|/h ≈ 1e-10·|L|, which can exceed atol=1e-9 for the smallest gradient
    # entries; evaluated in extended precision it is ~1e-13, so any mismatch is the reference's.
    Ws_hi, bs_hi = [W.astype(FD_DTYPE) for W in Ws], [b.astype(FD_DTYPE) for b in bs]
    x_hi, y_hi = x.astype(FD_DTYPE), (y if y.dtype.kind == "i" else y.astype(FD_DTYPE))
    fd = finite_differences(
        lambda: total_loss(Ws_hi, bs_hi, x_hi, y_hi, activation, loss, reduction, residual),
        Ws_hi + bs_hi,
    )
    for j, (got, want) in enumerate(zip(dWs + dbs, fd, strict=True)):
        name = f"dWs[{j}]" if j < depth else f"dbs[{j - depth}]"
        assert got.shape == want.shape, name
        assert got.dtype == np.float64, name
        np.testing.assert_allclose(
            got, want.astype(np.float64), rtol=RTOL, atol=FD_ATOL, err_msg=name
        )


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("depth", range(1, 7))
def test_plain_net_matches_finite_differences(depth, activation, loss, reduction):
    check_against_finite_differences(depth, activation, loss, reduction, residual=False)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("depth", range(2, 6))
def test_residual_net_matches_finite_differences(depth, activation, loss, reduction):
    """The lecture's residual network: z_{j+1} = z_j + σ(W_j z_j + b_j) for j = 1..n−1."""
    check_against_finite_differences(depth, activation, loss, reduction, residual="lecture")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("depth", range(2, 6))
def test_input_projection_net_matches_finite_differences(depth, activation, loss, reduction):
    """nn.ResidualMLP's layout: a plain first layer, then residual layers."""
    check_against_finite_differences(depth, activation, loss, reduction, residual="projection")


def test_the_lecture_form_has_a_residual_first_layer():
    """z_2 = x + σ(W_1 x + b_1): with W_1 = 0, b_1 = 0 and σ(0) = 0 the first layer passes x on."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    W2, b2 = rng.normal(size=(2, 3)), rng.normal(size=2)
    lecture = reference.backprop([np.zeros((3, 3)), W2], [np.zeros(3), b2], x, y, "relu",
                                 residual=True)
    affine = reference.backprop([W2], [b2], x, y, "relu")
    assert lecture[0] == pytest.approx(affine[0], rel=1e-14)
    np.testing.assert_allclose(lecture[1][1], affine[1][0], rtol=1e-14)
    projected = reference.backprop([np.zeros((3, 3)), W2], [np.zeros(3), b2], x, y, "relu",
                                   residual=True, input_projection=True)
    assert projected[0] != pytest.approx(lecture[0])  # there z_2 = σ(0) = 0: x is lost


def test_one_layer_mse_is_least_squares():
    rng = np.random.default_rng(0)
    W, b, x, y = (
        rng.normal(size=(2, 3)),
        rng.normal(size=2),
        rng.normal(size=(5, 3)),
        rng.normal(size=(5, 2)),
    )
    value, (dW,), (db,) = reference.backprop([W], [b], x, y, loss="mse")
    r = x @ W.T + b - y
    np.testing.assert_allclose(value, 0.5 * (r**2).sum() / 5, rtol=1e-14)
    np.testing.assert_allclose(dW, r.T @ x / 5, rtol=1e-14)
    np.testing.assert_allclose(db, r.mean(axis=0), rtol=1e-14)


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_integer_labels_equal_one_hot_rows(reduction, residual):
    Ws, bs, x, labels = make_problem(4, "elu", "ce_labels", residual, seed=7)
    one_hot = np.eye(Ws[-1].shape[0])[labels]
    a = reference.backprop(Ws, bs, x, labels, "elu", "cross_entropy", reduction, residual)
    b = reference.backprop(Ws, bs, x, one_hot, "elu", "cross_entropy", reduction, residual)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-14, atol=1e-15)
    for ga, gb in zip(a[1] + a[2], b[1] + b[2], strict=True):
        np.testing.assert_allclose(ga, gb, rtol=1e-14, atol=1e-15)


def test_float_labels_holding_whole_numbers_are_accepted():
    Ws, bs, x, labels = make_problem(2, "relu", "ce_labels", False, seed=3)
    a = reference.backprop(Ws, bs, x, labels, loss="cross_entropy")
    b = reference.backprop(Ws, bs, x, labels.astype(np.float64), loss="cross_entropy")
    assert a[0] == b[0]
    for ga, gb in zip(a[1] + a[2], b[1] + b[2], strict=True):
        np.testing.assert_array_equal(ga, gb)


@pytest.mark.parametrize("residual", LAYOUTS)
@pytest.mark.parametrize("loss", LOSSES)
def test_sum_is_n_times_mean_and_none_gives_grad_of_sum(loss, residual):
    Ws, bs, x, y = make_problem(3, "sigmoid", loss, residual, seed=11)
    args = (Ws, bs, x, y, "sigmoid", loss_name(loss))
    mean = reference.backprop(*args, "mean", **layout_kwargs(residual))
    total = reference.backprop(*args, "sum", **layout_kwargs(residual))
    per_sample = reference.backprop(*args, "none", **layout_kwargs(residual))
    np.testing.assert_allclose(total[0], N * mean[0], rtol=1e-13)
    np.testing.assert_allclose(per_sample[0].sum(), total[0], rtol=1e-13)
    for gm, gs, gn in zip(
        mean[1] + mean[2], total[1] + total[2], per_sample[1] + per_sample[2], strict=True
    ):
        np.testing.assert_allclose(gs, N * gm, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(gn, gs, rtol=1e-13, atol=1e-15)


def test_linear_is_an_alias_of_identity():
    Ws, bs, x, y = make_problem(3, "identity", "mse", False, seed=5)
    a = reference.backprop(Ws, bs, x, y, activation="identity")
    b = reference.backprop(Ws, bs, x, y, activation="linear")
    assert a[0] == b[0]
    for ga, gb in zip(a[1] + a[2], b[1] + b[2], strict=True):
        np.testing.assert_array_equal(ga, gb)


def test_projected_residual_depth_two_is_the_plain_net():
    Ws, bs, x, y = make_problem(2, "selu", "mse", "projection", seed=13)
    a = reference.backprop(Ws, bs, x, y, "selu", residual=True, input_projection=True)
    b = reference.backprop(Ws, bs, x, y, "selu", residual=False)
    assert a[0] == b[0]
    for ga, gb in zip(a[1] + a[2], b[1] + b[2], strict=True):
        np.testing.assert_array_equal(ga, gb)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu", "selu", "identity"])
def test_zero_residual_blocks_are_the_identity(activation):
    """The lecture's point: with σ(0) = 0, W_j = 0, b_j = 0 the residual part does no harm."""
    Ws, bs, x, y = make_problem(2, activation, "ce_soft", False, seed=17)
    width = Ws[0].shape[0]
    deep_Ws = [Ws[0], np.zeros((width, width)), np.zeros((width, width)), Ws[1]]
    deep_bs = [bs[0], np.zeros(width), np.zeros(width), bs[1]]
    shallow = reference.backprop(Ws, bs, x, y, activation, "cross_entropy")
    deep = reference.backprop(deep_Ws, deep_bs, x, y, activation, "cross_entropy", residual=True,
                              input_projection=True)
    np.testing.assert_allclose(deep[0], shallow[0], rtol=1e-14)
    for j_deep, j_shallow in [(0, 0), (3, 1)]:
        np.testing.assert_allclose(deep[1][j_deep], shallow[1][j_shallow], rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(deep[2][j_deep], shallow[2][j_shallow], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(
    "activation, slope_at_zero",
    [
        ("relu", 0.0),
        ("leaky_relu", 0.01),
        ("elu", 1.0),
        ("selu", LAMBDA * ALPHA),
        ("sigmoid", 0.25),
        ("identity", 1.0),
    ],
)
def test_derivative_at_the_kink(activation, slope_at_zero):
    """Exactly at v = 0 the u <= 0 branch is used (relu'(0) = 0), as the engine's nn does."""
    rng = np.random.default_rng(1)
    W1, b1 = rng.normal(size=(3, 2)), np.zeros(3)
    W2, b2 = rng.normal(size=(2, 3)), rng.normal(size=2)
    x, y = np.zeros((4, 2)), rng.normal(size=(4, 2))  # x = 0, b1 = 0: every v_1 is exactly 0
    _, _, (db1, _) = reference.backprop([W1, W2], [b1, b2], x, y, activation, "mse", "sum")
    sigma0 = 0.5 if activation == "sigmoid" else 0.0
    delta2 = (sigma0 * W2.sum(axis=1) + b2) - y  # ∂L/∂u = u − y, with u = W2 σ(0) + b2
    np.testing.assert_allclose(db1, slope_at_zero * (delta2 @ W2).sum(axis=0), rtol=1e-14)


# ---------------------------------------------------------------- dtypes and stability


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("residual", LAYOUTS)
def test_dtype_and_shapes_are_kept(dtype, residual):
    Ws, bs, x, y = make_problem(4, "sigmoid", "mse", residual, seed=19)
    cast = [a.astype(dtype) for a in Ws], [b.astype(dtype) for b in bs], x.astype(dtype)
    value, dWs, dbs = reference.backprop(*cast, y.astype(dtype), "sigmoid",
                                         **layout_kwargs(residual))
    assert isinstance(value, float)
    for got, want in zip(dWs + dbs, Ws + bs, strict=True):
        assert got.shape == want.shape and got.dtype == dtype


@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_huge_pre_activations_stay_finite_without_warnings(activation, loss, depth):
    x = np.array([[1e4, -1e4], [-1e4, 1e4], [0.5, -1e4]])
    mix = np.array([[1.0, -1.0], [-1.0, 1.0]])  # keeps both signs of ±1e4 after a relu
    Ws, bs = [np.eye(2)] + [mix] * (depth - 1), [np.zeros(2)] * depth
    y = {"mse": np.ones((3, 2)), "ce_labels": np.array([0, 1, 1]), "ce_soft": np.full((3, 2), 0.5)}
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        for reduction in REDUCTIONS:
            value, dWs, dbs = reference.backprop(
                Ws, bs, x, y[loss], activation, loss_name(loss), reduction
            )
            assert np.all(np.isfinite(value))
            assert all(np.all(np.isfinite(g)) for g in dWs + dbs)


def test_cross_entropy_of_huge_logits_is_exact():
    x = np.array([[1e4, -1e4], [1e4, -1e4]])
    value, (dW,), (db,) = reference.backprop(
        [np.eye(2)], [np.zeros(2)], x, np.array([0, 1]), loss="cross_entropy", reduction="none"
    )
    np.testing.assert_array_equal(value, [0.0, 2e4])  # log Σ e^u − u_label
    # ∂L/∂u = softmax(u) − onehot: (1, 0) − (1, 0) = 0 for sample 0, (1, 0) − (0, 1) for sample 1
    np.testing.assert_array_equal(db, [1.0, -1.0])
    np.testing.assert_array_equal(dW, [[1e4, -1e4], [-1e4, 1e4]])


def test_sigmoid_saturates_exactly():
    value, _, _ = reference.backprop(
        [np.eye(2), np.eye(2)],
        [np.zeros(2)] * 2,
        np.array([[1e4, -1e4]]),
        np.zeros((1, 2)),
        activation="sigmoid",
        reduction="none",
    )
    np.testing.assert_array_equal(value, [0.5])  # u = (σ(1e4), σ(−1e4)) = (1, 0)


# ---------------------------------------------------------------- errors


def base():
    rng = np.random.default_rng(2)
    return dict(
        Ws=[rng.normal(size=(4, 3)), rng.normal(size=(2, 4))],
        bs=[np.zeros(4), np.zeros(2)],
        x=rng.normal(size=(3, 3)),
        y=rng.normal(size=(3, 2)),
    )


def changed(**kw):
    return {**base(), **kw}


def with_W(j, W):
    args = base()
    args["Ws"][j] = W
    return args


ERROR_CASES = {
    "x 1-D": (changed(x=np.zeros(3)), r"x must be 2-D .*got shape \(3,\)"),
    "len mismatch": (changed(bs=[np.zeros(4)]), r"len\(Ws\) == 2 but len\(bs\) == 1"),
    "no layers": (changed(Ws=[], bs=[]), r"Ws is empty"),
    "W not 2-D": (with_W(0, np.zeros(12)), r"Ws\[0\] must be 2-D"),
    "x does not fit W0": (
        changed(x=np.zeros((3, 5))),
        r"Ws\[0\] has shape \(4, 3\), expected \(4, 5\) since x\.shape\[1\] == 5",
    ),
    "chain broken": (
        with_W(1, np.zeros((2, 5))),
        r"Ws\[1\] has shape \(2, 5\), expected \(2, 4\) since Ws\[0\]\.shape\[0\] == 4",
    ),
    "bias shape": (
        changed(bs=[np.zeros(4), np.zeros(3)]),
        r"bs\[1\] has shape \(3,\), expected \(2,\)",
    ),
    "mse y shape": (
        changed(y=np.zeros((3, 3))),
        r"targets y must have shape \(3, 2\).*got \(3, 3\)",
    ),
    "mse y 1-D": (changed(y=np.zeros(3)), r"targets y must have shape \(3, 2\)"),
    "soft rows shape": (
        changed(y=np.zeros((2, 2)), loss="cross_entropy"),
        r"one-hot/soft rows y must have shape \(3, 2\).*or integer labels of shape \(3,\)",
    ),
    "labels length": (
        changed(y=np.array([0, 1]), loss="cross_entropy"),
        r"integer labels y must have shape \(3,\), got \(2,\)",
    ),
    "label too big": (
        changed(y=np.array([0, 1, 2]), loss="cross_entropy"),
        r"labels out of range: need 0 <= y < 2 .*max 2",
    ),
    "label negative": (
        changed(y=np.array([0, -1, 1]), loss="cross_entropy"),
        r"labels out of range: .*min -1",
    ),
    "label fractional": (
        changed(y=np.array([0.0, 0.5, 1.0]), loss="cross_entropy"),
        r"non-integer values: \[0\.5\]",
    ),
    "label bool": (
        changed(y=np.array([True, False, True]), loss="cross_entropy"),
        r"must be integers, got dtype bool",
    ),
    "activation": (
        changed(activation="tanh"),
        r"unknown activation 'tanh'; valid: sigmoid, relu, leaky_relu, elu, selu, identity, linear",
    ),
    "loss": (changed(loss="hinge"), r"unknown loss 'hinge'; valid: mse, cross_entropy"),
    "reduction": (changed(reduction="avg"), r"unknown reduction 'avg'; valid: mean, sum, none"),
    "input projection one layer": (
        changed(Ws=[np.zeros((2, 3))], bs=[np.zeros(2)], residual=True, input_projection=True),
        r"input_projection=True needs at least 2 layers .*got 1",
    ),
    "input projection without residual": (
        changed(input_projection=True),
        r"input_projection=True describes a residual network: pass residual=True",
    ),
    "residual first layer not square": (
        changed(
            Ws=[np.zeros((4, 3)), np.zeros((4, 4)), np.zeros((2, 4))],
            bs=[np.zeros(4), np.zeros(4), np.zeros(2)],
            residual=True,
        ),
        r"residual=True needs square W_1..W_\{n-1\}, so the input has the width.*"
        r"input_projection=True.*Ws\[0\] has shape \(4, 3\)",
    ),
    "residual not square": (
        changed(
            Ws=[np.zeros((4, 3)), np.zeros((5, 4)), np.zeros((2, 5))],
            bs=[np.zeros(4), np.zeros(5), np.zeros(2)],
            residual=True,
            input_projection=True,
        ),
        r"residual=True needs square middle matrices W_2..W_\{n-1\}.*Ws\[1\] has shape \(5, 4\)",
    ),
    "empty batch mean": (changed(x=np.zeros((0, 3)), y=np.zeros((0, 2))), r"x has no samples"),
}


@pytest.mark.parametrize("case", ERROR_CASES, ids=str)
def test_bad_input_raises_naming_the_problem(case):
    kwargs, message = ERROR_CASES[case]
    with pytest.raises(ValueError, match=message):
        reference.backprop(**kwargs)


# ---------------------------------------------------------------- independence


def test_reference_imports_only_numpy_and_the_standard_library():
    tree = ast.parse(Path(reference.__file__).read_text(encoding="utf-8"))
    allowed = set(sys.stdlib_module_names) | {"numpy", "__future__"}
    imported = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, (
                f"relative import at line {node.lineno}: an oracle imports no nn"
            )
            imported.append(node.module)
    assert "numpy" in imported
    for name in imported:
        top = name.split(".")[0]
        assert top not in ("autograd_core", "nn"), f"reference.py imports engine code: {name}"
        assert top in allowed, f"reference.py imports {name}: only numpy and the stdlib allowed"

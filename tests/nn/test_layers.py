"""nn layers: one `LayerCase` row per way to build a layer, each gradchecked (input and every
parameter) in float64; forward values against direct NumPy formulas (Conv2d and AvgPool2d against
naive loops); wrong shapes raise errors naming the layer and both shapes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import autograd_core as ag
import nn

LAMBDA, ALPHA = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717


@pytest.fixture
def float64():
    """Build modules in float64 (restores the previous default dtype afterwards)."""
    old = ag.get_default_dtype()
    ag.set_default_dtype(np.float64)
    yield
    ag.set_default_dtype(old)


# ---------------------------------------------------------------- gradcheck of a module


def _owner(module: nn.Module, dotted: str) -> tuple[nn.Module, str]:
    *path, attr = dotted.split(".")
    for part in path:
        module = getattr(module, part)
    return module, attr


def as_function(module: nn.Module) -> tuple[Callable, list[np.ndarray]]:
    """f(x, *params) that runs `module` with the given Tensors swapped in for its parameters,
    and the parameters' current arrays: so gradcheck checks d out / d(x, every parameter)."""
    names = [name for name, _ in module.named_parameters()]

    def f(x, *ps):
        slots = [_owner(module, name) for name in names]
        saved = [getattr(owner, attr) for owner, attr in slots]
        for (owner, attr), t in zip(slots, ps, strict=True):
            object.__setattr__(owner, attr, t)  # bypass registration: a temporary swap
        try:
            return module(x)
        finally:
            for (owner, attr), old in zip(slots, saved, strict=True):
                object.__setattr__(owner, attr, old)

    return f, [p.data for _, p in module.named_parameters()]


def away_from_kinks(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Entries with 0.2 <= |x| <= 1.5: the finite-difference steps (<= 1e-2) never cross 0."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.2, 1.5, size=shape)


@dataclass(frozen=True)
class LayerCase:
    name: str
    factory: Callable[[np.random.Generator], nn.Module]
    input_shape: tuple[int, ...]

    def __str__(self) -> str:
        return self.name


def _with_random_bias(module: nn.Module, rng: np.random.Generator) -> nn.Module:
    """Biases start at zero (Note [init]); random ones make the check of b non-trivial."""
    for name, p in module.named_parameters():
        if name.endswith("b"):
            p.data = rng.standard_normal(p.shape) * 0.3
    return module


LAYER_CASES = [
    LayerCase("Dense(5→3)", lambda r: nn.Dense(5, 3, rng=r), (4, 5)),
    LayerCase("Dense(1→1)", lambda r: nn.Dense(1, 1, rng=r), (3, 1)),
    LayerCase("SparseDense(6→4, 0.5)", lambda r: nn.SparseDense(6, 4, 0.5, seed=r), (3, 6)),
    LayerCase("Conv2d(1→1, k3)", lambda r: nn.Conv2d(1, 1, 3, rng=r), (2, 1, 5, 5)),
    LayerCase(
        "Conv2d(2→3, k(3,2), s2, p1)",
        lambda r: nn.Conv2d(2, 3, (3, 2), stride=2, padding=1, rng=r),
        (2, 2, 6, 5),
    ),
    LayerCase(
        "Conv2d(3→2, k(2,3), s(1,2), p(0,1))",
        lambda r: nn.Conv2d(3, 2, (2, 3), stride=(1, 2), padding=(0, 1), rng=r),
        (1, 3, 5, 7),
    ),
    LayerCase(
        "Conv2d(2→4, k1, no bias)", lambda r: nn.Conv2d(2, 4, 1, bias=False, rng=r), (2, 2, 3, 4)
    ),
    LayerCase("Conv2d(3→2, k3, s2)", lambda r: nn.Conv2d(3, 2, 3, stride=2, rng=r), (2, 3, 7, 6)),
    LayerCase(
        "Conv2d(1→2, k(1,3), p1)", lambda r: nn.Conv2d(1, 2, (1, 3), padding=1, rng=r), (1, 1, 2, 3)
    ),
    LayerCase("AvgPool2d(2)", lambda r: nn.AvgPool2d(2), (2, 3, 5, 4)),
    LayerCase("AvgPool2d(3, stride 1)", lambda r: nn.AvgPool2d(3, stride=1), (1, 2, 5, 6)),
    LayerCase(
        "AvgPool2d((2,3), stride (1,2))",
        lambda r: nn.AvgPool2d((2, 3), stride=(1, 2)),
        (2, 1, 4, 7),
    ),
    LayerCase("Flatten", lambda r: nn.Flatten(), (2, 3, 2, 2)),
    LayerCase(
        "Residual(Dense, Sigmoid)",
        lambda r: nn.Residual(nn.Sequential(nn.Dense(4, 4, rng=r), nn.Sigmoid())),
        (3, 4),
    ),
    LayerCase("Sigmoid", lambda r: nn.Sigmoid(), (3, 4)),
    LayerCase("ReLU", lambda r: nn.ReLU(), (3, 4)),
    LayerCase("LeakyReLU", lambda r: nn.LeakyReLU(), (3, 4)),
    LayerCase("LeakyReLU(0.3)", lambda r: nn.LeakyReLU(0.3), (3, 4)),
    LayerCase("ELU", lambda r: nn.ELU(), (3, 4)),
    LayerCase("ELU(0.5)", lambda r: nn.ELU(0.5), (3, 4)),
    LayerCase("SELU", lambda r: nn.SELU(), (3, 4)),
    LayerCase("MLP([4,5,3,2], sigmoid)", lambda r: nn.MLP([4, 5, 3, 2], "sigmoid", rng=r), (3, 4)),
    LayerCase("MLP([3,4,2], elu)", lambda r: nn.MLP([3, 4, 2], "elu", rng=r), (2, 3)),
    LayerCase(
        "ResidualMLP(3, 4, 2, 2, sigmoid)",
        lambda r: nn.ResidualMLP(3, 4, 2, 2, "sigmoid", rng=r),
        (3, 3),
    ),
    LayerCase(
        "ResidualMLP(3, 4, 1, 2, elu)", lambda r: nn.ResidualMLP(3, 4, 1, 2, "elu", rng=r), (2, 3)
    ),
    LayerCase(
        "StochasticDepth(eval)",
        lambda r: nn.StochasticDepth(
            nn.Sequential(nn.Dense(3, 3, rng=r), nn.Sigmoid()), 0.3
        ).eval(),
        (2, 3),
    ),
    LayerCase(
        "Sequential(Conv2d, Sigmoid, AvgPool2d, Flatten, Dense)",
        lambda r: nn.Sequential(
            nn.Conv2d(1, 2, 3, padding=1, rng=r),
            nn.Sigmoid(),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Dense(8, 3, rng=r),
        ),
        (2, 1, 4, 4),
    ),
]


@pytest.mark.parametrize("case", LAYER_CASES, ids=str)
def test_layer_gradients_match_finite_differences(case, float64):
    rng = np.random.default_rng(0)
    module = _with_random_bias(case.factory(rng), rng)
    assert all(p.dtype == np.float64 for p in module.parameters())
    f, params = as_function(module)
    x = away_from_kinks(rng, case.input_shape)
    report = ag.gradcheck(f, [x, *params], raise_on_fail=False)
    assert report.passed, f"{case}\n{report}"
    assert len(report.rows) == 1 + len(params)  # the input and every parameter were checked


def test_gradcheck_helper_catches_a_wrong_layer(float64):
    """The harness itself: a layer whose forward ignores a swapped-in parameter must fail."""

    class Broken(nn.Dense):
        def forward(self, x):
            return x @ ag.tensor(self.W.data).T + self.b  # W detached: its gradient is lost

    rng = np.random.default_rng(0)
    f, params = as_function(Broken(3, 2, rng=rng))
    assert not ag.gradcheck(f, [rng.standard_normal((2, 3)), *params], raise_on_fail=False).passed


# ---------------------------------------------------------------- forward values


def test_dense_computes_x_WT_plus_b():
    rng = np.random.default_rng(1)
    layer = _with_random_bias(nn.Dense(5, 3, rng=rng), rng)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    assert layer.W.shape == (3, 5) and layer.b.shape == (3,)
    np.testing.assert_allclose(layer(x).data, x @ layer.W.data.T + layer.b.data, rtol=1e-6)


def test_params_are_created_in_the_default_dtype(float64):
    assert nn.Dense(3, 2).W.dtype == np.float64
    assert nn.Conv2d(1, 2, 3).W.dtype == np.float64
    ag.set_default_dtype(np.float32)
    assert all(p.dtype == np.float32 for p in nn.MLP([3, 4, 2]).parameters())
    assert all(p.dtype == np.float32 for p in nn.Conv2d(1, 2, 3).parameters())


def test_he_normal_init_and_seeding():
    W = nn.Dense(400, 300, rng=0).W.data
    assert abs(W.std() - np.sqrt(2 / 400)) < 0.02 * np.sqrt(2 / 400)  # 120k samples: ~0.2% sd
    assert abs(W.mean()) < 0.01 * np.sqrt(2 / 400)
    assert np.all(nn.Dense(400, 300, rng=0).b.data == 0)
    K = nn.Conv2d(8, 64, 3, rng=0).W.data
    assert abs(K.std() - np.sqrt(2 / 72)) < 0.05 * np.sqrt(2 / 72)
    # an int seed and a Generator both make results reproducible
    np.testing.assert_array_equal(nn.Dense(4, 3, rng=7).W.data, nn.Dense(4, 3, rng=7).W.data)
    a = nn.MLP([4, 5, 3], rng=np.random.default_rng(3))
    b = nn.MLP([4, 5, 3], rng=np.random.default_rng(3))
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert na == nb
        np.testing.assert_array_equal(pa.data, pb.data)
    assert not np.array_equal(nn.Dense(4, 3, rng=7).W.data, nn.Dense(4, 3, rng=8).W.data)
    with pytest.raises(TypeError, match="rng"):
        nn.Dense(4, 3, rng=np.random.RandomState(0))


def test_sparse_dense_gradient_is_exactly_zero_off_the_pattern():
    layer = nn.SparseDense(40, 30, density=0.2, seed=0)
    mask = layer.mask
    assert mask.shape == (30, 40) and mask.dtype == bool
    assert abs(mask.mean() - 0.2) < 6 * np.sqrt(0.2 * 0.8 / mask.size)
    assert np.all(layer.W.data[~mask] == 0) and np.all(layer.W.data[mask] != 0)
    # He-normal for the expected fan-in density·n_in = 8: std 0.5 (~240 samples: ~5% sd)
    assert abs(layer.W.data[mask].std() - 0.5) < 0.1
    assert "mask" in layer.state_dict() and "mask" not in dict(layer.named_parameters())
    x = np.random.default_rng(1).standard_normal((16, 40)).astype(np.float32)
    u = layer(x)
    np.testing.assert_allclose(
        u.data, x @ (layer.W.data * mask).T + layer.b.data, rtol=1e-5, atol=1e-6
    )
    (u * u).sum().backward()
    assert np.all(layer.W.grad[~mask] == 0)
    assert np.count_nonzero(layer.W.grad[mask]) == mask.sum()
    # a gradient step keeps W on the pattern
    layer.W.data = layer.W.data - 0.1 * layer.W.grad
    assert np.all(layer.W.data[~mask] == 0)
    # the same seed gives the same pattern and weights
    np.testing.assert_array_equal(nn.SparseDense(40, 30, 0.2, seed=0).mask, mask)
    with pytest.raises(ValueError, match="density"):
        nn.SparseDense(4, 3, 0.0, seed=0)


def conv2d_naive(x, W, b, stride, padding):
    """Cross-correlation by explicit loops over every output element."""
    (sh, sw), (ph, pw) = stride, padding
    n, _, h, w = x.shape
    c_out, _, kh, kw = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    out = np.zeros((n, c_out, ho, wo))
    for i in range(n):
        for o in range(c_out):
            for r in range(ho):
                for c in range(wo):
                    patch = xp[i, :, r * sh : r * sh + kh, c * sw : c * sw + kw]
                    out[i, o, r, c] = np.sum(patch * W[o]) + (b[o] if b is not None else 0.0)
    return out


CONV_CONFIGS = [  # c_in, c_out, kernel, stride, padding, (H, W)
    (1, 1, 3, 1, 0, (5, 5)),
    (2, 3, (3, 2), 2, 1, (6, 5)),
    (3, 2, (2, 3), (1, 2), (0, 1), (5, 7)),
    (3, 4, 3, 2, 0, (8, 7)),
    (2, 2, 1, 1, 2, (3, 4)),
    (4, 1, (5, 1), (2, 1), (1, 0), (9, 3)),
]


@pytest.mark.parametrize("c_in, c_out, kernel, stride, padding, hw", CONV_CONFIGS)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_matches_naive_loops(c_in, c_out, kernel, stride, padding, hw, bias, float64):
    rng = np.random.default_rng(2)
    conv = _with_random_bias(
        nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=bias, rng=rng), rng
    )
    x = rng.standard_normal((3, c_in, *hw))
    out = conv(x)
    expected = conv2d_naive(
        x, conv.W.data, conv.b.data if bias else None, conv.stride, conv.padding
    )
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "k, stride, hw", [(2, None, (5, 4)), (3, 1, (5, 6)), ((2, 3), (1, 2), (4, 7))]
)
def test_avgpool_matches_naive_loops(k, stride, hw):
    x = np.random.default_rng(3).standard_normal((2, 3, *hw))
    pool = nn.AvgPool2d(k, stride)
    (kh, kw), (sh, sw) = pool.kernel_size, pool.stride
    ho, wo = (hw[0] - kh) // sh + 1, (hw[1] - kw) // sw + 1
    expected = np.array(
        [
            [
                [
                    [x[n, c, r * sh : r * sh + kh, q * sw : q * sw + kw].mean() for q in range(wo)]
                    for r in range(ho)
                ]
                for c in range(3)
            ]
            for n in range(2)
        ]
    )
    np.testing.assert_allclose(pool(ag.tensor(x)).data, expected, rtol=1e-12)


def test_flatten_keeps_the_batch_axis():
    x = ag.tensor(np.arange(24.0).reshape(2, 3, 4))
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten()(ag.tensor(np.zeros((0, 3, 2)))).shape == (0, 6)


# ---------------------------------------------------------------- activations


ACTIVATION_FORMULAS = {  # name -> (function, NumPy value, derivative with the u <= 0 branch at 0)
    # σ(u) = exp(−log(1 + e^{−u})), σ' = σ(u)σ(−u): accurate in both tails
    "sigmoid": (
        nn.sigmoid,
        lambda u: np.exp(-np.logaddexp(0, -u)),
        lambda u: np.exp(-np.logaddexp(0, -u) - np.logaddexp(0, u)),
    ),
    "relu": (nn.relu, lambda u: u * (u > 0), lambda u: (u > 0) * 1.0),
    "leaky_relu": (
        nn.leaky_relu,
        lambda u: np.where(u > 0, u, 0.01 * u),
        lambda u: np.where(u > 0, 1, 0.01),
    ),
    "elu": (
        nn.elu,
        lambda u: np.where(u > 0, u, np.expm1(np.minimum(u, 0))),
        lambda u: np.where(u > 0, 1, np.exp(np.minimum(u, 0))),
    ),
    "selu": (
        nn.selu,
        lambda u: LAMBDA * np.where(u > 0, u, ALPHA * np.expm1(np.minimum(u, 0))),
        lambda u: LAMBDA * np.where(u > 0, 1, ALPHA * np.exp(np.minimum(u, 0))),
    ),
}


@pytest.mark.parametrize("name", ACTIVATION_FORMULAS)
def test_activation_values_and_derivatives_including_kinks_and_huge_inputs(name):
    fn, value, slope = ACTIVATION_FORMULAS[name]
    u = np.array([-1e4, -30.0, -2.0, -0.5, 0.0, 0.5, 2.0, 30.0, 1e4])
    x = ag.tensor(u, requires_grad=True)
    y = fn(x)
    y.sum().backward()  # pytest turns an overflow RuntimeWarning into a failure
    assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(y.data, value(u), rtol=1e-12, atol=1e-300)
    # atol: the engine's sigmoid VJP is ans·(1 − ans), whose 1 − ans cancels for large u (still
    # accurate to ~1e-16 absolutely, against a slope of up to 1)
    np.testing.assert_allclose(x.grad, slope(u), rtol=1e-12, atol=1e-15)


def test_activation_kink_conventions_match_the_reference():
    """At u = 0 each derivative takes its u <= 0 branch (nn.reference's Note [kinks])."""
    expected = {nn.relu: 0.0, nn.leaky_relu: 0.01, nn.elu: 1.0, nn.selu: LAMBDA * ALPHA}
    for fn, slope in expected.items():
        x = ag.tensor(np.zeros(3), requires_grad=True)
        fn(x).sum().backward()
        np.testing.assert_array_equal(x.grad, slope)
    x = ag.tensor(np.zeros(2), requires_grad=True)
    (nn.leaky_relu(x, alpha=0.2) + nn.elu(x, alpha=0.3)).sum().backward()
    np.testing.assert_allclose(x.grad, 0.5, rtol=1e-15)


@pytest.mark.parametrize(
    "module, fn",
    [
        (nn.Sigmoid(), nn.sigmoid),
        (nn.ReLU(), nn.relu),
        (nn.LeakyReLU(0.2), lambda x: nn.leaky_relu(x, 0.2)),
        (nn.ELU(0.7), lambda x: nn.elu(x, 0.7)),
        (nn.SELU(), nn.selu),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else "",
)
def test_activation_modules_wrap_the_functions(module, fn):
    x = ag.tensor(np.linspace(-3, 3, 13, dtype=np.float32))
    y = module(x)
    assert y.dtype == np.float32  # Python-float constants do not upcast
    np.testing.assert_array_equal(y.data, fn(x).data)


# ---------------------------------------------------------------- models


def test_mlp_structure_and_parameter_names():
    model = nn.MLP([6, 5, 4, 3], activation="selu", rng=0)
    assert [n for n, _ in model.named_parameters()] == [
        "layers.0.W",
        "layers.0.b",
        "layers.2.W",
        "layers.2.b",
        "layers.4.W",
        "layers.4.b",
    ]
    kinds = [type(m).__name__ for m in model.layers]
    assert kinds == ["Dense", "SELU", "Dense", "SELU", "Dense"]  # the last layer is affine
    Ws, bs = model.weights()
    assert [W.shape for W in Ws] == [(5, 6), (4, 5), (3, 4)] and [b.shape for b in bs] == [
        (5,),
        (4,),
        (3,),
    ]
    x = np.random.default_rng(0).standard_normal((2, 6)).astype(np.float32)
    z = x
    for j, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        z = z @ W.T + b
        if j < 2:
            z = ACTIVATION_FORMULAS["selu"][1](z)
    np.testing.assert_allclose(model(x).data, z, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("activation", ["relu", nn.ELU, nn.LeakyReLU(0.2)], ids=str)
def test_mlp_accepts_names_classes_and_instances(activation):
    model = nn.MLP([3, 4, 4, 2], activation=activation, rng=0)
    acts = [model.layers[1], model.layers[3]]
    assert acts[0] is not acts[1]  # one module per layer, even from an instance
    assert all(type(a).__name__ in ("ReLU", "ELU", "LeakyReLU") for a in acts)


def test_mlp_rejects_unknown_activations_and_sizes():
    with pytest.raises(ValueError, match="unknown activation 'tanhh'.*sigmoid"):
        nn.MLP([3, 2, 1], activation="tanhh")
    with pytest.raises(TypeError, match="activation"):
        nn.MLP([3, 2, 1], activation=np.tanh)
    with pytest.raises(ValueError, match="sizes"):
        nn.MLP([3])


def test_residual_mlp_structure():
    model = nn.ResidualMLP(5, 4, 3, 2, activation="elu", rng=0)
    names = [n for n, _ in model.named_parameters()]
    assert names == [
        "layers.0.W",
        "layers.0.b",
        "layers.2.block.0.W",
        "layers.2.block.0.b",
        "layers.3.block.0.W",
        "layers.3.block.0.b",
        "layers.4.block.0.W",
        "layers.4.block.0.b",
        "layers.5.W",
        "layers.5.b",
    ]
    Ws, _ = model.weights()
    assert [W.shape for W in Ws] == [(4, 5), (4, 4), (4, 4), (4, 4), (2, 4)]
    # zero residual weights make the middle layers the identity (elu(0) = 0)
    for name, p in model.named_parameters():
        if ".block." in name:
            p.data = np.zeros_like(p.data)
    shallow = nn.Sequential(model.layers[0], model.layers[1], model.layers[5])
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    np.testing.assert_array_equal(model(x).data, shallow(x).data)


# ---------------------------------------------------------------- wrong shapes


@pytest.mark.parametrize(
    "make, shape, message",
    [
        (
            lambda: nn.Dense(64, 128),
            (32, 10),
            r"Dense\(64→128\): expected input of shape \(N, 64\), got \(32, 10\)",
        ),
        (
            lambda: nn.Dense(4, 2),
            (4,),
            r"Dense\(4→2\): expected input of shape \(N, 4\), got \(4,\)",
        ),
        (
            lambda: nn.SparseDense(6, 3, 0.5, seed=0),
            (2, 5),
            r"SparseDense\(6→3, density=0.5\): expected input of shape \(N, 6\), got \(2, 5\)",
        ),
        (
            lambda: nn.MLP([8, 4, 2]),
            (3, 7),
            r"Dense\(8→4\): expected input of shape \(N, 8\), got \(3, 7\)",
        ),
        (
            lambda: nn.Conv2d(3, 8, 3),
            (2, 4, 8, 8),
            r"Conv2d\(3→8, .*\): expected input of shape \(N, 3, H, W\), got \(2, 4, 8, 8\)",
        ),
        (
            lambda: nn.Conv2d(3, 8, 3),
            (3, 8, 8),
            r"Conv2d\(3→8, .*\): expected input of shape \(N, 3, H, W\), got \(3, 8, 8\)",
        ),
        (
            lambda: nn.Conv2d(1, 1, (3, 5), padding=1),
            (1, 1, 4, 2),
            r"Conv2d\(1→1.*spatial size \(4, 2\).*kernel \(3, 5\)",
        ),
        (
            lambda: nn.AvgPool2d(3),
            (1, 1, 2, 5),
            r"AvgPool2d\(.*\): input of spatial size \(2, 5\).*window \(3, 3\)",
        ),
        (
            lambda: nn.AvgPool2d(2),
            (4, 4),
            r"AvgPool2d\(.*\): expected input of shape \(N, C, H, W\), got \(4, 4\)",
        ),
        (
            lambda: nn.Residual(nn.Dense(4, 3)),
            (2, 4),
            r"Residual: the block maps shape \(2, 4\) to \(2, 3\)",
        ),
    ],
)
def test_wrong_input_shapes_raise_naming_the_layer_and_shapes(make, shape, message):
    with pytest.raises(ValueError, match=message):
        make()(ag.tensor(np.zeros(shape)))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: nn.Dense(0, 3), "n_in must be a positive int"),
        (lambda: nn.Conv2d(2, 3, 0), "kernel_size must be an int >= 1"),
        (lambda: nn.Conv2d(2, 3, (3, 3, 3)), "kernel_size"),
        (lambda: nn.Conv2d(2, 3, 3, padding=-1), "padding must be an int >= 0"),
        (lambda: nn.AvgPool2d(2, stride=0), "stride must be an int >= 1"),
        (lambda: nn.ResidualMLP(3, 4, -1, 2), "depth"),
    ],
)
def test_bad_constructor_arguments_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ---- module paths (the names nodes are stamped with) ---------------------------------------------


def _paths(model, x):
    with ag.Tape() as tape:
        model(x)
    return sorted({n.module for n in tape if n.module is not None})


def test_two_models_used_in_turn_name_their_trees_once():
    # A generator and a critic, or a model and its EMA copy: calling them in turn must not rename
    # every module on every call (it once did: each root's naming invalidated all others).
    a, b = nn.MLP([3, 4, 2], rng=0), nn.MLP([3, 5, 2], rng=1)
    x = np.ones((2, 3), np.float32)
    a(x), b(x)
    walks = []
    for m in (a, b):
        original = m.named_modules
        m.named_modules = lambda *args, _o=original, **kw: (walks.append(1), _o(*args, **kw))[1]
    for _ in range(3):
        a(x), b(x)
    assert walks == []
    assert _paths(a, x) == _paths(b, x) == ["layers.0", "layers.1", "layers.2"]


def test_a_shared_submodule_is_named_by_the_root_that_calls_it():
    shared = nn.Dense(3, 3, rng=0)
    a = nn.Sequential(shared, nn.ReLU())
    b = nn.Sequential(nn.ReLU(), shared)
    x = ag.tensor(np.ones((2, 3), np.float32), requires_grad=True)  # so b's ReLU is recorded too
    for _ in range(2):
        assert _paths(a, x) == ["0", "1"]
        assert _paths(b, x) == ["0", "1"]
        with ag.Tape() as tape:
            b(x)
        assert [n.module for n in tape if n.op == "linear"] == ["1"]  # b's name for it, not a's


def test_a_submodule_called_on_its_own_is_named_from_itself():
    outer = nn.Sequential(nn.Dense(3, 3, rng=0), nn.Sequential(nn.ReLU(), nn.Dense(3, 2, rng=1)))
    x = ag.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    assert _paths(outer, x) == ["0", "1.0", "1.1"]
    inner = outer[1]
    assert _paths(inner, x) == ["0", "1"]  # its own root: paths from itself
    assert _paths(outer, x) == ["0", "1.0", "1.1"]  # and the outer root renames them back


def test_module_paths_are_per_thread_and_popped_after_an_error():
    # Module.__call__ pushes its path on the thread's scope stack itself (no context manager):
    # two threads calling models at once must each stamp their own paths, and a forward that
    # raises must leave the stack as it found it
    import threading

    models = [nn.MLP([3, 4, 4, 2], rng=0), nn.Sequential(nn.Dense(3, 2, rng=1), nn.ReLU())]
    x = ag.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    barrier = threading.Barrier(2, timeout=30)
    seen: dict[int, set] = {}

    def run(i):
        for _ in range(20):
            barrier.wait()
            with ag.Tape() as tape:
                models[i](x)
            seen.setdefault(i, set()).update(n.module for n in tape)
            assert ag.scope_stack() == []

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert seen == {0: {"layers.0", "layers.1", "layers.2", "layers.3", "layers.4"}, 1: {"0", "1"}}

    with pytest.raises(ValueError, match="expected input of shape"):
        models[0](np.ones((2, 5), np.float32))
    assert ag.scope_stack() == []
    with ag.module_scope("outer"):
        with ag.Tape() as tape:
            models[1](x)
        assert ag.scope_stack() == ["outer"]
    assert [n.module for n in tape] == ["0", "1"] and ag.scope_stack() == []


# ---------------------------------------------------------------- dtype (Note [dtype])


@pytest.mark.parametrize("make", [lambda: nn.MLP([3, 4, 2], rng=0),
                                  lambda: nn.ResidualMLP(3, 4, 2, 2, rng=0),
                                  lambda: nn.Sequential(nn.Dense(3, 4, rng=0), nn.ReLU())],
                         ids=["MLP", "ResidualMLP", "Sequential"])
def test_a_float32_model_computes_in_float32_whatever_the_input(make):
    model = make()
    assert all(p.dtype == np.float32 for p in model.parameters())
    ones = np.ones((2, 3))
    for x in (ones, ones.astype(np.float16), ag.tensor(ones, dtype=np.float64), ones.astype(int),
              ones.astype(bool), ones.tolist()):
        out = model(x)
        assert out.dtype == np.float32, type(x)
    expected = model(ones.astype(np.float32)).data
    np.testing.assert_array_equal(model(ones).data, expected)  # the same numbers, not promoted


def test_the_input_is_cast_once_at_the_entry_and_gradients_keep_their_dtype():
    model = nn.MLP([3, 4, 2], rng=0)
    x = ag.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, dtype=np.float64)
    with ag.Tape() as tape:
        model(x).sum().backward()
    assert [node.op for node in tape].count("astype") == 1  # one cast, at the model's entry
    assert x.grad.dtype == np.float64 and model.layers[0].W.grad.dtype == np.float32


def test_a_float64_model_computes_in_float64_and_labels_pass_through():
    model = nn.MLP([3, 4, 2], rng=0).astype(np.float64)
    assert model(np.ones((1, 3), np.float32)).dtype == np.float64

    class WithLabels(nn.Module):  # integer arguments (labels, indices) are never cast
        def __init__(self):
            super().__init__()
            self.inner = nn.MLP([3, 2], rng=0)

        def forward(self, x, labels):
            assert labels.dtype == np.int64
            return nn.cross_entropy(self.inner(x), labels)

    assert WithLabels()(np.ones((2, 3)), np.array([0, 1])).dtype == np.float32


def test_a_model_with_mixed_parameter_dtypes_casts_nothing():
    model = nn.Sequential(nn.Dense(3, 3, rng=0), nn.Dense(3, 2, rng=0).astype(np.float64))
    x = np.ones((1, 3))
    assert model(x).dtype == np.float64  # NumPy's promotion: no single dtype to cast to


def test_the_cast_follows_a_changed_parameter_dtype():
    model = nn.MLP([3, 2], rng=0)
    x = np.ones((1, 3))
    assert model(x).dtype == np.float32
    model.astype(np.float64)  # rebinds p.data: no structure change
    assert model(x.astype(np.float32)).dtype == np.float64
    model.layers[0].W = nn.Parameter(np.ones((2, 3), np.float32))  # a new parameter object
    model.layers[0].b = nn.Parameter(np.zeros(2, np.float32))
    assert model(x).dtype == np.float32

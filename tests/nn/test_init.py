"""nn.init: spectral_normal (||W||_2 = 1), he_normal (var 2/fan_in), xavier_normal
(var 2/(fan_in + fan_out)), with fan_in = shape[1]·prod(shape[2:]) and
fan_out = shape[0]·prod(shape[2:])."""

import math

import numpy as np
import pytest

import autograd_core as ag
from nn.init import he_normal, spectral_normal, xavier_normal

INITS = [spectral_normal, he_normal, xavier_normal]


@pytest.fixture
def default_float64():
    old = ag.get_default_dtype()
    ag.set_default_dtype(np.float64)
    yield
    ag.set_default_dtype(old)


def sigma_max(w):
    w = np.asarray(w, dtype=np.float64)
    return np.linalg.svd(w.reshape(w.shape[0], -1), compute_uv=False)[0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize(
    "shape", [(30, 50), (50, 30), (1, 10), (10, 1), (16, 8, 3, 3), (4, 3, 5)], ids=str
)
def test_spectral_normal_has_unit_spectral_norm(shape, dtype):
    w = spectral_normal(shape, rng=0, dtype=dtype)
    assert w.shape == shape and w.dtype == dtype
    assert sigma_max(w) == pytest.approx(1.0, rel=1e-12 if dtype == np.float64 else 1e-6)
    # still a normal sample, only rescaled: not e.g. an orthogonal matrix (all singular values 1)
    s = np.linalg.svd(np.asarray(w, np.float64).reshape(shape[0], -1), compute_uv=False)
    assert len(s) == 1 or s[-1] < 0.9


def test_spectral_normal_is_the_scaled_standard_normal():
    shape = (20, 30)
    g = np.random.default_rng(11).standard_normal(shape)
    np.testing.assert_allclose(
        spectral_normal(shape, rng=11, dtype=np.float64), g / sigma_max(g), rtol=1e-13
    )


# (shape, fan_in, fan_out): the conv shapes check that the receptive field counts in both fans
FANS = [((400, 300), 300, 400), ((128, 64, 3, 3), 576, 1152), ((100, 250, 5), 1250, 500)]


@pytest.mark.parametrize("shape,fan_in,fan_out", FANS, ids=lambda v: str(v))
@pytest.mark.parametrize(
    "init,var",
    [(he_normal, lambda i, o: 2 / i), (xavier_normal, lambda i, o: 2 / (i + o))],
    ids=["he", "xavier"],
)
def test_sample_variance(init, var, shape, fan_in, fan_out):
    w = init(shape, rng=1, dtype=np.float64)
    n = w.size  # >= 60,000 samples: the variance estimate's relative sd is sqrt(2/n) < 0.6%
    want = var(fan_in, fan_out)
    assert w.var() == pytest.approx(want, rel=0.05)  # wide margin (> 8 sd), still tells fans apart
    assert abs(w.mean()) < 6 * math.sqrt(want / n)


def test_he_and_xavier_scale_a_seeded_standard_normal():
    g = np.random.default_rng(5).standard_normal((30, 20))
    np.testing.assert_allclose(he_normal((30, 20), rng=5, dtype=np.float64), g * math.sqrt(2 / 20))
    np.testing.assert_allclose(
        xavier_normal((30, 20), rng=5, dtype=np.float64), g * math.sqrt(2 / 50)
    )


@pytest.mark.parametrize("init", INITS, ids=lambda f: f.__name__)
def test_dtype_follows_default(init, default_float64):
    assert init((4, 3), rng=0).dtype == np.float64
    ag.set_default_dtype(np.float32)
    assert init((4, 3), rng=0).dtype == np.float32
    assert init((4, 3), rng=0, dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("init", INITS, ids=lambda f: f.__name__)
def test_seeds_are_reproducible(init):
    a, b = init((6, 5), rng=42), init((6, 5), rng=42)
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, init((6, 5), rng=43))
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    assert np.array_equal(init((6, 5), rng=g1), init((6, 5), rng=g2))
    assert not np.array_equal(
        init((6, 5), rng=g1), init((6, 5), rng=np.random.default_rng(7))
    )  # g1 advanced
    # float32 and float64 from one seed agree up to rounding
    np.testing.assert_allclose(
        init((6, 5), rng=3, dtype=np.float32), init((6, 5), rng=3, dtype=np.float64), rtol=1e-6
    )


def test_bad_arguments():
    with pytest.raises(ValueError, match="2 dimensions"):
        he_normal((5,))
    with pytest.raises(ValueError, match="2 dimensions"):
        xavier_normal(7)
    with pytest.raises(TypeError, match="dtype"):
        he_normal((3, 3), dtype=np.int64)
    with pytest.raises(TypeError, match="rng"):
        spectral_normal((3, 3), rng=1.5)
    with pytest.raises(ValueError, match="zero"):
        he_normal((3, 0))
    assert spectral_normal((0, 4)).shape == (0, 4)

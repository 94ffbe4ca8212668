"""Property tests: broadcasting binary ops and reductions over random shapes, axes and keepdims.

The expected values are computed here in plain NumPy from the math (the "unbroadcast" sums of the
broadcast cotangents; sum → ones, mean → 1/count, max/min → the winners sharing equally,
logsumexp → softmax), independently of the engine's rules; small cases also go through gradcheck.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays, mutually_broadcastable_shapes

import autograd_core as ag

SETTINGS = settings(max_examples=40, deadline=None)


def floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=64)


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a broadcast result back to `shape` (what the sweep must do once per input)."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


# ---- binary broadcasting ops -------------------------------------------------------------------

REAL = floats(-3, 3)
NONZERO = floats(0.25, 3) | floats(-3, -0.25)
GRID = st.integers(-6, 6).map(lambda k: k * 0.5)  # GRID and OFFGRID values are never equal
OFFGRID = st.integers(-6, 5).map(lambda k: k * 0.5 + 0.25)

# op -> (engine function, NumPy function, (x elements, y elements), analytic (dx, dy) before
# unbroadcasting, as functions of the cotangent g and the inputs)
BINARY = {
    "add": (ag.add, np.add, (REAL, REAL), lambda g, x, y: (g, g)),
    "subtract": (ag.subtract, np.subtract, (REAL, REAL), lambda g, x, y: (g, -g)),
    "multiply": (ag.multiply, np.multiply, (REAL, REAL), lambda g, x, y: (g * y, g * x)),
    "divide": (ag.divide, np.divide, (REAL, NONZERO), lambda g, x, y: (g / y, -g * x / y**2)),
    "maximum": (ag.maximum, np.maximum, (GRID, OFFGRID),
                lambda g, x, y: (g * (x > y), g * (x < y))),
    "minimum": (ag.minimum, np.minimum, (OFFGRID, GRID),
                lambda g, x, y: (g * (x < y), g * (x > y))),
}


def binary_inputs(data, name, max_side=4, max_dims=4):
    shapes = data.draw(mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=max_dims, min_side=0, max_side=max_side))
    xe, ye = BINARY[name][2]
    x = data.draw(arrays(np.float64, shapes.input_shapes[0], elements=xe), label="x")
    y = data.draw(arrays(np.float64, shapes.input_shapes[1], elements=ye), label="y")
    return x, y, shapes.result_shape


@pytest.mark.parametrize("name", BINARY)
@SETTINGS
@given(data=st.data())
def test_binary_broadcast_grads_are_unbroadcast_sums(name, data):
    op, np_op, _, analytic = BINARY[name]
    x, y, out_shape = binary_inputs(data, name)
    X, Y = ag.tensor(x, requires_grad=True), ag.tensor(y, requires_grad=True)
    Z = op(X, Y)
    assert Z.shape == out_shape
    np.testing.assert_array_equal(Z.data, np_op(x, y))
    g = data.draw(arrays(np.float64, out_shape, elements=REAL), label="g")
    Z.backward(g)
    xb, yb = np.broadcast_arrays(x, y)
    dx, dy = (np.broadcast_to(d, out_shape) for d in analytic(g, xb, yb))
    assert X.grad.shape == x.shape and Y.grad.shape == y.shape
    np.testing.assert_allclose(X.grad, unbroadcast(dx, x.shape), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(Y.grad, unbroadcast(dy, y.shape), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", BINARY)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_binary_broadcast_gradcheck(name, data):
    x, y, _ = binary_inputs(data, name, max_side=3, max_dims=3)
    report = ag.gradcheck(BINARY[name][0], [x, y], raise_on_fail=False)
    assert report.passed, str(report)


# ---- reductions over random axis subsets -------------------------------------------------------


def np_logsumexp(x, axis, keepdims):
    m = np.max(x, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=tuple(range(x.ndim)) if axis is None else axis)


def np_extremum_grad(np_op):
    def grad(gk, x, axes):
        winners = x == np_op(x, axis=axes, keepdims=True)
        return gk * winners / winners.sum(axis=axes, keepdims=True)  # ties share equally

    return grad


# op -> (engine function, NumPy forward, elements, min side, analytic grad(gk, x, axes) where gk
# is the cotangent in keepdims form)
REDUCTIONS = {
    "sum": (ag.sum, np.sum, REAL, 0, lambda gk, x, axes: np.broadcast_to(gk, x.shape)),
    "mean": (ag.mean, np.mean, REAL, 0,
             lambda gk, x, axes: np.broadcast_to(gk, x.shape) / np.prod([x.shape[a] for a in axes],
                                                                         dtype=np.int64)),
    # small integer values: ties are common, and must share the gradient equally
    "max": (ag.max, np.max, st.integers(-3, 3).map(float), 1, np_extremum_grad(np.max)),
    "min": (ag.min, np.min, st.integers(-3, 3).map(float), 1, np_extremum_grad(np.min)),
    "logsumexp": (ag.logsumexp, np_logsumexp, floats(-1e4, 1e4) | REAL, 1,
                  lambda gk, x, axes: gk * np.exp(x - np_logsumexp(x, axes, True))),
}


@st.composite
def reduction_args(draw, min_side, elements, max_side=4, max_dims=4, unique=False):
    """(x, axis, keepdims): axis None, an int, or a tuple in any order with negative entries."""
    shape = draw(array_shapes(min_dims=0, max_dims=max_dims, min_side=min_side, max_side=max_side))
    nd = len(shape)
    subset = draw(st.lists(st.integers(0, nd - 1), unique=True, max_size=nd)) if nd else []
    subset = [a - nd if draw(st.booleans()) else a for a in subset]
    axis = draw(st.sampled_from(
        [None, tuple(subset)] + ([subset[0]] if len(subset) == 1 else [])))
    keepdims = draw(st.booleans())
    x = draw(arrays(np.float64, shape, elements=elements, unique=unique))
    return x, axis, keepdims


def _norm_axes(axis, nd):
    return tuple(range(nd)) if axis is None else tuple(
        sorted(a % nd for a in ((axis,) if isinstance(axis, int) else axis)))


@pytest.mark.parametrize("name", REDUCTIONS)
@SETTINGS
@given(data=st.data())
def test_reduction_forward_and_grad(name, data):
    op, np_op, elements, min_side, analytic = REDUCTIONS[name]
    x, axis, keepdims = data.draw(reduction_args(min_side, elements), label="x, axis, keepdims")
    axes = _norm_axes(axis, x.ndim)
    if name == "mean" and 0 in [x.shape[a] for a in axes]:
        return  # the mean of nothing is NaN (and a RuntimeWarning), in NumPy as here
    X = ag.tensor(x, requires_grad=True)
    Y = op(X, axis=axis, keepdims=keepdims)
    expected = np_op(x, axis=axis, keepdims=keepdims)
    assert Y.shape == np.shape(expected) and Y.dtype == np.float64
    np.testing.assert_allclose(Y.data, expected, rtol=1e-12, atol=1e-12 * (1 + np.abs(x).sum()))
    g = data.draw(arrays(np.float64, Y.shape, elements=REAL), label="g")
    Y.backward(g)
    gk = g if keepdims else np.expand_dims(g, axes)
    assert X.grad.shape == x.shape
    np.testing.assert_allclose(X.grad, analytic(gk, x, axes), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", REDUCTIONS)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_reduction_gradcheck(name, data):
    _, _, _, min_side, _ = REDUCTIONS[name]
    # distinct values at least 0.25 apart: no ties for max/min within the finite-difference step
    elements = st.integers(-40, 40).map(lambda k: k * 0.25)
    x, axis, keepdims = data.draw(
        reduction_args(min_side, elements, max_side=3, max_dims=3, unique=True),
        label="x, axis, keepdims")
    if name == "mean" and 0 in [x.shape[a] for a in _norm_axes(axis, x.ndim)]:
        return
    op = REDUCTIONS[name][0]
    report = ag.gradcheck(lambda t: op(t, axis=axis, keepdims=keepdims), [x], raise_on_fail=False)
    assert report.passed, f"axis={axis} keepdims={keepdims}\n{report}"


# ---- convolution and pooling over random geometries ----------------------------------------------
# Against explicit window loops (tests/op_cases.py), and gradcheck: stride 1 takes conv2d's
# flattened-input path, other strides its window-view path; avg_pool's tiles take np.repeat.


@SETTINGS
@given(st.data())
def test_conv2d_matches_window_loops_for_any_geometry(data):
    from op_cases import np_conv2d

    d = data.draw
    n, c, o = d(st.integers(1, 2)), d(st.integers(1, 3)), d(st.integers(1, 3))
    kh, kw, sh, sw = (d(st.integers(1, 3)) for _ in range(4))
    ph, pw = d(st.integers(0, 2)), d(st.integers(0, 2))
    h, w = d(st.integers(max(1, kh - 2 * ph), 6)), d(st.integers(max(1, kw - 2 * pw), 6))
    rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
    x, W = rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, kh, kw))
    b = rng.standard_normal(o) if d(st.booleans()) else None
    args = [x, W] if b is None else [x, W, b]

    def f(*a):
        return ag.conv2d(*a, stride=(sh, sw), padding=(ph, pw))

    np.testing.assert_allclose(f(*args).data, np_conv2d(x, W, b, (sh, sw), (ph, pw)), rtol=1e-10,
                               atol=1e-12)
    ag.gradcheck(f, args)


@SETTINGS
@given(st.data())
def test_avg_pool_matches_window_means_for_any_geometry(data):
    from op_cases import np_windows

    d = data.draw
    k = d(st.integers(1, 2))
    size = tuple(d(st.integers(1, 3)) for _ in range(k))
    stride = size if d(st.booleans()) else tuple(d(st.integers(1, 3)) for _ in range(k))
    shape = tuple(d(st.integers(1, 2)) for _ in range(d(st.integers(0, 2))))
    shape += tuple(s + d(st.integers(0, 3)) for s in size)
    x = np.random.default_rng(d(st.integers(0, 2**32 - 1))).standard_normal(shape)

    def f(a):
        return ag.avg_pool(a, size, stride)

    expected = np_windows(x, size, stride).mean(axis=tuple(range(-k, 0)))
    # atol: a window whose numbers nearly cancel has a large relative error in any summation order
    np.testing.assert_allclose(f(x).data, expected, rtol=1e-12, atol=1e-14)
    ag.gradcheck(f, [x])

"""Adversarial review of fusion (Note [fusion] in tracing/fusion.py): a fused replay must give
eager's values, dtypes and argument mutations (to a few ulps for exp, log, tanh...; bitwise for
+ - * /), and the plain replay (`fuse=False`) must stay bitwise eager's.

Each case runs f eagerly, `jit(f, fuse=True)` and `jit(f, fuse=False)` on copies of at least four
input sets (calls 1-2 trace, 3+ replay). The cases probe what fusion added last: operands of a run's
trailing dimensions (a bias read at `j`), in-place writes into values nobody else shows (`_owned`),
and scheduling (calls moved before or after a run, `_overwrites_read`). Some cases were bugs the
review found (a call moved before the check that guards it, float ** int, big-endian inputs, a
strided constant copied once); they pass since the fixes.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from jit_agree import _bits, _close, _leaves

import autograd_core as ag

numba = pytest.importorskip("numba")


def agree(f, inputs: list[tuple], fused: bool = True):
    """Eager f, jit(f, fuse=True) and jit(f, fuse=False) on copies of each input tuple: same
    results and same mutation of the arguments. `fused`: some run must have been fused."""
    jf, jn = ag.jit(f, fuse=True), ag.jit(f, fuse=False)
    for args in inputs:
        a_e, a_f, a_n = (copy.deepcopy(args) for _ in range(3))
        want = f(*a_e)
        got, plain = jf(*a_f), jn(*a_n)
        assert _bits(plain) == _bits(want), "fuse=False differs from eager"
        assert _bits(a_n) == _bits(a_e), "fuse=False mutated the arguments differently"
        gl, wl = _leaves(got), _leaves(want)
        assert len(gl) == len(wl)
        for k, (g, w) in enumerate(zip(gl, wl, strict=True)):
            assert type(g) is type(w), (type(g), type(w))
            _close(g, w, f"result {k}")
        for k, (g, w) in enumerate(zip(_leaves(a_f), _leaves(a_e), strict=True)):
            if isinstance(w, np.ndarray):
                _close(g, w, f"argument {k} after the call")
    assert jf.programs() and jn.programs(), "never compiled"
    if fused:
        assert any(p.runs for p in jf.programs()), f"nothing fused:\n{jf.source()}"
    return jf


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def _sets(rng, *shapes, n=4, dtype=np.float64):
    return [tuple(rng.standard_normal(s).astype(dtype) for s in shapes) for _ in range(n)]


# -- operands of the trailing dimensions (a bias) -----------------------------------------------

@pytest.mark.parametrize("xs, bs", [
    ((5, 4), (4,)),          # the usual bias
    ((5, 4), (1, 4)),        # same rank: not a trailing operand (NumPy's call instead)
    ((3, 5, 4), (3, 1, 4)),  # a broadcast in the middle: not fused, still right
    ((3, 5, 4), (5, 4)),     # two trailing dimensions: read at j < 20
    ((3, 1, 4), (1, 4)),
    ((4, 4), (4, 1)),        # a column: not a suffix of the shape
    ((6, 4, 1), (4, 1)),
    ((7,), (1,)),
    ((1, 4), (4,)),
])
def test_trailing_operand_shapes(rng, xs, bs):
    def f(x, b):
        return np.tanh(x + b) * b - x / 3.0

    fused = bs[-len(bs):] == xs[-len(bs):] and len(bs) < len(xs)
    agree(f, _sets(rng, xs, bs), fused=fused)


def test_trailing_operand_first_or_second_and_in_comparisons(rng):
    def f(x, b):
        y = b - x           # bias first
        z = np.maximum(y, b) * (x > b)  # bias in a comparison and a maximum
        return z + np.minimum(b, x), np.less_equal(b, y)

    agree(f, _sets(rng, (6, 3), (3,)))


def test_zero_dim_and_scalar_operands(rng):
    def f(x, s):
        t = x.sum()         # a 0-d traced value: not a trailing operand
        return (x * t + s) * np.float32(0.5) - np.float64(1e-3) * x

    agree(f, [(rng.standard_normal((4, 3)), rng.standard_normal(())) for _ in range(4)])


def test_two_trailing_operands_of_different_sizes_split_the_run(rng):
    def f(x, b4, b34):
        return ((x + b4) * 2.0 + b34) * 3.0 - b4

    agree(f, _sets(rng, (2, 3, 4), (4,), (3, 4)))


def test_trailing_operand_non_contiguous_and_constant(rng):
    B = rng.standard_normal((4, 3))  # a closure constant, read through a strided view
    Bcol = B[:, 1]

    def f(x, m):
        b = m[:, 0]  # a column of an argument: strided
        return (x + b) * Bcol - (x * b)

    agree(f, [(rng.standard_normal((5, 4)), rng.standard_normal((4, 2))) for _ in range(4)])


def test_trailing_operand_of_another_dtype(rng):
    def f(x, b32, bi):
        return (x + b32) * bi + (b32 > x)

    agree(f, [(rng.standard_normal((5, 3)), rng.standard_normal(3).astype(np.float32),
               rng.integers(-3, 4, 3)) for _ in range(4)])


def test_zero_size_trailing_operand(rng):
    def f(x, b):
        return (x + b) * 2.0 - b

    agree(f, _sets(rng, (3, 0), (0,)) + _sets(rng, (0, 3), (3,)), fused=False)


# -- in-place writes (`_owned`) ------------------------------------------------------------------

def test_bias_added_in_place_into_a_matmul_output(rng):
    def f(x, w, b):
        h = x @ w
        h += b
        np.maximum(h, 0.0, out=h)
        return h * 2.0 - 1.0

    agree(f, _sets(rng, (5, 3), (3, 4), (4,)))


def test_in_place_into_an_argument_is_not_owned(rng):
    def f(a, b):
        np.add(a, b, out=a)
        a *= 2.0
        return a * 3.0 + 1.0, a

    agree(f, _sets(rng, (4, 3), (4, 3)))


def test_in_place_into_a_view_of_an_argument(rng):
    def f(a, b):
        v = a[1:]
        v += b
        np.multiply(v, 2.0, out=v)
        return (a + 1.0) * b[0]

    agree(f, _sets(rng, (4, 3), (3, 3)))


def test_exp_written_into_an_argument(rng):
    def f(x, a):
        np.exp(x, out=a)
        return a * 2.0 + x

    agree(f, _sets(rng, (4,), (4,)))


def test_in_place_into_a_new_array_a_view_of_which_is_returned(rng):
    def f(x):
        y = np.exp(x) * 2.0
        row = y[0]
        col = y.T
        y += 1.0
        np.multiply(y, 3.0, out=y)
        return row, col, y * 0.5

    agree(f, _sets(rng, (3, 4)))


def test_in_place_after_a_reshape_or_asarray_view(rng):
    def f(x):
        y = x * 2.0
        flat = y.reshape(-1)
        u = np.asarray(y)  # a plain view, known by its memory
        y -= 1.0
        np.square(y, out=y)
        return flat, u, y + 1.0

    agree(f, _sets(rng, (3, 4)), fused=False)  # (y has views: written by NumPy)


def test_deferred_reduction_reads_the_value_before_an_in_place_write(rng):
    def f(x):
        y = np.exp(x) + 1.0
        m = y.max()            # deferred after the run: must see y before the write
        s = np.add.reduce(y, axis=0)
        np.multiply(y, 2.0, out=y)
        return m, s, y * 3.0

    agree(f, _sets(rng, (4, 5)))


def test_same_slot_written_many_times(rng):
    def f(x, b):
        y = x * 2.0
        y += b
        y *= 3.0
        np.exp(y, out=y)
        np.subtract(y, x, out=y)
        np.divide(b, y, out=y)
        return y, y * 1.0

    agree(f, _sets(rng, (4, 3), (3,)))


def test_in_place_into_an_owned_value_with_a_cast(rng):
    def f(x32, x64):
        y = x32 * np.float32(2.0)   # float32, a new array
        np.add(y, x64, out=y)       # computed in float64, written as float32
        y *= 3
        return y, y + x64

    agree(f, [(rng.standard_normal(6).astype(np.float32), rng.standard_normal(6))
              for _ in range(4)])


def test_in_place_into_a_reduction_output(rng):
    def f(x, b):
        s = np.add.reduce(x, axis=0)
        s += b
        s *= 0.5
        return np.tanh(s) * 2.0

    agree(f, _sets(rng, (5, 3), (3,)))


def test_in_place_into_an_owned_value_not_among_its_operands(rng):
    def f(x, z):
        y = np.exp(z) * 1.0
        w = y * x      # read y, then overwrite it with what does not read it
        np.add(x, 1.0, out=y)
        return w, y * 2.0

    agree(f, _sets(rng, (6,), (6,)))


def test_in_place_into_an_owned_value_another_run_made(rng):
    def f(x):
        y = np.exp(x) * 2.0
        s = y.sum()            # (ends nothing: deferred)
        t = np.sort(y)         # not elementwise, reads y: deferred
        y += t                 # reads a deferred value: a new run
        y *= s
        return y * 0.5

    agree(f, _sets(rng, (5,)))


def test_in_place_value_stored_in_an_outside_tensor(rng):
    p = ag.tensor(np.zeros(4))

    def f(x):
        y = np.exp(x) * 2.0
        p.data = y
        y += 1.0   # p.data shows it (same array)
        return y * 3.0

    def call(x):
        r = f(x)
        return r, p.data.copy()

    jf, jn = ag.jit(f, fuse=True), ag.jit(f, fuse=False)
    for _ in range(4):
        x = rng.standard_normal(4)
        want = call(x)
        got = jf(x), p.data.copy()
        plain = jn(x), p.data.copy()
        for g, pl, w in zip(got, plain, want, strict=True):
            np.testing.assert_array_equal(pl, w)
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=0)
    assert any(prog.runs for prog in jf.programs())


def test_the_same_array_passed_twice(rng):
    def f(a, b):
        c = b * 3.0 + 1.0   # reads b (a, the same array) before the write
        a += 1.0
        return c, b * 2.0 + 1.0  # b shows the write

    jf, jn = ag.jit(f, fuse=True), ag.jit(f, fuse=False)
    for _ in range(4):
        x = rng.standard_normal(4)
        xe, xf, xn = x.copy(), x.copy(), x.copy()
        want, got, plain = f(xe, xe), jf(xf, xf), jn(xn, xn)
        assert _bits(plain) == _bits(want)
        for g, w in zip(got, want, strict=True):
            _close(g, w, "result")
        _close(xf, xe, "argument")


def test_boolean_masks_and_comparisons_in_place(rng):
    def f(x, y):
        m = x > y
        np.less(x, 0.5, out=m)   # bool into an owned bool array
        z = m * x + (x == y)
        z += m
        return z, m

    agree(f, _sets(rng, (8,), (8,)))


# -- scheduling ----------------------------------------------------------------------------------

def test_independent_calls_are_hoisted_and_dependent_ones_deferred(rng):
    def f(x, w):
        y = np.exp(x) * 2.0
        n = w @ w.T               # independent: hoisted
        s = y.sum(axis=1)         # dependent: deferred
        z = y - 1.0
        q = n.sum() * z           # reads the hoisted value, joins
        return q, s, n

    jf = agree(f, _sets(rng, (3, 4), (3, 3)))
    assert len(jf.programs()[0].runs) == 1


def test_a_deferred_value_read_again_by_the_run(rng):
    def f(x):
        y = x * 2.0
        m = np.flip(y)            # same shape, not elementwise: deferred
        z = y + m                 # reads it: cannot join
        return z * 3.0 + y

    agree(f, _sets(rng, (6,)), fused=False)


def test_run_outputs_read_by_deferred_calls_and_returned(rng):
    def f(x):
        a = np.tanh(x)
        b = a * a
        c = 1.0 - b
        return c.sum(), np.cumsum(b), c, a

    agree(f, _sets(rng, (7,)))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_check_in_a_run_fails_at_replay(rng):
    """A bool() deferred after a run that fails at replay: the argument write before it is
    undone once (Note [undo]) and the other branch is traced."""
    calls = []

    def f(x, a):
        calls.append(1)
        a *= 2.0
        y = np.exp(x) * 2.0
        if (y > 1.0).all():
            z = y + 1.0
        else:
            z = y - 1.0
        return z * 3.0 + a

    jf = ag.jit(f, fuse=True)
    up = [np.abs(rng.standard_normal(4)) for _ in range(5)]
    down = [rng.standard_normal(4) - 3.0 for _ in range(4)]
    xs = up[:3] + down[:1] + up[3:] + down[1:]
    for x in xs:
        a = rng.standard_normal(4)
        ae, af = a.copy(), a.copy()
        want = f(x, ae)
        n = len(calls)
        got = jf(x, af)
        assert len(calls) - n <= 1  # f ran at most once
        _close(got, want, "result")
        _close(af, ae, "argument")
    assert len(jf.programs()) == 2


# a pure call after a bool() the replay checks must not be moved before the run (fusion.schedule's
# `before`), so before the check: where the check fails at replay it would raise instead of f
# taking the other branch


def test_hoisted_call_must_not_run_before_the_check_guarding_it(rng):
    def f(x, m):
        y = np.exp(x) + 1.0
        if np.linalg.det(m) != 0:
            r = np.linalg.inv(m)
        else:
            r = m
        return y * 2.0, r

    agree(f, _sets(rng, (4,), (2, 2)) + [(rng.standard_normal(4), np.ones((2, 2)))])


def test_hoisted_index_must_not_run_before_its_bounds_check(rng):
    def f(x, i):
        y = x * 2.0 + 1.0
        if (i < 4).all():
            z = x[i]
        else:
            z = x[:1]
        return y * 3.0, z

    agree(f, [(rng.standard_normal(4), rng.integers(0, 4, 4)) for _ in range(4)]
          + [(rng.standard_normal(4), np.array([0, 1, 9, 2]))])


def test_hoisted_errstate_raise_must_not_run_before_its_check(rng):
    def f(x, d):
        y = x * 2.0 + 1.0
        if (d != 0).all():
            with np.errstate(divide="raise"):
                r = 1.0 / d
        else:
            r = d
        return y * 3.0, r

    agree(f, [(rng.standard_normal(4), rng.uniform(1, 2, 4)) for _ in range(4)]
          + [(rng.standard_normal(4), np.array([1.0, 0.0, 2.0, 3.0]))])


def test_in_place_write_blocked_by_a_deferred_check(rng):
    def f(x):
        y = np.exp(x) * 2.0
        ok = (y > 100.0).any()
        if ok:
            y = y + 0.0
        y -= 1.0   # the check read y before this write
        return y * 2.0

    agree(f, [(rng.standard_normal(5) * s,) for s in (1, 1, 1, 1, 5, 5, 5)])


# -- layouts and dtypes --------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["T", "step", "reversed", "broadcast", "fortran"])
def test_non_contiguous_inputs(rng, layout):
    def f(x, y):
        return np.tanh(x * y + 1.0) - x / 2.0

    def make():
        a = rng.standard_normal((6, 8))
        x = {"T": a.T[:4, :6], "step": a[::2, ::2], "reversed": a[::-1, :4][:4],
             "broadcast": np.broadcast_to(a[0, :4], (3, 4)),
             "fortran": np.asfortranarray(a[:3, :4])}[layout]
        return x, rng.standard_normal(x.shape)

    agree(f, [make() for _ in range(4)])


@pytest.mark.parametrize("da, db", [
    (np.float32, np.float64), (np.int64, np.float64), (np.int32, np.float32), (np.int16, np.float32),
    (np.uint32, np.float32), (np.uint8, np.float32), (np.bool_, np.float32), (np.bool_, np.float64),
    (np.int8, np.float64), (np.uint32, np.int32),
])
def test_mixed_dtypes(rng, da, db):
    def f(a, b):
        return (a + b) * 1.5 - (a > b) + np.maximum(a, b) / 2, np.equal(a, b) * b

    def make(dtype, k):
        if np.dtype(dtype).kind == "b":
            return rng.integers(0, 2, 8).astype(bool)
        if np.dtype(dtype).kind in "iu":
            info = np.iinfo(dtype)
            v = np.array([16777217, 16777216, 2**31 - 1, 3, 0, 1, 100, -5], dtype=np.int64) + k
            return v.clip(info.min, info.max).astype(dtype)
        return (np.array([16777216, 16777217, 2.1e9, 3.5, -1, 1.0, 100, -5]) + k).astype(dtype)

    agree(f, [(make(da, k), make(db, 3 - k)) for k in range(4)])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # (x32 * 1e40: NumPy warns of the cast)
def test_python_and_numpy_scalars_of_other_dtypes(rng):
    def f(x32, x64, i):
        return (x32 * 0.1 + np.float64(0.1) * x32, x64 * np.float32(0.1) + x32 / 3,
                (i > 2.5) * x64 + (x32 < np.float32(0.1)), x32 * 1e40, i / 7 + x64)

    agree(f, [(rng.standard_normal(5).astype(np.float32), rng.standard_normal(5),
               rng.integers(0, 6, 5)) for _ in range(4)])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_special_values_nan_inf_signed_zero(rng):
    def f(x, y):
        return (np.maximum(x, y) * 1.0, np.minimum(x, 0.0) + 0.0, 1.0 / (x * y), np.sqrt(x) - x,
                np.log(x) * 2.0, np.maximum(x, 0.0) * -1.0)

    vals = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 1e-310])
    inputs = [(rng.permutation(vals), rng.permutation(vals)) for _ in range(5)]
    agree(f, inputs)


def test_float32_chain_with_integer_division(rng):
    def f(x, i):
        return (x / i + i / 3) * np.float32(2) - np.reciprocal(x) + np.square(x)

    agree(f, [(rng.standard_normal(6).astype(np.float32), rng.integers(1, 9, 6).astype(np.int16))
              for _ in range(4)])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_integer_division_by_zero(rng):
    def f(i, j):
        return (i / j) * 2.0 + 1.0

    agree(f, [(rng.integers(-3, 4, 6), rng.integers(-1, 2, 6)) for _ in range(4)])


@pytest.mark.parametrize("df, di, lo", [(np.float64, np.int64, -1000), (np.float32, np.int8, -100)])
def test_power_with_an_integer_exponent_array(rng, df, di, lo):
    def f(x, n):
        return np.power(x, n) * 1.0

    inputs = [(rng.uniform(0.5, 1.5, 64).astype(df), rng.integers(lo, -lo, 64).astype(di))
              for _ in range(4)]
    jf = agree(f, inputs)
    x, n = inputs[-1]
    want = f(x, n)
    ulps = np.abs(jf(x, n).astype(np.float64) - want) / np.spacing(np.abs(want))
    assert ulps.max() <= 4, ulps.max()  # Note [fusion]: transcendental functions within a few ulps


def test_power_with_float_and_literal_exponents(rng):
    def f(x, y):
        return np.power(x, y) * 1.0 + x ** 3 + np.power(x, 0.5) - np.power(2, y)

    agree(f, [(rng.uniform(0.5, 2.0, 8), rng.uniform(-3, 3, 8)) for _ in range(4)])


def test_big_endian_input(rng):
    def f(x):
        return np.exp(x) * 2.0 + 1.0

    agree(f, [(rng.standard_normal(4).astype(">f8"),) for _ in range(4)])


def test_unaligned_input(rng):
    def unaligned(n):
        buf = np.zeros(n * 8 + 1, np.uint8)
        a = np.ndarray((n,), np.float64, buffer=buf, offset=1)
        a[:] = rng.standard_normal(n)
        return a

    def f(x):
        return np.exp(x) * 2.0 + 1.0

    assert not unaligned(3).flags.aligned
    agree(f, [(unaligned(5),) for _ in range(4)])


def test_non_contiguous_constant_changed_between_calls(rng):
    B = rng.standard_normal((4, 3))
    col = B[:, 1]  # strided

    def f(x):
        return (x + col) * 2.0

    jf, jn = ag.jit(f, fuse=True), ag.jit(f, fuse=False)
    for _ in range(5):
        x = rng.standard_normal((2, 4))
        jf(x), jn(x)
    B[:, 1] += 1.0
    x = rng.standard_normal((2, 4))
    np.testing.assert_array_equal(jn(x), f(x))
    np.testing.assert_allclose(jf(x), f(x), rtol=1e-12)


# -- the engine ----------------------------------------------------------------------------------

def test_engine_layer_gradients_and_update(rng):
    W = ag.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b = ag.tensor(rng.standard_normal(4), requires_grad=True)

    def step(x):
        W.grad = b.grad = None
        h = ag.tanh(ag.linear(x, W, b))
        loss = (h * h - h).sum()
        loss.backward()
        W.data = W.data - 0.1 * W.grad
        b.data = b.data - 0.1 * b.grad
        return loss

    W0, b0 = W.data.copy(), b.data.copy()
    xs = [rng.standard_normal((5, 3)) for _ in range(6)]
    want = []
    for x in xs:
        want.append((step(x).data.copy(), W.data.copy(), b.data.copy()))
    W.data, b.data = W0.copy(), b0.copy()
    js = ag.jit(step, fuse=True)
    for x, (l, w, bb) in zip(xs, want, strict=True):
        got = js(x).data.copy()
        np.testing.assert_allclose(got, l, rtol=1e-12)
        np.testing.assert_allclose(W.data, w, rtol=1e-12)
        np.testing.assert_allclose(b.data, bb, rtol=1e-12)
    assert any(p.runs for p in js.programs())


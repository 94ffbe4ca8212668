"""`ag.jit` against eager, for every row of the op table (tests/op_cases.py): the values and
gradients of a jitted ``value_and_grad`` of the row's op equal those of calling it eagerly, on
the two calls that trace it and on the calls that replay the compiled program (Note [tracing]);
so do those of the row's op alone, jitted on Tensor arguments.

Each row runs in float64 on four input sets drawn afresh: the first two calls of the signature
trace (and must be the same program, or `jit` never compiles: a NumPy call the tracer could not
see froze a value), the third and fourth replay. Replay runs the same NumPy calls as eager, so
the results are expected to be bitwise equal: these tests replay with ``fuse=False`` (plain
NumPy), whether or not numba is installed. `test_fused_value_and_grad_matches_eager` checks the
fused replay (Note [fusion]) on the elementwise rows, with a tolerance.
"""

import math

import numpy as np
import pytest
from op_cases import OP_CASES, leaves

import autograd_core as ag
from autograd_core import kernels
from autograd_core.tracing import fusion

N_CALLS = 4  # two traced calls, then two replays

# Ops whose rule loops in Python until the values pass a threshold (digamma's recurrence, also
# in gammaln's VJP): each loop count is a program of its own, so a signature compiles only once
# two calls take the same count. Their values must still match eager at every call.
VALUE_LOOPS = {"grad": {"digamma", "polygamma", "gammaln"}, "forward": {"digamma", "polygamma"}}
# rows whose output shape depends on the input's values (a mask's count): one program per shape,
# so they retrace whenever the count is new (values are still checked on every call)
VALUE_SHAPES = {"getitem-tensor_mask"}


def _rows(mode: str) -> list:
    return list(OP_CASES)


def _arrays(res) -> list[np.ndarray]:
    """The arrays of a result: a Tensor's data, and those of a (nested) tuple of them."""
    if isinstance(res, ag.Tensor):
        return [res.data]
    if isinstance(res, (tuple, list)):
        return [a for r in res for a in _arrays(r)]
    return [np.asarray(res)]


def _assert_same(got, want, case, call: int, rtol: float = 0.0) -> None:
    """Same shapes and dtypes, and values bitwise equal (or within `rtol` for floats)."""
    got, want = _arrays(got), _arrays(want)
    assert len(got) == len(want), f"{case!r} call {call}: {len(got)} results, eager gives {len(want)}"
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        where = f"{case!r} call {call}, result {k}"
        assert g.shape == w.shape and g.dtype == w.dtype, \
            f"{where}: {g.shape} {g.dtype}, eager {w.shape} {w.dtype}"
        if rtol and w.dtype.kind in "fc":
            np.testing.assert_allclose(g, w, rtol=rtol, atol=0, equal_nan=True, err_msg=where)
        else:
            assert np.array_equal(g, w, equal_nan=True), f"{where}: differs from eager\n{g}\n{w}"


def _check(case, f, jf, input_sets, mode: str, rtol: float = 0.0) -> None:
    loops = case.name in VALUE_LOOPS[mode] or str(case) in VALUE_SHAPES
    for call, xs in enumerate(input_sets, 1):
        _assert_same(jf(*xs), f(*xs), case, call, rtol)
        if call == 3 and not loops:
            assert jf.programs(), f"{case!r}: not compiled after {call} calls (it retraced)"
    if not loops:
        assert jf.traces == 2, f"{case!r}: traced {jf.traces} times, expected 2"


def _weighted_value_and_grad(case, rng, input_sets):
    """``value_and_grad`` of the row's output reduced to a scalar by a fixed random weighting
    (as gradcheck projects it), or None when no input is a float to differentiate."""
    argnums = tuple(case.float_inputs(input_sets[0]))
    if not argnums:
        return None
    # one weight for all when the output's shape depends on the input's values (a mask's selection)
    shapes = {case.call(*leaves(xs, requires_grad=False)).shape for xs in input_sets}
    w = rng.standard_normal(shapes.pop() if len(shapes) == 1 else ())

    def loss(*xs):
        return ag.sum(case.call(*xs) * w)

    def f(*xs):
        return ag.value_and_grad(loss, argnums=argnums)(*xs)
    return f


@pytest.mark.parametrize("case", _rows("grad"), ids=str)
def test_jit_value_and_grad_matches_eager(case, rng):
    input_sets = [case.inputs(rng) for _ in range(N_CALLS)]
    f = _weighted_value_and_grad(case, rng, input_sets)
    if f is None:
        pytest.skip("no float input to differentiate")
    _check(case, f, ag.jit(f, fuse=False), input_sets, "grad")


# ops whose forward and derivative are elementwise NumPy ufuncs that fusion compiles
# (fusion._SCALAR), or compositions of them
ELEMENTWISE = {"add", "subtract", "multiply", "divide", "negative", "power", "exp", "log", "log1p",
               "expm1", "sqrt", "tanh", "sigmoid", "sigmoid_slope", "abs", "relu", "identity", "clip",
               "maximum", "minimum", "square", "reciprocal", "sin", "cos", "softplus", "logit"}


def _fused_rows() -> list:
    """The rows of the elementwise ops whose result has at least one element (a 0-d or empty
    result is not fused)."""
    rows = []
    for case in OP_CASES:
        try:
            shape = np.broadcast_shapes(*case.shapes)
        except ValueError:
            continue
        if case.name in ELEMENTWISE and shape and math.prod(shape):
            rows.append(case)
    return rows


@pytest.mark.parametrize("case", _fused_rows(), ids=str)
def test_fused_value_and_grad_matches_eager(case, rng):
    """The elementwise rows replayed with their NumPy calls fused into numba kernels (Note
    [fusion]). + - * / are bitwise NumPy's there, but a kernel computes exp, log, tanh... with
    the C library's functions, one element at a time, where NumPy uses its own SIMD versions:
    they may differ in the last few bits, so float results are compared with rtol=1e-13 (a few
    ulps of float64, carried through the gradient's few operations) and no atol."""
    pytest.importorskip("numba")
    input_sets = [case.inputs(rng) for _ in range(N_CALLS)]
    f = _weighted_value_and_grad(case, rng, input_sets)
    jf = ag.jit(f, fuse=True)
    _check(case, f, jf, input_sets, "grad", rtol=1e-13)
    # (something fused, or the elementwise chain was all constants: the weighting times the seed,
    # folded once by the program, Note [folding])
    assert any(p.runs or p.folded for p in jf.programs()), f"{case!r}: nothing fused\n{jf.source()}"
    assert all(len(r.members) >= fusion.MIN_RUN for p in jf.programs() for r in p.runs)


@pytest.mark.parametrize("case", _rows("forward"), ids=str)
def test_jit_forward_matches_eager(case, rng):
    """The row's op alone, jitted on Tensor arguments (no gradient taken)."""
    input_sets = [leaves(case.inputs(rng), requires_grad=False) for _ in range(N_CALLS)]
    _check(case, case.call, ag.jit(case.call, fuse=False), input_sets, "forward")


def test_cached_constant_made_in_a_trace_stays_plain(rng):
    """A constant the engine caches (avg_pool's pooling matrix) is made by NumPy's own np.zeros
    even while a trace runs: a traced array in a cache would break every later call."""
    kernels._pool_matrix.cache_clear()
    jf = ag.jit(lambda x: ag.avg_pool(x, (2, 2)), fuse=False)
    xs = [rng.standard_normal((2, 3, 4, 4)) for _ in range(3)]
    for x in xs:
        _assert_same(jf(x), ag.avg_pool(x, (2, 2)), "avg_pool", 0)
    assert jf.programs()


def test_a_branch_on_which_values_are_negative_is_replayed():
    """digamma computes its reflection for x <= 0 only when there is such an x: that branch is a
    check the replay repeats (a traced program of positive inputs must not run on a negative)."""
    jf = ag.jit(ag.special.digamma, fuse=False)
    for x in ([11.5, 12.0], [11.25, 13.0], [11.5, -0.5], [12.5, -1.5]):
        x = np.array(x)
        _assert_same(jf(x), ag.special.digamma(x), "digamma", 0)
    assert jf.programs()

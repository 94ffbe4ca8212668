"""Generic checks over the op table (tests/op_cases.py): one test per property, one row per way
to call an op. A primitive without a row fails `test_every_primitive_has_a_case`."""

import operator

import numpy as np
import pytest
from op_cases import COMPOSITES, OP_CASES, leaves

import autograd_core as ag
from autograd_core import rules


def test_every_primitive_has_a_case():
    covered = {case.name for case in OP_CASES}
    missing = sorted(set(rules.PRIMITIVES) - covered)
    assert not missing, f"primitives without an OpCase row in tests/op_cases.py: {missing}"


def test_case_ids_are_unique():
    ids = [str(case) for case in OP_CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


@pytest.mark.parametrize("case", OP_CASES, ids=str)
def test_records_the_named_op(case, rng):
    """A row tests the op it names (no `log2` checked under `log10`'s name)."""
    with ag.Tape() as tape:
        case.call(*leaves(case.inputs(rng)))
    recorded = [node.op for node in tape]
    if case.name in rules.PRIMITIVES:
        assert case.name in recorded, f"{case!r} records {recorded}"
    else:
        public = operator.attrgetter(case.name)  # "linalg.norm" is ag.linalg.norm
        assert case.name in COMPOSITES and public(ag), f"{case!r}: unknown op name"


@pytest.mark.parametrize("case", OP_CASES, ids=str)
def test_forward_matches_numpy(case, rng):
    if case.numpy_ref is None:
        pytest.skip("no NumPy reference for this case")
    arrays = case.inputs(rng)
    out = case.call(*leaves(arrays))
    expected = case.numpy_ref(*arrays)
    assert isinstance(out, ag.Tensor)
    assert out.shape == np.shape(expected), f"{case!r}"
    assert out.dtype == np.result_type(expected), f"{case!r}"
    assert np.all(np.isfinite(out.data)), f"{case!r}: non-finite forward"
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12, err_msg=repr(case))


# rows that call a Tensor method (`x.exp()`): an ndarray has no such method
FUNCTION_CASES = [case for case in OP_CASES if "method" not in case.id]


@pytest.mark.parametrize("case", FUNCTION_CASES, ids=str)
def test_plain_arrays_in_plain_array_out(case, rng):
    """Called on arrays an op is its NumPy function (the path every first-order VJP takes, with
    its own shortcuts in transpose, reshape, sum and sum_to): the same values and dtype as on
    Tensors, and nothing recorded."""
    arrays = case.inputs(rng)
    expected = case.call(*leaves(arrays))
    with ag.Tape() as tape:
        out = case.call(*arrays)
    assert type(out) is not ag.Tensor and not list(tape), f"{case!r}"
    assert np.shape(out) == expected.shape and np.result_type(out) == expected.dtype, f"{case!r}"
    np.testing.assert_array_equal(out, expected.data, err_msg=repr(case))


@pytest.mark.parametrize("case", OP_CASES, ids=str)
def test_vjp_matches_central_differences(case, rng):
    report = ag.gradcheck(case.call, case.inputs(rng), raise_on_fail=False, **case.check)
    assert report.passed, f"{case!r}\n{report}"


@pytest.mark.parametrize("case", OP_CASES, ids=str)
def test_second_derivatives_match_central_differences(case, rng):
    if case.gradgrad:
        pytest.skip(case.gradgrad)
    report = ag.gradgradcheck(case.call, case.inputs(rng), raise_on_fail=False, **case.check)
    assert report.passed, f"{case!r}\n{report}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", OP_CASES, ids=str)
def test_dtype_kept_and_grad_shapes(case, dtype, rng):
    """float32 in, float32 out and float32 grads (float64 likewise); grads have inputs' shapes."""
    arrays = case.inputs(rng, dtype)
    ts = leaves(arrays)
    out = case.call(*ts)
    assert out.dtype == (case.out_dtype or np.dtype(dtype)), f"{case!r}"
    ag.sum(out).backward()
    for i in case.float_inputs(arrays):
        grad = ts[i].grad
        if case.no_grad and grad is None:
            continue  # the rule gives no cotangent (derivative 0 a.e.): .grad stays None
        assert grad is not None, f"{case!r}: input {i} got no grad"
        assert isinstance(grad, np.ndarray), f"{case!r}: input {i} grad is {type(grad).__name__}"
        assert grad.shape == arrays[i].shape, f"{case!r}: input {i}"
        assert grad.dtype == arrays[i].dtype, f"{case!r}: input {i}"
        if case.no_grad:
            assert not grad.any()

"""No silent gradient loss (API.md): a Tensor that requires grad never becomes a plain array inside a
computation. Each case here returned a wrong gradient (0, or the real part's) before it was fixed;
now it is differentiated or refused with an error naming the op or the NumPy function."""

import numpy as np
import pytest

import autograd_core as ag


def scalar(v=0.3):
    return ag.tensor(np.float64(v), requires_grad=True)


# ---- lists and tuples holding Tensors ------------------------------------------------------------

LIST_CASES = {
    "mean": lambda x: ag.mean([x, x + 2]),
    "sum": lambda x: ag.sum([x, x]),
    "max": lambda x: ag.max((x, x * 2)),
    "exp": lambda x: ag.sum(ag.exp([x])),
    "multiply": lambda y: ag.sum(ag.multiply(np.ones(1), [y])),
    "where": lambda y: ag.sum(ag.where(np.array([True, False]), [y, y], 0.0)),
    "add": lambda y: ag.sum(ag.tensor(np.ones(1)) + [y]),
    "concatenate": lambda y: ag.sum(ag.concatenate([np.ones(2), [[y]][0]])),
}


@pytest.mark.parametrize("op", sorted(LIST_CASES))
def test_a_list_holding_tensors_is_refused_naming_the_op(op):
    with pytest.raises(TypeError, match=rf"^{op}: input \d is a list or tuple holding Tensors.*ag\.stack"):
        ag.grad(LIST_CASES[op])(np.float64(0.3))


def test_the_error_says_how_to_write_it_and_that_way_differentiates():
    assert ag.grad(lambda x: ag.mean(ag.stack([x, x + 2])))(np.float64(0.3)).item() == 1.0


def test_a_list_of_plain_numbers_is_still_an_array():
    x = scalar()
    out = ag.multiply(x, [1.0, 2.0])
    out.sum().backward()
    assert x.grad == 3.0


def test_a_tensor_in_a_primitives_keyword_arguments_is_refused():
    @ag.primitive
    def scale(x, *, by):
        return x * by

    scale.defvjp(lambda g, ans, x, *, by: (g * by,))
    with pytest.raises(TypeError, match="scale: keyword argument 'by' holds a Tensor"):
        scale(scalar(), by=scalar(2.0))


# ---- einsum: sublist form and repeated indices -----------------------------------------------------


def test_einsum_sublist_form_matches_the_string_form_with_gradients():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    ga = ag.grad(lambda a, b: ag.sum(ag.einsum(a, [0, 1], b, [1, 2], [0, 2]) ** 2), argnums=(0, 1))(a, b)
    gs = ag.grad(lambda a, b: ag.sum(ag.einsum("ij,jk->ik", a, b) ** 2), argnums=(0, 1))(a, b)
    for u, v in zip(ga, gs, strict=True):
        np.testing.assert_allclose(u.data, v.data)
    np.testing.assert_array_equal(ag.einsum(a, [0, 1], [1, 0]).data, np.einsum(a, [0, 1], [1, 0]))
    np.testing.assert_array_equal(
        ag.grad(lambda a: ag.sum(ag.einsum(a, [0, 1], [1, 0])))(np.ones((2, 2))).data, np.ones((2, 2)))


def test_einsum_sublist_with_an_ellipsis_and_a_bad_sublist():
    x = np.arange(12.0).reshape(2, 2, 3)
    np.testing.assert_array_equal(ag.einsum(x, [Ellipsis, 0], [0, Ellipsis]).data,
                                  np.einsum(x, [Ellipsis, 0], [0, Ellipsis]))
    with pytest.raises(ValueError, match="einsum: a sublist holds integers"):
        ag.einsum(x, [0, 1, 99])


@pytest.mark.parametrize("subscripts, shapes", [
    ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("iij->j", [(3, 3, 2)]), ("iii", [(2, 2, 2)]),
    ("...ii,...i->...", [(2, 3, 3), (3,)]), ("ij,jj->i", [(2, 3), (3, 3)]),
])
def test_einsum_repeated_indices_have_gradients_of_first_and_second_order(subscripts, shapes):
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal(s) for s in shapes]

    def f(*ts):
        return ag.einsum(subscripts, *ts) ** 2

    np.testing.assert_allclose(f(*xs).data, np.einsum(subscripts, *xs) ** 2)
    ag.gradcheck(f, xs)
    ag.gradgradcheck(f, xs)


def test_einsum_diagonal_gradient_is_the_identity():
    g = ag.grad(lambda a: ag.sum(ag.einsum("ii->i", a)))(np.ones((3, 3)))
    np.testing.assert_array_equal(g.data, np.eye(3))


# ---- complex values --------------------------------------------------------------------------------


def test_a_complex_constant_in_a_recorded_computation_raises():
    with pytest.raises(TypeError, match="multiply: complex result"):
        ag.grad(lambda x: x * (1.0 + 0.2j))(1.0)


def test_complex_values_without_gradient_are_left_alone():
    t = ag.tensor(np.ones(2))
    assert (t * (1.0 + 0.2j)).dtype.kind == "c"


# ---- NumPy's functions on Tensors --------------------------------------------------------------------


def test_np_sum_runs_the_engines_sum_and_returns_a_differentiable_tensor():
    x = ag.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    out = np.sum(x, axis=0, keepdims=True)
    assert isinstance(out, ag.Tensor) and out.node.op == "sum" and out.shape == (1, 3)
    (np.sum(x) * 2).backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))


def test_numpy_arguments_the_engine_op_lacks_are_refused_by_name():
    x = ag.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(TypeError, match="np.sum with Tensors runs ag.sum, which takes no 'dtype'"):
        np.sum(x, dtype=np.float32)
    with pytest.raises(TypeError, match=r"np.multiply\(\.\.\., out=\.\.\.\) with Tensors"):
        np.multiply(x, 2.0, out=np.empty(3))
    assert isinstance(np.sum(x, out=None), ag.Tensor)  # NumPy's default passed explicitly


def test_an_ndarray_on_the_left_of_an_operator_gives_a_tensor():
    x = ag.tensor(np.ones(2), requires_grad=True)
    out = np.array([1.0, 2.0]) * x + np.ones(2)
    assert isinstance(out, ag.Tensor) and out.requires_grad
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 2.0])
    less = np.zeros(2) < x
    assert isinstance(less, ag.Tensor) and less.dtype == bool and not less.requires_grad


def test_numpy_functions_without_a_gradient_to_lose_run_on_the_data():
    x = ag.tensor(np.array([3.0, 1.0, np.nan]), requires_grad=True)
    assert np.argmax(np.array([0.0, 2.0, 1.0]) + 0 * x[:1]) in (1,)
    assert np.shape(x) == (3,) and np.ndim(x) == 1
    isnan = np.isnan(x)
    assert isinstance(isnan, ag.Tensor) and isnan.data.tolist() == [False, False, True]
    assert np.count_nonzero(x > 0) == 2


def test_a_numpy_function_with_no_engine_op_is_refused_when_a_gradient_would_be_lost():
    x = ag.tensor(np.array([3.0, 1.0, 2.0]), requires_grad=True)
    with pytest.raises(TypeError, match="np.median on a Tensor that requires grad"):
        np.median(x)
    with pytest.raises(TypeError, match="np.add.accumulate on a Tensor that requires grad"):
        np.add.accumulate(x)
    with ag.no_grad():
        assert np.median(x) == 2.0
    assert np.median(ag.tensor([3.0, 1.0, 2.0])) == 2.0  # nothing to differentiate


def test_explicit_conversion_stays_explicit():
    """A Tensor that requires grad becomes an array only explicitly (as in PyTorch and JAX):
    np.asarray/np.array of it, of a list holding it, or a[i] = t is a TypeError naming the
    explicit ways; under no_grad, or for a Tensor that requires no grad, it converts."""
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = ag.tensor(np.array([3.0, 4.0]), requires_grad=True)
    explicit = r"t\.data, t\.numpy\(\) or t\.detach\(\)"
    with pytest.raises(TypeError, match=explicit):
        np.asarray(x)
    with pytest.raises(TypeError, match=explicit):
        np.array(x)
    with pytest.raises(TypeError, match=explicit):
        np.array([x, y])
    a = np.zeros((2, 2))
    with pytest.raises(TypeError, match=explicit):
        a[0] = x
    assert not a.any()  # nothing was written
    # the explicit ways to the values
    assert x.numpy() is x.data and type(x.data) is np.ndarray
    np.testing.assert_array_equal(x.detach().data, [1.0, 2.0])
    with ag.no_grad():
        got = np.asarray(x)
        assert type(got) is np.ndarray and got is x.data
        np.testing.assert_array_equal(np.array([x, y]), [[1.0, 2.0], [3.0, 4.0]])
    # a Tensor that requires no grad has no gradient to lose
    c = ag.tensor(np.array([5.0, 6.0]))
    got = np.asarray(c)
    assert type(got) is np.ndarray and got is c.data
    a[1] = c
    np.testing.assert_array_equal(a, [[0.0, 0.0], [5.0, 6.0]])


# every op row called as ag.<name> whose name NumPy has: NumPy's function runs the engine's op
def _numpy_named_rows():
    from op_cases import OP_CASES

    from autograd_core import rules

    rows = []
    for case in OP_CASES:
        name = next((n for n in rules.OPS if case.call is getattr(ag, n)), None)
        if name and callable(getattr(np, name, None)) and name != "array":
            rows.append(pytest.param(case, name, id=str(case)))
    return rows


@pytest.mark.parametrize("case, name", _numpy_named_rows())
def test_numpys_function_on_tensors_is_the_engines_op(case, name, rng):
    from op_cases import leaves

    arrays = case.inputs(rng)
    ours, theirs = leaves(arrays), leaves(arrays)
    expected = getattr(ag, name)(*ours)
    got = getattr(np, name)(*theirs)
    outs = (got,) if isinstance(got, ag.Tensor) else tuple(got)
    assert all(isinstance(o, ag.Tensor) for o in outs), f"np.{name} gave {type(got).__name__}"
    expected = (expected,) if isinstance(expected, ag.Tensor) else tuple(expected)
    for e, o in zip(expected, outs, strict=True):
        np.testing.assert_array_equal(o.data, e.data)
    if case.no_grad:
        return
    ag.sum(ag.stack([ag.sum(e) for e in expected])).backward()
    ag.sum(ag.stack([ag.sum(o) for o in outs])).backward()
    for t_ours, t_theirs in zip(ours, theirs, strict=True):
        if t_ours.requires_grad:
            np.testing.assert_array_equal(t_theirs.grad, t_ours.grad)


def test_np_linalg_and_np_dot_on_tensors_differentiate():
    rng = np.random.default_rng(3)
    a = ag.tensor(rng.standard_normal((3, 3)) + 3 * np.eye(3), requires_grad=True)
    v = ag.tensor(rng.standard_normal(3), requires_grad=True)
    out = np.dot(np.linalg.inv(a), v)
    assert isinstance(out, ag.Tensor) and out.requires_grad
    ag.sum(out).backward()
    expected = ag.grad(lambda a, v: ag.sum(ag.dot(ag.linalg.inv(a), v)), argnums=(0, 1))(a.data, v.data)
    np.testing.assert_allclose(a.grad, expected[0].data)
    np.testing.assert_allclose(v.grad, expected[1].data)
    assert isinstance(np.sin(v), ag.Tensor) and np.sin(v).node.op == "sin"

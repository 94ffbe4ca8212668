"""NumPy code ported as a user would write it, where the engine's NumPy surface (#15) gave a wrong
answer, a wrong shape or an error that did not name the op. Each test is the user's snippet."""

import numpy as np
import pytest

import autograd_core as ag


def requires_grad(a):
    return ag.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


# ---- NumPy's functions called on Tensors (numpy_dispatch.py) --------------------------------------


def test_np_where_with_a_condition_only_gives_the_indices_as_numpy_does():
    x = requires_grad([1.0, -2.0, 3.0])
    idx = np.where(x > 0)  # NumPy: np.nonzero(cond), a tuple of index arrays
    assert isinstance(idx, tuple) and len(idx) == 1
    np.testing.assert_array_equal(idx[0], [0, 2])
    picked = x[np.where(x > 0)]
    assert picked.shape == (2,)  # not (1, 2): the indices were once a 2-D Tensor
    ag.sum(picked).backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 1.0])


def test_np_pad_passes_constant_values_to_the_engines_pad():
    x = requires_grad([1.0, 2.0])
    out = np.pad(x, 1, "constant", constant_values=5.0)
    np.testing.assert_array_equal(out.data, [5.0, 1.0, 2.0, 5.0])
    ag.sum(out * out).backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    with pytest.raises(TypeError, match="np.pad with Tensors runs ag.pad, which takes no 'reflect_type'"):
        np.pad(x, 1, "reflect", reflect_type="odd")


def test_a_ufunc_argument_the_engine_lacks_is_refused_naming_the_op():
    x = requires_grad([1.0, 2.0])
    # (was AttributeError: 'Primitive' object has no attribute '__name__')
    with pytest.raises(TypeError, match="np.exp with Tensors runs ag.exp, which takes no dtype argument"):
        np.exp(x, dtype=np.float64)
    with pytest.raises(TypeError, match="np.add with Tensors runs ag.add, which takes no casting argument"):
        np.add(x, 1.0, casting="unsafe")


def test_np_zeros_like_of_a_tensor_that_requires_grad_is_a_constant():
    x = requires_grad([1.0, -2.0, 3.0])
    acc = np.zeros_like(x)  # the accumulator idiom: its value does not depend on x
    for c in (1.0, 2.0, 3.0):  # Horner: x² + 2x + 3
        acc = acc * x + c
    np.testing.assert_array_equal(np.ones_like(x), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(np.full_like(x, 2.5), [2.5, 2.5, 2.5])
    ag.sum(acc).backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data + 2)
    with pytest.raises(TypeError, match="np.full_like on a Tensor that requires grad"):
        np.full_like(x, x[0])  # the fill value carries a gradient


IN_PLACE = {
    "np.add.at into an array": lambda x: np.add.at(np.zeros(3), [0, 0], x),  # scatter-add of values
    "np.add.at into a Tensor": lambda x: np.add.at(x, [0], 1.0),
    "np.copyto": lambda x: np.copyto(np.zeros(2), x),
    "np.copyto into a Tensor": lambda x: np.copyto(x, 5.0),
    "np.put": lambda x: np.put(np.zeros(3), [0, 2], x),
    "np.putmask": lambda x: np.putmask(np.zeros(2), [True, False], x),
    "np.place": lambda x: np.place(np.zeros(2), [True, True], x),
    "np.put_along_axis": lambda x: np.put_along_axis(np.zeros((2, 2)), np.array([[0], [1]]), x[:, None], 1),
    "np.fill_diagonal into a Tensor": lambda x: np.fill_diagonal(ag.reshape(ag.tile(x, 2), (2, 2)), 0.0),
    "np.nancumsum(out=)": lambda x: np.nancumsum(x, out=np.zeros(2)),
}


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_numpy_functions_writing_in_place_are_refused_before_they_write(name):
    # they returned None: a Tensor's values went into an array without a gradient (the gradient
    # through it was silently 0), or a Tensor's own data was changed under the graph
    x = requires_grad([1.0, 2.0])
    with pytest.raises(TypeError, match=r"with Tensors writes in place"):
        IN_PLACE[name](x)
    np.testing.assert_array_equal(x.data, [1.0, 2.0])


# ---- array-likes (lists of numbers) where NumPy takes them -----------------------------------------

ARRAY_LIKES = {
    "split": lambda m: ag.split(m, 2, axis=1)[1], "array_split": lambda m: ag.array_split(m, 2)[0],
    "flip": lambda m: ag.flip(m), "diff": lambda m: ag.diff(m, axis=0), "sort": lambda m: ag.sort(m),
    "take_along_axis": lambda m: ag.take_along_axis(m, np.array([[1], [0]]), axis=1),
    "diag": lambda m: ag.diag(m[0]), "special.logit": lambda m: ag.special.logit(m),
}


@pytest.mark.parametrize("name", sorted(ARRAY_LIKES))
def test_a_list_of_numbers_works_as_in_numpy(name):
    data = [[0.25, 0.5], [0.75, 0.125]]
    got = ARRAY_LIKES[name](data)  # was: "list indices must be integers", or 'list' has no 'ndim'
    np.testing.assert_array_equal(got, ARRAY_LIKES[name](np.array(data)))


def test_a_list_holding_tensors_is_refused_naming_the_op_called():
    x = requires_grad(0.5)
    with pytest.raises(TypeError, match=r"^diff: input 0 is a list or tuple holding Tensors"):
        ag.diff([x, 2 * x])
    with pytest.raises(TypeError, match=r"^flip: input 0 is a list or tuple holding Tensors"):
        ag.flip([x, 2 * x])


def test_np_diff_of_a_mask_counts_sign_changes_as_numpy_does():
    x = requires_grad([1.0, -2.0, 3.0, 4.0])
    changes = np.diff(x > 0)  # NumPy: a[1:] != a[:-1] for bools (was: boolean subtract TypeError)
    np.testing.assert_array_equal(changes.data, [True, True, False])
    np.testing.assert_array_equal(ag.diff([True, False, False], n=2), np.diff([True, False, False], n=2))
    assert np.count_nonzero(np.diff(np.sign(x))) == 2


def test_trace_of_a_vector_names_trace():
    with pytest.raises(ValueError, match="^trace: needs an array of at least 2 dimensions"):
        ag.trace(requires_grad([1.0, 2.0]))  # (was named "diagonal")


# ---- special.logsumexp with weights: SciPy drops a zero weight's term --------------------------------


def test_logsumexp_with_a_zero_weight_ignores_that_term_however_large():
    # a mask as weights, the masked (padding) entry far above the others
    a = np.array([1000.0, 0.0, 1.0])
    b = np.array([0.0, 1.0, 1.0])
    expected = np.log(np.exp(0.0) + np.exp(1.0))
    np.testing.assert_allclose(ag.special.logsumexp(a, b=b), expected, rtol=1e-15)  # was nan
    ga = ag.grad(lambda a: ag.special.logsumexp(a, b=b))(a)
    np.testing.assert_allclose(ga.data, [0.0, 1 / (1 + np.e), np.e / (1 + np.e)], rtol=1e-14)
    ag.gradcheck(lambda a: ag.special.logsumexp(a, b=b), [np.array([3.0, 0.0, 1.0])])
    ag.gradgradcheck(lambda a: ag.special.logsumexp(a, b=b), [np.array([3.0, 0.0, 1.0])])


def test_logsumexp_mask_in_float32_and_the_weights_gradient():
    a32 = np.array([0.0, -100.0, -101.0], np.float32)
    m = np.array([0.0, 1.0, 1.0], np.float32)
    out = ag.special.logsumexp(a32, b=m)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.logaddexp(-100.0, -101.0), rtol=1e-6)
    g = ag.grad(lambda a: ag.special.logsumexp(a, b=m))(a32)
    assert np.isfinite(g.data).all() and g.data[0] == 0.0
    # d/db_i log Σ b e^a = e^(a_i - lse): a zero weight still has its slope
    a = np.array([0.5, -1.0, 2.0])
    b = np.array([0.0, 1.0, 2.0])
    gb = ag.grad(lambda b: ag.special.logsumexp(a, b=b))(b)
    lse = np.log(np.exp(-1.0) + 2 * np.exp(2.0))
    np.testing.assert_allclose(gb.data, np.exp(a - lse), rtol=1e-14)
    ag.gradcheck(lambda a, b: ag.special.logsumexp(a, b=b), [a, np.array([0.0, 1.0, 2.0])])


def test_logsumexp_with_a_python_number_as_weight_keeps_float32():
    a32 = np.array([0.5, 1.0, 2.0], np.float32)
    out = ag.special.logsumexp(ag.tensor(a32, requires_grad=True), b=0.5)  # was float64
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, np.log(0.5 * np.exp(a32.astype(np.float64)).sum()), rtol=1e-6)


# ---- outside the NumPy-surface files (see the review report) ----------------------------------------


@pytest.mark.parametrize("subscripts, shapes", [
    ("iij,kj->ik", [(3, 3, 1), (2, 4)]),  # j: size 1 in the first operand, 4 in the second
    ("ij->j", [(0, 3)]),  # i: an empty axis summed over
])
def test_einsum_gradient_where_one_operand_broadcasts_a_letter(subscripts, shapes):
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(s) for s in shapes]
    grads = ag.grad(lambda *ts: ag.sum(ag.einsum(subscripts, *ts)), argnums=tuple(range(len(xs))))(*xs)
    assert [g.shape for g in grads] == list(shapes)


def test_ag_where_with_a_condition_only():
    x = requires_grad([1.0, -2.0, 3.0])
    try:
        idx = ag.where(x > 0)
    except TypeError:
        return  # refusing is fine too
    assert isinstance(idx, tuple)


def test_expand_dims_out_of_range_axis_is_refused():
    with pytest.raises(ValueError, match="expand_dims"):
        ag.expand_dims(requires_grad([1.0, 2.0]), 5)  # NumPy: AxisError


def test_np_mean_of_a_list_of_tensors_does_not_lose_the_gradient():
    # NumPy converts a list holding Tensors through Tensor.__array__ before any protocol is
    # consulted: __array__ refuses a Tensor that requires grad, naming the explicit ways
    with pytest.raises(TypeError, match=r"requires grad.*ag\.stack"):
        ag.grad(lambda x: np.mean([x, x + 2]))(np.float64(0.3))

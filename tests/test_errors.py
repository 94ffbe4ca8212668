"""Misuse raises a built-in exception type whose message names the op, the shapes and the fix."""

import re

import numpy as np
import pytest

import autograd_core as ag


@pytest.mark.parametrize("data", [np.array([1, 2]), [1, 2], 3, np.array([True, False]), True])
def test_requires_grad_on_int_or_bool_data(data):
    with pytest.raises(TypeError, match="only floating-point Tensors can require grad") as info:
        ag.tensor(data, requires_grad=True)
    assert type(info.value) is TypeError
    assert re.search(r"int|bool", str(info.value))


def test_matmul_shape_mismatch_names_op_and_shapes():
    a = ag.tensor(np.ones((2, 3)), requires_grad=True)
    b = ag.tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"matmul") as info:
        a @ b
    assert type(info.value) is ValueError
    assert "(2, 3)" in str(info.value) and "(4, 5)" in str(info.value)


def test_add_broadcast_mismatch_names_op_and_shapes():
    a = ag.tensor(np.ones((2, 3)))
    b = ag.tensor(np.ones(4))
    with pytest.raises(ValueError, match=r"^add") as info:
        a + b
    assert type(info.value) is ValueError
    assert "(2, 3)" in str(info.value) and "(4,)" in str(info.value)


def test_backward_on_non_scalar_without_grad():
    y = ag.exp(ag.tensor(np.ones((2, 3)), requires_grad=True))
    with pytest.raises(RuntimeError, match=r"needs `grad`") as info:
        y.backward()
    assert type(info.value) is RuntimeError
    assert "(2, 3)" in str(info.value)


def test_backward_with_wrong_shape_grad():
    y = ag.exp(ag.tensor(np.ones((2, 3)), requires_grad=True))
    msg = r"grad has shape \(3, 2\) but the Tensor has shape \(2, 3\)"
    with pytest.raises(ValueError, match=msg):
        y.backward(np.ones((3, 2)))


def test_backward_on_tensor_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ag.tensor(np.ones(2)).sum().backward()


def test_second_backward_over_released_graph():
    x = ag.tensor(np.array([0.5, 1.0]), requires_grad=True)
    y = ag.exp(x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"retain_graph=True") as info:
        y.backward()
    assert type(info.value) is RuntimeError
    assert "released" in str(info.value)
    np.testing.assert_allclose(x.grad, np.exp(x.data))  # the failed call added nothing


def test_retain_graph_allows_second_backward_and_grads_accumulate():
    a = np.array([0.5, 1.0])
    x = ag.tensor(a, requires_grad=True)
    y = ag.exp(x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * np.exp(a))
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()  # the second call (without retain_graph) released it


def test_inplace_write_into_saved_array_raises_while_graph_is_alive():
    x = ag.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = ag.log(x)  # log's VJP reads x
    with pytest.raises(ValueError, match="read-only") as info:
        x.data[0] = 5.0
    assert type(info.value) is ValueError
    z = ag.exp(y)
    with pytest.raises(ValueError, match="read-only"):
        z.data[0] = 5.0  # exp's VJP reads its output (ans)
    z.sum().backward()
    np.testing.assert_allclose(x.grad, 1.0)  # d exp(log x)/dx at the unchanged x
    x.data[0] = 5.0  # graph released: writable again
    assert x.data[0] == 5.0


def test_only_what_a_vjp_reads_is_locked():
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = ag.tensor(np.array([3.0, 4.0]), requires_grad=True)
    y = ag.exp(x) + w  # exp reads only its output, add reads nothing
    assert x.data.flags.writeable and w.data.flags.writeable
    x.data[0] = 0.0  # allowed, and the gradient is still right: it never read x
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.exp([1.0, 2.0]))


def test_inplace_write_allowed_again_after_graph_is_dropped():
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * x
    assert not x.data.flags.writeable
    del y
    x.data[1] = 7.0
    assert x.data[1] == 7.0


@pytest.mark.parametrize("stmt", ["t += 1", "t -= 1", "t *= 2", "t /= 2", "t **= 2", "t[0] = 1.0"])
def test_tensor_inplace_operators_raise(stmt):
    t = ag.tensor(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="in-place") as info:
        exec(stmt, {"t": t})
    assert type(info.value) is TypeError
    np.testing.assert_array_equal(t.data, [1.0, 2.0])


def test_ragged_list():
    with pytest.raises(ValueError, match="ragged") as info:
        ag.tensor([[1.0, 2.0], [3.0]])
    assert type(info.value) is ValueError


@pytest.mark.parametrize(
    "data",
    [np.array([1, "a"], dtype=object), "abc", ["a", "b"], {"a": 1}, None, [1.0, None], object()],
    ids=["object-array", "str", "list-of-str", "dict", "None", "list-with-None", "object"],
)
def test_non_numeric_data(data):
    msg = r"Tensor: (cannot make a Tensor|unsupported dtype)"
    with pytest.raises(TypeError, match=msg) as info:
        ag.tensor(data)
    assert type(info.value) is TypeError


@pytest.mark.parametrize("data", [1 + 2j, np.array([1 + 2j]), [1j, 2.0]],
                         ids=["complex", "array", "list"])
def test_complex_data(data):
    with pytest.raises(TypeError, match="complex") as info:
        ag.tensor(data)
    assert type(info.value) is TypeError


def test_reshape_to_impossible_shape_names_reshape():
    t = ag.tensor(np.ones(6), requires_grad=True)
    with pytest.raises(ValueError, match=r"^reshape: .*size 6") as info:
        t.reshape(4, 2)
    assert type(info.value) is ValueError


@pytest.mark.parametrize("axes", [(1, 1), (0,), (0, 1, 2), (0, 2), (0, -3)])
def test_transpose_with_bad_axes(axes):
    t = ag.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"^transpose: axes") as info:
        ag.transpose(t, axes=axes)
    assert type(info.value) is ValueError
    assert "(2, 3)" in str(info.value)
    with pytest.raises(ValueError, match="transpose"):
        t.transpose(*axes)
    with pytest.raises(ValueError, match=r"^transpose: axes"):  # a plain array: the same message
        ag.transpose(np.ones((2, 3)), axes=axes)


@pytest.mark.parametrize("x", [np.ones((1, 1, 1)), np.ones((2, 1))], ids=["one_element", "column"])
def test_broadcast_to_fewer_dimensions_names_broadcast_to(x):
    with pytest.raises(ValueError, match=r"^broadcast_to: ") as info:
        ag.broadcast_to(ag.tensor(x, requires_grad=True), (3,))
    assert type(info.value) is ValueError
    with pytest.raises(ValueError):
        ag.broadcast_to(x, (3,))
    assert not ag.broadcast_to(np.ones(1), (2, 3)).flags.writeable  # a view, read-only like NumPy's


def test_zero_d_item_and_len():
    t = ag.tensor(np.array(4.25))
    assert t.ndim == 0
    assert t.item() == 4.25
    with pytest.raises(TypeError, match="0-d") as info:
        len(t)
    assert type(info.value) is TypeError
    with pytest.raises(TypeError, match="0-d"):
        iter(t)


def test_item_of_many_elements():
    with pytest.raises(ValueError, match=r"one-element.*\(3,\)"):
        ag.tensor(np.ones(3)).item()


def test_reduction_axis_out_of_range():
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        ag.tensor(np.ones((2, 3))).sum(axis=2)


def test_avg_pool_rejects_a_window_that_does_not_fit():
    x = ag.tensor(np.ones((2, 3, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"avg_pool: window \(4, 4\)"):
        ag.avg_pool(x, (4, 4))
    with pytest.raises(ValueError, match="avg_pool: size"):
        ag.avg_pool(x, (2, 2), stride=(1, 1, 1))


def test_conv2d_names_what_does_not_fit():
    x = ag.tensor(np.ones((2, 3, 4, 4)), requires_grad=True)
    with pytest.raises(ValueError,
                       match=r"conv2d: x must be \(N, C, H, W\).*x \(2, 3, 4, 4\), W \(5, 2, 3, 3\)"):
        ag.conv2d(x, np.ones((5, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"conv2d: b must have shape \(5,\)"):
        ag.conv2d(x, np.ones((5, 3, 3, 3)), np.ones(4))
    with pytest.raises(ValueError, match="conv2d: stride must be an int >= 1"):
        ag.conv2d(x, np.ones((5, 3, 3, 3)), stride=0)
    with pytest.raises(ValueError, match=r"smaller than the kernel \(5, 5\)"):
        ag.conv2d(x, np.ones((5, 3, 5, 5)))

"""ag.detect_anomaly: the first op whose backward makes NaN/Inf is named, with its module path
and the forward line that called it; off, backward behaves exactly as before."""

import inspect
import os
import threading

import numpy as np
import pytest

import autograd_core as ag
import nn
from autograd_core import anomaly


def here() -> int:
    """The line number of the caller."""
    return inspect.currentframe().f_back.f_lineno


FILE = os.path.basename(__file__)


def test_names_the_op_and_the_forward_line():
    x = ag.tensor(np.array([0.0, 1.0, 4.0]), requires_grad=True)
    with ag.detect_anomaly():
        line = here() + 1
        y = ag.sqrt(x).sum()
        with pytest.raises(FloatingPointError) as info:
            y.backward()
    message = str(info.value)
    assert "'sqrt'" in message and "Inf" in message
    assert f"{FILE}:{line}" in message
    assert "outside any nn module" in message
    assert x.grad is None  # nothing was accumulated


class Root(nn.Module):
    def __init__(self):
        super().__init__()
        self.W = nn.Parameter(np.array([[1.0, -1.0]]))

    def forward(self, x):
        return ag.sqrt(x @ self.W.T)  # x = [[1, 1]] → sqrt(0)


def test_names_the_module_path():
    model = nn.Sequential(nn.Sequential(Root()))
    x = ag.tensor(np.array([[1.0, 1.0]]))
    with ag.detect_anomaly():
        loss = model(x).sum()
        with pytest.raises(FloatingPointError, match=r"'sqrt'.*in module '0\.0'") as info:
            loss.backward()
    # nn's own frames are skipped: the line is the user's forward, in this file
    source, first = inspect.getsourcelines(Root.forward)
    line = first + next(i for i, text in enumerate(source) if "ag.sqrt" in text)
    assert f"{FILE}:{line}" in str(info.value)


def test_forward_nan_is_pointed_out_in_the_backward_without_check_forward():
    x = ag.tensor(np.array([-1.0, 1.0]), requires_grad=True)
    with ag.detect_anomaly(check_forward=False):
        with np.errstate(invalid="ignore"):
            y = ag.sqrt(x).sum()  # sqrt(-1) = NaN already in the forward
        with pytest.raises(FloatingPointError, match="forward output already held NaN"):
            y.backward()


# ---- the forward: the first op whose output holds NaN/Inf


def test_the_forward_of_log_of_a_negative_number():
    x = ag.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    with ag.detect_anomaly():
        line = here() + 2
        with np.errstate(invalid="ignore"), pytest.raises(FloatingPointError) as info:
            ag.log(x * 2.0).sum()
    message = str(info.value)
    assert message.startswith("detect_anomaly: the forward of 'log'")
    assert "produced NaN, first at index (1,)" in message and f"{FILE}:{line}" in message
    assert "from finite inputs (input 0 (x) = -4.0 there): this op is where it first appears" in message
    leaf = ag.tensor(np.array([-1.0]), requires_grad=True)
    with ag.detect_anomaly(), np.errstate(invalid="ignore"), pytest.raises(FloatingPointError):
        ag.log(leaf)  # log's VJP reads its input: the refused node locked it, and gives it back
    assert leaf.data.flags.writeable


class ZeroOverZero(nn.Module):
    """A custom layer with a bug: (h − h)/(h − h) is 0/0."""

    def __init__(self):
        super().__init__()
        self.W = nn.Parameter(np.eye(2))

    def forward(self, z):
        h = z @ self.W
        return (h - h) / (h - h)


def test_zero_over_zero_in_a_custom_layer_names_the_layer_and_its_line():
    model = nn.Sequential(nn.Dense(2, 2, rng=0).astype(np.float64), ZeroOverZero())
    source, first = inspect.getsourcelines(ZeroOverZero.forward)
    line = first + next(i for i, text in enumerate(source) if "/ (h - h)" in text)
    with ag.detect_anomaly(), np.errstate(invalid="ignore"):
        with pytest.raises(FloatingPointError) as info:
            model(np.ones((3, 2)))
    message = str(info.value)
    assert "the forward of 'divide'" in message and "produced NaN" in message
    assert "in module '1'" in message and f"{FILE}:{line}" in message
    assert "input 0 (x1) = 0.0, input 1 (x2) = 0.0 there" in message


@pytest.mark.parametrize("as_tensor", [False, True])
def test_a_nan_in_the_input_data_is_traced_to_the_data_not_the_loss(as_tensor):
    """The NaN enters with the data: the first op (the first layer) is named, with the input that
    held it, not softmax_cross_entropy where the backward would first go wrong."""
    model = nn.MLP([4, 5, 3], rng=0)
    x = np.ones((6, 4), np.float32)
    x[4, 2] = np.nan
    with ag.detect_anomaly(), pytest.raises(FloatingPointError) as info:
        line = here() + 1
        loss = nn.cross_entropy(model(ag.tensor(x) if as_tensor else x), np.arange(6) % 3)
        loss.backward()
    message = str(info.value)
    assert "the forward of 'linear'" in message and "in module 'layers.0'" in message
    assert f"{FILE}:{line}" in message and "softmax_cross_entropy" not in message
    assert "input 0 (x) (shape (6, 4)) already held NaN (first at index (4, 2))" in message
    origin = "a Tensor no recorded op made" if as_tensor else "a constant (an array passed in"
    assert origin in message and "the value entered with the data" in message


def test_a_non_finite_parameter_is_named_as_a_leaf():
    model = nn.MLP([3, 2], rng=0)
    model.layers[0].W.data[1, 0] = np.inf
    with ag.detect_anomaly(), pytest.raises(FloatingPointError) as info:
        model(np.ones((2, 3), np.float32))
    message = str(info.value)
    assert "produced Inf" in message and "input 1 (W) (shape (2, 3)) already held Inf" in message
    assert "a leaf Tensor with requires_grad=True (a parameter?)" in message


def test_an_unchecked_op_output_is_named_with_its_op():
    x = ag.tensor(np.array([1.0, 1000.0]), requires_grad=True)
    with np.errstate(over="ignore"):
        big = ag.exp(x)  # exp(1000) = inf, recorded before detect_anomaly was on
    with ag.detect_anomaly(), pytest.raises(FloatingPointError) as info:
        big * 2.0
    assert "the output of 'exp'" in str(info.value) and "recorded outside detect_anomaly" in str(info.value)


def test_check_forward_off_and_unrecorded_ops_are_not_checked():
    x = ag.tensor(np.array([-1.0]), requires_grad=True)
    with ag.detect_anomaly(check_forward=False), np.errstate(invalid="ignore"):
        assert np.isnan(ag.log(x).data[0])
    with ag.detect_anomaly(), np.errstate(invalid="ignore"):
        assert np.isnan(ag.log(np.array([-1.0]))[0])  # plain arrays: nothing recorded
        with ag.no_grad():
            assert np.isnan(ag.log(x).data[0])


def test_a_create_graph_sweep_is_checked_by_its_cotangents_not_as_a_forward():
    x = ag.tensor(np.array([0.0, 1.0]), requires_grad=True)
    with ag.detect_anomaly(), pytest.raises(FloatingPointError, match="the backward of 'sqrt'"):
        ag.sqrt(x).sum().backward(create_graph=True)  # sqrt's VJP divides by 0: an Inf cotangent


def test_a_non_finite_seed_is_blamed_on_the_seed():
    x = ag.tensor(np.ones(2), requires_grad=True)
    with ag.detect_anomaly():
        y = x * 2.0
        with pytest.raises(FloatingPointError, match=r"grad passed to backward\(\)"):
            y.backward(np.array([np.nan, 1.0]))


def test_checks_transform_and_create_graph_sweeps_too():
    with ag.detect_anomaly(), pytest.raises(FloatingPointError, match="'sqrt'"):
        ag.grad(lambda x: ag.sqrt(x).sum())(np.array([0.0, 1.0]))
    x = ag.tensor(np.array([0.0, 1.0]), requires_grad=True)
    with ag.detect_anomaly(), pytest.raises(FloatingPointError, match="'sqrt'"):
        ag.sqrt(x).sum().backward(create_graph=True)


def test_finite_backward_is_unchanged(rng):
    model = Root()
    x = ag.tensor(np.abs(rng.standard_normal((3, 2))) + [5.0, 0.0])  # x₀ − x₁ > 0: sqrt is smooth
    model(x).sum().backward()
    expected = model.W.grad.copy()
    model.W.grad = None
    with ag.detect_anomaly():
        y = model(x).sum()
        assert y.node.source is None or FILE in y.node.source
        y.backward()
    np.testing.assert_array_equal(model.W.grad, expected)


def test_off_by_default_and_restored():
    assert not anomaly.state.enabled
    x = ag.tensor(np.array([0.0, 1.0]), requires_grad=True)
    y = ag.sqrt(x)
    assert y.node.source is None  # no stack walk unless asked
    with np.errstate(divide="ignore"):
        y.sum().backward()  # no check: the Inf lands in .grad, as without detect_anomaly
    assert np.isinf(x.grad[0])
    with pytest.raises(FloatingPointError), ag.detect_anomaly():
        x2 = ag.tensor(np.array([0.0]), requires_grad=True)
        ag.sqrt(x2).sum().backward()
    assert not anomaly.state.enabled and not ag.graph.local.recording.source
    with ag.detect_anomaly():
        with ag.detect_anomaly(enabled=False):
            assert not anomaly.state.enabled
        assert anomaly.state.enabled and ag.graph.local.recording.source
    assert not anomaly.state.enabled


def test_records_source_inside_only():
    x = ag.tensor(np.ones(2), requires_grad=True)
    with ag.detect_anomaly():
        line = here() + 1
        y = x * 2.0
    z = x * 3.0
    assert y.node.source.endswith(f"{FILE}:{line}")
    assert z.node.source is None


def test_is_thread_local():
    seen = []
    with ag.detect_anomaly():
        t = threading.Thread(target=lambda: seen.append(anomaly.state.enabled))
        t.start()
        t.join()
    assert seen == [False]


def test_as_a_decorator():
    @ag.detect_anomaly()
    def step(x):
        ag.sqrt(x).sum().backward()

    with pytest.raises(FloatingPointError, match="'sqrt'"):
        step(ag.tensor(np.array([0.0]), requires_grad=True))
    assert not anomaly.state.enabled


def test_a_vjp_returning_no_cotangent_is_not_reported_as_an_anomaly():
    # sign's VJP returns None (zero): the node behind it is still visited with a "no cotangent"
    # marker, which the anomaly check must skip, not inspect as a cotangent
    x = ag.tensor(np.array([1.0, -2.0]), requires_grad=True)
    with ag.detect_anomaly():
        h = x * 2.0
        loss = ag.sum(ag.sign(h)) + ag.sum(x)
        loss.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])

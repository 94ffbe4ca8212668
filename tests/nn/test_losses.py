"""Losses: values against direct NumPy formulas for every reduction, labels == one-hot rows,
stability for huge logits, gradchecks, bad targets raise; Tikhonov on exactly the params given."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn

REDUCTIONS = ["mean", "sum", "none"]
N, K = 5, 4


def reduce(per_sample: np.ndarray, reduction: str):
    return {"mean": per_sample.mean(), "sum": per_sample.sum(), "none": per_sample}[reduction]


def np_logsumexp(u: np.ndarray) -> np.ndarray:
    m = u.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(u - m).sum(axis=1, keepdims=True)))[:, 0]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    u = rng.standard_normal((N, K)) * 3
    labels = rng.integers(0, K, size=N)
    soft = rng.uniform(0, 1, size=(N, K))  # rows need not sum to 1: the lecture's yᵀu as given
    return u, labels, soft


# ---------------------------------------------------------------- values


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_values(reduction, data):
    u, _, soft = data
    out = nn.mse_loss(ag.tensor(u), soft, reduction=reduction)
    np.testing.assert_allclose(
        out.data, reduce(0.5 * ((u - soft) ** 2).sum(axis=1), reduction), rtol=1e-13
    )
    # any trailing shape: the per-sample loss sums every non-batch axis
    u3, y3 = u.reshape(N, 2, 2), soft.reshape(N, 2, 2)
    out3 = nn.mse_loss(ag.tensor(u3), y3, reduction=reduction)
    np.testing.assert_allclose(out3.data, out.data, rtol=1e-13)
    # 1-D predictions: one scalar per sample
    out1 = nn.mse_loss(ag.tensor(u[:, 0]), soft[:, 0], reduction=reduction)
    np.testing.assert_allclose(
        out1.data, reduce(0.5 * (u[:, 0] - soft[:, 0]) ** 2, reduction), rtol=1e-13
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_values(reduction, data):
    u, labels, soft = data
    lse = np_logsumexp(u)
    by_label = nn.cross_entropy(ag.tensor(u), labels, reduction=reduction)
    np.testing.assert_allclose(
        by_label.data, reduce(lse - u[np.arange(N), labels], reduction), rtol=1e-13
    )
    by_rows = nn.cross_entropy(ag.tensor(u), soft, reduction=reduction)
    np.testing.assert_allclose(
        by_rows.data, reduce(lse - (soft * u).sum(axis=1), reduction), rtol=1e-13
    )
    assert by_label.shape == ((N,) if reduction == "none" else ())


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_integer_labels_equal_one_hot_rows(reduction, data):
    u, labels, _ = data
    grads = []
    for y in (labels, np.eye(K)[labels]):
        x = ag.tensor(u, requires_grad=True)
        loss = nn.cross_entropy(x, y, reduction=reduction)
        loss.backward(np.ones(loss.shape))
        grads.append((loss.data, x.grad))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-14)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-14, atol=1e-16)
    # and the gradient is the lecture's softmax(u) − y (per sample; divided by N for the mean)
    p = np.exp(u - np_logsumexp(u)[:, None])
    scale = 1 / N if reduction == "mean" else 1.0
    np.testing.assert_allclose(grads[0][1], scale * (p - np.eye(K)[labels]), rtol=1e-12, atol=1e-15)


def test_dtype_is_kept():
    u = ag.tensor(np.zeros((3, 4), dtype=np.float32), requires_grad=True)
    assert nn.cross_entropy(u, np.array([0, 1, 2])).dtype == np.float32
    assert (
        nn.cross_entropy(u, np.eye(4)[[0, 1, 2]]).dtype == np.float32
    )  # float64 rows do not upcast
    assert nn.mse_loss(u, np.ones((3, 4))).dtype == np.float32
    loss = nn.mse_loss(u, np.ones((3, 4)))
    loss.backward()
    assert u.grad.dtype == np.float32


# ---------------------------------------------------------------- stability


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_is_stable_for_huge_logits(dtype, reduction):
    u = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], dtype=dtype)
    labels = np.array([0, 2, 1])
    expected = np.array([0.0, np.log(3), np.log(2)])  # exact values of log Σ e^u − u_y
    for y in (labels, np.eye(3)[labels]):
        x = ag.tensor(u, requires_grad=True)
        loss = nn.cross_entropy(x, y, reduction=reduction)  # an overflow warning fails the test
        loss.backward(np.ones(loss.shape, dtype=dtype))
        assert np.all(np.isfinite(loss.data)) and np.all(np.isfinite(x.grad))
        np.testing.assert_allclose(loss.data, reduce(expected, reduction), rtol=1e-6)
        assert np.all(np.abs(x.grad) <= 1 + 1e-6)
    # a wrong label far below the max costs exactly the gap
    wrong = nn.cross_entropy(ag.tensor(u[:1]), np.array([1]), reduction="sum")
    np.testing.assert_allclose(wrong.data, 2e4, rtol=1e-6)


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_gradcheck(reduction, data):
    u, _, soft = data
    report = ag.gradcheck(
        lambda a, b: nn.mse_loss(a, b, reduction=reduction), [u, soft], raise_on_fail=False
    )
    assert report.passed, str(report)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("targets", ["labels", "soft"])
def test_cross_entropy_gradcheck(reduction, targets, data):
    u, labels, soft = data
    y = (
        labels if targets == "labels" else soft
    )  # int labels are constants; soft rows are checked too
    report = ag.gradcheck(
        lambda a, b: nn.cross_entropy(a, b, reduction=reduction), [u, y], raise_on_fail=False
    )
    assert report.passed, str(report)
    assert len(report.rows) == (1 if targets == "labels" else 2)


def test_cross_entropy_gradcheck_with_repeated_labels():
    """Several samples of one class: the label gather's VJP must accumulate, not overwrite."""
    u = np.random.default_rng(1).standard_normal((6, 3))
    labels = np.array([1, 1, 1, 0, 1, 2])
    assert ag.gradcheck(lambda a: nn.cross_entropy(a, labels), [u], raise_on_fail=False).passed


# ---------------------------------------------------------------- bad targets


@pytest.mark.parametrize(
    "y, error, message",
    [
        (np.array([0, 1, 2, 3, 4]), ValueError, r"labels out of range: need 0 <= y < 4.*\[4\]"),
        (np.array([0, -1, 2, 3, 0]), ValueError, r"labels out of range.*\[-1\]"),
        (np.array([0.0, 1, 2, 3, 0]), TypeError, "integer dtype, got float64"),
        (np.array([True, False, True, True, False]), TypeError, "integer dtype, got bool"),
        (np.array([0, 1, 2]), ValueError, r"labels y must have shape \(5,\), got \(3,\)"),
        (np.zeros((N, K + 1)), ValueError, r"rows of shape \(5, 4\), got shape \(5, 5\)"),
        (np.zeros((N, K, 1)), ValueError, r"got shape \(5, 4, 1\)"),
    ],
)
def test_cross_entropy_rejects_bad_targets(y, error, message, data):
    with pytest.raises(error, match=message):
        nn.cross_entropy(ag.tensor(data[0]), y)


@pytest.mark.parametrize(
    "labels, error, message",
    [
        ([0, 1, -1], ValueError, r"label -1 of sample 2 is out of range: labels must lie in \[0, 4\) "
                                 r"for 4 classes"),
        ([4, 1, 9], ValueError, r"label 4 of sample 0 is out of range.*2 label\(s\) out of range"),
        ([0.0, 1.0, 2.0], TypeError, r"labels must be integer class indices, got dtype float64"),
        ([True, False, True], TypeError, r"got dtype bool"),
    ],
)
def test_softmax_cross_entropy_refuses_labels_out_of_range(labels, error, message):
    """ag.softmax_cross_entropy (the fused op under nn.cross_entropy): label −1 would silently
    index the last class."""
    u = ag.tensor(np.zeros((3, 4)), requires_grad=True)
    for logits in (u, u.data):  # recorded, and plain arrays in
        with pytest.raises(error, match=r"^softmax_cross_entropy: .*" + message):
            ag.softmax_cross_entropy(logits, np.array(labels))


def test_other_bad_arguments_raise(data):
    u, labels, soft = data
    with pytest.raises(ValueError, match=r"logits u must have shape \(N, K\), got \(5,\)"):
        nn.cross_entropy(ag.tensor(u[:, 0]), labels)
    with pytest.raises(ValueError, match=r"shape of the predictions u \(5, 1\).*got \(5,\)"):
        nn.mse_loss(ag.tensor(u[:, :1]), soft[:, 0])  # would broadcast to (5, 5) silently
    for loss, y in ((nn.mse_loss, soft), (nn.cross_entropy, labels)):
        with pytest.raises(ValueError, match="unknown reduction 'avg'; valid: mean, sum, none"):
            loss(ag.tensor(u), y, reduction="avg")
    with pytest.raises(ValueError, match="empty batch"):
        nn.mse_loss(ag.tensor(np.zeros((0, 3))), np.zeros((0, 3)))


# ---------------------------------------------------------------- Tikhonov


def test_tikhonov_acts_on_exactly_the_params_passed():
    model = nn.MLP([3, 4, 2], rng=0).astype(np.float64)
    weights = [p for name, p in model.named_parameters() if name.endswith("W")]
    lam = 0.3
    reg = nn.tikhonov((w for w in weights), lam)  # any iterable, a generator too
    np.testing.assert_allclose(
        reg.data, lam / 2 * sum(np.sum(w.data**2) for w in weights), rtol=1e-14
    )
    reg.backward()
    for name, p in model.named_parameters():
        if name.endswith("W"):
            np.testing.assert_allclose(p.grad, lam * p.data, rtol=1e-14)
        else:
            assert p.grad is None  # biases were not passed: untouched
    report = ag.gradcheck(
        lambda a, b: nn.tikhonov([a, b], 0.7),
        [weights[0].data, weights[1].data],
        raise_on_fail=False,
    )
    assert report.passed, str(report)


def test_tikhonov_edge_cases():
    assert float(nn.tikhonov([], 1.0).data) == 0.0
    w = nn.Parameter(np.array([3.0, 4.0]))
    assert float(nn.tikhonov([w], 2.0).data) == 25.0
    with pytest.raises(TypeError, match="not a Module"):
        nn.tikhonov(nn.MLP([2, 2]), 1.0)
    with pytest.raises(TypeError, match="item 1 is a ndarray"):
        nn.tikhonov([w, np.ones(2)], 1.0)
    with pytest.raises(ValueError, match="lam must be >= 0"):
        nn.tikhonov([w], -1.0)

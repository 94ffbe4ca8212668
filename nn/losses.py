"""The lecture's losses, per sample then reduced over the batch, and Tikhonov regularization.

Note [reduction]: every loss computes one value per sample (axis 0) and then reduces:
``"mean"`` (the default, as PyTorch) divides the sum by N, ``"sum"`` sums, ``"none"`` returns the
vector of shape ``(N,)``. Targets are checked against the prediction's shape and never
broadcast: ``(N,)`` against ``(N, 1)`` would silently give an (N, N) loss.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

import autograd_core as ag

from .module import Module, _values

__all__ = ["mse_loss", "cross_entropy", "tikhonov"]

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(per_sample: ag.Tensor, reduction: str, who: str) -> ag.Tensor:
    """Note [reduction]."""
    if reduction == "none":
        return per_sample
    if reduction == "sum":
        return ag.sum(per_sample)
    _check_batch(np.shape(per_sample)[0], who)
    return ag.mean(per_sample)


def _check_batch(n: int, who: str) -> None:
    """A mean over samples needs some (Note [reduction])."""
    if n == 0:
        raise ValueError(f"{who}: the mean over an empty batch (N = 0) is undefined")


def _check_reduction(reduction: str, who: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{who}: unknown reduction {reduction!r}; valid: {', '.join(_REDUCTIONS)}")


def mse_loss(u: ag.Tensor, y, reduction: str = "mean") -> ag.Tensor:
    """½‖u_i − y_i‖² per sample (summed over every non-batch axis), reduced over samples.

    Shapes: u and y ``(N, ...)``, equal (no broadcasting); the result is a scalar, or ``(N,)``
    with ``reduction="none"`` (Note [reduction]). Raises ValueError for mismatched shapes or an
    unknown reduction.
    """
    _check_reduction(reduction, "mse_loss")
    ua = _values(u)
    u_shape, y_shape = ua.shape, (y.data.shape if isinstance(y, ag.Tensor) else np.shape(y))
    if u_shape != tuple(y_shape) or len(u_shape) == 0:
        raise ValueError(f"mse_loss: targets y must have the shape of the predictions u {u_shape} "
                         f"(batch-first, no broadcasting), got {tuple(y_shape)}")
    if not isinstance(y, ag.Tensor):  # keep the predictions' dtype (float32 targets stay float32)
        y = np.asarray(y, dtype=np.result_type(ua.dtype, np.float32))
    r = u - y
    sq = r * r
    if reduction == "none" or len(u_shape) == 1:
        per_sample = 0.5 * (ag.sum(sq, axis=tuple(range(1, len(u_shape)))) if len(u_shape) > 1 else sq)
        return _reduce(per_sample, reduction, "mse_loss")
    # summed or averaged over samples: one sum over every axis, then the constant (a node less
    # than per-sample sums, then a sum or mean; the value differs only by summation order)
    if reduction == "mean":
        _check_batch(u_shape[0], "mse_loss")
    return ag.sum(sq) * (0.5 / u_shape[0] if reduction == "mean" else 0.5)


def _labels(y, n: int, k: int) -> np.ndarray:
    """Validate integer class labels of shape (n,) in [0, k); return them as int64."""
    labels = _values(y)
    if labels.dtype.kind not in "iu":
        raise TypeError(
            f"cross_entropy: 1-D labels y must have an integer dtype, got {labels.dtype}; pass "
            f"class indices (e.g. y.astype(np.int64)) or one-hot/soft rows of shape ({n}, {k})")
    if labels.shape != (n,):
        raise ValueError(f"cross_entropy: labels y must have shape ({n},), got {labels.shape}")
    if n and (np.minimum.reduce(labels) < 0 or np.maximum.reduce(labels) >= k):
        bad = labels[(labels < 0) | (labels >= k)]
        raise ValueError(f"cross_entropy: labels out of range: need 0 <= y < {k} (the number of "
                         f"classes, u.shape[1]), got {bad[:5].tolist()}")
    return labels.astype(np.int64, copy=False)


def cross_entropy(u: ag.Tensor, y, reduction: str = "mean") -> ag.Tensor:
    """log Σ_k e^{u_ik} − y_iᵀu_i per sample (the lecture's multiclass logistic loss), reduced.

    Shapes: logits u ``(N, K)``; y either integer class labels ``(N,)`` in ``[0, K)`` (then
    ``y_iᵀu_i = u_i[y_i]``) or one-hot/soft rows ``(N, K)`` (used as given: rows need not sum to
    1). Stable for logits of any size: ``ag.logsumexp`` subtracts the row max before exp.
    Result: a scalar, or ``(N,)`` with ``reduction="none"`` (Note [reduction]).

    Raises TypeError for 1-D labels of a non-integer dtype, ValueError for labels out of range,
    y of the wrong shape, u not 2-D, or an unknown reduction.
    """
    _check_reduction(reduction, "cross_entropy")
    u_shape = tuple(np.shape(u))
    if len(u_shape) != 2:
        raise ValueError(f"cross_entropy: logits u must have shape (N, K), got {u_shape}")
    n, k = u_shape
    y_shape = tuple(np.shape(y))
    # Note [shifted logits]: with m_i = max_k u_ik (a constant), log Σ e^u − yᵀu equals
    # log Σ e^{u−m} − yᵀ(u−m) + m(1 − Σ_k y_k). Subtracting m first avoids the cancellation of two
    # huge numbers (in float32, lse(u) − u_y for u ~ 1e4 would keep only ~3 decimals). m carries no
    # gradient, and none is lost: the shift cancels in the value, so the gradient wrt u is
    # still softmax(u) − y.
    if len(y_shape) == 1:
        # one fused node, shifted by the row max inside (Note [shifted logits])
        per_sample = ag.softmax_cross_entropy(u, _labels(y, n, k))
    elif y_shape == (n, k):
        ua = _values(u)
        m = np.max(ua, axis=1, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)  # a row of -inf: avoid inf − inf
        shifted = u - m
        lse = ag.logsumexp(shifted, axis=1)
        if not isinstance(y, ag.Tensor):
            y = np.asarray(y, dtype=np.result_type(ua.dtype, np.float32))
        # the m(1 − Σy) term is 0 for one-hot rows; it keeps soft rows (and d/dy = −u) exact
        per_sample = lse - ag.sum(y * shifted, axis=1) + m[:, 0] * (1 - ag.sum(y, axis=1))
    else:
        raise ValueError(f"cross_entropy: y must be integer labels of shape ({n},) or one-hot/soft "
                         f"rows of shape ({n}, {k}), got shape {y_shape}")
    return _reduce(per_sample, reduction, "cross_entropy")


def tikhonov(params: Iterable[ag.Tensor], lam: float) -> ag.Tensor:
    """Tikhonov (L2, weight-decay) regularization ``lam/2 · Σ_W ‖W‖²`` (squared Frobenius norms).

    Acts on exactly the tensors passed, e.g. ``[p for n, p in model.named_parameters() if
    n.endswith("W")]`` to leave biases out. An empty iterable gives 0. Raises TypeError for a
    Module (pass its parameters explicitly) or a non-Tensor item, ValueError for lam < 0.
    """
    if isinstance(params, Module):
        raise TypeError("tikhonov: pass an iterable of parameters (e.g. model.parameters(), or "
                        "only the weights), not a Module")
    if isinstance(params, ag.Tensor):
        params = [params]
    lam = float(lam)
    if not lam >= 0:
        raise ValueError(f"tikhonov: lam must be >= 0, got {lam!r}")
    total = None
    for i, p in enumerate(params):
        if not isinstance(p, ag.Tensor):
            raise TypeError(f"tikhonov: item {i} is a {type(p).__name__}, not a Tensor/Parameter")
        sq = ag.sum(p * p)
        total = sq if total is None else total + sq
    if total is None:
        return ag.tensor(0.0)
    return total * (lam / 2)

"""The lecture's hand-derived backpropagation in plain NumPy: an independent oracle.

This module imports no engine code (no ``autograd_core``, no other ``nn`` module): the engine and
the ``nn`` layers are checked against it, so it must not share their bugs.

Model (plain, ``residual=False``), depth ``n = len(Ws) >= 1``::

    m(x) = W_n σ(W_{n-1} ⋯ σ(W_1 x + b_1) ⋯ + b_{n-1}) + b_n

Forward pass, storing the states: ``z_1 = x``, ``v_j = W_j z_j + b_j``, ``z_{j+1} = σ_j(v_j)``
for ``j = 1..n`` with ``σ_n = Id`` (the last layer is affine), and ``u = z_{n+1}``.

Backward pass (δ_j is the gradient of the loss with respect to ``z_j``)::

    δ_{n+1} = ∂L/∂u
    δ_j     = W_jᵀ (δ_{j+1} ⊙ σ'_j(v_j))                 (plain layer)
    ∂L/∂W_j = (δ_{j+1} ⊙ σ'_j(v_j)) z_jᵀ
    ∂L/∂b_j =  δ_{j+1} ⊙ σ'_j(v_j)

Residual model (``residual=True``), the lecture's residual network as written: ``z_1 = x`` and
``z_{j+1} = z_j + σ(W_j z_j + b_j)`` for every ``j = 1..n-1`` (square ``W_1..W_{n-1}``, so the
input has the network's width), then the affine ``u = W_n z_n + b_n``. With
``input_projection=True`` the first layer is plain, ``z_2 = σ(W_1 x + b_1)`` (``W_1`` maps the
input to the width), and only ``j = 2..n-1`` are residual: the layout of
``nn.ResidualMLP(n_in, width, depth, n_out)`` with ``depth = n - 2``. Derivation of the residual
δ recursion: for a residual layer

    ∂z_{j+1}/∂z_j = I + diag(σ'_j(v_j)) W_j,

so ``δ_jᵀ = δ_{j+1}ᵀ ∂z_{j+1}/∂z_j = δ_{j+1}ᵀ + δ_{j+1}ᵀ diag(σ'_j(v_j)) W_j``, that is::

    δ_j = δ_{j+1} + W_jᵀ (δ_{j+1} ⊙ σ'_j(v_j))            (residual layer)

The skip term ``z_j`` does not depend on ``W_j`` or ``b_j``, so ``∂z_{j+1}/∂W_j`` and
``∂z_{j+1}/∂b_j`` are those of the plain layer and the weight and bias formulas are unchanged.
The last layer (and, with ``input_projection=True``, the first) is a plain layer.

Batching: data is batch-first, ``x`` has shape ``(N, n_in)`` and a layer computes
``v = z @ W.T + b``.  Row ``i`` of each stored matrix ``Z_j``, ``V_j``, ``Δ_j`` is the lecture's
column vector for sample ``i``; the per-sample outer products ``g_i z_iᵀ`` summed over samples are
one matrix product ``Gᵀ Z``, and ``W_jᵀ g_i`` for every sample is ``G @ W_j``.

Losses per sample (the lecture's): ``"mse"`` ``L = ½‖u − y‖²``; ``"cross_entropy"``
``L = log Σ_k e^{u_k} − yᵀu``, whose gradient is ``softmax(u) − y`` for any row ``y`` (the
log-sum-exp term has coefficient 1 whatever ``Σ_k y_k`` is).
"""

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["backprop"]

LEAKY_RELU_ALPHA = 0.01
ELU_ALPHA = 1.0
SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717

# Note [kinks]: at u = 0 every derivative takes its u <= 0 branch: relu'(0) = 0,
# leaky_relu'(0) = α, elu'(0) = α, selu'(0) = λα. The engine's nn activations are meant to use the
# same subgradients, so the oracle and the engine agree even exactly at a kink.


def _sigmoid(u: np.ndarray) -> np.ndarray:
    # exp(-|u|) lies in (0, 1], so neither branch can overflow (1/(1+e^{-u}) overflows for u << 0)
    e = np.exp(-np.abs(u))
    return np.where(u >= 0, 1.0, e) / (1.0 + e)


def _sigmoid_prime(u: np.ndarray) -> np.ndarray:
    s = _sigmoid(u)
    return s * (1.0 - s)


def _relu(u: np.ndarray) -> np.ndarray:
    return np.maximum(u, 0.0)


def _relu_prime(u: np.ndarray) -> np.ndarray:
    return (u > 0).astype(u.dtype)  # Note [kinks]


def _leaky_relu(u: np.ndarray) -> np.ndarray:
    return np.where(u > 0, u, LEAKY_RELU_ALPHA * u)


def _leaky_relu_prime(u: np.ndarray) -> np.ndarray:
    return np.where(u > 0, 1.0, LEAKY_RELU_ALPHA).astype(u.dtype)  # Note [kinks]


def _elu(u: np.ndarray, alpha: float = ELU_ALPHA) -> np.ndarray:
    # exp only of the non-positive part: exp(1e4) overflows even though that branch is discarded
    return np.where(u > 0, u, alpha * np.expm1(np.minimum(u, 0.0)))


def _elu_prime(u: np.ndarray, alpha: float = ELU_ALPHA) -> np.ndarray:
    return np.where(u > 0, 1.0, alpha * np.exp(np.minimum(u, 0.0))).astype(u.dtype)


def _selu(u: np.ndarray) -> np.ndarray:
    return SELU_LAMBDA * _elu(u, SELU_ALPHA)


def _selu_prime(u: np.ndarray) -> np.ndarray:
    return SELU_LAMBDA * _elu_prime(u, SELU_ALPHA)


def _identity(u: np.ndarray) -> np.ndarray:
    return u


def _identity_prime(u: np.ndarray) -> np.ndarray:
    return np.ones_like(u)


Activation = tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]

# name -> (σ, σ'), both evaluated at the pre-activation v = W z + b
_ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": (_sigmoid, _sigmoid_prime),
    "relu": (_relu, _relu_prime),
    "leaky_relu": (_leaky_relu, _leaky_relu_prime),
    "elu": (_elu, _elu_prime),
    "selu": (_selu, _selu_prime),
    "identity": (_identity, _identity_prime),
    "linear": (_identity, _identity_prime),
}
_LOSSES = ("mse", "cross_entropy")
_REDUCTIONS = ("mean", "sum", "none")


def _mse(u: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample ½‖u − y‖² of shape (N,) and its gradient u − y of shape (N, n_out)."""
    r = u - y
    return 0.5 * np.sum(r * r, axis=1), r


def _cross_entropy(u: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample log Σ_k e^{u_k} − yᵀu of shape (N,) and its gradient softmax(u) − y.

    ``y`` is either int64 labels of shape (N,) (validated) or rows of shape (N, n_out).
    """
    # subtract the row max before exp: exp(1e4) overflows; every shifted logit is <= 0
    m = u.max(axis=1, keepdims=True)
    shifted = u - m
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)  # in [1, n_out]: log is safe
    p = e / s
    log_s = np.log(s[:, 0])
    if y.ndim == 1:
        rows = np.arange(u.shape[0])
        # log Σ e^u − u_label = log s − (u_label − m): no cancellation of two huge numbers
        per_sample = log_s - shifted[rows, y]
        grad = p.copy()
        grad[rows, y] -= 1.0
    else:
        # log Σ e^u − yᵀu = log s − yᵀ(u − m) + m (1 − Σ_k y_k); the last term is 0 for one-hot rows
        per_sample = log_s - np.sum(y * shifted, axis=1) + m[:, 0] * (1.0 - y.sum(axis=1))
        grad = p - y
    return per_sample, grad


def _check_layers(
    Ws: Sequence[np.ndarray], bs: Sequence[np.ndarray], n_in: int, residual: bool,
    input_projection: bool,
) -> None:
    """Raise ValueError naming the first layer whose W or b does not fit the chain."""
    if len(Ws) != len(bs):
        raise ValueError(f"len(Ws) == {len(Ws)} but len(bs) == {len(bs)}: need one bias per layer")
    if len(Ws) == 0:
        raise ValueError("Ws is empty: need at least one layer")
    for j, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        if W.ndim != 2:
            raise ValueError(f"Ws[{j}] must be 2-D of shape (n_out, n_in), got shape {W.shape}")
        if W.shape[1] != n_in:
            source = "x.shape[1]" if j == 0 else f"Ws[{j - 1}].shape[0]"
            raise ValueError(
                f"layer shapes do not chain: Ws[{j}] has shape {W.shape}, expected "
                f"({W.shape[0]}, {n_in}) since {source} == {n_in}"
            )
        if b.shape != (W.shape[0],):
            raise ValueError(
                f"bs[{j}] has shape {b.shape}, expected ({W.shape[0]},) to match Ws[{j}] of "
                f"shape {W.shape}"
            )
        n_in = W.shape[0]
    if input_projection and len(Ws) < 2:
        raise ValueError(f"input_projection=True needs at least 2 layers (the first and the last "
                         f"are plain), got {len(Ws)}")
    residual_layers = range(1 if input_projection else 0, len(Ws) - 1) if residual else range(0)
    for j in residual_layers:
        if Ws[j].shape[0] != Ws[j].shape[1]:
            which = ("middle matrices W_2..W_{n-1}" if input_projection else
                     "W_1..W_{n-1}, so the input has the width too (input_projection=True makes "
                     "the first layer plain)")
            raise ValueError(
                f"residual=True needs square {which}: z + σ(W z + b) keeps the width, but "
                f"Ws[{j}] has shape {Ws[j].shape}"
            )


def _check_targets(y: np.ndarray, loss: str, n: int, n_out: int, dtype: np.dtype) -> np.ndarray:
    """Validate y against the output shape (n, n_out); return it as labels or float rows."""
    if loss == "cross_entropy" and y.ndim == 1:
        if y.shape != (n,):
            raise ValueError(f"integer labels y must have shape ({n},), got {y.shape}")
        if y.dtype == np.bool_ or not np.issubdtype(y.dtype, np.number) or np.iscomplexobj(y):
            raise ValueError(f"integer labels y must be integers, got dtype {y.dtype}")
        if not np.issubdtype(y.dtype, np.integer):
            # accept floats that hold whole numbers (e.g. labels loaded from a CSV)
            if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
                raise ValueError(f"integer labels y hold non-integer values: {y[y != np.round(y)]}")
        labels = y.astype(np.int64)
        if n and (labels.min() < 0 or labels.max() >= n_out):
            raise ValueError(
                f"labels out of range: need 0 <= y < {n_out} (the number of outputs), "
                f"got min {labels.min()} and max {labels.max()}"
            )
        return labels
    if y.shape != (n, n_out):
        kind = "one-hot/soft rows y" if loss == "cross_entropy" else "targets y"
        extra = f" or integer labels of shape ({n},)" if loss == "cross_entropy" else ""
        raise ValueError(
            f"{kind} must have shape ({n}, {n_out}) (samples, outputs){extra}, got {y.shape}"
        )
    return y.astype(dtype, copy=False)


def backprop(
    Ws: Sequence[np.ndarray],
    bs: Sequence[np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    activation: str = "relu",
    loss: str = "mse",
    reduction: str = "mean",
    residual: bool = False,
    input_projection: bool = False,
) -> tuple[float | np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Loss and its gradients wrt every W_j and b_j, by the lecture's forward and backward pass.

    Args:
        Ws: ``Ws[j]`` of shape ``(n_out_j, n_in_j)`` (the lecture's W_{j+1}, as in ``nn.Dense``).
        bs: ``bs[j]`` of shape ``(n_out_j,)``.
        x: inputs of shape ``(N, n_in)``, batch-first.
        y: ``"mse"``: targets of shape ``(N, n_out)``. ``"cross_entropy"``: integer labels of
            shape ``(N,)`` (floats holding whole numbers are accepted) or one-hot/soft rows of
            shape ``(N, n_out)``.
        activation: σ of every layer but the last (which is affine): ``"sigmoid"``, ``"relu"``,
            ``"leaky_relu"`` (α = 0.01), ``"elu"`` (α = 1), ``"selu"``, ``"identity"``/``"linear"``.
            At u = 0 the derivative takes the u <= 0 branch (relu'(0) = 0, see Note [kinks]).
        loss: ``"mse"`` (½‖u − y‖² per sample) or ``"cross_entropy"`` (log Σ e^{u_k} − yᵀu).
        reduction: over samples. ``"mean"``, ``"sum"``, or ``"none"``: the loss is then the
            vector of per-sample losses of shape ``(N,)`` and the gradients returned are those of
            their SUM (there is one gradient per parameter, not one per sample).
        residual: the lecture's residual network ``z_{j+1} = z_j + σ(W_j z_j + b_j)`` for
            ``j = 1..n-1`` with ``z_1 = x`` (see the module docstring); needs square
            ``W_1..W_{n-1}``.
        input_projection: with `residual`, the first layer is plain (``z_2 = σ(W_1 x + b_1)``):
            the ``nn.ResidualMLP`` layout; needs ``len(Ws) >= 2`` and square middle matrices.

    Returns:
        ``(loss, dWs, dbs)``: a Python float (an array of shape ``(N,)`` for ``"none"``), and
        lists with ``dWs[j].shape == Ws[j].shape`` and ``dbs[j].shape == bs[j].shape``. The dtype
        is that of x, Ws and bs promoted together (float32 stays float32; integers become
        float64).

    Raises:
        ValueError: x not 2-D; an empty batch with ``"mean"``; ``len(Ws) != len(bs)`` or no
            layers; a layer whose shape does not chain (named with the expected and actual
            shape); a residual layer whose matrix is not square; `input_projection` without
            `residual` or with fewer than 2 layers; y of the wrong shape; labels that are not
            integers or out of range; an unknown activation, loss or reduction (the message
            lists the valid names).
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; valid: {', '.join(_ACTIVATIONS)}")
    if loss not in _LOSSES:
        raise ValueError(f"unknown loss {loss!r}; valid: {', '.join(_LOSSES)}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; valid: {', '.join(_REDUCTIONS)}")
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D of shape (N, n_in) (batch-first), got shape {x.shape}")
    if input_projection and not residual:
        raise ValueError("input_projection=True describes a residual network: pass residual=True too")
    Ws = [np.asarray(W) for W in Ws]
    bs = [np.asarray(b) for b in bs]
    _check_layers(Ws, bs, x.shape[1], residual, input_projection)
    n_samples, n_layers, n_out = x.shape[0], len(Ws), Ws[-1].shape[0]
    if n_samples == 0 and reduction == "mean":
        raise ValueError("x has no samples (shape (0, n_in)): the mean over samples is undefined")
    # float32 stays float32; integer inputs are promoted to a float type
    dtype = np.result_type(x, *Ws, *bs, np.float32)
    x = x.astype(dtype, copy=False)
    Ws = [W.astype(dtype, copy=False) for W in Ws]
    bs = [b.astype(dtype, copy=False) for b in bs]
    y = _check_targets(np.asarray(y), loss, n_samples, n_out, dtype)
    sigma, sigma_prime = _ACTIVATIONS[activation]

    first_residual = 1 if input_projection else 0

    def is_residual(j: int) -> bool:  # 0-based: layers 0..n-2 (1..n-2 with an input projection)
        return residual and first_residual <= j < n_layers - 1

    # Forward pass: store z_j (the input of layer j) and v_j = W_j z_j + b_j for the backward pass.
    zs: list[np.ndarray] = []
    vs: list[np.ndarray] = []
    z = x
    for j, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        v = z @ W.T + b
        zs.append(z)
        vs.append(v)
        if j == n_layers - 1:
            z = v  # σ_n = Id: the last layer is affine
        elif is_residual(j):
            z = z + sigma(v)
        else:
            z = sigma(v)
    u = z

    per_sample, delta = (_mse if loss == "mse" else _cross_entropy)(u, y)
    if reduction == "mean":
        loss_value: float | np.ndarray = float(per_sample.sum() / n_samples)
        delta = delta / n_samples  # δ_{n+1} of the mean: each sample's gradient divided by N
    elif reduction == "sum":
        loss_value = float(per_sample.sum())
    else:
        loss_value = per_sample  # gradients below are those of the sum of per-sample losses

    # Backward pass: delta holds δ_{j+1} (one row per sample) when layer j is processed.
    dWs: list[np.ndarray] = [np.empty(0)] * n_layers
    dbs: list[np.ndarray] = [np.empty(0)] * n_layers
    for j in reversed(range(n_layers)):
        g = delta if j == n_layers - 1 else delta * sigma_prime(vs[j])  # δ_{j+1} ⊙ σ'_j(v_j)
        dWs[j] = g.T @ zs[j]  # Σ_i g_i z_iᵀ
        dbs[j] = g.sum(axis=0)
        if j > 0:  # δ_1 (the gradient wrt x) is not needed
            back = g @ Ws[j]  # W_jᵀ g_i for every sample
            delta = delta + back if is_residual(j) else back
    return loss_value, dWs, dbs

"""The lecture's remedies for exploding gradients: clip gradients, or constrain the weights.

Gradient clipping (`clip_grad_norm`, `clip_grad_value`) acts on ``.grad`` between ``backward()``
and ``opt.step()``. Weight constraints (`clip_weights`: |(W_j)_lk| <= c, and
`constrain_spectral_norm`: ||W_j||_2 <= 1) are projections applied after ``opt.step()``; with
||W_j||_2 <= 1 and 1-Lipschitz activations, ||delta_j||_2 <= ||delta_{j+1}||_2 in the backward
pass (the lecture's bound), so gradients cannot explode.

All functions take a Module, a single Tensor or an iterable of Tensors (duplicates counted once),
act on exactly those parameters, and rebind ``.data`` / ``.grad`` instead of writing in place
(Note [rebind, never write in place] in nn/optim.py); dtypes are kept. A ``.grad`` that is a
Tensor (after ``backward(create_graph=True)``) is replaced by a clipped plain array.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

import autograd_core as ag

from .optim import _grad_array, _param_list

Params = Iterable[ag.Tensor] | ag.Tensor


def _params(params, who: str) -> list[ag.Tensor]:
    return _param_list(params, who, allow_empty=True)


def _positive(value, name: str, who: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{who}: {name} must be a number, got {value!r}") from None
    if not v > 0:  # also refuses nan
        raise ValueError(f"{who}: {name} must be > 0, got {value!r}")
    return v


def clip_grad_norm(params: Params, max_norm: float, error_if_nonfinite: bool = False) -> float:
    """Scale all grads together so their global L2 norm is at most `max_norm`.

    total = sqrt(sum over params of ||grad||_F^2) (one norm over all grads, parameters without a
    grad ignored); then, exactly as ``torch.nn.utils.clip_grad_norm_``, every grad is multiplied
    by ``coef = max_norm / (total + 1e-6)`` when ``coef < 1`` (i.e. when total > max_norm - 1e-6),
    and left untouched otherwise. Afterwards the global norm is max_norm * total/(total + 1e-6)
    <= max_norm. The norm is accumulated in float64.

    Returns the total norm before clipping (a Python float; 0.0 when no parameter has a grad).
    A non-finite total (inf/nan grads) raises RuntimeError if `error_if_nonfinite`, else is
    handled as PyTorch does (grads scaled by coef, which is 0 for inf and nan for nan).
    Raises ValueError if max_norm <= 0.
    """
    who = "clip_grad_norm"
    max_norm = _positive(max_norm, "max_norm", who)
    pairs = [(p, g) for p in _params(params, who) if (g := _grad_array(p, who)) is not None]
    with np.errstate(over="ignore"):  # a sum of squares past 1e308 is an inf total, as in torch
        total = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for _, g in pairs))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"{who}: the total norm of the gradients is {total}; pass "
            "error_if_nonfinite=False to clip anyway"
        )
    coef = max_norm / (total + 1e-6)
    if coef < 1.0 or math.isnan(coef):
        with np.errstate(invalid="ignore"):  # inf * 0 -> nan, as in torch
            for p, g in pairs:
                p.grad = g * coef  # Python float: a float32 grad stays float32
    return total


def clip_grad_value(params: Params, c: float) -> None:
    """Clip every grad elementwise to [-c, c] (``torch.nn.utils.clip_grad_value_``).

    Parameters without a grad are skipped. Raises ValueError if c <= 0.
    """
    who = "clip_grad_value"
    c = _positive(c, "c", who)
    for p in _params(params, who):
        g = _grad_array(p, who)
        if g is not None:
            p.grad = np.clip(g, -c, c)


def clip_weights(params: Params, c: float) -> None:
    """Clip every entry of the given parameters to [-c, c]: |W_lk| <= c (the lecture's rule).

    Acts on exactly the parameters passed, biases included if they are passed (pass only the
    weight matrices to leave biases free). Raises ValueError if c <= 0.
    """
    who = "clip_weights"
    c = _positive(c, "c", who)
    with ag.no_grad():
        for p in _params(params, who):
            p.data = np.clip(p.data, -c, c)


def spectral_norm(w: np.ndarray) -> float:
    """Exact largest singular value of the matrix view of `w` (the lecture's ||W||_2).

    A weight of shape (n_out, n_in, *kernel) is viewed as the (n_out, n_in * prod(kernel))
    matrix (a conv kernel (c_out, c_in, kh, kw) as (c_out, c_in*kh*kw)); a 1-D vector as a
    column (its Euclidean norm). Computed by SVD in float64 (``np.linalg.norm(M, 2)``); 0.0 for
    an empty array.
    """
    w = np.asarray(w)
    if w.ndim == 0:
        raise ValueError("spectral_norm: a 0-d array has no matrix view")
    if w.size == 0:
        return 0.0
    return float(np.linalg.norm(w.reshape(w.shape[0], -1).astype(np.float64), 2))


def constrain_spectral_norm(params: Params, max_norm: float = 1.0) -> list[float]:
    """Project each weight so its largest singular value is at most `max_norm`: ||W_j||_2 <= 1.

    Every parameter with ndim >= 2 is viewed as a matrix (conv kernels (c_out, c_in, kh, kw) as
    (c_out, c_in*kh*kw), see `spectral_norm`); its exact sigma_max is computed by SVD (not a
    power-iteration estimate as in ``torch.nn.utils.spectral_norm``), and when
    sigma_max > max_norm the weight is rebound to W * (max_norm / sigma_max), which scales all
    singular values alike (directions kept). Weights already within the bound are left
    untouched bit for bit; 1-D (biases) and 0-d parameters are always left alone. After
    scaling, sigma_max equals max_norm up to the rounding of the parameter's dtype (relative
    ~1e-7 in float32).

    Returns the sigma_max before the projection of each constrained (ndim >= 2) parameter, in
    order, as Python floats. Raises ValueError if max_norm <= 0.
    """
    who = "constrain_spectral_norm"
    max_norm = _positive(max_norm, "max_norm", who)
    norms = []
    with ag.no_grad():
        for p in _params(params, who):
            if p.data.ndim < 2:
                continue
            sigma = spectral_norm(p.data)
            norms.append(sigma)
            if sigma > max_norm:
                p.data = p.data * (max_norm / sigma)
    return norms

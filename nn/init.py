"""Weight initializers: each returns a fresh NumPy array (wrap it in `nn.Parameter`).

Shapes follow the lecture's W_j convention: ``(n_out, n_in)`` for a dense weight and
``(c_out, c_in, kh, kw)`` for a conv kernel, so (as in PyTorch's ``_calculate_fan_in_and_fan_out``)

    fan_in  = shape[1] * prod(shape[2:])        fan_out = shape[0] * prod(shape[2:])

`rng` is a ``np.random.Generator`` (used and advanced), an int seed, or None (fresh entropy).
Samples are drawn in float64 and then cast to `dtype` (default ``ag.get_default_dtype()``), so a
seed gives the same weights, up to rounding, in float32 and float64.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

import autograd_core as ag

from .constraints import spectral_norm


def _rng(rng, who: str) -> np.random.Generator:
    if rng is None or isinstance(rng, np.random.Generator):
        return np.random.default_rng(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"{who}: a seed must be >= 0, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{who}: rng must be a np.random.Generator, an int seed or None, got {type(rng).__name__}"
    )


def _shape(shape, who: str, min_ndim: int) -> tuple[int, ...]:
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    try:
        shape = tuple(int(n) for n in shape)
    except TypeError:
        raise TypeError(f"{who}: shape must be a tuple of ints, got {shape!r}") from None
    if any(n < 0 for n in shape):
        raise ValueError(f"{who}: negative dimension in shape {shape}")
    if len(shape) < min_ndim:
        raise ValueError(
            f"{who}: shape {shape} needs at least {min_ndim} dimensions (n_out, n_in[, kh, kw])"
        )
    return shape


def _dtype(dtype, who: str) -> np.dtype:
    d = ag.get_default_dtype() if dtype is None else np.dtype(dtype)
    if d.kind != "f":
        raise TypeError(f"{who}: dtype must be a floating dtype, got {d}")
    return d


def _fans(shape: tuple[int, ...], who: str) -> tuple[int, int]:
    receptive = math.prod(shape[2:])
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    if fan_in == 0 or fan_out == 0:
        raise ValueError(f"{who}: fan_in/fan_out of shape {shape} is zero")
    return fan_in, fan_out


def spectral_normal(shape, rng=None, dtype=None) -> np.ndarray:
    """Standard normal entries scaled so the matrix view has ||W||_2 = 1 (the lecture's init).

    W = G / sigma_max(G) with G_lk ~ N(0, 1) i.i.d.; sigma_max is the exact largest singular
    value (SVD, float64) of the (shape[0], prod(shape[1:])) matrix view (conv kernels as
    (c_out, c_in*kh*kw); a 1-D shape as a column, i.e. unit Euclidean norm). In float32,
    ||W||_2 = 1 up to float32 rounding. An empty shape gives an empty array.
    """
    who = "spectral_normal"
    shape, dtype = _shape(shape, who, 1), _dtype(dtype, who)
    w = _rng(rng, who).standard_normal(shape)
    sigma = spectral_norm(w)
    if sigma > 0:
        w = w / sigma
    return w.astype(dtype)


def he_normal(shape, rng=None, dtype=None) -> np.ndarray:
    """He (Kaiming) normal: W_lk ~ N(0, 2 / fan_in), for ReLU networks.

    Same as ``torch.nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu")``:
    std = sqrt(2 / fan_in). Needs ndim >= 2 (ValueError otherwise).
    """
    who = "he_normal"
    shape, dtype = _shape(shape, who, 2), _dtype(dtype, who)
    fan_in, _ = _fans(shape, who)
    std = math.sqrt(2.0 / fan_in)
    return (_rng(rng, who).standard_normal(shape) * std).astype(dtype)


def xavier_normal(shape, rng=None, dtype=None) -> np.ndarray:
    """Xavier (Glorot) normal: W_lk ~ N(0, 2 / (fan_in + fan_out)).

    Same as ``torch.nn.init.xavier_normal_(w, gain=1.0)``: std = sqrt(2 / (fan_in + fan_out)).
    Needs ndim >= 2 (ValueError otherwise).
    """
    who = "xavier_normal"
    shape, dtype = _shape(shape, who, 2), _dtype(dtype, who)
    fan_in, fan_out = _fans(shape, who)
    std = math.sqrt(2.0 / (fan_in + fan_out))
    return (_rng(rng, who).standard_normal(shape) * std).astype(dtype)

"""Affine layers on batch-first data: `Dense`, `SparseDense`, and the reshape `Flatten`.

Note [init]: weights are He-normal, ``W_lk ~ N(0, 2 / fan_in)`` (He et al. 2015), and biases
start at zero. The variance 2/fan_in keeps the second moment of the activations roughly constant
through ReLU layers, which is the default activation of `MLP`. (PyTorch's default is a uniform
distribution with variance 1/(3·fan_in); either works for the depths used here, and ``nn.init``
or ``load_state_dict`` replace the arrays when another scheme is wanted.) Parameters are created
in ``ag.get_default_dtype()``.

Note [rng]: every ``rng`` argument takes a ``np.random.Generator`` (used as is, so one generator
can seed a whole model reproducibly), an int seed, or None (fresh OS entropy).
"""

from __future__ import annotations

import numpy as np

import autograd_core as ag

from .module import Module, Parameter

__all__ = ["Dense", "SparseDense", "Flatten", "as_rng", "float_input", "he_normal_array"]


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A Generator from a Generator (returned as is), an int seed, or None (Note [rng])."""
    if rng is not None and not isinstance(rng, (np.random.Generator, int, np.integer)):
        raise TypeError("rng must be a np.random.Generator, an int seed or None, "
                        f"got {type(rng).__name__}")
    return np.random.default_rng(rng)


def he_normal_array(shape: tuple[int, ...], fan_in: float, rng: np.random.Generator) -> np.ndarray:
    """Samples of N(0, 2/fan_in) of `shape` in the engine's default dtype (Note [init])."""
    std = np.sqrt(2.0 / max(fan_in, 1.0))
    return (rng.standard_normal(shape) * std).astype(ag.get_default_dtype())


def float_input(x, dtype: np.dtype):
    """x as a Tensor or array; a list of numbers and integer or bool data (pixels, counts)
    converted to `dtype`, the layer's weight dtype, rather than promoted by NumPy (int64 with
    float32 gives float64). Float arrays and Tensors are left alone: the model's entry already
    cast them (Note [dtype] in nn/module.py)."""
    if not isinstance(x, (ag.Tensor, np.ndarray)):  # a list of numbers has no precision of its own
        return np.asarray(x, dtype=dtype)
    data = x.data if isinstance(x, ag.Tensor) else x
    if data.dtype.kind in "biu":  # an integer Tensor carries no gradient: its data will do
        return data.astype(dtype)
    return x if isinstance(x, ag.Tensor) else data


def _check_positive(layer: str, **sizes: int) -> None:
    for name, n in sizes.items():
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{layer}: {name} must be a positive int, got {n!r}")


class Dense(Module):
    """Fully connected layer ``u = x @ W.T + b`` (the lecture's ``W_j z_j + b_j``, batch-first).

    Shapes: x ``(N, n_in)`` → u ``(N, n_out)``; ``W`` ``(n_out, n_in)``, ``b`` ``(n_out,)``.
    Init: He-normal W, zero b (Note [init]). Computes in W's dtype: a float input of another
    dtype is cast once at the model's entry (Note [dtype] in nn/module.py), integer data here.
    Raises ValueError for an input of another shape.
    """

    def __init__(self, n_in: int, n_out: int, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        _check_positive("Dense", n_in=n_in, n_out=n_out)
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.W = Parameter(he_normal_array((self.n_out, self.n_in), self.n_in, as_rng(rng)))
        self.b = Parameter(np.zeros(self.n_out, dtype=ag.get_default_dtype()))

    def weight(self) -> ag.Tensor:
        """The weight matrix the forward uses (`W` itself here; masked in `SparseDense`)."""
        return self.W

    def forward(self, x: ag.Tensor) -> ag.Tensor:
        # the input check inlined: this runs once per layer call (Tensor.shape is a property)
        if not isinstance(x, ag.Tensor) and not isinstance(x, np.ndarray) or x.dtype.kind != "f":
            x = float_input(x, self.W.data.dtype)
        shape = x.data.shape if isinstance(x, ag.Tensor) else x.shape
        if len(shape) != 2 or shape[1] != self.n_in:
            raise ValueError(f"{self!r}: expected input of shape (N, {self.n_in}), "
                             f"got {tuple(shape)}")
        return ag.linear(x, self.weight(), self.b)  # one fused node: x @ W.T + b

    def extra_repr(self) -> str:
        return f"{self.n_in}→{self.n_out}"


class SparseDense(Dense):
    """`Dense` with a fixed random sparsity pattern: ``u = x @ (W ⊙ M).T + b``.

    The mask ``M`` (bool, ``(n_out, n_in)``, each entry kept with probability `density`) is a
    buffer: saved in the state dict, never trained. Because the forward multiplies by M, the
    gradient of W is exactly zero off the pattern, so W stays zero there under any gradient
    method (W starts zero off the pattern). On-pattern entries are He-normal with fan-in
    ``density·n_in`` (the expected number of inputs of a unit), see Note [init].
    """

    def __init__(self, n_in: int, n_out: int, density: float,
                 seed: np.random.Generator | int | None = None) -> None:
        if not 0.0 < float(density) <= 1.0:
            raise ValueError(f"SparseDense: density must be in (0, 1], got {density!r}")
        _check_positive("SparseDense", n_in=n_in, n_out=n_out)
        rng = as_rng(seed)
        mask = rng.random((int(n_out), int(n_in))) < float(density)
        super().__init__(n_in, n_out, rng=rng)  # He-normal with fan-in n_in ...
        self.density = float(density)
        self.register_buffer("mask", mask)
        # ... rescaled to fan-in density·n_in, and zero off the pattern
        W = self.W.data
        self.W = Parameter(np.where(mask, W / np.sqrt(self.density), 0).astype(W.dtype))

    def weight(self) -> ag.Tensor:
        # a constant mask multiplied in: d(W ⊙ M)/dW = M, so off-pattern gradients are exactly 0.
        # Read through ag.tracing.read: a jitted step sees a mask that load_state_dict rebound
        return self.W * ag.tracing.read(lambda: self.mask)

    def extra_repr(self) -> str:
        return f"{self.n_in}→{self.n_out}, density={self.density:g}"


class Flatten(Module):
    """``(N, d_1, ..., d_k)`` → ``(N, d_1·…·d_k)``: keep the batch axis, join the others."""

    def forward(self, x: ag.Tensor) -> ag.Tensor:
        shape = np.shape(x)
        if len(shape) < 1:
            raise ValueError(f"Flatten: expected input of shape (N, ...), got {tuple(shape)}")
        # the size is spelled out (not -1) so an empty batch (N = 0) reshapes too
        return ag.reshape(x, (shape[0], int(np.prod(shape[1:], dtype=np.int64))))

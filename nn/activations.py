"""The lecture's activation functions, elementwise, as functions and as `Module`s.

Note [kinks]: at u = 0 every derivative takes its u <= 0 branch, as ``nn.reference`` does:
relu'(0) = 0, leaky_relu'(0) = α, elu'(0) = α, selu'(0) = λα. (Any subgradient would be valid;
agreeing with the oracle lets the engine-vs-reference check hold even exactly at a kink.)

Numerics: no function here evaluates exp of a positive number, so inputs of ±1e4 (or ±inf for
the piecewise ones) give finite values and no overflow warning.
"""

from __future__ import annotations

import copy

import autograd_core as ag

from .module import Module

__all__ = [
    "sigmoid", "relu", "leaky_relu", "elu", "selu",
    "Sigmoid", "ReLU", "LeakyReLU", "ELU", "SELU", "ACTIVATIONS", "make_activation",
]

SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717


def sigmoid(x: ag.Tensor) -> ag.Tensor:
    """σ(u) = 1 / (1 + e^{−u}); σ' = σ(1 − σ). Stable for any u (the engine's ``ag.sigmoid``)."""
    return ag.sigmoid(x)


def relu(x: ag.Tensor) -> ag.Tensor:
    """max(u, 0); derivative 1 for u > 0, else 0 (relu'(0) = 0, Note [kinks])."""
    return ag.relu(x)


def leaky_relu(x: ag.Tensor, alpha: float = 0.01) -> ag.Tensor:
    """u for u > 0, else α·u (the lecture's max(u, αu) for 0 < α < 1); derivative 1 for u > 0,
    else α (leaky_relu'(0) = α, Note [kinks])."""
    return ag.where(x > 0, x, alpha * x)


def elu(x: ag.Tensor, alpha: float = 1.0) -> ag.Tensor:
    """u for u > 0, else α(e^u − 1); derivative 1 for u > 0, else α·e^u (elu'(0) = α).

    exp is taken only of min(u, 0): exp(1e4) would overflow even though `where` discards it.
    """
    # clip passes the gradient at its bound (u = 0), so the u <= 0 branch has slope α·e^0 = α there
    neg = ag.clip(x, None, 0.0)
    return ag.where(x > 0, x, alpha * (ag.exp(neg) - 1.0))


def selu(x: ag.Tensor) -> ag.Tensor:
    """λ·elu(u, α) with λ ≈ 1.0507 and α ≈ 1.6733 (self-normalizing, Klambauer et al. 2017)."""
    return SELU_LAMBDA * elu(x, SELU_ALPHA)


class Sigmoid(Module):
    """Module form of `sigmoid`."""

    def forward(self, x: ag.Tensor) -> ag.Tensor:
        return ag.sigmoid(x)  # (not through `sigmoid`: one Python call less per layer)


class ReLU(Module):
    """Module form of `relu`."""

    def forward(self, x: ag.Tensor) -> ag.Tensor:
        return ag.relu(x)  # (not through `relu`: one Python call less per layer)


class LeakyReLU(Module):
    """Module form of `leaky_relu` with slope `alpha` for u <= 0."""

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x: ag.Tensor) -> ag.Tensor:
        ag.depends_on(self, "alpha")  # (ag.jit: a changed alpha traces again)
        return leaky_relu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha:g}"


class ELU(Module):
    """Module form of `elu` with scale `alpha` for u <= 0."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x: ag.Tensor) -> ag.Tensor:
        ag.depends_on(self, "alpha")  # (ag.jit: a changed alpha traces again)
        return elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha:g}"


class SELU(Module):
    """Module form of `selu`."""

    def forward(self, x: ag.Tensor) -> ag.Tensor:
        return selu(x)


# the names `MLP` and `ResidualMLP` accept (also those of nn.reference.backprop)
ACTIVATIONS: dict[str, type[Module]] = {
    "sigmoid": Sigmoid, "relu": ReLU, "leaky_relu": LeakyReLU, "elu": ELU, "selu": SELU,
}


def make_activation(activation: str | Module | type[Module]) -> Module:
    """A fresh activation Module from a name in `ACTIVATIONS`, a Module class (called with no
    arguments) or a Module instance (deep-copied, so each layer owns its own). TypeError or
    ValueError otherwise, listing the valid names."""
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; valid: {', '.join(ACTIVATIONS)}")
        return ACTIVATIONS[activation]()
    if isinstance(activation, type) and issubclass(activation, Module):
        return activation()
    if isinstance(activation, Module):
        return copy.deepcopy(activation)
    raise TypeError(f"activation must be a name ({', '.join(ACTIVATIONS)}), a Module class or a "
                    f"Module instance, got {type(activation).__name__}")

"""The lecture's models and regularizers: `MLP`, `Residual`, `ResidualMLP`, `Dropout`,
`StochasticDepth`.

Note [masks]: dropout masks are ordinary constant arrays multiplied into the graph, drawn fresh
on every training call from the module's Generator. The gradient of ``x ⊙ m`` is ``g ⊙ m``, so a
dropped unit gets exactly zero gradient and no special backward is needed. They are drawn through
``ag.draw_random``, which ``ag.jit`` repeats at every replay (a fresh mask per call, from the same
Generator as eagerly), and the Python attributes a forward branches on (``training``, ``p``,
``mode``) are declared with ``ag.depends_on``: a compiled program is replayed only while they
keep the values it was traced with (``model.eval()`` or a new ``p`` traces again).
"""

from __future__ import annotations

import numpy as np

import autograd_core as ag

from .activations import make_activation
from .layers import Dense, as_rng
from .module import Module, Sequential, _values

__all__ = ["MLP", "Residual", "ResidualMLP", "Dropout", "StochasticDepth"]


def _dense_weights(model: Module) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(Ws, bs) of every Dense layer in registration order (the order of the forward pass)."""
    dense = [m for m in model.modules() if isinstance(m, Dense)]
    return [d.W.data for d in dense], [d.b.data for d in dense]


class MLP(Module):
    """The lecture's model ``m(x) = W_n σ(W_{n−1} ⋯ σ(W_1 x + b_1) ⋯ + b_{n−1}) + b_n``.

    ``sizes = [n_in, n_1, ..., n_out]`` gives ``len(sizes) − 1`` Dense layers with the activation
    between them and an affine last layer, stored as ``self.layers = Sequential(Dense, σ, Dense,
    …)``, so parameters are named ``"layers.0.W"``, ``"layers.0.b"``, ``"layers.2.W"``, …
    `activation`: a name (``"sigmoid" "relu" "leaky_relu" "elu" "selu"``), a Module class or an
    instance (copied per layer). Shapes: ``(N, n_in)`` → ``(N, n_out)``.
    """

    def __init__(self, sizes: list[int], activation: str | Module | type[Module] = "relu",
                 rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs at least [n_in, n_out], got {sizes}")
        rng = as_rng(rng)
        layers: list[Module] = []
        for j, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            if j:
                layers.append(make_activation(activation))
            layers.append(Dense(a, b, rng=rng))
        self.layers = Sequential(*layers)
        self.activation = activation if isinstance(activation, str) else None

    def forward(self, x: ag.Tensor) -> ag.Tensor:
        return self.layers(x)

    def weights(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """``(Ws, bs)``: each Dense layer's W ``(n_out, n_in)`` and b arrays (not copies), in
        layer order: the arguments of ``nn.reference.backprop(Ws, bs, ...)``."""
        return _dense_weights(self)


class Residual(Module):
    """Skip connection ``z + block(z)`` (the lecture's ``z_{j+1} = z_j + σ(W_j z_j + b_j)``).

    The block must keep the shape; ValueError (naming both shapes) otherwise.
    """

    def __init__(self, block: Module) -> None:
        super().__init__()
        self.block = block

    def forward(self, z: ag.Tensor) -> ag.Tensor:
        h = self.block(z)
        hs = h.data.shape if isinstance(h, ag.Tensor) else np.shape(h)  # (Tensor.shape: a call)
        if hs != (z.data.shape if isinstance(z, ag.Tensor) else np.shape(z)):
            raise ValueError(f"Residual: the block maps shape {tuple(np.shape(z))} to "
                             f"{tuple(np.shape(h))}; z + block(z) needs the same shape")
        return z + h


class ResidualMLP(Module):
    """``Dense(n_in, width)`` → σ → `depth` × [z + σ(W z + b)] → ``Dense(width, n_out)``.

    The residual form of `MLP`; the first layer projects the input to the width, so it is plain
    (the layout of ``nn.reference.backprop(..., residual=True, input_projection=True)``; the
    lecture's residual network, residual from the first layer on, is ``residual=True`` alone):
    ``self.layers = Sequential(Dense, σ, Residual(Sequential(Dense, σ)), …, Dense)``.
    Shapes: ``(N, n_in)`` → ``(N, n_out)``.
    """

    def __init__(self, n_in: int, width: int, depth: int, n_out: int,
                 activation: str | Module | type[Module] = "relu",
                 rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        if not isinstance(depth, (int, np.integer)) or depth < 0:
            raise ValueError(f"ResidualMLP: depth must be an int >= 0, got {depth!r}")
        rng = as_rng(rng)
        layers: list[Module] = [Dense(n_in, width, rng=rng), make_activation(activation)]
        for _ in range(depth):
            block = Sequential(Dense(width, width, rng=rng), make_activation(activation))
            layers.append(Residual(block))
        layers.append(Dense(width, n_out, rng=rng))
        self.layers = Sequential(*layers)
        self.activation = activation if isinstance(activation, str) else None

    def forward(self, x: ag.Tensor) -> ag.Tensor:
        return self.layers(x)

    def weights(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """``(Ws, bs)`` in layer order (first, the `depth` residual layers, last), as arrays."""
        return _dense_weights(self)


def _check_p(who: str, p: float, allow_one: bool) -> float:
    p = float(p)
    ok = 0.0 <= p <= 1.0 if allow_one else 0.0 <= p < 1.0
    if not ok:
        interval = "[0, 1]" if allow_one else "[0, 1)"
        raise ValueError(f"{who}: drop probability p must be in {interval}, got {p!r}")
    return p


class Dropout(Module):
    """Drop each unit with probability `p` in training (Note [masks]).

    ``mode="inverted"`` (default, as PyTorch): train ``x ⊙ m / (1 − p)``, eval ``x``.
    ``mode="classic"`` (the lecture's): train ``x ⊙ m``, eval ``(1 − p) x``.
    Either way the expected training output equals the eval output. ``m_i ~ Bernoulli(1 − p)``.
    Raises ValueError for p outside [0, 1) or an unknown mode.
    """

    def __init__(self, p: float = 0.5, mode: str = "inverted",
                 rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        self.p = _check_p("Dropout", p, allow_one=False)
        if mode not in ("inverted", "classic"):
            raise ValueError(f"Dropout: mode must be 'inverted' or 'classic', got {mode!r}")
        self.mode = mode
        self.rng = as_rng(rng)

    def forward(self, x: ag.Tensor) -> ag.Tensor:
        ag.depends_on(self, "training", "p", "mode")  # (Note [masks])
        if not self.training:
            return x if self.mode == "inverted" else x * (1.0 - self.p)
        if self.p == 0.0:
            return x
        # drawn through the engine so a gradient check replays the same mask on every evaluation
        shape = np.shape(x)
        keep = ag.draw_random(self, lambda: self.rng.random(shape) >= self.p)
        dtype = _values(x).dtype
        # the mask takes x's float dtype, so float32 activations stay float32
        dtype = dtype if dtype.kind == "f" else ag.get_default_dtype()
        scale = 1.0 / (1.0 - self.p) if self.mode == "inverted" else 1.0
        return x * (keep * scale).astype(dtype)

    def extra_repr(self) -> str:
        return f"p={self.p:g}, mode={self.mode!r}"


class StochasticDepth(Module):
    """The lecture's layer dropout: a residual block ``z + block(z)`` whose branch is dropped.

    Train: with probability `p` (one draw per batch) the output is ``z`` itself, else
    ``z + block(z)``. Eval: ``z + (1 − p)·block(z)`` (the expected training output).
    p in [0, 1] (p = 1 always drops the branch); ValueError otherwise.
    """

    def __init__(self, block: Module, p: float,
                 rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        self.block = block
        self.p = _check_p("StochasticDepth", p, allow_one=True)
        self.rng = as_rng(rng)

    def forward(self, z: ag.Tensor) -> ag.Tensor:
        ag.depends_on(self, "training", "p")  # (Note [masks])
        if self.training:
            # under ag.jit the branch is a recorded check: each outcome compiles its own program
            if ag.draw_random(self, lambda: self.rng.random() < self.p):
                return z  # the branch is not evaluated: its parameters get no gradient
            return z + self.block(z)
        return z + (1.0 - self.p) * self.block(z)

    def extra_repr(self) -> str:
        return f"p={self.p:g}"

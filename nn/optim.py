"""Optimizers: `SGD` and `Adam` with exactly PyTorch's update rules (``torch.optim.SGD/Adam``).

>>> model = nn.Dense(3, 2, rng=0)
>>> x, y = np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32)
>>> opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
>>> loss = nn.mse_loss(model(x), y); loss.backward(); opt.step(); opt.zero_grad()

Note [rebind, never write in place]
Arrays that a recorded node saved for backward are read-only until that backward releases them
(Note [saved arrays are read-only] in autograd_core/tape.py). A training loop may well step while
such a graph is alive (e.g. a loss kept for logging), so every update here builds a new array and
rebinds ``p.data = ...``; the old graph keeps the old array and its backward stays correct. The
same holds for ``p.grad`` and for the optimizer's own state (it is private, but rebinding costs
nothing extra since NumPy allocates the result anyway).

Note [dtypes of updates]
Hyperparameters are stored as Python floats: NumPy 2 treats them as "weak" scalars, so a float32
parameter stays float32 (an ``np.float64`` hyperparameter would upcast it). State arrays have the
parameter's dtype.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

import autograd_core as ag


def _param_list(params, who: str, allow_empty: bool = False) -> list[ag.Tensor]:
    """Parameters from a Module, a single Tensor or an iterable of Tensors; duplicates dropped.
    An empty list is an error for an optimizer; constraints accept it (nothing to do)."""
    if hasattr(params, "parameters") and callable(params.parameters):
        params = params.parameters()
    if isinstance(params, ag.Tensor):
        params = [params]
    try:
        items = list(params)
    except TypeError:
        raise TypeError(
            f"{who}: params must be an iterable of Parameters (e.g. model.parameters()), "
            f"got {type(params).__name__}"
        ) from None
    out: list[ag.Tensor] = []
    seen: set[int] = set()
    for i, p in enumerate(items):
        if not isinstance(p, ag.Tensor):
            raise TypeError(f"{who}: params[{i}] is a {type(p).__name__}, not a Parameter/Tensor")
        if id(p) not in seen:  # a parameter listed twice is updated once
            seen.add(id(p))
            out.append(p)
    if not out and not allow_empty:
        raise ValueError(f"{who}: got an empty parameter list")
    return out


def _grad_array(p: ag.Tensor, who: str) -> np.ndarray | None:
    """The parameter's grad as a plain array of its dtype, or None when it has none."""
    g = p.grad
    if g is None:
        return None
    if isinstance(g, ag.Tensor):  # after backward(create_graph=True): step on its value
        g = g.data
    g = np.asarray(g)
    if g.shape != p.data.shape:
        raise ValueError(f"{who}: grad of shape {g.shape} for a parameter of shape {p.data.shape}")
    return g if g.dtype == p.data.dtype else g.astype(p.data.dtype)


def _check_float(
    value,
    name: str,
    who: str,
    *,
    low: float = 0.0,
    high: float | None = None,
    high_open: bool = True,
) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{who}: {name} must be a number, got {value!r}") from None
    if math.isnan(v) or v < low or (high is not None and (v >= high if high_open else v > high)):
        bound = f"in [{low}, {high}{')' if high_open else ']'}" if high is not None else f">= {low}"
        raise ValueError(f"{who}: invalid {name}={value!r}, expected {bound}")
    return v


class Optimizer:
    """Base class: holds the parameter list and per-parameter state keyed by identity."""

    def __init__(self, params, who: str) -> None:
        self.params: list[ag.Tensor] = _param_list(params, who)
        self.state: dict[int, dict] = {}  # id(param) -> state; self.params keeps the ids alive

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's grad: ``None`` (default, as PyTorch), or fresh zeros."""
        for p in self.params:
            p.grad = None if set_to_none else np.zeros_like(p.data)

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, exactly ``torch.optim.SGD``.

    For each parameter ``p`` with a grad (parameters whose ``.grad`` is None are skipped)::

        g = p.grad + weight_decay * p                      (L2 penalty folded into the grad)
        if momentum != 0:
            buf = g                                        on the first step
            buf = momentum * buf + (1 - dampening) * g     afterwards
            g = g + momentum * buf   if nesterov   else   buf
        p = p - lr * g

    Raises ValueError naming the argument for lr < 0, momentum < 0, weight_decay < 0,
    dampening outside [0, 1], or nesterov without momentum > 0 and dampening == 0 (PyTorch's
    rule); ValueError for an empty parameter list. Updates rebind ``p.data`` (Note [rebind,
    never write in place]) and keep its dtype.
    """

    def __init__(
        self,
        params: Iterable[ag.Tensor],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        dampening: float = 0.0,
    ) -> None:
        who = "SGD"
        self.lr = _check_float(lr, "lr", who)
        self.momentum = _check_float(momentum, "momentum", who)
        self.weight_decay = _check_float(weight_decay, "weight_decay", who)
        self.dampening = _check_float(dampening, "dampening", who, high=1.0, high_open=False)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                f"{who}: nesterov=True requires momentum > 0 and dampening == 0, got "
                f"momentum={momentum!r}, dampening={dampening!r}"
            )
        super().__init__(params, who)

    @ag.no_grad()
    def step(self) -> None:
        """Apply one update to every parameter that has a grad."""
        lr, mu, wd, damp = self.lr, self.momentum, self.weight_decay, self.dampening
        for p in self.params:
            g = _grad_array(p, "SGD.step")
            if g is None:
                continue
            if wd != 0:
                g = g + wd * p.data
            if mu != 0:
                st = self.state.setdefault(id(p), {})
                buf = st.get("momentum_buffer")
                # first step: the buffer is the grad itself (no dampening), as in PyTorch
                buf = g.copy() if buf is None else mu * buf + (1.0 - damp) * g
                st["momentum_buffer"] = buf
                g = g + mu * buf if self.nesterov else buf
            p.data = p.data - lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba) with L2 weight decay, exactly ``torch.optim.Adam`` (amsgrad=False).

    For each parameter ``p`` with a grad, at its step count t = 1, 2, ...::

        g = p.grad + weight_decay * p                   (L2 penalty, not AdamW's decoupled decay)
        m = beta1 * m + (1 - beta1) * g                 (m, v start at zero)
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t);   v_hat = v / (1 - beta2**t)
        p = p - lr * m_hat / (sqrt(v_hat) + eps)

    computed, like PyTorch, as ``p - (lr / (1 - beta1**t)) * m / (sqrt(v) / sqrt(1 - beta2**t)
    + eps)``. A parameter whose ``.grad`` is None is skipped and its t does not advance.
    Raises ValueError naming the argument for lr < 0, eps < 0, weight_decay < 0, or a beta
    outside [0, 1); ValueError for an empty parameter list.
    """

    def __init__(
        self,
        params: Iterable[ag.Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        who = "Adam"
        self.lr = _check_float(lr, "lr", who)
        try:
            b1, b2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"{who}: betas must be a pair (beta1, beta2), got {betas!r}") from None
        self.betas = (
            _check_float(b1, "betas[0]", who, high=1.0),
            _check_float(b2, "betas[1]", who, high=1.0),
        )
        self.eps = _check_float(eps, "eps", who)
        self.weight_decay = _check_float(weight_decay, "weight_decay", who)
        super().__init__(params, who)

    @ag.no_grad()
    def step(self) -> None:
        """Apply one update to every parameter that has a grad."""
        lr, (b1, b2), eps, wd = self.lr, self.betas, self.eps, self.weight_decay
        for p in self.params:
            g = _grad_array(p, "Adam.step")
            if g is None:
                continue
            if wd != 0:
                g = g + wd * p.data
            st = self.state.get(id(p))
            if st is None:
                zeros = np.zeros_like(p.data)
                st = self.state[id(p)] = {"step": 0, "exp_avg": zeros, "exp_avg_sq": zeros}
            t = st["step"] = st["step"] + 1
            m = st["exp_avg"] = b1 * st["exp_avg"] + (1.0 - b1) * g
            v = st["exp_avg_sq"] = b2 * st["exp_avg_sq"] + (1.0 - b2) * (g * g)
            step_size = lr / (1.0 - b1**t)  # Python floats: no upcast of float32 (Note [dtypes])
            bias_correction2_sqrt = math.sqrt(1.0 - b2**t)
            p.data = p.data - step_size * (m / (np.sqrt(v) / bias_correction2_sqrt + eps))

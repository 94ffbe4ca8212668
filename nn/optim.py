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

Note [optimizer state dicts]
``state_dict()`` is flat and holds arrays and numbers only, so ``np.savez(path, **opt.state_dict())``
saves it without pickle and ``opt.load_state_dict(np.load(path))`` reads it back. Its keys: the
hyperparameters by their constructor names (``lr``, ``momentum`` ..., Adam's ``betas`` as a float64
array of two), ``n_params`` (the length of the optimizer's parameter list), and per-parameter
state ``state.<i>.<name>`` with ``i`` the parameter's position in that list, as in PyTorch
(``state.0.momentum_buffer``; Adam's ``state.0.step``, ``state.0.exp_avg``, ``state.0.exp_avg_sq``).
A parameter that has never been stepped has no ``state.<i>.*`` keys. Loading is all or nothing:
every key, number, shape and dtype is checked first (a problem raises one ValueError naming all of
them) and only then is anything assigned, so a round trip reproduces the next step bit for bit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

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


_STATE_KEY = re.compile(r"state\.(\d+)\.(\w+)")


def _number(value, key: str, problems: list[str]) -> float | int | bool | None:
    """A Python number from a number or a 0-d numeric array (what ``np.load`` gives back)."""
    arr = np.asarray(value) if isinstance(value, np.ndarray | np.generic) else None
    if arr is not None and arr.ndim == 0 and arr.dtype.kind in "biuf":
        return arr.item()
    if isinstance(value, bool | int | float) and not isinstance(value, np.ndarray):
        return value
    shown = f"an array of shape {arr.shape}, dtype {arr.dtype}" if arr is not None else repr(value)
    problems.append(f"{key}: expected a number, got {shown}")
    return None


class Optimizer:
    """Base class: holds the parameter list and per-parameter state keyed by identity.

    Subclasses name their hyperparameters (attributes saved as numbers) and their per-parameter
    state entries (``"array"``: of the parameter's shape and dtype; ``"count"``: an int >= 0), and
    validate hyperparameters in `_checked` (used by ``__init__`` and `load_state_dict` alike).
    """

    hyperparameters: tuple[str, ...] = ()
    state_entries: dict[str, str] = {}

    def __init__(self, params, who: str) -> None:
        self.params: list[ag.Tensor] = _param_list(params, who)
        self.state: dict[int, dict] = {}  # id(param) -> state; self.params keeps the ids alive

    def _checked(self, who: str, **values) -> dict:
        """The hyperparameters validated (ValueError/TypeError naming the bad one)."""
        raise NotImplementedError

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's grad: ``None`` (default, as PyTorch), or fresh zeros."""
        for p in self.params:
            p.grad = None if set_to_none else np.zeros_like(p.data)

    def step(self) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, float | int | bool | np.ndarray]:
        """Hyperparameters, ``n_params`` and per-parameter state (copies), arrays and numbers
        only (Note [optimizer state dicts]): ``np.savez(path, **opt.state_dict())`` saves it."""
        out: dict[str, float | int | bool | np.ndarray] = {}
        for name in self.hyperparameters:
            v = getattr(self, name)
            if isinstance(v, tuple):
                out[name] = np.array(v, dtype=np.float64)
            else:
                out[name] = v if isinstance(v, bool) else float(v)
        out["n_params"] = len(self.params)
        for i, p in enumerate(self.params):
            for name, v in self.state.get(id(p), {}).items():
                out[f"state.{i}.{name}"] = v.copy() if isinstance(v, np.ndarray) else int(v)
        return out

    def load_state_dict(self, state: Mapping) -> None:
        """Load a `state_dict` (e.g. ``np.load(path)`` of a saved one), all or nothing.

        Refused with one ValueError naming every problem, before anything changes: missing or
        unexpected keys, ``n_params`` different from this optimizer's number of parameters, a
        hyperparameter that is not a valid number (the constructor's checks), state arrays of
        another shape or dtype than their parameter (no casts: a resumed run must be exact), a
        parameter with only part of its state, a step count that is not an int >= 0. On success
        the next `step` is bit for bit the one the saved optimizer would have taken.
        """
        who = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, Mapping):
            raise TypeError(f"{who}: expected a mapping (a state_dict, or np.load of a saved one), "
                            f"got {type(state).__name__}")
        problems: list[str] = []
        expected = {*self.hyperparameters, "n_params"}
        missing = sorted(expected - set(state))
        unexpected, per_param = [], {}
        for key in state:
            m = _STATE_KEY.fullmatch(str(key))
            if m and m.group(2) in self.state_entries:
                per_param.setdefault(int(m.group(1)), {})[m.group(2)] = state[key]
            elif key not in expected:
                unexpected.append(str(key))
        n = _number(state["n_params"], "n_params", problems) if "n_params" in state else None
        if n is not None and n != len(self.params):
            problems.append(f"n_params: the state is for {n} parameters, this optimizer has "
                            f"{len(self.params)}")
        unexpected += [f"state.{i}.{k}" for i in per_param if i >= len(self.params)
                       for k in per_param[i]]
        values = {}
        for name in self.hyperparameters:
            if name not in state:
                continue
            v = state[name]
            if name == "betas":
                arr = np.asarray(v)
                if arr.shape != (2,) or arr.dtype.kind not in "biuf":
                    problems.append(f"betas: expected two numbers, got {arr.shape} {arr.dtype}")
                    continue
                values[name] = (float(arr[0]), float(arr[1]))
            else:
                values[name] = _number(v, name, problems)
        checked = None
        if not missing and None not in values.values() and len(values) == len(self.hyperparameters):
            try:
                checked = self._checked(who, **values)
            except (TypeError, ValueError) as e:
                problems.append(str(e).removeprefix(f"{who}: "))
        new_state: dict[int, dict] = {}
        for i, entries in sorted(per_param.items()):
            if i >= len(self.params):
                continue
            new_state[id(self.params[i])] = self._checked_entries(i, entries, missing, problems)
        if missing:
            problems.insert(0, f"missing keys: {', '.join(missing)}")
        if unexpected:
            problems.insert(1 if missing else 0, f"unexpected keys: {', '.join(sorted(unexpected))}")
        if problems:
            raise ValueError(f"{who}: " + "; ".join(problems) + "; the optimizer is unchanged")
        for name, v in checked.items():
            setattr(self, name, v)
        self.state = new_state

    def _checked_entries(self, i: int, entries: dict, missing: list[str],
                         problems: list[str]) -> dict:
        """One parameter's state entries, copied and checked against params[i]."""
        p = self.params[i]
        out = {}
        for name, kind in self.state_entries.items():
            key = f"state.{i}.{name}"
            if name not in entries:
                missing.append(key)
                continue
            v = entries[name]
            if kind == "count":
                c = _number(v, key, problems)
                if c is not None and (isinstance(c, bool) or not isinstance(c, int) or c < 0):
                    problems.append(f"{key}: expected an int >= 0, got {c!r}")
                out[name] = c
                continue
            arr = np.asarray(v)
            if arr.shape != p.data.shape or arr.dtype != p.data.dtype:
                problems.append(f"{key}: shape {arr.shape}, dtype {arr.dtype}, but params[{i}] is "
                                f"{p.data.shape}, {p.data.dtype}")
            out[name] = np.array(arr, copy=True)
        return out


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

    hyperparameters = ("lr", "momentum", "dampening", "weight_decay", "nesterov")
    state_entries = {"momentum_buffer": "array"}

    def __init__(
        self,
        params: Iterable[ag.Tensor],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        dampening: float = 0.0,
    ) -> None:
        values = self._checked("SGD", lr=lr, momentum=momentum, weight_decay=weight_decay,
                               nesterov=nesterov, dampening=dampening)
        for name, v in values.items():
            setattr(self, name, v)
        super().__init__(params, "SGD")

    def _checked(self, who: str, *, lr, momentum, weight_decay, nesterov, dampening) -> dict:
        values = {
            "lr": _check_float(lr, "lr", who),
            "momentum": _check_float(momentum, "momentum", who),
            "weight_decay": _check_float(weight_decay, "weight_decay", who),
            "dampening": _check_float(dampening, "dampening", who, high=1.0, high_open=False),
            "nesterov": bool(nesterov),
        }
        if values["nesterov"] and (values["momentum"] <= 0 or values["dampening"] != 0):
            raise ValueError(
                f"{who}: nesterov=True requires momentum > 0 and dampening == 0, got "
                f"momentum={momentum!r}, dampening={dampening!r}"
            )
        return values

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

    hyperparameters = ("lr", "betas", "eps", "weight_decay")
    state_entries = {"step": "count", "exp_avg": "array", "exp_avg_sq": "array"}

    def __init__(
        self,
        params: Iterable[ag.Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        values = self._checked("Adam", lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        for name, v in values.items():
            setattr(self, name, v)
        super().__init__(params, "Adam")

    def _checked(self, who: str, *, lr, betas, eps, weight_decay) -> dict:
        lr = _check_float(lr, "lr", who)
        try:
            b1, b2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"{who}: betas must be a pair (beta1, beta2), got {betas!r}") from None
        return {
            "lr": lr,
            "betas": (_check_float(b1, "betas[0]", who, high=1.0),
                      _check_float(b2, "betas[1]", who, high=1.0)),
            "eps": _check_float(eps, "eps", who),
            "weight_decay": _check_float(weight_decay, "weight_decay", who),
        }

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

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
same holds for ``p.grad`` and for the optimizer's own state arrays. Those live in Tensors (one
per state entry and parameter, ``self.state[id(p)]["exp_avg"].data``) that are made once and
then only rebound, also by `load_state_dict`: under ``ag.jit`` a Tensor made outside the jitted
step has its ``.data`` read as a program input and its rebinding replayed as an effect (Note
[state lives in Tensors] in autograd_core/tracing/state.py), so a compiled step reads and
updates the live state. Which parameters have state is Python structure a step branches on:
`_layout` counts its changes and a jitted step is guarded on it (``ag.depends_on``), as on the
hyperparameters that decide a branch (`_branches`: weight decay or momentum on, nesterov).

Note [dtypes of updates]
Hyperparameters are stored as Python floats. A step turns everything it takes from them (lr,
momentum, betas, eps, weight decay, Adam's bias corrections from the step count) into NumPy
scalars of each parameter's dtype in ONE ``ag.tracing.read`` call, which a jitted step repeats at
every replay (a changed lr, a new step count), and which also advances Adam's step counts (so a
replay advances them too). A scalar of the parameter's own dtype gives bit for bit what a Python
float (a "weak" scalar, cast to the array's dtype first) gives in NumPy 2, and keeps a float32
parameter float32 (an ``np.float64`` hyperparameter would upcast it). State arrays have the
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
    g = np.asanyarray(g)  # (asanyarray: under ag.jit a traced grad must stay traced)
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


def _scalar_type(dtype: np.dtype) -> type:
    """The NumPy scalar type a hyperparameter takes for a parameter of `dtype` (Note [dtypes of
    updates]): the dtype itself for a float, its real part's for a complex one, float64 (what a
    Python float gives) otherwise."""
    if dtype.kind == "f":
        return dtype.type
    return np.finfo(dtype).dtype.type if dtype.kind == "c" else np.float64


def _types(work: list) -> tuple[type, ...]:
    """The distinct scalar types in `work` (see `Optimizer._work`), in order."""
    return tuple(dict.fromkeys(w[3] for w in work))


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
        # id(param) -> {name: a Tensor holding an array, or an int count}; self.params keeps the
        # ids alive (Note [rebind, never write in place])
        self.state: dict[int, dict] = {}
        self._layout = 0  # bumped when a parameter gains or loses its state (a jit guard)

    @property
    def _branches(self) -> tuple:
        """The Python values a step branches on (a jitted step is guarded on them)."""
        return ()

    def _work(self, who: str) -> list[tuple[int, ag.Tensor, np.ndarray, type]]:
        """(position, parameter, grad array, scalar type) of every parameter that has a grad."""
        work = []
        for i, p in enumerate(self.params):
            g = _grad_array(p, who)
            if g is not None:
                d = p.data.dtype
                work.append((i, p, g, d.type if d.kind == "f" else _scalar_type(d)))
        return work

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
                out[f"state.{i}.{name}"] = v.data.copy() if isinstance(v, ag.Tensor) else int(v)
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
        self._set_state(new_state)

    def _set_state(self, new_state: dict[int, dict]) -> None:
        """Install checked state: the existing state Tensors are rebound, not replaced (a compiled
        step reads them: Note [rebind, never write in place]); a parameter that gains or loses
        its state bumps `_layout`."""
        for p in self.params:
            new, old = new_state.get(id(p)), self.state.get(id(p))
            if new is None:
                if old is not None:
                    del self.state[id(p)]
                    self._layout += 1
            elif old is None:
                self.state[id(p)] = {k: ag.Tensor._of(v) if isinstance(v, np.ndarray) else v
                                     for k, v in new.items()}
                self._layout += 1
            else:
                for k, v in new.items():
                    if isinstance(v, np.ndarray):
                        old[k].data = v
                    else:
                        old[k] = v

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

    @property
    def _branches(self) -> tuple:
        return (self.weight_decay != 0, self.momentum != 0, self.nesterov)

    def _scalars(self, types: tuple[type, ...]) -> tuple:
        """lr, momentum, 1 - dampening, weight_decay as scalars of each type in turn, one flat
        tuple (Note [dtypes of updates])."""
        lr, mu, damp1, wd = self.lr, self.momentum, 1.0 - self.dampening, self.weight_decay
        return tuple(v for t in types for v in (t(lr), t(mu), t(damp1), t(wd)))

    @ag.no_grad()
    def step(self) -> None:
        """Apply one update to every parameter that has a grad."""
        ag.depends_on(self, "_layout", "_branches")  # (Note [rebind, never write in place])
        work = self._work("SGD.step")
        if not work:
            return
        types = _types(work)
        flat = ag.tracing.read(lambda: self._scalars(types))
        scalars = {t: flat[4 * k:4 * k + 4] for k, t in enumerate(types)}
        decay, momentum, nesterov = self._branches
        for _, p, g, t in work:
            lr, mu, damp1, wd = scalars[t]
            if decay:
                g = g + wd * p.data
            if momentum:
                st = self.state.get(id(p))
                if st is None:  # first step: the buffer is the grad itself (no dampening), as in PyTorch
                    buf = g.copy()
                    self.state[id(p)] = {"momentum_buffer": ag.Tensor._of(buf)}
                    self._layout += 1
                else:
                    holder = st["momentum_buffer"]
                    buf = holder.data = mu * holder.data + damp1 * g
                g = g + mu * buf if nesterov else buf
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

    @property
    def _branches(self) -> tuple:
        return (self.weight_decay != 0,)

    def _scalars(self, types: tuple[type, ...], stepped: tuple[tuple[int, type], ...]) -> tuple:
        """Advance the step count of each ``(position, type)`` in `stepped`; return, as scalars
        of those types in one flat tuple (Note [dtypes of updates]): beta1, 1 - beta1, beta2,
        1 - beta2, eps, weight_decay for each of `types` in turn, then the step size and the
        square root of the second bias correction for each of `stepped`."""
        lr, (b1, b2), eps, wd = self.lr, self.betas, self.eps, self.weight_decay
        flat = [v for t in types for v in (t(b1), t(1.0 - b1), t(b2), t(1.0 - b2), t(eps), t(wd))]
        for i, t in stepped:
            st = self.state[id(self.params[i])]
            n = st["step"] = st["step"] + 1
            flat += (t(lr / (1.0 - b1**n)), t(math.sqrt(1.0 - b2**n)))
        return tuple(flat)

    @ag.no_grad()
    def step(self) -> None:
        """Apply one update to every parameter that has a grad."""
        ag.depends_on(self, "_layout", "_branches")  # (Note [rebind, never write in place])
        work = self._work("Adam.step")
        if not work:
            return
        for _, p, _, _ in work:
            if id(p) not in self.state:
                zeros = np.zeros_like(p.data)
                self.state[id(p)] = {"step": 0, "exp_avg": ag.Tensor._of(zeros),
                                     "exp_avg_sq": ag.Tensor._of(zeros)}
                self._layout += 1
        types = _types(work)
        stepped = tuple((w[0], w[3]) for w in work)
        flat = ag.tracing.read(lambda: self._scalars(types, stepped))
        shared = {t: flat[6 * k:6 * k + 6] for k, t in enumerate(types)}
        at = 6 * len(types)
        (decay,) = self._branches
        for j, (_, p, g, t) in enumerate(work):
            step_size, bias_correction2_sqrt = flat[at + 2 * j:at + 2 * j + 2]
            b1, b1c, b2, b2c, eps, wd = shared[t]
            if decay:
                g = g + wd * p.data
            st = self.state[id(p)]
            m = st["exp_avg"].data = b1 * st["exp_avg"].data + b1c * g
            v = st["exp_avg_sq"].data = b2 * st["exp_avg_sq"].data + b2c * (g * g)
            p.data = p.data - step_size * (m / (np.sqrt(v) / bias_correction2_sqrt + eps))

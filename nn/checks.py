"""`check_gradients`: a model's gradients three ways, engine vs finite differences vs the lecture.

For each parameter (in registration order, which is forward order for the library's models):
- engine: one reverse sweep;
- finite differences: `ag.gradcheck` on the loss as a function of every parameter, in float64
  (large parameters checked along random directions, re-checked elementwise if that fails;
  dropout masks frozen while differences are taken);
- reference: `nn.reference.backprop`, the hand-derived δ recursion in plain NumPy, when the model
  is an `MLP` or `ResidualMLP` with a named activation and the loss is "mse" or "cross_entropy".
The report names the layer where the columns start to disagree (errors flow backward, so that is
the module of the first node whose own VJP is wrong, or else the failing layer nearest the
output) and that node (its op, module path and forward line).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import autograd_core as ag

from . import reference
from .blocks import MLP, ResidualMLP
from .losses import cross_entropy, mse_loss
from .module import Module

REFERENCE_RTOL = 1e-9


@dataclass
class ParameterCheck:
    """One parameter's row: engine gradient norm and its disagreement with each other column."""

    name: str
    shape: tuple
    grad_norm: float
    fd_max_abs_err: float
    fd_passed: bool
    fd_mode: str
    ref_max_abs_err: float | None = None  # None: no reference column for this model
    ref_passed: bool | None = None

    @property
    def passed(self) -> bool:
        return self.fd_passed and self.ref_passed is not False


@dataclass
class ModelGradientReport:
    """`.passed`, `.rows` (one per parameter), `.first_divergent_layer` (dotted name or None)."""

    rows: list[ParameterCheck]
    loss: float
    has_reference: bool
    first_divergent_layer: str | None
    first_bad_node: object = None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows)

    def __str__(self) -> str:
        ref = "nn.reference (hand-derived backprop)" if self.has_reference else "no reference column"
        lines = [f"three-way gradient check {'PASSED' if self.passed else 'FAILED'} (float64, loss "
                 f"{self.loss:.6g}): engine vs finite differences vs {ref}",
                 f"  {'parameter':<24} {'shape':<12} {'|engine grad|':>13} {'vs finite diff':>14} "
                 f"{'vs reference':>13}  result"]
        for r in self.rows:
            fd = f"{r.fd_max_abs_err:.2e}" + ("*" if r.fd_mode == "fast" else " ")
            rf = "-" if r.ref_max_abs_err is None else f"{r.ref_max_abs_err:.2e}"
            lines.append(f"  {r.name:<24} {str(r.shape):<12} {r.grad_norm:>13.4e} {fd:>14} "
                         f"{rf:>13}  {'ok' if r.passed else 'FAIL'}")
        if any(r.fd_mode == "fast" for r in self.rows):
            lines.append("  * checked along 3 random directions (large parameter)")
        if self.first_divergent_layer is not None:
            lines.append(f"  first layer where the gradients diverge: {self.first_divergent_layer}")
        if self.first_bad_node is not None:
            lines.append(f"  first node whose VJP disagrees: {self.first_bad_node}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _loss_fn(loss, reduction: str) -> Callable:
    if callable(loss):
        return loss
    if loss == "mse":
        return lambda u, y: mse_loss(u, y, reduction=reduction)
    if loss == "cross_entropy":
        return lambda u, y: cross_entropy(u, y, reduction=reduction)
    raise ValueError(f"check_gradients: loss must be 'mse', 'cross_entropy' or a callable, got {loss!r}")


def _owners(model: Module) -> dict[int, list[tuple[Module, str]]]:
    """Every (module, attribute) holding each parameter: a tied parameter has several."""
    owners: dict[int, list[tuple[Module, str]]] = {}
    for _, mod in model.named_modules():
        for attr, p in mod._params.items():
            owners.setdefault(id(p), []).append((mod, attr))
    return owners


def check_gradients(model: Module, x, y, loss="mse", *, reduction: str = "mean",
                    atol: float | None = None, rtol: float | None = None) -> ModelGradientReport:
    """Check `model`'s parameter gradients for ``loss(model(x), y)`` three ways (see the module
    docstring). Runs in float64 on the side: the model's arrays, dtypes and ``.grad`` are left as
    they were. `loss` is "mse", "cross_entropy" or a callable ``(u, y) -> scalar Tensor``.

    >>> x, labels = np.random.default_rng(0).standard_normal((5, 4)), np.array([0, 1, 2, 1, 0])
    >>> report = nn.check_gradients(nn.MLP([4, 8, 3], rng=0), x, labels, loss="cross_entropy")
    >>> report.passed, report.first_divergent_layer
    (True, None)
    """
    if reduction == "none":
        raise ValueError("check_gradients: reduction='none' gives no scalar loss; use 'mean' or 'sum'")
    loss_of = _loss_fn(loss, reduction)
    named = list(model.named_parameters())
    if not named:
        raise ValueError(f"check_gradients: {type(model).__name__} has no parameters")
    holders = _owners(model)
    owners = [holders[id(p)] for _, p in named]
    originals = [p.data for _, p in named]
    x64 = np.asarray(getattr(x, "data", x))
    x64 = x64.astype(np.float64) if x64.dtype.kind == "f" else x64
    y_arr = np.asarray(getattr(y, "data", y))
    y64 = y_arr.astype(np.float64) if y_arr.dtype.kind == "f" else y_arr

    def f(*ps):
        for places, t in zip(owners, ps, strict=True):
            for mod, attr in places:
                object.__setattr__(mod, attr, t)
        try:
            return loss_of(model(ag.tensor(x64)), y64)
        finally:
            for places, (_, p) in zip(owners, named, strict=True):
                for mod, attr in places:
                    object.__setattr__(mod, attr, p)

    try:
        for _, p in named:  # float64 on the side; rebinding leaves the originals untouched
            p.data = p.data.astype(np.float64)
        inputs = [p.data for _, p in named]
        # one frozen block: the engine column sees the same dropout masks as the differences
        with ag.frozen_randomness() as frozen:
            fd = ag.gradcheck(f, inputs, atol=atol, rtol=rtol, raise_on_fail=False)
            frozen.next_evaluation()
            with ag.Tape() as tape:
                value = loss_of(model(ag.tensor(x64)), y64)
        engine = [g.data for g in tape.gradient(value, [p for _, p in named])]
        ref_grads = _reference(model, x64, y64, loss, reduction)
    finally:
        for (_, p), data in zip(named, originals, strict=True):
            p.data = data

    rows = []
    for k, ((name, _), g) in enumerate(zip(named, engine, strict=True)):
        frow = fd.rows[k]
        row = ParameterCheck(name=name, shape=g.shape, grad_norm=float(np.linalg.norm(g)),
                             fd_max_abs_err=frow.max_abs_err, fd_passed=frow.passed, fd_mode=frow.mode)
        if ref_grads is not None:
            r = ref_grads[k]
            err = np.abs(g - r)
            tol = REFERENCE_RTOL * (np.max(np.abs(r), initial=0.0) + np.abs(r)) + 1e-300
            row.ref_max_abs_err = float(np.max(err, initial=0.0))
            row.ref_passed = bool(np.all(err <= tol))
        rows.append(row)
    # Errors flow backward: a wrong VJP spoils every parameter before it. So the culprit is the
    # module of the first node whose own VJP is wrong, else the failing layer nearest the output.
    bad = fd.first_bad_node
    if bad is not None and bad.module:
        first = bad.module
    else:
        first = next((r.name.rpartition(".")[0] or r.name for r in reversed(rows) if not r.passed), None)
    # gradcheck's hints speak of "input k": here input k is the k-th parameter
    notes = [re.sub(r"^input (\d+)", lambda m: named[int(m.group(1))][0], n) for n in fd.notes]
    if ref_grads is None:
        notes.append("no reference column: only MLP/ResidualMLP with a named activation and a "
                     "named loss map onto nn.reference.backprop")
    return ModelGradientReport(rows=rows, loss=float(value.item()), has_reference=ref_grads is not None,
                               first_divergent_layer=first, first_bad_node=fd.first_bad_node,
                               notes=notes)


def _reference(model: Module, x, y, loss, reduction: str) -> list[np.ndarray] | None:
    """The reference gradients in named_parameters order, or None when the model has no such map."""
    if not isinstance(model, (MLP, ResidualMLP)) or not isinstance(model.activation, str):
        return None
    if loss not in ("mse", "cross_entropy"):
        return None
    Ws, bs = model.weights()
    # ResidualMLP projects the input with a plain first layer (reference's input_projection)
    residual = isinstance(model, ResidualMLP)
    _, dWs, dbs = reference.backprop(Ws, bs, x, y, activation=model.activation, loss=loss,
                                     reduction=reduction, residual=residual,
                                     input_projection=residual)
    by_id = {}
    dense = [m for m in model.modules() if hasattr(m, "W") and hasattr(m, "b")]
    for m, dW, db in zip(dense, dWs, dbs, strict=True):
        by_id[id(m.W)], by_id[id(m.b)] = dW, db
    grads = [by_id.get(id(p)) for p in model.parameters()]
    return None if any(g is None for g in grads) else grads

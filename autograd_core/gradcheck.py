"""`gradcheck` / `gradgradcheck`: the engine's VJPs against central finite differences.

How the check works (and why its defaults are tight enough to fail a VJP that is 0.1% wrong):
- Every floating input is copied to float64; integer/bool inputs are passed through as constants.
- The output is projected on a fixed random cotangent v, so one reverse sweep gives the analytic
  vᵀJ for every input and any output shape; ⟨v, f(x)⟩ is differenced numerically per element.
- Numerics: central differences with Richardson extrapolation at six step sizes
  h = 1e-2·s, 1e-2·s/4, ... (s = max(1, |x_i|)), keeping, per element, the extrapolated estimate
  that agrees best with its neighbour. The truncation error falls as h⁴, so the estimate is good
  to ~1e-10 relative for smooth functions, whatever the input's magnitude (softmax at 1e4 too).
- Pass rule, elementwise: |analytic − numeric| ≤ atol·max(1, max|numeric|) + rtol·|numeric|,
  with atol = 1e-8 and rtol = 1e-6 by default.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import ops
from .backward import gradients
from .tape import enable_grad, no_grad
from .tensor import Tensor

DEFAULT_ATOL = 1e-8
DEFAULT_RTOL = 1e-6
_LEVELS = 6  # step sizes tried, each a quarter of the one before


class GradcheckError(AssertionError):
    """Raised by a failing `gradcheck` with ``raise_on_fail=True``; its message is the report."""


@dataclass
class GradcheckRow:
    """The check of one input: errors, where the worst one is, and both values there."""

    input: int
    shape: tuple
    max_abs_err: float
    max_rel_err: float
    worst_index: tuple
    analytic: float
    numeric: float
    passed: bool


@dataclass
class GradcheckReport:
    """`.passed`, one row per checked input, and the rule; prints as a table."""

    passed: bool
    rows: list[GradcheckRow]
    atol: float
    rtol: float
    what: str = "gradient"
    first_bad_node: object = None
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        head = (f"{self.what} check {'PASSED' if self.passed else 'FAILED'}: engine vs central "
                f"differences in float64\n  pass rule: |analytic - numeric| <= atol*max(1, "
                f"max|numeric|) + rtol*|numeric| elementwise, atol={self.atol:g}, rtol={self.rtol:g}")
        cols = f"  {'input':>5}  {'shape':<14} {'max abs err':>11} {'max rel err':>11}  " \
               f"{'worst index':<14} {'analytic':>13} {'numeric':>13}  result"
        lines = [head, cols]
        for r in self.rows:
            lines.append(
                f"  {r.input:>5}  {str(r.shape):<14} {r.max_abs_err:>11.3e} {r.max_rel_err:>11.3e}  "
                f"{str(r.worst_index):<14} {r.analytic:>13.6e} {r.numeric:>13.6e}  "
                f"{'ok' if r.passed else 'FAIL'}")
        if not self.rows:
            lines.append("  (no floating-point inputs to check)")
        lines += [f"  note: {n}" for n in self.notes]
        if self.first_bad_node is not None:
            lines.append(f"  first node whose VJP disagrees: {self.first_bad_node}")
        return "\n".join(lines)


def _as_input(x):
    """Float inputs become float64 arrays (copies); anything else is a constant, kept as given."""
    data = x.data if isinstance(x, Tensor) else x
    arr = np.asarray(data)
    if arr.dtype.kind == "f":
        return np.array(arr, dtype=np.float64), True
    return x, False


def _outputs(res) -> list[Tensor]:
    items = list(res) if isinstance(res, (tuple, list)) else [res]
    out = []
    for r in items:
        t = r if isinstance(r, Tensor) else Tensor._result(np.asarray(r), False)
        if t.data.dtype.kind != "f":
            raise TypeError(f"gradcheck: f must return floating-point Tensors, got dtype {t.data.dtype}")
        out.append(t)
    return out


def _numeric(phi: Callable[[list], float], xs: list, i: int, eps) -> np.ndarray:
    """d phi / d xs[i], elementwise, by Richardson-extrapolated central differences."""
    x = xs[i]
    grad = np.zeros(x.shape)
    for idx in np.ndindex(*x.shape):
        x0 = x[idx]
        base = eps if eps is not None else 1e-2 * max(1.0, abs(x0))
        levels = 1 if eps is not None else _LEVELS
        d = []
        for k in range(levels + (0 if eps is not None else 1)):
            h = base / 4.0 ** k
            x[idx] = x0 + h
            hp = x[idx] - x0  # the step actually taken (x0 + h rounds)
            fp = phi(xs)
            x[idx] = x0 - h
            hm = x0 - x[idx]
            fm = phi(xs)
            x[idx] = x0
            d.append((fp - fm) / (hp + hm))
        if eps is not None:
            grad[idx] = d[0]
            continue
        est = [(16 * d[k + 1] - d[k]) / 15 for k in range(levels)]  # h^2 term cancels
        best, best_gap = est[-1], np.inf
        for k in range(levels - 1):
            gap = abs(est[k] - est[k + 1])
            if np.isfinite(gap) and gap < best_gap:
                best, best_gap = est[k + 1], gap
        grad[idx] = best
    return grad


def _check(f: Callable, inputs: Sequence, eps, atol, rtol, seed: int, what: str) -> GradcheckReport:
    atol = DEFAULT_ATOL if atol is None else atol
    rtol = DEFAULT_RTOL if rtol is None else rtol
    prepared = [_as_input(x) for x in inputs]
    xs = [p[0] for p in prepared]
    checked = [i for i, p in enumerate(prepared) if p[1]]

    def call(arrays, requires_grad):
        # the analytic pass gets copies: its graph locks what it saves (Note [saved arrays are read-only])
        args = [Tensor._result(a.copy() if requires_grad else a, requires_grad) if i in checked else a
                for i, a in enumerate(arrays)]
        return args, _outputs(f(*args))

    with enable_grad():
        args, outs = call(xs, True)
    rng = np.random.default_rng(seed)
    vs = [rng.standard_normal(o.shape) for o in outs]
    analytic = [g.data for g in gradients(outs, vs, [args[i] for i in checked], create_graph=False)]
    del args, outs  # drop the analytic graph before differencing

    def phi(arrays) -> float:
        with no_grad():
            _, res = call(arrays, False)
        return float(sum(np.sum(v * o.data) for v, o in zip(vs, res, strict=True)))

    rows = []
    for k, i in enumerate(checked):
        num = _numeric(phi, xs, i, eps)
        ana = np.asarray(analytic[k], dtype=np.float64)
        err = np.abs(ana - num)
        err = np.where(np.isnan(ana) & np.isnan(num), 0.0, err)  # both NaN agree
        tol = atol * max(1.0, float(np.max(np.abs(num), initial=0.0))) + rtol * np.abs(num)
        bad = ~(err <= tol)
        ratio = np.where(bad, np.inf, err / np.maximum(tol, 1e-300)) if bad.any() else err / np.maximum(tol, 1e-300)
        worst = tuple(int(j) for j in np.unravel_index(np.argmax(ratio), num.shape)) if num.size else ()
        rel = err / np.maximum(np.abs(num), 1e-300)
        rows.append(GradcheckRow(
            input=i, shape=num.shape,
            max_abs_err=float(np.max(err, initial=0.0)),
            max_rel_err=float(np.max(np.where(err == 0, 0.0, rel), initial=0.0)),
            worst_index=worst,
            analytic=float(ana[worst]) if num.size else 0.0,
            numeric=float(num[worst]) if num.size else 0.0,
            passed=not bad.any()))
    return GradcheckReport(passed=all(r.passed for r in rows), rows=rows, atol=atol, rtol=rtol, what=what)


def gradcheck(f: Callable, inputs: Sequence, *, eps: float | None = None, atol: float | None = None,
              rtol: float | None = None, raise_on_fail: bool = True, seed: int = 0) -> GradcheckReport:
    """Check f's reverse-mode gradient against central finite differences in float64.

    `f` takes one Tensor per input and returns a Tensor (any shape) or a tuple of them. Floating
    inputs are checked (as float64 copies); integer/bool inputs are passed through as constants.
    `eps=None` picks the steps from each input's scale (see the module docstring); a given `eps`
    uses that one step with plain central differences.

    >>> import numpy as np, autograd_core as ag
    >>> report = ag.gradcheck(lambda x: ag.tanh(x) * x, [np.array([0.3, -1.2])])
    >>> report.passed
    True

    Returns a `GradcheckReport` (``.passed``, ``.rows``: per input ``max_abs_err``,
    ``max_rel_err``, ``worst_index``, ``passed``). On failure with ``raise_on_fail=True`` raises
    `GradcheckError` (an AssertionError) whose message is the report's table.
    """
    report = _check(f, inputs, eps, atol, rtol, seed, "gradient")
    if raise_on_fail and not report.passed:
        raise GradcheckError(str(report))
    return report


def gradgradcheck(f: Callable, inputs: Sequence, *, eps: float | None = None,
                  atol: float | None = None, rtol: float | None = None,
                  raise_on_fail: bool = True, seed: int = 0) -> GradcheckReport:
    """Check second derivatives: `gradcheck` of x ↦ ∇ₓ⟨v, f(x)⟩ (computed with create_graph).

    The inner gradient is taken by a recorded (``create_graph``) sweep, so this checks that every
    VJP on the way is itself differentiated correctly. Same arguments and report as `gradcheck`.
    """
    prepared = [_as_input(x) for x in inputs]
    checked = [i for i, p in enumerate(prepared) if p[1]]
    with enable_grad():
        probe = _outputs(f(*[Tensor._result(p[0], False) if p[1] else p[0] for p in prepared]))
    rng = np.random.default_rng(seed + 1)
    vs = [rng.standard_normal(o.shape) for o in probe]

    def first_grad(*args):
        with enable_grad():
            srcs = [a if a.requires_grad else Tensor._result(a.data.copy(), True) for a in (args[i] for i in checked)]
            call_args = list(args)
            for i, s in zip(checked, srcs, strict=True):
                call_args[i] = s
            outs = _outputs(f(*call_args))
            grads = gradients(outs, [Tensor._result(v, False) for v in vs], srcs, create_graph=True)
            return ops.concatenate([ops.reshape(g, (-1,)) for g in grads]) if grads else Tensor._result(np.zeros(0), False)

    report = _check(first_grad, inputs, eps, atol, rtol, seed, "second-derivative")
    if raise_on_fail and not report.passed:
        raise GradcheckError(str(report))
    return report

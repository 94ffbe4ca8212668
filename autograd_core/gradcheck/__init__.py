"""`gradcheck` / `gradgradcheck`: the engine's VJPs against central finite differences, with a
report whose numbers are derivatives you can compare with your own, and hints that are true.

How the check works (and why its defaults are tight enough to fail a VJP that is 0.1% wrong):
- Every floating input is copied to float64; integer/bool inputs are passed through as constants.
- What is compared: for a one-element output, the gradient ∂f/∂x; for an output of up to
  `JACOBIAN_LIMIT` elements, the whole Jacobian ∂f[o]/∂x[i] (one reverse sweep per output
  element; the differences see every output element at once); beyond that, ∂⟨v, f⟩/∂x for a
  random cotangent v (one sweep), and the report says so.
- Numerics: central differences with Richardson extrapolation at several step sizes
  h = 1e-2·s, 1e-2·s/4, ... (s = max(1, |x_i|)), keeping, per value, the extrapolated estimate
  that agrees best with its neighbour. The truncation error falls as h⁴, so the estimate is good
  to ~1e-10 relative for smooth functions, whatever the input's magnitude (softmax at 1e4 too).
- Pass rule, per value: |analytic − numeric| ≤ atol·max(1, max|numeric|) + rtol·|numeric|,
  with atol = 1e-8 and rtol = 1e-6 by default.
- Kinks (Note [kinks] in differences.py): a value that fails the rule is "at a kink" only when
  the input of a primitive declaring `kinks=` (relu, abs, max, clip, ...) comes within its
  difference stencil and the analytic value lies between the one-sided derivatives. A kink
  farther than the smallest step is stepped around: the estimate is taken from the steps that do
  not reach it.
- Large inputs (more than `fast_threshold` elements) are checked along a few random unit
  directions u (∂f/∂x · u). When that fails, only what the report needs is re-checked entry by
  entry (the worst such input's largest and some random entries), never every entry.
- Stochastic layers draw their randomness through `draw_random`, which replays the first draw
  on every evaluation inside a check, so dropout masks stay fixed while differences are taken.
- When a check fails the report says why (Note [hints] in hints.py): f is not deterministic; an
  op computes in lower precision; the first recorded node whose own VJP disagrees with finite
  differences of that node alone (its op, shapes, module path and forward line); or, when every
  node agrees, a dependence the engine did not record (.data, np.asarray, ag.tensor(...)).

Files: constants.py (tolerances and sizes), randomness.py (`draw_random`, `frozen_randomness`),
report.py (`GradcheckReport`, its rows and table, `GradcheckError`), differences.py (the function
being checked, stencils, the pass rule, kinks, noise), rows.py (one input's row), localize.py (the
first node at fault), hints.py (why a check failed); here, `gradcheck` and `gradgradcheck`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Number

import numpy as np

from .. import ops
from ..graph import enable_grad, no_grad
from ..tensor import Tensor
from ..transforms import Tape, gradients
from .constants import DEFAULT_ATOL, DEFAULT_RTOL, FAST_THRESHOLD, JACOBIAN_LIMIT, JITTER, RECHECK
from .differences import _cotangents, _Problem
from .hints import _explain, _kink_hint
from .randomness import _new_evaluation, draw_random, frozen_randomness
from .report import BadNode, GradcheckError, GradcheckReport, GradcheckRow, _output_index
from .rows import _check_input, _recheck

__all__ = [
    "gradcheck", "gradgradcheck", "GradcheckReport", "GradcheckRow", "BadNode", "GradcheckError",
    "draw_random", "frozen_randomness", "DEFAULT_ATOL", "DEFAULT_RTOL", "FAST_THRESHOLD",
    "JACOBIAN_LIMIT", "RECHECK",
]


def _as_inputs(inputs) -> list:
    """`inputs` as a list: one array, Tensor or number is one input."""
    if isinstance(inputs, (np.ndarray, Tensor, Number, np.generic)):
        return [inputs]
    return list(inputs)


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
        t = r if isinstance(r, Tensor) else Tensor._of(np.asarray(r))
        if t.data.dtype.kind != "f":
            raise TypeError(f"gradcheck: f must return floating-point Tensors, got dtype {t.data.dtype}")
        out.append(t)
    return out


def _check(f, inputs, eps, atol, rtol, seed, what, fast_threshold, localize) -> GradcheckReport:
    atol = DEFAULT_ATOL if atol is None else atol
    rtol = DEFAULT_RTOL if rtol is None else rtol
    inputs = _as_inputs(inputs)
    prepared = [_as_input(x) for x in inputs]
    xs = [p[0] for p in prepared]
    checked = [i for i, p in enumerate(prepared) if p[1]]
    hints = [f"input {i} was {np.asarray(getattr(x, 'data', x)).dtype}: checked as float64 copies "
             "(a function that casts to float32 inside cannot pass a float64-tight check)"
             for i, x in enumerate(inputs)
             if i in checked and np.asarray(getattr(x, "data", x)).dtype != np.float64]

    def call(arrays, requires_grad):
        _new_evaluation()
        # the analytic pass gets copies: its graph locks what it saves (Note [saved arrays are read-only])
        args = [Tensor._of(a.copy() if requires_grad else a, requires_grad) if i in checked else a
                for i, a in enumerate(arrays)]
        return args, _outputs(f(*args))

    with frozen_randomness():
        with enable_grad(), Tape() as tape:
            args, outs = call(xs, True)
        kinked = any(node.prim.kinks is not None for node in tape)
        del tape
        shapes = [o.shape for o in outs]
        size = sum(o.data.size for o in outs)
        values = ("gradient" if size == 1 else "jacobian" if 0 < size <= JACOBIAN_LIMIT
                  else "projection")
        seeds = _cotangents(shapes, values, seed)

        def project(res) -> np.ndarray:
            if values == "projection":
                return np.array([sum(float(np.sum(v * o.data)) for v, o in zip(seeds[0], res, strict=True))])
            return np.concatenate([np.ravel(o.data).astype(np.float64) for o in res])

        recorded = project(outs)
        sources = [args[i] for i in checked]
        sweeps = [[np.asarray(g.data, dtype=np.float64)
                   for g in gradients(outs, s, sources, create_graph=False)] for s in seeds]
        analytic = [np.stack([sw[k] for sw in sweeps]) for k in range(len(checked))]
        del args, outs, sources, sweeps  # drop the analytic graph before differencing

        def value() -> np.ndarray:
            with no_grad():
                return project(call(xs, False)[1])

        def kinks() -> list[tuple[str, np.ndarray]]:
            with enable_grad(), Tape() as tape:
                call(xs, True)
            return [(n.op, np.asarray(n.prim.kinks(n.ans, *n.args, **n.kwargs), dtype=np.float64))
                    for n in tape if n.prim.kinks is not None]

        f0, again = value(), value()
        with np.errstate(all="ignore"):
            jitter = np.abs(np.concatenate([again - f0, recorded - f0]))
            jumpy = bool(np.any(jitter > JITTER * np.concatenate([np.abs(f0)] * 2)))
        # kinks explain nothing in a function that is not deterministic (Note [hints])
        prob = _Problem(xs, value, kinks if kinked and not jumpy else None, eps, atol, rtol, f0)
        rng = np.random.default_rng(seed + 1)
        found = [_check_input(prob, i, analytic[k], f0, fast_threshold, rng) for k, i in enumerate(checked)]
        failed_fast = [k for k, fd in enumerate(found) if fd.row.mode == "fast" and not fd.row.passed]
        if failed_fast:  # only the worst large input's entries: what the report shows
            k = max(failed_fast, key=lambda k: found[k].row.max_abs_err)
            found[k] = _recheck(prob, found[k], analytic[k], f0, rng)
        for fd in found:
            if fd.row.output_index is not None:
                fd.row.output_index = _output_index(fd.row.output_index[0], shapes, values)
        report = GradcheckReport(passed=all(fd.row.passed for fd in found), rows=[fd.row for fd in found],
                                 atol=atol, rtol=rtol, what=what, notes=hints, values=values,
                                 output_shapes=tuple(shapes), seed=seed, fast_threshold=fast_threshold)
        if not report.passed:
            _explain(report, found, prob, jitter if jumpy else None, f, xs, checked, seed,
                     fast_threshold, localize)
        _kink_hint(report, found, shapes)
    return report


def gradcheck(f: Callable, inputs: Sequence | np.ndarray | Tensor, *, eps: float | None = None,
              atol: float | None = None, rtol: float | None = None, raise_on_fail: bool = True,
              seed: int = 0, fast_threshold: int = FAST_THRESHOLD, localize: bool = True) -> GradcheckReport:
    """Check f's reverse-mode gradient against central finite differences in float64.

    `f` takes one Tensor per input and returns a Tensor (any shape) or a tuple of them. `inputs`
    is a list of inputs, or one array or Tensor. Floating inputs are checked (as float64 copies);
    integer/bool inputs are passed through as constants. `eps=None` picks the steps from each
    input's scale (see the module docstring); a given `eps` uses that one step with plain central
    differences.

    >>> import numpy as np, autograd_core as ag
    >>> report = ag.gradcheck(lambda x: ag.tanh(x) * x, np.array([0.3, -1.2]))
    >>> report.passed
    True

    Returns a `GradcheckReport` (``.passed``, ``.rows``: per input ``max_abs_err``,
    ``max_rel_err``, ``worst_index``, ``analytic``, ``numeric`` (derivatives: gradient entries,
    Jacobian entries, or a labelled projection, see `GradcheckRow`), ``passed``, ``kinks``,
    ``mode``; ``.first_bad_node`` when the check failed and a recorded node is at fault; ``.notes``,
    the hints). On failure with ``raise_on_fail=True`` raises `GradcheckError` (an AssertionError)
    whose message is the report.
    """
    report = _check(f, inputs, eps, atol, rtol, seed, "gradient", fast_threshold, localize)
    if raise_on_fail and not report.passed:
        raise GradcheckError(str(report))
    return report


def gradgradcheck(f: Callable, inputs: Sequence | np.ndarray | Tensor, *, eps: float | None = None,
                  atol: float | None = None, rtol: float | None = None,
                  raise_on_fail: bool = True, seed: int = 0,
                  fast_threshold: int = FAST_THRESHOLD) -> GradcheckReport:
    """Check second derivatives: `gradcheck` of x ↦ ∇ₓ⟨w, f(x)⟩ (computed with create_graph).

    The inner gradient is taken by a recorded (``create_graph``) sweep, so this checks that every
    VJP on the way is itself differentiated correctly. Same arguments and report as `gradcheck`;
    the report's values are derivatives of x ↦ ∇ₓ⟨w, f(x)⟩ (all inputs' gradients, flattened and
    concatenated): second derivatives of f when f has one element (w = 1), else of ⟨w, f⟩ for a
    random cotangent w, as the report says.
    """
    inputs = _as_inputs(inputs)
    prepared = [_as_input(x) for x in inputs]
    checked = [i for i, p in enumerate(prepared) if p[1]]
    with frozen_randomness():
        _new_evaluation()
        with enable_grad():
            probe = _outputs(f(*[Tensor._of(p[0]) if p[1] else p[0] for p in prepared]))
        # a one-element g gets the cotangent 1: the values are then g's second derivatives
        single = sum(o.data.size for o in probe) == 1
        rng = np.random.default_rng(seed + 1)
        vs = [np.ones(o.shape) if single else rng.standard_normal(o.shape) for o in probe]

        def first_grad(*args):
            with enable_grad():
                srcs = [a if a.requires_grad else Tensor._of(a.data.copy(), True)
                        for a in (args[i] for i in checked)]
                call_args = list(args)
                for i, s in zip(checked, srcs, strict=True):
                    call_args[i] = s
                outs = _outputs(f(*call_args))
                grads = gradients(outs, [Tensor._of(v) for v in vs], srcs, create_graph=True)
                if not grads:
                    return Tensor._of(np.zeros(0))
                return ops.concatenate([ops.reshape(g, (-1,)) for g in grads])

        report = _check(first_grad, inputs, eps, atol, rtol, seed, "second-derivative",
                        fast_threshold, localize=False)
        report.function = ("x -> grad_x g(x), the gradient of your one-element g (the inputs' gradients "
                           "flattened and\n    concatenated): these are g's second derivatives" if single else
                           "x -> grad_x <w, g(x)> for your g and a random cotangent w = np.random"
                           f".default_rng({seed + 1}).standard_normal(shape)\n    per output (the "
                           "inputs' gradients flattened and concatenated)")
    if raise_on_fail and not report.passed:
        raise GradcheckError(str(report))
    return report

"""`gradcheck` / `gradgradcheck`: the engine's VJPs against central finite differences, with a
report that explains itself.

How the check works (and why its defaults are tight enough to fail a VJP that is 0.1% wrong):
- Every floating input is copied to float64; integer/bool inputs are passed through as constants.
- The output is projected on a fixed random cotangent v, so one reverse sweep gives the analytic
  vᵀJ for every input and any output shape; ⟨v, f(x)⟩ is differenced numerically.
- Numerics: central differences with Richardson extrapolation at several step sizes
  h = 1e-2·s, 1e-2·s/4, ... (s = max(1, |x_i|)), keeping, per element, the extrapolated estimate
  that agrees best with its neighbour. The truncation error falls as h⁴, so the estimate is good
  to ~1e-10 relative for smooth functions, whatever the input's magnitude (softmax at 1e4 too).
- Pass rule, elementwise: |analytic − numeric| ≤ atol·max(1, max|numeric|) + rtol·|numeric|,
  with atol = 1e-8 and rtol = 1e-6 by default.
- Kinks: where the one-sided derivatives at the smallest step differ (the input sits on a ReLU,
  max, abs or clip kink), any analytic value between them passes; the report counts them.
- Large inputs (more than `fast_threshold` elements) are checked along a few random directions
  (vᵀJu); if that fails, the input is re-checked element by element.
- Stochastic layers draw their randomness through `draw_random`, which replays the first draw
  on every evaluation inside a check, so dropout masks stay fixed while differences are taken.
- When a check fails, every recorded node's own VJP is checked against differences of that node
  alone, and the first that disagrees is reported (op, shapes, module path, forward line).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import ops
from .anomaly import record_source
from .graph import Node, enable_grad, no_grad
from .tensor import Tensor
from .transforms import Tape, gradients

DEFAULT_ATOL = 1e-8
DEFAULT_RTOL = 1e-6
FAST_THRESHOLD = 1024  # inputs with more elements are first checked along random directions
_LEVELS = 6  # Richardson estimates, each from steps a quarter of the one before
_KINK_JUMP = 1e-2  # one-sided derivatives differing by more than this (relative) mark a kink


class GradcheckError(AssertionError):
    """Raised by a failing `gradcheck` with ``raise_on_fail=True``; its message is the report."""


# ---- frozen randomness -------------------------------------------------------------------------
class _Replay(threading.local):
    def __init__(self) -> None:
        self.depth = 0
        self.store: dict[int, list] = {}
        self.counts: dict[int, int] = {}


_replay = _Replay()


def draw_random(owner: object, sample: Callable[[], object]):
    """Draw randomness for a stochastic layer: ``sample()`` normally; inside a gradient check the
    k-th draw of `owner` in one evaluation replays the first evaluation's k-th draw, so the
    function being differenced is deterministic (dropout masks stay fixed)."""
    r = _replay
    if not r.depth:
        return sample()
    key = id(owner)
    k = r.counts.get(key, 0)
    r.counts[key] = k + 1
    seen = r.store.setdefault(key, [])
    if k == len(seen):
        seen.append(sample())
    return seen[k]


class frozen_randomness:
    """Context manager: inside it, each `draw_random` owner's k-th draw in an evaluation replays
    the first one (gradient checks use it; wrap a check and your own passes in one block to see
    the same dropout masks in both)."""

    def __enter__(self) -> frozen_randomness:
        if not _replay.depth:
            _replay.store = {}
        _replay.depth += 1
        _new_evaluation()
        return self

    def next_evaluation(self) -> None:
        """Start another evaluation of the function: draws replay from the first again."""
        _new_evaluation()

    def __exit__(self, *exc):
        _replay.depth -= 1


def _new_evaluation() -> None:
    _replay.counts = {}


# ---- report ------------------------------------------------------------------------------------
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
    kinks: int = 0  # elements sitting on a kink (checked against one-sided derivatives)
    mode: str = "full"  # "full" (every element) or "fast" (random directions vᵀJu)


@dataclass
class BadNode:
    """The first recorded node whose own VJP disagrees with finite differences."""

    node: Node
    op: str
    input: int
    input_shapes: tuple
    output_shape: tuple
    module: str | None
    source: str | None
    max_abs_err: float

    def __str__(self) -> str:
        where = f" in module '{self.module or '<root>'}'" if self.module is not None else ""
        src = f", forward at {self.source}" if self.source else ""
        shapes = ", ".join(str(s) for s in self.input_shapes)
        return (f"node #{self.node.index} '{self.op}' ({shapes}) -> {self.output_shape}{where}{src}: "
                f"cotangent of input {self.input} off by up to {self.max_abs_err:.3e}")


@dataclass
class GradcheckReport:
    """`.passed`, one row per checked input, the rule and hints; prints as a table."""

    passed: bool
    rows: list[GradcheckRow]
    atol: float
    rtol: float
    what: str = "gradient"
    first_bad_node: BadNode | None = None
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        head = (f"{self.what} check {'PASSED' if self.passed else 'FAILED'}: engine vs central "
                f"differences in float64\n  pass rule: |analytic - numeric| <= atol*max(1, "
                f"max|numeric|) + rtol*|numeric| elementwise, atol={self.atol:g}, rtol={self.rtol:g}"
                "; at a kink any value between the one-sided derivatives passes")
        cols = (f"  {'input':>5}  {'shape':<14} {'max abs err':>11} {'max rel err':>11}  "
                f"{'worst index':<14} {'analytic':>13} {'numeric':>13}  {'kinks':>5} mode  result")
        lines = [head, cols]
        for r in self.rows:
            lines.append(
                f"  {r.input:>5}  {str(r.shape):<14} {r.max_abs_err:>11.3e} {r.max_rel_err:>11.3e}  "
                f"{str(r.worst_index):<14} {r.analytic:>13.6e} {r.numeric:>13.6e}  {r.kinks:>5} "
                f"{r.mode:<4}  {'ok' if r.passed else 'FAIL'}")
        if not self.rows:
            lines.append("  (no floating-point inputs to check)")
        lines += [f"  hint: {n}" for n in self.notes]
        if self.first_bad_node is not None:
            lines.append(f"  first node whose VJP disagrees: {self.first_bad_node}")
        return "\n".join(lines)


# ---- numerics ----------------------------------------------------------------------------------
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


def _differences(phi1: Callable[[float], float], base: float, eps, f0: float):
    """Central-difference estimates of d/dt phi1(t) at 0 and the one-sided ones at the smallest step.

    phi1(t) evaluates the function moved by t along one coordinate or direction. Returns
    (estimate, per-level Richardson estimates, d_minus, d_plus)."""
    levels = 0 if eps is not None else _LEVELS
    d = []
    for k in range(levels + 1):
        h = (eps if eps is not None else base) / 4.0 ** k
        fp, fm = phi1(h), phi1(-h)
        d.append(((fp - fm) / (2 * h), (fp - f0) / h, (f0 - fm) / h))
    if eps is not None:
        return d[0][0], [d[0][0]], d[0][2], d[0][1]
    est = [(16 * d[k + 1][0] - d[k][0]) / 15 for k in range(levels)]  # the h² term cancels
    best, best_gap = est[-1], np.inf
    for k in range(levels - 1):
        gap = abs(est[k] - est[k + 1])
        if np.isfinite(gap) and gap < best_gap:
            best, best_gap = est[k + 1], gap
    return best, est, d[-1][2], d[-1][1]


def _elementwise(phi: Callable[[], float], x: np.ndarray, eps, f0: float):
    """Numeric gradient of phi w.r.t. array x (perturbed in place and restored), with the
    one-sided derivatives and per-level estimates kept for kink detection and hints."""
    num = np.zeros(x.shape)
    lo = np.zeros(x.shape)
    hi = np.zeros(x.shape)
    levels = {}
    for idx in np.ndindex(*x.shape):
        x0 = x[idx]

        def phi1(t, idx=idx, x0=x0):
            x[idx] = x0 + t
            try:
                return phi()
            finally:
                x[idx] = x0

        num[idx], levels[idx], dm, dp = _differences(phi1, max(1e-2, 1e-2 * abs(x0)), eps, f0)
        lo[idx], hi[idx] = min(dm, dp), max(dm, dp)
    return num, lo, hi, levels


def _compare(ana, num, lo, hi, atol, rtol, near_kink=False):
    """Pass mask (kinks accept anything between the one-sided derivatives), errors, kink mask.

    An element is at a kink when its one-sided derivatives jump, or, when the recorded graph has
    a kink op whose input sits within a step of its kink (`near_kink`), when it fails the plain
    rule (the loss may be only once differentiable there, so differences converge slowly)."""
    err = np.abs(ana - num)
    err = np.where(np.isnan(ana) & np.isnan(num), 0.0, err)  # both NaN agree
    tol = atol * max(1.0, float(np.max(np.abs(num), initial=0.0))) + rtol * np.abs(num)
    jump = np.abs(hi - lo)
    kink = jump > _KINK_JUMP * np.maximum(1.0, np.maximum(np.abs(lo), np.abs(hi)))
    if near_kink:
        kink |= ~(err <= tol)
    in_bracket = (ana >= lo - tol) & (ana <= hi + tol)
    ok = (err <= tol) | (kink & in_bracket)
    err = np.where(kink & in_bracket, 0.0, err)
    return ok, err, tol, kink


def _row(i, ana, num, lo, hi, atol, rtol, mode="full", near_kink=False):
    ok, err, tol, kink = _compare(ana, num, lo, hi, atol, rtol, near_kink)
    ratio = np.where(np.isnan(err), np.inf, err / np.maximum(tol, 1e-300))
    worst = tuple(int(j) for j in np.unravel_index(np.argmax(ratio), num.shape)) if num.size else ()
    rel = np.where(err == 0, 0.0, err / np.maximum(np.abs(num), 1e-300))
    return GradcheckRow(
        input=i, shape=num.shape if mode == "full" else np.shape(ana),
        max_abs_err=float(np.max(err, initial=0.0)), max_rel_err=float(np.max(rel, initial=0.0)),
        worst_index=worst, analytic=float(ana[worst]) if num.size else 0.0,
        numeric=float(num[worst]) if num.size else 0.0, passed=bool(ok.all()),
        kinks=int(kink.sum()), mode=mode)


def _check_input(phi, x, ana, i, eps, atol, rtol, f0, fast_threshold, rng, hints, near_kink=False):
    """One input's row: fast (random directions) for big inputs, element by element otherwise
    or when the fast check fails."""
    if x.size > fast_threshold:
        dirs = [rng.standard_normal(x.shape) for _ in range(3)]
        x0 = x.copy()
        nums, los, his, anas = [], [], [], []
        scale = max(1e-2, 1e-2 * float(np.max(np.abs(x0))))
        for u in dirs:
            u /= np.linalg.norm(u)

            def phi1(t, u=u):
                np.add(x0, t * u, out=x)
                try:
                    return phi()
                finally:
                    x[...] = x0

            n, _, dm, dp = _differences(phi1, scale, eps, f0)
            nums.append(n), los.append(min(dm, dp)), his.append(max(dm, dp))
            anas.append(float(np.sum(ana * u)))
        row = _row(i, np.array(anas), np.array(nums), np.array(los), np.array(his), atol, rtol, "fast",
                   near_kink)
        if row.passed:
            row.shape, row.worst_index = x.shape, ()
            return row
        hints.append(f"input {i}: the fast check along random directions failed; re-checked "
                     "element by element")
    num, lo, hi, levels = _elementwise(phi, x, eps, f0)
    row = _row(i, ana, num, lo, hi, atol, rtol, near_kink=near_kink)
    if not row.passed and eps is None and num.size:
        errs = np.abs(np.array(levels[row.worst_index]) - ana[row.worst_index])
        if errs[0] > 4 * errs[-1]:
            hints.append(f"input {i}: the error at {row.worst_index} shrinks as the step shrinks "
                         "(a kink or a sharp feature near the input, not necessarily a wrong formula)")
        elif errs.max() < 2 * errs.min():
            hints.append(f"input {i}: the error at {row.worst_index} does not depend on the step: "
                         "the VJP formula is wrong")
    return row


# ---- the checks --------------------------------------------------------------------------------
def _check(f, inputs, eps, atol, rtol, seed, what, fast_threshold, localize) -> GradcheckReport:
    atol = DEFAULT_ATOL if atol is None else atol
    rtol = DEFAULT_RTOL if rtol is None else rtol
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
        near_kink = any(_at_kink(node) for node in tape)
        del tape
        rng = np.random.default_rng(seed)
        vs = [rng.standard_normal(o.shape) for o in outs]
        analytic = [g.data for g in gradients(outs, vs, [args[i] for i in checked], create_graph=False)]
        del args, outs  # drop the analytic graph before differencing

        def phi() -> float:
            with no_grad():
                _, res = call(xs, False)
            return float(sum(np.sum(v * o.data) for v, o in zip(vs, res, strict=True)))

        f0 = phi()
        rows = [_check_input(phi, xs[i], np.asarray(analytic[k], dtype=np.float64), i, eps, atol,
                             rtol, f0, fast_threshold, rng, hints, near_kink)
                for k, i in enumerate(checked)]
        report = GradcheckReport(passed=all(r.passed for r in rows), rows=rows, atol=atol,
                                 rtol=rtol, what=what, notes=hints)
        if sum(r.kinks for r in rows):
            hints.append(f"{sum(r.kinks for r in rows)} element(s) sit on a kink: accepted when "
                         "the analytic value lies between the one-sided derivatives")
        if not report.passed and localize:
            report.first_bad_node = _localize(f, xs, checked, atol, rtol, seed, fast_threshold)
    return report


_KINK_NEAR = 1e-2  # the largest relative step gradcheck takes


def _at_kink(node: Node) -> bool:
    """Does this node's input sit within a finite-difference step of a kink its primitive
    declares (`Primitive.kinks`)?"""
    kinks = node.prim.kinks
    if kinks is None:
        return False
    x = np.asarray(node.args[0])
    distance = np.asarray(kinks(node.ans, *node.args, **node.kwargs))
    return bool(np.any(np.abs(distance) <= _KINK_NEAR * np.maximum(1.0, np.abs(x))))


def _localize(f, xs, checked, atol, rtol, seed, fast_threshold) -> BadNode | None:
    """Record f once more and check each node's own VJP, in recording order."""
    _new_evaluation()
    args = [Tensor._of(a.copy(), True) if i in checked else a for i, a in enumerate(xs)]
    with enable_grad(), record_source(), Tape() as tape:
        f(*args)
    rng = np.random.default_rng(seed + 7)
    for node in tape:
        bad = _check_node(node, atol, rtol, rng, fast_threshold)
        if bad is not None:
            return bad
    return None


def _check_node(node: Node, atol, rtol, rng, fast_threshold) -> BadNode | None:
    prim, kwargs = node.prim, dict(node.kwargs)
    wanted = [isinstance(t, Tensor) and t.requires_grad and np.asarray(a).dtype.kind == "f"
              for t, a in zip(node.inputs, node.args, strict=True)]
    if not any(wanted):
        return None
    arrays = [np.array(a, dtype=np.float64) if w else a for a, w in zip(node.args, wanted, strict=True)]
    v = rng.standard_normal(node.out_shape)
    if prim.vjp_wants_needs:
        kwargs["needs"] = tuple(wanted)
    with no_grad():
        ans, saved = prim.forward(*arrays, **node.kwargs)
        if prim.saves:
            kwargs["saved"] = saved
        cots = prim.vjp(v, np.asarray(ans, dtype=np.float64), *arrays, **kwargs)
    cots = cots if isinstance(cots, (tuple, list)) else (cots,)

    def phi() -> float:
        with no_grad():
            return float(np.sum(v * prim.forward(*arrays, **node.kwargs)[0]))

    f0 = phi()
    for j, w in enumerate(wanted):
        if not w or j >= len(cots) or cots[j] is None:
            continue
        c = np.asarray(cots[j], dtype=np.float64)
        if c.shape != arrays[j].shape:
            try:
                c = np.asarray(ops.sum_to(c, arrays[j].shape)) if prim.broadcasting else c
            except ValueError:
                pass
        if c.shape != arrays[j].shape:
            return _bad(node, j, arrays, np.inf)
        row = _check_input(phi, arrays[j], c, j, None, atol, rtol, f0, fast_threshold, rng, [])
        if not row.passed:
            return _bad(node, j, arrays, row.max_abs_err)
    return None


def _bad(node: Node, j: int, arrays, err: float) -> BadNode:
    return BadNode(node=node, op=node.op, input=j, input_shapes=tuple(np.shape(a) for a in arrays),
                   output_shape=node.out_shape, module=node.module, source=node.source,
                   max_abs_err=err)


def gradcheck(f: Callable, inputs: Sequence, *, eps: float | None = None, atol: float | None = None,
              rtol: float | None = None, raise_on_fail: bool = True, seed: int = 0,
              fast_threshold: int = FAST_THRESHOLD, localize: bool = True) -> GradcheckReport:
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
    ``max_rel_err``, ``worst_index``, ``passed``, ``kinks``, ``mode``; ``.first_bad_node`` when
    the check failed and a recorded node's own VJP is the culprit). On failure with
    ``raise_on_fail=True`` raises `GradcheckError` (an AssertionError) whose message is the table.
    """
    report = _check(f, inputs, eps, atol, rtol, seed, "gradient", fast_threshold, localize)
    if raise_on_fail and not report.passed:
        raise GradcheckError(str(report))
    return report


def gradgradcheck(f: Callable, inputs: Sequence, *, eps: float | None = None,
                  atol: float | None = None, rtol: float | None = None,
                  raise_on_fail: bool = True, seed: int = 0,
                  fast_threshold: int = FAST_THRESHOLD) -> GradcheckReport:
    """Check second derivatives: `gradcheck` of x ↦ ∇ₓ⟨v, f(x)⟩ (computed with create_graph).

    The inner gradient is taken by a recorded (``create_graph``) sweep, so this checks that every
    VJP on the way is itself differentiated correctly. Same arguments and report as `gradcheck`.
    """
    prepared = [_as_input(x) for x in inputs]
    checked = [i for i, p in enumerate(prepared) if p[1]]
    with frozen_randomness():
        _new_evaluation()
        with enable_grad():
            probe = _outputs(f(*[Tensor._of(p[0]) if p[1] else p[0] for p in prepared]))
        rng = np.random.default_rng(seed + 1)
        vs = [rng.standard_normal(o.shape) for o in probe]

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
    if raise_on_fail and not report.passed:
        raise GradcheckError(str(report))
    return report

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
- Kinks (Note [kinks]): a value that fails the rule is "at a kink" only when the input of a
  primitive declaring `kinks=` (relu, abs, max, clip, ...) comes within its difference stencil
  and the analytic value lies between the one-sided derivatives. A kink farther than the
  smallest step is stepped around: the estimate is taken from the steps that do not reach it.
- Large inputs (more than `fast_threshold` elements) are checked along a few random unit
  directions u (∂f/∂x · u). When that fails, only what the report needs is re-checked entry by
  entry (the worst such input's largest and some random entries), never every entry.
- Stochastic layers draw their randomness through `draw_random`, which replays the first draw
  on every evaluation inside a check, so dropout masks stay fixed while differences are taken.
- When a check fails the report says why (Note [hints]): f is not deterministic; an op computes
  in lower precision; the first recorded node whose own VJP disagrees with finite differences of
  that node alone (its op, shapes, module path and forward line); or, when every node agrees, a
  dependence the engine did not record (.data, np.asarray, ag.tensor(...)).

Note [kinks]: a kink is where a function is not differentiable; any subgradient is a valid
answer there, and central differences straddling it give an average. Whether a kink is near an
entry is asked of the graph, not guessed from the numbers: each kinked node reports how far its
input is from its kinks (`Primitive.kinks`), measured with the entry moved to both ends of its
stencil. Noise, a float32 op or a wrong formula can make one-sided derivatives differ too, so a
jump alone never counts.

Note [hints]: each hint is a measurement. Non-determinism: two evaluations at one point differ.
Lower precision: f's value, moved by tiny steps, has rounding noise far above float64's (its
fourth differences, robust to a kink among them). A wrong VJP: a node's own check fails. An
unrecorded path: the engine's derivative is exactly 0 where the numeric one is clearly not, or
every node's own check passes while the whole function fails.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from numbers import Number

import numpy as np

from . import ops
from .anomaly import record_source
from .graph import Node, enable_grad, no_grad
from .tensor import Tensor
from .transforms import Tape, gradients

DEFAULT_ATOL = 1e-8
DEFAULT_RTOL = 1e-6
FAST_THRESHOLD = 1024  # inputs with more elements are first checked along random directions
JACOBIAN_LIMIT = 256  # outputs with more elements are projected on a random cotangent
RECHECK = 16  # entries of a large input re-checked one by one after its directional check fails
_DIRECTIONS = 3
_LEVELS = 6  # Richardson estimates, each from steps a quarter of the one before
_NOISE = 1e-11  # relative rounding noise above this is not float64 arithmetic (float32's: ~1e-7)
_JITTER = 1e-10  # two evaluations at one point differing by more (relative) are not deterministic


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
    """The check of one input: its errors, the entry where the pass rule fails most (or comes
    closest to failing), and the two derivatives there.

    `analytic` and `numeric` are derivatives of f at that entry: ∂f/∂x[i] for a one-element f;
    the Jacobian entry ∂f[o]/∂x[i] (o is `output_index`) for a larger f; ∂⟨v, f⟩/∂x[i] when the
    report projects f on a random cotangent. In mode "fast" the input was checked along random
    unit directions u: with `direction` k set, the values are derivatives along u_k.
    `max_rel_err` is None when every reference (numeric value) is 0: not applicable."""

    input: int
    shape: tuple
    max_abs_err: float
    max_rel_err: float | None
    worst_index: tuple
    analytic: float
    numeric: float
    passed: bool
    kinks: int = 0  # entries (or directions) accepted at a kink (Note [kinks])
    mode: str = "full"  # "full" (every entry) or "fast" (random directions, see `rechecked`)
    output_index: tuple | None = None  # the output entry of a Jacobian entry
    direction: int | None = None  # the random direction shown (mode "fast")
    rechecked: int = 0  # entries re-checked one by one after the directional check failed
    at_kink: bool = False  # the entry shown is one accepted at a kink


@dataclass
class BadNode:
    """The first recorded node that a check of that node alone finds at fault: its VJP disagrees
    with finite differences of the node (``reason="vjp"``), or it computes in lower precision
    than its float64 inputs (``reason="precision"``)."""

    node: Node
    op: str
    input: int
    input_shapes: tuple
    output_shape: tuple
    module: str | None
    source: str | None
    max_abs_err: float
    reason: str = "vjp"
    values: str = "jacobian"  # what max_abs_err measures: Jacobian entries, or a projection

    def __str__(self) -> str:
        where = f" in module '{self.module or '<root>'}'" if self.module is not None else ""
        src = f", forward at {self.source}" if self.source else ""
        shapes = ", ".join(str(s) for s in self.input_shapes)
        if self.reason == "precision":
            what = ("computes in lower precision: with float64 inputs its value carries float32-sized "
                    "rounding errors")
        else:
            of = ("Jacobian entries" if self.values == "jacobian" else
                  "derivatives of its output projected on a random cotangent")
            what = f"its VJP's {of} for input {self.input} are off by up to {self.max_abs_err:.3e}"
        return f"node #{self.node.index} '{self.op}' ({shapes}) -> {self.output_shape}{where}{src}: {what}"


@dataclass
class GradcheckReport:
    """`.passed`, one row per checked input, what the values are, the rule and hints; prints as a
    table."""

    passed: bool
    rows: list[GradcheckRow]
    atol: float
    rtol: float
    what: str = "gradient"
    first_bad_node: BadNode | None = None
    notes: list[str] = field(default_factory=list)
    values: str = "gradient"  # "gradient", "jacobian" or "projection" (see GradcheckRow)
    output_shapes: tuple = ()
    seed: int = 0
    fast_threshold: int = FAST_THRESHOLD
    function: str = ""  # what f is, when it is not the function given (gradgradcheck)

    def _values_line(self) -> str:
        if self.function:
            return self._values_of() + f"\n    where f is {self.function}"
        return self._values_of()

    def _values_of(self) -> str:
        if self.values == "gradient":
            return "values: df/dx[i], gradient entries (f has one element)"
        if self.values == "jacobian":
            return "values: Jacobian entries df[o]/dx[i], shown as 'f[o] / x[i]'"
        size = sum(int(np.prod(s)) for s in self.output_shapes)
        return (f"values: d<v, f>/dx[i]: f has {size} elements (over {JACOBIAN_LIMIT}), so it is "
                f"projected on a random cotangent v,\n    np.random.default_rng({self.seed})"
                ".standard_normal(shape) for each output in turn")

    def entry(self, row: GradcheckRow) -> str:
        """The label of the row's entry: 'x[i]', 'f[o] / x[i]', '<v, f> / x[i]', 'u_k' ..."""
        x = f"u{row.direction}" if row.direction is not None else "x" + _index(row.worst_index)
        if self.values == "gradient":
            return x
        if self.values == "projection":
            return f"<v, f> / {x}"
        o = row.output_index or ()
        f = (f"f{o[0]}" + _index(o[1:])) if len(self.output_shapes) > 1 else "f" + _index(o)
        return f"{f} / {x}"

    def __str__(self) -> str:
        lines = [
            f"{self.what} check {'PASSED' if self.passed else 'FAILED'}: engine (analytic) vs central "
            "differences (numeric) in float64",
            f"  {self._values_line()}",
            "  pass rule: |analytic - numeric| <= atol*max(1, max|numeric|) + rtol*|numeric| for every "
            f"value (atol={self.atol:g},\n    rtol={self.rtol:g}); at a kink (a kink input within the "
            "difference stencil) any value between the one-sided\n    derivatives passes. Errors are "
            "over the values judged by the plain rule; rel err where numeric is not 0"]
        if any(r.mode == "fast" for r in self.rows):
            lines.append(f"  mode fast: inputs over {self.fast_threshold} elements are checked along "
                         f"{_DIRECTIONS} random unit directions u; 'u{{k}}' is the derivative along u_k")
        labels = [self.entry(r) for r in self.rows]
        width = max([13, *(len(s) for s in labels)])
        lines.append(f"  {'input':>5}  {'shape':<12} {'max abs err':>11} {'max rel err':>11}  "
                     f"{'entry':<{width}} {'analytic':>14} {'numeric':>14} {'kinks':>5}  mode  result")
        for r, label in zip(self.rows, labels, strict=True):
            rel = "n/a" if r.max_rel_err is None else f"{r.max_rel_err:.3e}"
            result = ("ok" if r.passed else "FAIL") + (" (at a kink)" if r.at_kink else "")
            lines.append(
                f"  {r.input:>5}  {str(r.shape):<12} {r.max_abs_err:>11.3e} {rel:>11}  "
                f"{label:<{width}} {r.analytic:>14.6e} {r.numeric:>14.6e} {r.kinks:>5}  {r.mode:<4}  "
                f"{result}")
        if not self.rows:
            lines.append("  (no floating-point inputs to check)")
        lines += [f"  hint: {n}" for n in self.notes]
        if self.first_bad_node is not None:
            lines.append(f"  first node at fault: {self.first_bad_node}")
        return "\n".join(lines)


def _index(idx: tuple) -> str:
    return f"[{', '.join(str(i) for i in idx)}]" if idx else ""


# ---- the function being checked ----------------------------------------------------------------
@dataclass(eq=False)
class _Problem:
    """What a check needs of a function: its inputs (the checked ones float64 arrays, moved in
    place), its compared values at the current inputs (K of them), and its kinks: per kinked
    node, its op and how far its input is from a kink (None when no node has kinks)."""

    xs: list
    value: Callable[[], np.ndarray]
    kinks: Callable[[], list[tuple[str, np.ndarray]]] | None
    eps: float | None
    atol: float
    rtol: float
    f0: np.ndarray | None = None  # the values at the point
    _base_kinks: list | None = None

    def base_kinks(self) -> list[tuple[str, np.ndarray]]:
        if self._base_kinks is None:
            self._base_kinks = self.kinks()
        return self._base_kinks


def _along(x: np.ndarray, where, t: float, fn: Callable):
    """``fn()`` with x moved by t along `where` (an entry's index, or a direction), then restored."""
    if isinstance(where, tuple):
        x0 = x[where]
        x[where] = x0 + t
        try:
            return fn()
        finally:
            x[where] = x0
    x0 = x.copy()
    np.add(x0, t * where, out=x)
    try:
        return fn()
    finally:
        x[...] = x0


@dataclass(eq=False)
class _Lines:
    """Finite differences along N lines (entries or directions) of one input, K values each, and
    the verdict against the analytic values `ana` (N, K)."""

    lines: list
    ana: np.ndarray
    est: np.ndarray  # (N, L, K) Richardson estimates, largest step first (L = 1 with a given eps)
    steps: np.ndarray  # (N, L) the largest step each estimate uses
    lo: np.ndarray  # (N, K) the smaller and larger one-sided derivative at the smallest step
    hi: np.ndarray
    h0: np.ndarray  # (N,) the stencil's reach
    num: np.ndarray = None
    err: np.ndarray = None
    tol: np.ndarray = None
    ok: np.ndarray = None
    kink: np.ndarray = None
    floor: float = 0.0  # atol·max(1, max|numeric|): a reference below it counts as 0
    kink_ops: dict = field(default_factory=dict)  # line -> the ops whose kinks lie within its stencil
    near: np.ndarray = None  # (N,) a kink lies within the line's stencil, `reach` away
    reach: np.ndarray = None
    first_level: np.ndarray = None  # (N,) the first estimate whose steps stay short of that kink


def _stencil(phi1: Callable[[float], np.ndarray], base: float, eps, f0: np.ndarray):
    """Richardson estimates of d/dt phi1(t) at 0 (and the largest step of each), and the smaller
    and larger one-sided derivative at the smallest steps."""
    steps = [eps] if eps is not None else [base / 4.0 ** k for k in range(_LEVELS + 1)]
    values = [(phi1(h), phi1(-h)) for h in steps]
    with np.errstate(all="ignore"):  # inf and NaN values are compared as they are
        central = [(fp - fm) / (2 * h) for h, (fp, fm) in zip(steps, values, strict=True)]
        sides = [((fp - f0) / h, (f0 - fm) / h) for h, (fp, fm) in zip(steps, values, strict=True)]
        if eps is not None:
            (dp, dm) = sides[0]
            return np.array(central), np.array(steps), np.minimum(dm, dp), np.maximum(dm, dp)
        # one-sided differences are off by O(h): extrapolate the last two (steps h and 4h)
        dp, dm = ((4 * sides[-1][j] - sides[-2][j]) / 3 for j in (0, 1))
        est = [(16 * central[k + 1] - central[k]) / 15 for k in range(_LEVELS)]  # the h² term cancels
    return np.array(est), np.array(steps[:-1]), np.minimum(dm, dp), np.maximum(dm, dp)


def _select(est: np.ndarray) -> np.ndarray:
    """(N, L, K) -> (N, K): per value, the estimate that agrees best with the one before it."""
    if est.shape[1] == 1:
        return est[:, 0].copy()
    with np.errstate(all="ignore"):
        gaps = np.abs(np.diff(est, axis=1))
    gaps = np.where(np.isfinite(gaps), gaps, np.inf)
    k = np.argmin(gaps, axis=1)
    best = np.take_along_axis(est[:, 1:], k[:, None], axis=1)[:, 0]
    return np.where(np.isfinite(np.min(gaps, axis=1)), best, est[:, -1])


def _errors(ana: np.ndarray, num: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        err = np.abs(ana - num)
    return np.where((ana == num) | (np.isnan(ana) & np.isnan(num)), 0.0, err)  # same inf, both NaN


def _measure(prob: _Problem, x: np.ndarray, lines: list, ana: np.ndarray, f0) -> _Lines:
    """Differences along every line, then the verdict (Note [kinks])."""
    scale = max(1.0, float(np.max(np.abs(x), initial=0.0)))
    est, steps, lo, hi, h0 = [], [], [], [], []
    for where in lines:
        base = 1e-2 * (max(1.0, abs(float(x[where]))) if isinstance(where, tuple) else scale)
        e, s, a, b = _stencil(lambda t, w=where: _along(x, w, t, prob.value), base, prob.eps, f0)
        est.append(e), steps.append(s), lo.append(a), hi.append(b)
        h0.append(base if prob.eps is None else prob.eps)
    k = ana.shape[1]
    n = len(lines)
    res = _Lines(lines, ana, np.array(est).reshape(n, -1, k), np.array(steps).reshape(n, -1),
                 np.array(lo).reshape(n, k), np.array(hi).reshape(n, k), np.array(h0))
    _judge(prob, x, res)
    return res


def _judge(prob: _Problem, x: np.ndarray, r: _Lines) -> None:
    """The pass rule per value; a failing value is re-estimated from the steps that stay short of
    a kink within its stencil, or accepted at the kink when the analytic value lies between the
    one-sided derivatives (Note [kinks])."""
    num = _select(r.est)
    finite = np.abs(num[np.isfinite(num)])
    r.floor = prob.atol * max(1.0, float(np.max(finite, initial=0.0)))
    r.num, r.err = num, _errors(r.ana, num)
    r.near = np.zeros(len(r.lines), dtype=bool)
    r.reach = np.full(len(r.lines), np.inf)
    r.first_level = np.zeros(len(r.lines), dtype=int)
    with np.errstate(all="ignore"):
        r.tol = r.floor + prob.rtol * np.abs(num)
        r.ok = r.err <= r.tol
        r.kink = np.zeros(r.ok.shape, dtype=bool)
        if prob.kinks is None or r.ok.all():
            return
        bracket = (r.ana >= r.lo - r.tol) & (r.ana <= r.hi + r.tol)
        unsettled = (np.abs(r.est[:, -1] - r.est[:, -2]) > r.tol) if r.est.shape[1] > 1 else bracket
        candidates = np.flatnonzero(np.any(~r.ok & (bracket | unsettled), axis=1))
    for n in candidates:
        if not _probe(prob, x, r, n):
            continue
        with np.errstate(all="ignore"):
            if r.first_level[n] < r.steps.shape[1]:  # estimates whose steps stay short of the kink
                num[n] = _select(r.est[n:n + 1, r.first_level[n]:])[0]
                r.err[n] = _errors(r.ana[n], num[n])
                r.tol[n] = r.floor + prob.rtol * np.abs(num[n])
                r.ok[n] = r.err[n] <= r.tol[n]
                bracket[n] = (r.ana[n] >= r.lo[n] - r.tol[n]) & (r.ana[n] <= r.hi[n] + r.tol[n])
            r.kink[n] = ~r.ok[n] & bracket[n]
            r.ok[n] |= r.kink[n]


def _probe(prob: _Problem, x: np.ndarray, r: _Lines, n: int) -> bool:
    """Is a kink within line n's stencil? If so, note it and the first estimate whose steps stay
    short of it (Note [kinks])."""
    found = _kink_within(prob, x, r.lines[n], float(r.h0[n]))
    if found is None:
        return False
    reach, names = found
    r.kink_ops[n] = names
    r.near[n], r.reach[n] = True, reach
    usable = r.steps[n] <= reach / 2
    r.first_level[n] = int(np.argmax(usable)) if usable.any() else r.steps.shape[1]
    return True


def _kink_within(prob: _Problem, x: np.ndarray, where, h0: float) -> tuple[float, set] | None:
    """``(reach, ops)`` when a kinked node's input comes within this line's stencil x ± h0: reach
    is how far along the line the nearest such kink is (a linear estimate; 0 at the point, or when
    the graph changes within the stencil); None when no kink is that close."""
    base = prob.base_kinks()
    plus = _along(x, where, h0, prob.kinks)
    minus = _along(x, where, -h0, prob.kinks)
    if [n for n, _ in plus] != [n for n, _ in base] or [n for n, _ in minus] != [n for n, _ in base]:
        return 0.0, {n for n, _ in base} | {n for n, _ in plus}
    reach, names = math.inf, set()
    with np.errstate(all="ignore"):
        for (name, d0), (_, dp), (_, dm) in zip(base, plus, minus, strict=True):
            if d0.shape != dp.shape or d0.shape != dm.shape:
                return 0.0, {name}
            fin = np.isfinite(d0)
            swap = (fin != np.isfinite(dp)) | (fin != np.isfinite(dm))  # e.g. max's winner changed
            move = np.maximum(np.abs(dp - d0), np.abs(dm - d0))
            near = swap | (fin & (np.abs(d0) <= move))
            if near.any():
                names.add(name)
                r = np.where(swap | (d0 == 0), 0.0, np.abs(d0) / move * h0)
                reach = min(reach, float(np.min(r[near])))
    return (reach, names) if names else None


def _noise(prob: _Problem, x: np.ndarray, where) -> float:
    """f's relative rounding noise near the point, along `where`: the median fourth difference at
    tiny steps (a smooth float64 function gives ~1e-16; a kink spoils at most 4 of the 9)."""
    if isinstance(where, tuple):
        delta = 1e-4 * max(1.0, abs(float(x[where])))
    else:
        delta = 1e-4 * max(1.0, float(np.max(np.abs(x), initial=0.0)))
    v = np.array([_along(x, where, j * delta, prob.value) for j in range(-6, 7)])
    with np.errstate(all="ignore"):
        d4 = np.abs(v[:-4] - 4 * v[1:-3] + 6 * v[2:-2] - 4 * v[3:-1] + v[4:])
        mag = np.max(np.abs(v), axis=0)
        rel = np.median(d4, axis=0) / (8 * mag)
    rel = rel[np.isfinite(rel) & (mag > 0)]
    return float(np.max(rel, initial=0.0))


# ---- one input ---------------------------------------------------------------------------------
@dataclass(eq=False)
class _Found:
    """A row's worst value, kept for the hints."""

    row: GradcheckRow
    where: object  # the line shown: an entry's index or a direction
    lines: _Lines | None = None
    n: int = 0  # the line and value shown
    c: int = 0
    zeros: int = 0  # failing values whose analytic derivative is exactly 0
    zeros_max: float = 0.0  # the largest |numeric| among them

    def level_errors(self) -> np.ndarray | None:
        """|estimate − analytic| of the value shown at each step short of any kink, largest first."""
        r, n, c = self.lines, self.n, self.c
        levels = r.est[n, r.first_level[n]:, c]
        return np.abs(levels - r.ana[n, c]) if levels.size > 1 else None


def _check_input(prob: _Problem, i: int, ana: np.ndarray, f0, fast_threshold: int, rng) -> _Found:
    """One input's row: every entry, or random directions for a large input (see `_recheck`).
    `ana` holds the analytic derivatives, (K,) + x.shape."""
    x = prob.xs[i]
    k = ana.shape[0]
    if x.size == 0:
        return _Found(GradcheckRow(i, x.shape, 0.0, None, (), 0.0, 0.0, True), ())
    if x.size > fast_threshold:
        dirs = []
        for _ in range(_DIRECTIONS):
            u = rng.standard_normal(x.shape)
            dirs.append(u / np.linalg.norm(u))
        a = np.array([np.tensordot(ana, u, axes=u.ndim) for u in dirs]).reshape(-1, k)
        return _found(i, x.shape, _measure(prob, x, dirs, a, f0), "fast")
    lines = list(np.ndindex(*x.shape))
    return _found(i, x.shape, _measure(prob, x, lines, ana.reshape(k, -1).T, f0), "full")


def _found(i: int, shape: tuple, r: _Lines, mode: str) -> _Found:
    """The row of one input from its lines."""
    with np.errstate(all="ignore"):
        ratio = np.where(np.isnan(r.err), np.inf, r.err / np.maximum(r.tol, 1e-300))
        if not r.ok.all():
            pick = np.where(r.ok, -1.0, ratio)
        elif not r.kink.all():
            pick = np.where(r.kink, -1.0, ratio)
        else:
            pick = r.err
        n, c = np.unravel_index(int(np.argmax(pick)), pick.shape)
        # the errors of the values judged by the plain rule (of the kinks when there are no others)
        judged = ~r.kink if not r.kink.all() else r.kink
        has_ref = judged & (np.abs(r.num) > r.floor)
        rel = r.err[has_ref] / np.abs(r.num[has_ref])
        zeros = (r.ana == 0) & ~r.ok & (np.abs(r.num) > r.tol)
    where = r.lines[n]
    entry = isinstance(where, tuple)
    row = GradcheckRow(
        input=i, shape=shape, max_abs_err=float(np.max(r.err[judged])),
        max_rel_err=float(np.max(rel)) if rel.size else None,
        worst_index=tuple(int(j) for j in where) if entry else (),
        analytic=float(r.ana[n, c]), numeric=float(r.num[n, c]), passed=bool(r.ok.all()),
        kinks=int(np.any(r.kink, axis=1).sum()), mode=mode, output_index=(int(c),),
        direction=None if entry else int(n), at_kink=bool(r.kink[n, c]))
    return _Found(row, where, r, int(n), int(c), int(zeros.sum()),
                  float(np.max(np.abs(r.num[zeros]), initial=0.0)))


def _recheck(prob: _Problem, found: _Found, ana: np.ndarray, f0, rng) -> _Found:
    """A large input whose directional check failed: re-check `RECHECK` entries one by one (half
    the largest |analytic|, half at random) and show the worst, or keep the directions' row when
    none of them fails on its own."""
    row = found.row
    x = prob.xs[row.input]
    flat = np.max(np.abs(ana.reshape(ana.shape[0], -1)), axis=0)
    top = np.argsort(flat, kind="stable")[::-1][: RECHECK // 2]
    rest = np.setdiff1d(np.arange(flat.size), top)
    picked = np.concatenate([top, rng.choice(rest, min(RECHECK - top.size, rest.size), replace=False)])
    lines = [tuple(int(j) for j in np.unravel_index(p, x.shape)) for p in picked]
    a = ana.reshape(ana.shape[0], -1).T[picked]
    entries = _found(row.input, row.shape, _measure(prob, x, lines, a, f0), "fast")
    keep = entries if not entries.row.passed else found
    keep.row.max_abs_err = max(row.max_abs_err, entries.row.max_abs_err)
    keep.row.passed = False
    keep.row.kinks = row.kinks + entries.row.kinks
    keep.row.rechecked = len(lines)
    return keep


# ---- the checks --------------------------------------------------------------------------------
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


def _cotangents(shapes: list[tuple], values: str, seed: int) -> list[list[np.ndarray]]:
    """The seeds of the reverse sweeps, one list (a cotangent per output) per compared value."""
    if values == "projection":
        rng = np.random.default_rng(seed)
        return [[rng.standard_normal(s) for s in shapes]]
    seeds = []
    for k, s in enumerate(shapes):
        for j in range(int(np.prod(s))):
            one = [np.zeros(t) for t in shapes]
            one[k].reshape(-1)[j] = 1.0
            seeds.append(one)
    return seeds


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
            jumpy = bool(np.any(jitter > _JITTER * np.concatenate([np.abs(f0)] * 2)))
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


def _output_index(c: int, shapes: list[tuple], values: str) -> tuple | None:
    """Value c's output entry: an index into f's output (with the output's number first when f
    returns several); None for a gradient or a projection."""
    if values != "jacobian":
        return None
    for k, s in enumerate(shapes):
        n = int(np.prod(s))
        if c < n:
            idx = tuple(int(j) for j in np.unravel_index(c, s))
            return (k, *idx) if len(shapes) > 1 else idx
        c -= n
    raise AssertionError("value index past the outputs")


def _kink_hint(report: GradcheckReport, found: list[_Found], shapes: list[tuple]) -> None:
    """How many values were accepted at a kink, and the one farthest from its numeric value."""
    total = sum(fd.row.kinks for fd in found)
    if not total:
        return
    names, worst = set(), None
    for fd in found:
        r = fd.lines
        if r is None or not r.kink.any():
            continue
        for n in np.flatnonzero(r.kink.any(axis=1)):
            names |= r.kink_ops.get(int(n), set())
        n, c = np.unravel_index(int(np.argmax(np.where(r.kink, r.err, -1.0))), r.err.shape)
        if worst is None or r.err[n, c] > worst[0].err[worst[1], worst[2]]:
            worst = (r, n, c, fd.row)
    r, n, c, row = worst
    where = r.lines[n]
    shown = dataclasses.replace(
        row, worst_index=where if isinstance(where, tuple) else (),
        direction=None if isinstance(where, tuple) else int(n),
        output_index=_output_index(int(c), shapes, report.values))
    report.notes.append(
        f"{total} {'entry' if total == 1 else 'entries'} at a kink of {', '.join(sorted(names))} (its input "
        "within the difference stencil): accepted where the analytic value lies between the one-sided "
        f"derivatives; the farthest, input {row.input} at {report.entry(shown)}: analytic "
        f"{r.ana[n, c]:.6e}, numeric {r.num[n, c]:.6e}, one-sided {r.lo[n, c]:.6e} and {r.hi[n, c]:.6e}")


def _explain(report: GradcheckReport, found: list[_Found], prob: _Problem, jitter, f, xs, checked,
             seed: int, fast_threshold: int, localize: bool) -> None:
    """The hints of a failing check (Note [hints]); localizes the first node at fault."""
    notes = report.notes
    failing = [fd for fd in found if not fd.row.passed]
    for fd in failing:
        if fd.row.rechecked:
            r = fd.row
            tail = "" if r.direction is None else ": none fails on its own (the error is spread thinly)"
            notes.append(f"input {r.input}: its check along {_DIRECTIONS} random directions failed; "
                         f"{r.rechecked} of its {int(np.prod(r.shape))} entries were re-checked one by "
                         f"one (the largest |analytic| and random ones){tail}")
    if jitter is not None:
        notes.append(
            f"f is not deterministic: two evaluations at the same point differ by up to "
            f"{float(np.max(jitter)):.3e}, so finite differences of it mean nothing. Draw random numbers "
            "through ag.draw_random(owner, sample) (nn.Dropout does; a check replays its draws), "
            "and wrap your own passes in ag.frozen_randomness() to see the same draws")
        return
    noise = max((_noise(prob, prob.xs[fd.row.input], fd.where) for fd in failing), default=0.0)
    if localize:
        report.first_bad_node = _localize(f, xs, checked, report.atol, report.rtol, seed, fast_threshold)
    bad = report.first_bad_node
    if (bad is None or bad.reason == "precision") and (noise > _NOISE or bad is not None):
        at = f" (node #{bad.node.index} '{bad.op}', below)" if bad is not None else ""
        size = (f"f's value carries rounding noise of about {noise:.0e} relative (float64 arithmetic "
                "gives ~1e-16, float32 ~1e-7)" if noise > _NOISE else
                "its float64 output holds float32 values")
        notes.append(f"the op computes in lower precision{at}: {size}, so differences of f are noisy; "
                     "compute in float64, or check with a looser rtol")
        return
    for fd in failing:
        r, label, lines = fd.row, report.entry(fd.row), fd.lines
        if prob.kinks is not None and not lines.near[fd.n]:
            _probe(prob, prob.xs[r.input], lines, fd.n)  # steps that reach a kink say nothing here
        errs = fd.level_errors()
        if errs is None and 0 < lines.reach[fd.n] < np.inf and prob.eps is None:
            errs = _short_steps(prob, fd)
        steady = errs is not None and np.max(errs) <= 2 * np.min(errs)
        if lines.near[fd.n] and lines.reach[fd.n] == 0:
            notes.append(f"input {r.input}: at {label} a kink of {', '.join(sorted(lines.kink_ops[fd.n]))} "
                         "lies within the difference stencil, but the one-sided derivatives "
                         f"({lines.lo[fd.n, fd.c]:.6e}, {lines.hi[fd.n, fd.c]:.6e}) do not bracket the "
                         "analytic value")
        elif bad is None and (fd.zeros or (localize and steady)):
            why = (f"the engine's derivative is exactly 0 at {fd.zeros} value(s) where finite differences "
                   f"give up to {fd.zeros_max:.3e}" if fd.zeros else
                   "every recorded node's VJP agrees with finite differences of that node, yet f's does not")
            notes.append(f"input {r.input}: the output depends on this input through a path the engine "
                         f"did not record (.data, np.asarray, ag.tensor(...)): {why}")
        elif steady:
            notes.append(f"input {r.input}: the error at {label} is the same at every step "
                         f"({errs[0]:.3e} at the largest, {errs[-1]:.3e} at the "
                         "smallest): a wrong derivative, not a rounding or step artefact")
        elif bad is None and errs is not None:
            notes.append(f"input {r.input}: the error at {label} changes with the step "
                         f"({errs[0]:.3e} at the largest, {errs[-1]:.3e} at the "
                         "smallest): f is not smooth there (a kink or jump of an op that declares no "
                         "kinks=), or its value is noisy")
    if bad is not None:
        notes.append(f"node #{bad.node.index} '{bad.op}' has a wrong VJP: checked alone against finite "
                     "differences of that node, its VJP formula is wrong")


def _short_steps(prob: _Problem, fd: _Found) -> np.ndarray:
    """|estimate − analytic| of the value shown, from steps short of the kink near it."""
    r, n, c = fd.lines, fd.n, fd.c
    x = prob.xs[fd.row.input]
    est = _stencil(lambda t: _along(x, fd.where, t, prob.value), float(r.reach[n]) / 2, None, prob.f0)[0]
    return np.abs(est[:, c] - r.ana[n, c])


def _localize(f, xs, checked, atol, rtol, seed, fast_threshold) -> BadNode | None:
    """Record f once more and check each node alone, in recording order; the first at fault."""
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
    # Jacobian entries for a small output, else the output projected on a random cotangent
    values = "jacobian" if 0 < int(np.prod(node.out_shape)) <= JACOBIAN_LIMIT else "projection"
    gs = _cotangents([node.out_shape], values, int(rng.integers(2 ** 31)))
    if prim.vjp_wants_needs:
        kwargs["needs"] = tuple(wanted)
    with no_grad():
        ans, saved = prim.forward(*arrays, **node.kwargs)
        if prim.saves:
            kwargs["saved"] = saved
        per_g = []
        for (g,) in gs:
            cots = prim.vjp(g, np.asarray(ans, dtype=np.float64), *arrays, **kwargs)
            per_g.append(cots if isinstance(cots, (tuple, list)) else (cots,))

    def value() -> np.ndarray:
        with no_grad():
            out = np.asarray(prim.forward(*arrays, **node.kwargs)[0], dtype=np.float64)
            return np.ravel(out) if values == "jacobian" else np.array([float(np.sum(gs[0][0] * out))])

    def kinks() -> list[tuple[str, np.ndarray]]:
        out = prim.forward(*arrays, **node.kwargs)[0]
        return [(prim.name, np.asarray(prim.kinks(out, *arrays, **node.kwargs), dtype=np.float64))]

    f0 = value()
    prob = _Problem(arrays, value, kinks if prim.kinks is not None else None, None, atol, rtol, f0)
    for j, w in enumerate(wanted):
        if not w:
            continue
        cs = [_node_cotangent(prim, cots, j, arrays[j].shape) for cots in per_g]
        if any(c is None for c in cs):
            return _bad(node, j, arrays, np.inf, values=values)
        fd = _check_input(prob, j, np.stack(cs), f0, fast_threshold, rng)
        if not fd.row.passed:
            return _bad(node, j, arrays, fd.row.max_abs_err, _precision(prob, arrays, ans, j, fd), values)
    return None


def _node_cotangent(prim, cots, j: int, shape: tuple) -> np.ndarray | None:
    """Input j's cotangent from a VJP's result, summed back to its shape for a broadcasting op;
    None when it has another shape. A VJP that gives none says the derivative is 0 (the
    differences check that too)."""
    if j >= len(cots) or cots[j] is None:
        return np.zeros(shape)
    c = np.asarray(cots[j], np.float64)
    if c.shape != shape and prim.broadcasting:
        try:
            c = np.asarray(ops.sum_to(c, shape))
        except ValueError:
            pass
    return c if c.shape == shape else None


def _precision(prob: _Problem, arrays, ans, j: int, fd: _Found) -> str:
    """"precision" when a failing node computes below float64 (a float32 result, float32-exact
    values from inputs that are not, or float32-sized noise), else "vjp"."""
    a = np.asarray(ans)
    if a.dtype.kind == "f" and a.dtype.itemsize < 8:
        return "precision"
    fin = a[np.isfinite(a)] if a.dtype.kind == "f" else a
    ins = [np.asarray(x) for x in arrays if np.asarray(x).dtype == np.float64]
    with np.errstate(all="ignore"):  # values past float32's range become inf: not float32-exact
        rounded = fin.size and np.array_equal(fin, fin.astype(np.float32))
        if rounded and any(not np.array_equal(x, x.astype(np.float32)) for x in ins):
            return "precision"
    return "precision" if _noise(prob, arrays[j], fd.where) > _NOISE else "vjp"


def _bad(node: Node, j: int, arrays, err: float, reason: str = "vjp", values: str = "jacobian") -> BadNode:
    return BadNode(node=node, op=node.op, input=j, input_shapes=tuple(np.shape(a) for a in arrays),
                   output_shape=node.out_shape, module=node.module, source=node.source,
                   max_abs_err=err, reason=reason, values=values)


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

"""Finite differences of the function being checked: `_Problem` (its inputs, its compared values
and its kinks), the Richardson stencil along an entry or a direction, the pass rule per value,
kinks within the stencil (Note [kinks]), f's rounding noise, and the cotangents that seed the
analytic sweeps (one per compared value).

Note [kinks]: a kink is where a function is not differentiable; any subgradient is a valid
answer there, and central differences straddling it give an average. Whether a kink is near an
entry is asked of the graph, not guessed from the numbers: each kinked node reports how far its
input is from its kinks (`Primitive.kinks`), measured with the entry moved to both ends of its
stencil. Noise, a float32 op or a wrong formula can make one-sided derivatives differ too, so a
jump alone never counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .constants import LEVELS


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
    steps = [eps] if eps is not None else [base / 4.0 ** k for k in range(LEVELS + 1)]
    values = [(phi1(h), phi1(-h)) for h in steps]
    with np.errstate(all="ignore"):  # inf and NaN values are compared as they are
        central = [(fp - fm) / (2 * h) for h, (fp, fm) in zip(steps, values, strict=True)]
        sides = [((fp - f0) / h, (f0 - fm) / h) for h, (fp, fm) in zip(steps, values, strict=True)]
        if eps is not None:
            (dp, dm) = sides[0]
            return np.array(central), np.array(steps), np.minimum(dm, dp), np.maximum(dm, dp)
        # one-sided differences are off by O(h): extrapolate the last two (steps h and 4h)
        dp, dm = ((4 * sides[-1][j] - sides[-2][j]) / 3 for j in (0, 1))
        est = [(16 * central[k + 1] - central[k]) / 15 for k in range(LEVELS)]  # the h² term cancels
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

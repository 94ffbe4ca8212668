"""One input's row: every entry measured and judged, or random directions for a large input and,
when they fail, a re-check of some entries one by one; the worst value is what the row shows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .constants import DIRECTIONS, RECHECK
from .differences import _Lines, _measure, _Problem
from .report import GradcheckRow


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
        for _ in range(DIRECTIONS):
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

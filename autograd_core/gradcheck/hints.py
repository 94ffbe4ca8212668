"""The hints of a report: why a failing check failed (Note [hints]), and which values were
accepted at a kink.

Note [hints]: each hint is a measurement. Non-determinism: two evaluations at one point differ.
Lower precision: f's value, moved by tiny steps, has rounding noise far above float64's (its
fourth differences, robust to a kink among them). A wrong VJP: a node's own check fails. An
unrecorded path: the engine's derivative is exactly 0 where the numeric one is clearly not, or
every node's own check passes while the whole function fails.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .constants import DIRECTIONS, NOISE
from .differences import _along, _noise, _probe, _Problem, _stencil
from .localize import _localize
from .report import GradcheckReport, _output_index
from .rows import _Found


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
            notes.append(f"input {r.input}: its check along {DIRECTIONS} random directions failed; "
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
    if (bad is None or bad.reason == "precision") and (noise > NOISE or bad is not None):
        at = f" (node #{bad.node.index} '{bad.op}', below)" if bad is not None else ""
        size = (f"f's value carries rounding noise of about {noise:.0e} relative (float64 arithmetic "
                "gives ~1e-16, float32 ~1e-7)" if noise > NOISE else
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

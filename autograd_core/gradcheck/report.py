"""What a check reports: `GradcheckReport` (one `GradcheckRow` per input, the hints, the first
`BadNode` at fault) and its table; `GradcheckError`, raised with the report as its message."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..graph import Node
from .constants import DIRECTIONS, FAST_THRESHOLD, JACOBIAN_LIMIT


class GradcheckError(AssertionError):
    """Raised by a failing `gradcheck` with ``raise_on_fail=True``; its message is the report."""


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
                         f"{DIRECTIONS} random unit directions u; 'u{{k}}' is the derivative along u_k")
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

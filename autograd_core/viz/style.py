"""How a picture looks: gradient statistics per tensor, the log colour scale and its legend."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..backward import fit, node_vjp
from ..graph import Node, no_grad
from ..tensor import Tensor

# viridis, dark (small ‖g‖) to light (large ‖g‖); the first four need white text
_PALETTE = ("#440154", "#46327e", "#365c8d", "#277f8e", "#1fa187", "#4ac16d", "#a0da39", "#fde725")
_DARK = 4
_BAD = "#ff6b6b"      # NaN / Inf gradient
_ZERO = "#d0d0d0"     # all-zero gradient
_HIGHLIGHT = "red"
_PARAM_BORDER = "#1f5fa8"


# ---- gradients for the picture (Note [grads in pictures]) --------------------------------------

class _GradStats:
    __slots__ = ("norm", "nan", "inf", "zero", "dead", "units")

    def __init__(self, g: np.ndarray, per_unit: bool) -> None:
        g = np.asarray(g)
        with np.errstate(all="ignore"):
            self.norm = float(np.sqrt(np.sum(np.square(g, dtype=np.float64))))
        self.nan = bool(np.isnan(g).any())
        self.inf = bool(np.isinf(g).any())
        self.zero = not self.nan and not np.any(g)
        self.dead = self.units = 0
        if per_unit and g.ndim >= 2 and g.shape[0] > 0:
            self.units = g.shape[0]
            self.dead = int(np.sum(~np.any(g.reshape(g.shape[0], -1) != 0, axis=1)))

    @property
    def bad(self) -> bool:
        return self.nan or self.inf

    def text(self) -> str:
        flags = [f for f, on in (("NaN!", self.nan), ("Inf!", self.inf)) if on]
        if flags:
            return " ".join(flags)
        if self.zero:
            return "grad all zero"
        s = f"‖g‖ {self.norm:.2g}"
        if self.dead:
            s += f", dead {self.dead}/{self.units}"
        return s


def _sweep_grads(output: Tensor, nodes: list[Node], leaves: set[int]):
    """Cotangents of every node's output and every leaf, by a retained first-order sweep."""
    by_node: dict[Node, _GradStats] = {}
    seed = np.ones(output.shape, dtype=output.dtype)
    if output._node is None:
        return by_node, {id(output): _GradStats(seed, True)}
    cot: dict = {output._node: seed}
    leaf: dict = {}
    with no_grad(), np.errstate(all="ignore"):  # NaN/Inf are what we want to show, not warn about
        for node in reversed(nodes):
            g = cot.pop(node, None)
            if g is None:
                continue
            by_node[node] = _GradStats(g, False)
            for i, (t, c, need) in enumerate(zip(node.inputs, node_vjp(node, g), node.needs, strict=True)):
                if need and c is not None:  # backward's own step
                    c = fit(c, t, node, i)
                    into = leaf if t._node is None else cot
                    key = t if t._node is None else t._node
                    into[key] = c if key not in into else into[key] + c
    return by_node, {id(t): _GradStats(g, id(t) in leaves) for t, g in leaf.items()}


class _Colours:
    """Maps ‖g‖ to a palette colour on a log10 scale spanning the finite, nonzero norms."""

    def __init__(self, stats: Iterable[_GradStats]) -> None:
        logs = [np.log10(s.norm) for s in stats if not s.bad and not s.zero and s.norm > 0]
        self.lo = float(np.floor(min(logs))) if logs else 0.0
        self.hi = float(np.ceil(max(logs))) if logs else 1.0
        if self.hi <= self.lo:
            self.hi = self.lo + 1

    def of(self, s: _GradStats) -> tuple[str, str]:
        """(fill colour, font colour)."""
        if s.bad:
            return _BAD, "black"
        if s.zero or s.norm <= 0:
            return _ZERO, "black"
        k = round((np.log10(s.norm) - self.lo) / (self.hi - self.lo) * (len(_PALETTE) - 1))
        k = int(min(max(k, 0), len(_PALETTE) - 1))
        return _PALETTE[k], "white" if k < _DARK else "black"

    def legend(self) -> str:
        n = len(_PALETTE)
        cells = []
        for k, colour in enumerate(_PALETTE):
            value = 10 ** (self.lo + (self.hi - self.lo) * k / (n - 1))
            font = "white" if k < _DARK else "black"
            cells.append(f'<td bgcolor="{colour}"><font color="{font}">{value:.2g}</font></td>')
        return (
            '<<table border="0" cellborder="1" cellspacing="0" cellpadding="3">'
            f'<tr><td colspan="{n}"><b>gradient norm ‖g‖ (Frobenius), log scale</b></td></tr>'
            f'<tr>{"".join(cells)}</tr>'
            f'<tr><td colspan="2" bgcolor="{_BAD}">NaN / Inf</td>'
            f'<td colspan="2" bgcolor="{_ZERO}">all zero</td>'
            f'<td colspan="2"><font color="{_PALETTE[0]}">dead k/n: zero rows</font></td>'
            f'<td colspan="2" bgcolor="white">no grad</td></tr>'
            '<tr><td colspan="2">box: op</td>'
            f'<td colspan="2"><font color="{_PARAM_BORDER}"><b>bold</b>: parameter</font></td>'
            '<td colspan="2">dashed: constant</td>'
            f'<td colspan="2"><font color="{_HIGHLIGHT}">red: highlighted</font></td></tr>'
            "</table>>"
        )

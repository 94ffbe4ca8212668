"""How a picture looks: gradient statistics per tensor, the log colour scale and its legend."""

from __future__ import annotations

import html
from collections.abc import Iterable

import numpy as np

from ..backward import fit, node_vjp
from ..graph import Node, _Switch, no_grad
from ..tensor import Tensor

# viridis, dark (small ‖g‖) to light (large ‖g‖); the first four need white text
_PALETTE = ("#440154", "#46327e", "#365c8d", "#277f8e", "#1fa187", "#4ac16d", "#a0da39", "#fde725")
_DARK = 4
_BAD = "#ff6b6b"      # NaN / Inf gradient
_ZERO = "#d0d0d0"     # all-zero gradient
_HIGHLIGHT = "red"
_BAD_VALUE = "#8b0000"  # the border of a leaf or constant whose value holds NaN / Inf
_PARAM_BORDER = "#1f5fa8"


# ---- gradients for the picture (Note [grads in pictures]) --------------------------------------

class keep_grad_norms(_Switch):
    """Context manager (and decorator): a ``backward()`` run inside it keeps the norm ‖g‖
    (Frobenius) of the gradient of every op output it goes through, so a picture drawn after
    backward shows intermediate gradients too (parameters show their ``.grad`` either way).

    >>> x = ag.tensor(np.ones(3), requires_grad=True)
    >>> y = (x * 2.0).sum()
    >>> with ag.viz.keep_grad_norms():
    ...     y.backward()
    >>> y.node.grad_norm, y.node.inputs[0].op, y.node.inputs[0].grad_norm  # sum's, multiply's
    (1.0, 'multiply', 1.7320508075688772)

    Per thread, like `no_grad`; off by default (the sweep then computes no norm).
    """

    field, value = "grad_norms", True


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

    @classmethod
    def of_norm(cls, norm: float) -> _GradStats:
        """From a norm the sweep kept: NaN stands for a NaN anywhere, Inf for an infinite entry."""
        s = cls.__new__(cls)
        s.norm, s.nan, s.inf = norm, bool(np.isnan(norm)), bool(np.isinf(norm))
        s.zero, s.dead, s.units = norm == 0, 0, 0
        return s

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


class _Grads:
    """The gradients a picture shows: `nodes` (node → stats of its output's gradient; a node
    missing got none) and `leaves` (id → stats), and `how`, a line saying where they come from.

    On a live graph (no node released by backward) the picture runs its own first-order sweep
    from the outputs, seeded with ones. After backward it reads what backward left: each leaf's
    ``.grad``, and each op's ‖g‖ if the sweep kept them (`keep_grad_norms`); `kept` says which.
    """

    def __init__(self, outputs: list[Tensor], nodes: list[Node], leaves: dict[int, object],
                 names: dict[int, str]) -> None:
        # dead units are counted for the parameters and the other leaves that require grad
        per_unit = set(names) | {k for k, t in leaves.items()
                                 if isinstance(t, Tensor) and t.requires_grad}
        self.live = not any(n.released for n in nodes)
        self.kept = self.live or any(n.grad_norm is not None for n in nodes)
        if self.live:
            self.nodes, self.leaves = _sweep_grads(outputs, nodes, per_unit)
            self.how = ("‖g‖: gradient of the outputs' sum (seeded with ones), by the picture's "
                        "own sweep (no .grad read)" if len(outputs) > 1 or outputs[0].size != 1 else
                        "‖g‖: gradient of the output, by the picture's own sweep (no .grad read)")
            return
        self.nodes = {n: _GradStats.of_norm(n.grad_norm) for n in nodes if n.grad_norm is not None}
        self.leaves = {}
        for k, t in leaves.items():
            if isinstance(t, Tensor) and t.requires_grad and t.grad is not None:
                g = t.grad.data if isinstance(t.grad, Tensor) else t.grad
                self.leaves[k] = _GradStats(g, k in per_unit)
        self.how = ("after backward(): leaves show ‖.grad‖, ops the norms kept by "
                    "ag.viz.keep_grad_norms()" if self.kept else
                    "after backward(): leaves show ‖.grad‖; the ops' norms were not kept (to keep "
                    "them, run backward() inside `with ag.viz.keep_grad_norms():`)")


def _sweep_grads(outputs: list[Tensor], nodes: list[Node], per_unit: set[int]):
    """Cotangents of every node's output and every leaf, by a retained first-order sweep from
    `outputs`, each seeded with ones."""
    cot: dict = {}
    leaf: dict = {}
    for o in outputs:
        seed = np.ones(o.shape, dtype=o.dtype)
        into, key = (cot, o._node) if o._node is not None else (leaf, o)
        if o._node is not None or o.requires_grad:
            into[key] = seed if key not in into else into[key] + seed
    by_node: dict[Node, _GradStats] = {}
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
    return by_node, {id(t): _GradStats(g, id(t) in per_unit) for t, g in leaf.items()}


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

    def legend(self, how: str, highlighted: bool, flagged: bool) -> str:
        """The legend, an HTML-like table (Note [the legend in any SVG renderer])."""
        n = len(_PALETTE)
        cells = []
        for k, colour in enumerate(_PALETTE):
            value = 10 ** (self.lo + (self.hi - self.lo) * k / (n - 1))
            font = "white" if k < _DARK else "black"
            cells.append(f'<td border="1" bgcolor="{colour}" width="{_SCALE_CELL}">'
                         f'<font color="{font}">{_compact(value)}</font></td>')
        keys = [
            (f'border="1" bgcolor="{_BAD}"', "NaN / Inf in the gradient"),
            (f'border="1" bgcolor="{_ZERO}"', "gradient all zero (dead k/n: k of n weight rows get none)"),
            ('border="1" bgcolor="white"', "no gradient reached it"),
            (f'bgcolor="#dbe9f6" color="{_PARAM_BORDER}" border="2"', "parameter (name in bold)"),
            ('border="1" style="dashed"', "constant: does not require grad"),
        ]
        if flagged:
            keys.append((f'color="{_BAD_VALUE}" border="3"', "NaN / Inf in the value (double border)"))
        if highlighted:
            keys.append((f'color="{_HIGHLIGHT}" border="3"', "highlighted"))
        rows = [f'<tr><td colspan="{n}" align="left"><b>gradient norm ‖g‖ (Frobenius), '
                'log scale</b></td></tr>', f'<tr>{"".join(cells)}</tr>']
        for swatch, text in keys:
            rows.append(f'<tr><td {swatch} width="{_SWATCH}"></td>'
                        f'<td colspan="{n - 1}" align="left">{html.escape(text)}</td></tr>')
        for line in _wrap(how, _LEGEND_CHARS):
            rows.append(f'<tr><td colspan="{n}" align="left">{html.escape(line)}</td></tr>')
        return ('<<table border="0" cellborder="0" cellspacing="2" cellpadding="2">'
                + "".join(rows) + "</table>>")


# Note [the legend in any SVG renderer]: Graphviz sizes each cell from its own font metrics, and
# a browser (or Inkscape, librsvg...) draws the SVG's text with whatever font it finds, often
# wider: text centred in a tight bordered cell then spills over both borders. So the text cells
# have no border and are left-aligned (a wider font runs into empty space on the right), lines
# are at most _LEGEND_CHARS characters, well inside the width that the colour scale's fixed-width
# cells give the table, and each scale cell leaves room for a 6-character label in a wide font.
_SCALE_CELL = 46  # points: "3.2e-4" at 9 pt is about 27 pt in Helvetica, 34 in DejaVu Sans
_LEGEND_CHARS = 56
_SWATCH = 24


def _compact(v: float) -> str:
    """A scale label in at most 6 characters: 0.032, 3.2, 320, 3.2e-4, 1e+05 -> 1e5."""
    if 1e-2 <= v < 1e3:
        return f"{v:.2g}"
    mantissa, _, exponent = f"{v:.1e}".partition("e")
    return f"{mantissa.removesuffix('.0')}e{int(exponent)}"


def _wrap(text: str, width: int) -> list[str]:
    """`text` broken at spaces into lines of at most `width` characters."""
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + [line]

"""Pictures of the graph: `draw_graph` (a `graphviz.Digraph`), `render` (a file), `summary` (text).

>>> model = nn.MLP([4, 8, 3], rng=0)
>>> loss = nn.cross_entropy(model(np.ones((2, 4), np.float32)), np.array([0, 2]))
>>> picture = ag.viz.draw_graph(loss, params=model)        # shows inline in Jupyter
>>> # ag.viz.render(loss, "graph.svg", params=model, show_grads=True) writes the file
>>> print(ag.viz.summary(loss, params=model).splitlines()[0])
6 ops → output scalar float32

Note [pictures and backward]: an ordinary ``backward()`` releases the nodes it went through
(their inputs become None), so the structure of the graph is gone afterwards. Draw the picture
before backward, or after ``backward(retain_graph=True)``. Drawn from a released graph, the picture
shows what is left (the output's op) and says so in its title; ``show_grads=True`` on a released
graph raises RuntimeError, because the gradients cannot be computed without the graph.

Note [grads in pictures]: ``show_grads=True`` runs its own first-order sweep from `output` over
the live graph (seeded with ones: for a non-scalar output, the gradient of ``output.sum()``). So
every tensor gets a gradient, intermediates as well as leaves, whether or not backward was
called, and no ``.grad`` is read or changed. Each is labelled with its Frobenius norm ‖g‖ and
filled with a colour on a log scale spanning the picture's norms (the legend gives the values);
NaN/Inf and all-zero gradients are flagged, and for a parameter of two or more axes, the count of
"dead" output units (slices along axis 0 whose gradient is all zero).

graphviz (the Python package) is imported only when a picture is drawn, so ``import autograd_core``
works without it; `summary` never needs it. Rendering needs a layout program: ``dot`` from
Graphviz, or ``graphviz-pure`` (``pip install 'autograd-core[viz]'``, a self-contained binary
that installs into the environment's ``bin``).
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .tape import Node, no_grad
from .tensor import Tensor

RENDER_TIMEOUT_S = 60
# viridis, dark (small ‖g‖) to light (large ‖g‖); the first four need white text
_PALETTE = ("#440154", "#46327e", "#365c8d", "#277f8e", "#1fa187", "#4ac16d", "#a0da39", "#fde725")
_DARK = 4
_BAD = "#ff6b6b"      # NaN / Inf gradient
_ZERO = "#d0d0d0"     # all-zero gradient
_HIGHLIGHT = "red"
_PARAM_BORDER = "#1f5fa8"
_INSTALL_HINT = ("pip install 'autograd-core[viz]' (brings graphviz-pure, a self-contained `dot`), "
                 "or apt-get install graphviz")


# ---- the renderer ------------------------------------------------------------------------------

def _find_renderer() -> str | None:
    """Path of a Graphviz layout program: `dot`, else `graphviz-pure`, on PATH or beside the
    running Python (a venv's bin that is not on PATH); None if there is none."""
    here = os.path.dirname(sys.executable)
    for name in ("dot", "graphviz-pure"):
        found = shutil.which(name) or shutil.which(name, path=here)
        if found:
            return found
    return None


def _run_renderer(source: str, fmt: str, out: str | None = None) -> bytes:
    """Lay out DOT `source` into format `fmt`; write to `out` or return the bytes."""
    exe = _find_renderer()
    if exe is None:
        raise RuntimeError(f"no Graphviz renderer found (looked for `dot` and `graphviz-pure` on "
                           f"PATH and in {os.path.dirname(sys.executable)}); {_INSTALL_HINT}")
    cmd = [exe, f"-T{fmt}"] + (["-o", out] if out is not None else [])
    try:
        proc = subprocess.run(cmd, input=source.encode("utf-8"), capture_output=True,
                              timeout=RENDER_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{exe} took longer than {RENDER_TIMEOUT_S} s to lay out the graph; "
                           "draw less of it (max_nodes=, depth=)") from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"{exe} -T{fmt} failed (exit {proc.returncode}): {err}")
    return proc.stdout


# ---- reading the graph -------------------------------------------------------------------------

def _walk(output: Tensor) -> tuple[list[Node], list[Node]]:
    """(nodes reaching `output` in recording order, the released ones among them).

    An explicit stack, no recursion: a chain of 100,000 ops is fine. A released node's inputs
    are gone, so the walk cannot go past it.
    """
    root = output._node
    if root is None:
        return [], []
    seen = {root}
    stack = [root]
    released = []
    while stack:
        node = stack.pop()
        if node.inputs is None:
            released.append(node)
            continue
        for t in node.inputs:
            if isinstance(t, Tensor) and t._node is not None and t._node not in seen:
                seen.add(t._node)
                stack.append(t._node)
    return sorted(seen, key=lambda n: n.index), released


def _check_output(output: Any, who: str) -> Tensor:
    if not isinstance(output, Tensor):
        raise TypeError(f"{who}: expected the Tensor whose graph to draw, "
                        f"got {type(output).__name__}")
    return output


def _named(params) -> tuple[dict[int, str], dict[str, str], list]:
    """(id(tensor) → name, module path → class name, the tensors kept alive) from `params`:
    a dict name → Tensor, or anything with named_parameters() (an nn.Module, duck-typed)."""
    if params is None:
        return {}, {}, []
    classes = {}
    if hasattr(params, "named_parameters"):
        items = list(params.named_parameters())
        if hasattr(params, "named_modules"):
            classes = {path: type(m).__name__ for path, m in params.named_modules()}
    elif isinstance(params, Mapping):
        items = list(params.items())
    else:
        raise TypeError("params: expected a dict name → Tensor or a module with "
                        f"named_parameters(), got {type(params).__name__}")
    names = {}
    for name, t in items:
        if not isinstance(t, Tensor):
            raise TypeError(f"params[{name!r}]: expected a Tensor, got {type(t).__name__}")
        names.setdefault(id(t), str(name))
    return names, classes, [t for _, t in items]


def _shape(shape: tuple) -> str:
    return "scalar" if shape == () else str(tuple(shape))


def _depth(path: str) -> int:
    return 0 if path == "" else path.count(".") + 1


def _ancestors(path: str) -> list[str]:
    """'' and every prefix of `path`, outermost first, `path` included."""
    parts = path.split(".") if path else []
    return [""] + [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _parent(path: str) -> str | None:
    return None if path == "" else path.rpartition(".")[0]


def _relative(path: str, base: str) -> str:
    if path == base:
        return ""
    return path[len(base) + 1:] if base else path


def _inside(path: str | None, base: str) -> bool:
    return path is not None and (base == "" or path == base or path.startswith(base + "."))


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
    from .backward import _apply  # the sweep's own per-node step, so the numbers are backward's

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
            _apply(node, g, cot, leaf, False)
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


# ---- grouping: collapsed modules (depth=) and folded repeats -----------------------------------

def _module_groups(nodes: list[Node], depth: int | None, fold: bool,
                   highlighted: set[Node]) -> dict[Node, tuple]:
    """node → group key for nodes drawn inside one box: ("module", path) for a module collapsed
    by `depth`, ("fold", (path, ...)) for a run of identical sibling blocks."""
    group: dict[Node, tuple] = {}
    if depth is not None:
        for n in nodes:
            if n.module is not None and _depth(n.module) >= depth:
                group[n] = ("module", ".".join(n.module.split(".")[:depth]) if depth else "")
    if not fold:
        return group
    # every module path's nodes (its own and its submodules'), in recording order
    subtree: dict[str, list[Node]] = {}
    for n in nodes:
        if n.module is not None:
            for p in _ancestors(n.module):
                subtree.setdefault(p, []).append(n)
    # candidate blocks: modules named by an integer (Sequential children), not inside a box
    siblings: dict[str, list[tuple[int, str]]] = {}
    for p in subtree:
        head, _, last = p.rpartition(".")
        if last.isdigit() and (depth is None or _depth(p) <= depth):
            siblings.setdefault(head, []).append((int(last), p))
    consumed: list[str] = []  # outermost first, so an outer fold hides the inner ones
    for parent in sorted(siblings, key=lambda h: (_depth(h) if h else 0, h)):
        if any(_inside(parent, c) for c in consumed):
            continue
        blocks = sorted(siblings[parent])
        # a block holding a highlighted node is its own signature: it stays drawn, and splits a run
        sig = {p: ("highlighted", p) if highlighted.intersection(subtree[p])
               else _signature(subtree[p], p) for _, p in blocks}
        start = 0
        while start < len(blocks):
            end = start + 1
            while (end < len(blocks) and blocks[end][0] == blocks[end - 1][0] + 1
                   and sig[blocks[end][1]] == sig[blocks[start][1]]):
                end += 1
            run = tuple(p for _, p in blocks[start:end])
            if len(run) >= 2:
                consumed.extend(run)
                for p in run:
                    for n in subtree[p]:
                        group[n] = ("fold", run)
            start = end
    return group


def _signature(nodes: list[Node], base: str) -> tuple:
    return tuple((n.op, _relative(n.module, base), n.out_shape, n.out_dtype) for n in nodes)


# ---- drawing -----------------------------------------------------------------------------------

_picture_class = None


def _Picture():
    """A graphviz.Digraph whose notebook display (``_repr_mimebundle_``) goes through the
    renderer found here, so Jupyter shows it inline with graphviz-pure too (the graphviz package
    itself only runs a program named `dot`)."""
    global _picture_class
    if _picture_class is None:
        import graphviz

        class Picture(graphviz.Digraph):
            def _repr_image_svg_xml(self) -> str:
                return _run_renderer(self.source, "svg").decode("utf-8")

            def _repr_image_png(self) -> bytes:
                return _run_renderer(self.source, "png")

            def _repr_image_jpeg(self) -> bytes:
                return _run_renderer(self.source, "jpeg")

        Picture.__module__ = __name__
        Picture.__qualname__ = "Picture"  # viz.Picture (module __getattr__): picklable by name
        _picture_class = Picture
    return _picture_class


def __getattr__(name: str):
    if name == "Picture":
        return _Picture()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def draw_graph(output: Tensor, params=None, show_grads: bool = False, depth: int | None = None,
               max_nodes: int | None = None, highlight=None, *, fold: bool = True):
    """The recorded graph that produced `output`, as a `graphviz.Digraph`.

    One box per recorded op (its label: the op name, e.g. ``"matmul"``, and the output shape;
    the dtype too where it differs from the output's), ellipses for the leaves (parameters bold
    with a blue border, named from `params`), dashed ellipses for constant arrays and Tensors
    that do not require grad; Python numbers are left out. Hover a box in the SVG for its node
    index, module path and forward source line.

    - `params`: a dict name → Tensor, or an nn.Module (its ``named_parameters()``).
    - `show_grads`: label and colour every tensor with its gradient norm, with a legend; see
      Note [grads in pictures]. RuntimeError on a graph released by backward().
    - nn modules are clusters named by their dotted path (``node.module``); `depth=d` draws each
      module at nesting depth d (the root module is 0, ``"layers"`` 1, ``"layers.2"`` 2) as one
      box, hiding what is inside.
    - `fold`: runs of sibling blocks named by consecutive integers (``"blocks.0"``, ...,
      ``"blocks.7"``) that record the same ops on the same shapes become one box ("Residual ×8").
    - `max_nodes`: draw at most this many boxes (ops, collapsed modules, folded runs), those
      closest to the output plus any highlighted ones; the title says how many were left out.
    - `highlight`: a Node (or Tensor, or node index, or a gradcheck report's `first_bad_node`),
      or a list of them, drawn in red. A node from another recording of the same code is
      matched by its op, module path and output shape.

    The walk is iterative, so a chain of 100,000 ops is fine (laying it out is another matter:
    use `max_nodes`). Draw before backward() or after backward(retain_graph=True): see
    Note [pictures and backward].

    >>> x = ag.tensor(np.ones((2, 3)), requires_grad=True)
    >>> g = ag.viz.draw_graph((x * x).sum(), params={"x": x})
    >>> "multiply" in g.source and "sum" in g.source
    True
    """
    output = _check_output(output, "draw_graph")
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"draw_graph: max_nodes must be at least 1, got {max_nodes}")
    if depth is not None and depth < 0:
        raise ValueError(f"draw_graph: depth must be >= 0, got {depth}")
    return _Drawing(output, params, show_grads, depth, max_nodes, highlight, fold).digraph()


class _Drawing:
    """One picture: the graph is read once here; `digraph()` turns it into DOT.

    A "box" (unit) is an op (``("op", index)``), a module collapsed by `depth`
    (``("module", path)``) or a folded run of blocks (``("fold", paths)``).
    """

    def __init__(self, output: Tensor, params, show_grads: bool, depth: int | None,
                 max_nodes: int | None, highlight, fold: bool) -> None:
        self.output = output
        self.show_grads = show_grads
        nodes, self.released = _walk(output)
        if show_grads and self.released:
            r = self.released[0]
            raise RuntimeError(
                "draw_graph(show_grads=True): the graph of this output was released by "
                f"backward() ({len(self.released)} node(s), e.g. #{r.index} '{r.op}'), so its "
                "gradients cannot be computed. Draw before backward(), or call "
                "backward(retain_graph=True) first"
            )
        self.nodes = nodes
        self.names, self.classes, self._keep = _named(params)
        highlighted, self.notes = _highlights(highlight, {n.index: n for n in nodes})
        self.hl_leaves = {id(h) for h in highlighted if isinstance(h, Tensor)}
        self.hl_nodes = {h for h in highlighted if isinstance(h, Node)}

        # leaves and constants, and the ops that consume them
        self.leaves: dict[int, Tensor | np.ndarray] = {}
        self.consumers: dict[int, list[Node]] = {}
        for n in nodes:
            for t in n.inputs or ():
                if isinstance(t, Tensor) and t._node is not None:
                    continue
                if not isinstance(t, (Tensor, np.ndarray)) or np.ndim(t) == 0:
                    continue  # Python numbers and 0-d constants are left out of the picture
                self.leaves.setdefault(id(t), t)
                self.consumers.setdefault(id(t), []).append(n)
        if output._node is None:
            self.leaves[id(output)] = output
            self.consumers[id(output)] = []

        self.grads_n: dict[Node, _GradStats] = {}
        self.grads_l: dict[int, _GradStats] = {}
        if show_grads:
            trainable = {k for k, t in self.leaves.items()
                         if isinstance(t, Tensor) and t.requires_grad}
            self.grads_n, self.grads_l = _sweep_grads(output, nodes, set(self.names) | trainable)
            self.colours = _Colours([*self.grads_n.values(), *self.grads_l.values()])

        # boxes, nearest the output first; max_nodes keeps the first ones (and highlighted ones)
        group = _module_groups(nodes, depth, fold, self.hl_nodes)
        self.unit_of = {n: group.get(n, ("op", n.index)) for n in nodes}
        self.members: dict[tuple, list[Node]] = {}
        for n in nodes:
            self.members.setdefault(self.unit_of[n], []).append(n)
        self.order = sorted(self.members, key=lambda u: -self.members[u][-1].index)
        self.shown = set(self.order)
        if max_nodes is not None and len(self.order) > max_nodes:
            must = [u for u in self.order if self.hl_nodes.intersection(self.members[u])]
            must = must[:max_nodes]
            rest = [u for u in self.order if u not in set(must)][: max_nodes - len(must)]
            self.shown = set(must) | set(rest)
            self.notes.append(f"showing {len(self.shown)} of {len(self.order)} boxes "
                              f"({len(nodes)} ops); max_nodes={max_nodes}")
        self.uid = {u: f"op{u[1]}" if u[0] == "op" else f"group{i}"
                    for i, u in enumerate(self.order)}

        # a parameter (or constant array) used only inside one collapsed or folded box is
        # counted in that box and not drawn
        self.hidden_in: dict[tuple, list[int]] = {}
        for k, t in self.leaves.items():
            units = {self.unit_of[c] for c in self.consumers[k]}
            if len(units) != 1:
                continue
            (u,) = units
            trainable = isinstance(t, Tensor) and t.requires_grad
            if u[0] != "op" and (k in self.names or (params is None and trainable)
                                 or not isinstance(t, Tensor)):
                self.hidden_in.setdefault(u, []).append(k)
        self.hidden = {k for ks in self.hidden_in.values() for k in ks}

    # ---- boxes ---------------------------------------------------------------------------------
    def box(self, u: tuple) -> tuple[str | None, dict]:
        """(cluster path or None, DOT attributes) of box `u`."""
        ms = self.members[u]
        attrs: dict[str, str] = {}
        stats = None
        if u[0] == "op":
            n = ms[0]
            dtype = "" if n.out_dtype == self.output.dtype else f" {n.out_dtype}"
            lines = [n.op, _shape(n.out_shape) + dtype]
            if n.released:
                lines.append("(released)")
                attrs["style"] = "filled,dashed"
            where = [f"#{n.index} {n.op} → {_shape(n.out_shape)} {n.out_dtype}"]
            if n.module is not None:
                where.append(f"module: {n.module or '(root)'}")
            if n.source:
                where.append(f"forward at {n.source}")
            attrs["tooltip"] = "\n".join(where)
            cluster = n.module
            if self.show_grads:
                stats = self.grads_n.get(n)
                lines.append("no grad" if stats is None else stats.text())
                if stats is None:
                    attrs["fillcolor"] = "white"
        else:
            inner_leaves = self.hidden_in.get(u, [])
            n_params = sum(1 for k in inner_leaves if isinstance(self.leaves[k], Tensor)
                           and self.leaves[k].requires_grad)
            if u[0] == "module":
                lines = [_module_title(u[1], self.classes), _count(len(ms), n_params)]
                cluster = _parent(u[1])
            else:
                run = u[1]
                block = self.classes.get(run[0]) or run[0].rpartition(".")[0] or "block"
                lines = [f"{block} ×{len(run)}", f"{run[0]} .. {run[-1]}",
                         _count(len(ms) // len(run), n_params // len(run)) + " each"]
                cluster = _parent(run[0])
            attrs.update(shape="box3d", fillcolor="#e6e6e6", margin="0.12,0.06",
                         tooltip=f"ops #{ms[0].index} .. #{ms[-1].index}")
            if self.show_grads:
                inner = [self.grads_n[m] for m in ms if m in self.grads_n]
                inner += [self.grads_l[k] for k in inner_leaves if k in self.grads_l]
                lines.append(_range_text(inner))
                # grey unless something inside is flagged
                stats = (next((s for s in inner if s.bad), None)
                         or next((s for s in inner if s.zero), None))
        if stats is not None:
            attrs["fillcolor"], attrs["fontcolor"] = self.colours.of(stats)
        if self.hl_nodes.intersection(ms):
            attrs.update(color=_HIGHLIGHT, penwidth="3")
            if not self.show_grads:  # on a grad colour, red text is hard to read: border only
                attrs["fontcolor"] = _HIGHLIGHT
        attrs["label"] = "\n".join(lines)
        return cluster, attrs

    # ---- leaves and constants ------------------------------------------------------------------
    def leaf(self, k: int) -> tuple[str | None, dict]:
        """(cluster path or None, DOT attributes) of leaf or constant `k`."""
        t = self.leaves[k]
        cs = self.consumers[k]
        trainable = isinstance(t, Tensor) and t.requires_grad
        is_param = k in self.names
        shape = np.shape(t)
        dtype = t.dtype if isinstance(t, Tensor) else np.asarray(t).dtype
        name = self.names.get(k) or ("output" if t is self.output else "leaf" if trainable
                                     else "input" if isinstance(t, Tensor) else "array")
        rows = [f"<b>{html.escape(name)}</b>" if is_param else html.escape(name),
                f"{_shape(shape)} {dtype}"]
        attrs = {"shape": "ellipse", "fillcolor": "white",
                 "tooltip": f"{name} {_shape(shape)} {dtype}"}
        if is_param:
            attrs.update(color=_PARAM_BORDER, penwidth="2", fillcolor="#dbe9f6")
        elif not trainable:
            attrs.update(style="filled,dashed", color="#888888", fontcolor="#555555")
        if self.show_grads and trainable:
            stats = self.grads_l.get(k)
            if stats is None:
                rows.append("no grad")
                attrs["fillcolor"] = "white"
            else:
                rows.append(html.escape(stats.text()))
                attrs["fillcolor"], attrs["fontcolor"] = self.colours.of(stats)
        if k in self.hl_leaves:
            attrs.update(color=_HIGHLIGHT, penwidth="3")
        attrs["label"] = "<" + "<br/>".join(rows) + ">"
        # a parameter sits in its module's cluster when that cluster is drawn
        owner = name.rpartition(".")[0] if is_param and "." in name else None
        if owner is not None and any(self.unit_of[c][0] == "op" and _inside(c.module, owner)
                                     for c in cs):
            return owner, attrs
        return None, attrs

    # ---- the picture ---------------------------------------------------------------------------
    def digraph(self):
        g = _Picture()(name="autograd_graph")
        g.attr(rankdir="TB", fontname="Helvetica", fontsize="11", labelloc="t", nodesep="0.25",
               ranksep="0.3", newrank="true")
        g.attr("node", fontname="Helvetica", fontsize="9", shape="box", style="filled",
               fillcolor="#f0f0f0", height="0.3", margin="0.08,0.03", penwidth="1")
        g.attr("edge", arrowsize="0.6", color="#555555")

        items: dict[str | None, list[tuple[str, dict]]] = {}  # cluster path → its nodes
        for u in self.order:
            if u in self.shown:
                cluster, attrs = self.box(u)
                items.setdefault(cluster, []).append((self.uid[u], attrs))
        leaf_ids: dict[int, str] = {}
        for k in self.leaves:
            cs = self.consumers[k]
            if k in self.hidden or (cs and all(self.unit_of[c] not in self.shown for c in cs)):
                continue
            leaf_ids[k] = f"t{len(leaf_ids)}"
            cluster, attrs = self.leaf(k)
            items.setdefault(cluster, []).append((leaf_ids[k], attrs))

        edges: set[tuple[str, str]] = set()
        for n in self.nodes:
            u = self.unit_of[n]
            if u not in self.shown:
                continue
            for t in n.inputs or ():
                if isinstance(t, Tensor) and t._node is not None:
                    src = self.unit_of[t._node]
                    if src != u:
                        edges.add((self.uid[src] if src in self.shown else "truncated",
                                   self.uid[u]))
                elif id(t) in leaf_ids:
                    edges.add((leaf_ids[id(t)], self.uid[u]))
        if any(src == "truncated" for src, _ in edges):
            left_out = len(self.order) - len(self.shown)
            g.node("truncated", label=f"… {left_out} earlier boxes not shown (max_nodes)",
                   shape="note", style="filled,dashed", fillcolor="#fff8dc", fontcolor="#555555")
        out = self.output
        if out._node is not None and self.unit_of[out._node] in self.shown:
            g.node("output", label=f"<output<br/>{_shape(out.shape)} {out.dtype}>",
                   shape="ellipse", style="filled,bold", fillcolor="white", penwidth="2")
            edges.add((self.uid[self.unit_of[out._node]], "output"))

        _emit_clusters(g, items, self.classes)
        for src, dst in sorted(edges):
            g.edge(src, dst)
        if self.show_grads:
            g.node("legend", label=self.colours.legend(), shape="plaintext", style="")
        notes = list(self.notes)
        if self.released:
            notes.append(f"the graph was released by backward() ({len(self.released)} node(s) "
                         "without inputs): draw before backward() or use "
                         "backward(retain_graph=True)")
        title = f"{len(self.nodes)} ops → output {_shape(out.shape)} {out.dtype}"
        g.attr(label="\n".join([title, *notes]) + "\n")
        return g


def _count(ops: int, params: int) -> str:
    text = f"{ops} op" + ("s" if ops != 1 else "")
    return text + (f", {params} param" + ("s" if params != 1 else "") if params else "")


def _module_title(path: str, classes: dict[str, str]) -> str:
    shown = path if path else "(root)"
    cls = classes.get(path)
    return f"{shown}: {cls}" if cls else shown


def _range_text(stats: list[_GradStats]) -> str:
    flags = [f for f, on in (("NaN!", any(s.nan for s in stats)),
                             ("Inf!", any(s.inf for s in stats))) if on]
    finite = [s.norm for s in stats if not s.bad]
    if flags:
        return " ".join(flags)
    if not finite:
        return "no grad"
    lo, hi = min(finite), max(finite)
    zero = sum(s.zero for s in stats)
    text = f"‖g‖ {lo:.2g} .. {hi:.2g}" if lo != hi else f"‖g‖ {lo:.2g}"
    return text + (f", {zero} all zero" if zero else "")


def _emit_clusters(g, items: dict, classes: dict[str, str]) -> None:
    """Add items to nested `subgraph cluster_<path>` blocks, deepest first (no recursion)."""
    import graphviz

    paths = set()
    for p in items:
        if p is not None:
            paths.update(_ancestors(p))
    blocks = {}
    for p in paths:
        sub = graphviz.Digraph(name=f"cluster_{p}" if p else "cluster_(root)")
        sub.attr(label=_module_title(p, classes), style="rounded,filled", color="#b0b0b0",
                 fillcolor="#fafafa" if _depth(p) % 2 == 0 else "#f0f4fa", fontsize="9",
                 labeljust="l", fontcolor="#444444")
        blocks[p] = sub
    for p, entries in items.items():
        target = g if p is None else blocks[p]
        for node_id, attrs in entries:
            target.node(node_id, **attrs)
    for p in sorted(paths, key=_depth, reverse=True):
        parent = _parent(p)
        (g if parent is None else blocks[parent]).subgraph(blocks[p])


def _highlights(highlight, index_of: dict[int, Node]) -> tuple[set, list[str]]:
    """The highlighted Nodes and leaf Tensors, and notes for those not in the picture."""
    if highlight is None:
        return set(), []
    if isinstance(highlight, (Node, Tensor, int, np.integer)) or hasattr(highlight, "node"):
        highlight = [highlight]
    out: set = set()
    notes = []
    nodes = set(index_of.values())
    for h in highlight:
        if not isinstance(h, (Node, Tensor)) and isinstance(getattr(h, "node", None), Node):
            h = h.node  # a gradcheck report's first_bad_node
        if isinstance(h, (int, np.integer)) and not isinstance(h, bool):
            h = index_of.get(int(h), int(h))
        elif isinstance(h, Tensor):
            h = h._node if h._node is not None else h
        if isinstance(h, Node):
            if h in nodes:
                out.add(h)
                continue
            # a node of another recording of the same code (e.g. the one a gradient check made):
            # the nodes here with its op, module path and output shape stand for it
            twins = [n for n in nodes
                     if (n.op, n.module, n.out_shape) == (h.op, h.module, h.out_shape)]
            out.update(twins)
            if not twins:
                notes.append(f"highlighted node #{h.index} '{h.op}' is not in this graph")
        elif isinstance(h, Tensor):
            out.add(h)
        elif isinstance(h, int):
            notes.append(f"highlighted node #{h} is not in this graph")
        else:
            raise TypeError("highlight: expected a Node, a Tensor, a node index or a list of "
                            f"them, got {type(h).__name__}")
    return out, notes


# ---- files and text ----------------------------------------------------------------------------

def render(output: Tensor, path: str | os.PathLike, format: str = "svg", **draw_options) -> str:
    """Draw the graph of `output` (`draw_graph(output, **draw_options)`) and write it to `path`
    in `format` (``"svg"`` by default; ``"png"`` works too). Returns the written path.

    Runs ``dot`` (Graphviz) or ``graphviz-pure``, whichever is found first on PATH or beside the
    running Python, with a 60 s timeout. With neither found it writes the DOT text beside `path`
    (its suffix replaced by ``.dot``) and raises RuntimeError saying how to get a renderer;
    if the renderer fails, the DOT text is left there too.
    """
    digraph = draw_graph(output, **draw_options)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _run_renderer(digraph.source, format, str(path))
    except RuntimeError as e:
        dot_path = path.with_suffix(".dot") if path.suffix != ".dot" else path
        dot_path.write_text(digraph.source, encoding="utf-8")
        raise RuntimeError(f"render: {e}. The DOT text is in {dot_path}") from None
    return str(path)


def summary(output: Tensor, params=None) -> str:
    """The graph of `output` as a text table, one row per recorded op in recording order:
    node index, op, module path, input shapes → output shape, dtype. Needs no graphviz.

    Inputs are shown as shapes, parameters as ``name(shape)`` (names from `params`, as in
    `draw_graph`), Python numbers as their value. See Note [pictures and backward].
    """
    output = _check_output(output, "summary")
    nodes, released = _walk(output)
    names, _, _keep = _named(params)
    header = ("#", "op", "module", "inputs → output", "dtype")
    rows = []
    for n in nodes:
        if n.inputs is None:
            ins = "(released)"
        else:
            ins = ", ".join(_describe_input(t, names) for t in n.inputs)
        module = "-" if n.module is None else n.module or "(root)"
        rows.append((str(n.index), n.op, module, f"{ins} → {_shape(n.out_shape)}",
                     str(n.out_dtype)))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [f"{len(nodes)} ops → output {_shape(output.shape)} {output.dtype}"]
    if released:
        lines.append(f"(the graph was released by backward(): {len(released)} node(s) have no "
                     "inputs left; draw before backward() or use backward(retain_graph=True))")
    for r in [header, *rows]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _describe_input(t, names: dict[int, str]) -> str:
    if isinstance(t, Tensor):
        name = names.get(id(t), "")
        return f"{name}{_shape(t.shape)}" if t._node is None and name else _shape(t.shape)
    if isinstance(t, np.ndarray):
        return f"array{_shape(t.shape)}" if t.ndim else repr(t.item())
    text = repr(t)
    return text if len(text) <= 12 else text[:11] + "…"


__all__ = ["draw_graph", "render", "summary"]

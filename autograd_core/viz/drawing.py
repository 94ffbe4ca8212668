"""`draw_graph`: the recorded graph as a `graphviz.Digraph` (boxes, clusters, colours, legend)."""

from __future__ import annotations

import html

import numpy as np

from ..graph import Node
from ..tensor import Tensor
from ..tracing import show
from ..tracing.jit import Jitted
from .graph import (
    _ancestors,
    _check_outputs,
    _depth,
    _inside,
    _leaves,
    _module_groups,
    _named,
    _outputs_text,
    _parent,
    _producer,
    _shape,
    _value_flags,
    _walk,
)
from .style import _BAD_VALUE, _HIGHLIGHT, _PARAM_BORDER, _Colours, _Grads, _GradStats


def draw_graph(output: Tensor | tuple | list, params=None, show_grads: bool = False,
               depth: int | None = None, max_nodes: int | None = None, highlight=None, *,
               fold: bool = True):
    """The recorded graph that produced `output` (a Tensor, or a tuple or list of them), as a
    `graphviz.Digraph`. Works before and after ``backward()`` (Note [pictures and backward]).

    Given a jitted function (`ag.jit`), it draws the latest compiled program instead: one box per
    NumPy call it replays, its inputs and the Tensors it rebinds.

    One box per recorded op (its label: the op name, e.g. ``"matmul"``, and the output shape;
    the dtype too where it differs from the output's), ellipses for the leaves (parameters bold
    with a blue border, named from `params`; 0-d ones too, with their value), dashed ellipses for
    constant arrays and Tensors that do not require grad; Python numbers and other 0-d constants
    are left out. A leaf or constant whose value holds NaN or Inf has a dark red double border
    and says so. Hover a box in the SVG for its node index, module path and forward source line.

    - `params`: a dict name → Tensor, or an nn.Module (its ``named_parameters()``).
    - `show_grads`: label and colour every tensor with its gradient norm, with a legend; see
      Note [grads in pictures]. After backward, parameters show their ``.grad`` and ops the
      norms kept by `keep_grad_norms` (the legend says when they were not kept).
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
    use `max_nodes`).

    >>> x = ag.tensor(np.ones((2, 3)), requires_grad=True)
    >>> loss = (x * x).sum()
    >>> loss.backward()
    >>> g = ag.viz.draw_graph(loss, params={"x": x}, show_grads=True)
    >>> "multiply" in g.source and "sum" in g.source and "‖g‖ 4.9" in g.source
    True
    """
    if isinstance(output, Jitted):  # a jitted function: its compiled program
        from . import _Picture  # the package's Digraph subclass (renders through our finder)
        return show.digraph(output, _Picture())
    outputs = _check_outputs(output, "draw_graph")
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"draw_graph: max_nodes must be at least 1, got {max_nodes}")
    if depth is not None and depth < 0:
        raise ValueError(f"draw_graph: depth must be >= 0, got {depth}")
    return _Drawing(outputs, params, show_grads, depth, max_nodes, highlight, fold).digraph()


class _Drawing:
    """One picture: the graph is read once here; `digraph()` turns it into DOT.

    A "box" (unit) is an op (``("op", index)``), a module collapsed by `depth`
    (``("module", path)``) or a folded run of blocks (``("fold", paths)``).
    """

    def __init__(self, outputs: list[Tensor], params, show_grads: bool, depth: int | None,
                 max_nodes: int | None, highlight, fold: bool) -> None:
        self.outputs = outputs
        self.dtype = outputs[0].dtype  # box labels show a dtype only where it differs from this
        self.show_grads = show_grads
        nodes, self.cut = _walk(outputs)
        self.nodes = nodes
        self.names, self.classes, self._keep = _named(params)
        highlighted, self.notes = _highlights(highlight, {n.index: n for n in nodes})
        self.hl_leaves = {id(h) for h in highlighted if isinstance(h, Tensor)}
        self.hl_nodes = {h for h in highlighted if isinstance(h, Node)}

        # leaves and constants, and the ops that consume them
        self.leaves, self.consumers = _leaves(nodes, outputs, self.names)
        self.flags = {k: f for k, t in self.leaves.items() if (f := _value_flags(t))}

        self.grads = None
        self.grads_n: dict[Node, _GradStats] = {}
        self.grads_l: dict[int, _GradStats] = {}
        if show_grads:
            self.grads = _Grads(outputs, nodes, self.leaves, self.names)
            self.grads_n, self.grads_l = self.grads.nodes, self.grads.leaves
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
        # counted in that box and not drawn, unless its value holds NaN or Inf
        self.hidden_in: dict[tuple, list[int]] = {}
        for k, t in self.leaves.items():
            units = {self.unit_of[c] for c in self.consumers[k]}
            if len(units) != 1 or k in self.flags:
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
            dtype = "" if n.out_dtype == self.dtype else f" {n.out_dtype}"
            lines = [n.op, _shape(n.out_shape) + dtype]
            if n.inputs is None:  # Note [pictures and backward]: the graph is cut here
                lines.append("(inputs released)")
                attrs["style"] = "filled,dashed"
            where = [f"#{n.index} {n.op} → {_shape(n.out_shape)} {n.out_dtype}"]
            if n.module is not None:
                where.append(f"module: {n.module or '(root)'}")
            if n.source:
                where.append(f"forward at {n.source}")
            attrs["tooltip"] = "\n".join(where)
            cluster = n.module
            if self.show_grads and self.grads.kept:
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
        data = t.data if isinstance(t, Tensor) else np.asarray(t)
        name = self._name(k)
        rows = [f"<b>{html.escape(name)}</b>" if is_param else html.escape(name),
                f"{_shape(data.shape)} {data.dtype}"]
        if data.size == 1:  # a scalar's value is worth a line (a temperature, a scale)
            rows[-1] += f" = {data.item():.3g}"
        attrs = {"shape": "ellipse", "fillcolor": "white",
                 "tooltip": f"{name} {_shape(data.shape)} {data.dtype}"}
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
        if k in self.flags:  # flagged at its source: the value itself holds NaN / Inf
            rows.append(f"<b>{' and '.join(self.flags[k])} in value!</b>")
            attrs.update(color=_BAD_VALUE, penwidth="2", peripheries="2")
        if k in self.hl_leaves:
            attrs.update(color=_HIGHLIGHT, penwidth="3")
        attrs["label"] = "<" + "<br/>".join(rows) + ">"
        # a parameter sits in its module's cluster when that cluster is drawn (a module's own
        # parameter, e.g. a temperature "T", in the root module's)
        owner = name.rpartition(".")[0] if is_param and ("." in name or self.classes) else None
        if owner is not None and any(self.unit_of[c][0] == "op" and _inside(c.module, owner)
                                     for c in cs):
            return owner, attrs
        return None, attrs

    def _name(self, k: int) -> str:
        """A leaf's name from `params`, else what it is: output, leaf, input, array, number."""
        t = self.leaves[k]
        return self.names.get(k) or self._output_name(t) or (
            "leaf" if isinstance(t, Tensor) and t.requires_grad else "input"
            if isinstance(t, Tensor) else "array" if isinstance(t, np.ndarray) else "number")

    def _output_name(self, t) -> str | None:
        for i, o in enumerate(self.outputs):
            if o is t:
                return "output" if len(self.outputs) == 1 else f"output {i}"
        return None

    # ---- the picture ---------------------------------------------------------------------------
    def digraph(self):
        from . import _Picture  # the package's Digraph subclass (renders through our finder)

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
                p = _producer(t)
                if p is not None:
                    src = self.unit_of[p]
                    if src != u:
                        edges.add((self.uid[src] if src in self.shown else "truncated",
                                   self.uid[u]))
                elif id(t) in leaf_ids:
                    edges.add((leaf_ids[id(t)], self.uid[u]))
        if any(src == "truncated" for src, _ in edges):
            left_out = len(self.order) - len(self.shown)
            g.node("truncated", label=f"… {left_out} earlier boxes not shown (max_nodes)",
                   shape="note", style="filled,dashed", fillcolor="#fff8dc", fontcolor="#555555")
        for i, out in enumerate(self.outputs):
            if out._node is None or self.unit_of[out._node] not in self.shown:
                continue
            one = len(self.outputs) == 1
            name, node_id = ("output", "output") if one else (f"output {i}", f"output{i}")
            g.node(node_id, label=f"<{name}<br/>{_shape(out.shape)} {out.dtype}>",
                   shape="ellipse", style="filled,bold", fillcolor="white", penwidth="2")
            edges.add((self.uid[self.unit_of[out._node]], node_id))

        _emit_clusters(g, items, self.classes)
        for src, dst in sorted(edges):
            g.edge(src, dst)
        if self.show_grads:
            highlighted = bool(self.hl_nodes or self.hl_leaves)
            legend = self.colours.legend(self.grads.how, highlighted, bool(self.flags))
            g.node("legend", label=legend, shape="plaintext", style="")
        notes = list(self.notes)
        if self.flags:
            which = [self._leaf_text(k) for k in self.flags]
            notes.append("NaN / Inf in the value of " + ", ".join(which[:4])
                         + (f" and {len(which) - 4} more" if len(which) > 4 else ""))
        if self.cut:
            notes.append(f"{len(self.cut)} node(s) lost their inputs (released outside a sweep, "
                         "e.g. by an error during backward()): the graph is cut there")
        title = f"{len(self.nodes)} ops → {_outputs_text(self.outputs)}"
        g.attr(label="\n".join([title, *notes]) + "\n")
        return g

    def _leaf_text(self, k: int) -> str:
        """How the title names a leaf: its name, or what it is and its shape."""
        if k in self.names or self._output_name(self.leaves[k]):
            return self._name(k)
        return f"{self._name(k)} {_shape(np.shape(self.leaves[k]))}"


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

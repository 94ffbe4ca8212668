"""Pictures of the graph: `draw_graph` (a `graphviz.Digraph`), `render` (a file), `summary` (text).

Here: the renderer, `render` and `summary`; `graph.py` reads the recorded graph and groups modules,
`style.py` holds gradient statistics and colours, `drawing.py` lays out boxes and clusters.

>>> model = nn.MLP([4, 8, 3], rng=0)
>>> loss = nn.cross_entropy(model(np.ones((2, 4), np.float32)), np.array([0, 2]))
>>> picture = ag.viz.draw_graph(loss, params=model)        # shows inline in Jupyter
>>> # ag.viz.render(loss, "graph.svg", params=model, show_grads=True) writes the file
>>> print(ag.viz.summary(loss, params=model).splitlines()[0])
5 ops → output scalar float32
>>> loss.backward()                                          # the graph outlives backward
>>> print(ag.viz.summary(loss, params=model, show_grads=True).splitlines()[0])
5 ops → output scalar float32

Note [pictures and backward]: backward frees the saved arrays, not the record of which op took
which inputs (Note [the graph outlives backward] in backward.py), so a picture or summary drawn
after ``loss.backward()`` shows the whole graph, as one drawn before it does. The record goes when
the output is dropped. Only a node released outside a sweep (an error stopped backward half way)
has lost its inputs: it is drawn dashed, "(inputs released)", and the title says the graph is
cut there.

Note [grads in pictures]: ``show_grads=True`` labels every tensor with the Frobenius norm ‖g‖ of
its gradient and fills it with a colour on a log scale spanning the picture's norms (the legend
gives the values); NaN/Inf and all-zero gradients are flagged, and for a parameter of two or more
axes, the count of "dead" output units (slices along axis 0 whose gradient is all zero).
- On a live graph (before backward, or after ``backward(retain_graph=True)``) the picture runs its
  own first-order sweep from the outputs, seeded with ones (for a non-scalar output, the gradient
  of ``output.sum()``): every tensor gets a gradient, intermediates as well as leaves, and no
  ``.grad`` is read or changed.
- After backward (the graph's saved arrays are gone, so no sweep can run) it shows what backward
  left: each leaf's ``.grad`` (accumulated, as the optimizer sees it) and, for the ops, the norms
  the sweep kept when backward ran inside ``with ag.viz.keep_grad_norms():``. Without it the ops
  carry no norm, and the legend says how to keep them.

A NaN or Inf in the value of a leaf or a constant input is flagged at that input (a dark red
double border, "NaN in value!", and a line in the title), with or without `show_grads`.

graphviz (the Python package) is imported only when a picture is drawn, so ``import autograd_core``
works without it; `summary` never needs it. Rendering needs a layout program: ``dot`` from
Graphviz, or ``graphviz-pure`` (``pip install 'autograd-core[viz]'``, a self-contained binary
that installs into the environment's ``bin``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from ..graph import Node
from ..tensor import Tensor
from ..tracing import show
from ..tracing.jit import Jitted
from .drawing import draw_graph
from .graph import (
    _check_outputs,
    _leaves,
    _named,
    _outputs_text,
    _shape,
    _value_flags,
    _walk,
)

# (the colours are imported for tests and callers: viz._BAD ...)
from .style import _BAD, _BAD_VALUE, _HIGHLIGHT, _ZERO, _Grads, keep_grad_norms  # noqa: F401

__all__ = ["draw_graph", "keep_grad_norms", "render", "summary"]

RENDER_TIMEOUT_S = 60
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


def summary(output: Tensor | tuple | list, show_grads: bool = False, params=None) -> str:
    """The graph of `output` (a Tensor, or a tuple or list of them) as a text table, one row per
    recorded op in recording order: node index, op, module path, input shapes → output shape,
    dtype. Needs no graphviz; works before and after backward (Note [pictures and backward]).

    Inputs are shown as shapes, parameters as ``name(shape)`` (names from `params`, as in
    `draw_graph`), Python numbers as their value; a leaf or constant holding NaN or Inf is marked
    ``[NaN]`` / ``[Inf]`` and named in a line under the title. With `show_grads`, a ‖g‖ column
    gives each op's gradient norm and a second table each leaf's (parameters first), from the
    same place as `draw_graph`'s (Note [grads in pictures]; a line says which).

    Given a jitted function (`ag.jit`), it lists the latest compiled program instead: its inputs,
    one row per NumPy call it replays (with the user's line that made it), what it rebinds.
    """
    if isinstance(output, Jitted):  # a jitted function: its compiled program
        return show.describe(output)
    outputs = _check_outputs(output, "summary")
    nodes, cut = _walk(outputs)
    names, _, _keep = _named(params)
    leaves, _ = _leaves(nodes, outputs, names)
    flags = {k: f for k, t in leaves.items() if (f := _value_flags(t))}
    grads = _Grads(outputs, nodes, leaves, names) if show_grads else None

    header = ("#", "op", "module", "inputs → output", "dtype") + (("‖g‖",) if grads else ())
    rows = []
    for n in nodes:
        if n.inputs is None:
            ins = "(inputs released)"
        else:
            ins = ", ".join(_describe_input(t, names, flags) for t in n.inputs)
        module = "-" if n.module is None else n.module or "(root)"
        row = (str(n.index), n.op, module, f"{ins} → {_shape(n.out_shape)}", str(n.out_dtype))
        if grads:
            stats = grads.nodes.get(n)
            text = "-" if not grads.kept else "no grad" if stats is None else stats.text()
            row += (text.removeprefix("‖g‖ "),)
        rows.append(row)
    lines = [f"{len(nodes)} ops → {_outputs_text(outputs)}"]
    if flags:
        lines.append("NaN / Inf in the value of " + ", ".join(
            _describe_input(leaves[k], names, flags) for k in flags))
    if cut:
        lines.append(f"({len(cut)} node(s) lost their inputs, released outside a sweep (e.g. by "
                     "an error during backward()): the graph is cut there)")
    lines += _table(header, rows)
    if grads:
        lines.append(grads.how)
        lines += ["", *_table(("leaf", "shape", "dtype", "‖grad‖"), _leaf_rows(leaves, names, grads))]
    return "\n".join(lines)


def _table(header: tuple, rows: list[tuple]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in [header, *rows]]


def _leaf_rows(leaves: dict[int, object], names: dict[int, str], grads: _Grads) -> list[tuple]:
    """One row per leaf that requires grad: parameters first, in `params` order."""
    order = {k: i for i, k in enumerate(names)}
    trainable = [k for k, t in leaves.items() if isinstance(t, Tensor) and t.requires_grad]
    trainable.sort(key=lambda k: order.get(k, len(order)))
    rows = []
    for k in trainable:
        t = leaves[k]
        stats = grads.leaves.get(k)
        rows.append((names.get(k, "(unnamed)"), _shape(t.shape), str(t.dtype),
                     "no grad" if stats is None else stats.text().removeprefix("‖g‖ ")))
    return rows


def _describe_input(t, names: dict[int, str], flags: dict[int, list[str]]) -> str:
    mark = "".join(f"[{f}]" for f in flags.get(id(t), ()))
    if isinstance(t, Node):  # an op output, after backward
        return _shape(t.out_shape)
    if isinstance(t, Tensor):
        name = names.get(id(t), "")
        shape = _shape(t.shape) if t.ndim else "(scalar)"
        return (f"{name}{shape}" if t._node is None and name else _shape(t.shape)) + mark
    if isinstance(t, np.ndarray):
        return (f"array{_shape(t.shape)}" if t.ndim else repr(t.item())) + mark
    text = repr(t)
    return (text if len(text) <= 12 else text[:11] + "…") + mark

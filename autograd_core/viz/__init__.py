"""Pictures of the graph: `draw_graph` (a `graphviz.Digraph`), `render` (a file), `summary` (text).

Here: the renderer, `render` and `summary`; `graph.py` reads the recorded graph and groups modules,
`style.py` holds gradient statistics and colours, `drawing.py` lays out boxes and clusters.

>>> model = nn.MLP([4, 8, 3], rng=0)
>>> loss = nn.cross_entropy(model(np.ones((2, 4), np.float32)), np.array([0, 2]))
>>> picture = ag.viz.draw_graph(loss, params=model)        # shows inline in Jupyter
>>> # ag.viz.render(loss, "graph.svg", params=model, show_grads=True) writes the file
>>> print(ag.viz.summary(loss, params=model).splitlines()[0])
5 ops → output scalar float32

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

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from ..tensor import Tensor
from .drawing import draw_graph
from .graph import _check_output, _named, _shape, _walk
from .style import _BAD, _HIGHLIGHT, _ZERO  # noqa: F401  (the colours, for tests and callers)

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

"""Pictures of the graph (ag.viz): DOT structure, grads, grouping, caps, text table, rendering.

Structure tests read `digraph.source` and need only the graphviz Python package; rendering tests
need a layout program (`dot` or `graphviz-pure`) and are skipped, saying why, without one.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autograd_core as ag
import nn
from autograd_core import viz

needs_graphviz = pytest.mark.skipif(importlib.util.find_spec("graphviz") is None,
                                    reason="the graphviz Python package is not installed")
needs_renderer = pytest.mark.skipif(
    viz._find_renderer() is None,
    reason="no `dot` or `graphviz-pure` found: pip install 'autograd-core[viz]'")


def op_boxes(source: str) -> list[str]:
    """Ids of the op boxes (one per recorded node) in a DOT source."""
    return re.findall(r"^\s*(op\d+) \[", source, re.M)


def attrs_of(source: str, node_id: str) -> str:
    match = re.search(rf"^\s*{re.escape(node_id)} \[(.*?)\]$", source, re.M | re.S)
    assert match, f"no node {node_id} in\n{source}"
    return match.group(1)


def fill_of(source: str, node_id: str) -> str:
    return re.search(r'fillcolor="([^"]+)"', attrs_of(source, node_id)).group(1)


class Affine(nn.Module):
    def __init__(self, n_in, n_out, rng):
        super().__init__()
        self.W = nn.Parameter(rng.standard_normal((n_out, n_in)))
        self.b = nn.Parameter(np.zeros(n_out))

    def forward(self, x):
        return x @ self.W.T + self.b


class Block(nn.Module):
    """z + tanh(W z + b): a residual block."""

    def __init__(self, width, rng):
        super().__init__()
        self.inner = Affine(width, width, rng)

    def forward(self, z):
        return z + ag.tanh(self.inner(z))


class Net(nn.Module):
    def __init__(self, rng, n_blocks=8, width=4):
        super().__init__()
        self.stem = Affine(3, width, rng)
        self.blocks = nn.Sequential(*[Block(width, rng) for _ in range(n_blocks)])
        self.head = Affine(width, 2, rng)

    def forward(self, x):
        return self.head(self.blocks(ag.relu(self.stem(x))))


def net_loss(rng, n_blocks=8):
    net = Net(rng, n_blocks)
    x = ag.tensor(rng.standard_normal((5, 3)))
    with ag.Tape() as tape:
        loss = (net(x) ** 2).mean()
    return net, loss, tape


# ---- structure ---------------------------------------------------------------------------------

@needs_graphviz
def test_one_op_box_per_recorded_node_with_op_names_and_shapes(rng):
    import graphviz

    x = ag.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    W = ag.tensor(rng.standard_normal((3, 2)).astype(np.float32), requires_grad=True)
    with ag.Tape() as tape:
        loss = ag.relu(x @ W).sum()
    g = ag.viz.draw_graph(loss, params={"weight": W})
    assert isinstance(g, graphviz.Digraph)
    src = g.source
    assert sorted(op_boxes(src)) == sorted(f"op{n.index}" for n in tape)
    for node in tape:
        assert node.op in attrs_of(src, f"op{node.index}")
    assert "(4, 2)" in attrs_of(src, f"op{tape[0].index}")  # matmul's output shape
    assert "weight" in src and "(3, 2) float32" in src  # the parameter: name, shape, dtype
    assert "(4, 3) float64" in src                      # the unnamed leaf


@needs_graphviz
def test_clusters_per_module_path_named_by_class(rng):
    net, loss, tape = net_loss(rng, n_blocks=2)
    src = ag.viz.draw_graph(loss, params=net, fold=False).source
    paths = {n.module for n in tape if n.module is not None}
    assert "blocks.1.inner" in paths
    assert "" in paths  # Net.forward's own relu: the root module
    for path in paths | {"blocks"}:
        name = re.escape(f"cluster_{path or '(root)'}")
        assert re.search(rf'subgraph "?{name}"? {{', src), path
    assert "blocks.0.inner: Affine" in src and "(root): Net" in src
    assert "blocks.1.inner.W" in src  # parameter names from named_parameters()
    assert sorted(op_boxes(src)) == sorted(f"op{n.index}" for n in tape)


@needs_graphviz
def test_nn_mlp_picture(rng):
    model = nn.MLP([3, 5, 2], rng=0)
    x = ag.tensor(rng.standard_normal((4, 3)))
    with ag.Tape() as tape:
        loss = nn.mse_loss(model(x), np.zeros((4, 2)))
    src = ag.viz.draw_graph(loss, params=model).source
    assert len(op_boxes(src)) == len(tape)
    for path in ("layers.0", "layers.1", "layers.2"):
        assert f'"cluster_{path}"' in src
    for name, _ in model.named_parameters():
        assert name in src


# ---- gradients ---------------------------------------------------------------------------------

@needs_graphviz
def test_show_grads_legend_and_colours_by_magnitude(rng):
    small = ag.tensor(rng.standard_normal(3), requires_grad=True)
    large = ag.tensor(rng.standard_normal(3), requires_grad=True)
    loss = (small * 1e-6).sum() + (large * 1e3).sum()
    plain = ag.viz.draw_graph(loss, params={"small": small, "large": large}).source
    assert "legend" not in plain
    src = ag.viz.draw_graph(loss, params={"small": small, "large": large}, show_grads=True).source
    assert "legend" in src and "Frobenius" in src
    ids = {name: re.search(rf"^\s*(t\d+) \[[^\]]*<b>{name}</b>", src, re.M).group(1)
           for name in ("small", "large")}
    assert fill_of(src, ids["small"]) != fill_of(src, ids["large"])
    assert f"‖g‖ {np.sqrt(3) * 1e-6:.2g}" in src and f"‖g‖ {np.sqrt(3) * 1e3:.2g}" in src
    assert small.grad is None and large.grad is None  # the picture's own sweep touches no .grad


@needs_graphviz
def test_nan_inf_zero_and_dead_units_are_flagged(rng):
    p = ag.tensor(np.ones(3), requires_grad=True)       # sqrt(0 * p): d/dp = 0 * inf = NaN
    q = ag.tensor(-np.ones(3), requires_grad=True)      # relu(q < 0): all-zero grad
    W = ag.tensor(np.array([[1.0, 1.0], [-1.0, -1.0], [2.0, 0.5]]), requires_grad=True)
    x = ag.tensor(np.abs(rng.standard_normal((4, 2))) + 0.1)  # unit 1 of relu(x Wᵀ) is dead
    zeroed = p * 0.0
    loss = ag.sqrt(zeroed).sum() + ag.relu(q).sum() + ag.relu(x @ W.T).sum()
    src = ag.viz.draw_graph(loss, params={"p": p, "q": q, "W": W}, show_grads=True).source
    node = {name: re.search(rf"^\s*(t\d+) \[[^\]]*<b>{name}</b>", src, re.M).group(1)
            for name in ("p", "q", "W")}
    assert "NaN!" in attrs_of(src, node["p"]) and fill_of(src, node["p"]) == viz._BAD
    assert "grad all zero" in attrs_of(src, node["q"]) and fill_of(src, node["q"]) == viz._ZERO
    assert "dead 1/3" in attrs_of(src, node["W"])
    # the cotangent that sqrt's VJP passes back to p * 0 is infinite (1 / (2 sqrt(0)))
    assert "Inf!" in attrs_of(src, f"op{zeroed.node.index}")


@needs_graphviz
def test_intermediate_grads_match_backward(rng):
    x = ag.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    h = ag.tanh(x)
    loss = (h * h).sum()
    src = ag.viz.draw_graph(loss, show_grads=True).source
    expected = np.linalg.norm(2 * h.data)  # ∂loss/∂h
    assert f"‖g‖ {expected:.2g}" in attrs_of(src, f"op{h.node.index}")


@needs_graphviz
def test_released_graph(rng):
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    loss = (ag.exp(x) * 2.0).sum()
    loss.backward()
    src = ag.viz.draw_graph(loss).source  # what is left: the output's op, and a note saying so
    assert op_boxes(src) == [f"op{loss.node.index}"]
    assert "released by backward()" in src and "retain_graph=True" in src
    with pytest.raises(RuntimeError, match=r"released by backward\(\).*retain_graph=True"):
        ag.viz.draw_graph(loss, show_grads=True)
    kept = (ag.exp(x) * 2.0).sum()
    kept.backward(retain_graph=True)
    assert "legend" in ag.viz.draw_graph(kept, show_grads=True).source


# ---- grouping and caps -------------------------------------------------------------------------

@needs_graphviz
def test_eight_identical_residual_blocks_fold_into_one_box(rng):
    net, loss, tape = net_loss(rng, n_blocks=8)
    src = ag.viz.draw_graph(loss, params=net).source
    assert len(re.findall(r"×8", src)) == 1
    assert "Block ×8" in src and "blocks.0 .. blocks.7" in src and "2 params each" in src
    block_ops = [n for n in tape if n.module and n.module.startswith("blocks.")]
    assert len(op_boxes(src)) == len(tape) - len(block_ops)
    assert "blocks.3.inner.W" not in src  # hidden inside the folded box
    unfolded = ag.viz.draw_graph(loss, params=net, fold=False).source
    assert "×8" not in unfolded and len(op_boxes(unfolded)) == len(tape)


@needs_graphviz
def test_different_blocks_do_not_fold(rng):
    net = nn.Sequential(Block(4, rng), Affine(4, 4, rng), Block(4, rng))
    loss = net(ag.tensor(rng.standard_normal((2, 4)))).sum()
    assert "×" not in ag.viz.draw_graph(loss, params=net).source


@needs_graphviz
def test_highlight_is_red_and_keeps_its_block_unfolded(rng):
    net, loss, tape = net_loss(rng, n_blocks=8)
    target = next(n for n in tape if n.module == "blocks.5" and n.op == "add")
    src = ag.viz.draw_graph(loss, params=net, highlight=target).source
    assert "color=red" in attrs_of(src, f"op{target.index}")
    assert "×5" in src and "×2" in src  # blocks 0-4 and 6-7 still fold; block 5 is drawn whole
    # a list of nodes, a Tensor, an index; a node from another graph is noted, not drawn
    other = (ag.tensor(np.ones(2), requires_grad=True) * 2.0).node
    src = ag.viz.draw_graph(loss, params=net, fold=False,
                            highlight=[tape[0], loss, tape[2].index, other]).source
    for node in (tape[0], loss.node, tape[2]):
        assert "color=red" in attrs_of(src, f"op{node.index}")
    assert f"highlighted node #{other.index}" in src


@needs_graphviz
def test_depth_collapses_modules_below_it(rng):
    net, loss, tape = net_loss(rng, n_blocks=3)
    src = ag.viz.draw_graph(loss, params=net, depth=1).source
    assert "stem: Affine" in src and "blocks: Sequential" in src and "head: Affine" in src
    outside = [n for n in tape if n.module in (None, "")]  # the loss, and Net's own relu
    assert sorted(op_boxes(src)) == sorted(f"op{n.index}" for n in outside)
    assert "stem.W" not in src  # a collapsed module's parameters are counted in it, not drawn
    deeper = ag.viz.draw_graph(loss, params=net, depth=2, fold=False).source
    assert "blocks.2: Block" in deeper and re.search(r'subgraph "?cluster_blocks"? \{', deeper)
    whole = ag.viz.draw_graph(loss, params=net, depth=0).source
    assert "(root): Net" in whole
    assert len(op_boxes(whole)) == len([n for n in tape if n.module is None])


@needs_graphviz
def test_max_nodes_caps_the_picture_and_says_so(rng):
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    with ag.Tape() as tape:
        y = x
        for _ in range(20):
            y = ag.tanh(y)
        loss = y.sum()
    src = ag.viz.draw_graph(loss, max_nodes=5).source
    assert sorted(op_boxes(src)) == sorted(f"op{n.index}" for n in tape[-5:])  # nearest the output
    assert "max_nodes=5" in src and "showing 5 of 21 boxes" in src
    assert "truncated" in src
    with pytest.raises(ValueError, match="max_nodes"):
        ag.viz.draw_graph(loss, max_nodes=0)


@needs_graphviz
def test_a_chain_of_100000_ops_draws_without_recursion():
    assert sys.getrecursionlimit() < 100_000
    x = ag.tensor(np.ones(2), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    loss = y.sum()
    src = ag.viz.draw_graph(loss, max_nodes=100).source
    assert len(op_boxes(src)) == 100 and "showing 100 of 100001 boxes" in src
    assert len(op_boxes(ag.viz.draw_graph(loss).source)) == 100_001
    assert len(ag.viz.summary(loss).splitlines()) == 100_001 + 2


@needs_graphviz
def test_bad_arguments():
    x = ag.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(TypeError, match="Tensor"):
        ag.viz.draw_graph(np.ones(2))
    with pytest.raises(TypeError, match="named_parameters"):
        ag.viz.draw_graph((x * 2.0).sum(), params=[x])
    with pytest.raises(TypeError, match="highlight"):
        ag.viz.draw_graph((x * 2.0).sum(), highlight="sum")


@needs_graphviz
def test_a_leaf_output_is_one_tensor_node():
    x = ag.tensor(np.ones(2), requires_grad=True)
    src = ag.viz.draw_graph(x, params={"x": x}).source
    assert op_boxes(src) == [] and "<b>x</b>" in src


# ---- summary -----------------------------------------------------------------------------------

def test_summary_rows(rng):
    net, loss, tape = net_loss(rng, n_blocks=2)
    text = ag.viz.summary(loss, params=net)
    lines = text.splitlines()
    assert lines[0].startswith(f"{len(tape)} ops → output scalar")
    assert lines[1].split() == ["#", "op", "module", "inputs", "→", "output", "dtype"]
    rows = lines[2:]
    assert len(rows) == len(tape)
    for node, row in zip(tape, rows, strict=True):
        cells = row.split()
        assert cells[:2] == [str(node.index), node.op]
        assert cells[2] == {None: "-", "": "(root)"}.get(node.module, node.module)
        assert cells[-1] == str(node.out_dtype)
    assert any("stem.W(4, 3)" in r for r in rows)  # parameter names with shapes
    assert "(5, 3), (3, 4) → (5, 4)" in text       # input shapes → output shape (x @ Wᵀ)


def test_summary_needs_no_graphviz():
    code = ("import sys; sys.modules['graphviz'] = None\n"
            "import numpy as np, autograd_core as ag\n"
            "x = ag.tensor(np.ones(3), requires_grad=True)\n"
            "print(ag.viz.summary((ag.exp(x) * 2.0).sum()))\n")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "exp" in out.stdout and "multiply" in out.stdout


# ---- rendering ---------------------------------------------------------------------------------

@needs_graphviz
def test_render_without_a_renderer_says_how_and_leaves_the_dot(tmp_path, monkeypatch):
    monkeypatch.setattr(viz, "_find_renderer", lambda: None)
    x = ag.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        ag.viz.render((ag.exp(x) * 2.0).sum(), tmp_path / "pic.svg")
    message = str(info.value)
    assert "pip install 'autograd-core[viz]'" in message and "apt-get install graphviz" in message
    dot = tmp_path / "pic.dot"
    assert str(dot) in message and dot.read_text().startswith("digraph")
    assert not (tmp_path / "pic.svg").exists()


def test_finder_looks_beside_the_running_python(tmp_path, monkeypatch):
    fake = tmp_path / "graphviz-pure"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    assert viz._find_renderer() == str(fake)


@needs_graphviz
@needs_renderer
def test_render_svg_and_png(tmp_path, rng):
    net, loss, _ = net_loss(rng, n_blocks=3)
    path = ag.viz.render(loss, tmp_path / "graph.svg", params=net, show_grads=True)
    assert path == str(tmp_path / "graph.svg")
    head = Path(path).read_text()[:200].lstrip()
    assert head.startswith(("<svg", "<?xml"))
    png = ag.viz.render(loss, tmp_path / "graph.png", format="png", params=net)
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_graphviz
@needs_renderer
def test_notebook_display_renders_inline(rng):
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    bundle = ag.viz.draw_graph((ag.exp(x) * 2.0).sum())._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith(("<svg", "<?xml"))


@needs_graphviz
@needs_renderer
def test_render_failure_is_an_error_naming_the_renderer(tmp_path):
    x = ag.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="failed"):
        ag.viz.render((x * 2.0).sum(), tmp_path / "pic.nosuchformat", format="nosuchformat")
    assert (tmp_path / "pic.dot").exists()

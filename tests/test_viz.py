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


# ---- after backward (Note [pictures and backward]) --------------------------------------------

def edges(source: str) -> set[tuple[str, str]]:
    return set(re.findall(r"^\s*(\w+) -> (\w+)", source, re.M))


def leaf_id(source: str, name: str) -> str:
    """The DOT id of the ellipse of parameter `name` (bold)."""
    return re.search(rf"^\s*(t\d+) \[[^\]]*<b>{re.escape(name)}</b>", source, re.M).group(1)


@needs_graphviz
def test_after_backward_the_whole_graph_is_drawn(rng):
    net, loss, tape = net_loss(rng, n_blocks=2)
    before = ag.viz.draw_graph(loss, params=net, fold=False).source
    loss.backward()
    assert all(node.released for node in tape)
    after = ag.viz.draw_graph(loss, params=net, fold=False).source
    assert sorted(op_boxes(after)) == sorted(f"op{n.index}" for n in tape)
    assert edges(after) == edges(before) and ("op" + str(loss.node.index), "output") in edges(after)
    for name, _ in net.named_parameters():
        assert f"<b>{name}</b>" in after
    assert "released" not in after  # nothing is missing, so nothing is said about it
    folded = ag.viz.draw_graph(loss, params=net).source
    assert "Block ×2" in folded


@needs_graphviz
def test_after_backward_show_grads_gives_every_parameter_its_grad_norm(rng):
    net, loss, tape = net_loss(rng, n_blocks=2)
    loss.backward()
    grads = {name: p.grad.copy() for name, p in net.named_parameters()}
    src = ag.viz.draw_graph(loss, params=net, show_grads=True, fold=False).source
    for name, g in grads.items():
        assert f"‖g‖ {np.linalg.norm(g):.2g}" in attrs_of(src, leaf_id(src, name)), name
    # the ops' norms were not kept: no op box carries one, and the legend says how to keep them
    assert not any("‖g‖" in attrs_of(src, box) for box in op_boxes(src))
    legend = attrs_of(src, "legend")
    assert "not kept" in legend and "keep_grad_norms" in legend
    for name, p in net.named_parameters():  # drawing reads .grad, never changes it
        np.testing.assert_array_equal(p.grad, grads[name])


@needs_graphviz
def test_keep_grad_norms_shows_intermediate_norms_after_backward(rng):
    net, loss, tape = net_loss(rng, n_blocks=2)
    live = ag.viz.draw_graph(loss, params=net, show_grads=True, fold=False).source
    with ag.viz.keep_grad_norms():
        loss.backward()
    assert not ag.graph.local.recording.grad_norms  # switched off again on leaving the block
    after = ag.viz.draw_graph(loss, params=net, show_grads=True, fold=False).source
    for node in tape:  # the sweep's norms are the ones the picture's own sweep computes
        label = re.search(r"‖g‖ [^\"\n]+", attrs_of(live, f"op{node.index}")).group(0)
        assert label in attrs_of(after, f"op{node.index}"), node
        assert fill_of(after, f"op{node.index}") == fill_of(live, f"op{node.index}")
    assert "not kept" not in attrs_of(after, "legend")
    for name, p in net.named_parameters():
        assert f"‖g‖ {np.linalg.norm(p.grad):.2g}" in attrs_of(after, leaf_id(after, name))


def test_keep_grad_norms_is_off_by_default_and_works_as_a_decorator(rng):
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    plain = ag.tanh(x).sum()
    plain.backward()
    assert plain.node.grad_norm is None

    @ag.viz.keep_grad_norms()
    def step():
        loss = (ag.tanh(x) * 3.0).sum()
        loss.backward()
        return loss

    loss = step()
    assert loss.node.grad_norm == 1.0
    inner = loss.node.inputs[0]  # after backward: the multiply's node stands for its output
    assert inner.op == "multiply" and inner.grad_norm == pytest.approx(np.sqrt(3))


def test_summary_after_backward(rng):
    net, loss, tape = net_loss(rng, n_blocks=2)
    before = ag.viz.summary(loss, params=net)
    live = ag.viz.summary(loss, params=net, show_grads=True)
    loss.backward()
    assert ag.viz.summary(loss, params=net) == before  # the same table after backward
    text = ag.viz.summary(loss, params=net, show_grads=True)
    lines = text.splitlines()
    assert lines[1].split()[-1] == "‖g‖" and "not kept" in text and "keep_grad_norms" in text
    ops, leaves = text.split("\n\n")
    assert len(ops.splitlines()) == 2 + len(tape) + 1  # title, header, rows, where the norms come from
    leaf_rows = leaves.splitlines()
    assert leaf_rows[0].split() == ["leaf", "shape", "dtype", "‖grad‖"]
    names = [name for name, _ in net.named_parameters()]
    assert [r.split()[0] for r in leaf_rows[1:]] == names  # every parameter, in params order
    for row, (_, p) in zip(leaf_rows[1:], net.named_parameters(), strict=True):
        assert row.split()[-1] == f"{np.linalg.norm(p.grad):.2g}", row
    assert live.split("\n\n")[1] == leaves  # the same norms as the live sweep's
    # with the norms kept, the ops' column matches the live sweep's too
    net2, loss2, _ = net_loss(np.random.default_rng(5), n_blocks=2)
    live2 = ag.viz.summary(loss2, params=net2, show_grads=True)
    with ag.viz.keep_grad_norms():
        loss2.backward()
    kept = ag.viz.summary(loss2, params=net2, show_grads=True)
    norms = [line.rsplit("  ", 1)[-1] for line in kept.splitlines()[2:2 + len(tape)]]
    assert norms == [line.rsplit("  ", 1)[-1] for line in live2.splitlines()[2:2 + len(tape)]]
    assert all(float(n) > 0 for n in norms)


@needs_graphviz
def test_zero_d_parameters_and_grad_requiring_scalars_are_drawn(rng):
    x = ag.tensor(rng.standard_normal((4, 3)))
    W = ag.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    T = nn.Parameter(np.array(2.0))                      # a temperature: a 0-d parameter
    s = ag.tensor(0.5, requires_grad=True, dtype=np.float64)  # an unnamed scalar leaf
    c = ag.tensor(4.0, dtype=np.float64)                  # a 0-d constant: left out
    with ag.Tape() as tape:
        loss = ((x @ W) / T * s * c).sum() + 2.0          # a Python number: left out
    params = {"W": W, "T": T}
    src = ag.viz.draw_graph(loss, params=params).source
    t_id = leaf_id(src, "T")
    assert "scalar float64 = 2" in attrs_of(src, t_id)
    divide = next(n for n in tape if n.op == "divide")
    assert (t_id, f"op{divide.index}") in edges(src)
    scalar = re.search(r"^\s*(t\d+) \[label=<leaf<br/>scalar float64 = 0.5>", src, re.M).group(1)
    multiply = next(n for n in tape if n.op == "multiply" and n.inputs[1] is s)
    assert (scalar, f"op{multiply.index}") in edges(src)
    assert "= 4" not in src and "= 2<" not in src.replace("= 2<br", "")  # constants: not drawn
    assert len(re.findall(r"^\s*t\d+ \[", src, re.M)) == 4  # x, W, T, s
    loss.backward()
    after = ag.viz.draw_graph(loss, params=params, show_grads=True).source
    assert f"‖g‖ {abs(float(T.grad)):.2g}" in attrs_of(after, leaf_id(after, "T"))
    assert f"‖g‖ {abs(float(s.grad)):.2g}" in attrs_of(after, scalar)
    assert "T(scalar)" in ag.viz.summary(loss, params=params)


@needs_graphviz
def test_tuple_and_list_outputs_draw_every_output(rng):
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    with ag.Tape() as tape:
        h = ag.tanh(x)
        a = (h * 2.0).sum()
        b = ag.exp(h)
    for outputs in ((a, b), [a, b]):
        src = ag.viz.draw_graph(outputs).source
        assert sorted(op_boxes(src)) == sorted(f"op{n.index}" for n in tape)
        assert {("op" + str(a.node.index), "output0"), ("op" + str(b.node.index), "output1")} <= edges(src)
        assert "2 outputs scalar float64, (3,) float64" in src
    # the picture's own sweep is seeded with ones at every output: h gets ∂(a + Σb)/∂h
    live = ag.viz.draw_graph((a, b), show_grads=True).source
    expected = np.linalg.norm(2.0 + np.exp(h.data))
    assert f"‖g‖ {expected:.2g}" in attrs_of(live, f"op{h.node.index}")
    assert "2 outputs" in ag.viz.summary([a, b]).splitlines()[0]
    (a + b.sum()).backward()
    after = ag.viz.draw_graph((a, b), params={"x": x}, show_grads=True).source
    assert sorted(op_boxes(after)) == sorted(f"op{n.index}" for n in tape)
    assert f"‖g‖ {np.linalg.norm(x.grad):.2g}" in attrs_of(after, leaf_id(after, "x"))
    with pytest.raises(ValueError, match="empty"):
        ag.viz.draw_graph(())
    with pytest.raises(TypeError, match=r"output\[1\]"):
        ag.viz.summary((a, np.ones(2)))


@needs_graphviz
def test_nan_or_inf_in_a_leaf_or_constant_is_flagged_at_its_source(rng):
    data = rng.standard_normal((4, 3))
    data[2, 1] = np.nan
    x = ag.tensor(data)                                      # an input holding a NaN
    W = ag.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    b = ag.tensor(np.array([0.0, np.inf]), requires_grad=True)  # a parameter holding an Inf
    mask = np.ones((4, 2))
    loss = ((x @ W + b) * mask * float("nan")).sum()        # a NaN Python number: drawn, flagged
    params = {"W": W, "b": b}
    for src in (ag.viz.draw_graph(loss, params=params).source,
                ag.viz.draw_graph(loss, params=params, show_grads=True).source):
        flagged = [i for i in re.findall(r"^\s*(t\d+) \[", src, re.M)
                   if "peripheries=2" in attrs_of(src, i)]
        texts = sorted(re.search(r"<b>(\w+ in value!)</b>", attrs_of(src, i)).group(1) for i in flagged)
        assert texts == ["Inf in value!", "NaN in value!", "NaN in value!"]
        assert all(f'color="{viz._BAD_VALUE}"' in attrs_of(src, i) for i in flagged)
        assert leaf_id(src, "b") in flagged and leaf_id(src, "W") not in flagged
        assert "NaN / Inf in the value of input (4, 3), b, number scalar" in src
    assert "label=<number<br/>scalar float64 = nan" in src
    assert "mask" not in src and "array<br/>(4, 2) float64>" in src  # the finite mask: not flagged
    loss.backward()
    after = ag.viz.draw_graph(loss, params=params, show_grads=True).source
    assert "NaN!" in attrs_of(after, leaf_id(after, "W")) and fill_of(after, leaf_id(after, "W")) == viz._BAD
    assert "NaN in value!" in after and "peripheries=2" in attrs_of(after, leaf_id(after, "b"))
    text = ag.viz.summary(loss, params=params)
    assert "(4, 3)[NaN]" in text and "b(2,)[Inf]" in text
    assert text.splitlines()[1].startswith("NaN / Inf in the value of ")


@needs_graphviz
def test_a_graph_cut_by_an_error_during_backward_says_so(rng):
    @ag.primitive
    def broken(x):
        return x * 1.0

    @broken.defvjp
    def broken_vjp(g, ans, x):
        raise ArithmeticError("planted")

    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    with ag.Tape() as tape:
        h = ag.tanh(x)
        loss = (broken(h) + ag.sin(h)).sum()
    with pytest.raises(ArithmeticError, match="planted"):
        loss.backward()  # sin's VJP ran (tanh now waits for broken's), then broken's raised
    cut = [n for n in tape if n.inputs is None]
    assert [n.op for n in cut] == ["tanh"]  # released by the error, its inputs gone
    src = ag.viz.draw_graph(loss, params={"x": x}).source
    assert sorted(op_boxes(src)) == sorted(f"op{n.index}" for n in tape)
    assert "(inputs released)" in attrs_of(src, f"op{cut[0].index}")
    assert "<b>x</b>" not in src  # what fed tanh is not known any more
    assert "1 node(s) lost their inputs" in src
    assert "(inputs released)" in ag.viz.summary(loss)


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


def overflowing_legend_text(svg: str) -> list[str]:
    """Texts of the legend that a renderer drawing them in DejaVu Sans (wider than the metrics
    Graphviz lays out with; a browser's usual fallback) would push out of their bordered cell
    or, for a borderless one, past the table's right edge."""
    from xml.etree import ElementTree

    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    ns = "{http://www.w3.org/2000/svg}"
    legend = next(g for g in ElementTree.fromstring(svg).iter(ns + "g")
                  if g.findtext(ns + "title") == "legend")
    cells = []
    for polygon in legend.iter(ns + "polygon"):
        if polygon.get("stroke") not in (None, "none", "transparent"):
            points = [tuple(map(float, p.split(","))) for p in polygon.get("points").split()]
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            cells.append((min(xs), max(xs), min(ys), max(ys)))
    table = (min(c[0] for c in cells), max(c[1] for c in cells))
    out = []
    for text in legend.iter(ns + "text"):
        s, x, y = "".join(text.itertext()), float(text.get("x")), float(text.get("y"))
        weight = "bold" if text.get("font-weight") == "bold" else "normal"
        width = TextPath((0, 0), s, size=float(text.get("font-size")),
                         prop=FontProperties(family="DejaVu Sans", weight=weight)).get_extents().x1
        x0 = {"start": x, "middle": x - width / 2, "end": x - width}[text.get("text-anchor", "start")]
        lo, hi = next(((c[0], c[1]) for c in cells if c[0] <= x <= c[1] and c[2] <= y <= c[3]), table)
        if x0 < lo - 0.5 or x0 + width > hi + 0.5:
            out.append(f"{s!r}: {x0:.1f}..{x0 + width:.1f} outside {lo:.1f}..{hi:.1f}")
    return out


@needs_graphviz
@needs_renderer
def test_legend_text_fits_its_cells_in_a_wider_font(tmp_path, rng):
    pytest.importorskip("matplotlib")  # (its DejaVu Sans measures the text)
    small = ag.tensor(rng.standard_normal(3), requires_grad=True)
    large = ag.tensor(rng.standard_normal(3), requires_grad=True)
    const = np.array([1.0, np.inf, 1.0])
    loss = (small * 1e-6).sum() + (large * 1e3 * const).sum()
    loss.backward()  # after backward, norms not kept: the legend's longest note
    path = ag.viz.render(loss, tmp_path / "legend.svg", params={"small": small}, show_grads=True,
                         highlight=small)
    svg = Path(path).read_text()
    longest = re.search(r">\d\.\de&#45;\d<", svg)  # a 6-character scale label such as 1.4e-6
    assert longest and "highlighted" in svg and "in the value" in svg
    assert overflowing_legend_text(svg) == []


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

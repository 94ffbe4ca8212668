"""`ag.Tape`: what it records, in which order, and `tape.gradient`."""

import numpy as np
import pytest

import autograd_core as ag


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def _mlp_layer(rng):
    x = ag.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    W = ag.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    b = ag.tensor(rng.standard_normal(2), requires_grad=True)
    return x, W, b


def test_records_in_order_with_lowercase_op_names(rng):
    x, W, b = _mlp_layer(rng)
    with ag.Tape() as tape:
        h = x @ W
        z = h + b
        r = ag.relu(z)
        loss = r.sum()
    assert len(tape) == 4
    nodes = list(tape)
    assert [n.op for n in nodes] == ["matmul", "add", "relu", "sum"]
    assert [n.op for n in tape] == [tape[i].op for i in range(4)]
    idx = [n.index for n in nodes]
    assert idx == sorted(idx) and len(set(idx)) == 4  # recording order is increasing
    for n, t in zip(nodes, [h, z, r, loss], strict=True):
        assert n.output is t
        assert t.node is n


def test_node_inputs(rng):
    x, W, b = _mlp_layer(rng)
    with ag.Tape() as tape:
        h = x @ W
        z = h + b
        y = z * 2.0
    mm, add, mul = tape
    assert len(mm.inputs) == 2 and mm.inputs[0] is x and mm.inputs[1] is W
    assert add.inputs[0] is h and add.inputs[1] is b
    assert mul.inputs[0] is z and mul.inputs[1] == 2.0  # a constant is kept as given
    assert mul.output is y


def test_node_output_outside_a_tape_shares_array_and_node(rng):
    # Outside a Tape a node keeps no reference to its output Tensor (no weakref per op); .output
    # is then a Tensor on the same array and node, and differentiating it reaches the same leaves.
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    y = ag.exp(x)
    out = y.node.output
    assert out.data is y.data and out.node is y.node and out.requires_grad
    (gx,) = ag.Tape().gradient(ag.sum(out), [x])
    np.testing.assert_allclose(gx.data, np.exp(x.data), rtol=1e-6)
    ag.sum(y).backward()
    assert y.node.released and y.node.output is None


def test_only_recorded_ops_appear(rng):
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    c = ag.tensor(rng.standard_normal(3))  # no grad: ops on it alone are not recorded
    with ag.Tape() as tape:
        k = c * 2.0
        y = (x * k).sum()
    assert [n.op for n in tape] == ["multiply", "sum"]
    assert tape[0].inputs[1] is k
    assert y.node is tape[1]


def test_ops_under_no_grad_inside_tape_not_recorded(rng):
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    with ag.Tape() as tape:
        a = ag.exp(x)
        with ag.no_grad():
            b = ag.tanh(x) * 3.0
        c = (a + b).sum()
    assert [n.op for n in tape] == ["exp", "add", "sum"]
    assert b.node is None
    assert c.node is tape[-1]


def test_ops_outside_the_tape_not_recorded(rng):
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    before = x * 2.0
    with ag.Tape() as tape:
        y = ag.exp(before)
    after = y * 3.0
    assert [n.op for n in tape] == ["exp"]
    assert after.node is not None  # still recorded on the graph, just not on this tape


def test_nested_tapes_both_record(rng):
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    with ag.Tape() as outer:
        a = x * 2.0
        with ag.Tape() as inner:
            b = ag.exp(a)
            c = b.sum()
        d = c * c
    assert [n.op for n in outer] == ["multiply", "exp", "sum", "multiply"]
    assert [n.op for n in inner] == ["exp", "sum"]
    assert inner[0] is outer[1] and inner[1] is outer[2]  # the same nodes
    assert outer[-1].output is d


def test_gradient_list_of_sources(rng):
    x, W, b = _mlp_layer(rng)
    with ag.Tape() as tape:
        loss = ag.relu(x @ W + b).sum()
    grads = tape.gradient(loss, [W, b])
    assert isinstance(grads, list) and len(grads) == 2
    mask = (x.data @ W.data + b.data) > 0
    np.testing.assert_allclose(grads[0].data, x.data.T @ mask.astype(float))
    np.testing.assert_allclose(grads[1].data, mask.sum(axis=0))
    assert W.grad is None and b.grad is None  # tape.gradient leaves .grad alone


def test_gradient_single_source_returns_single_gradient(rng):
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    with ag.Tape() as tape:
        y = (x * x).sum()
    g = tape.gradient(y, x)
    assert isinstance(g, ag.Tensor)
    np.testing.assert_allclose(g.data, 2 * x.data)
    (g1,) = tape.gradient(y, (x,))
    np.testing.assert_allclose(g1.data, 2 * x.data)


def test_gradient_can_be_called_repeatedly_and_for_intermediates(rng):
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    with ag.Tape() as tape:
        h = ag.exp(x)
        y = (h * h).sum()
    g1 = tape.gradient(y, [x])[0]
    g2 = tape.gradient(y, [x])[0]  # the graph is kept
    np.testing.assert_allclose(g1.data, 2 * np.exp(2 * x.data))
    np.testing.assert_array_equal(g1.data, g2.data)
    gh = tape.gradient(y, h)
    np.testing.assert_allclose(gh.data, 2 * h.data)


def test_gradient_of_unrelated_source_is_zeros(rng):
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    other = ag.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    with ag.Tape() as tape:
        y = (x * x).sum()
    gx, go = tape.gradient(y, [x, other])
    np.testing.assert_array_equal(go.data, np.zeros((2, 2)))
    np.testing.assert_allclose(gx.data, 2 * x.data)


def test_tape_iteration_is_repeatable_and_empty_tape(rng):
    with ag.Tape() as empty:
        _ = ag.tensor(np.ones(2)) * 2.0
    assert len(empty) == 0 and list(empty) == []
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    with ag.Tape() as tape:
        ag.tanh(x).sum()
    assert [n.op for n in tape] == [n.op for n in tape] == ["tanh", "sum"]


def test_gradient_for_sources_along_one_chain():
    """A source in the middle of a chain must not stop the sweep (x -> a -> b -> L)."""
    x = ag.tensor(np.array(1.0), requires_grad=True)
    with ag.Tape() as tape:
        a = x * 2.0
        b = a * 3.0
        L = b * 1.0
    gx, ga, gb = tape.gradient(L, [x, a, b])
    assert (float(gx), float(ga), float(gb)) == (6.0, 3.0, 1.0)
    (gx2,) = tape.gradient(L, [x])  # and asked alone, the same
    assert float(gx2) == 6.0


def test_gradient_skips_what_leads_to_no_source():
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = ag.tensor(np.array([3.0, 4.0]), requires_grad=True)
    with ag.Tape() as tape:
        L = (ag.exp(w) * x).sum()
    (gx,) = tape.gradient(L, [x])
    np.testing.assert_allclose(gx.data, np.exp([3.0, 4.0]))
    assert w.grad is None and x.grad is None

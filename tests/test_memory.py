"""Memory and depth: deep graphs at the default recursion limit, no growth over a training loop,
no reference cycles, saved arrays released after backward and when the graph is dropped."""

import gc
import math
import sys
import tracemalloc
import weakref

import numpy as np
import pytest

import autograd_core as ag

N_DEEP = 100_000


@pytest.fixture
def no_gc():
    """Run with the cyclic garbage collector off: memory must be freed by reference counting."""
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def test_default_recursion_limit():
    # The deep tests below rely on running at Python's default limit, not a raised one.
    assert sys.getrecursionlimit() <= 1000


def test_backward_through_100k_multiply_chain(no_gc):
    limit = sys.getrecursionlimit()
    x = ag.tensor(np.array(1.0), requires_grad=True)
    y = x
    for _ in range(N_DEEP):
        y = y * 1.0001
    y.backward()
    assert sys.getrecursionlimit() == limit  # not raised behind our back
    np.testing.assert_allclose(y.item(), 1.0001 ** N_DEEP, rtol=1e-10)
    np.testing.assert_allclose(x.grad, 1.0001 ** N_DEEP, rtol=1e-10)


def test_backward_through_100k_alternating_ops(no_gc):
    limit = sys.getrecursionlimit()
    x0 = 0.3
    x = ag.tensor(np.array(x0), requires_grad=True)
    y = x
    # reference derivative by the chain rule, forward, in plain floats
    v, dv = x0, 1.0
    for i in range(N_DEEP):
        k = i % 3
        if k == 0:
            y = y * 1.5
            v, dv = v * 1.5, dv * 1.5
        elif k == 1:
            y = ag.tanh(y)
            v, dv = math.tanh(v), dv * (1 - math.tanh(v) ** 2)
        else:
            y = y + 0.25
            v = v + 0.25
    y.backward()
    assert sys.getrecursionlimit() == limit
    np.testing.assert_allclose(y.item(), v, rtol=1e-12)
    np.testing.assert_allclose(x.grad, dv, rtol=1e-9)


def test_dropping_a_100k_node_graph_without_backward(no_gc):
    # Deallocating a long chain Tensor -> node -> input Tensor -> ... must not overflow the C stack.
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x
    for _ in range(N_DEEP):
        y = ag.exp(y * 1e-6)
    last = weakref.ref(y.node)
    assert not x.data.flags.writeable  # saved by the first node
    del y
    assert last() is None  # freed by reference counting, no crash
    assert x.data.flags.writeable  # every node's lock was released
    x.data[0] = 3.0


def test_training_loop_memory_is_flat_and_cycle_free():
    rng = np.random.default_rng(0)
    X = ag.tensor(rng.standard_normal((16, 8)))
    Y = ag.tensor(rng.standard_normal((16, 1)))
    W1 = ag.tensor(rng.standard_normal((8, 16)) * 0.3, requires_grad=True)
    b1 = ag.tensor(np.zeros(16), requires_grad=True)
    W2 = ag.tensor(rng.standard_normal((16, 1)) * 0.3, requires_grad=True)
    b2 = ag.tensor(np.zeros(1), requires_grad=True)
    params = [W1, b1, W2, b2]
    losses = []

    def step():
        h = ag.tanh(X @ W1 + b1)
        loss = ((h @ W2 + b2 - Y) ** 2).mean()
        loss.backward()
        for p in params:
            p.data = p.data - 0.01 * p.grad
            p.grad = None
        return loss.item()

    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # keep whatever the collector finds, to inspect it
    try:
        for _ in range(1000):
            losses.append(step())
        tracemalloc.start()
        try:
            after_1000 = tracemalloc.get_traced_memory()[0]
            for _ in range(9000):
                step()
            after_10000 = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        found = gc.collect()
        ours = [o for o in gc.garbage if isinstance(o, (ag.Tensor, ag.Node, np.ndarray))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    growth = after_10000 - after_1000
    assert growth < 100_000, f"memory grew by {growth} bytes over 9000 steps"
    assert ours == [], f"{len(ours)} engine objects were only reclaimable by the cycle collector"
    assert found == 0, f"the cycle collector found {found} unreachable objects"
    assert losses[-1] < losses[0]  # it did train


def test_backward_releases_every_node(no_gc):
    rng = np.random.default_rng(1)
    x = ag.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    W = ag.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    with ag.Tape() as tape:
        loss = ag.relu(x @ W).sum()
    assert len(tape) == 3
    assert not any(node.released for node in tape)
    loss.backward()
    for node in tape:
        assert node.released
        assert node.args is None and node.ans is None and node.saved is None
        assert node.op in ("matmul", "relu", "sum")  # the structure is kept
        # no op output is held (its memory is freed): the node that made it stands in for it
        assert not any(isinstance(t, ag.Tensor) and t.node is not None for t in node.inputs)
    ops = {node.op: node for node in tape}
    assert ops["sum"].inputs == [ops["relu"]] and ops["relu"].inputs == [ops["matmul"]]
    assert ops["matmul"].inputs[0] is x and ops["matmul"].inputs[1] is W  # leaves are kept
    assert x.data.flags.writeable and W.data.flags.writeable


def test_retain_graph_keeps_saved_arrays(no_gc):
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with ag.Tape() as tape:
        y = ag.log(x).sum()  # log's VJP reads (and so locks) x
    y.backward(retain_graph=True)
    assert not any(node.released for node in tape)
    assert not x.data.flags.writeable
    y.backward()
    assert all(node.released for node in tape)
    assert x.data.flags.writeable


def test_intermediates_freed_after_backward_while_loss_alive(no_gc):
    rng = np.random.default_rng(2)
    x = ag.tensor(rng.standard_normal((8, 5)), requires_grad=True)
    W = ag.tensor(rng.standard_normal((5, 5)), requires_grad=True)
    h = ag.tanh(x @ W)
    h_ref = weakref.ref(h)
    arr_ref = weakref.ref(h.data)
    loss = (h * h).sum()
    del h
    assert h_ref() is not None  # the graph holds it for backward
    assert arr_ref() is not None
    loss.backward()
    assert h_ref() is None  # released by backward although `loss` is still alive
    assert arr_ref() is None
    assert loss.item() > 0


def test_intermediates_freed_when_loss_dropped_without_backward(no_gc):
    rng = np.random.default_rng(3)
    x = ag.tensor(rng.standard_normal((8, 5)), requires_grad=True)
    h = ag.exp(x * 0.5)
    h_ref = weakref.ref(h)
    arr_ref = weakref.ref(h.data)
    node_ref = weakref.ref(h.node)
    loss = (h * h).sum()
    del h
    assert h_ref() is not None
    del loss
    assert h_ref() is None and arr_ref() is None and node_ref() is None
    assert x.data.flags.writeable


def test_backward_releases_nodes_reached_only_through_a_zero_cotangent():
    # sign's VJP returns None: the multiply node behind it gets no cotangent, but it was reached,
    # so backward releases it and w (which multiply's VJP would read) is writable again
    x = ag.tensor(np.array([1.0, -2.0]), requires_grad=True)
    w = np.array([3.0, 4.0])
    m = x * w  # held by the caller, so only a release (not garbage collection) unlocks w
    loss = ag.sum(ag.sign(m)) + ag.sum(x * x)
    assert not w.flags.writeable  # locked while the graph needs it
    loss.backward()
    assert w.flags.writeable
    assert m.node.released
    np.testing.assert_allclose(x.grad, [2.0, -4.0])
    assert loss.node.released

"""Tensor: attributes, operators and broadcasting, dtype rules, .grad semantics, create_graph,
no_grad, thread-local recording, IEEE special values."""

import operator
import threading

import numpy as np
import pytest

import autograd_core as ag


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def float64_default():
    prev = ag.get_default_dtype()
    ag.set_default_dtype(np.float64)
    try:
        yield
    finally:
        ag.set_default_dtype(prev)


# ---- attributes ---------------------------------------------------------------------------------


def test_attributes(rng):
    a = rng.standard_normal((2, 3, 4))
    t = ag.tensor(a, requires_grad=True)
    assert isinstance(t.data, np.ndarray)
    np.testing.assert_array_equal(t.data, a)
    assert t.grad is None
    assert t.requires_grad is True
    assert t.shape == (2, 3, 4)
    assert t.dtype == np.float64
    assert t.ndim == 3
    assert t.size == 24
    assert ag.tensor(a).requires_grad is False


def test_T_reverses_axes_and_is_differentiable(rng):
    a = rng.standard_normal((2, 3, 4))
    t = ag.tensor(a, requires_grad=True)
    assert isinstance(t.T, ag.Tensor)
    assert t.T.shape == (4, 3, 2)
    np.testing.assert_array_equal(t.T.data, a.T)
    w = rng.standard_normal((4, 3, 2))
    (t.T * w).sum().backward()
    np.testing.assert_array_equal(t.grad, w.T)


def test_numpy_shares_memory_and_asarray(rng):
    t = ag.tensor(rng.standard_normal(3))
    assert t.numpy() is t.data
    arr = np.asarray(t)
    assert isinstance(arr, np.ndarray) and not isinstance(arr, ag.Tensor)
    np.testing.assert_array_equal(arr, t.data)
    assert np.asarray(t, dtype=np.float32).dtype == np.float32


def test_item():
    assert ag.tensor(np.array(2.5)).item() == 2.5
    assert isinstance(ag.tensor(np.array(2.5)).item(), float)
    assert ag.tensor(np.array([[7]])).item() == 7
    assert isinstance(ag.tensor(np.array([[7]])).item(), int)


def test_detach_shares_data_without_history(rng):
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d.requires_grad is False
    assert d.node is None
    assert d.data is y.data
    assert y.node is not None  # detaching does not cut the original
    z = (d * x).sum()
    z.backward()
    np.testing.assert_array_equal(x.grad, y.data)  # d is a constant: dz/dx = d


def test_tensor_copies_its_input():
    a = np.array([1.0, 2.0, 3.0])
    t = ag.tensor(a)
    a[0] = 100.0
    assert t.data[0] == 1.0
    assert not np.shares_memory(t.data, a)
    lst = [1.0, 2.0]
    t2 = ag.tensor(lst)
    lst[0] = 9.0
    assert t2.data[0] == 1.0
    t3 = ag.Tensor(t)  # from a Tensor: also a copy
    assert not np.shares_memory(t3.data, t.data)


# ---- operators ----------------------------------------------------------------------------------

BINARY = [
    ("add", lambda a, b: a + b, np.add),
    ("sub", lambda a, b: a - b, np.subtract),
    ("mul", lambda a, b: a * b, np.multiply),
    ("div", lambda a, b: a / b, np.divide),
    ("pow", lambda a, b: a ** b, np.power),
]


@pytest.mark.parametrize("name,op,ref", BINARY, ids=[b[0] for b in BINARY])
def test_binary_operators_broadcast_like_numpy(name, op, ref, rng):
    a = rng.uniform(0.5, 2.0, (3, 1))
    b = rng.uniform(0.5, 2.0, (4,))
    ta, tb = ag.tensor(a, requires_grad=True), ag.tensor(b, requires_grad=True)
    out = op(ta, tb)
    assert isinstance(out, ag.Tensor)
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out.data, ref(a, b), rtol=1e-15)
    out.sum().backward()
    assert ta.grad.shape == a.shape and tb.grad.shape == b.shape  # broadcasting summed back


@pytest.mark.parametrize("name,op,ref", BINARY, ids=[b[0] for b in BINARY])
def test_reflected_operators_with_ndarray_and_scalar_on_the_left(name, op, ref, rng):
    a = rng.uniform(0.5, 2.0, (2, 3))
    b = rng.uniform(0.5, 2.0, (3,))
    tb = ag.tensor(b, requires_grad=True)
    out = op(a, tb)  # ndarray OP Tensor must not become an object array
    assert type(out) is ag.Tensor
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out.data, ref(a, b), rtol=1e-15)
    assert out.requires_grad
    out2 = op(1.5, tb)
    assert type(out2) is ag.Tensor
    np.testing.assert_allclose(out2.data, ref(1.5, b), rtol=1e-15)


def test_matmul_and_rmatmul(rng):
    a = rng.standard_normal((2, 3))
    b = rng.standard_normal((3, 4))
    tb = ag.tensor(b, requires_grad=True)
    out = a @ tb
    assert type(out) is ag.Tensor
    np.testing.assert_allclose(out.data, a @ b)
    out.sum().backward()
    np.testing.assert_allclose(tb.grad, a.T @ np.ones((2, 4)))
    np.testing.assert_allclose((ag.tensor(a) @ b).data, a @ b)


def test_unary_neg_and_pos(rng):
    a = rng.standard_normal(3)
    t = ag.tensor(a, requires_grad=True)
    np.testing.assert_array_equal((-t).data, -a)
    (-t).sum().backward()
    np.testing.assert_array_equal(t.grad, -np.ones(3))
    assert +t is t


COMPARISONS = [
    ("lt", operator.lt, np.less), ("le", operator.le, np.less_equal),
    ("gt", operator.gt, np.greater), ("ge", operator.ge, np.greater_equal),
    ("eq", operator.eq, np.equal), ("ne", operator.ne, np.not_equal),
]


@pytest.mark.parametrize("name,op,ref", COMPARISONS, ids=[c[0] for c in COMPARISONS])
def test_comparisons_give_bool_tensors_without_grad(name, op, ref, rng):
    a = rng.standard_normal(5)
    b = a.copy()
    b[::2] += 1.0
    ta = ag.tensor(a, requires_grad=True)
    tb = ag.tensor(b, requires_grad=True)
    for res, expected in [
        (op(ta, tb), ref(a, b)),
        (op(ta, 0.0), ref(a, 0.0)),
        (op(b, ta), ref(b, a)),  # ndarray on the left
    ]:
        assert type(res) is ag.Tensor
        assert res.dtype == np.bool_
        assert res.requires_grad is False
        assert res.node is None
        np.testing.assert_array_equal(res.data, expected)


def test_tensors_hash_by_identity():
    a = ag.tensor(np.array([1.0, 2.0]))
    b = ag.tensor(np.array([1.0, 2.0]))  # equal values, different Tensors
    d = {a: "a", b: "b"}
    assert len(d) == 2
    assert d[a] == "a" and d[b] == "b"
    s = {a, b, a}
    assert len(s) == 2
    assert a in s and b in s
    assert ag.tensor(np.array([1.0, 2.0])) not in s
    assert hash(a) == hash(a) and hash(a) != hash(b)


# ---- dtypes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_and_float64_are_kept(dtype, rng):
    x = ag.tensor(rng.standard_normal(4).astype(dtype), requires_grad=True)
    assert x.dtype == dtype
    y = ag.tanh(x * x + 1.0).sum()
    assert y.dtype == dtype
    y.backward()
    assert x.grad.dtype == dtype


def test_python_scalars_do_not_upcast():
    x = ag.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    assert (x * 3.0).dtype == np.float32
    assert (3.0 * x).dtype == np.float32
    assert (x + 1).dtype == np.float32
    assert (x / 7.0).dtype == np.float32
    assert (x ** 2.0).dtype == np.float32
    assert (2.0 ** x).dtype == np.float32
    y = (2.0 ** x).sum()
    y.backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, np.log(2.0) * 2.0 ** np.array([1.0, 2.0]), rtol=1e-6)


def test_lists_and_python_floats_become_default_dtype():
    assert ag.get_default_dtype() == np.float32
    assert ag.tensor([1.0, 2.0]).dtype == np.float32
    assert ag.tensor([[1.0], [2.0]]).dtype == np.float32
    assert ag.tensor(1.5).dtype == np.float32
    assert ag.tensor((1.0, 2.0)).dtype == np.float32
    assert ag.tensor([1, 2]).dtype.kind == "i"  # ints stay integers
    assert ag.tensor(np.array([1.0])).dtype == np.float64  # arrays keep theirs


def test_set_default_dtype_float64(float64_default):
    assert ag.get_default_dtype() == np.float64
    assert ag.tensor([1.0, 2.0]).dtype == np.float64
    assert ag.tensor(1.5).dtype == np.float64
    assert ag.tensor(np.array([1.0], dtype=np.float32)).dtype == np.float32


def test_set_default_dtype_rejects_non_floats():
    with pytest.raises(TypeError, match="float32 or float64"):
        ag.set_default_dtype(np.int32)
    assert ag.get_default_dtype() == np.float32


def test_grad_has_data_shape_and_dtype_even_when_mixed_with_float64(rng):
    x = ag.tensor(rng.standard_normal((3, 1)).astype(np.float32), requires_grad=True)
    w = ag.tensor(rng.standard_normal((1, 4)), requires_grad=True)  # float64
    y = x * w
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.shape == x.shape and x.grad.dtype == np.float32
    assert w.grad.shape == w.shape and w.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad, np.full((3, 1), w.data.sum()), rtol=1e-6)


# ---- .grad semantics ----------------------------------------------------------------------------


def test_grad_accumulates_across_backward_calls_and_resets(rng):
    a = rng.standard_normal(3)
    x = ag.tensor(a, requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * a)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 4 * a)
    x.grad = None
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, np.full(3, 3.0))


def test_unused_leaf_keeps_grad_none(rng):
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    unused = ag.tensor(rng.standard_normal(3), requires_grad=True)
    _ = unused * 2  # recorded, but not part of the loss
    (x * x).sum().backward()
    assert x.grad is not None
    assert unused.grad is None


def test_leaf_grads_are_distinct_arrays(rng):
    # add hands the same cotangent array to both inputs; each leaf must own its .grad
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    y = ag.tensor(rng.standard_normal(3), requires_grad=True)
    ((x + y) * 2.0).sum().backward()
    assert x.grad is not y.grad
    assert not np.shares_memory(x.grad, y.grad)
    x.grad *= 0.0  # e.g. an optimizer scaling one gradient in place
    np.testing.assert_array_equal(y.grad, np.full(3, 2.0))


def test_leaf_grad_through_a_transpose_is_the_leafs_own_array(rng):
    # the gradient of W in x @ W.T is a transposed view of a fresh matmul result: .grad is a
    # writeable array of W's layout that shares memory with nothing
    x = rng.standard_normal((5, 4))
    W = ag.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    (x @ W.T).sum().backward()
    np.testing.assert_allclose(W.grad, np.ones((5, 3)).T @ x)
    assert W.grad.base is None and W.grad.flags.writeable


def test_leaf_grad_views_are_copied_when_their_memory_is_shared(rng):
    # the same cotangent, transposed, for two leaves: each .grad owns its memory
    a = ag.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = ag.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    ((a.T + b.T) * 2.0).sum().backward()
    assert not np.shares_memory(a.grad, b.grad)
    a.grad *= 0.0
    np.testing.assert_array_equal(b.grad, np.full((2, 3), 2.0))
    # the caller's seed, transposed: .grad does not write through to it
    seed = np.ones((3, 2))
    c = ag.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    c.T.backward(seed)
    assert not np.shares_memory(c.grad, seed)
    # a VJP that hands back a view of its input
    f = ag.primitive(lambda x: x * 1.0)
    f.defvjp(lambda g, ans, x: (x.T,))
    d = ag.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    f(d).sum().backward()
    assert not np.shares_memory(d.grad, d.data)
    # a view of part of a fresh array: copied, so the rest of it is not kept alive
    h = ag.primitive(lambda x: x * 1.0)
    h.defvjp(lambda g, ans, x: (np.ones((2,) + g.shape)[0],))
    e = ag.tensor(rng.standard_normal(4), requires_grad=True)
    h(e).sum().backward()
    assert e.grad.base is None


def test_backward_create_graph_gives_tensor_grad_and_second_derivative():
    a = np.array([-1.5, 0.5, 2.0])
    x = ag.tensor(a, requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    g = x.grad
    assert isinstance(g, ag.Tensor)
    assert g.requires_grad
    np.testing.assert_allclose(g.data, 3 * a ** 2)
    x.grad = None
    g.sum().backward()
    assert isinstance(x.grad, np.ndarray)
    np.testing.assert_allclose(x.grad, 6 * a)


def test_backward_accepts_tensor_grad(rng):
    a = rng.standard_normal((2, 2))
    x = ag.tensor(a, requires_grad=True)
    v = rng.standard_normal((2, 2))
    ag.exp(x).backward(ag.tensor(v))
    np.testing.assert_allclose(x.grad, v * np.exp(a))


# ---- no_grad ------------------------------------------------------------------------------------


def test_no_grad_records_nothing(rng):
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    with ag.no_grad():
        y = ag.exp(x) * 2
    assert y.requires_grad is False
    assert y.node is None
    z = x * 2  # recording is back on after the block
    assert z.requires_grad and z.node is not None


def test_no_grad_as_decorator(rng):
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)

    @ag.no_grad()
    def f(t):
        """doc"""
        return t * t

    y = f(x)
    assert y.requires_grad is False and y.node is None
    assert f.__name__ == "f" and f.__doc__ == "doc"
    assert (x * x).requires_grad


def test_enable_grad_inside_no_grad(rng):
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    with ag.no_grad():
        with ag.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad


# ---- thread-local recording ---------------------------------------------------------------------


def _train_mlp(seed: int, steps: int, barrier: threading.Barrier | None = None):
    """A 2-layer MLP trained by manual SGD; returns the grads seen at every step."""
    rng = np.random.default_rng(seed)
    X = ag.tensor(rng.standard_normal((16, 4)))
    Y = ag.tensor(rng.standard_normal((16, 1)))
    W1 = ag.tensor(rng.standard_normal((4, 8)) * 0.5, requires_grad=True)
    b1 = ag.tensor(np.zeros(8), requires_grad=True)
    W2 = ag.tensor(rng.standard_normal((8, 1)) * 0.5, requires_grad=True)
    b2 = ag.tensor(np.zeros(1), requires_grad=True)
    params = [W1, b1, W2, b2]
    history = []
    for _ in range(steps):
        if barrier is not None:
            barrier.wait()  # interleave the two threads step by step
        h = ag.tanh(X @ W1 + b1)
        loss = ((h @ W2 + b2 - Y) ** 2).mean()
        loss.backward()
        history.append([p.grad.copy() for p in params])
        for p in params:
            p.data = p.data - 0.05 * p.grad
            p.grad = None
    return history


def _run_threads(targets):
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as e:  # surface the thread's failure in the test
                errors.append(e)
        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


def test_two_threads_training_at_once_match_running_alone():
    steps = 40
    alone = [_train_mlp(0, steps), _train_mlp(1, steps)]
    barrier = threading.Barrier(2, timeout=30)
    together = [None, None]

    def job(i):
        def run():
            together[i] = _train_mlp(i, steps, barrier)
        return run

    _run_threads([job(0), job(1)])
    for i in range(2):
        for step in range(steps):
            for g_alone, g_together in zip(alone[i][step], together[i][step], strict=True):
                np.testing.assert_array_equal(g_together, g_alone)


def test_no_grad_in_one_thread_does_not_affect_another():
    x = ag.tensor(np.ones(3), requires_grad=True)
    inside = threading.Barrier(2, timeout=30)
    done = threading.Barrier(2, timeout=30)
    seen = {}

    def quiet():
        with ag.no_grad():
            inside.wait()  # the other thread computes while we are inside no_grad
            done.wait()
            seen["quiet"] = (x * 2).requires_grad

    def loud():
        inside.wait()
        y = x * 2
        seen["loud"] = (y.requires_grad, y.node is not None)
        done.wait()

    _run_threads([quiet, loud])
    assert seen["loud"] == (True, True)
    assert seen["quiet"] is False


def test_shared_constant_is_writable_after_concurrent_training():
    # Threads share one input array; the engine's read-only bookkeeping of saved arrays must not
    # lose counts when threads lock/unlock it at once (it once left the array read-only for good).
    # A race is probabilistic: several rounds, threads switched very often.
    import sys

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(4):
            X = ag.tensor(np.random.default_rng(0).standard_normal((8, 4)))

            def work(X=X):
                W = ag.tensor(np.ones((4, 3)) * 0.1, requires_grad=True)
                for _ in range(1000):
                    ag.tanh(X @ W).sum().backward()
                    W.grad = None

            _run_threads([work] * 4)
            assert X.data.flags.writeable
            X.data[0, 0] = 1.0  # no "read-only" error
    finally:
        sys.setswitchinterval(old)


def test_a_held_array_stays_read_only_while_other_threads_lock_and_unlock_it():
    # Locks on a shared array are shared and counted by reference; one must never be lost to a
    # concurrent release, or the array would turn writable while a graph still needs it.
    import sys

    from autograd_core import numpy_locks

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    problems = []
    try:
        X = ag.tensor(np.random.default_rng(0).standard_normal((8, 4)))

        def churn():
            W = ag.tensor(np.ones((4, 3)) * 0.1, requires_grad=True)
            for _ in range(600):
                ag.tanh(X @ W).sum().backward()

        def holder():
            W = ag.tensor(np.ones((4, 3)) * 0.1, requires_grad=True)
            for _ in range(150):
                loss = (X @ W).sum()  # holds X until its backward
                for _ in range(10):
                    if X.data.flags.writeable:
                        problems.append("writable while a graph holds it")
                loss.backward()

        _run_threads([churn, churn, churn, holder])
    finally:
        sys.setswitchinterval(old)
    assert not problems
    assert X.data.flags.writeable and id(X.data) not in numpy_locks._locks


# ---- IEEE special values ------------------------------------------------------------------------


def test_log_of_zero_is_minus_inf():
    with np.errstate(all="ignore"):
        y = ag.log(ag.tensor(np.array([0.0, 1.0])))
    assert y.data[0] == -np.inf
    assert y.data[1] == 0.0


def test_log_of_zero_warns_but_does_not_crash():
    with pytest.warns(RuntimeWarning):
        y = ag.log(ag.tensor(np.array([0.0])))
    assert np.isneginf(y.data[0])


def test_division_by_zero_is_inf():
    with np.errstate(all="ignore"):
        y = ag.tensor(np.array([1.0, -1.0, 0.0])) / 0.0
    assert y.data[0] == np.inf and y.data[1] == -np.inf and np.isnan(y.data[2])


def test_nan_propagates_forward_and_backward():
    x = ag.tensor(np.array([np.nan, 1.0]), requires_grad=True)
    with np.errstate(all="ignore"):
        y = (ag.exp(x) * 2.0 + 1.0).sum()
        y.backward()
    assert np.isnan(y.item())
    assert np.isnan(x.grad[0]) and x.grad[1] == pytest.approx(2 * np.e)


def test_gradient_of_log_at_zero_is_inf():
    x = ag.tensor(np.array([0.0, 2.0]), requires_grad=True)
    with np.errstate(all="ignore"):
        ag.log(x).sum().backward()
    assert x.grad[0] == np.inf and x.grad[1] == 0.5


def test_public_names_match_the_rule_table():
    """Every op of the rule table's families is exported at the top level and listed in ag.__all__;
    ag.linalg's and ag.special's are reached through their namespaces."""
    from autograd_core import rules

    missing = [n for family in rules.FAMILIES for n in family.__all__
               if n not in ag.__all__ or getattr(ag, n) is not getattr(family, n)]
    assert not missing, missing
    for ns, module in rules.NAMESPACES.items():
        assert getattr(ag, ns) is module and ns in ag.__all__
        assert all(hasattr(module, n) for n in module.__all__)


def test_tune_allocator_applies_on_glibc_and_changes_no_result():
    import sys

    applied = ag.tune_allocator()
    assert applied is (sys.platform.startswith("linux") and applied)  # a bool, False off Linux
    x = ag.tensor(np.arange(4.0), requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * np.arange(4.0))


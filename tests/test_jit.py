"""ag.jit: replay equals eager, retracing, refusals, outside state (Note [tracing]).

Each test calls a jitted function on fresh inputs at least three times: the first two calls of a
signature trace (eagerly), the third replays the compiled program, so a test that only passed
while tracing would not pass here.
"""

from __future__ import annotations

import numpy as np
import pytest
from jit_agree import kernel_path

import autograd_core as ag
from autograd_core.tracing import TraceError


def _calls(jf, f, make, n=5):
    """Call jitted and eager f on n fresh inputs; every result must be equal: bitwise for the
    NumPy replay, to a few ulps where runs are fused (Note [fusion]: the C library's exp, log,
    tanh against NumPy's)."""
    for _ in range(n):
        args = make()
        got, want = jf(*args), f(*args)
        _same(_values(got), _values(want), jf)
    assert jf.programs(), "never compiled: it retraced on every call"


def _same(got, want, jf):
    if jf.fuse:
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)
    else:
        np.testing.assert_array_equal(got, want)


def _values(r):
    if isinstance(r, ag.Tensor):
        return r.data
    if isinstance(r, (tuple, list)):
        return np.concatenate([np.ravel(_values(v)) for v in r])
    return np.asarray(r)


def test_numpy_function_replays_and_drops_dead_code():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((3, 4))

    def f(x):
        np.exp(x)  # dead: the program drops it
        return (np.tanh(x @ W) ** 2).sum()

    jf = ag.jit(f, fuse=False)
    _calls(jf, f, lambda: (rng.standard_normal((5, 3)),))
    prog = jf.programs()[0]
    assert [prog.rec.code[k].name for k in prog.kept] == ["matmul", "tanh", "square", "ndarray.sum"]
    assert "exp" not in jf.source() and "reduce" in jf.source()  # (the sum without its wrappers)
    # (a 2-D float matmul is called as np.dot: the same BLAS gemm, bitwise, without the ufunc)
    assert "dot_" in jf.source() and "matmul" not in jf.source() and "tanh" in jf.source()


def test_grad_of_engine_function_matches_eager():
    rng = np.random.default_rng(1)

    def loss(W, x):
        return (ag.tanh(x @ W) ** 2).sum() + ag.relu(x).mean()

    g = ag.value_and_grad(loss, argnums=(0, 1))
    _calls(ag.jit(g), g, lambda: (rng.standard_normal((3, 4)), rng.standard_normal((5, 3))))


def test_backward_fills_outside_grads_like_eager():
    """Parameters made outside f: their arrays are read afresh, their grads rebound."""
    rng = np.random.default_rng(2)
    W = ag.tensor(rng.standard_normal((3, 4)), requires_grad=True)

    def step(x):
        W.grad = None
        loss = (ag.relu(x @ W) ** 2).mean()
        loss.backward()
        return loss

    js = ag.jit(step)
    for _ in range(5):
        x = rng.standard_normal((5, 3))
        loss = js(x)
        got = W.grad.copy()
        want = step(x)
        np.testing.assert_array_equal(loss.data, want.data)
        np.testing.assert_array_equal(got, W.grad)
        W.data = W.data - 0.1 * got  # rebinding outside: the next replay reads the new array
    assert js.programs()
    assert loss.node is None and not loss.requires_grad  # results come back detached


def test_grad_accumulation_is_its_own_program():
    """Without zero_grad, the first call sets .grad and later calls add to it, as eager does."""
    rng = np.random.default_rng(3)
    W1 = ag.tensor(rng.standard_normal(4), requires_grad=True)
    W2 = ag.tensor(W1.data.copy(), requires_grad=True)

    def step(W, x):
        (W * x).sum().backward()

    js = ag.jit(lambda x: step(W1, x))
    for _ in range(5):
        x = rng.standard_normal(4)
        js(x)
        step(W2, x)
        np.testing.assert_array_equal(W1.grad, W2.grad)
    assert js.programs()


def test_tensor_arguments_get_their_grads():
    rng = np.random.default_rng(4)

    def f(x):
        (x * x).sum().backward()
        return x.grad

    jf = ag.jit(f)
    for _ in range(4):
        a = rng.standard_normal(3)
        x = ag.tensor(a, requires_grad=True)
        np.testing.assert_array_equal(jf(x), 2 * a)
        np.testing.assert_array_equal(x.grad, 2 * a)


def test_branch_on_values_gives_one_program_per_branch():
    rng = np.random.default_rng(5)

    def f(x):
        return x * 2 if x.sum() > 0 else x - 1

    jf = ag.jit(f)
    _calls(jf, f, lambda: (rng.standard_normal(3),), n=12)
    assert len(jf.programs()) == 2


@pytest.mark.parametrize("convert", [float, int, lambda v: v.item(), lambda v: v.tolist()])
def test_python_values_of_traced_arrays_are_refused(convert):
    with pytest.raises(TraceError, match="of a traced array at .*test_jit.py"):
        ag.jit(lambda x: convert(x.sum()))(np.ones(3))


def test_numpy_constructors_of_traced_arrays_are_recorded():
    """np.array/np.asarray take no __array_function__; while a trace runs they are recorded."""
    def f(x):
        return np.array(x * 2, dtype=np.float32) + np.asarray(x, dtype=np.float32) + np.array([x[0], 1.0])

    rng = np.random.default_rng(9)
    _calls(ag.jit(f), f, lambda: (rng.standard_normal(2),))


def test_python_state_read_as_a_number_is_refused_at_the_second_call():
    state = {"k": 2.0}

    def f(x):
        return x * state["k"]  # a Python number: frozen into the trace

    jf = ag.jit(f)
    jf(np.ones(3))
    state["k"] = 3.0
    with pytest.raises(TraceError, match=r"different constants: NumPy call 0 \(multiply, at .*test_jit"):
        jf(np.full(3, 2.0))


def test_a_write_into_an_outside_array_is_refused():
    buf = np.zeros(3)

    def f(x):
        buf[...] = x  # NumPy gives no hook for a plain array's writes
        return buf.sum()

    jf = ag.jit(f)
    jf(np.ones(3))
    jf(np.ones(3))  # the same values again: no evidence either way, not compiled
    assert not jf.programs()
    with pytest.raises(TraceError, match="keep state in Tensors"):
        jf(np.full(3, 2.0))


def test_an_array_that_escapes_the_trace_is_refused_when_used():
    kept = []

    def f(x):
        kept.append(x * 2)
        return x

    ag.jit(f)(np.ones(2))
    with pytest.raises(TraceError, match="escaped the traced function"):
        kept[0] + 1


def test_signatures_and_static_arguments():
    jf = ag.jit(lambda x, n: x ** n, static_argnums=1)
    for i, (shape, n) in enumerate([((2,), 3), ((3,), 2), ((3,), 2), ((3,), 2), ((3,), 3), ((3,), 3),
                                    ((3,), 3)]):
        x = np.random.default_rng(i).standard_normal(shape)
        np.testing.assert_array_equal(jf(x, n), x ** n)
    assert len(jf.cache) == 3
    assert len(jf.programs()) == 2  # ((2,), 3) was called once: traced, not compiled
    with pytest.raises(TypeError, match="static .* must be hashable"):
        jf(np.ones(2), [1, 2])


def test_results_keep_their_structure_and_types():
    f = lambda x: {"sum": x.sum(), "pair": (x * 2, 3, "s"), "t": ag.tensor(x) * 2}  # noqa: E731
    jf = ag.jit(f)
    for i in range(4):
        got, want = jf(np.arange(3.0) + i), f(np.arange(3.0) + i)
        assert type(got["sum"]) is type(want["sum"]) and got["sum"] == want["sum"]
        np.testing.assert_array_equal(got["pair"][0], want["pair"][0])
        assert got["pair"][1:] == (3, "s") and isinstance(got["t"], ag.Tensor)
        np.testing.assert_array_equal(got["t"].data, want["t"].data)


def test_depends_on_guards_python_state():
    class Layer:
        scale = 2.0

        def __call__(self, x):
            ag.depends_on(self, "scale")
            return x * self.scale

    layer = Layer()
    jf = ag.jit(lambda x: layer(x))
    for i, s in enumerate((2.0, 2.0, 2.0, 3.0, 3.0, 3.0, 2.0)):
        layer.scale = s
        np.testing.assert_array_equal(jf(np.full(2, i)), np.full(2, s * i))
    assert len(jf.programs()) == 2


def test_read_is_computed_afresh_at_every_replay():
    state = {"lr": np.float64(0.5)}
    jf = ag.jit(lambda x: x * ag.tracing.read(lambda: state["lr"]))
    for lr in (0.5, 0.75, 0.25, 0.125):
        state["lr"] = np.float64(lr)
        np.testing.assert_array_equal(jf(np.ones(2)), np.full(2, lr))
    assert jf.programs()


def test_draw_random_draws_afresh_at_every_replay():
    rng_jit, rng_eager = np.random.default_rng(6), np.random.default_rng(6)

    def make(rng):
        def f(x):
            shape = x.shape  # (the sample function must not hold a traced array)
            return x * ag.draw_random(rng, lambda: rng.random(shape))
        return f

    jf, f = ag.jit(make(rng_jit)), make(rng_eager)
    outs = []
    for _ in range(5):
        got, want = jf(np.ones(3)), f(np.ones(3))
        np.testing.assert_array_equal(got, want)
        outs.append(got)
    assert jf.programs() and not np.array_equal(outs[-1], outs[-2])


def test_in_place_writes_on_traced_arrays_replay():
    def f(x):
        y = x.copy()
        y[0] = 5.0
        y[1:] *= 2
        np.add(y, 1, out=y)
        y.sort()
        return y

    rng = np.random.default_rng(7)
    _calls(ag.jit(f), f, lambda: (rng.standard_normal(4),))


def test_jit_inside_jit_is_inlined():
    inner = ag.jit(lambda x: x * 3)
    outer = ag.jit(lambda x: inner(x) + 1)
    rng = np.random.default_rng(8)
    _calls(outer, lambda x: x * 3 + 1, lambda: (rng.standard_normal(2),))
    assert not inner.programs()


def test_bad_arguments():
    with pytest.raises(TypeError, match="expected a function"):
        ag.jit(3)
    with pytest.raises(TypeError, match="static_argnums"):
        ag.jit(lambda x: x, static_argnums=(-1,))


def test_summary_and_picture_show_the_compiled_program():
    W = ag.tensor(np.ones((3, 2)), requires_grad=True)

    def step(x):
        W.grad = None
        ag.relu(x @ W).sum().backward()

    js = ag.jit(step)
    with pytest.raises(RuntimeError, match="no compiled program yet"):
        ag.viz.summary(js)
    for i in range(3):
        js(np.full((4, 3), i + 1.0))
    text = ag.viz.summary(js)
    assert "jit program of step" in text and "matmul" in text and "maximum" in text
    assert "outside Tensor(3, 2).data" in text and "outside Tensor.grad = v" in text
    assert "test_jit.py" in text  # each call names the user's line that made it
    pytest.importorskip("graphviz")
    src = ag.viz.draw_graph(js).source
    assert "matmul" in src and "Tensor.grad" in src


def test_without_numba_the_replay_is_plain_numpy(monkeypatch):
    from autograd_core.tracing import fusion

    monkeypatch.setattr(fusion, "numba", None)
    assert not ag.jit(np.exp).fuse
    with pytest.raises(ImportError, match=r"pip install 'autograd-core\[jit\]'"):
        ag.jit(np.exp, fuse=True)


def test_a_chain_of_elementwise_calls_is_one_fused_kernel():
    pytest.importorskip("numba")
    rng = np.random.default_rng(10)

    def f(x, w):
        g = ag.grad(lambda x: ag.sum(ag.tanh(x * w + 1.0) * x - x / 3.0))
        return g(x)

    jf = ag.jit(f, fuse=True)
    _calls(jf, f, lambda: (rng.standard_normal(16), rng.standard_normal(16)))
    prog = jf.programs()[0]
    assert len(prog.runs) == 1 and len(prog.runs[0].members) >= 8  # forward and backward fused
    assert "for k in range" in prog.runs[0].source


def test_saved_arrays_stay_read_only_while_tracing():
    """An in-place write that would corrupt a gradient raises in a traced call as it does
    eagerly (a trace must not record the corrupted gradient)."""
    W = ag.tensor(np.ones(3), requires_grad=True)

    def f(x):
        W.grad = None
        y = (W * x).sum()
        x += 1.0  # x is saved for backward
        y.backward()
        return W.grad

    with pytest.raises(ValueError, match="read-only"):
        f(np.ones(3))
    with pytest.raises(ValueError, match="read-only"):
        ag.jit(f)(np.ones(3))


def test_a_bias_add_into_a_matmul_output_fuses_with_what_follows():
    """A run may start with an in-place write into a new array nobody else shows (the bias added
    into the matmul's output) and read a broadcast operand (the bias, by row)."""
    pytest.importorskip("numba")
    rng = np.random.default_rng(11)
    W = ag.tensor(rng.standard_normal((6, 8)), requires_grad=True)
    b = ag.tensor(rng.standard_normal(6), requires_grad=True)

    def step(x):
        W.grad = b.grad = None
        h = ag.sigmoid(ag.linear(x, W, b))  # (linear adds b into its matmul's output in place)
        (h * h).sum().backward()
        return W.grad, b.grad

    js = ag.jit(step, fuse=True)
    for _ in range(5):
        x = rng.standard_normal((4, 8))
        got = [g.copy() for g in js(x)]
        for g, w in zip(got, step(x), strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-13, atol=0)
    prog = js.programs()[0]
    first = [prog.rec.code[r.members[0]] for r in prog.runs]
    assert any(ins.name == "add" and "out" in ins.kwargs for ins in first)  # in place, fused
    assert any("[j]" in r.source for r in prog.runs)  # the bias, read by column


def test_a_derivative_fuses_with_the_product_by_its_cotangent():
    """Note [fusion]: groups follow dependencies, not trace order. Sigmoid layers of 2048 values
    (over the size where exp stays NumPy's): each backward's σ' arithmetic and its product with
    the cotangent are one kernel (that product waits for the next layer's backward; the σ'
    arithmetic could run in the forward), and each layer's two exps share one np.errstate."""
    pytest.importorskip("numba")
    rng = np.random.default_rng(12)
    params = [ag.tensor(rng.standard_normal(s) / 8, requires_grad=True)
              for s in [(64, 64), (64,), (64, 64), (64,)]]
    W1, b1, W2, b2 = params

    def step(x):
        for p in params:
            p.grad = None
        h = ag.sigmoid(ag.linear(ag.sigmoid(ag.linear(x, W1, b1)), W2, b2))
        (h * h).sum().backward()
        return [p.grad for p in params]

    js = ag.jit(step, fuse=True)
    for _ in range(4):
        x = rng.standard_normal((32, 64)) * 3
        got = [g.copy() for g in js(x)]
        for g, w in zip(got, step(x), strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=0)
    prog, src = js.programs()[0], kernel_path(js.source())
    assert "multiply_" not in src  # every product by a cotangent is in a kernel
    assert src.count("errstate") == 2  # not 4: a layer's forward and backward exp in one block
    assert sum(src.count(f"{name}_") for name in ("exp",)) == 4
    backward = [r for r in prog.runs if any(prog.rec.code[m].name == "multiply" for m in r.members)]
    assert len(backward) >= 2 and all(len(r.inputs) >= 3 for r in backward)


def test_values_that_depend_on_no_input_are_computed_once():
    """Note [folding]: the backward's seed (ones, divided, reshaped, broadcast) is a constant of
    the program, and so is a constant written into a constant (a one-hot of fixed labels); an
    array written with an input, or written after the program read it, is made at every replay."""
    def f(x):
        table = np.zeros((3, 4))
        table[1] = 2.0  # a constant into a constant: folded
        row = table[1] * 3.0
        live = np.zeros(4)
        live[1:] = x[1:]  # an input written in: made afresh at every replay
        late = np.ones(4)
        early = late + x  # read by the program before the write below: not folded
        late[0] = 5.0
        return ag.grad(lambda x: ag.mean(x * x))(x), row + x, live * 2.0, early, late * x

    rng = np.random.default_rng(12)
    jf = ag.jit(f, fuse=False)
    _calls(jf, f, lambda: (rng.standard_normal(4),))
    prog = jf.programs()[0]
    assert prog.folded and all(not v.flags.writeable for v in prog.folded.values()
                               if isinstance(v, np.ndarray))
    assert prog.source.count("zeros_") == 1 and prog.source.count("ones_") == 1
    assert prog.source.count("__setitem__") == 2


def test_writes_into_the_programs_own_views_are_not_logged_for_undo():
    """Note [undo]: a write before a check is copied first only where it reaches an array from
    outside the program; a view of an array the program made (a padded buffer's interior) is
    the program's own. A failing check still gives eager's result."""
    calls = []

    def f(x, a):
        calls.append(1)
        padded = np.zeros((6,))
        inner = padded[1:5].reshape(2, 2)
        inner[...] = x.reshape(2, 2)  # the program's own memory
        a += 1.0  # an argument: logged
        if (padded > -1.0).all():
            return padded * 2.0, a
        return padded - 1.0, a

    jf = ag.jit(f, fuse=False)
    rng = np.random.default_rng(13)
    for x in [rng.random(4) for _ in range(3)] + [rng.random(4) - 5.0] + [rng.random(4)]:
        a = rng.standard_normal(2)
        ae, af = a.copy(), a.copy()
        want, n = f(x, ae), len(calls)
        got = jf(x, af)
        assert len(calls) - n <= 1  # f ran at most once
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(af, ae)  # the argument's write made once, not twice
    src = jf.programs()[0].source
    assert src.count("_u.append") == 1 and "_u.append((v1, v1.copy()))" in src  # v1: the argument


def test_zero_d_results_are_arrays_as_in_eager():
    """A 0-d op output's .data and a 0-d leaf's .grad are 0-d arrays in eager; the tracer holds
    a reduction's NumPy scalar as a traced scalar, which once came back as np.float64 (found by
    the random-graph jit check)."""
    def f(a, b):
        x, s = ag.tensor(a, requires_grad=True), ag.tensor(b, requires_grad=True)
        v = ag.vdot(x, x) * s
        v.backward()
        return [v.data, x.grad, s.grad, ag.arcsin(s * 0.5).data]

    jf = ag.jit(f, fuse=False)
    for k in range(4):
        a, b = np.arange(3.0) + k, np.array(0.5 + k / 10)
        want, got = f(a, b), jf(a, b)
        assert [(type(w), w.dtype, w.shape) for w in want] == [(type(g), g.dtype, g.shape) for g in got]
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
    assert jf.programs()


def test_a_kernel_that_sees_what_numpy_reports_runs_numpys_calls():
    """Note [fusion]: a kernel reports no floating-point errors itself; where it sees a value
    NumPy would report (a non-finite value where the call's error state warns or raises), the
    program runs the group's NumPy calls instead: eager's warnings, errors and bits."""
    pytest.importorskip("numba")
    import warnings

    def f(x):
        y = np.sqrt(x) * 3.0 + 1.0
        with np.errstate(invalid="ignore"):
            z = np.log(x) - 2.0  # (NaN quietly)
        return y * z

    jf = ag.jit(f, fuse=True)
    rng = np.random.default_rng(5)
    for _ in range(3):
        jf(rng.uniform(1, 2, 8))
    assert jf.programs()[0].runs
    bad = np.array([1.0, -1.0, 0.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    for inputs in ([rng.uniform(1, 2, 8)], [bad]):
        with warnings.catch_warnings(record=True) as want_w:
            warnings.simplefilter("always")
            want = f(*inputs)
        with warnings.catch_warnings(record=True) as got_w:
            warnings.simplefilter("always")
            got = jf(*inputs)
        assert [str(w.message) for w in got_w] == [str(w.message) for w in want_w]
        if inputs[0] is bad:
            assert want_w and got.tobytes() == want.tobytes()  # (the fallback: NumPy's own calls)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-12)
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        f(bad)
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        jf(bad)  # (traced under the default state, replayed under "raise")
    assert jf.traces == 2


def test_calls_whose_underflow_is_reported_are_not_fused():
    """An underflow leaves no trace a kernel could test, so a call traced where underflow warns
    stays a NumPy call (where it raises, it is a barrier anyway)."""
    pytest.importorskip("numba")
    import warnings

    def f(x):
        with np.errstate(under="warn"):
            return np.exp(x * 2.0) * 0.5

    jf = ag.jit(f, fuse=True)
    for k in range(3):
        jf(np.linspace(-1, 1, 8) + k)
    assert not any(ins.name == "exp" for r in jf.programs()[0].runs for ins in
                   (jf.programs()[0].rec.code[m] for m in r.members))
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        jf(np.full(8, -400.0))
    assert [str(w.message) for w in got] == ["underflow encountered in exp"]


def test_a_kernel_tests_the_values_that_could_hide_a_report():
    """Note [fusion]: a value only +, -, *, / (numerator), sqrt, log... read passes a non-finite
    value on, so the value they make is tested instead; tanh(inf) is finite, so tanh's operand
    is tested, and so is every value written out. Fewer tests, faster compiles."""
    pytest.importorskip("numba")

    def f(x):
        return np.tanh(x * 2.0 + 1.0) * 3.0 - 1.0

    jf = ag.jit(f, fuse=True)
    for k in range(3):
        jf(np.linspace(-1, 1, 8) + k)
    (run,) = jf.programs()[0].runs
    tests = [line.strip() for line in run.source.splitlines() if "bad |=" in line]
    assert tests == ["bad |= not np.isfinite(t1)", "bad |= not np.isfinite(t4)"], run.source

"""Random-graph differential tests (issue #19): the engine against independent oracles on seeded
random computation graphs over every op (tests/random_graphs.py builds them, tests/graph_checks.py
checks them).

The default run is seeded and deterministic. `--random-graphs=N` (or AG_RANDOM_GRAPHS=N) checks N
graphs, `--random-graphs-seed=S` (or AG_RANDOM_GRAPHS_SEED=S) another seed. A failure's message
holds a minimal failing graph as a runnable program.

The meta-tests plant known bugs and require the harness to find them with a minimal graph. The
plantings reach into the engine's internals; each is one small helper below (`plant_*`), so that
when the internals change only those helpers change. Everything else uses the public API.
"""

from __future__ import annotations

import collections
import functools
import os

import numpy as np
import pytest
from graph_checks import (
    CHECKS,
    check_gradients,
    check_jit,
    check_jit_second_order,
    check_second_order,
    check_torch,
    run_check,
    run_program,
    shrink,
    torch_supports,
)
from random_graphs import (
    EXCLUDED,
    F32,
    F64,
    SPECS,
    VIEWS,
    Const,
    Graph,
    Leaf,
    OpCall,
    Ref,
    Scalar,
    cotangent,
    random_graphs,
    valid,
)

import autograd_core as ag
from autograd_core import rules

DEFAULT_GRAPHS = 1000
DEFAULT_SEED = 0


@functools.cache
def seeded_graphs(n: int, seed: int) -> list[Graph]:
    return random_graphs(n, seed)


@pytest.fixture(scope="module")
def graphs(request) -> list[Graph]:
    """The graphs the checks run on: the default set, or as the options or environment say."""
    n = request.config.getoption("--random-graphs") or int(os.environ.get("AG_RANDOM_GRAPHS", DEFAULT_GRAPHS))
    seed = request.config.getoption("--random-graphs-seed")
    seed = int(os.environ.get("AG_RANDOM_GRAPHS_SEED", DEFAULT_SEED)) if seed is None else seed
    return seeded_graphs(n, seed)


@pytest.fixture(scope="module")
def default_graphs() -> list[Graph]:
    """The default set, whatever the options: what the generator's coverage and the meta-tests
    are stated for."""
    return seeded_graphs(DEFAULT_GRAPHS, DEFAULT_SEED)


# ---- the table ---------------------------------------------------------------------------------------


def test_every_op_has_a_spec():
    missing = sorted(set(rules.QUALIFIED) - set(SPECS) - set(EXCLUDED))
    assert not missing, (f"ops without a row in tests/random_graphs.py's SPEC_ROWS (or an entry with a "
                         f"reason in EXCLUDED): {missing}")


def test_specs_and_exclusions_name_public_ops():
    unknown = sorted((set(SPECS) | set(EXCLUDED)) - set(rules.QUALIFIED))
    assert not unknown, f"specs or exclusions for names not in rules.QUALIFIED: {unknown}"
    assert not set(SPECS) & set(EXCLUDED), "an op cannot have a spec and an exclusion"
    assert all(isinstance(r, str) and r.strip() for r in EXCLUDED.values()), "every exclusion needs a reason"


# Tensor methods that are not ops: nothing to generate
NOT_OPS = {"backward", "numpy", "item", "detach"}
OPERATORS = {"+": " + ", "-": " - ", "*": " * ", "/": " / ", "**": " ** ", "@": " @ ", "unary -": "-{0}",
             "x[...]": "{0}[", ".T": "{0}.T"}


def test_every_tensor_method_and_operator_is_spelled():
    forms = [f for spec in SPECS.values() for f in spec.forms]
    methods = {n for n, v in vars(ag.Tensor).items() if callable(v) and not n.startswith("_")} - NOT_OPS
    missing = sorted(m for m in methods if not any(f.startswith(f"{{0}}.{m}(") for f in forms))
    missing += sorted(op for op, s in OPERATORS.items() if not any(s in f for f in forms))
    assert not missing, f"Tensor methods or operators that no spec's forms spell: {missing}"


# ---- the generator -------------------------------------------------------------------------------------

ELEMENTWISE = {"add", "subtract", "multiply", "divide", "power", "maximum", "minimum", "where"}
VIEW_OPS = {"reshape", "transpose", "getitem", "broadcast_to", "expand_dims"}


def features(graphs: list[Graph]) -> set[str]:
    """What the graphs exercise: every op's every form, and the graph features issue #19 asks for."""
    seen: set[str] = set()
    for g in graphs:
        values, exact, typed = g.values, g.exact(), g.typed()
        uses = collections.Counter(a.index for i in g.calls for a in values[i].args if isinstance(a, Ref))
        for i, v in enumerate(values):
            if isinstance(v, Leaf):
                seen |= {f"leaf {v.dtype}", f"view {v.view}"}
            if isinstance(v, Const):
                seen.add("constant operand")
            if not isinstance(v, Const) and exact[i].ndim == 0:
                seen.add("0-d tensor")
            if uses[i] > 1 and not isinstance(v, Const):
                seen.add("fan-out")
            if not isinstance(v, OpCall):
                continue
            seen.add(f"{v.op}: {v.form}")
            refs = [a.index for a in v.args if isinstance(a, Ref) and not isinstance(values[a.index], Const)]
            if len(refs) != len(set(refs)):
                seen.add("same tensor twice in one op")
            dtypes = {typed[j].dtype for j in refs}
            if dtypes == {F32, F64}:
                seen.add("float32 and float64 operands")
            if any(isinstance(a, Scalar) and a.value is not None for a in v.args):
                seen.add("python scalar operand")
                if F32 in dtypes and typed[i].dtype == F32:
                    seen.add("python scalar keeps float32")
            if v.op in ELEMENTWISE:
                shapes = [exact[a.index].shape for a in v.args if isinstance(a, Ref)]
                if any(s != exact[i].shape and 1 in s for s in shapes):
                    seen.add("broadcast of a size-1 axis")
                if any(s == () for s in shapes) and exact[i].ndim:
                    seen.add("broadcast of a 0-d tensor")
            if any(isinstance(values[j], OpCall) and values[j].op in VIEW_OPS for j in refs):
                seen.add("view op feeding an op")
            if v.op == "getitem":
                idx = v.params["idx"]
                kinds = {"index: tensor": "ag.tensor(" in idx, "index: mask": "True" in idx,
                         "index: slice": ":" in idx, "index: list": idx.startswith("["),
                         "index: repeated integers": "np.array([" in idx and "True" not in idx}
                seen |= {k for k, hit in kinds.items() if hit}
    return seen


def test_graphs_cover_every_op_form_and_feature(default_graphs):
    seen = features(default_graphs)
    wanted = {f"{name}: {form}" for name, spec in SPECS.items() for form in spec.forms}
    wanted |= {f"leaf {F32}", f"leaf {F64}", "constant operand", "0-d tensor", "fan-out",
               "same tensor twice in one op", "float32 and float64 operands", "python scalar operand",
               "python scalar keeps float32", "broadcast of a size-1 axis", "broadcast of a 0-d tensor",
               "view op feeding an op", "index: repeated integers", "index: list", "index: mask",
               "index: slice", "index: tensor"}
    wanted |= {f"view {v}" for v in [None, *VIEWS]}
    missing = sorted(wanted - seen)
    assert not missing, f"{len(default_graphs)} random graphs never exercise: {missing}"


def test_graphs_are_deterministic_and_valid():
    a, b = random_graphs(20, 3), random_graphs(20, 3)
    for g, h in zip(a, b, strict=True):
        assert [type(v).__name__ for v in g.values] == [type(v).__name__ for v in h.values], g.label
        assert all(np.array_equal(x, y) for x, y in zip(g.exact(), h.exact(), strict=True)), g.label
        assert valid(g.values, g.output), g.label
    assert any(len(g.values) != len(h.values) or not all(
        np.array_equal(x, y) for x, y in zip(g.exact(), h.exact(), strict=False))
        for g, h in zip(a, random_graphs(20, 4), strict=True)), "another seed gives the same graphs"


# ---- the checks on random graphs -----------------------------------------------------------------------


def fail_with(reports: list[str]) -> None:
    """Fail with the reports as the whole message (each ends in a runnable program)."""
    if reports:
        pytest.fail("\n\n".join(reports), pytrace=False)


@pytest.mark.parametrize("check", ["forward", "gradients", "grad_state", "saved_arrays"])
def test_random_graphs(check, graphs):
    fail_with(run_check(check, graphs))


def test_random_graphs_second_order(graphs):
    float64 = [g for g in graphs if not g.has_float32()]
    assert len(float64) >= len(graphs) // 5, "too few float64 graphs for the second-order check"
    reports = []
    for mode, part in (("create_graph", float64[::2]), ("grad", float64[1::2])):
        check = functools.partial(check_second_order, mode=mode)
        reports += run_check(f"second_order ({mode})", part, check=check)
    fail_with(reports)


def test_random_graphs_under_jit(graphs):
    """ag.jit's plain replay of every graph's forward and backward gives eager's bits."""
    fail_with(run_check("jit", graphs))


def test_random_graphs_second_order_under_jit(graphs):
    """ag.jit's plain replay of a Hessian-vector product (ag.grad over ag.vjp: a recorded sweep
    traced) gives eager's bits, on the float64 graphs."""
    float64 = [g for g in graphs if not g.has_float32()]
    fail_with(run_check("jit second_order", float64, check=check_jit_second_order))


def test_random_graphs_under_jit_fused(graphs):
    """Fused kernels (numba) on a sample of the graphs agree with eager (compiling is slow)."""
    pytest.importorskip("numba", reason="numba is not installed: pip install -e '.[jit]'")
    fail_with(run_check("jit (fused)", graphs[::25], check=functools.partial(check_jit, fuse=True)))


def test_random_graphs_against_torch(graphs):
    pytest.importorskip("torch", reason="PyTorch is not installed: pip install torch==2.13.0 (the CPU build)")
    supported = [g for g in graphs if torch_supports(g)]
    assert len(supported) >= 0.8 * len(graphs), f"only {len(supported)} graphs have a PyTorch version"
    fail_with(run_check("torch", supported))


# ---- fixed graphs: the reported issues, whatever the random graphs hit ----------------------------------


def leaf(values, dtype=F64) -> Leaf:
    """A leaf holding `values` (contiguous) in `dtype`."""
    base = np.asarray(values, dtype=F64)
    return Leaf(base, np.dtype(dtype), base.shape)


def call(op: str, form: str, *args, **params: str) -> OpCall:
    """An op call; int arguments are earlier values, floats Python scalars."""
    return OpCall(op, form, tuple(Ref(a) if isinstance(a, int) else Scalar(a) for a in args), params)


def fixed(label: str, *values) -> Graph:
    """A graph of these values, its output the last."""
    graph = Graph(list(values), len(values) - 1, np.zeros(0), label)
    graph.cot = cotangent(graph.exact()[graph.output].shape)
    assert valid(graph.values, graph.output), label
    return graph


SUM_ALL = {"kw": "", "kw_": "", "axis": "None", "keepdims": "False"}
ISSUE_GRAPHS = [
    # a saved view of a leaf's data is locked, the leaf's data itself is not
    fixed("x[1:] * w", leaf([1.0, -2.0, 0.5, 3.0]), leaf([0.5, -1.0, 2.0]),
          call("getitem", "{0}[{idx}]", 0, idx="1:", np_idx="1:"), call("multiply", "{0} * {1}", 2, 1)),
    fixed("x @ W.T", leaf([[1.0, 2.0, -1.0], [0.5, 0.0, 1.5]]), leaf([[0.2, -0.4, 1.0], [1.5, 0.3, -0.7]]),
          call("transpose", "{0}.T", 1, axes="None"), call("matmul", "{0} @ {1}", 0, 2)),
    fixed("x.reshape(-1) * w", leaf([[1.0, 2.0], [-1.0, 0.5]]), leaf([0.3, -1.2, 2.0, 0.7]),
          call("reshape", "{0}.reshape({shape})", 0, shape="-1"), call("multiply", "{0} * {1}", 2, 1)),
    fixed("ag.broadcast_to(x, (2, 3)) * w", leaf([1.0, -2.0, 0.5]), leaf([[0.1, 0.2, 0.3], [-1.0, 2.0, 0.5]]),
          call("broadcast_to", "ag.broadcast_to({0}, {shape})", 0, shape="(2, 3)"),
          call("multiply", "{0} * {1}", 2, 1)),
    fixed("einsum('...ij,...jk->...') with broadcast batch axes", leaf(np.arange(6.0).reshape(1, 2, 3) / 4),
          leaf(np.arange(24.0).reshape(4, 3, 2) / 8 - 1),
          call("einsum", "ag.einsum({eq}, {args})", 0, 1, eq="'...ij,...jk->...'")),
    fixed("x.sum() * 3.0 with x of one element", leaf([0.7]), call("sum", "{0}.sum({kw})", 0, **SUM_ALL),
          call("multiply", "{0} * {1}", 1, 3.0)),
    fixed("x.mean(axis=1) with x (2, 1)", leaf([[0.7], [-0.3]]),
          call("mean", "{0}.mean({kw})", 0, kw="axis=1", kw_=", axis=1", axis="1", keepdims="False")),
    fixed("linear: float32 x and W, float64 b", leaf([[1.0, 2.0, -1.0], [0.5, 0.25, 1.5]], F32),
          leaf([[0.25, -0.5, 1.0], [1.5, 0.25, -0.75]], F32), leaf([0.5, -1.5]),
          call("linear", "ag.linear({args})", 0, 1, 2)),
    fixed("conv2d: float32 x and W, float64 b", leaf(np.arange(18.0).reshape(1, 2, 3, 3) / 8, F32),
          leaf(np.arange(16.0).reshape(2, 2, 2, 2) / 16 - 0.5, F32), leaf([0.5, -1.5]),
          call("conv2d", "ag.conv2d({args}, stride={stride}, padding={padding})", 0, 1, 2, stride="1",
               padding="0", stride_t="(1, 1)", padding_t="(0, 0)")),
    # found by the second-order check: x ** y at y == 0 (power's VJP special-cases y == 0 for x == 0)
    fixed("x ** y at y = 0", leaf([0.9, 1.5]), leaf([0.0, 0.5]), call("power", "{0} ** {1}", 0, 1)),
]


@pytest.mark.parametrize("graph", ISSUE_GRAPHS, ids=lambda g: g.label)
def test_issue_graphs(graph):
    """Every check on small fixed graphs from the issues (each catches at least one defect of the
    engine as reported; after the fixes, they guard against a return)."""
    names = ("forward", "gradients", "grad_state", "saved_arrays")
    failures = [f for name in names if (f := CHECKS[name](graph))]
    if not graph.has_float32():
        failures += [f for mode in ("create_graph", "grad") if (f := check_second_order(graph, mode))]
    fail_with([f"{f.check} check: {f.kind}\n{f.error}\n\n{f.program}" for f in failures])


# ---- meta-tests: planted bugs must be found, with a minimal graph ---------------------------------------


def plant_vjp_off_by_0_1_percent(monkeypatch: pytest.MonkeyPatch) -> None:
    """multiply's VJP returns its first input's cotangent 0.1% too large."""
    rule = ag.multiply.vjp

    def off(g, ans, x, y, *, needs):
        gx, gy = rule(g, ans, x, y, needs=needs)
        return (None if gx is None else gx * 1.001), gy

    monkeypatch.setattr(ag.multiply, "vjp", off)


def plant_scatter_without_accumulation(monkeypatch: pytest.MonkeyPatch) -> None:
    """getitem's VJP assigns the cotangent into zeros (`out[index] = g`) instead of adding it
    (`np.add.at`): of a repeated integer index only one cotangent survives."""
    getitem = rules.PRIMITIVES["getitem"]

    def assign(g, ans, x, *, index):
        g = np.asarray(g)
        out = np.zeros(np.shape(x), dtype=g.dtype)
        out[index] = g
        return (out,)

    monkeypatch.setattr(getitem, "vjp", assign)


def plant_create_graph_vjp_off_by_0_1_percent(monkeypatch: pytest.MonkeyPatch) -> None:
    """tanh's VJP is 0.1% off in a recorded (create_graph) sweep only: first-order gradients are
    right, second-order ones are not."""
    rule = ag.tanh.vjp

    def off(g, ans, x):
        (gx,) = rule(g, ans, x)
        return (gx * 1.001 if isinstance(g, ag.Tensor) else gx,)

    monkeypatch.setattr(ag.tanh, "vjp", off)


def plant_replay_tanh_one_ulp_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """A jit program calls a tanh one ulp above NumPy's: eager and the traces are right, only
    the replays are off."""
    from autograd_core.tracing.program import Program

    def tanh_up(x, *args, **kwargs):
        y = np.tanh(x, *args, **kwargs)
        return np.nextafter(y, np.inf).astype(y.dtype)

    name = Program._name

    def planted(self, obj, prefix):
        return name(self, tanh_up if obj is np.tanh else obj, prefix)

    monkeypatch.setattr(Program, "_name", planted)


def find_planted(monkeypatch, plant, check, graphs: list[Graph]):
    """The first graph that fails `check` with the bug planted and passes without it, shrunk."""
    plant(monkeypatch)
    for g in graphs:
        failure = check(g)
        if failure is None:
            continue
        monkeypatch.undo()
        clean = check(g)  # not one of the engine's own defects
        plant(monkeypatch)
        if clean is None:
            return shrink(failure, check)
    pytest.fail(f"no graph among {len(graphs)} fails with the bug planted by {plant.__name__}")


def assert_snippet_reproduces(monkeypatch, plant, failure) -> None:
    """The printed program fails with the bug planted and passes without it."""
    e, _ = run_program(failure.program)
    assert isinstance(e, AssertionError), f"with the bug planted the snippet gives {e!r}:\n{failure.program}"
    monkeypatch.undo()
    e, _ = run_program(failure.program)
    assert e is None, f"without the planted bug the snippet fails ({e!r}):\n{failure.program}"
    plant(monkeypatch)


def test_harness_finds_a_vjp_off_by_0_1_percent(monkeypatch, default_graphs):
    failure = find_planted(monkeypatch, plant_vjp_off_by_0_1_percent, check_gradients, default_graphs)
    ops_left = [failure.graph.values[i].op for i in failure.graph.calls]
    # one call: multiply, or a composite that records it (the snippet check below shows it is)
    assert len(ops_left) == 1, f"not minimal: {ops_left}\n{failure.program}"
    assert_snippet_reproduces(monkeypatch, plant_vjp_off_by_0_1_percent, failure)
    report = "\n".join(run_check("gradients", [failure.graph]))
    assert "minimal failing graph" in report and failure.program in report, report


def test_harness_finds_a_scatter_without_accumulation(monkeypatch, default_graphs):
    failure = find_planted(monkeypatch, plant_scatter_without_accumulation, check_gradients, default_graphs)
    calls = [failure.graph.values[i] for i in failure.graph.calls]
    assert len(calls) == 1, f"not minimal:\n{failure.program}"  # getitem, or take & co.
    if calls[0].op == "getitem":
        idx = calls[0].params["np_idx"]
        assert "[" in idx, f"the minimal graph indexes without integer arrays: {idx}"
    assert_snippet_reproduces(monkeypatch, plant_scatter_without_accumulation, failure)


def test_harness_finds_a_wrong_second_order_vjp(monkeypatch, default_graphs):
    float64 = [g for g in default_graphs if not g.has_float32()]
    for mode in ("create_graph", "grad"):
        check = functools.partial(check_second_order, mode=mode)
        failure = find_planted(monkeypatch, plant_create_graph_vjp_off_by_0_1_percent, check, float64)
        ops_left = [failure.graph.values[i].op for i in failure.graph.calls]
        assert "tanh" in ops_left and len(ops_left) <= 2, f"not minimal: {ops_left}\n{failure.program}"
        assert_snippet_reproduces(monkeypatch, plant_create_graph_vjp_off_by_0_1_percent, failure)


def test_torch_check_finds_a_vjp_off_by_0_1_percent(monkeypatch, default_graphs):
    pytest.importorskip("torch", reason="PyTorch is not installed: pip install torch==2.13.0 (the CPU build)")
    supported = [g for g in default_graphs if torch_supports(g)]
    failure = find_planted(monkeypatch, plant_vjp_off_by_0_1_percent, check_torch, supported)
    assert len(failure.graph.calls) == 1, failure.program  # multiply, or a composite recording it
    assert_snippet_reproduces(monkeypatch, plant_vjp_off_by_0_1_percent, failure)


def test_jit_check_finds_a_replay_one_ulp_off(monkeypatch, default_graphs):
    with_tanh = [g for g in default_graphs if any(g.values[i].op == "tanh" for i in g.calls)]
    failure = find_planted(monkeypatch, plant_replay_tanh_one_ulp_off, check_jit, with_tanh)
    assert failure.kind == "[jit bits]", failure.error
    assert len(failure.graph.calls) == 1, f"not minimal:\n{failure.program}"
    assert_snippet_reproduces(monkeypatch, plant_replay_tanh_one_ulp_off, failure)


def test_jit_second_order_check_finds_a_replay_one_ulp_off(monkeypatch, default_graphs):
    with_tanh = [g for g in default_graphs if not g.has_float32()
                 and any(g.values[i].op == "tanh" for i in g.calls)]
    failure = find_planted(monkeypatch, plant_replay_tanh_one_ulp_off, check_jit_second_order, with_tanh)
    assert failure.kind == "[jit bits]", failure.error
    assert_snippet_reproduces(monkeypatch, plant_replay_tanh_one_ulp_off, failure)


def test_shrinking_keeps_the_failure_and_leaves_a_valid_graph(monkeypatch, default_graphs):
    """Shrinking a failing graph gives a smaller valid graph that fails the same way."""
    plant_vjp_off_by_0_1_percent(monkeypatch)
    failure = next(f for g in default_graphs
                   if len(g.calls) >= 6 and (f := check_gradients(g)) is not None and f.kind == "[grad]")
    big = failure.graph
    small = shrink(failure, check_gradients)
    assert small.kind == failure.kind and valid(small.graph.values, small.graph.output)
    assert len(small.graph.calls) < len(big.calls), small.program
    again = check_gradients(small.graph)
    assert again is not None and again.program == small.program, "the shrunk graph does not fail the same way"

"""Checks of the engine on random graphs (tests/random_graphs.py), shrinking, and reports.

Every check writes a Python program (the graph's leaves and op calls, then the check's asserts,
with the expected values written out) and runs it: what fails is exactly the runnable snippet a
report prints. Expected values never come from the engine's own gradients:
- forward: the float64 NumPy oracle's values; dtypes by NumPy's promotion of the same operands
  (NumPy 2: Python scalars are weak, float32 with a float64 array gives float64);
- gradients: central differences of the float64 NumPy oracle;
- second order: central differences of the engine's first-order gradient (float64 graphs);
- torch: PyTorch's float64 gradients (graphs whose every op has a torch template).
- jit: the graph's forward and backward under `ag.jit` against the same run eagerly, on five
  input sets (two traces, three replays): bitwise for the plain replay, within a tolerance for
  fused kernels (numba); and a Hessian-vector product (ag.grad over ag.vjp) the same way.

On a failure the graph is shrunk (drop ops, replace an op's output by a fresh leaf, bypass an op,
simplify leaves) while the same check still fails the same way, and the minimal program is
printed.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from random_graphs import (
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
    compile_call,
    cotangent,
    numeric_gradients,
    render,
    rounded,
    torch_namespace,
    valid,
)

# Pass rule, elementwise: |got - expected| <= atol * max(1, max|expected|) + rtol * |expected|.
# float64: the oracle's differences are good to ~1e-10, so a VJP 0.1% off fails by far.
# float32: the engine rounds to float32 in every op, the oracle does not; on thousands of graphs
# that stays below 2e-6 relative, so these leave room and still fail a VJP 0.1% off.
TOLERANCES = {"float64": (1e-9, 1e-9), "float32": (1e-5, 1e-5)}  # forward (rtol, atol)
GRAD_TOLERANCES = {"float64": (1e-6, 1e-7), "float32": (3e-5, 3e-5)}
HVP_TOLERANCE = (1e-5, 1e-6)
WRITE = 0.5  # what the saved-arrays check adds in place to every element it can write


@dataclass
class Failure:
    """A check that failed on a graph: `program` is the runnable snippet that fails."""

    check: str
    kind: str  # what failed, for the shrinker: an assert's "[tag]" or "<Error> in <op>"
    graph: Graph
    program: str
    error: str


# ---- programs ---------------------------------------------------------------------------------------

HEADER = '''import warnings

import numpy as np

import autograd_core as ag

warnings.simplefilter("error", RuntimeWarning)  # as the test suite's configuration does


def leaf(a):
    """A Tensor that requires grad holding exactly `a` (ag.tensor would copy: a view's strides
    and its base are part of what is tested)."""
    t = ag.tensor(np.zeros((), a.dtype), requires_grad=True)
    t.data = a
    return t

'''


def literal(a, dtype: bool = True) -> str:
    """Source text that rebuilds array `a` exactly (graph values have few decimals)."""
    a = np.asarray(a)
    body = np.array2string(a, separator=", ", threshold=10 ** 6, max_line_width=100, prefix="np.array(",
                           floatmode="unique" if a.dtype.kind == "f" else "maxprec")
    kind = {"f": f", dtype=np.{a.dtype}" if dtype and a.dtype != F64 else "", "b": "", "i": "", "u": ""}
    return f"np.array({body}{kind[a.dtype.kind]})"


def expected_literal(a) -> str:
    """An expected float64 array, to 12 significant digits (the tolerances are far coarser)."""
    a = np.asarray(a, dtype=F64)
    body = np.array2string(a, separator=", ", threshold=10 ** 6, max_line_width=100, prefix="np.array(",
                           precision=12, floatmode="maxprec")
    return f"np.array({body})"


def leaf_source(leaf: Leaf) -> str:
    src = literal(leaf.base)  # float64 numbers, cast to the leaf's dtype by NumPy as the harness does
    if leaf.dtype != F64:
        src = src[:-1] + f", dtype=np.{leaf.dtype})"
    return src if leaf.view is None else VIEWS[leaf.view][2].format(src, shape=leaf.shape)


def operand_source(graph: Graph, op) -> str:
    if isinstance(op, Scalar):
        return f"({op.value!r})" if isinstance(op.value, (int, float)) and op.value < 0 else repr(op.value)
    return graph.name(op.index)


def call_source(graph: Graph, call: OpCall) -> str:
    return render(call.form, [operand_source(graph, a) for a in call.args], call.params)


def graph_lines(graph: Graph) -> list[str]:
    """One line per value: leaves, constants and op calls."""
    lines = []
    for i, v in enumerate(graph.values):
        if isinstance(v, Leaf):
            src = f"leaf({leaf_source(v)})"
        elif isinstance(v, Const):
            src = literal(v.array)
        else:
            src = call_source(graph, v)
        lines.append(f"{graph.name(i)} = {src}")
    return lines


def program(graph: Graph, check_lines: list[str]) -> str:
    body = graph_lines(graph) + [f"cot = {literal(graph.cot)}", ""] + check_lines
    return HEADER + "\n".join(body) + "\n"


def run_program(src: str, namespace: dict | None = None) -> tuple[BaseException | None, dict]:
    ns = {"__name__": "random_graph"} if namespace is None else namespace
    try:
        exec(compile(src, "<random graph>", "exec"), ns)  # noqa: S102 (our own generated program)
    except Exception as e:  # noqa: BLE001 (any error of the engine is a failure to report)
        return e, ns
    return None, ns


def failure_kind(graph: Graph, src: str, e: BaseException) -> str:
    """What failed, stable under shrinking: an assert's "[tag]", or the error and the op (or
    check statement) that raised it."""
    tag = re.search(r"\[[^\]\n]+\]", str(e)) if isinstance(e, AssertionError) else None
    if tag:
        return tag.group(0)
    where = "check"
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        if frame.filename == "<random graph>":
            stmt = src.splitlines()[frame.lineno - 1]
            name = stmt.split(" = ")[0].strip()
            where = next((graph.values[i].op for i in graph.calls if graph.name(i) == name),
                         "backward" if ".backward(" in stmt else "check")
            break
    return f"{type(e).__name__} in {where}"


def execute(check: str, graph: Graph, lines: list[str]) -> Failure | None:
    src = program(graph, lines)
    e, _ = run_program(src)
    if e is None:
        return None
    return Failure(check, failure_kind(graph, src, e), graph, src, f"{type(e).__name__}: {e}")


def tolerance(graph: Graph, table: dict) -> tuple[float, float]:
    return table["float32" if graph.has_float32() else "float64"]


def assert_close(got: str, expected, tol: tuple[float, float], tag: str) -> str:
    rtol, atol = tol
    scale = max(1.0, float(np.max(np.abs(expected)))) if np.size(expected) else 1.0
    return (f"np.testing.assert_allclose({got}, {expected_literal(expected)}, rtol={rtol:g}, "
            f"atol={atol * scale:.3g}, err_msg={tag!r})")


# ---- the checks ---------------------------------------------------------------------------------------


def check_forward(graph: Graph) -> Failure | None:
    """Every op call's value against the float64 NumPy oracle, and its dtype against NumPy's
    promotion of the same operands."""
    exact, typed, tol = graph.exact(), graph.typed(), tolerance(graph, TOLERANCES)
    lines = []
    for i in graph.calls:
        n = graph.name(i)
        lines += [f"assert isinstance({n}, ag.Tensor), '[not a Tensor] {n} is ' + type({n}).__name__",
                  f"assert {n}.dtype == np.{typed[i].dtype}, "
                  f"f'[dtype] {n} is {{{n}.dtype}}; NumPy gives {typed[i].dtype} for the same operands'",
                  assert_close(f"{n}.data", exact[i], tol, f"[value] {n} (float64 NumPy oracle)")]
    return execute("forward", graph, lines)


def _backward(graph: Graph, create_graph: bool = False) -> str:
    extra = ", create_graph=True" if create_graph else ""
    return f"{graph.name(graph.output)}.backward(cot{extra})  # d<output, cot>/d(leaf) into each leaf's .grad"


def _grad_asserts(graph: Graph, expected: dict[int, np.ndarray], tag: str, tol) -> list[str]:
    lines = []
    for i, g in expected.items():
        n = graph.name(i)
        if not np.any(g):  # no dependence (e.g. only through sign): None is allowed too
            close = assert_close(f"{n}.grad", g, tol, f"[{tag}] {n}")
            lines.append(f"if {n}.grad is not None:\n    {close}")
            continue
        lines += [f"assert {n}.grad is not None, '[{tag}] {n}.grad is None'",
                  assert_close(f"{n}.grad", g, tol, f"[{tag}] {n}")]
    return lines


def check_gradients(graph: Graph) -> Failure | None:
    """Every leaf's .grad after backward against central differences of the NumPy oracle."""
    fd = numeric_gradients(graph)
    lines = ["# expected: central differences of a float64 NumPy oracle of the same graph", _backward(graph)]
    tol = tolerance(graph, GRAD_TOLERANCES)
    return execute("gradients", graph, lines + _grad_asserts(graph, fd, "grad", tol))


def check_grad_state(graph: Graph) -> Failure | None:
    """After backward every .grad is the caller's own array: an ndarray of the leaf's shape and
    dtype, writeable, sharing memory with no other .grad, leaf data (or its base), constant or
    the cotangent."""
    fd = numeric_gradients(graph)
    lines = [_backward(graph)]
    grads, held = [], ["'cot': cot"]
    for i in graph.leaves:
        n = graph.name(i)
        asserts = [f"g = {n}.grad",
                   f"assert type(g) is np.ndarray, f'[grad type] {n}.grad is a {{type(g).__name__}}'",
                   f"assert g.shape == {n}.shape and g.dtype == {n}.dtype, "
                   f"f'[grad shape/dtype] {n}.grad is {{g.shape}} {{g.dtype}}, "
                   f"{n} is {{{n}.shape}} {{{n}.dtype}}'",
                   f"assert g.flags.writeable, '[read-only grad] {n}.grad'"]
        if not np.any(fd[i]):  # a zero gradient may be None
            asserts = [f"if {n}.grad is not None:"] + [f"    {a}" for a in asserts]
        lines += asserts
        grads.append(f"'{n}.grad': {n}.grad")
        held.append(f"'{n}.data': {n}.data")
        if graph.values[i].view is not None:
            held.append(f"'{n}.data.base': {n}.data.base")
    consts = [graph.name(i) for i, v in enumerate(graph.values) if isinstance(v, Const)]
    held += [f"'{n}': {n}" for n in consts]
    lines += [f"grads = {{{', '.join(grads)}}}",
              f"held = {{{', '.join(held)}}}  # arrays the caller holds",
              "for name, g in grads.items():",
              "    for other, a in {**grads, **held}.items():",
              "        assert g is None or a is None or other == name or not np.shares_memory(g, a), \\",
              "            f'[shared memory] {name} shares memory with {other}'"]
    return execute("grad_state", graph, lines)


def check_saved_arrays(graph: Graph) -> Failure | None:
    """After the forward, write into every leaf's data and every float constant (then, in a second
    run, also through the base of every leaf that is a view); a write may be refused (read-only),
    but backward must still give the gradients at the original values (an op that never reads a
    value may let it be written)."""
    fd = numeric_gradients(graph)
    tol = tolerance(graph, GRAD_TOLERANCES)
    for through_base in (False, True):
        if through_base and not any(isinstance(v, Leaf) and v.view for v in graph.values):
            break
        tag = "grad after write through a base" if through_base else "grad after write"
        lines = ["def write(a):",
                 f"    \"\"\"Add {WRITE} in place to every element of `a`, unless it is read-only.\"\"\"",
                 "    try:",
                 f"        a += {WRITE}",
                 "    except ValueError:  # read-only: the engine refused the write, as it may",
                 "        pass",
                 ""]
        for i, v in enumerate(graph.values):
            n = graph.name(i)
            if isinstance(v, Leaf):
                lines.append(f"write({n}.data)")
                if through_base and v.view is not None:
                    lines.append(f"write({n}.data.base)  # {n}.data is a view of it")
            elif isinstance(v, Const) and v.array.dtype.kind == "f":
                lines.append(f"write({n})")
        lines += ["# expected: the oracle's gradients at the values before the writes", _backward(graph)]
        failure = execute("saved_arrays", graph, lines + _grad_asserts(graph, fd, tag, tol))
        if failure is not None:
            if through_base and not failure.kind.startswith("["):  # (an error, not an assert)
                failure.kind += " after writes through a base"
            return failure
    return None


def _direction(shape: tuple, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(-8, 9, shape) / 8


def with_leaves(graph: Graph, arrays: dict[int, np.ndarray]) -> Graph:
    """The graph with these float64 arrays as its leaves (contiguous)."""
    values = [Leaf(arrays[i], F64, v.shape) if i in arrays else v for i, v in enumerate(graph.values)]
    return Graph(values, graph.output, graph.cot, graph.label)


def engine_gradients(graph: Graph) -> dict[int, np.ndarray] | Failure:
    """The engine's first-order gradient of every leaf (a Failure where backward raises)."""
    lines = [_backward(graph)] + [f"GRADS[{i}] = {graph.name(i)}.grad" for i in graph.leaves]
    e, ns = run_program(program(graph, lines), {"__name__": "random_graph", "GRADS": {}})
    if e is not None:
        return execute("second_order", graph, [_backward(graph)]) or Failure(
            "second_order", type(e).__name__, graph, program(graph, lines), f"{type(e).__name__}: {e}")
    return {i: np.zeros(graph.values[i].shape) if g is None else np.asarray(g, F64)
            for i, g in ns["GRADS"].items()}


def check_second_order(graph: Graph, mode: str = "create_graph", step: float = 2e-4) -> Failure | None:
    """Hessian-vector products by `backward(create_graph=True)` (mode "create_graph") or
    `ag.grad` over `ag.vjp` (mode "grad"), against 5-point central differences of the engine's
    own first-order gradient along the same direction (float64 graphs)."""
    first = engine_gradients(graph)
    if isinstance(first, Failure):  # the first order fails already (the gradients check says so too)
        return first
    leaves = graph.leaves
    x = {i: graph.values[i].array().astype(F64) for i in leaves}
    direction = {i: _direction(graph.values[i].shape, i) for i in leaves}
    g = []
    for k in (-2, -1, 1, 2):
        gk = engine_gradients(with_leaves(graph, {i: x[i] + k * step * direction[i] for i in leaves}))
        if isinstance(gk, Failure):  # the first order fails at a point next to the graph's only
            return gk
        g.append(gk)
    hvp = {i: (8 * (g[2][i] - g[1][i]) - (g[3][i] - g[0][i])) / (12 * step) for i in leaves}
    names = [graph.name(i) for i in leaves]
    dirs = [f"d{i}" for i in leaves]
    lines = [f"d{i} = {literal(direction[i])}  # direction for {graph.name(i)}" for i in leaves]
    if mode == "create_graph":
        pairs = ", ".join(f"({n}, {d})" for n, d in zip(names, dirs, strict=True))
        lines += [_backward(graph, create_graph=True),
                  f"terms = [ag.sum(t.grad * d) for t, d in [{pairs}] if t.grad is not None]",
                  f"for t in [{', '.join(names)}]:",
                  "    t.grad = None",
                  "gv = sum(terms[1:], terms[0]) if terms else None  # <grad, d>",
                  "if gv is not None and gv.requires_grad:",
                  "    gv.backward()"]
        lines += [f"h{i} = {n}.grad if {n}.grad is not None else np.zeros({n}.shape)"
                  for i, n in zip(leaves, names, strict=True)]
    else:
        args = ", ".join(names)
        leaf_lines = tuple(f"{n} = " for n in names)  # (the leaves are f's arguments)
        body = [f"    {line}" for line in graph_lines(graph) if not line.startswith(leaf_lines)]
        lines += [f"def f({args}):", *body, f"    return {graph.name(graph.output)}", "",
                  f"def gv({args}):  # <grad of <f, cot>, d>",
                  f"    _, pullback = ag.vjp(f, {args})",
                  f"    return sum(ag.sum(g * d) for g, d in zip(pullback(cot), [{', '.join(dirs)}]))", "",
                  f"hs = ag.grad(gv, argnums={tuple(range(len(leaves)))})"
                  f"({', '.join(f'{n}.data' for n in names)})"]
        lines += [f"h{i} = hs[{k}].data" for k, i in enumerate(leaves)]
    lines.append("# expected: central differences of the engine's first-order gradient along d")
    lines += [assert_close(f"h{i}", hvp[i], HVP_TOLERANCE, f"[hvp] {graph.name(i)}") for i in leaves]
    return execute("second_order", graph, lines)


def torch_supports(graph: Graph) -> bool:
    try:
        for i in graph.calls:
            call = graph.values[i]
            torch_src = SPECS[call.op].torch
            if torch_src is None:
                return False
            render(torch_src, ["_"] * len(call.args), call.params)
    except KeyError:
        return False
    return True


def torch_forward_and_gradients(graph: Graph) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """PyTorch's float64 output and d<output, cot>/d(leaf) for the graph (all leaves float64)."""
    ns = torch_namespace()
    torch = ns["torch"]
    results: list = []
    leaves = {}
    for i, v in enumerate(graph.values):
        if isinstance(v, Leaf):
            leaves[i] = torch.tensor(v.array().astype(F64), requires_grad=True)
            results.append(leaves[i])
        elif isinstance(v, Const):
            a = v.array
            results.append(torch.tensor(a.astype(F64) if a.dtype.kind == "f" else a))
        else:
            fn = compile_call(SPECS[v.op].torch, v, ns, "torch")
            results.append(fn(*[a.value if isinstance(a, Scalar) else results[a.index] for a in v.args]))
    out = results[graph.output]
    (out * torch.tensor(graph.cot)).sum().backward()
    grads = {i: np.zeros(t.shape) if t.grad is None else t.grad.numpy() for i, t in leaves.items()}
    return out.detach().numpy(), grads


def check_torch(graph: Graph) -> Failure | None:
    """Every leaf's .grad against PyTorch's (float64). The NumPy oracle's forward must agree with
    PyTorch's first: a disagreement is a wrong template in the spec table, not an engine bug."""
    out, grads = torch_forward_and_gradients(graph)
    np.testing.assert_allclose(out, graph.exact()[graph.output], rtol=1e-10, atol=1e-10,
                               err_msg=f"the NumPy and torch references of {graph.label} disagree")
    lines = ["# expected: PyTorch's float64 gradients of the same graph", _backward(graph)]
    return execute("torch", graph, lines + _grad_asserts(graph, grads, "grad vs torch",
                                                         tolerance(graph, GRAD_TOLERANCES)))


SCALES = (1.0, 0.96875, 0.9375, 0.90625, 0.875)  # the jit check's input sets: the leaves' bases scaled
JIT_TOLERANCES = {"float64": (1e-9, 1e-9), "float32": (1e-4, 1e-4)}  # fused kernels (rtol, atol)


def check_jit(graph: Graph, fuse: bool = False) -> Failure | None:
    """`ag.jit` of the graph's forward and backward, as a function of the leaves' arrays, against
    the same function run eagerly, on five input sets (each leaf's base scaled, same layouts):
    the first two calls trace, the others replay. The plain replay (fuse=False) must give eager's
    bits and raise eager's errors; fused kernels (fuse=True) agree within JIT_TOLERANCES."""
    leaves = graph.leaves
    out = graph.name(graph.output)
    body = [f"    {graph.name(i)} = leaf(A{i})" for i in leaves]
    body += [f"    {line}" for line, i in zip(graph_lines(graph), range(len(graph.values)), strict=True)
             if i not in leaves]
    grads = ", ".join(f"{graph.name(i)}.grad" for i in leaves)
    lines = [f"def f({', '.join(f'A{i}' for i in leaves)}):  # the graph and its backward, from the "
             "leaves' arrays", *body, f"    {out}.backward(cot)", f"    return [{out}.data, {grads}]", ""]
    return execute("jit (fused)" if fuse else "jit", graph, lines + _jit_against_eager(graph, "f", fuse))


def check_jit_second_order(graph: Graph) -> Failure | None:
    """`ag.jit` (plain replay) of a Hessian-vector product by `ag.grad` over `ag.vjp` (the second
    order check's "grad" mode), against the same function run eagerly: eager's bits."""
    leaves = graph.leaves
    names = [graph.name(i) for i in leaves]
    args = ", ".join(names)
    leaf_lines = tuple(f"{n} = " for n in names)  # (the leaves are f's arguments)
    body = [f"    {line}" for line in graph_lines(graph) if not line.startswith(leaf_lines)]
    dirs = ", ".join(literal(_direction(graph.values[i].shape, i)) for i in leaves)
    arrays = ", ".join(f"A{i}" for i in leaves)
    lines = [f"def f({args}):", *body, f"    return {graph.name(graph.output)}", "",
             f"def gv({args}):  # <grad of <f, cot>, d>",
             f"    _, pullback = ag.vjp(f, {args})",
             f"    return sum(ag.sum(g * d) for g, d in zip(pullback(cot), [{dirs}]))", "",
             f"def hvp({arrays}):",
             f"    hs = ag.grad(gv, argnums={tuple(range(len(leaves)))})({arrays})",
             "    return [h.data for h in hs]", ""]
    return execute("jit second_order", graph, lines + _jit_against_eager(graph, "hvp", False))


def _jit_against_eager(graph: Graph, fn: str, fuse: bool) -> list[str]:
    """Lines running `fn` (a function of the leaves' arrays) eagerly and under ag.jit on five
    input sets (the leaves' bases scaled by SCALES, same layouts), comparing what they give."""
    made = []
    for i in graph.leaves:
        v = graph.values[i]
        base = f"({literal(v.base)} * s).astype(np.{v.dtype})"
        made.append(base if v.view is None else VIEWS[v.view][2].format(base, shape=v.shape))
    tol = tolerance(graph, JIT_TOLERANCES)
    if fuse:
        compare = ["        scale = max(1.0, float(np.max(np.abs(w)))) if w.size else 1.0",
                   f"        np.testing.assert_allclose(g, w, rtol={tol[0]:g}, atol={tol[1]:g} * scale, "
                   "err_msg=f'[jit value] call {k}: result {j}')"]
    else:
        compare = ["        assert np.array_equal(g, w, equal_nan=True) and np.array_equal(np.signbit(g), "
                   "np.signbit(w)), f'[jit bits] call {k}: result {j} differs from eager: {g} vs {w}'"]
    return ["def inputs(s):  # the leaves' arrays, their bases scaled by s",
            f"    return [{', '.join(made)}]", "",
            "def outcome(fn, s):",
            "    try:",
            "        return fn(*inputs(s)), None",
            "    except Exception as e:  # (compared with eager's)",
            "        return None, type(e)", "",
            f"jf = ag.jit({fn}, fuse={fuse})",
            f"for k, s in enumerate({SCALES}):",
            f"    want, we = outcome({fn}, s)",
            "    got, ge = outcome(jf, s)",
            "    assert ge == we, f'[jit error] call {k}: eager raised {we}, jit {ge}'",
            "    for j, (g, w) in enumerate(zip(got or [], want or [], strict=True)):",
            "        assert (g is None) == (w is None), f'[jit None] call {k}: result {j}: {g} vs {w}'",
            "        if w is None:",
            "            continue",
            "        assert (type(g), g.dtype, g.shape) == (type(w), w.dtype, w.shape), "
            "f'[jit type] call {k}: result {j}'",
            *compare,
            "assert jf.programs() or we is not None, '[jit never compiled]'"]


CHECKS: dict[str, Callable[[Graph], Failure | None]] = {
    "forward": check_forward,
    "gradients": check_gradients,
    "grad_state": check_grad_state,
    "saved_arrays": check_saved_arrays,
    "second_order": check_second_order,
    "torch": check_torch,
    "jit": check_jit,
    "jit second_order": check_jit_second_order,
}


# ---- shrinking ----------------------------------------------------------------------------------------


def prune(values: list, output: int, cot: np.ndarray | None, label: str) -> Graph:
    """The graph of `output` and what it depends on, renumbered (a new cotangent if the output's
    shape changed)."""
    need = {output}
    for i in range(output, -1, -1):
        v = values[i]
        if i in need and isinstance(v, OpCall):
            need.update(a.index for a in v.args if isinstance(a, Ref))
    new = {old: k for k, old in enumerate(sorted(need))}
    kept = []
    for i in sorted(need):
        v = values[i]
        if isinstance(v, OpCall):
            args = tuple(Ref(new[a.index]) if isinstance(a, Ref) else a for a in v.args)
            v = OpCall(v.op, v.form, args, v.params, v.ok)
        kept.append(v)
    g = Graph(kept, new[output], np.zeros(0), label)
    shape = g.exact()[g.output].shape
    g.cot = cot if cot is not None and np.shape(cot) == shape else cotangent(shape)
    return g


def _rewired(values: list, old: int, new: Ref) -> list:
    """`values` with every use of value `old` replaced by `new`."""
    out = list(values)
    for j, v in enumerate(values):
        if isinstance(v, OpCall) and any(isinstance(a, Ref) and a.index == old for a in v.args):
            args = tuple(new if isinstance(a, Ref) and a.index == old else a for a in v.args)
            out[j] = OpCall(v.op, v.form, args, v.params, v.ok)
    return out


def _as_leaf(a: np.ndarray, digits: int = 4) -> np.ndarray:
    """Values rounded to `digits` significant digits, for short snippets (`valid` rechecks domains)."""
    a = np.asarray(a, dtype=F64)
    scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.maximum(np.abs(a), 1e-12))))
    return np.asarray(np.round(a * scale) / scale + 0.0)


def reductions(graph: Graph):
    """Smaller or simpler graphs, biggest steps first."""
    values, out, label = graph.values, graph.output, graph.label
    exact, typed = graph.exact(), graph.typed()
    calls = [i for i in graph.calls if i != out]

    def replaced(i: int, new) -> Graph:
        return prune(values[:i] + [new] + values[i + 1:], out, graph.cot, label)

    for i in calls:  # another op call as the output: drops all after it
        yield prune(values, i, None, label)
    for i in reversed(calls):  # an op call's output replaced by a fresh leaf of its value and dtype
        if typed[i].dtype.kind == "f":
            yield replaced(i, Leaf(_as_leaf(exact[i]), typed[i].dtype, exact[i].shape))
    for i in reversed(calls):  # bypass an op: its users take an operand of the same shape and dtype
        for a in values[i].args:
            same = isinstance(a, Ref) and exact[a.index].shape == exact[i].shape
            if same and typed[a.index].dtype == typed[i].dtype:
                yield prune(_rewired(values, i, a), out, graph.cot, label)
    leaves = [(i, v) for i, v in enumerate(values) if isinstance(v, Leaf)]
    for i, v in leaves:
        if v.view is not None:  # a contiguous leaf with the same values
            yield replaced(i, Leaf(np.array(VIEWS[v.view][1](v.base, v.shape)), v.dtype, v.shape))
    for i, v in leaves:
        if v.dtype == F32:
            yield replaced(i, Leaf(v.base, F64, v.shape, v.view))
    for i, v in leaves:
        if len(leaves) > 1:  # fewer leaves: a plain array instead
            yield replaced(i, Const(v.array().copy()))
    for i, v in leaves:
        if not np.array_equal(v.base, rounded(v.base, 1)):  # shorter numbers
            yield replaced(i, Leaf(rounded(v.base, 1), v.dtype, v.shape, v.view))


def shrink(failure: Failure, check: Callable[[Graph], Failure | None], budget: int = 300) -> Failure:
    """The smallest graph found (greedily) that still fails `check` in the same way."""
    tried = 0
    improved = True
    while improved and tried < budget:
        improved = False
        for candidate in reductions(failure.graph):
            if tried >= budget:
                break
            tried += 1
            if not valid(candidate.values, candidate.output):
                continue
            f = check(candidate)
            if f is not None and f.kind == failure.kind:
                failure, improved = f, True
                break
    return failure


def describe(f: Failure, shrunk_from: Graph) -> str:
    ops = [f.graph.values[i].op for i in f.graph.calls]
    return (f"{f.check} check: {f.kind} ({shrunk_from.label}; shrunk from {len(shrunk_from.calls)} op calls "
            f"to {len(ops)}: {', '.join(ops)})\n{f.error}\n\n"
            f"--- a minimal failing graph, as a runnable program ---\n{f.program}--- end ---")


def run_check(name: str, graphs: list[Graph], *, max_reports: int = 6, check=None) -> list[str]:
    """Run one check over `graphs`; return one report per distinct minimal failure (shrunk)."""
    check = check or CHECKS[name]
    failing = [f for g in graphs if (f := check(g)) is not None]
    reports, seen = [], set()
    by_kind: dict[str, list[Failure]] = {}
    for f in failing:
        by_kind.setdefault(f.kind, []).append(f)
    # first failure of each kind first, then more of the same kinds
    order = [fs[k] for k in range(3) for fs in by_kind.values() if k < len(fs)]
    for f in order:
        if len(reports) >= max_reports:
            break
        small = shrink(f, check)
        key = (small.kind, tuple(sorted(small.graph.values[i].op for i in small.graph.calls)))
        if key not in seen:
            seen.add(key)
            reports.append(describe(small, f.graph))
    if failing:
        kinds = ", ".join(f"{k} x{len(v)}" for k, v in by_kind.items())
        reports.insert(0, f"{len(failing)} of {len(graphs)} random graphs fail the {name} check ({kinds})")
    return reports


"""Fusing runs of elementwise NumPy calls into one numba kernel (the ``[jit]`` extra):
Note [fusion].

Note [fusion]: a replayed program makes one NumPy call per elementwise op, and each call costs
its dispatch and a temporary array however small the data. A run of consecutive elementwise
ufunc calls on arrays of one shape (a sigmoid's negative, exp, add and reciprocal; the 200 ops
of an elementwise chain and their derivatives) becomes one loop compiled by numba: one call,
one pass over memory, temporaries in registers. Only what is used after the run is written out.
What joins a run: a ufunc of `_SCALAR` called on traced arrays of the run's shape, arrays of its
trailing dimensions (a bias, read by row) and Python or NumPy numbers, writing a new array, or in
place into one the run made or one nobody else shows (`_owned`: a matmul's output that a bias is
added into; the run's result then becomes a new array under that name). Anything else (a matmul,
a reduction, other broadcasting, an in-place write into an array others may see) ends it. Every
value is cast to the dtype NumPy gave it when traced, so dtypes follow NumPy's rules exactly;
+ − × ÷ are bitwise NumPy's, transcendental functions (exp, log, tanh...) are the C library's
and may differ from NumPy's in the last bit (tests allow 4 ulps). Without numba, nothing is fused.
"""

from __future__ import annotations

import math

import numpy as np

from .traced import Instr, Ref, makes_new, refs

try:
    import numba
except ImportError:  # the [jit] extra is not installed: replay is plain NumPy
    numba = None

MIN_RUN = 2  # calls: a single call gains nothing from a kernel

_SCALAR = {  # ufunc -> the scalar expression numba compiles ({0}, {1}: the operands)
    np.add: "({0} + {1})", np.subtract: "({0} - {1})", np.multiply: "({0} * {1})",
    np.divide: "({0} / {1})", np.power: "({0} ** {1})", np.negative: "(-{0})",
    np.positive: "(+{0})", np.square: "({0} * {0})", np.reciprocal: "(1 / {0})",
    np.absolute: "abs({0})", np.exp: "np.exp({0})", np.log: "np.log({0})",
    np.tanh: "np.tanh({0})", np.sqrt: "np.sqrt({0})", np.sin: "np.sin({0})",
    np.cos: "np.cos({0})", np.log1p: "np.log1p({0})", np.expm1: "np.expm1({0})",
    np.greater: "({0} > {1})", np.less: "({0} < {1})", np.greater_equal: "({0} >= {1})",
    np.less_equal: "({0} <= {1})", np.equal: "({0} == {1})",
    # NaN-propagating like NumPy's: a NaN operand is the result
    np.maximum: "({0} if ({0} > {1} or {0} != {0}) else {1})",
    np.minimum: "({0} if ({0} < {1} or {0} != {0}) else {1})",
}


_TRANSCENDENTAL = {np.exp, np.log, np.tanh, np.sin, np.cos, np.log1p, np.expm1, np.power}
# a run with exp, log, tanh... fuses only up to this many elements: NumPy evaluates those with
# SIMD over a whole array, a numba loop calls the C library once per element (slower on big
# arrays; benchmarks/README.md, "fusion")
MAX_TRANSCENDENTAL_SIZE = 512


class Run:
    """Instructions `members` (indices into the code) fused into one kernel: it reads `inputs`
    (slots, or constant arrays) and writes `outputs` (slots) into arrays the program passes."""

    def __init__(self, members: list[int], inputs: list, outputs: list[int], shape: tuple,
                 dtypes: list, source: str, kernel) -> None:
        self.members, self.inputs, self.outputs, self.shape = members, inputs, outputs, shape
        self.dtypes, self.source, self.kernel = dtypes, source, kernel


def available() -> bool:
    return numba is not None


def schedule(code: list[Instr], kept: list[int], shapes: dict, alive: set[int]) -> list:
    """The kept instructions in the order to emit them, runs of fusable calls replaced by a
    `Run`. Around a run, a pure call that does not read the run's values is emitted before it
    and one that does (and that no later member reads) after it, so that a chain interrupted by,
    say, a loss's sum and its backward's seed still fuses as one run."""
    readers: dict[int, set[int]] = {}
    for i in kept:
        for s in _reads(code[i]):
            readers.setdefault(s, set()).add(i)
    owned = _owned(code, kept, readers)
    out: list = []
    before, run, after, shape, inner = [], [], [], None, None
    made: set[int] = set()  # values of the run and of the calls deferred after it
    made_after: set[int] = set()
    checked = False  # a check is deferred after the run: no call may be moved before it

    def flush():
        nonlocal before, run, after, shape, inner, made, made_after, checked
        fused = _compile(run, code, shapes, shape, inner, alive, readers) \
            if len(run) >= MIN_RUN else None
        out.extend(before)
        out.extend([fused] if fused is not None else run)
        out.extend(after)
        before, run, after, shape, inner, made, made_after = [], [], [], None, None, set(), set()
        checked = False

    for i in kept:
        ins = code[i]
        reads = _reads(ins)
        s = _joins(ins, shapes, shape, inner, run, code, owned)
        if s is not None and not reads & made_after and not _overwrites_read(ins, after, code):
            if not run:
                out.extend(before)
                before = []
            run.append(i)
            shape, inner = s[0], s[1] if s[1] is not None else inner
            made |= set(_outrefs(ins))
            continue
        if run and ins.kind == "call" and ins.pure and not reads & made and not checked:
            before.append(i)  # independent of the run: emitted before it (not before a check
            # it came after: where the check fails, it may raise, as inv of a singular matrix)
            continue
        if run and (ins.pure and ins.kind == "call" or ins.kind == "check"):
            after.append(i)  # reads the run: emitted after it
            checked = checked or ins.kind == "check"
            outs = set(_outrefs(ins)) if ins.outs is not None else set()
            made |= outs
            made_after |= outs
            continue
        flush()
        s = _joins(ins, shapes, None, None, [], code, owned)
        if s is not None:
            run, (shape, inner), made = [i], s, set(_outrefs(ins))
        else:
            out.append(i)
    flush()
    return out


def _owned(code: list[Instr], kept: list[int], readers: dict) -> set[int]:
    """Values that are new arrays no other name shows (made by a ufunc or a reduction, read
    only by ufuncs, reductions and checks): an in-place write into one may become a new array."""
    made = {s for i in kept if code[i].kind == "call" and code[i].pure and makes_new(code[i].fn)
            for s in _outrefs(code[i])}
    return {s for s in made if all(code[j].kind == "check" or makes_new(code[j].fn)
                                   for j in readers.get(s, ()))}


def _reads(ins: Instr) -> set[int]:
    return refs(ins.args) | refs(ins.kwargs)


def _overwrites_read(ins: Instr, after: list[int], code: list[Instr]) -> bool:
    """An in-place write into a value a deferred call reads (it must see the value before)."""
    if "out" not in ins.kwargs:
        return False
    target = set(_outrefs(ins))
    return any(target & _reads(code[j]) for j in after)


def _joins(ins: Instr, shapes: dict, shape, inner, run: list[int], code: list[Instr],
           owned: set[int]):
    """``(shape, inner)`` if `ins` can join the run (an empty run: start one), else None. `inner`
    is the size of the trailing dimensions its broadcast operands (a bias) have, if any."""
    if ins.kind != "call" or ins.fn not in _SCALAR or set(ins.kwargs) - {"out"}:
        return None
    if ins.err is not None and {"raise", "call"} & set(ins.err.values()):
        return None  # (a kernel never raises: NumPy must see the division by zero)
    outs = ins.outs if type(ins.outs) is Ref else (ins.outs[0] if isinstance(ins.outs, tuple)
                                                  and len(ins.outs) == 1 else None)
    if type(outs) is not Ref:
        return None
    out_shape, out_dtype = shapes[outs.slot]
    if out_dtype.kind not in "fb" or out_shape == ():  # (0-d: NumPy scalars at replay)
        return None
    if shape is not None and out_shape != shape:
        return None
    size = math.prod(out_shape)
    if ins.fn in _TRANSCENDENTAL and size > MAX_TRANSCENDENTAL_SIZE:
        return None
    if "out" in ins.kwargs:  # in place: into a value this run made, or a new array nobody else
        made = {s for j in run for s in _outrefs(code[j])}  # shows (it becomes a new array)
        if outs.slot not in made and (outs.slot not in owned or outs not in ins.args):
            return None
    if out_dtype == np.float16:
        return None  # (numba has no float16)
    dtypes = [shapes[a.slot][1] if type(a) is Ref else a.dtype for a in ins.args
              if type(a) is Ref or isinstance(a, np.ndarray)]
    if any(d.kind not in "fbiu" or d == np.float16 or d == np.uint64 or not d.isnative for d in dtypes):
        return None  # (numba adds uint64 and int64 as int64; NumPy gives float64)
    for a in ins.args:
        if type(a) is Ref or isinstance(a, np.ndarray):
            a_shape = shapes[a.slot][0] if type(a) is Ref else a.shape
            if a_shape != out_shape:
                if not (0 < len(a_shape) < len(out_shape) and a_shape == out_shape[-len(a_shape):]):
                    return None
                n = math.prod(a_shape)  # a trailing-dimensions operand, read at k % n
                if inner is not None and n != inner:
                    return None
                inner = n
        elif not isinstance(a, (int, float, bool, np.number, np.bool_)):
            return None
        elif type(a) is int and any(d.kind in "iu" and not np.iinfo(d).min <= a <= np.iinfo(d).max
                                    for d in dtypes):
            return None  # (NumPy compares an out-of-range Python int exactly)
    return out_shape, inner


def _outrefs(ins: Instr) -> list[int]:
    o = ins.outs
    if o is None:
        return []
    return [o.slot] if type(o) is Ref else [x.slot for x in o if type(x) is Ref]


def _compile(run: list[int], code: list[Instr], shapes: dict, shape: tuple, inner, alive: set[int],
             readers: dict) -> Run | None:
    made: set[int] = set()
    inputs: list = []  # slots, and constant arrays
    names: dict = {}  # id of an input (slot number or constant) -> its name in the kernel
    temps: dict[int, str] = {}  # slot -> its name in the kernel, numbered in order (so that two
    # runs doing the same thing have the same source and share one compiled kernel)

    def operand(a) -> str:
        key = a.slot if type(a) is Ref else ("c", id(a))
        if type(a) is Ref and a.slot in made:
            return temps[a.slot]
        if key not in names:
            names[key] = f"a{len(inputs)}"
            inputs.append(a.slot if type(a) is Ref else a)
        full = (shapes[a.slot][0] if type(a) is Ref else a.shape) == shape
        return f"{names[key]}[{'k' if full else 'j'}]"

    body: list[str] = []
    for i in run:
        ins = code[i]
        out = _outrefs(ins)[0]
        dtype = shapes[out][1]
        args = []
        for a in ins.args:
            if type(a) is Ref or isinstance(a, np.ndarray):  # (NumPy's power casts both operands
                # to the result's dtype; numba's float ** int would multiply, hundreds of ulps off)
                args.append(f"{_type(dtype)}({operand(a)})" if ins.fn is np.power else operand(a))
            else:  # a number takes the dtype NumPy gave it: the result's (the other operand's
                # for a comparison), as NumPy 2 does with weak Python scalars
                other = next((shapes[b.slot][1] for b in ins.args if type(b) is Ref), dtype)
                args.append(_literal(a, np.result_type(other, a) if dtype.kind == "b" else dtype))
        temps.setdefault(out, f"t{len(temps)}")
        body.append(f"        {temps[out]} = {_type(dtype)}({_SCALAR[ins.fn].format(*args)})")
        made.add(out)
    members = set(run)
    outputs = [s for s in sorted(made) if s in alive or readers.get(s, set()) - members]
    if not inputs or not outputs:
        return None
    params = [f"a{j}" for j in range(len(inputs))] + [f"o{j}" for j in range(len(outputs))]
    lines = [f"def kernel({', '.join(params)}):"]
    if inner is None:
        lines.append("    for k in range(o0.shape[0]):")
        pad = "        "
    else:  # (rows of `inner` elements: a broadcast operand is read at j)
        lines += [f"    for i in range(o0.shape[0] // {inner}):", f"        for j in range({inner}):",
                  f"            k = i * {inner} + j"]
        pad = "            "
    lines += [pad + line.lstrip() for line in body]
    lines += [f"{pad}o{j}[k] = {temps[s]}" for j, s in enumerate(outputs)]
    source = "\n".join(lines) + "\n"
    dtypes = [shapes[s][1] if isinstance(s, int) else s.dtype for s in inputs]
    # inputs read-only (a constant or an array a graph locked may be), outputs the new arrays
    sig = numba.types.void(*[numba.types.Array(numba.from_dtype(d), 1, "C", readonly=True)
                             for d in dtypes],
                           *[numba.types.Array(numba.from_dtype(shapes[s][1]), 1, "C") for s in outputs])
    key = (source, str(sig))
    kernel = _KERNELS.get(key)
    if kernel is None:
        scope: dict = {}
        exec(compile(source, f"<fused kernel of {len(run)} NumPy calls>", "exec"), {"np": np}, scope)
        kernel = _KERNELS[key] = numba.njit(sig, error_model="numpy", cache=False)(scope["kernel"])
    return Run(run, inputs, outputs, shape, [shapes[s][1] for s in outputs], source, kernel)


_KERNELS: dict = {}  # (source, signature) -> compiled kernel: a run seen before is not compiled again


def _type(dtype: np.dtype) -> str:
    return "np.bool_" if dtype.kind == "b" else f"np.{dtype.name}"


def _literal(v, dtype: np.dtype) -> str:
    v = dtype.type(v)
    if dtype.kind == "b":
        return repr(bool(v))
    x = float(v)
    if math.isnan(x):
        return f"{_type(dtype)}(np.nan)"
    if math.isinf(x):
        return f"{_type(dtype)}({'np.inf' if x > 0 else '-np.inf'})"
    return f"{_type(dtype)}({x!r})"

"""Fusing groups of elementwise NumPy calls into one numba kernel (the ``[jit]`` extra):
Note [fusion].

Note [fusion]: a replayed program makes one NumPy call per elementwise op, and each call costs
its dispatch and a temporary array however small the data. A group of elementwise ufunc calls on
arrays of one shape, each reading another's value (a sigmoid's negative, exp, add and reciprocal;
a derivative's arithmetic and the product with the cotangent; the 200 ops of an elementwise chain
and their derivatives) becomes one loop compiled by numba: one call, one pass over memory,
temporaries in registers. Only what is used outside the group is written out.
What is fusable (`_fusable`): a ufunc of `_SCALAR` called on traced arrays of one shape, arrays
of its trailing dimensions (a bias, read by row) and Python or NumPy numbers, writing a new array
or in place into one nobody else shows (`_owned`: a matmul's output that a bias is added into;
the kernel's result then becomes a new array under that name).
How groups form (`schedule`): the calls' dependencies are made explicit (the values each reads;
an in-place write into an owned value comes after the calls reading the value it replaces), and
every other impure call (a check, a draw, a write into an array others may see) and every call
whose floating-point errors raise is a barrier no call moves across. Walking back from the last
call, a fusable call joins the groups of the calls that read its value, so a derivative's
arithmetic joins the backward's chain that uses it. It may not where a call outside the group
that needs it leads back into the group: the group would wait for itself. The program is then an
order of the calls that respects the dependencies, a group as one unit: trace order, but for
calls that cannot raise (a kernel, a ufunc, a reduction, a reshape, np.dot) in the NumPy error
state in force, which go first where no call that may raise comes before them, so that one
``with np.errstate`` holds many calls (a kernel goes with any: it reports no floating-point errors
itself; it returns whether a value it made is one NumPy could have reported in that call's error
state, `_reported`, tested where it could hide one, `_with_tests`, and the program then runs the
group's NumPy calls instead, each in its own state, for eager's warnings, errors and bits).
Every value is cast to the dtype NumPy gave it when traced, so dtypes follow NumPy's rules exactly;
+ − × ÷ are bitwise NumPy's, transcendental functions (exp, log, tanh...) are the C library's
and may differ from NumPy's in the last bit (tests allow 4 ulps). Without numba, nothing is fused.
"""

from __future__ import annotations

import heapq
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
    """The kept instructions in the order to emit them, groups of fusable calls replaced by a
    `Run` (Note [fusion]). Should grouping ever leave a cycle, nothing is fused (never seen)."""
    readers: dict[int, set[int]] = {}
    for i in kept:
        for s in _reads(code[i]):
            readers.setdefault(s, set()).add(i)
    owned = _owned(code, kept, readers)
    deps, barriers = _dependencies(code, kept, owned)
    group = _groups(code, kept, deps, barriers, shapes, owned)
    units: dict[int, list[int]] = {}  # key instruction (a group's last member) -> its calls
    for i in kept:
        g = group.get(i)
        units.setdefault(i if g is None or len(g.members) < MIN_RUN else g.members[-1], []).append(i)
    order = _order(units, deps, code)
    if order is None:
        return list(kept)
    out: list = []
    for k in order:
        ms = units[k]
        fused = None if len(ms) < MIN_RUN else \
            _compile(ms, code, shapes, group[k].shape, group[k].inner, alive, readers)
        out.extend([fused] if fused is not None else ms)
    return out


def _dependencies(code: list[Instr], kept: list[int], owned: set[int]):
    """``(deps, barriers)``: for each call, the calls it must come after (those that made the
    values it reads; for an in-place write into an owned value, also those that read the value
    it replaces); and the barriers: every other impure call (a check, a draw, a write others may
    see) and every call whose floating-point errors raise, which come after everything before
    them and before everything after them."""
    deps: dict[int, set[int]] = {}
    writer: dict[int, int] = {}  # slot -> the call that made its current value
    seen: dict[int, list[int]] = {}  # slot -> the calls that read its current value
    fence, since, barriers = None, [], set()  # the last barrier, the calls after it
    for i in kept:
        ins = code[i]
        reads = _reads(ins)
        d = {writer[s] for s in reads if s in writer}
        targets = _outrefs(ins) if "out" in ins.kwargs else []
        barrier = ((ins.kind != "call" or not ins.pure) and not (targets and set(targets) <= owned)
                   or _raises(ins))
        if barrier:
            d |= set(since)
            since = []
        for s in targets:
            d |= set(seen.get(s, ())) | ({writer[s]} if s in writer else set())
        if fence is not None:
            d.add(fence)
        d.discard(i)
        deps[i] = d
        for s in reads:
            seen.setdefault(s, []).append(i)
        for s in _outrefs(ins):
            writer[s], seen[s] = i, []
        if barrier:
            fence = i
            barriers.add(i)
        else:
            since.append(i)
    return deps, barriers


def _raises(ins: Instr) -> bool:
    return ins.err is not None and bool({"raise", "call"} & set(ins.err.values()))


class _Group:
    """Calls fused together: `members` in program order, `mask` the bits standing for it (one
    per group merged into it), `leads` the bits of the groups its calls' readers outside it lead
    to, the `shape` of its values and the size of its trailing-dimension operands (`inner`)."""

    def __init__(self, bit: int, shape: tuple, inner) -> None:
        self.members: list[int] = []
        self.mask, self.leads, self.shape, self.inner = bit, 0, shape, inner


def _groups(code: list[Instr], kept: list[int], deps: dict, barriers: set[int], shapes: dict,
            owned: set[int]) -> dict[int, _Group]:
    """Each fusable call's group. Walking back from the last call, a call joins the groups of
    the calls that read its value (merged), or the first of them alone that it can join, or
    starts one. It may not where a call outside the group that needs it leads back into the
    group, through other calls and groups (a group is one unit: it waits for all its inputs)."""
    succ: dict[int, set[int]] = {i: set() for i in kept}
    for i in kept:
        for q in deps[i]:
            succ[q].add(i)
    reach: dict[int, int] = {}  # call -> bits of the groups it leads to (its own group's too)
    group: dict[int, _Group] = {}
    by_bit: dict[int, _Group] = {}
    for i in reversed(kept):
        if i in barriers:  # (nothing joins a group across a barrier: it leads to all after it)
            reach[i] = _or(reach[q] for q in succ[i])
            continue
        g = _join(i, _fusable(code[i], shapes, owned), succ, group, reach, by_bit)
        reach[i] = (g.mask if g is not None else 0) | _or(reach[q] for q in succ[i])
        if g is not None:
            g.leads = _or(reach[q] for m in g.members for q in succ[m] if group.get(q) is not g)
    return group


def _or(masks) -> int:
    out = 0
    for m in masks:
        out |= m
    return out


def _leads_to(mask: int, into: int, by_bit: dict[int, _Group]) -> bool:
    """Do the groups of `mask`, or those they lead to, include a bit of `into`?"""
    done, todo = 0, mask
    while todo:
        low = todo & -todo
        todo ^= low
        if low & into:
            return True
        if not done & low:
            done |= low
            todo |= by_bit[low].leads & ~done
    return False


def _join(i: int, fusable, succ: dict[int, set[int]], group: dict[int, _Group],
          reach: dict[int, int], by_bit: dict[int, _Group]) -> _Group | None:
    """The group call `i` joins (see `_groups`), or None if it is not `fusable` (its ``(shape,
    inner)`` or None)."""
    if fusable is None:
        return None
    shape, inner = fusable
    readers: list[_Group] = []
    for q in sorted(succ[i]):  # (the first reader's group first)
        g = group.get(q)
        if (g is not None and g.shape == shape and g not in readers
                and (inner is None or g.inner is None or g.inner == inner)):
            readers.append(g)
    for chosen in [readers] + ([[g] for g in readers] if len(readers) > 1 else []):
        if not chosen:
            break
        inners = {g.inner for g in chosen if g.inner is not None} | ({inner} - {None})
        members = {m for g in chosen for m in g.members}
        mask = _or(g.mask for g in chosen)
        outside = _or(reach[q] for m in members | {i} for q in succ[m] if q not in members)
        if len(inners) > 1 or _leads_to(outside, mask, by_bit):
            continue
        first = chosen[0]
        for g in chosen[1:]:  # (merged into the first)
            first.mask |= g.mask
            first.members = sorted(first.members + g.members)
            for m in g.members:
                group[m] = first
        for b in _bits(first.mask):
            by_bit[b] = first
        first.inner = next(iter(inners), None)
        first.members.insert(0, i)  # (the first member now: groups grow backwards)
        group[i] = first
        return first
    bit = 1 << len(by_bit)
    g = group[i] = by_bit[bit] = _Group(bit, shape, inner)
    g.members.append(i)
    return g


def _bits(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low)
        mask ^= low
    return out


def _order(units: dict[int, list[int]], deps: dict, code: list[Instr]) -> list[int] | None:
    """The units (by key) in an order that respects `deps`: trace order, except that a call that
    cannot raise (a fused kernel, a ufunc, a reshape) in the NumPy error state in force goes
    first, so that one `with np.errstate` holds many calls, as long as it passes no call that
    may raise. None if the units depend on each other in a cycle."""
    unit_of = {m: k for k, ms in units.items() for m in ms}
    after: dict[int, set[int]] = {k: set() for k in units}
    waiting = {}
    for k, ms in units.items():
        need = {unit_of[q] for m in ms for q in deps[m]} - {k}
        waiting[k] = len(need)
        for u in need:
            after[u].add(k)
    fused = {k for k, ms in units.items() if len(ms) >= MIN_RUN}
    risky = sorted(k for k in units if k not in fused and not _cannot_raise(code[k]))
    ready: dict = {}  # error state (None: a kernel's, which goes with any) -> heap of ready keys

    def push(k: int) -> None:
        heapq.heappush(ready.setdefault(None if k in fused else _state(code[k]), []), k)

    for k in units:
        if waiting[k] == 0:
            push(k)
    out: list[int] = []
    emitted: set[int] = set()
    r, current = 0, ()
    while any(ready.values()):
        while r < len(risky) and risky[r] in emitted:
            r += 1
        bound = risky[r] if r < len(risky) else math.inf  # (no call passes this one)
        pick = min((s for s in ready if ready[s]), key=lambda s: ready[s][0])
        first = [s for s in (current, None) if ready.get(s) and ready[s][0] < bound
                 and (s is None or _cannot_raise(code[ready[s][0]]))]
        if first:
            pick = min(first, key=lambda s: ready[s][0])
        if pick is not None:
            current = pick
        k = heapq.heappop(ready[pick])
        out.append(k)
        emitted.add(k)
        for u in after[k]:
            waiting[u] -= 1
            if waiting[u] == 0:
                push(u)
    return out if len(out) == len(units) else None


# ndarray methods and NumPy functions that cannot raise at replay (shapes checked when traced)
_SAFE_METHODS = frozenset({"transpose", "reshape", "ravel", "view", "swapaxes", "squeeze",
                           "sum", "prod", "max", "min", "any", "all", "mean"})
_SAFE_FUNCTIONS = frozenset({np.dot, np.broadcast_to, np.reshape, np.transpose, np.sum, np.prod,
                             np.max, np.amax, np.min, np.amin, np.any, np.all, np.mean})


def _cannot_raise(ins: Instr) -> bool:
    """A ufunc (its floating-point errors at most warn), a reduction, a product by np.dot or a
    change of shape: its shapes were checked when traced, so it cannot raise at replay."""
    if ins.kind != "call" or _raises(ins):
        return False
    fn = ins.fn
    if fn is np.power:  # (integers to a negative power raise ValueError)
        return False
    return (isinstance(fn, np.ufunc) or isinstance(getattr(fn, "__self__", None), np.ufunc)
            or fn in _SAFE_FUNCTIONS
            or getattr(fn, "__objclass__", None) is np.ndarray and fn.__name__ in _SAFE_METHODS)


def _state(ins: Instr):
    """The NumPy error state `ins` runs in, hashable (() for the default one)."""
    return () if ins.err is None else tuple(sorted(ins.err.items()))


def _owned(code: list[Instr], kept: list[int], readers: dict) -> set[int]:
    """Values that are new arrays no other name shows (made by a ufunc or a reduction, read
    only by ufuncs, reductions and checks): an in-place write into one may become a new array."""
    made = {s for i in kept if code[i].kind == "call" and code[i].pure and makes_new(code[i].fn)
            for s in _outrefs(code[i])}
    return {s for s in made if all(code[j].kind == "check" or makes_new(code[j].fn)
                                   for j in readers.get(s, ()))}


def _reads(ins: Instr) -> set[int]:
    return refs(ins.args) | refs(ins.kwargs)


def _fusable(ins: Instr, shapes: dict, owned: set[int]):
    """``(shape, inner)`` if `ins` can be fused, else None: `shape` is its value's, `inner` the
    size of the trailing dimensions its broadcast operands (a bias) have, if any (else None)."""
    if ins.kind != "call" or ins.fn not in _SCALAR or set(ins.kwargs) - {"out"}:
        return None
    err = ins.err or {}
    if {"raise", "call"} & set(err.values()) or err.get("under", "ignore") != "ignore":
        return None  # (NumPy must see the division by zero; an underflow leaves no trace in the value)
    outs = ins.outs if type(ins.outs) is Ref else (ins.outs[0] if isinstance(ins.outs, tuple)
                                                  and len(ins.outs) == 1 else None)
    if type(outs) is not Ref:
        return None
    out_shape, out_dtype = shapes[outs.slot]
    if out_dtype.kind not in "fb" or out_shape == ():  # (0-d: NumPy scalars at replay)
        return None
    size = math.prod(out_shape)
    if ins.fn in _TRANSCENDENTAL and size > MAX_TRANSCENDENTAL_SIZE:
        return None
    if "out" in ins.kwargs and (outs.slot not in owned or outs not in ins.args):
        return None  # (in place only into a new array nobody else shows: it becomes a new one)
    if out_dtype == np.float16:
        return None  # (numba has no float16)
    dtypes = [shapes[a.slot][1] if type(a) is Ref else a.dtype for a in ins.args
              if type(a) is Ref or isinstance(a, np.ndarray)]
    if any(d.kind not in "fbiu" or d == np.float16 or d == np.uint64 or not d.isnative for d in dtypes):
        return None  # (numba adds uint64 and int64 as int64; NumPy gives float64)
    inner = None
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
    body = _with_tests(body, run, code, shapes, set(outputs), temps)
    if not inputs or not outputs:
        return None
    params = [f"a{j}" for j in range(len(inputs))] + [f"p{j}" for j in range(len(outputs))]
    lines = [f"def kernel({', '.join(params)}):", "    bad = False"]
    # (outputs come in their shape, as the program made them: flat views here, no copy)
    lines += [f"    o{j} = p{j}.reshape(p{j}.size)" for j in range(len(outputs))]
    if inner is None:
        lines.append("    for k in range(o0.shape[0]):")
        pad = "        "
    else:  # (rows of `inner` elements: a broadcast operand is read at j)
        lines += [f"    for i in range(o0.shape[0] // {inner}):", f"        for j in range({inner}):",
                  f"            k = i * {inner} + j"]
        pad = "            "
    lines += [pad + line.lstrip() for line in body]
    lines += [f"{pad}o{j}[k] = {temps[s]}" for j, s in enumerate(outputs)]
    lines.append("    return bad")
    source = "\n".join(lines) + "\n"
    dtypes = [shapes[s][1] if isinstance(s, int) else s.dtype for s in inputs]
    # inputs read-only (a constant or an array a graph locked may be), outputs the new arrays
    sig = numba.types.boolean(*[numba.types.Array(numba.from_dtype(d), 1, "C", readonly=True)
                             for d in dtypes],
                           *[numba.types.Array(numba.from_dtype(shapes[s][1]), len(shape), "C")
                             for s in outputs])
    key = (source, str(sig))
    kernel = _KERNELS.get(key)
    if kernel is None:
        scope: dict = {}
        exec(compile(source, f"<fused kernel of {len(run)} NumPy calls>", "exec"), {"np": np}, scope)
        kernel = _KERNELS[key] = numba.njit(sig, error_model="numpy", cache=False)(scope["kernel"])
    return Run(run, inputs, outputs, shape, [shapes[s][1] for s in outputs], source, kernel)


_KERNELS: dict = {}  # (source, signature) -> compiled kernel: a run seen before is not compiled again


# ufuncs whose result is not finite when an operand is not (for divide, the numerator): a value
# only these read needs no test of its own, the values they make show it (`_with_tests`)
_PROPAGATE = {np.add, np.subtract, np.multiply, np.divide, np.negative, np.positive, np.square,
              np.absolute, np.sqrt, np.log, np.log1p, np.sin, np.cos}
_STRICTER = {None: 0, "np.isnan({})": 1, "not np.isfinite({})": 2}
_DIVIDES = {np.divide, np.reciprocal, np.log, np.log1p, np.power}  # (x / 0, log(0): ±inf)


def _with_tests(body: list[str], run: list[int], code: list[Instr], shapes: dict, outputs: set[int],
                temps: dict) -> list[str]:
    """The kernel's lines with a test after each value NumPy could have reported (Note
    [fusion]): those written out, and those a call reads that may not pass a non-finite value on
    (x / inf, tanh(inf) and exp(-inf) are finite), or whose own test is weaker. Fewer tests keep
    a long kernel's compile time near what it is without them."""
    writes: dict[int, int] = {}
    read_by: dict[int, list[tuple[int, int]]] = {}  # slot -> (reader, operand position)
    for i in run:
        s = _outrefs(code[i])[0]
        writes[s] = writes.get(s, 0) + 1
        for k, a in enumerate(code[i].args):
            if type(a) is Ref:
                read_by.setdefault(a.slot, []).append((i, k))
    test = {i: _reported(code[i].err or {}, code[i].fn) if shapes[_outrefs(code[i])[0]][1].kind == "f"
            else None for i in run}
    lines = []
    for line, i in zip(body, run, strict=True):
        s = _outrefs(code[i])[0]
        lines.append(line)
        if test[i] is None:
            continue
        later = [(j, k) for j, k in read_by.get(s, ()) if j > i]
        passed_on = s not in outputs and writes[s] == 1 and later and all(
            code[j].fn in _PROPAGATE and _STRICTER[test[j]] >= _STRICTER[test[i]]
            and not (code[j].fn is np.divide and k > 0) for j, k in later)
        if not passed_on:
            lines.append(f"        bad |= {test[i].format(temps[s])}")
    return lines


def _reported(err: dict, fn) -> str | None:
    """The kernel's test of a value `fn` made for what NumPy would report of that call: any
    non-finite value (±inf from finite operands is an overflow, or for a division or a log a
    division by zero; NaN is invalid), only NaN, or nothing, as `err` says. `err` holds what f's
    own np.errstate set; a kind it leaves is the caller's at each replay, so is tested for."""
    inf = err.get("over") != "ignore" or (fn in _DIVIDES and err.get("divide") != "ignore")
    if inf:
        return "not np.isfinite({})"
    return "np.isnan({})" if err.get("invalid") != "ignore" else None


def _type(dtype: np.dtype) -> str:
    return "np.bool_" if dtype.kind == "b" else f"np.{dtype.name}"


def _literal(v, dtype: np.dtype) -> str:
    with np.errstate(all="ignore"):  # (1e300 as float32 is inf: NumPy warned of it when traced)
        v = dtype.type(v)
    if dtype.kind == "b":
        return repr(bool(v))
    x = float(v)
    if math.isnan(x):
        return f"{_type(dtype)}(np.nan)"
    if math.isinf(x):
        return f"{_type(dtype)}({'np.inf' if x > 0 else '-np.inf'})"
    return f"{_type(dtype)}({x!r})"

"""A finished trace as a program: checked against a second trace, then compiled to one Python
function of straight-line NumPy calls (Note [tracing] in tracing/__init__.py).

The compiled function reads its inputs (the call's arrays, the outside Tensors' arrays), checks
the guards (Python state the trace depended on), runs the kept instructions in order (dead ones
dropped, constant ones computed once: Note [folding]; each value deleted after its last use),
then rebinds the outside Tensors it changed and returns the outputs. `source` keeps the generated
code: that is what `jit` replays.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from . import fusion
from .traced import TARGET, Instr, Recorder, Ref, _layout, makes_new, refs

_made = itertools.count()


class Stale(Exception):
    """A guard failed before anything ran: try another program or trace again."""


class Diverged(Exception):
    """A recorded ``bool()`` of a traced value came out the other way at this replay. `undo`:
    (array, its values before) for each write into an array from outside the program made
    before it (Note [undo]); `restore` puts them back, so that f's traced run is its only one."""

    def __init__(self, at: int, undo: list = ()) -> None:
        super().__init__(at)
        self.at, self.undo = at, undo

    def restore(self) -> None:
        for a, before in reversed(self.undo):
            np.copyto(a, before)


# -- comparing two traces -------------------------------------------------------------------------

def differences(a: Recorder, b: Recorder, outs_a, outs_b) -> tuple[str | None, str, set[int]]:
    """The first difference between two traces of the same function and signature: (what, kind,
    fresh). `what` is None when they are the same program. `kind` is "frozen" when a constant
    differs (a value computed where the tracer could not see it), else "variant" (another branch
    or other outside state: a program of its own). `fresh`: the ids of `a`'s constant arrays that
    `b` matched by value only (made afresh by each call: copied where the program writes them)."""
    fresh: set[int] = set()
    if [(s, _src_key(x)) for s, x in a.inputs] != [(s, _src_key(x)) for s, x in b.inputs]:
        return "the Tensors it reads from outside differ", "variant", fresh
    if len(a.guards) != len(b.guards) or any(
            ga[0] is not gb[0] or ga[1] != gb[1] or not _same(ga[2], gb[2], fresh)
            for ga, gb in zip(a.guards, b.guards, strict=True)):
        return "the Python state it depends on differs", "variant", fresh
    for i, (x, y) in enumerate(zip(a.code, b.code, strict=False)):
        why, kind = _instr_difference(x, y, fresh)
        if why:
            return f"NumPy call {i} ({x.name}, at {x.where}): {why}", kind, fresh
    if len(a.code) != len(b.code):
        return f"one trace has {len(a.code)} NumPy calls, the other {len(b.code)}", "variant", fresh
    if not _same(a.effects, b.effects, fresh):
        return "the Tensors it rebinds differ", "variant", fresh
    written = {id(w) for ins in a.code if ins.kind == "call" and not ins.pure for w in _written(ins)}
    for key, (arr, crc) in a.consts.items():
        other = b.consts.get(key)
        if other is not None and other[0] is arr and other[1] != crc and key not in written:
            return ("an array from outside f had other values when f first used it (a write "
                    "the tracer cannot see, buf[...] = x?)"), "frozen", fresh
    if not _same(outs_a, outs_b, fresh):
        return "a constant result differs (a value computed outside the tracer's sight)", "frozen", fresh
    return None, "", fresh


def _src_key(src: tuple) -> tuple:
    return tuple(id(s) if not isinstance(s, (str, int, type(None))) else s for s in src)


def _instr_difference(x: Instr, y: Instr, fresh: set) -> tuple[str | None, str]:
    if x.kind != y.kind:
        return f"a {x.kind} in one trace, a {y.kind} in the other", "variant"
    if x.kind == "check":
        if x.fn != y.fn:
            what = "a result's shape (it depends on values)" if isinstance(x.fn, tuple) else \
                "bool() of a traced array"
            return f"{what} was {x.fn} in one call, {y.fn} in another", "variant"
    elif x.kind == "host":
        if getattr(x.fn, "__code__", x.fn) is not getattr(y.fn, "__code__", y.fn) or not _same(
                _cells(x.fn), _cells(y.fn), fresh):
            return "a different draw_random or read function", "variant"
    elif x.fn is not y.fn and x.fn != y.fn:  # (np.add.reduce is a new bound method each time)
        return f"{x.name} in one trace, {y.name} in the other", "variant"
    if not _same(x.args, y.args, fresh) or not _same(x.kwargs, y.kwargs, fresh):
        return "an argument differs between the two calls", "frozen"
    if not _same(x.outs, y.outs, fresh) or x.err != y.err:
        return "its results or NumPy's error settings differ", "variant"
    return None, ""


def _cells(fn) -> tuple:
    return tuple(c.cell_contents for c in (getattr(fn, "__closure__", None) or ()))


def _same(a, b, fresh: set) -> bool:
    if a is b:
        return True
    ta = type(a)
    if ta is not type(b):
        return False
    if ta is Ref:
        return a.slot == b.slot
    if ta in (tuple, list) or isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y, fresh) for x, y in zip(a, b, strict=True))
    if ta is dict:
        return a.keys() == b.keys() and all(_same(a[k], b[k], fresh) for k in a)
    if isinstance(a, np.ndarray):
        if _layout(a) == _layout(b):  # (two views of one outside array: that array, not fresh)
            return True
        if a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"):
            fresh.add(id(a))
            return True
        return False
    if ta is float:
        return a == b or (math.isnan(a) and math.isnan(b))
    try:
        return bool(a == b)
    except Exception:  # an object without a usable ==: only itself is the same
        return False


# -- compiling -------------------------------------------------------------------------------------

class Program:
    """One validated trace, compiled. ``run(leaves, host)`` replays it on a call's leaves."""

    def __init__(self, rec: Recorder, outs: list, fresh: set[int], fuse: bool = False) -> None:
        self.rec, self.outs = rec, outs
        self.names: dict[str, object] = {"_Stale": Stale, "_Diverged": Diverged, "_np": np,
                                         "_nd": np.ndarray}
        self._ids: dict[int, str] = {}
        alive = refs(outs) | refs([e[2] for e in rec.effects])
        kept = _live(rec.code, alive)
        self.folded = _fold(rec.code, kept, alive)  # slot -> its value: Note [folding]
        done = {i for i in kept if refs(rec.code[i].outs) and refs(rec.code[i].outs) <= set(self.folded)}
        self.kept = [i for i in kept if i not in done]
        # what to emit, in order: instruction indices, and runs fused into kernels (Note [fusion])
        # (traced where floating-point errors raise or underflow is reported, nothing is fused:
        # a kernel reports none itself, and its test for them cannot see an underflow)
        fuse = fuse and not {"raise", "call"} & set(rec.err0.values()) and rec.err0["under"] == "ignore"
        self.fuse, self._ones, self._caller_err = fuse, {}, False
        self.order = fusion.schedule(rec.code, self.kept, rec.shapes, alive) if fuse else self.kept
        self.runs = [x for x in self.order if isinstance(x, fusion.Run)]
        self.source = self._generate(fresh)
        self.made = next(_made)  # (which program is the latest: `Jitted.source`, the pictures)
        scope: dict = {}
        exec(compile(self.source, f"<jit program of {len(self.kept)} NumPy calls>", "exec"),
             self.names, scope)
        self.run = scope["_program"]

    def _name(self, obj, prefix: str) -> str:
        key = id(obj)
        if key not in self._ids:
            self._ids[key] = f"{prefix}{len(self._ids)}"
            self.names[self._ids[key]] = obj
        return self._ids[key]

    def _expr(self, t) -> str:
        tt = type(t)
        if tt is Ref:
            folded = self.folded.get(t.slot)
            return f"v{t.slot}" if folded is None else self._name(folded, "c")
        if t is None or tt in (bool, int, str) or (tt is float and math.isfinite(t)):
            return repr(t)
        if tt is tuple:
            return "(" + "".join(self._expr(x) + ", " for x in t) + ")"
        if tt is list:
            return "[" + ", ".join(self._expr(x) for x in t) + "]"
        if tt is dict:
            return "{" + ", ".join(f"{k!r}: {self._expr(v)}" for k, v in t.items()) + "}"
        return self._name(t, "c")

    def _call(self, ins: Instr) -> str:
        fn, kwargs = ins.fn, ins.kwargs
        reduce = _REDUCTIONS.get(fn)
        if self.fuse and self._column_sums(ins, reduce):
            # (a 2-D float array's sum over rows as ones @ g, BLAS's gemv: fused programs only, as
            # its order of summation is not the reduction's, so the bits may differ)
            n, dtype = self.rec.shapes[ins.args[0].slot][0][0], self.rec.shapes[ins.args[0].slot][1]
            ones = self._ones.get((n, dtype))
            if ones is None:
                ones = self._ones[(n, dtype)] = np.ones(n, dtype)
                ones.setflags(write=False)
            return f"{self._name(np.dot, 'dot_')}({self._name(ones, 'c')}, {self._expr(ins.args[0])})"
        if reduce is not None and len(ins.args) == 1 and set(kwargs) <= {"axis", "keepdims", "dtype"}:
            # the ufunc reduction the method or function calls, minus its Python wrappers (whose
            # axis defaults to None where the ufunc's defaults to 0)
            fn, kwargs = reduce, {"axis": None, **kwargs}
        elif fn is np.matmul and not kwargs and self._blas_pair(ins.args):
            fn = np.dot  # (the same BLAS product, without the ufunc machinery around it)
        if getattr(fn, "__objclass__", None) is np.ndarray and ins.args:
            # an ndarray method is called as a method: where the trace had a 0-d array for a NumPy
            # scalar result, the replay has the scalar, which np.ndarray's descriptor refuses
            args = ", ".join([self._expr(a) for a in ins.args[1:]] +
                             [f"{k}={self._expr(v)}" for k, v in kwargs.items()])
            return f"{self._expr(ins.args[0])}.{fn.__name__}({args})"
        args = ", ".join([self._expr(a) for a in ins.args] +
                         [f"{k}={self._expr(v)}" for k, v in kwargs.items()])
        name = "".join(c for c in getattr(fn, "__name__", "f") if c.isalnum() or c == "_") or "f"
        return f"{self._name(fn, name + '_')}({args})"

    def _column_sums(self, ins: Instr, reduce) -> bool:
        """Is `ins` ``g.sum(axis=0)`` of a 2-D float array, C- or F-contiguous when traced?"""
        fn = ins.fn
        if not (reduce == np.add.reduce or getattr(fn, "__self__", None) is np.add
                and getattr(fn, "__name__", "") == "reduce"):
            return False
        if ins.kwargs not in ({"axis": 0}, {"axis": (0,)}) or len(ins.args) != 1 \
                or type(ins.args[0]) is not Ref:
            return False
        (shape, dtype), slot = self.rec.shapes[ins.args[0].slot], ins.args[0].slot
        return (len(shape) == 2 and shape[0] >= 2 and dtype in (np.float32, np.float64)
                and slot in self.rec.forc)

    def _blas_pair(self, args: tuple) -> bool:
        """Two 2-D float arrays of one dtype, C- or F-contiguous when traced, whose product is at
        least 2 × 2: NumPy's matmul and dot make the same BLAS call on them (gemm; a row or column
        would be gemv for one of them, a strided or broadcast operand a copy for dot only). The
        program checks that its inputs keep the layouts they were traced with."""
        if len(args) != 2:
            return False
        kinds = [(*self.rec.shapes[a.slot], a.slot in self.rec.forc) if type(a) is Ref
                 else (np.shape(a), getattr(a, "dtype", None), isinstance(a, np.ndarray) and a.flags.forc)
                 for a in args]
        (sa, da, fa), (sb, db, fb) = kinds
        return (len(sa) == len(sb) == 2 and da == db and da in (np.float32, np.float64)
                and sa[0] >= 2 and sb[1] >= 2 and fa and fb)

    def _generate(self, fresh: set[int]) -> str:
        rec = self.rec
        lines = ["def _program(_a, _host):"]
        for slot, src in rec.inputs:
            lines.append(f"    v{slot} = {self._source(src)}")
        for slot, (shape, dtype) in rec.meta.items():  # arrays read from Tensors (a grad may be None now)
            v = f"v{slot}"
            lines.append(f"    if {v}.__class__ is not _nd or {v}.shape != {self._expr(shape)} or "
                         f"{v}.dtype != {self._name(dtype, 'd')}: raise _Stale")
        if any(rec.code[i].fn is np.matmul and not rec.code[i].kwargs and self._blas_pair(rec.code[i].args)
               for i in self.kept):  # (the layouts the program's np.dot calls were chosen for)
            lines += [f"    if not v{slot}.flags.forc: raise _Stale" for slot, _ in rec.inputs
                      if slot in rec.forc and len(rec.shapes[slot][0]) >= 2]
        for obj, attr, value in rec.guards:
            o = self._name(obj, "s")
            test = "is not" if value is None or isinstance(value, bool) else "!="
            lines.append(f"    if {o}.{attr} {test} {self._expr(value)}: raise _Stale")
        for ins in rec.code:  # constants written in place are made afresh for each replay
            if ins.kind == "call" and not ins.pure:
                for a in _written(ins):
                    if isinstance(a, np.ndarray) and id(a) in fresh:
                        name = self._name(a, "c")
                        self.names["_" + name] = a
                        lines.append(f"    {name} = _{name}.copy()")
        undo = self._undo()
        if undo:
            lines.append("    _u = []")
        dead_at = _dead_after(self.order, rec.code, refs(self.outs) | refs([e[2] for e in rec.effects])
                              | set(self.folded))
        err = None
        for p, item in enumerate(self.order):
            if isinstance(item, fusion.Run):
                pad = "        " if err is not None else "    "
                lines += self._fused(item, pad, dead_at.get(p), err)
                continue
            i = item
            ins = rec.code[i]
            if ins.err != err:
                err = ins.err
                if err is not None:
                    lines.append(f"    with _np.errstate(**{self._name(err, 'e')}):")
            pad = "        " if err is not None else "    "
            diverged = f"raise _Diverged({i}{', _u' if undo else ''})"
            if ins.kind == "check" and isinstance(ins.fn, tuple):  # a value-dependent shape
                lines.append(f"{pad}if {self._expr(ins.args[0])}.shape != {self._expr(ins.fn[1])}: "
                             f"{diverged}")
            elif ins.kind == "check":
                neg = "not " if ins.fn else ""
                lines.append(f"{pad}if {neg}{self._expr(ins.args[0])}: {diverged}")
            elif ins.kind == "host":
                lines.append(f"{pad}{self._expr(ins.outs)} = _host({self._name(ins.fn, 'h')})")
            else:
                if i in undo:  # Note [undo]
                    lines += [f"{pad}_u.append(({t}, {t}.copy()))" for t in undo[i]]
                lines.append(f"{pad}{self._statement(ins)}")
            dead = dead_at.get(p)
            if dead:
                lines.append(f"{pad}del {', '.join(f'v{s}' for s in sorted(dead))}")
        for target, attr, value in rec.effects:
            lines.append(f"    {self._target_obj(target)}.{attr} = {self._expr(value)}")
        lines.append("    return " + self._expr(tuple(self.outs)))
        if self._caller_err:  # (the state the caller called in, for a kernel's NumPy calls)
            lines.insert(1, "    _e0 = _np.geterr()")
        return "\n".join(lines) + "\n"

    def _undo(self) -> dict[int, list[str]]:
        """Note [undo]: a check that fails at replay sends the call back to be traced, which
        runs f; so an in-place write the replay made before the check into an array from
        outside the program (an argument, an outside Tensor's data, a view of one) is undone
        first. The writes to log: instruction -> the expressions of the arrays it writes."""
        code, order = self.rec.code, self.order
        checks = [p for p, i in enumerate(order) if not isinstance(i, fusion.Run) and code[i].kind == "check"]
        if not checks:
            return {}
        made: set[int] = set()  # values the program made itself (new arrays)
        undo: dict[int, list[str]] = {}
        for item in order[:checks[-1]]:
            if isinstance(item, fusion.Run):
                made |= set(item.outputs)
                continue
            ins = code[item]
            if ins.kind == "call" and not ins.pure:
                targets = [w for w in _written(ins) if not (type(w) is Ref and w.slot in made)]
                if targets:
                    undo[item] = [self._expr(w) for w in targets]
            elif ins.kind == "call" and (makes_new(ins.fn) or ins.pure and _within(ins, made)):
                made |= refs(ins.outs)
        return undo

    def _statement(self, ins: Instr) -> str:
        """The line of a call: an in-place write as it is, a new value into its name."""
        return self._call(ins) if not ins.pure else f"{_target(ins.outs)} = {self._call(ins)}"

    def _fused(self, run: fusion.Run, pad: str, dead: set | None, block: dict | None) -> list[str]:
        """One kernel call for the run's NumPy calls, writing its outputs into new arrays. Where
        the kernel saw a value NumPy would have reported (Note [fusion]), the run's NumPy calls
        instead, each in its error state (`block`: the one the kernel is called in)."""
        # (outputs under their own names first: a value written in place is an input too)
        out = [f"{pad}_o{j} = _np.empty({self._expr(run.shape)}, {self._name(d, 'd')})"
               for j, d in enumerate(run.dtypes)]
        # (a constant by its name, as the NumPy calls read it: its values at this call, a strided
        # one copied by ravel)
        args = [f"{self._expr(Ref(a))}.ravel()" if isinstance(a, int) else f"{self._expr(a)}.ravel()"
                for a in run.inputs]
        args += [f"_o{j}" for j in range(len(run.outputs))]
        out.append(f"{pad}if {self._name(run.kernel, 'k')}({', '.join(args)}):")
        err, inner = block, pad + "    "
        for i in sorted(run.members):
            ins = self.rec.code[i]
            if ins.err != err:
                err = ins.err
                state = self._name(err, "e") if err is not None else "_e0"  # (the caller's)
                self._caller_err |= err is None and err != block
                if err != block:
                    out.append(f"{pad}    with _np.errstate(**{state}):")
                inner = pad + ("        " if err != block else "    ")
            out.append(f"{inner}{self._statement(ins)}")
        temps = sorted({s for i in run.members for s in refs(self.rec.code[i].outs)}
                       - set(run.outputs) - (dead or set()))
        if temps:
            out.append(f"{pad}    del {', '.join(f'v{s}' for s in temps)}")
        out.append(f"{pad}else:")
        out += [f"{pad}    v{s} = _o{j}" for j, s in enumerate(run.outputs)]
        if dead:
            out.append(f"{pad}del {', '.join(f'v{s}' for s in sorted(dead))}")
        return out

    def _source(self, src: tuple) -> str:
        if src[0] == "arg":
            return f"_a[{src[1]}]" + (f".{src[2]}" if src[2] else "")
        return f"{self._name(src[1], 's')}.{src[2]}"

    def _target_obj(self, target: tuple) -> str:
        return f"_a[{target[1]}]" if target[0] == "arg" else self._name(target[1], "s")


_REDUCTIONS = {f: u.reduce for fs, u in [((np.ndarray.sum, np.sum), np.add),
                                         ((np.ndarray.prod, np.prod), np.multiply),
                                         ((np.ndarray.max, np.max, np.amax), np.maximum),
                                         ((np.ndarray.min, np.min, np.amin), np.minimum),
                                         ((np.ndarray.any, np.any), np.logical_or),
                                         ((np.ndarray.all, np.all), np.logical_and)] for f in fs}


def _target(outs) -> str:
    if type(outs) is Ref:
        return f"v{outs.slot}"
    if outs is None:
        return "_"
    inner = ", ".join(_target(o) for o in outs)
    return f"({inner},)" if len(outs) == 1 else f"({inner})" if outs else "_"


def _within(ins: Instr, made: set[int]) -> bool:
    """Is every array `ins`'s result may show one the program made (so its result, a view or
    not, is the program's own memory)? An ndarray method shows its array's memory (or new);
    another call, that of any array among its arguments."""
    if getattr(ins.fn, "__objclass__", None) is np.ndarray and ins.args:
        return type(ins.args[0]) is Ref and ins.args[0].slot in made
    return not _has_array(ins.args) and not _has_array(ins.kwargs) \
        and refs(ins.args) | refs(ins.kwargs) <= made


def _has_array(t) -> bool:
    """Does `t` hold an array from outside the program (a constant to the program: a result may
    be a view of it, and its values may change between calls)?"""
    if isinstance(t, np.ndarray):
        return True
    if isinstance(t, (tuple, list)):
        return any(_has_array(x) for x in t)
    if isinstance(t, dict):
        return any(_has_array(x) for x in t.values())
    return False


def _written(ins: Instr) -> list:
    out = ins.kwargs.get("out")
    if out is not None:
        return list(out) if isinstance(out, tuple) else [out]
    key = TARGET.get(getattr(ins.fn, "__name__", ""))
    return [ins.kwargs[key]] if key in ins.kwargs else list(ins.args[:1])


def _live(code: list[Instr], needed: set[int]) -> list[int]:
    """Indices of the instructions to run: every in-place write, check and draw, and every pure
    call whose result is used (dead ones are dropped)."""
    keep = []
    needed = set(needed)
    for i in range(len(code) - 1, -1, -1):
        ins = code[i]
        if ins.kind != "call" or not ins.pure or refs(ins.outs) & needed:
            keep.append(i)
            needed |= refs(ins.args) | refs(ins.kwargs)
    return keep[::-1]


def _fold(code: list[Instr], kept: list[int], alive: set[int]) -> dict[int, object]:
    """Note [folding]: a pure call none of whose inputs comes from the call's arguments, outside
    state or a draw (the seed of a backward sweep: ones, divided, reshaped, broadcast) gives the
    same value at every replay: it is computed once, here, and the program reads it as a constant.
    So is an in-place write of such values into such a value (a one-hot of constant labels: zeros,
    then ones set), while the program has read no folded value yet (a view of it would change).
    Not where the program writes into such a value otherwise, returns it or a view of it (a caller
    may write into it), or where it is computed from an array from outside the program
    (`_reads_outside`: the replay reads that as it is at each call, as eager does)."""
    values: dict[int, object] = {}
    inputs: dict[int, set[int]] = {}  # folded slot -> the folded slots it was computed from
    writes: set[int] = set()  # in-place writes done here
    read = False  # has a call the program keeps read a folded value?
    for i in kept:
        ins = code[i]
        reads = refs(ins.args) | refs(ins.kwargs)
        if ins.kind == "call" and not ins.pure:
            targets = _written(ins)
            if (not read and targets and all(type(w) is Ref for w in targets) and not _reads_outside(ins)
                    and reads | {w.slot for w in targets} <= set(values) and _apply(ins, values)):
                writes.add(i)
                continue
        if ins.kind != "call" or not ins.pure or not reads <= set(values) or _reads_outside(ins) \
                or type(ins.outs) is not Ref or ins.outs.slot in alive or not _apply(ins, values):
            read = read or bool(reads & set(values))
            continue
        inputs[ins.outs.slot] = reads
    # a value written in place is not folded, nor what it was computed from or what was computed
    # from it (either may be a view of it); nor one that a result may be a view of (the caller
    # gets a new, writable array from f at each call)
    unfold = {w.slot for i in kept if code[i].kind == "call" and not code[i].pure and i not in writes
              for w in _written(code[i]) if type(w) is Ref} & set(values)
    unfold |= {s for i in kept if code[i].kind == "call" and refs(code[i].outs) & alive
               and not makes_new(code[i].fn) for s in refs(code[i].args) | refs(code[i].kwargs)} \
        & set(values)
    while True:
        more = {a for s in unfold for a in inputs[s]} | {s for s, ins in inputs.items() if ins & unfold}
        if more <= unfold:
            break
        unfold |= more
    values = {s: v for s, v in values.items() if s not in unfold}
    for v in values.values():
        if isinstance(v, np.ndarray):
            v.setflags(write=False)
    return values


def _reads_outside(ins: Instr) -> bool:
    """Does `ins` read an array from outside the program? Its values may change between calls,
    read-only or not (its owner may unlock, write and lock it again), so the replay reads it as
    it is at each call, as eager does, and a value computed from it is not folded."""
    return _has_array(ins.args) or _has_array(ins.kwargs)


def _apply(ins: Instr, values: dict) -> bool:
    """Run `ins` on folded values (its result, if a new value, into `values`); False if it raised
    (left to the replay, which raises as f did)."""
    try:
        args, kwargs = _resolve(ins.args, values), _resolve(ins.kwargs, values)
        fn = ins.fn
        if getattr(fn, "__objclass__", None) is np.ndarray and args:  # (as a method: a NumPy
            fn, args = getattr(args[0], fn.__name__), args[1:]  # scalar has them too, as _call)
        with np.errstate(**(ins.err or {})):
            value = fn(*args, **kwargs)
    except Exception:
        return False
    if ins.pure:
        values[ins.outs.slot] = value
    return True


def _resolve(t, values: dict):
    if type(t) is Ref:
        return values[t.slot]
    if isinstance(t, tuple) and not hasattr(t, "_fields"):
        return tuple(_resolve(x, values) for x in t)
    if type(t) is list:
        return [_resolve(x, values) for x in t]
    if type(t) is dict:
        return {k: _resolve(v, values) for k, v in t.items()}
    return t


def _dead_after(order: list, code: list[Instr], keep_alive: set[int]) -> dict[int, set[int]]:
    """For each position in `order`, the values not used after it (to delete there). A fused
    run reads its inputs and makes its outputs; the values inside it are never variables."""
    last: dict[int, int] = {}
    for p, item in enumerate(order):
        if isinstance(item, fusion.Run):
            used = {a for a in item.inputs if isinstance(a, int)} | set(item.outputs)
        else:
            ins = code[item]
            used = refs(ins.args) | refs(ins.kwargs) | refs(ins.outs)
        for s in used:
            last[s] = p
    dead: dict[int, set[int]] = {}
    for s, p in last.items():
        if s not in keep_alive:
            dead.setdefault(p, set()).add(s)
    return dead

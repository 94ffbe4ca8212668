"""`jit`: trace a function once per signature, check the trace against a second one, then
replay the compiled program (Note [tracing] in tracing/__init__.py)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence

import numpy as np

from .. import anomaly
from ..graph import local
from ..tensor import Tensor
from ..transforms.pytree import tree_flatten, tree_unflatten
from . import fusion, state
from .program import Diverged, Program, Stale, differences
from .traced import _SLOTS, Recorder, Ref, Traced, TraceError, _local, active

_one_trace = threading.RLock()
MAX_CANDIDATES = 12  # traces of one signature that matched no other: past this, f is refused


class _Eager(threading.local):
    depth = 0


_eager = _Eager()


class eagerly:
    """Context manager: inside it (in this thread), jitted functions run `f` itself, neither
    traced nor replayed. `frozen_randomness` uses it: its draws repeat a first evaluation's,
    which a program would have frozen, or drawn afresh."""

    def __enter__(self) -> eagerly:
        _eager.depth += 1
        return self

    def __exit__(self, *exc) -> None:
        _eager.depth -= 1


class _Host:
    """Draws for one replay: those a diverged attempt already made come first (same order)."""

    __slots__ = ("log", "i")

    def __init__(self, log: list) -> None:
        self.log, self.i = log, 0

    def __call__(self, sample):
        i, log = self.i, self.log
        self.i = i + 1
        if i < len(log):
            return log[i]
        value = sample()
        log.append(value)
        return value


class _Signature:
    """What one signature has: validated programs, and traces still waiting for a twin."""

    __slots__ = ("programs", "candidates", "out_tree")

    def __init__(self) -> None:
        self.programs: list[Program] = []
        self.candidates: list[tuple[Recorder, list, list]] = []


class Jitted:
    """A function traced once per signature and replayed (see `jit`). ``.programs()`` lists the
    compiled programs; ``.source()`` is the Python code of the latest one."""

    def __init__(self, f: Callable, static_argnums: Sequence[int] | int = (),
                 fuse: bool | None = None) -> None:
        self.f = f
        self.fuse = fusion.available() if fuse is None else bool(fuse)
        if self.fuse and not fusion.available():
            raise ImportError("jit(fuse=True) needs numba: pip install 'autograd-core[jit]'")
        nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
        if not all(isinstance(i, int) and i >= 0 for i in nums):
            raise TypeError(f"jit: static_argnums must be non-negative ints, got {static_argnums!r}")
        self.static = frozenset(nums)
        self.cache: dict = {}
        self.traces = 0  # traced (eager) calls so far
        functools.update_wrapper(self, f)

    def __call__(self, *args, **kwargs):
        if active() is not None or _eager.depth:  # inside another jitted function: part of its
            return self.f(*args, **kwargs)  # trace; inside `eagerly`: f itself
        key, leaves = self._signature(args, kwargs)
        sig = self.cache.get(key)
        if sig is None:
            sig = self.cache[key] = _Signature()
        log: list = []
        tried = len(sig.programs)
        done, result = self._replay(sig.programs, leaves, log)
        return result if done else self._trace(sig, args, kwargs, leaves, log, tried)

    def _replay(self, programs: list[Program], leaves: list, log: list) -> tuple[bool, object]:
        """(True, the result) of the first program that replays this call, else (False, None)."""
        for prog in programs:
            try:
                flat = prog.run(leaves, _Host(log))
            except Stale:
                continue
            except Diverged as e:
                e.restore()  # (its writes into outside arrays: f runs once, Note [undo])
                continue
            return True, prog.rebuild(flat)
        return False, None

    def programs(self) -> list[Program]:
        return [p for sig in self.cache.values() for p in sig.programs]

    def source(self) -> str:
        progs = self.programs()
        if not progs:
            raise RuntimeError("jit: nothing compiled yet (a signature compiles on its second call)")
        return max(progs, key=lambda p: p.made).source

    # -- signatures ---------------------------------------------------------------------------------
    def _signature(self, args: tuple, kwargs: dict):
        # (under no_grad f records nothing, under detect_anomaly it checks every node: others)
        grad_mode = (local.recording.enabled, anomaly.state.enabled)
        if not kwargs and not self.static and all(type(a) is np.ndarray for a in args):
            # (the common call, plain arrays: its key without flattening; the general path's
            # keys start with a tuple of statics, these with "arrays", so the two never meet)
            return ("arrays", grad_mode, *[(a.shape, a.dtype.str) for a in args]), list(args)
        static = tuple((i, _hashable(args[i], f"argument {i}")) for i in sorted(self.static)
                       if i < len(args))
        dynamic = tuple(a for i, a in enumerate(args) if i not in self.static)
        leaves, paths, tree = tree_flatten((dynamic, kwargs))
        parts = []
        for leaf, path in zip(leaves, paths, strict=True):
            if isinstance(leaf, Tensor):
                d = leaf.data
                parts.append(("T", d.shape, d.dtype.str, leaf.requires_grad, leaf.grad is None))
            elif isinstance(leaf, (np.ndarray, np.generic)):
                parts.append(("A", np.shape(leaf), leaf.dtype.str, type(leaf).__name__))
            else:  # Python numbers, strings, modules...: part of the signature
                parts.append(("S", _hashable(leaf, f"argument{path}")))
        return (static, grad_mode, tree, tuple(parts)), leaves

    # -- tracing ------------------------------------------------------------------------------------
    def _trace(self, sig: _Signature, args: tuple, kwargs: dict, leaves: list, log: list,
               tried: int = 0):
        with _one_trace:  # traces rebind outside Tensors' slots: one at a time in a process
            # (a program compiled while this thread waited, by another's trace, replays it)
            done, result = self._replay(sig.programs[tried:], leaves, log)
            return result if done else self._trace_alone(sig, args, kwargs, leaves, log)

    def _trace_alone(self, sig: _Signature, args: tuple, kwargs: dict, leaves: list, log: list):
        rec = Recorder()
        rec.host_pending = list(log)
        traced = []
        for i, leaf in enumerate(leaves):
            if isinstance(leaf, Tensor):
                rec.arg_tensors[id(leaf)] = i
                traced.append(leaf)
            elif isinstance(leaf, (np.ndarray, np.generic)):
                t = rec.new(np.asarray(leaf) if isinstance(leaf, np.generic) else leaf,
                            scalar=isinstance(leaf, np.generic))
                rec.inputs.append((t._slot, ("arg", i, None)))
                if t.size:  # (an empty array has no values that could tell two calls apart)
                    rec.prints.append(rec.note_input(t))
                traced.append(t)
            else:
                traced.append(leaf)
        dyn_tree = tree_flatten((tuple(a for i, a in enumerate(args) if i not in self.static),
                                 kwargs))[2]
        dyn_args, dyn_kwargs = tree_unflatten(dyn_tree, traced)
        it = iter(dyn_args)
        call_args = [args[i] if i in self.static else next(it) for i in range(len(args))]
        self.traces += 1
        state.install()
        _local.rec = rec
        try:
            result = self.f(*call_args, **dyn_kwargs)
            _local.rec = None
            lost = rec.unseen_writes()
            if lost:
                raise TraceError(
                    f"jit: {self.name} wrote into {_describe(lost[0])} where the tracer could not "
                    "see it: through a plain view of a traced array (np.asarray bound before "
                    "tracing, as `from numpy import asarray` does) or from C code. The replay "
                    "would drop that write. Write through the array itself (x += 1, x[...] = v) "
                    "or call np.asarray by its module. " + _RAN_EAGERLY)
            out_leaves, _, out_tree = tree_flatten(result)
            kinds, outs, values = _outputs(rec, out_leaves)  # (while f's Tensors hold traced arrays)
        finally:
            _local.rec = None
            state.uninstall()
            _finish_state(rec)
            rec.finished = True
            # (what f made is f's: a kept trace must not keep its Tensors, their graphs and the
            # locks those hold on arrays alive)
            rec.created.clear()
            rec.state.clear()
            rec.before.clear()
        self._add(sig, rec, outs, kinds, out_tree)
        return tree_unflatten(out_tree, values)

    def _add(self, sig: _Signature, rec: Recorder, outs: list, kinds: list, out_tree) -> None:
        why = None
        for cand in sig.candidates:
            if rec.prints and cand[0].prints == rec.prints:  # same values: no evidence either way
                return
            why, kind, fresh = differences(cand[0], rec, cand[1], outs)
            if why is None and cand[2] == kinds:
                prog = Program(cand[0], cand[1], fresh, fuse=self.fuse)
                prog.kinds, prog.out_tree = kinds, out_tree
                prog.rebuild = _rebuilder(kinds, out_tree)
                sig.programs.append(prog)
                sig.candidates.remove(cand)
                return
            if kind == "frozen":  # (this trace replaces the candidate: a one-off race, another
                sig.candidates.remove(cand)  # thread rebinding a Tensor, is not refused for good)
                sig.candidates.append((rec, outs, kinds))
                raise TraceError(
                    f"jit: {self.name}: two calls traced different constants: {why}. A value "
                    "computed from the arguments where the tracer could not see it was frozen "
                    "into the trace: np.array()/np.asarray(x, dtype) of a traced array, a write "
                    "of one into an array made outside f (buf[...] = x: keep state in Tensors), or "
                    "Python state that changed between calls (read it with ag.tracing.read, or "
                    "declare it with ag.depends_on). " + _RAN_EAGERLY)
        sig.candidates.append((rec, outs, kinds))
        if len(sig.candidates) > MAX_CANDIDATES:
            raise TraceError(
                f"jit: {self.name} was traced {len(sig.candidates)} times with one signature and "
                f"no two traces were the same program; the last two differ at {why}. Mark the "
                "arguments its Python control flow depends on static (static_argnums), or compute "
                "with np.where instead of if/else on array values. " + _RAN_EAGERLY)

    @property
    def name(self) -> str:
        return getattr(self.f, "__name__", "f")


def _describe(source: tuple) -> str:
    if source[0] == "arg":
        return f"argument {source[1]}" + (f" (its .{source[2]})" if source[2] else "")
    t, attr = source[1], source[2]
    return f"the .{attr} of a Tensor of shape {t.data.shape} made outside it"


_RAN_EAGERLY = "(This call itself ran eagerly: its results and updates are those of calling f.)"


def jit(f: Callable, static_argnums: Sequence[int] | int = (), *, fuse: bool | None = None) -> Jitted:
    """Trace `f` once per input signature and replay it as straight-line NumPy: Note [tracing].

    The signature is the shapes and dtypes of the array and Tensor arguments (nested in tuples,
    lists and dicts as the transforms take them), each Tensor's requires_grad and whether its
    grad is None, and the values of every other argument (numbers, strings, modules: static,
    so they must be hashable); `static_argnums` marks more arguments static. The first two calls
    of a signature run `f` eagerly while tracing it; when the two traces are the same program it
    is compiled, and later calls replay it: same values and gradients as calling `f` (bitwise:
    the same NumPy calls run), Tensors outside `f` that it rebinds (``p.data``, ``p.grad``) are
    rebound as `f` would have. Results are plain: a Tensor result comes back detached (take
    gradients inside `f`, as with JAX's jit). See docs/jit.md for what may and may not be
    traced. `fuse`: fuse runs of elementwise calls into numba kernels (Note [fusion]; default:
    when numba is installed, the ``[jit]`` extra).
    """
    if not callable(f):
        raise TypeError(f"jit: expected a function, got {type(f).__name__}")
    return Jitted(f, static_argnums, fuse)


def _hashable(value, what: str):
    """The key of a static value: its type with it (1, 1.0 and True are equal, and hash alike,
    but f computes other dtypes with each), recursively for tuples."""
    try:
        hash(value)
    except TypeError:
        raise TypeError(f"jit: {what} ({type(value).__name__}) is static (not an array or Tensor) "
                        "and must be hashable; pass arrays as arrays") from None
    if type(value) is tuple:
        return tuple(_hashable(v, what) for v in value)
    return type(value), value


def _finish_state(rec: Recorder) -> None:
    """After a trace: outside Tensors get plain arrays back, and their rebindings become the
    program's effects (Note [state lives in Tensors])."""
    for (_, attr), (t, original, traced) in rec.state.items():
        slot = _SLOTS[attr]
        current = slot.__get__(t, Tensor)
        if current is traced and traced is not None:
            slot.__set__(t, original)
            continue
        if current is original and original is not None:  # (f's `p.grad = None` is an effect)
            continue
        target = ("arg", rec.arg_tensors[id(t)]) if id(t) in rec.arg_tensors else ("state", t)
        value, tmpl = _plain(rec, current)
        rec.effects.append((target, attr, tmpl))
        slot.__set__(t, value)
    for t in rec.created.values():  # Tensors made in f that it kept somewhere: plain again
        for slot in _SLOTS.values():
            v = slot.__get__(t, Tensor)
            if type(v) is Traced:
                slot.__set__(t, np.ndarray.view(v, np.ndarray))


def _plain(rec: Recorder, value):
    """(value with a traced array as a plain one, its template)."""
    if isinstance(value, np.ndarray):
        raw, tmpl = rec.lower(value)
        return raw if type(raw) is np.ndarray else np.ndarray.view(raw, np.ndarray), tmpl
    return value, value


def _outputs(rec: Recorder, leaves: list) -> tuple[list, list, list]:
    """Each result leaf's kind, template and value for this (eager) call."""
    kinds, outs, values = [], [], []
    for leaf in leaves:
        if isinstance(leaf, Tensor):
            if id(leaf) in rec.arg_tensors:  # f returned an argument: a Tensor of its data
                data = _SLOTS["data"].__get__(leaf, Tensor)
                raw, tmpl = _plain(rec, rec.read_state(leaf, "data", data))
                kinds.append("tensor")
                outs.append(tmpl)
                values.append(Tensor._of(raw))
                continue
            if id(leaf) not in rec.created:
                kinds.append("object")
                outs.append(leaf)
                values.append(leaf)
                continue
            raw, tmpl = _plain(rec, _SLOTS["data"].__get__(leaf, Tensor))  # (Tensor's own slot)
            kinds.append("tensor")
            outs.append(tmpl)
            values.append(Tensor._of(raw))
        elif isinstance(leaf, np.ndarray):
            raw, tmpl = _plain(rec, leaf)
            scalar = type(leaf) is Traced and leaf._scalar
            kinds.append("scalar" if scalar else "array" if type(tmpl) is Ref else "copy")
            outs.append(tmpl)
            values.append(raw[()] if scalar else raw if type(tmpl) is Ref else raw.copy())
        else:
            kinds.append("value")
            outs.append(leaf)
            values.append(leaf)
    return kinds, outs, values


def _rebuilder(kinds: list, tree) -> Callable[[tuple], object]:
    """The function giving a replay's result from the program's flat values: the general
    `_rebuild`, or (arrays as they come, in a flat list, tuple or alone) a direct one."""
    plain = all(k == "array" for k in kinds)
    if plain and tree.kind is None:
        return lambda flat: flat[0]
    if plain and tree.kind in (list, tuple) and all(c.kind is None for c in tree.children):
        return list if tree.kind is list else tuple
    return lambda flat: _rebuild(kinds, flat, tree)


def _rebuild(kinds: list, flat: tuple, tree):
    values = []
    for kind, v in zip(kinds, flat, strict=True):
        if kind == "tensor":
            values.append(Tensor._of(v if type(v) is np.ndarray else np.asarray(v)))
        elif kind == "copy":
            values.append(v.copy())
        elif kind == "scalar" and type(v) is np.ndarray:
            values.append(v[()])
        else:
            values.append(v)
    return tree_unflatten(tree, values)

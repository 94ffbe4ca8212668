"""Recording NumPy calls: `Traced`, an ndarray that logs every NumPy call made on it, and
`Recorder`, the log of one traced call of a function (Note [tracing] in tracing/__init__.py).

A Traced array holds its real values (the traced call runs eagerly), so shapes, dtypes and the
engine's own Python logic work unchanged; every ufunc, NumPy function, ndarray method, index and
in-place write on it adds one `Instr` to the recorder, with `Ref(slot)` where a traced value went
in and out. Turning a traced value into a Python value (`float`, `.item()`, `int`) is refused:
the value would be frozen into the program. `bool()` is allowed and recorded as a check that the
replay repeats (a branch taken the other way makes the program invalid for that call).
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import threading
import weakref
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.array_utils import byte_bounds

from ..anomaly import _library_dirs
from ..graph import local
from ..tensor import Tensor


class Ref:
    """A traced value in a program: the value computed into `slot`."""

    __slots__ = ("slot",)

    def __init__(self, slot: int) -> None:
        self.slot = slot

    def __eq__(self, other) -> bool:
        return type(other) is Ref and other.slot == self.slot

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"v{self.slot}"


def refs(t) -> set[int]:
    """The slots of the Refs in a template (nested tuples, lists and dicts)."""
    if type(t) is Ref:
        return {t.slot}
    if isinstance(t, (tuple, list)):
        return set().union(*map(refs, t)) if t else set()
    if type(t) is dict:
        return refs(list(t.values()))
    return set()


def makes_new(fn) -> bool:
    """Does calling `fn` give a new array (never a view of its inputs)?"""
    if isinstance(fn, np.ufunc) or isinstance(getattr(fn, "__self__", None), np.ufunc):
        return True  # a ufunc, or its reduce, accumulate, outer
    return fn is np.dot or getattr(fn, "__name__", "") in ("zeros", "ones", "empty", "full", "eye",
                                                          "identity")


class Instr:
    """One recorded call. `kind` is "call" (``outs = fn(*args, **kwargs)``), "check" (``bool(args[0])``
    must be `fn`, the value it had when traced) or "host" (``outs = fn()``: randomness drawn afresh)."""

    __slots__ = ("kind", "fn", "args", "kwargs", "outs", "pure", "err", "where")

    def __init__(self, kind: str, fn, args: tuple, kwargs: dict, outs, pure: bool, err) -> None:
        self.kind, self.fn, self.args, self.kwargs, self.outs = kind, fn, args, kwargs, outs
        self.pure, self.err, self.where = pure, err, _site()

    @property
    def name(self) -> str:
        if self.kind == "check":
            return "shape" if isinstance(self.fn, tuple) else "bool"
        if self.kind == "host":
            return "draw_random"
        return getattr(self.fn, "__qualname__", None) or getattr(self.fn, "__name__", repr(self.fn))


class TraceError(TypeError):
    """f cannot be traced as written (the message says what to change)."""


_local = threading.local()


def active() -> Recorder | None:
    """The calling thread's recorder while a trace runs, else None."""
    return getattr(_local, "rec", None)


# In-place ndarray methods and NumPy functions: they are never dropped as dead code.
_INPLACE_METHODS = frozenset({"fill", "sort", "put", "partition", "resize", "itemset", "setfield",
                              "__setitem__", "setflags", "byteswap"})
_INPLACE_FUNCTIONS = frozenset({"copyto", "put", "place", "putmask", "fill_diagonal",
                                "put_along_axis"})
# the name of the array each of them writes, where it is passed by keyword
TARGET = {"copyto": "dst", "put": "a", "place": "arr", "putmask": "a", "fill_diagonal": "a",
          "put_along_axis": "arr"}
# NumPy functions whose result depends on shapes and dtypes only (nothing to record).
_METADATA = frozenset({"shape", "ndim", "size", "result_type", "iscomplexobj", "isrealobj",
                       "may_share_memory", "shares_memory", "min_scalar_type", "can_cast"})


class Recorder:
    """The log of one traced call: instructions, and where each input slot's value comes from."""

    def __init__(self) -> None:
        self.n = 0
        self.code: list[Instr] = []
        self.inputs: list[tuple] = []  # (slot, source): ("arg", i, attr or None) or ("state", t, attr)
        self.meta: dict[int, tuple] = {}  # input slot read from a Tensor -> (shape, dtype)
        self.shapes: dict[int, tuple] = {}  # every slot -> (shape, dtype) when traced
        self.forc: set[int] = set()  # the slots that were C- or F-contiguous when traced
        self.effects: list[tuple] = []  # (target, attr, template): rebindings the replay repeats
        self.arg_tensors: dict[int, int] = {}  # id of a Tensor argument -> its argument index
        self.state: dict[tuple[int, str], list] = {}  # (id(t), attr) -> [t, original, traced input]
        self.guards: list[tuple] = []  # (obj, attr, value): Python state the program depends on
        self.created: dict[int, Tensor] = {}  # Tensors made during the trace (their data is theirs)
        self.host_pending: list = []  # draws to hand out again (after a replay diverged)
        self.finished = False
        self.prints: list[int] = []  # a checksum of each input's values (jit.py: validation)
        self.err0 = np.geterr()
        self.pristine: dict[int, int] = {}  # slot of an array np.empty/zeros... made -> its checksum
        self.consts: dict[int, tuple] = {}  # id of an outside array f used -> (it, checksum then)
        # traced arrays by memory layout: a plain view NumPy made of one (np.asarray(traced))
        # is found here and stands for it
        self.views: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        # input slot -> (its memory's byte bounds, its checksum when first read), and the slots a
        # recorded write may have reached: `unseen_writes`
        self.before: dict[int, tuple] = {}
        self.written: set[int] = set()

    # -- values ------------------------------------------------------------------------------
    def new(self, value, scalar: bool = False) -> Traced:
        t = np.ndarray.view(value, Traced)
        t._rec, t._slot, t._scalar = self, self.n, scalar
        self.n += 1
        self.shapes[t._slot] = (value.shape, value.dtype)
        if value.flags.forc:
            self.forc.add(t._slot)
        self.views[_layout(t)] = t
        return t

    def lower(self, x):
        """(x with every traced array as a plain ndarray, x with every traced array as a Ref)."""
        tx = type(x)
        if tx is Traced:
            if x._rec is not self or x._slot is None:
                raise _foreign(x, self)
            if x._slot in self.pristine:
                self._untouched(x)
            return np.ndarray.view(x, np.ndarray), Ref(x._slot)
        if tx is np.ndarray:
            same = self.views.get(_layout(x))
            if same is not None:  # np.asarray(traced): a plain view of a traced array
                return x, Ref(same._slot)
            if id(x) not in self.consts:  # (values when f first used it: program.py, differences)
                self.consts[id(x)] = (x, fingerprint(x))
            return x, x
        if tx is tuple or tx is list:
            parts = [self.lower(v) for v in x]
            return tx(p[0] for p in parts), tx(p[1] for p in parts)
        if tx is dict:
            parts = {k: self.lower(v) for k, v in x.items()}
            return {k: p[0] for k, p in parts.items()}, {k: p[1] for k, p in parts.items()}
        if isinstance(x, Tensor):
            raise TraceError("jit: a Tensor reached a NumPy call inside the tracer; this is a bug "
                             "in the tracer")
        if tx is slice and any(isinstance(v, np.ndarray) for v in (x.start, x.stop, x.step)):
            raise TraceError("jit: a slice bound is a traced array (its value would be frozen); "
                             "use np.take or an index array instead")
        return x, x

    def _untouched(self, x: Traced) -> None:
        """An array np.empty/zeros/... made must hold what they made until a recorded call
        writes it: else C code filled it (np.random) and the replay would not."""
        if fingerprint(np.ndarray.view(x, np.ndarray)) != self.pristine.pop(x._slot):
            raise TraceError(
                f"jit: an array made with np.empty/zeros/ones/full was filled where the tracer "
                f"could not see it, used at {_site()} (np.random or a Generator drawing inside f, "
                "or a C extension): draw randomness with ag.draw_random(owner, sample), which the "
                "replay draws afresh")

    def wrap(self, result):
        """The traced counterpart of a NumPy result, and its template of Refs."""
        if isinstance(result, np.ndarray):
            t = self.new(result)
            return t, Ref(t._slot)
        if isinstance(result, np.generic):
            t = self.new(np.asarray(result), scalar=True)
            return t, Ref(t._slot)
        if isinstance(result, tuple):  # (namedtuples too: eigh's, svd's, slogdet's results)
            parts = [self.wrap(r) for r in result]
            vals = [p[0] for p in parts]
            tmpl = tuple(p[1] for p in parts)
            return (type(result)(*vals) if hasattr(result, "_fields") else tuple(vals)), tmpl
        if isinstance(result, list):
            parts = [self.wrap(r) for r in result]
            return [p[0] for p in parts], [p[1] for p in parts]
        if result is None:
            return None, None
        if isinstance(result, (bool, int, float)):  # np.allclose, np.count_nonzero...
            t = self.new(np.asarray(result), scalar=True)
            return t, Ref(t._slot)
        raise TraceError(f"jit: cannot trace a NumPy result of type {type(result).__name__}")

    def record(self, kind: str, fn, args, kwargs, result, pure: bool):
        """Compute nothing: log a call whose result NumPy has already computed; return the result
        with traced arrays in place of plain ones."""
        value, outs = self.wrap(result)
        self.code.append(Instr(kind, fn, args, kwargs, outs, pure, _errstate(self)))
        return value

    def call(self, fn, args: tuple, kwargs: dict, pure: bool = True, out=None):
        """Run ``fn(*args, **kwargs)`` on plain arrays and log it. With `out` (the traced or plain
        arrays an in-place call writes), the result is `out` itself."""
        raw_args, t_args = self.lower(args)
        raw_kwargs, t_kwargs = self.lower(kwargs) if kwargs else ({}, {})
        result = fn(*raw_args, **raw_kwargs)
        if out is None:
            if pure and not _layout_dependent(fn, args, kwargs):
                # an input handed back as it is (asarray, astype(copy=False)): no call; but
                # np.asarray of a NumPy scalar makes a 0-d array, which the replay must make too
                for raw, x in zip(raw_args, args, strict=False):
                    if result is raw and type(x) is Traced and not (x._scalar and fn in _ARRAY_OF):
                        return x
            value = self.record("call", fn, t_args, t_kwargs, result, pure)
            if _value_shaped(fn, raw_args):  # its shape depends on values: the replay checks it
                for v in (value if isinstance(value, (tuple, list)) else (value,)):
                    if type(v) is Traced:
                        self.code.append(Instr("check", ("shape", v.shape), (Ref(v._slot),), {},
                                               None, False, _errstate(self)))
            return value
        outs = tuple(Ref(o._slot) if type(o) is Traced else None for o in out)
        for o in out:  # (a plain view of a traced array too: `lower` found it, the replay writes it)
            if isinstance(o, np.ndarray):
                self._mark_written(np.ndarray.view(o, np.ndarray))
        self.code.append(Instr("call", fn, t_args, t_kwargs, outs if len(out) > 1 else outs[0],
                               False, _errstate(self)))
        return out if len(out) > 1 else out[0]

    def note_input(self, t: Traced) -> int:
        """Remember an input's values when first read (for `unseen_writes`); its checksum."""
        plain = np.ndarray.view(t, np.ndarray)
        fp = fingerprint(plain)
        self.before[t._slot] = (byte_bounds(plain), fp, plain)
        return fp

    def _mark_written(self, target: np.ndarray) -> None:
        """Mark the inputs a recorded write into `target` may reach (their memory shared)."""
        lo, hi = byte_bounds(target)
        for slot, ((a, b), _, plain) in self.before.items():
            if lo < b and a < hi and slot not in self.written:
                try:  # (interleaved views, x[::2] and x[1::2], share no element)
                    shared = np.shares_memory(target, plain, max_work=10_000)
                except np.exceptions.TooHardError:
                    shared = True
                if shared:
                    self.written.add(slot)

    def unseen_writes(self) -> list[tuple]:
        """The sources of the inputs whose values changed during the trace though no recorded
        write reached their memory: written through a plain view the tracer could not see
        (np.asarray bound before tracing, a C extension), a write the replay would drop."""
        changed = [source for slot, source in self.inputs if slot in self.before
                   and slot not in self.written and fingerprint(self.before[slot][2]) != self.before[slot][1]]
        self.before.clear()  # (a kept trace keeps no inputs alive)
        return changed

    def check(self, x: Traced) -> bool:
        value = bool(np.ndarray.view(x, np.ndarray))
        self.code.append(Instr("check", value, (Ref(x._slot),), {}, None, False, _errstate(self)))
        return value

    def host(self, sample: Callable[[], Any]):
        """A draw of randomness: made now (or handed back after a diverged replay) and again at
        every replay."""
        cells = getattr(sample, "__closure__", None) or ()
        for c in cells:
            if isinstance(c.cell_contents, Traced):
                raise TraceError("jit: a draw_random sample function reads a traced array; draw "
                                 "from shapes and Python numbers only")
        if self.host_pending:
            value = self.host_pending.pop(0)
        else:  # drawn untraced: the replay calls sample() itself (np.empty inside it, say)
            _local.rec = None
            try:
                value = sample()
            finally:
                _local.rec = self
        self.prints.append(_fingerprint_any(value))
        return self.record("host", sample, (), {}, value, False)

    # -- Tensor state (Note [state lives in Tensors]) -------------------------------------------
    def read_state(self, t: Tensor, attr: str, value):
        """A Tensor's data or grad read from outside the trace becomes an input of the program."""
        if id(t) in self.created:
            return value
        key = (id(t), attr)
        entry = self.state.get(key)
        if entry is not None and entry[2] is not None:
            return value  # an input already (value is its traced array, unless rebound)
        if isinstance(value, Tensor):
            raise TraceError("jit: f reads a .grad that is a Tensor (left by backward(create_graph="
                             "True) outside f); reset it (p.grad = None) or take it inside f")
        if value is None:  # a grad not there yet: the program is for "no grad yet"
            if entry is None:
                self.state[key] = [t, None, None]
                if id(t) not in self.arg_tensors:  # (an argument's is part of the signature)
                    self.guards.append((t, attr, None))
            return value
        if id(t) not in self.arg_tensors:  # (an argument's flag is part of the signature)
            self.guards.append((t, "requires_grad", t.requires_grad))
        traced = self.new(value)
        source = ("arg", self.arg_tensors[id(t)], attr) if id(t) in self.arg_tensors else \
            ("state", t, attr)
        self.inputs.append((traced._slot, source))
        self.meta[traced._slot] = (value.shape, value.dtype)
        if value.size:
            self.prints.append(self.note_input(traced))
        self.state[key] = [t, value, traced]
        _SLOTS[attr].__set__(t, traced)
        return traced

    def write_state(self, t: Tensor, attr: str) -> None:
        if id(t) in self.created:
            return
        try:
            _SLOTS[attr].__get__(t, Tensor)
        except AttributeError:  # an empty slot: a Tensor being made now
            self.created[id(t)] = t
            return
        self.state.setdefault((id(t), attr), [t, _SLOTS[attr].__get__(t, Tensor), None])

    def guard(self, obj, name: str) -> None:
        value = getattr(obj, name)
        if isinstance(value, np.ndarray):
            raise TypeError(f"depends_on: {type(obj).__name__}.{name} is an array; a program "
                            "cannot be guarded by array values: read it with ag.tracing.read")
        self.guards.append((obj, name, value))


def fingerprint(a: np.ndarray) -> int:
    """A checksum of an array's values (two traces on the same values cannot validate each other:
    a value frozen into both would look constant)."""
    return zlib.crc32(np.ascontiguousarray(a).reshape(-1).view(np.uint8))


def _fingerprint_any(value) -> int:
    """`fingerprint` of a draw: an array, a number, or (nested) tuples and lists of them."""
    if isinstance(value, (tuple, list)):
        return hash(tuple(_fingerprint_any(v) for v in value))
    return fingerprint(np.asanyarray(value))


_ARRAY_OF = (np.asarray, np.asanyarray, np.ascontiguousarray, np.asfortranarray)  # (NumPy's own)

_VALUE_SHAPED = frozenset({"nonzero", "flatnonzero", "argwhere", "unique", "compress", "extract",
                           "repeat", "delete", "setdiff1d", "intersect1d", "union1d", "setxor1d",
                           "trim_zeros", "unique_values", "unique_counts", "unique_inverse",
                           "unique_all"})


def _value_shaped(fn, raw_args: tuple) -> bool:
    """Does the result's shape depend on the values (a mask's count), not the shapes alone?"""
    name = getattr(fn, "__name__", "")
    if name == "__getitem__":
        index = raw_args[1] if len(raw_args) > 1 else None
        parts = index if isinstance(index, tuple) else (index,)
        return any(isinstance(p, np.ndarray) and p.dtype.kind == "b" for p in parts)
    if name == "where":
        return len(raw_args) == 1
    return name in _VALUE_SHAPED


def _layout_dependent(fn, args: tuple, kwargs: dict) -> bool:
    """Does `fn` hand its input back only for some memory layouts (np.ascontiguousarray of a
    C-ordered array)? Then it is recorded: a replay's input of another layout gets a copy."""
    name = getattr(fn, "__name__", "")
    return name in ("ascontiguousarray", "asfortranarray") or (
        name in ("asarray", "array", "asanyarray") and ("order" in kwargs or len(args) > 2))


def _foreign(x: Traced, rec: Recorder) -> TraceError:
    if x._slot is None:
        return TraceError("jit: an array view was made where the tracer could not see it (an "
                          "ndarray attribute or method the tracer does not cover?)")
    return TraceError("jit: an array from a finished trace was used: it escaped the traced "
                      "function (stored on an object, in a global or in a cache?); return it from "
                      "f instead, or build a cached constant without np.zeros/ones/empty/full")


_BASE = np.ndarray.base  # NumPy's own `base` (Traced overrides the attribute)


def _layout(a: np.ndarray) -> tuple:
    """Which memory an array shows, and how: equal for an array and a plain view of all of it."""
    owner = a
    while isinstance(_BASE.__get__(owner), np.ndarray):
        owner = _BASE.__get__(owner)
    return id(owner), a.__array_interface__["data"][0], a.shape, a.strides, a.dtype.str


def _errstate(rec: Recorder):
    """What f's own np.errstate blocks changed of the state the trace began in (None: nothing):
    the replay sets just that, so the rest stays the caller's at each call, as in eager."""
    err = np.geterr()
    return {k: v for k, v in err.items() if rec.err0[k] != v} or None


_NUMPY_DIR = os.path.dirname(np.__file__)


def _site() -> str:
    """Where the user's code made this call (the innermost frame outside NumPy, the engine and
    registered libraries such as nn), the library line that made it, and the module scope."""
    skip = (*_library_dirs, _NUMPY_DIR)
    f = sys._getframe(2)
    inner = None
    while f is not None and f.f_code.co_filename.startswith(skip):
        name = f.f_code.co_filename
        if inner is None and not name.startswith((_TRACING_DIR, _NUMPY_DIR)):
            inner = f"{os.path.relpath(name, _ROOT)}:{f.f_lineno}"
        f = f.f_back
    where = "?" if f is None else f"{f.f_code.co_filename}:{f.f_lineno}"
    scope = local.recording.scope
    details = ([f"in {inner}"] if inner else []) + ([f"module '{scope[-1]}'"] if scope else [])
    return f"{where} ({', '.join(details)})" if details else where


_TRACING_DIR = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(os.path.dirname(_TRACING_DIR))


def _python_value_error(what: str) -> TraceError:
    return TraceError(
        f"jit: {what} of a traced array at {_site()}: its value would be frozen into the traced "
        "program. Keep "
        "it an array (np.minimum instead of min(), np.where instead of if/else on values), or pass "
        "what it depends on as a static argument (static_argnums)")


def _method(name: str):
    unbound = getattr(np.ndarray, name)
    twin = getattr(np, name, None)  # (the NumPy function of the same arguments, for their names)
    if name not in _INPLACE_METHODS:
        def method(self, *args, **kwargs):
            rec = self._rec_checked()
            args, kwargs = _out_by_keyword(twin, (self, *args), kwargs)
            out = kwargs.get("out")
            if out is not None:  # (`x.sum(axis=0, out=o)` writes o)
                return rec.call(unbound, args, kwargs, pure=False,
                                out=out if isinstance(out, tuple) else (out,))
            return rec.call(unbound, args, kwargs)
    else:
        def method(self, *args, **kwargs):
            self._rec_checked().call(unbound, (self, *args), kwargs, pure=False, out=(self,))

    method.__name__ = name
    return method


@functools.cache
def _signature(func) -> inspect.Signature | None:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


def _out_by_keyword(func, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """`args` and `kwargs` with an ``out`` passed by position (``np.sum(a, 0, None, o)``) passed
    by keyword instead, so that every in-place call names what it writes one way."""
    sig = None if "out" in kwargs or func is None else _signature(func)
    if sig is None or "out" not in sig.parameters:
        return args, kwargs
    names = list(sig.parameters)
    i = names.index("out")
    if i >= len(args) or any(sig.parameters[n].kind is inspect.Parameter.VAR_POSITIONAL
                             for n in names[:i]):
        return args, kwargs
    if args[i] is None:
        return args[:i] + args[i + 1:] if i == len(args) - 1 else args, kwargs
    if i != len(args) - 1:
        raise TraceError(f"jit: {getattr(func, '__name__', func)} at {_site()} is given `out` and "
                         "more arguments after it by position: pass out= and those by keyword")
    return args[:i], {**kwargs, "out": args[i]}


def _view(self, *args, **kwargs):
    """``view(np.ndarray)`` keeps tracing: the result is still a traced array."""
    args = tuple(a for a in args if not (isinstance(a, type) and issubclass(a, np.ndarray)))
    kwargs.pop("type", None)
    return self._rec_checked().call(np.ndarray.view, (self, *args), kwargs)


_TRACED_METHODS = (
    "all", "any", "argmax", "argmin", "argpartition", "argsort", "astype", "choose", "clip",
    "compress", "conj", "conjugate", "copy", "cumprod", "cumsum", "diagonal", "dot", "flatten",
    "max", "mean", "min", "nonzero", "prod", "ravel", "repeat", "reshape", "round", "searchsorted",
    "squeeze", "std", "sum", "swapaxes", "take", "trace", "transpose", "var", "view", "__getitem__",
    "fill", "sort", "put", "partition", "__setitem__", "__copy__")


class Traced(np.ndarray):
    """An ndarray whose NumPy calls are recorded (only while its trace runs)."""

    _rec: Recorder | None = None
    _slot: int | None = None
    _scalar = False

    def __array_finalize__(self, obj) -> None:
        self._rec, self._slot, self._scalar = None, None, False  # a view NumPy made by itself

    def _rec_checked(self) -> Recorder:
        rec = self._rec
        if rec is None or rec.finished or rec is not active():
            raise _foreign(self, rec)
        return rec

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        for x in inputs + tuple(kwargs.get("out", ())):
            if not isinstance(x, np.ndarray) and hasattr(type(x), "__array_ufunc__"):
                return NotImplemented  # a Tensor: its own dispatch runs, then calls us on arrays
        rec = self._rec_checked()
        fn = ufunc if method == "__call__" else getattr(ufunc, method)
        out = kwargs.get("out")
        if method == "at":
            rec.call(fn, inputs, kwargs, pure=False, out=(inputs[0],))
            return None
        if out is None:
            return rec.call(fn, inputs, kwargs)
        if method == "__call__" and all(type(o) is Traced and o._scalar for o in out):
            # `s += 1` on a NumPy scalar makes a new scalar (NumPy's rules, no cast back to s's
            # dtype); the 0-d array standing for s must not change under its other names
            return rec.call(fn, inputs, {k: v for k, v in kwargs.items() if k != "out"})
        return rec.call(fn, inputs, kwargs, pure=False, out=out)

    def __array_function__(self, func, types, args, kwargs):
        if any(not issubclass(t, np.ndarray) for t in types):
            return NotImplemented
        name = func.__name__
        if name in _METADATA:
            return func(*self._rec_checked().lower(args)[0], **self._rec_checked().lower(kwargs)[0])
        rec = self._rec_checked()
        if name in _INPLACE_FUNCTIONS:
            target = args[0] if args else kwargs[TARGET[name]]
            rec.call(func, args, kwargs, pure=False, out=(target,))
            return None
        args, kwargs = _out_by_keyword(func, args, kwargs)
        if "out" in kwargs and kwargs["out"] is not None:
            out = kwargs["out"]
            return rec.call(func, args, kwargs, pure=False,
                            out=out if isinstance(out, tuple) else (out,))
        return rec.call(func, args, kwargs)

    # -- what would turn a traced value into a Python value ---------------------------------------
    def __bool__(self) -> bool:
        return self._rec_checked().check(self)

    def __float__(self):
        raise _python_value_error("float()")

    def __int__(self):
        raise _python_value_error("int()")

    def __index__(self):
        raise _python_value_error("use as an index or a size (__index__)")

    def __complex__(self):
        raise _python_value_error("complex()")

    def item(self, *args):
        raise _python_value_error(".item()")

    def tolist(self):
        raise _python_value_error(".tolist()")

    def tobytes(self, *args, **kwargs):
        raise _python_value_error(".tobytes()")

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __repr__(self) -> str:  # (printing inside f shows the values of the traced call)
        return "traced " + repr(np.ndarray.view(self, np.ndarray))

    def __str__(self) -> str:
        return str(np.ndarray.view(self, np.ndarray))

    def __deepcopy__(self, memo):
        return self.copy()

    def __reduce__(self):
        raise _python_value_error("pickling")

    @property
    def base(self):  # what the array NumPy computed has as base (a traced array is a view of it)
        return _BASE.__get__(_BASE.__get__(self))

    @property
    def T(self):  # noqa: N802
        return self.transpose()

    @property
    def mT(self):  # noqa: N802
        return self.swapaxes(-1, -2)

    @property
    def real(self):
        return self if self.dtype.kind != "c" else np.real(self)

    @property
    def flat(self):
        raise TraceError("jit: .flat of a traced array; use .ravel() or .reshape(-1)")


for _name in _TRACED_METHODS:
    setattr(Traced, _name, _method(_name))


Traced.view = _view

_SLOTS = {"data": Tensor.data, "grad": Tensor.grad}  # Tensor's own slot descriptors

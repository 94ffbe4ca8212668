"""The graph: one `Node` per recorded primitive call, the recording state, and the read-only
guard on the arrays a node's VJP will read.

Each node is stamped with an increasing index, so recording order is a topological order and
the sweep can walk nodes by index in reverse (backward.py). Recording state is thread-local:
two threads training at once never see each other's nodes, and `no_grad` in one thread does not
switch recording off in another.
"""

from __future__ import annotations

import copy
import functools
import itertools
import threading
import weakref
from typing import Any

import numpy as np

from .tensor import Tensor

_counter = itertools.count()  # next() on itertools.count is atomic under the GIL


class _Recording:
    """One thread's recording state (a plain object: one thread-local read per op, then slots)."""

    __slots__ = ("enabled", "tapes", "scope", "source")

    def __init__(self) -> None:
        self.enabled = True  # off under no_grad
        self.tapes: list = []  # open `with Tape()` blocks
        self.scope: list[str] = []  # module paths (nn pushes one per Module call), innermost last
        self.source = None  # None, or a function giving the forward's source line (record_source)


class _Local(threading.local):
    def __init__(self) -> None:  # runs once in each thread that reads it
        self.recording = _Recording()


local = _Local()  # `local.recording`: the calling thread's recording state


# Note [saved arrays are read-only]
# A VJP reads arrays its forward saw. Had the user written into one in place between forward and
# backward, the gradient would be silently wrong. So a node holds a `_Lock` on the memory of each
# array its VJP reads (the array owning that memory, and the view it read, if a view: a write
# through either would reach it), shared by every node reading that memory, which stays
# read-only while any node holds the lock. CPython's reference count does the counting: when the
# last node holding a lock is released (after backward) or dropped (the graph dropped), a weakref
# callback makes the arrays writable again, so a user's own array is not left locked. Arrays that
# were read-only already are left alone. Op outputs are the engine's own: made read-only once,
# they stay so (a chain of ops then locks nothing).
class _Lock:
    __slots__ = ("__weakref__",)


class _Unlock(weakref.ref):  # a lock's weakref; its callback unlocks `arrays` (the owner first)
    __slots__ = ("arrays",)


_locks: dict[int, _Unlock] = {}  # id(owner) -> its lock's weakref (which keeps the owner alive)
_mutex = threading.RLock()  # reentrant: the garbage collector may run a callback while we hold it


def _owner(a: np.ndarray) -> np.ndarray:
    """The array owning `a`'s memory (followed through the wrapper `as_strided` puts between)."""
    b = a.base
    while b is not None:
        if isinstance(b, np.ndarray):
            a = b
        b = getattr(b, "base", None)
    return a


def _unlock(ref: _Unlock) -> None:
    with _mutex:
        if _locks.get(id(ref.arrays[0])) is ref:  # else a new lock took over while this one died
            del _locks[id(ref.arrays[0])]
            for a in ref.arrays:
                a.setflags(write=True)


def _lock(a: np.ndarray) -> _Lock | None:
    """The lock keeping `a`'s memory read-only (None where there is nothing to guard)."""
    o = a if a.base is None else _owner(a)
    ref = _locks.get(id(o))
    lock = None if ref is None else ref()
    if lock is None:
        if ref is None and not (o.flags.writeable or a.flags.writeable):
            return None  # read-only, and not by us
        with _mutex:
            ref = _locks.get(id(o))
            lock = None if ref is None else ref()
            if lock is None:  # a first lock, or one taking over from a dying one (its arrays too)
                lock = _Lock()
                new = _locks[id(o)] = _Unlock(lock, _unlock)
                new.arrays = [o] if ref is None else ref.arrays
                for b in new.arrays:
                    b.setflags(write=False)
                ref = new
    if a is not o and a.flags.writeable:  # a view of the owner, made before the lock
        a.setflags(write=False)
        ref.arrays.append(a)
    return lock


def _lock_all(reads: tuple[int, ...] | None, args: tuple, ans: np.ndarray) -> list:
    """Locks on the arrays a VJP reads (`Primitive.reads`; None: every input and the output),
    and on the inputs `ans` is a view of (a write through them reaches it). A chain's fresh
    outputs are read-only already and need none."""
    arrays = (*args, ans)
    indices = range(len(arrays)) if reads is None else reads
    if ans.base is not None:
        indices = [*indices, *(i for i, a in enumerate(args)
                               if type(a) is np.ndarray and _owner(a) is _owner(ans))]
    locks = []
    for i in indices:
        a = arrays[i]
        if type(a) is np.ndarray and (id(a) in _locks or a.base is not None or a.flags.writeable):
            locks.append(_lock(a))
    return locks


class Node:
    """One recorded primitive call: ``ans = prim(*inputs, **kwargs)``. `inputs` are the call's
    arguments as given (Tensors or constants), `args` the arrays the forward computed with (what
    the VJP gets in a first-order sweep); `needs[i]`: does input i need a cotangent. Release drops
    these (that frees the memory); `op`, `out_shape` and `out_dtype` remain."""

    __slots__ = ("index", "prim", "inputs", "args", "kwargs", "ans", "needs", "saved", "locks",
                 "module", "source", "_out", "_shape", "_dtype", "__weakref__")

    @classmethod
    def record(cls, prim, inputs: tuple, args: tuple, kwargs: dict, ans: np.ndarray,
               needs: tuple[bool, ...], saved, rec: _Recording) -> Node:
        """The node of a primitive call (a classmethod, not `__init__`: a class call runs
        `__init__` through CPython's slower generic call path, once per recorded op)."""
        self = object.__new__(cls)
        self.index = next(_counter)
        self.prim, self.inputs, self.args, self.kwargs = prim, inputs, args, kwargs
        self.ans, self.needs, self.saved, self._out = ans, needs, saved, None
        ans.setflags(False)  # write=False: ours (Note [saved arrays are read-only])
        reads = prim.reads
        self.locks = _lock_all(reads, args, ans) if reads != () or ans.base is not None else None
        self.module = rec.scope[-1] if rec.scope else None
        self.source = rec.source() if rec.source else None
        return self

    @property
    def op(self) -> str:
        """The primitive's lowercase name, e.g. ``"matmul"``."""
        return self.prim.name

    @property
    def output(self) -> Tensor | None:
        """The Tensor this node produced: the very object for a node recorded inside a `Tape`
        (the tape keeps it alive), else a Tensor on the same array and node. None once released."""
        t = None if self._out is None else self._out()
        if t is None and self.ans is not None:
            t = Tensor._of(self.ans, True, self)
        return t

    released = property(lambda self: self.args is None)

    out_shape = property(lambda self: self._shape if self.ans is None else self.ans.shape)
    out_dtype = property(lambda self: self._dtype if self.ans is None else self.ans.dtype)

    def release(self) -> None:
        """Drop what backward needed (saved arrays, inputs) and the locks on them."""
        if self.ans is not None:
            self._shape, self._dtype = self.ans.shape, self.ans.dtype
        self.inputs = self.args = self.ans = self.saved = self.locks = None

    def __repr__(self) -> str:
        return f"<Node #{self.index} {self.op} -> {self.out_shape} {self.out_dtype}>"


class _Switch:
    """Context manager (and decorator) setting one field of the recording state, then restoring it."""

    field = ""
    value: Any = None

    def __enter__(self):
        self._prev = getattr(local.recording, self.field)
        setattr(local.recording, self.field, self.value)
        return self

    def __exit__(self, *exc: Any) -> None:
        setattr(local.recording, self.field, self._prev)

    def __call__(self, fun):
        @functools.wraps(fun)
        def wrapper(*args, **kwargs):
            with copy.copy(self):
                return fun(*args, **kwargs)

        return wrapper


class no_grad(_Switch):
    """Context manager (and decorator) inside which nothing is recorded.

    >>> x = ag.tensor([1.0, 2.0], requires_grad=True)
    >>> with ag.no_grad():
    ...     y = x * 2        # nothing is recorded
    >>> y.requires_grad, y.node
    (False, None)
    """

    field, value = "enabled", False


class enable_grad(_Switch):
    """Context manager (and decorator) that switches recording back on (e.g. inside `no_grad`)."""

    field, value = "enabled", True

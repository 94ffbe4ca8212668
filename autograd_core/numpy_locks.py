"""Keeping the NumPy arrays a VJP will read read-only while a graph needs them.

Note [saved arrays are read-only]
A VJP reads arrays its forward saw. Had the user written into one in place between forward and
backward, the gradient would be silently wrong. So a node holds a `_Lock` on the memory of each
array its VJP reads (the array owning that memory, and the view it read, if a view: a write
through either would reach it), shared by every node reading that memory, which stays
read-only while any node holds the lock. CPython's reference count does the counting: when the
last node holding a lock is released (after backward) or dropped (the graph dropped), a weakref
callback makes the arrays writable again, so a user's own array is not left locked. Arrays that
were read-only already are left alone. Op outputs are the engine's own: made read-only once,
they stay so (a chain of ops then locks nothing).
"""

from __future__ import annotations

import threading
import weakref

import numpy as np


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
                try:
                    a.setflags(write=True)
                except ValueError:  # (an ag.jit traced view whose own base is read-only: stays so)
                    pass


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


def lock_all(reads: tuple[int, ...] | None, args: tuple, ans: np.ndarray) -> list:
    """Locks on the arrays a VJP reads (`Primitive.reads`; None: every input and the output),
    and on the inputs `ans` is a view of (a write through them reaches it). A chain's fresh
    outputs are read-only already and need none."""
    arrays = (*args, ans)
    indices = range(len(arrays)) if reads is None else reads
    if ans.base is not None:
        indices = [*indices, *(i for i, a in enumerate(args)
                               if isinstance(a, np.ndarray) and _owner(a) is _owner(ans))]
    locks = []
    for i in indices:
        a = arrays[i]
        if isinstance(a, np.ndarray):  # (ag.jit's traced arrays too)
            ref = _locks.get(id(a))
            lock = None if ref is None else ref()
            if lock is not None:  # an array locked already (the common case: a parameter)
                locks.append(lock)
            elif a.base is not None or a.flags.writeable:
                locks.append(_lock(a))
    return locks

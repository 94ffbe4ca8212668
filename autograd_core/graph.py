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
from typing import Any

import numpy as np

from .tensor import Tensor

_counter = itertools.count()  # next() on itertools.count is atomic under the GIL


class _Recording(threading.local):  # the calling thread's recording state
    def __init__(self) -> None:
        self.enabled = True  # off under no_grad
        self.tapes: list = []  # open `with Tape()` blocks
        self.scope: list[str] = []  # module paths (nn pushes one per Module call), innermost last
        self.source = None  # None, or a function giving the forward's source line (record_source)


recording = _Recording()


# Note [saved arrays are read-only]
# A VJP reads arrays its forward saw. Had the user written into one in place between forward
# and backward, the gradient would be silently wrong. So a node claims the arrays its VJP reads:
# each array, and the array owning its memory when it is a view (a write through the owner
# reaches the view), is made read-only while a claim on it lives. The claim is dropped when the
# node is released (after backward) or garbage collected (the graph dropped); the last claim
# gone, the arrays are writable again, so a user's own array is not left locked. Arrays that
# were read-only already are left alone. Op outputs are the engine's own: they are made
# read-only once and stay so (a chain of ops then claims nothing).
_claims: dict[int, list] = {}  # id(owner) -> [owner, number of claims, views locked with it]
_mutex = threading.RLock()  # reentrant: the garbage collector may drop a claim while we hold it


def _owner(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


class _Claim:
    """A node's claim on the arrays its VJP reads; dropping it releases them."""

    __slots__ = ("owners",)

    def __init__(self, arrays) -> None:
        self.owners = []
        with _mutex:
            for a in arrays:
                o = _owner(a)
                entry = _claims.get(id(o))
                if entry is None and o.flags.writeable:
                    entry = _claims[id(o)] = [o, 0, []]
                    o.setflags(write=False)
                if entry is not None:
                    entry[1] += 1
                    self.owners.append(o)
                    if a is not o and a.flags.writeable:
                        a.setflags(write=False)
                        entry[2].append(a)

    def __del__(self) -> None:
        with _mutex:
            for o in self.owners:
                entry = _claims[id(o)]
                entry[1] -= 1
                if entry[1] == 0:
                    del _claims[id(o)]
                    o.setflags(write=True)
                    for view in entry[2]:
                        view.setflags(write=True)


def _needs_claim(a) -> bool:
    o = _owner(a) if type(a) is np.ndarray else None
    return o is not None and (id(o) in _claims or o.flags.writeable or a.flags.writeable)


class Node:
    """One recorded primitive call: ``ans = prim(*inputs, **kwargs)``. `inputs` are the call's
    arguments as given (Tensors or constants), `args` the arrays the forward computed with (what
    the VJP gets in a first-order sweep); `needs[i]`: does input i need a cotangent. Release drops
    these (that frees the memory); `op`, `out_shape` and `out_dtype` remain."""

    __slots__ = ("index", "prim", "inputs", "args", "kwargs", "ans", "needs", "saved", "claim",
                 "out_shape", "out_dtype", "module", "source", "_out", "__weakref__")

    def __init__(self, prim, inputs: tuple, args: tuple, kwargs: dict, ans: np.ndarray,
                 needs: tuple[bool, ...], saved=None) -> None:
        self.index = next(_counter)
        self.prim, self.inputs, self.args, self.kwargs = prim, inputs, args, kwargs
        self.ans, self.needs, self.saved, self._out = ans, needs, saved, None
        self.out_shape, self.out_dtype = ans.shape, ans.dtype
        ans.setflags(write=False)  # ours (Note [saved arrays are read-only])
        read = [a for a in prim.read(args, ans) if _needs_claim(a)]
        self.claim = _Claim(read) if read else None
        rec = recording
        self.module = rec.scope[-1] if rec.scope else None
        self.source = rec.source() if rec.source else None

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

    def release(self) -> None:
        """Drop what backward needed (saved arrays, inputs) and the claim on them."""
        self.inputs = self.args = self.ans = self.saved = self.claim = None

    def __repr__(self) -> str:
        return f"<Node #{self.index} {self.op} -> {self.out_shape} {self.out_dtype}>"


class _Switch:
    """Context manager (and decorator) setting one field of the recording state, then restoring it."""

    field = ""
    value: Any = None

    def __enter__(self):
        self._prev = getattr(recording, self.field)
        setattr(recording, self.field, self.value)
        return self

    def __exit__(self, *exc: Any) -> None:
        setattr(recording, self.field, self._prev)

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

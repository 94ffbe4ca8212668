"""The graph: one `Node` per recorded primitive call, and the recording state. A node locks the
arrays its VJP will read (numpy_locks.py).

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

from .numpy_locks import lock_all
from .tensor import Tensor

_counter = itertools.count()  # next() on itertools.count is atomic under the GIL


class _Recording:
    """One thread's recording state (a plain object: one thread-local read per op, then slots)."""

    __slots__ = ("enabled", "tapes", "scope", "source", "grad_norms")

    def __init__(self) -> None:
        self.enabled = True  # off under no_grad
        self.tapes: list = []  # open `with Tape()` blocks
        self.scope: list[str] = []  # module paths (nn pushes one per Module call), innermost last
        self.source = None  # None, or a function giving the forward's source line (record_source)
        self.grad_norms = False  # the sweep keeps each node's ‖cotangent‖ (Node.grad_norm)


class _Local(threading.local):
    def __init__(self) -> None:  # runs once in each thread that reads it
        self.recording = _Recording()


local = _Local()  # `local.recording`: the calling thread's recording state


class Node:
    """One recorded primitive call: ``ans = prim(*inputs, **kwargs)``. `inputs` are the call's
    arguments as given (Tensors or constants), `args` the arrays the forward computed with (what
    the VJP gets in a first-order sweep); `needs[i]`: does input i need a cotangent. Release drops
    these (that frees the memory); `op`, `out_shape`, `out_dtype` and, after a sweep, the record
    of which node or leaf fed each input remain (Note [the graph outlives backward])."""

    __slots__ = ("index", "prim", "inputs", "args", "kwargs", "ans", "needs", "saved", "locks",
                 "module", "source", "grad_norm", "_out", "_shape", "_dtype", "__weakref__")

    def __init__(self, prim, inputs: tuple, args: list, kwargs: dict, ans: np.ndarray,
                 needs: tuple[bool, ...], saved, rec: _Recording) -> None:
        self.index = next(_counter)
        self.prim, self.inputs, self.args, self.kwargs = prim, inputs, args, kwargs
        self.ans, self.needs, self.saved, self._out, self.grad_norm = ans, needs, saved, None, None
        ans.setflags(False)  # write=False: ours (Note [saved arrays are read-only])
        reads = prim.reads
        self.locks = lock_all(reads, args, ans) if reads != () or ans.base is not None else None
        self.module = rec.scope[-1] if rec.scope else None
        self.source = rec.source(self) if rec.source else None  # (record_source; anomaly checks)

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

    def release(self, parents: list | None = None) -> None:
        """Drop what backward needed (saved arrays, input Tensors) and the locks on them. A sweep
        passes `parents`, the inputs with each op output replaced by the node that made it
        (Note [the graph outlives backward]); without them the inputs go too."""
        if self.ans is not None:
            self._shape, self._dtype = self.ans.shape, self.ans.dtype
        self.inputs = parents
        self.args = self.ans = self.saved = self.locks = None

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

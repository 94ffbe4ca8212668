"""Recording state, the node, and the user-visible `Tape`.

Every call of a primitive on a Tensor that requires grad (while recording is on) creates one
`Node`. A node is stamped with an increasing index, so recording order is a topological order and
the sweep can walk nodes by index in reverse (see backward.py).

Recording state is thread-local: two threads training at once never see each other's nodes, and
`no_grad` in one thread does not switch recording off in another.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

_counter = itertools.count()  # next() on itertools.count is atomic under the GIL


class _State:
    """One thread's recording state: a plain object, so that after the one thread-local read
    (`_per_thread.state`) each field is a slot read (a `threading.local` attribute costs ~3x)."""

    __slots__ = ("enabled", "tapes", "scope", "record_source")

    def __init__(self) -> None:
        self.enabled = True  # recording on/off (no_grad)
        self.tapes: list[Tape] = []  # open `with Tape()` blocks, innermost last
        self.scope: list[str] = []  # module paths (nn pushes one per Module call), innermost last
        self.record_source = False  # stamp nodes with the user's forward line (costs a frame walk)


class _PerThread(threading.local):
    def __init__(self) -> None:  # runs once in each thread that reads it
        self.state = _State()


_per_thread = _PerThread()


def __getattr__(name: str):
    if name == "state":  # `tape.state`: the calling thread's recording state
        return _per_thread.state
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Note [saved arrays are read-only]
# A VJP reads the arrays its forward saw. If the user wrote into one of them in place between
# forward and backward, the gradient would be silently wrong. So each array a node saves is made
# read-only while the node needs it, and writable again when the last node that needs it is
# released (after a backward without retain_graph, or when the graph is dropped). Arrays that were
# read-only already are left alone.
# A recorded op's own output array is made read-only once, unheld, and stays so: it is ours, and
# it is what the next node saves, so the common chain of ops costs one flag check per input.
#
# The count of nodes needing an array is CPython's own reference count: each array we lock gets
# one `_Hold` object, every node needing the array keeps a reference to it, and when the last
# reference goes (node released, or dropped unreleased) a weakref callback makes the array
# writable again. So taking a further hold on a locked array is a dict lookup, and releasing one
# is dropping a reference: no mutex, no finalizer on nodes, and no count that a thread switch could
# corrupt. `_holds` maps id(array) -> the weakref to its hold (the weakref keeps the array alive,
# so the id cannot be reused while the entry exists).
# Only the two transitions take `_holds_mutex`: first hold (register, then make read-only) and
# last hold gone (make writable, then unregister). In that order, an array seen read-only with no
# entry is never one of ours in transition, and an entry whose hold is dead means "being retired":
# a new first hold then replaces the entry, and the retiring callback, seeing it is no longer the
# entry, leaves the array read-only. Reentrant: the garbage collector can drop a node (and so run
# a callback) inside the first-hold section, in the same thread.


class _Hold:
    """A node's share in keeping one array read-only (see Note [saved arrays are read-only])."""

    __slots__ = ("__weakref__",)


class _HoldRef(weakref.ref):
    __slots__ = ("array",)


_holds: dict[int, _HoldRef] = {}
_holds_mutex = threading.RLock()


def _retire(ref: _HoldRef) -> None:
    """Weakref callback: the last hold on `ref.array` is gone, so it may be written again."""
    _holds_mutex.acquire()  # (acquire/release: half the cost of `with`, and this runs per step
    try:  # for every parameter)
        k = id(ref.array)
        if _holds.get(k) is ref:  # else a new first hold replaced us: the array stays locked
            try:
                ref.array.setflags(True)  # (positional: ~2x faster than write=True)
            except ValueError:  # a view whose base got locked meanwhile: the base's lock rules it
                pass
            del _holds[k]  # after the flag: "no entry" must mean "not ours"
    finally:
        _holds_mutex.release()
    ref.array = None


def _first_hold(a: np.ndarray) -> _Hold | None:
    _holds_mutex.acquire()
    try:
        k = id(a)
        ref = _holds.get(k)
        hold = None if ref is None else ref()
        if hold is not None:  # another thread got here first
            return hold
        if ref is None and not a.flags.writeable:
            return None  # read-only, and not by us: nothing to guard
        hold = _Hold()
        ref = _HoldRef(hold, _retire)
        ref.array = a
        _holds[k] = ref  # registered first: "no entry" must mean "not ours"
        a.setflags(False)  # write=False, passed positionally: ~2x faster
        return hold
    finally:
        _holds_mutex.release()


def _lock(arrays) -> tuple:
    """Holds keeping the writable arrays among `arrays` read-only (see the Note above)."""
    holds = ()
    for a in arrays:
        if type(a) is np.ndarray:
            ref = _holds.get(id(a))
            if ref is not None:
                hold = ref()
                if hold is None:  # its last hold is being retired: take it back
                    hold = _first_hold(a)
                if hold is not None:
                    holds += (hold,)
            elif a.flags.writeable:  # cheap test first: a chain's inputs are read-only outputs
                hold = _first_hold(a)
                if hold is not None:
                    holds += (hold,)
    return holds


class Node:
    """One recorded primitive call: `ans = prim(*args, **kwargs)`.

    `inputs` are the call's positional arguments as given (Tensors or constants); `args` are the
    same as plain arrays, exactly the objects the forward computed with (they are what the VJP
    receives in a first-order sweep, even if a Tensor's `.data` is rebound later). Release drops
    all of these (that is what frees the memory); `op`, `out_shape` and `out_dtype` remain.
    """

    __slots__ = ("index", "prim", "inputs", "args", "kwargs", "ans", "needs", "saved", "_out",
                 "_locked", "_shape", "_dtype", "module", "source", "__weakref__")

    def __init__(self, prim, inputs: tuple, args: tuple, kwargs: dict, ans: np.ndarray,
                 needs: tuple[bool, ...], saved=None, st: _State | None = None) -> None:
        _fill(self, prim, inputs, args, kwargs, ans, needs, saved, st)

    @property
    def op(self) -> str:
        """The primitive's lowercase name, e.g. ``"matmul"``."""
        return self.prim.name

    @property
    def output(self):
        """The Tensor this node produced.

        For a node recorded inside a `Tape` this is the very object the op returned (the tape
        keeps it alive). Otherwise the node keeps no reference to it (a weakref per op would
        cost ~8% of an overhead-bound step), so this is a Tensor sharing its array and its node:
        equal in value and in what differentiating it reaches. None once the node is released.
        """
        t = None if self._out is None else self._out()
        if t is None and self.ans is not None:
            from .tensor import Tensor  # tensor -> ops -> primitive -> tape: import when used

            t = Tensor._result(self.ans, True)
            t._node = self
        return t

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self._shape if self.ans is None else self.ans.shape

    @property
    def out_dtype(self) -> np.dtype:
        return self._dtype if self.ans is None else self.ans.dtype

    @property
    def released(self) -> bool:
        return self.args is None

    def release(self) -> None:
        """Drop what backward needed (saved arrays, input Tensors)."""
        if self.args is None:
            return
        self._locked = ()
        ans = self.ans
        self._shape, self._dtype = ans.shape, ans.dtype
        self.inputs = self.args = self.ans = self.saved = None

    def __repr__(self) -> str:
        return f"<Node #{self.index} {self.op} -> {self.out_shape} {self.out_dtype}>"


def _fill(node: Node, prim, inputs: tuple, args: tuple, kwargs: dict, ans: np.ndarray,
          needs: tuple[bool, ...], saved, st: _State | None) -> None:
    """`Node.__init__`'s body. Primitive calls use ``_fill(object.__new__(Node), ...)``: calling a
    class runs __init__ from C (a nested interpreter frame), a plain function call is cheaper."""
    node.index = next(_counter)
    node.prim = prim
    node.inputs = inputs
    node.args = args
    node.kwargs = kwargs
    node.ans = ans
    node.saved = saved  # what a `saves=True` primitive's forward kept for its VJP
    node._out = None  # a Tape sets a weakref to the output Tensor (see `output`)
    node.needs = needs  # per input: does it need a cotangent?
    reads = prim.reads  # lock only what the VJP will read
    if reads is None:
        locked = _lock(args)
    elif not reads:
        locked = ()
    elif len(reads) == 1:  # the common case, inlined: an input that is read-only and not
        a = args[reads[0]]  # held by us (a chain's input: the previous op's output) needs none
        locked = _lock((a,)) if type(a) is np.ndarray and (
            id(a) in _holds or a.flags.writeable) else ()
    else:
        locked = _lock(prim.read_inputs(args))
    node._locked = locked  # dropping these holds (release, or the node dropped) unlocks
    ans.setflags(False)  # write=False, passed positionally: ~2x faster
    if st is None:
        st = _per_thread.state
    scope = st.scope  # the dotted path of the innermost module (module_scope, nn's Module calls)
    node.module = scope[-1] if scope else None
    node.source = _call_site() if st.record_source else None


_ENGINE_DIRS = (os.path.dirname(os.path.abspath(__file__)),)


def _call_site() -> str | None:
    """file:line of the innermost frame outside the engine and outside `nn`'s library code."""
    f = sys._getframe(2)
    while f is not None:
        path = f.f_code.co_filename
        if not path.startswith(_ENGINE_DIRS + _library_dirs):
            return f"{path}:{f.f_lineno}"
        f = f.f_back
    return None


_library_dirs: tuple[str, ...] = ()


def register_library_dir(path: str) -> None:
    """Frames from files under `path` are skipped when stamping a node's forward source line
    (so `nn`'s own layers point at the user's line that called them)."""
    global _library_dirs
    _library_dirs = _library_dirs + (os.path.dirname(os.path.abspath(path)),)


class module_scope:
    """Context manager: nodes recorded inside are stamped with `path` (``node.module``).

    `nn.Module.__call__` uses it, so every node knows the dotted path of the module that made it.
    One object may be entered again and again, also nested (the paths live on a stack).
    """

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> module_scope:
        _per_thread.state.scope.append(self.path)
        return self

    def __exit__(self, *exc: Any) -> None:
        _per_thread.state.scope.pop()


def scope_stack() -> list[str]:
    """The calling thread's stack of module paths (innermost last) that new nodes are stamped with
    (``node.module``). `module_scope` pushes and pops it; code that pushes a path itself must pop
    it in a ``finally``. (nn's `Module.__call__` does, once per layer call, where the two method
    calls of a context manager show in overhead-bound models.)"""
    return _per_thread.state.scope


class record_source:
    """Context manager: stamp each node recorded inside with the forward source line
    (``node.source``, "file:line"), which backward errors and anomaly reports cite. Off by
    default because it walks the stack once per op."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def __enter__(self) -> record_source:
        st = _per_thread.state
        self._prev = st.record_source
        st.record_source = self.enabled
        return self

    def __exit__(self, *exc: Any) -> None:
        st = _per_thread.state
        st.record_source = self._prev


class no_grad:
    """Context manager (and decorator) inside which nothing is recorded.

    >>> x = ag.tensor([1.0, 2.0], requires_grad=True)
    >>> with ag.no_grad():
    ...     y = x * 2        # nothing is recorded
    >>> y.requires_grad, y.node
    (False, None)
    """

    def __enter__(self) -> no_grad:
        st = _per_thread.state
        self._prev = st.enabled
        st.enabled = False
        return self

    def __exit__(self, *exc: Any) -> None:
        _per_thread.state.enabled = self._prev

    def __call__(self, fun):
        def wrapper(*args, **kwargs):
            with no_grad():
                return fun(*args, **kwargs)

        wrapper.__wrapped__ = fun
        wrapper.__name__ = getattr(fun, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fun, "__doc__", None)
        return wrapper


class enable_grad(no_grad):
    """Context manager that switches recording back on (e.g. inside `no_grad`)."""

    def __enter__(self) -> enable_grad:
        st = _per_thread.state
        self._prev = st.enabled
        st.enabled = True
        return self


class Tape:
    """Keeps the nodes recorded inside a ``with`` block, in recording order.

    >>> x = ag.tensor([1.0, 2.0], requires_grad=True)
    >>> with ag.Tape() as tape:
    ...     y = (x * x).sum()
    >>> [node.op for node in tape]
    ['multiply', 'sum']
    >>> tape.gradient(y, [x])
    [tensor([2., 4.], dtype=float32)]

    Only operations that are recorded (some input requires grad, recording on) appear. The tape
    holds its nodes and their outputs alive until the tape itself is dropped.
    """

    def __init__(self) -> None:
        self._nodes: list[Node] = []
        self._outputs: list = []  # keeps node.output alive while the tape lives

    def __enter__(self) -> Tape:
        _per_thread.state.tapes.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _per_thread.state.tapes.remove(self)

    def _record(self, node: Node, out) -> None:
        node._out = weakref.ref(out)  # node.output is then the very object
        self._nodes.append(node)
        self._outputs.append(out)

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self._nodes)

    def __getitem__(self, i: int) -> Node:
        return self._nodes[i]

    def gradient(self, target, sources):
        """Gradient of `target` (a scalar Tensor) with respect to each of `sources`.

        Returns one Tensor per source: a list for a list (or tuple), a single Tensor for a single
        source. A source the target does not depend on gets zeros. Leaves' ``.grad`` is not
        touched, and the graph is kept (call it as often as you like).
        """
        from .backward import gradients

        single = not isinstance(sources, (list, tuple))
        srcs = [sources] if single else list(sources)
        grads = gradients([target], [None], srcs, create_graph=False)
        return grads[0] if single else type(sources)(grads) if isinstance(sources, tuple) else grads

"""What changes while a trace runs: Tensor's slots (Note [state lives in Tensors]) and NumPy's
array constructors (Note [constructors]).

A jitted function may read and rebind Tensors that exist outside it: parameters (``p.data``),
their gradients (``p.grad``, filled by ``backward``), an optimizer's moments. While a trace runs,
Tensor's ``data`` and ``grad`` slots are wrapped so that the first read of an outside Tensor's
array makes it an *input* of the program (read afresh at every replay) and a rebinding makes it
an *effect* (the replay rebinds it to the new value). A grad that is None when read is a guard:
the program is replayed only while it is still None. Outside a trace the slots are Tensor's own
(nothing is wrapped, nothing costs).

Note [constructors]: ``np.asarray``, ``np.array`` and ``np.ascontiguousarray`` take no
``__array_function__``: given a traced array they would hand back a plain one, and whatever was
computed from it would be frozen into the program. While a trace runs they are wrapped: given
a traced array (or a list holding one) they are recorded like any other call. So is
``np.asanyarray``, which hands a traced array back as it is, but makes a 0-d array of a traced
NumPy scalar (a reduction's result), as the replay must too. So are
``np.zeros``, ``ones``, ``empty``, ``full``, ``eye`` and ``identity``: an array made in f is traced
from the start, so that writing traced values into it (``onehot[rows, labels] = 1``) is recorded
too, and the replay makes it afresh, as f does. Code that bound them before (``from numpy import
asarray``) is not covered; the second trace catches what leaks.
"""

from __future__ import annotations

import threading

import numpy as np

from ..tensor import Tensor
from .traced import _SLOTS, Traced, active, fingerprint

_CONSTRUCTORS = {name: getattr(np, name) for name in ("asarray", "asanyarray", "array",
                                                       "ascontiguousarray", "asfortranarray")}
_CREATORS = {name: getattr(np, name) for name in ("zeros", "ones", "empty", "full", "eye",
                                                   "identity")}

_lock = threading.Lock()
_tracing = 0  # traces running (in any thread)


class _StateSlot:
    """Tensor.data or Tensor.grad while a trace runs (any thread's: other threads pass through)."""

    def __init__(self, attr: str) -> None:
        self.attr, self.slot = attr, _SLOTS[attr]

    def __get__(self, t, owner=None):
        if t is None:
            return self.slot
        value = self.slot.__get__(t, owner)
        rec = active()
        if type(value) is Traced:  # another thread's trace holds it: its plain values
            return value if value._rec is rec else np.ndarray.view(value, np.ndarray)
        return value if rec is None else rec.read_state(t, self.attr, value)

    def __set__(self, t, value) -> None:
        rec = active()
        if rec is not None:
            rec.write_state(t, self.attr)
        self.slot.__set__(t, value)


def _holds_traced(a) -> bool:
    return type(a) is Traced or (type(a) in (list, tuple) and any(map(_holds_traced, a)))


def _recorded(original):
    def constructor(a, *args, **kwargs):
        rec = active()
        if rec is None or not _holds_traced(a):
            return original(a, *args, **kwargs)
        return rec.call(original, (a, *args), kwargs)

    constructor.__name__ = constructor.__qualname__ = original.__name__
    constructor.__doc__ = original.__doc__
    return constructor


def _created(original):
    def creator(*args, **kwargs):
        rec = active()
        if rec is None or kwargs.get("like") is not None:
            return original(*args, **kwargs)
        value = rec.call(original, args, kwargs)
        rec.pristine[value._slot] = fingerprint(np.ndarray.view(value, np.ndarray))
        return value

    creator.__name__ = creator.__qualname__ = original.__name__
    creator.__doc__ = original.__doc__
    return creator


_ORIGINALS = {**_CONSTRUCTORS, **_CREATORS}
_WRAPPED = {**{name: _recorded(f) for name, f in _CONSTRUCTORS.items()},
            **{name: _created(f) for name, f in _CREATORS.items()}}


def install() -> None:
    global _tracing
    with _lock:
        if _tracing == 0:
            Tensor.data, Tensor.grad = _StateSlot("data"), _StateSlot("grad")
            for name, f in _WRAPPED.items():
                setattr(np, name, f)
        _tracing += 1


def uninstall() -> None:
    global _tracing
    with _lock:
        _tracing -= 1
        if _tracing == 0:
            Tensor.data, Tensor.grad = _SLOTS["data"], _SLOTS["grad"]
            for name, f in _ORIGINALS.items():
                setattr(np, name, f)

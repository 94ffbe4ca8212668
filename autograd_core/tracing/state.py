"""Tensor state while a trace runs: Note [state lives in Tensors].

A jitted function may read and rebind Tensors that exist outside it: parameters (``p.data``),
their gradients (``p.grad``, filled by ``backward``), an optimizer's moments. While a trace runs,
Tensor's ``data`` and ``grad`` slots are wrapped so that the first read of an outside Tensor's
array makes it an *input* of the program (read afresh at every replay) and a rebinding makes it
an *effect* (the replay rebinds it to the new value). A grad that is None when read is a guard:
the program is replayed only while it is still None. Outside a trace the slots are Tensor's own
(nothing is wrapped, nothing costs).
"""

from __future__ import annotations

import threading

from ..tensor import Tensor
from .traced import _SLOTS, Traced, active

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
        if type(value) is Traced:
            return value
        rec = active()
        return value if rec is None else rec.read_state(t, self.attr, value)

    def __set__(self, t, value) -> None:
        rec = active()
        if rec is not None:
            rec.write_state(t, self.attr)
        self.slot.__set__(t, value)


def install() -> None:
    global _tracing
    with _lock:
        if _tracing == 0:
            Tensor.data, Tensor.grad = _StateSlot("data"), _StateSlot("grad")
        _tracing += 1


def uninstall() -> None:
    global _tracing
    with _lock:
        _tracing -= 1
        if _tracing == 0:
            Tensor.data, Tensor.grad = _SLOTS["data"], _SLOTS["grad"]

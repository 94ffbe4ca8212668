"""`Tensor`: an array, its gradient, and the node that produced it.

A Tensor is a holder. Its array attributes, operators and methods are attached by ops.py (the
rule table) once the rules exist, and `backward` by backward.py (the sweep): see Note [layers]
in autograd_core/__init__.py. User data becomes its array by numpy_data.py (Note [dtypes]).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .numpy_data import as_array


class Tensor:
    """An n-dimensional array that records operations for reverse-mode differentiation.

    `Tensor(data, requires_grad=False, dtype=None)` copies `data` (like `torch.tensor`), so later
    writes to the caller's array do not change the Tensor. `.grad` is a NumPy array after an
    ordinary backward and accumulates across calls (reset with ``t.grad = None``); after
    ``backward(create_graph=True)`` it is a Tensor carrying its own graph.
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "__weakref__")
    __hash__ = object.__hash__  # Tensors hash by identity (`==` is elementwise)

    def __init__(self, data: Any, requires_grad: bool = False, dtype=None) -> None:
        self.data = as_array(data.data if isinstance(data, Tensor) else data, dtype,
                             what=type(self).__name__)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"{type(self).__name__}: only floating-point Tensors can require grad, got dtype "
                f"{self.data.dtype}; convert first, e.g. tensor(data.astype(np.float64), "
                "requires_grad=True)")
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._node = None

    @classmethod
    def _of(cls, data: np.ndarray, requires_grad: bool = False, node=None) -> Tensor:
        """A Tensor on `data` as it is (no copy, no checks): op outputs and internal leaves."""
        t = cls.__new__(cls)
        t.data = data
        t.requires_grad = requires_grad
        t.grad = None
        t._node = node
        return t

    @property
    def node(self):
        """The recorded node that produced this Tensor (None for leaves and constants)."""
        return self._node

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    def detach(self) -> Tensor:
        """A Tensor sharing this data with no history and requires_grad=False."""
        return Tensor._of(self.data)


def tensor(data: Any, requires_grad: bool = False, dtype=None) -> Tensor:
    """Make a Tensor from an array, a number or a nested list (always a copy, like ``torch.tensor``).

    >>> x = tensor([[1.0, 2.0]], requires_grad=True)   # float32: the default dtype
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def attach_methods(methods: type) -> None:
    """Copy the operators and methods a rule module defines (on a plain class) onto Tensor."""
    for name, method in vars(methods).items():
        if name not in ("__module__", "__qualname__", "__dict__", "__weakref__", "__doc__"):
            setattr(Tensor, name, method)
    Tensor.__hash__ = object.__hash__  # (defining __eq__ unsets it)

"""`Tensor`: an array, its gradient, and the node that produced it.

A Tensor is a holder. Its operators and array methods are attached by ops.py (the rule table)
once the rules exist, and `backward` by backward.py (the sweep): see Note [layers] in
autograd_core/__init__.py.

Note [dtypes]: float32 and float64 data are kept as given; Python scalars do not upcast
(`t * 3.0` of a float32 Tensor is float32, NumPy 2's rule for weak scalars); lists, tuples and
Python floats become `get_default_dtype()` (float32 unless changed). Integer and bool data are
allowed (indices, labels, masks) but cannot require grad.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_default_dtype = np.dtype(np.float32)


def set_default_dtype(dtype) -> None:
    """Set the dtype that lists and Python floats become (float32 or float64)."""
    global _default_dtype
    d = np.dtype(dtype)
    if d not in (np.float32, np.float64):
        raise TypeError(f"set_default_dtype: expected float32 or float64, got {d}")
    _default_dtype = d


def get_default_dtype() -> np.dtype:
    """The dtype that lists and Python floats become (float32 by default)."""
    return _default_dtype


def as_array(data: Any, dtype=None, *, what: str = "tensor") -> np.ndarray:
    """User data as a new ndarray of bool, integer or float numbers (Note [dtypes])."""
    if isinstance(data, Tensor):
        data = data.data
    from_python = not isinstance(data, (np.ndarray, np.generic))
    if from_python and not isinstance(data, (int, float, bool, list, tuple)):
        raise TypeError(f"{what}: cannot make a Tensor from {type(data).__name__}; "
                        "pass a NumPy array, a number, or a (nested) list of numbers")
    try:
        arr = np.array(data, dtype=dtype)
    except ValueError as e:  # NumPy 2 refuses ragged nested lists
        raise ValueError(f"{what}: data is ragged or not numeric ({e})") from None
    except TypeError as e:
        raise TypeError(f"{what}: cannot convert data to an array ({e})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what}: unsupported dtype {arr.dtype} (from {type(data).__name__}); "
                        "Tensors hold bool, integer or float data")
    if from_python and dtype is None and arr.dtype.kind == "f":
        arr = arr.astype(_default_dtype)
    return arr


class Tensor:
    """An n-dimensional array that records operations for reverse-mode differentiation.

    `Tensor(data, requires_grad=False, dtype=None)` copies `data` (like `torch.tensor`), so later
    writes to the caller's array do not change the Tensor. `.grad` is a NumPy array after an
    ordinary backward and accumulates across calls (reset with ``t.grad = None``); after
    ``backward(create_graph=True)`` it is a Tensor carrying its own graph.
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "__weakref__")
    __array_ufunc__ = None  # `ndarray + Tensor` calls Tensor.__radd__, not NumPy's loop
    __hash__ = object.__hash__  # Tensors hash by identity (`==` is elementwise)

    def __init__(self, data: Any, requires_grad: bool = False, dtype=None) -> None:
        self.data = as_array(data, dtype, what=type(self).__name__)
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
        t.data, t.requires_grad, t.grad, t._node = data, requires_grad, None, node
        return t

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

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

    def _no_inplace(self, *_):
        raise TypeError(
            "in-place operators (+=, -=, *=, /=, x[i] = v) are not supported on Tensors: they "
            "would change data recorded for backward. Write `x = x + y`, or rebind `x.data = ...` "
            "under no_grad for parameters")

    __iadd__ = __isub__ = __imul__ = __itruediv__ = __ipow__ = __imatmul__ = _no_inplace
    __setitem__ = _no_inplace


def tensor(data: Any, requires_grad: bool = False, dtype=None) -> Tensor:
    """Make a Tensor from an array, a number or a nested list (always a copy, like ``torch.tensor``).

    >>> x = tensor([[1.0, 2.0]], requires_grad=True)   # float32: the default dtype
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)

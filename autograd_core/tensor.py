"""`Tensor`: a NumPy array that records the operations applied to it.

Dtype rules (Note [dtypes]): float32 and float64 data are kept as given; Python scalars do not
upcast (`t * 3.0` of a float32 Tensor is float32, NumPy 2's rule for weak scalars); lists, tuples
and Python floats become `get_default_dtype()` (float32 unless changed). Integer and bool data are
allowed (indices, labels, masks) but cannot require grad.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_default_dtype = np.dtype(np.float32)
_ALLOWED_KINDS = "biuf"  # bool, int, uint, float; no complex, object, strings


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


def as_array(data: Any, dtype=None, *, copy: bool = True, what: str = "tensor") -> np.ndarray:
    """Validate and convert user data to an ndarray (a copy unless `copy=False`)."""
    if isinstance(data, Tensor):
        data = data.data
    from_python = not isinstance(data, (np.ndarray, np.generic))
    if from_python and not isinstance(data, (int, float, bool, list, tuple)):
        raise TypeError(
            f"{what}: cannot make a Tensor from {type(data).__name__}; "
            "pass a NumPy array, a number, or a (nested) list of numbers"
        )
    try:
        arr = np.array(data, dtype=dtype, copy=copy) if not from_python else np.array(data, dtype=dtype)
    except ValueError as e:  # NumPy 2 refuses ragged nested lists
        raise ValueError(f"{what}: data is ragged or not numeric ({e})") from None
    except TypeError as e:
        raise TypeError(f"{what}: cannot convert data to an array ({e})") from None
    if arr.dtype.kind not in _ALLOWED_KINDS:
        raise TypeError(
            f"{what}: unsupported dtype {arr.dtype} (from {type(data).__name__}); "
            "Tensors hold bool, integer or float data"
        )
    if from_python and dtype is None and arr.dtype.kind == "f":
        arr = arr.astype(_default_dtype)
    return arr


def _check_requires_grad(arr: np.ndarray, requires_grad: bool, what: str) -> bool:
    if requires_grad and arr.dtype.kind != "f":
        raise TypeError(
            f"{what}: only floating-point Tensors can require grad, got dtype {arr.dtype}; "
            "convert first, e.g. tensor(data.astype(np.float64), requires_grad=True)"
        )
    return bool(requires_grad)


class Tensor:
    """An n-dimensional array that records operations for reverse-mode differentiation.

    `Tensor(data, requires_grad=False, dtype=None)` copies `data` (like `torch.tensor`), so later
    writes to the caller's array do not change the Tensor. `.grad` is a NumPy array after an
    ordinary backward and accumulates across calls (reset with ``t.grad = None``); after
    ``backward(create_graph=True)`` it is a Tensor carrying its own graph.
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "__weakref__")
    __array_ufunc__ = None  # make `ndarray + Tensor` call Tensor.__radd__
    __hash__ = object.__hash__  # Tensors hash by identity (`==` is elementwise)

    def __init__(self, data: Any, requires_grad: bool = False, dtype=None) -> None:
        self.data = as_array(data, dtype, what=type(self).__name__)
        self.requires_grad = _check_requires_grad(self.data, requires_grad, type(self).__name__)
        self.grad = None
        self._node = None

    @classmethod
    def _result(cls, ans: np.ndarray, requires_grad: bool) -> Tensor:
        """Fast constructor for op outputs: no validation, no copy."""
        t = object.__new__(Tensor)
        t.data = ans
        t.grad = None
        t.requires_grad = requires_grad
        t._node = None
        return t

    # ---- array-like attributes ---------------------------------------------------------------
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
    def T(self) -> Tensor:
        """The transpose with all axes reversed (NumPy's ``.T``)."""
        return ops.transpose(self)

    @property
    def node(self):
        """The recorded node that produced this Tensor (None for leaves and constants)."""
        return self._node

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shares memory, like ``torch.Tensor.numpy``)."""
        return self.data

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError("item(): only a one-element Tensor converts to a scalar, got shape "
                             f"{self.shape}")
        return self.data.item()

    def detach(self) -> Tensor:
        """A Tensor sharing this data with no history and requires_grad=False."""
        return Tensor._result(self.data, False)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d Tensor")
        return len(self.data)

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d Tensor")
        return (self[i] for i in range(len(self.data)))

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        op = f", op={self._node.op}" if self._node is not None else ""
        return f"tensor({body}, dtype={self.data.dtype}{extra}{op})"

    # ---- backward ----------------------------------------------------------------------------
    def backward(self, grad=None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` by one reverse sweep.

        `grad` is the cotangent of self (array or Tensor of self's shape); it may be omitted only
        for a one-element Tensor. The graph's saved arrays are released afterwards unless
        `retain_graph=True` (or `create_graph=True`, which also records the sweep so the
        resulting `.grad` Tensors can be differentiated again).
        """
        from .backward import backward

        backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    # ---- operators (NumPy broadcasting) ------------------------------------------------------
    def __add__(self, other):
        return ops.add(self, other)

    def __radd__(self, other):
        return ops.add(other, self)

    def __sub__(self, other):
        return ops.subtract(self, other)

    def __rsub__(self, other):
        return ops.subtract(other, self)

    def __mul__(self, other):
        return ops.multiply(self, other)

    def __rmul__(self, other):
        return ops.multiply(other, self)

    def __truediv__(self, other):
        return ops.divide(self, other)

    def __rtruediv__(self, other):
        return ops.divide(other, self)

    def __pow__(self, other):
        return ops.power(self, other)

    def __rpow__(self, other):
        return ops.power(other, self)

    def __matmul__(self, other):
        return ops.matmul(self, other)

    def __rmatmul__(self, other):
        return ops.matmul(other, self)

    def __neg__(self):
        return ops.negative(self)

    def __pos__(self):
        return self

    def __getitem__(self, index):
        return ops.getitem(self, index)

    # Comparisons give bool Tensors with no gradient.
    def __lt__(self, other):
        return Tensor._result(np.less(self.data, _raw(other)), False)

    def __le__(self, other):
        return Tensor._result(np.less_equal(self.data, _raw(other)), False)

    def __gt__(self, other):
        return Tensor._result(np.greater(self.data, _raw(other)), False)

    def __ge__(self, other):
        return Tensor._result(np.greater_equal(self.data, _raw(other)), False)

    def __eq__(self, other):
        return Tensor._result(np.equal(self.data, _raw(other)), False)

    def __ne__(self, other):
        return Tensor._result(np.not_equal(self.data, _raw(other)), False)

    # In-place operators would overwrite data a recorded node may need; refuse them clearly.
    def _no_inplace(self, *_):
        raise TypeError(
            "in-place operators (+=, -=, *=, /=, x[i] = v) are not supported on Tensors: they "
            "would change data recorded for backward. Write `x = x + y`, or update `x.data` "
            "under no_grad for parameters"
        )

    __iadd__ = __isub__ = __imul__ = __itruediv__ = __ipow__ = __imatmul__ = _no_inplace
    __setitem__ = _no_inplace

    # ---- methods mirroring the module-level functions ----------------------------------------
    def sum(self, axis=None, keepdims=False):
        return ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return ops.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return ops.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return ops.min(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape):
        return ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes):
        if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
            axes = axes[0]  # t.transpose((1, 0)) or t.transpose(None); t.transpose(0) is axes (0,)
        return ops.transpose(self, axes=None if axes is None or len(axes) == 0 else axes)

    def exp(self):
        return ops.exp(self)

    def log(self):
        return ops.log(self)

    def sqrt(self):
        return ops.sqrt(self)

    def abs(self):
        return ops.abs(self)

    def tanh(self):
        return ops.tanh(self)

    def sigmoid(self):
        return ops.sigmoid(self)

    def relu(self):
        return ops.relu(self)

    def clip(self, lo=None, hi=None):
        return ops.clip(self, lo, hi)

    def astype(self, dtype):
        return ops.astype(self, dtype)


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def tensor(data: Any, requires_grad: bool = False, dtype=None) -> Tensor:
    """Make a Tensor from an array, a number or a nested list (always a copy, like ``torch.tensor``).

    >>> x = tensor([[1.0, 2.0]], requires_grad=True)   # float32: the default dtype
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


from . import ops  # noqa: E402  (ops needs Tensor; Tensor's methods need ops)

"""User data to the arrays a Tensor holds.

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
    from_python = not isinstance(data, (np.ndarray, np.generic))
    if from_python and not isinstance(data, (int, float, bool, list, tuple)):
        raise TypeError(f"{what}: cannot make a Tensor from {type(data).__name__}; "
                        "pass a NumPy array, a number, or a (nested) list of numbers")
    try:  # (an array's own astype: ag.jit traces it, and it copies as np.array does)
        arr = data.astype(data.dtype if dtype is None else dtype) if isinstance(data, np.ndarray) \
            else np.array(data, dtype=dtype)
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

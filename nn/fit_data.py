"""Checking and batching the data `fit` is given: arrays of the model's dtype, class labels,
argument checks, the first NaN/Inf named by its row and feature, the batches of an order.

nn/training.py (fit, evaluate, predict) calls these; the messages they raise start with the
caller's name (`who`) or ``fit:``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .module import _values


def _as_inputs(x, dtype: np.dtype, who: str) -> np.ndarray:
    arr = _values(x)
    if arr.ndim == 0:
        raise ValueError(f"{who}: x must be batch-first (N, ...), got a scalar")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{who}: x must be numeric, got dtype {arr.dtype}")
    return arr.astype(dtype, copy=False)


def _as_targets(y, dtype: np.dtype) -> np.ndarray:
    """Integer labels stay int64; float targets take the model's dtype."""
    arr = _values(y)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    return arr.astype(dtype, copy=False)


def _labels_of(y: np.ndarray, classification: bool) -> np.ndarray | None:
    """Class labels for accuracy: integer labels, or the argmax of one-hot rows."""
    if y.ndim == 1 and y.dtype.kind in "iu":
        return y
    if classification and y.ndim == 2:
        return np.argmax(y, axis=1)
    return None


def _check_int(value, name: str, low: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ValueError(f"fit: {name} must be an int >= {low}, got {value!r}")
    return int(value)


def _non_finite(name: str, a: np.ndarray, rows: np.ndarray, source: str,
                order: np.ndarray | None = None, batch_size: int = 0,
                epoch: int = 1) -> str | None:
    """Where batch-first `a` holds NaN/Inf, or None when it is finite: the first such sample
    (``rows[i]``, its row in the array named `source` that the user passed) and feature, the
    batch that meets it when `order` (the epoch's sample order) is given, and how many rows and
    which features hold one."""
    if a.dtype.kind != "f" or np.isfinite(a).all():
        return None
    bad = ~np.isfinite(a).reshape(len(a), -1)
    bad_rows = np.flatnonzero(bad.any(axis=1))
    if order is None:
        i = int(bad_rows[0])
    else:
        position = np.empty_like(order)
        position[order] = np.arange(len(order))
        i = int(bad_rows[np.argmin(position[bad_rows])])
    feature = np.unravel_index(int(np.flatnonzero(bad[i])[0]), a.shape[1:])
    value = a[i][feature]
    kind = "NaN" if np.isnan(value) else "Inf" if value > 0 else "-Inf"
    where = f"row {rows[i]} of {source}"
    if a.ndim == 2:
        where += f", feature (column) {feature[0]}"
    elif a.ndim > 2:
        where += f", feature {tuple(int(f) for f in feature)}"
    if order is not None:
        where += f", which epoch {epoch} meets in batch {position[i] // batch_size + 1}"
    if len(bad_rows) > 1 or bad[i].sum() > 1:
        columns = np.flatnonzero(bad.any(axis=0))
        shown = (", ".join(map(str, columns[:8])) + (", …" if len(columns) > 8 else "")
                 if a.ndim == 2 else f"{len(columns)}")
        where += (f" ({len(bad_rows)} row(s) hold NaN/Inf, in "
                  f"{'column(s)' if a.ndim == 2 else 'feature(s):'} {shown})")
    return f"{name} holds {kind} at {where}"


def _batches(n: int, batch_size: int, order: np.ndarray) -> Iterable[np.ndarray]:
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]

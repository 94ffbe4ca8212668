"""The rule table, continued: shape operations beyond ops.py's core (swapaxes, moveaxis, repeat,
tile, split, array_split, squeeze, ravel, flatten, flip, roll, atleast_nd, take,
take_along_axis; pad's modes live with pad in ops.py) and `array` (a Tensor from nested lists
holding Tensors).

Rules follow ops.py's conventions (its module docstring): `g`, `ans`, the inputs, then keywords;
one rule serves both sweeps. Adding an op: one rule here and one row in tests/op_cases_array.py.

Most of these ops are views or index maps, so they are composites of ops.py's primitives and
record those: transpose (swapaxes, moveaxis), reshape (squeeze, ravel, flatten, atleast_nd),
reshape and broadcast_to (tile, repeat by a number), getitem (flip, split, take,
take_along_axis, repeat by counts; its VJP adds repeated positions up with ``np.add.at``) and
stack (array). Called on plain arrays they return plain arrays, as every op of the table does.
`roll` is a primitive: one node whose VJP rolls back.
"""

from __future__ import annotations

import itertools

import numpy as np

from . import ops
from .numpy_data import as_array
from .primitive import _sequence_error, defop, rule_table
from .tensor import Tensor, attach_methods

_shape, _raw = ops._shape, ops._raw


def _array_like(op: str, a):
    """A Tensor or an array as given; other data (a list of numbers) as NumPy's array of it, as
    NumPy's functions take it. A list holding Tensors is refused naming `op` (np.asarray would
    drop their gradients)."""
    if isinstance(a, (Tensor, np.ndarray)):
        return a
    if _holds_tensor(a):
        raise _sequence_error(op, 0)
    return np.asarray(a)


def _axis(op: str, axis, ndim: int) -> int:
    """`axis` as a non-negative int, or an error naming `op`."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an integer, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of bounds for an array of dimension {ndim}")
    return int(axis) % ndim


def _axes(op: str, axis, ndim: int) -> tuple[int, ...]:
    """An int or a sequence of ints as non-negative axes (no repeats), or an error naming `op`."""
    given = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = tuple(_axis(op, a, ndim) for a in given)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return axes


def _integers(op: str, what: str, values) -> np.ndarray:
    """Integer data (a Tensor's, a list's, a number) as an array, or a TypeError naming `op`."""
    a = np.asarray(_raw(values))
    if a.size == 0 and a.dtype.kind == "f":  # ([] is float64 to NumPy)
        return a.astype(np.intp)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{op}: {what} must be integers, got dtype {a.dtype}")
    return a


def _along(axis: int, index) -> tuple:
    """An index that applies `index` to axis `axis` and leaves the axes before it whole."""
    return (slice(None),) * axis + (index,)


# ---- axes: permutations (transpose) -------------------------------------------------------------
def swapaxes(a, axis1: int, axis2: int):
    """Interchange two axes, like ``np.swapaxes`` (a transpose)."""
    nd = len(_shape(a))
    i, j = _axis("swapaxes", axis1, nd), _axis("swapaxes", axis2, nd)
    perm = list(range(nd))
    perm[i], perm[j] = j, i
    return ops.transpose(a, tuple(perm))


def moveaxis(a, source, destination):
    """Move axes to new positions, the others keeping their order, like ``np.moveaxis`` (ints or
    sequences of ints; a transpose)."""
    nd = len(_shape(a))
    src, dst = _axes("moveaxis", source, nd), _axes("moveaxis", destination, nd)
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: source {source!r} and destination {destination!r} must have the "
                         "same number of elements")
    order = [k for k in range(nd) if k not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return ops.transpose(a, tuple(order))


# ---- reshapes ------------------------------------------------------------------------------------
def squeeze(a, axis=None):
    """Remove size-1 axes (all of them, or `axis`: an int or a tuple), like ``np.squeeze``; an axis
    whose size is not 1 raises ValueError. A reshape."""
    shape = _shape(a)
    if axis is None:
        axes = tuple(k for k, n in enumerate(shape) if n == 1)
    else:
        axes = _axes("squeeze", axis, len(shape))
        wide = [k for k in axes if shape[k] != 1]
        if wide:
            raise ValueError(f"squeeze: cannot squeeze out axis {wide[0]} of shape {shape}: its size "
                             f"is {shape[wide[0]]}, not 1")
    return ops.reshape(a, tuple(n for k, n in enumerate(shape) if k not in axes))


def _flat(op: str, a, order: str):
    if order not in ("C", "F"):
        raise ValueError(f"{op}: order={order!r} is not supported; use 'C' (row-major) or 'F' "
                         "(column-major)")
    return ops.reshape(ops.transpose(a) if order == "F" else a, (-1,))


def ravel(a, order: str = "C"):
    """The elements as a 1-D array, like ``np.ravel``: order 'C' (row-major) or 'F' (column-major;
    'A' and 'K' depend on memory layout and are refused). A reshape (after a transpose for 'F')."""
    return _flat("ravel", a, order)


def flatten(a, order: str = "C"):
    """NumPy's ``ndarray.flatten`` as a function (the same values as `ravel`: a Tensor is never
    written in place, so the copy/view distinction does not arise)."""
    return _flat("flatten", a, order)


def _atleast(arys: tuple, ndim: int, fit):
    """Each array reshaped to at least `ndim` axes by `fit(shape)`; one result or a tuple."""
    out = tuple(a if len(_shape(a)) >= ndim and isinstance(a, (Tensor, np.ndarray))
                else ops.reshape(a, fit(_shape(a))) for a in arys)
    return out[0] if len(out) == 1 else out


def atleast_1d(*arys):
    """Each input with at least one axis (0-d becomes (1,)), like ``np.atleast_1d``: one input
    gives one result, several a tuple (as NumPy 2 returns). An input with enough axes is returned
    as it is."""
    return _atleast(arys, 1, lambda s: s or (1,))


def atleast_2d(*arys):
    """Each input with at least two axes ((N,) becomes (1, N)), like ``np.atleast_2d``; one input
    gives one result, several a tuple."""
    return _atleast(arys, 2, lambda s: (1,) * (2 - len(s)) + s)


def atleast_3d(*arys):
    """Each input with at least three axes ((N,) becomes (1, N, 1), (M, N) becomes (M, N, 1)), like
    ``np.atleast_3d``; one input gives one result, several a tuple."""
    return _atleast(arys, 3, lambda s: {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}[len(s)])


# ---- copies: broadcasts (exact sums back) and index maps ---------------------------------------
def repeat(a, repeats, axis: int | None = None):
    """Repeat each element `repeats` times along `axis` (None: of the flattened input), like
    ``np.repeat``; `repeats` is an int or one count per element. A number of repeats is a
    broadcast over a new axis, merged by a reshape; counts are a getitem, whose VJP adds the
    copies back."""
    if axis is None:
        a, axis = ops.reshape(a, (-1,)), 0
    shape = _shape(a)
    ax = _axis("repeat", axis, len(shape))
    reps = _integers("repeat", "repeats", repeats)
    if reps.ndim > 1 or reps.size not in (1, shape[ax]):
        raise ValueError(f"repeat: repeats of shape {reps.shape} do not fit axis {ax} of length "
                         f"{shape[ax]}: give one int or one count per element")
    if (reps < 0).any():
        raise ValueError(f"repeat: repeats may not be negative, got {reps.tolist()}")
    if reps.size == 1:
        r = int(reps.reshape(()))
        wide = ops.broadcast_to(ops.reshape(a, shape[:ax + 1] + (1,) + shape[ax + 1:]),
                                shape[:ax + 1] + (r,) + shape[ax + 1:])
        return ops.reshape(wide, shape[:ax] + (shape[ax] * r,) + shape[ax + 1:])
    return ops.getitem(a, _along(ax, np.repeat(np.arange(shape[ax]), reps)))


def tile(A, reps):
    """Repeat the whole array `reps` times along each axis, like ``np.tile`` (`reps` an int or a
    tuple; the shorter of the shape and `reps` gets leading 1s). Each axis of size n becomes a
    broadcast (r, n) pair of axes, merged by a reshape."""
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    if not all(isinstance(r, (int, np.integer)) and not isinstance(r, bool) and r >= 0 for r in reps):
        raise ValueError(f"tile: reps must be non-negative integers, got {reps!r}")
    shape = _shape(A)
    d = max(len(shape), len(reps))
    shape, reps = (1,) * (d - len(shape)) + shape, (1,) * (d - len(reps)) + tuple(int(r) for r in reps)
    x = ops.reshape(A, tuple(v for n in shape for v in (1, n)))
    x = ops.broadcast_to(x, tuple(v for r, n in zip(reps, shape, strict=True) for v in (r, n)))
    return ops.reshape(x, tuple(r * n for r, n in zip(reps, shape, strict=True)))


def _split(op: str, ary, indices_or_sections, axis: int, equal: bool) -> list:
    ary = _array_like(op, ary)
    shape = _shape(ary)
    ax = _axis(op, axis, len(shape))
    n = shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)) and not isinstance(indices_or_sections, bool):
        k = int(indices_or_sections)
        if k <= 0:
            raise ValueError(f"{op}: the number of sections must be larger than 0, got {k}")
        if equal and n % k:
            raise ValueError(f"split: axis {ax} of length {n} does not split into {k} equal sections "
                             "(array_split allows unequal ones)")
        q, r = divmod(n, k)
        edges = [0, *itertools.accumulate([q + 1] * r + [q] * (k - r))]
    else:  # split points, with Python's slice rules (negative, past the end, decreasing)
        edges = [0, *(int(i) for i in _integers(op, "split indices", indices_or_sections).ravel()), n]
    return [ops.getitem(ary, _along(ax, slice(lo, hi))) for lo, hi in itertools.pairwise(edges)]


def split(ary, indices_or_sections, axis: int = 0) -> list:
    """Split into equal sections (an int: it must divide the axis, else ValueError) or at the given
    indices along `axis`, like ``np.split``; returns a list (as NumPy does) of getitem slices."""
    return _split("split", ary, indices_or_sections, axis, equal=True)


def array_split(ary, indices_or_sections, axis: int = 0) -> list:
    """`split` that allows unequal sections (the first ``n % k`` one element longer), like
    ``np.array_split``; returns a list."""
    return _split("array_split", ary, indices_or_sections, axis, equal=False)


def flip(m, axis=None):
    """Reverse the order of elements along `axis` (None: every axis; an int or a tuple), like
    ``np.flip`` (a getitem of negative-step slices)."""
    m = _array_like("flip", m)
    nd = len(_shape(m))
    axes = range(nd) if axis is None else _axes("flip", axis, nd)
    return ops.getitem(m, (Ellipsis,) + tuple(slice(None, None, -1) if k in axes else slice(None)
                                              for k in range(nd)))


def _negated(shift):
    return -shift if isinstance(shift, int) else tuple(-s for s in shift)


_roll = defop(lambda a, *, shift, axis: np.roll(a, shift, axis),
              lambda g, ans, a, *, shift, axis: (_roll(g, shift=_negated(shift), axis=axis),),
              "roll", reads=())


def roll(a, shift, axis=None):
    """Shift elements cyclically along `axis` (None: of the flattened array), like ``np.roll``;
    `shift` and `axis` are ints or tuples broadcast against each other (shifts on a repeated axis
    add up). A primitive whose VJP rolls the cotangent back."""
    shifts = _integers("roll", "shift", shift)
    if axis is None:
        return _roll(a, shift=int(shifts.sum()), axis=None)
    axes = _integers("roll", "axis", axis)
    try:
        pairs = np.broadcast(shifts, axes)
    except ValueError:
        raise ValueError(f"roll: shift {shift!r} and axis {axis!r} do not broadcast against each "
                         "other") from None
    nd, total = len(_shape(a)), {}
    for s, ax in pairs:
        k = _axis("roll", int(ax), nd)
        total[k] = total.get(k, 0) + int(s)
    keys = tuple(sorted(total))
    return _roll(a, shift=tuple(total[k] for k in keys), axis=keys)


def _check_bounds(op: str, idx: np.ndarray, n: int, ax: int) -> None:
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)].ravel()[0]
        raise IndexError(f"{op}: index {bad} is out of bounds for axis {ax} with size {n}")


def take(a, indices, axis: int | None = None, out=None, mode: str = "raise"):
    """Elements at integer `indices` along `axis` (None: of the flattened array), like ``np.take``
    (negative indices count from the end; the result has indices' shape in place of the axis).
    Only ``mode='raise'``: an index out of range raises IndexError. A getitem, so repeated
    indices add their cotangents up in backward."""
    if out is not None:
        raise TypeError("take: out= is not supported (Tensors are not written in place); use the "
                        "returned value")
    if mode != "raise":
        raise ValueError(f"take: mode={mode!r} is not supported; only mode='raise' (an index out of "
                         "range raises IndexError)")
    idx = _integers("take", "indices", indices)
    if axis is None:
        a, axis = ops.reshape(a, (-1,)), 0
    shape = _shape(a)
    ax = _axis("take", axis, len(shape))
    _check_bounds("take", idx, shape[ax], ax)
    return ops.getitem(a, _along(ax, idx))


def take_along_axis(arr, indices, axis: int | None = -1):
    """``out[..., j, ...] = arr[..., indices[..., j, ...], ...]`` along `axis`, like
    ``np.take_along_axis``: `indices` has arr's number of axes and broadcasts against it on the
    others (axis=None: arr flattened, indices 1-D). A getitem with open grids on the other axes,
    so repeated indices add their cotangents up in backward."""
    arr = _array_like("take_along_axis", arr)
    idx = _integers("take_along_axis", "indices", indices)
    if axis is None:
        if idx.ndim != 1:
            raise ValueError(f"take_along_axis: with axis=None, indices must be 1-D, got shape "
                             f"{idx.shape}")
        arr, axis = ops.reshape(arr, (-1,)), 0
    shape = _shape(arr)
    nd = len(shape)
    ax = _axis("take_along_axis", axis, nd)
    if idx.ndim != nd:
        raise ValueError(f"take_along_axis: indices of shape {idx.shape} and arr of shape {shape} "
                         "must have the same number of dimensions")
    others = [(i, n) for k, (i, n) in enumerate(zip(idx.shape, shape, strict=True)) if k != ax]
    if any(i != n and 1 not in (i, n) for i, n in others):
        raise ValueError(f"take_along_axis: indices of shape {idx.shape} do not broadcast against "
                         f"arr of shape {shape} outside axis {ax}")
    _check_bounds("take_along_axis", idx, shape[ax], ax)
    grids = tuple(idx if k == ax else np.arange(n).reshape((1,) * k + (n,) + (1,) * (nd - k - 1))
                  for k, n in enumerate(shape))
    return ops.getitem(arr, grids)


# ---- array: a Tensor from nested sequences ------------------------------------------------------
def _scan(obj, dtypes: list, weak: dict, found: dict) -> None:
    """Walk `obj`: the dtypes of its arrays and Tensors (strong), a representative of its Python
    numbers (weak, NumPy 2's rule: they do not upcast), and whether it holds Tensors or arrays."""
    if isinstance(obj, Tensor):
        found["tensor"] = True
        dtypes.append(obj.dtype)
    elif isinstance(obj, np.ndarray):
        found["array"] = True
        dtypes.append(obj.dtype)
    elif isinstance(obj, np.generic):
        dtypes.append(obj.dtype)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _scan(item, dtypes, weak, found)
    elif isinstance(obj, (bool, int, float)):
        weak[type(obj)] = type(obj)(0)
    else:
        raise TypeError(f"array: cannot make an array from a {type(obj).__name__}; give a (nested) "
                        "list or tuple of Tensors, arrays and numbers")


def _holds_tensor(obj) -> bool:
    return isinstance(obj, Tensor) or (isinstance(obj, (list, tuple)) and any(map(_holds_tensor, obj)))


def _build(obj, dtype: np.dtype, depth: int = 0):
    if isinstance(obj, Tensor):
        return obj if obj.dtype == dtype else ops.astype(obj, dtype)
    if not _holds_tensor(obj):  # a part of plain data: one NumPy conversion
        try:
            return np.array(obj, dtype=dtype)
        except ValueError as e:
            raise ValueError(f"array: ragged nested sequence at depth {depth} ({e})") from None
    parts = [_build(item, dtype, depth + 1) for item in obj]
    shapes = sorted({_shape(p) for p in parts})
    if len(shapes) > 1:
        raise ValueError(f"array: ragged nested sequence: the elements at depth {depth + 1} have shapes "
                         f"{shapes}; every element of a list must have the same shape")
    return ops.stack(parts)


def array(obj, dtype=None):
    """An array from a (nested) list or tuple holding Tensors, arrays and numbers, like
    ``np.array``, differentiably: the nested lists are stacked (``ops.stack``, one node per list
    that holds a Tensor), so the gradient flows to every Tensor inside.

    The dtype is NumPy's promotion of the Tensors' and arrays' dtypes with the Python numbers,
    which do not upcast (``array([t32, 1.5])`` is float32), or `dtype` if given (a cast, as
    ``astype``). Data holding no Tensor and no array (numbers only) gives a Tensor that does not
    require grad, as ``ag.tensor`` does (lists of Python floats get ``get_default_dtype()``);
    data holding arrays but no Tensor gives a plain ndarray, as every op of the table does on
    plain arrays. Ragged nesting raises ValueError.
    """
    dtypes, weak, found = [], {}, {}
    _scan(obj, dtypes, weak, found)
    if not found:  # Python numbers (and NumPy scalars): a constant Tensor, as ag.tensor makes
        return Tensor._of(as_array(obj, dtype, what="array"))
    if dtype is not None:
        dtype = np.dtype(dtype)
    else:
        dtype = np.result_type(*dtypes, *weak.values())
    if dtype.kind not in "biuf":
        raise TypeError(f"array: unsupported dtype {dtype}; Tensors hold bool, integer or float data")
    if isinstance(obj, Tensor):  # a new Tensor (as np.array copies), still on the graph
        return ops.astype(obj, dtype) if obj.dtype != dtype else ops._identity(obj)
    return _build(obj, dtype)


class _TensorMethods:
    """Tensor methods NumPy's ndarray has for these ops."""

    def ravel(self, order: str = "C"):
        return ravel(self, order)

    def flatten(self, order: str = "C"):
        return flatten(self, order)

    def squeeze(self, axis=None):
        return squeeze(self, axis)

    def swapaxes(self, axis1: int, axis2: int):
        return swapaxes(self, axis1, axis2)

    def repeat(self, repeats, axis: int | None = None):
        return repeat(self, repeats, axis)

    def take(self, indices, axis: int | None = None, out=None, mode: str = "raise"):
        return take(self, indices, axis, out, mode)


attach_methods(_TensorMethods)

__all__, PRIMITIVES = rule_table(globals(), __name__)

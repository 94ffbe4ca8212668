"""Op-case rows for shape ops, pad modes and
ag.array: part of the table in tests/op_cases.py
(see op_case_kit.py for what a row says).

split, array_split and atleast_nd with several inputs return a list or tuple: their rows join
the pieces into one Tensor (stack or concatenate, said in the id), so every piece's gradient is
checked. Composites record the primitives they are made of (transpose, reshape, broadcast_to,
getitem, stack); their rows use the composite's public name (COMPOSITES)."""

from __future__ import annotations

import numpy as np
from op_case_kit import OpCase, indices

import autograd_core as ag
from autograd_core import numpy_array

REPEATS = np.array([2, 0, 1, 3])  # one count per element, a zero among them
TAKE_2D = np.array([[2, 0], [2, 2], [-1, 0]])  # repeated and negative indices
ALONG_ROWS = np.array([[2, 2, 0], [1, 0, 1]])  # take_along_axis(x (2, 4), ., axis=1): repeats
ALONG_BCAST = np.array([[3], [0], [3]])  # (3, 1) against x (3, 4): one column per row, broadcast


def np_pad(pad_width, **kw):
    return lambda x: np.pad(x, pad_width, **kw)


def _values(x) -> np.ndarray:
    """x's values as a constant (a Tensor's data; a plain array as is), e.g. to build an index."""
    return x.data if isinstance(x, ag.Tensor) else x


CASES: list[OpCase] = [
    # -- swapaxes / moveaxis (transposes)
    OpCase("swapaxes", "3d_0_2", lambda x: ag.swapaxes(x, 0, 2), [(2, 3, 4)],
           numpy_ref=lambda x: np.swapaxes(x, 0, 2)),
    OpCase("swapaxes", "neg_axes_method", lambda x: x.swapaxes(-1, -2), [(2, 3, 4)],
           numpy_ref=lambda x: np.swapaxes(x, -1, -2)),
    OpCase("swapaxes", "same_axis_1d", lambda x: ag.swapaxes(x, 0, -1), [(4,)],
           numpy_ref=lambda x: np.swapaxes(x, 0, -1)),
    OpCase("swapaxes", "T_view", lambda x: ag.swapaxes(x, 0, 1), [(3, 4)], view="T",
           numpy_ref=lambda x: np.swapaxes(x, 0, 1)),
    OpCase("moveaxis", "first_to_last", lambda x: ag.moveaxis(x, 0, -1), [(2, 3, 4)],
           numpy_ref=lambda x: np.moveaxis(x, 0, -1)),
    OpCase("moveaxis", "neg_source", lambda x: ag.moveaxis(x, -1, 1), [(2, 3, 4)],
           numpy_ref=lambda x: np.moveaxis(x, -1, 1)),
    OpCase("moveaxis", "tuples", lambda x: ag.moveaxis(x, (0, 1), (-1, 0)), [(2, 3, 4)],
           numpy_ref=lambda x: np.moveaxis(x, (0, 1), (-1, 0))),
    OpCase("moveaxis", "step_view", lambda x: ag.moveaxis(x, 1, 0), [(3, 4)], view="step",
           numpy_ref=lambda x: np.moveaxis(x, 1, 0)),
    # -- squeeze / ravel / flatten / atleast_nd (reshapes)
    OpCase("squeeze", "all", ag.squeeze, [(1, 3, 1, 2)], numpy_ref=np.squeeze),
    OpCase("squeeze", "neg_axis", lambda x: ag.squeeze(x, -2), [(1, 3, 1, 2)],
           numpy_ref=lambda x: np.squeeze(x, -2)),
    OpCase("squeeze", "axis_tuple_method", lambda x: x.squeeze((0, 2)), [(1, 3, 1, 2)],
           numpy_ref=lambda x: np.squeeze(x, (0, 2))),
    OpCase("squeeze", "to_0d", ag.squeeze, [(1, 1)], numpy_ref=np.squeeze),
    OpCase("squeeze", "bcast_view", lambda x: ag.squeeze(x, 1), [(3, 1, 2)], view="bcast",
           numpy_ref=lambda x: np.squeeze(x, 1)),
    OpCase("ravel", "3d", ag.ravel, [(2, 3, 4)], numpy_ref=np.ravel),
    OpCase("ravel", "order_F", lambda x: ag.ravel(x, order="F"), [(2, 3, 4)],
           numpy_ref=lambda x: np.ravel(x, order="F")),
    OpCase("ravel", "0d_method", lambda x: x.ravel(), [()], numpy_ref=np.ravel),
    OpCase("ravel", "T_view", ag.ravel, [(3, 4)], view="T", numpy_ref=np.ravel),
    OpCase("flatten", "2d", ag.flatten, [(3, 4)], numpy_ref=lambda x: x.flatten()),
    OpCase("flatten", "method_F", lambda x: x.flatten("F"), [(3, 4)],
           numpy_ref=lambda x: x.flatten("F")),
    OpCase("flatten", "flip_view", ag.flatten, [(3, 2)], view="flip", numpy_ref=lambda x: x.flatten()),
    OpCase("atleast_1d", "0d", ag.atleast_1d, [()], numpy_ref=np.atleast_1d),
    OpCase("atleast_1d", "2d_kept", ag.atleast_1d, [(2, 3)], numpy_ref=np.atleast_1d),
    OpCase("atleast_1d", "two_stacked", lambda x, y: ag.concatenate(ag.atleast_1d(x, y)), [(), (3,)],
           numpy_ref=lambda x, y: np.concatenate(np.atleast_1d(x, y))),
    OpCase("atleast_2d", "0d", ag.atleast_2d, [()], numpy_ref=np.atleast_2d),
    OpCase("atleast_2d", "1d", ag.atleast_2d, [(3,)], numpy_ref=np.atleast_2d),
    OpCase("atleast_2d", "3d_kept", ag.atleast_2d, [(2, 1, 3)], numpy_ref=np.atleast_2d),
    OpCase("atleast_2d", "two_concatenated", lambda x, y: ag.concatenate(ag.atleast_2d(x, y), axis=1),
           [(3,), (1, 2)], numpy_ref=lambda x, y: np.concatenate(np.atleast_2d(x, y), axis=1)),
    OpCase("atleast_3d", "0d", ag.atleast_3d, [()], numpy_ref=np.atleast_3d),
    OpCase("atleast_3d", "1d", ag.atleast_3d, [(4,)], numpy_ref=np.atleast_3d),
    OpCase("atleast_3d", "2d_T_view", ag.atleast_3d, [(2, 3)], view="T", numpy_ref=np.atleast_3d),
    OpCase("atleast_3d", "three_stacked", lambda x, y, z: ag.stack(ag.atleast_3d(x, y, z)),
           [(1,), (1,), (1,)], numpy_ref=lambda x, y, z: np.stack(np.atleast_3d(x, y, z))),
    # -- repeat / tile (broadcasts merged by reshapes; counts by getitem)
    OpCase("repeat", "flat", lambda x: ag.repeat(x, 2), [(2, 3)], numpy_ref=lambda x: np.repeat(x, 2)),
    OpCase("repeat", "axis1", lambda x: ag.repeat(x, 3, axis=1), [(2, 3)],
           numpy_ref=lambda x: np.repeat(x, 3, axis=1)),
    OpCase("repeat", "counts_neg_axis", lambda x: ag.repeat(x, REPEATS, axis=-1), [(2, 4)],
           numpy_ref=lambda x: np.repeat(x, REPEATS, axis=-1)),
    OpCase("repeat", "counts_list_method", lambda x: x.repeat([1, 0, 2], axis=0), [(3, 2)],
           numpy_ref=lambda x: np.repeat(x, [1, 0, 2], axis=0)),
    OpCase("repeat", "one_count_list", lambda x: ag.repeat(x, [2], axis=0), [(3, 2)],
           numpy_ref=lambda x: np.repeat(x, [2], axis=0)),
    OpCase("repeat", "0d", lambda x: ag.repeat(x, 3), [()], numpy_ref=lambda x: np.repeat(x, 3)),
    OpCase("repeat", "zero", lambda x: ag.repeat(x, 0, axis=0), [(2, 3)],
           numpy_ref=lambda x: np.repeat(x, 0, axis=0)),
    OpCase("repeat", "T_view", lambda x: ag.repeat(x, 2, axis=0), [(3, 2)], view="T",
           numpy_ref=lambda x: np.repeat(x, 2, axis=0)),
    OpCase("tile", "int", lambda x: ag.tile(x, 3), [(2, 2)], numpy_ref=lambda x: np.tile(x, 3)),
    OpCase("tile", "more_reps_than_axes", lambda x: ag.tile(x, (2, 1, 2)), [(3,)],
           numpy_ref=lambda x: np.tile(x, (2, 1, 2))),
    OpCase("tile", "fewer_reps_than_axes", lambda x: ag.tile(x, (2,)), [(2, 1, 3)],
           numpy_ref=lambda x: np.tile(x, (2,))),
    OpCase("tile", "0d", lambda x: ag.tile(x, (2, 3)), [()], numpy_ref=lambda x: np.tile(x, (2, 3))),
    OpCase("tile", "step_last_view", lambda x: ag.tile(x, (1, 2)), [(2, 3)], view="step_last",
           numpy_ref=lambda x: np.tile(x, (1, 2))),
    # -- split / array_split (lists of getitem slices, joined in the row)
    OpCase("split", "sections_stacked", lambda x: ag.stack(ag.split(x, 3)), [(6, 2)],
           numpy_ref=lambda x: np.stack(np.split(x, 3))),
    OpCase("split", "indices_neg_axis_reversed_concat",
           lambda x: ag.concatenate(ag.split(x, [1, 3], axis=-1)[::-1], axis=-1), [(2, 5)],
           numpy_ref=lambda x: np.concatenate(np.split(x, [1, 3], axis=-1)[::-1], axis=-1)),
    OpCase("split", "out_of_order_indices_concat", lambda x: ag.concatenate(ag.split(x, [3, 1, 9])),
           [(5,)], numpy_ref=lambda x: np.concatenate(np.split(x, [3, 1, 9]))),
    OpCase("split", "T_view_stacked", lambda x: ag.stack(ag.split(x, 2, axis=1)), [(3, 4)], view="T",
           numpy_ref=lambda x: np.stack(np.split(x, 2, axis=1))),
    OpCase("array_split", "uneven_reversed_concat",
           lambda x: ag.concatenate(ag.array_split(x, 3, axis=1)[::-1], axis=1), [(2, 7)],
           numpy_ref=lambda x: np.concatenate(np.array_split(x, 3, axis=1)[::-1], axis=1)),
    OpCase("array_split", "more_sections_than_rows_concat",
           lambda x: ag.concatenate(ag.array_split(x, 4)), [(3, 2)],
           numpy_ref=lambda x: np.concatenate(np.array_split(x, 4))),
    OpCase("array_split", "second_piece", lambda x: ag.array_split(x, [2], axis=-1)[1], [(2, 3, 4)],
           numpy_ref=lambda x: np.array_split(x, [2], axis=-1)[1]),
    # -- flip (negative-step getitem) / roll (a primitive)
    OpCase("flip", "all", ag.flip, [(3, 4)], numpy_ref=np.flip),
    OpCase("flip", "neg_axis", lambda x: ag.flip(x, -1), [(2, 3, 4)], numpy_ref=lambda x: np.flip(x, -1)),
    OpCase("flip", "axis_tuple", lambda x: ag.flip(x, (0, 2)), [(2, 3, 4)],
           numpy_ref=lambda x: np.flip(x, (0, 2))),
    OpCase("flip", "0d", ag.flip, [()], numpy_ref=np.flip),
    OpCase("flip", "step_view", lambda x: ag.flip(x, 0), [(3, 2)], view="step",
           numpy_ref=lambda x: np.flip(x, 0)),
    OpCase("roll", "flat", lambda x: ag.roll(x, 2), [(2, 3)], numpy_ref=lambda x: np.roll(x, 2)),
    OpCase("roll", "axis_neg_shift", lambda x: ag.roll(x, -1, axis=1), [(2, 3)],
           numpy_ref=lambda x: np.roll(x, -1, axis=1)),
    OpCase("roll", "tuples", lambda x: ag.roll(x, (1, -2), axis=(0, -1)), [(3, 2, 4)],
           numpy_ref=lambda x: np.roll(x, (1, -2), axis=(0, -1))),
    OpCase("roll", "shift_past_length_repeated_axis", lambda x: ag.roll(x, (5, 2), axis=(0, 0)), [(3, 2)],
           numpy_ref=lambda x: np.roll(x, (5, 2), axis=(0, 0))),
    OpCase("roll", "0d", lambda x: ag.roll(x, 1), [()], numpy_ref=lambda x: np.roll(x, 1)),
    OpCase("roll", "T_view", lambda x: ag.roll(x, 1, axis=0), [(3, 4)], view="T",
           numpy_ref=lambda x: np.roll(x, 1, axis=0)),
    OpCase("roll", "primitive_shift_tuple",
           lambda x: numpy_array._roll(x, shift=(1, 1), axis=(0, 1)), [(2, 3)],
           numpy_ref=lambda x: np.roll(x, (1, 1), axis=(0, 1))),
    # -- take / take_along_axis (getitem with integer arrays: repeated indices accumulate)
    OpCase("take", "flat_repeated", lambda x: ag.take(x, [5, 0, 5, -1]), [(2, 3)],
           numpy_ref=lambda x: np.take(x, [5, 0, 5, -1])),
    OpCase("take", "axis0_2d_indices", lambda x: ag.take(x, TAKE_2D, axis=0), [(3, 2)],
           numpy_ref=lambda x: np.take(x, TAKE_2D, axis=0)),
    OpCase("take", "neg_axis_method", lambda x: x.take(np.array([1, 1, 0]), axis=-1), [(2, 3, 2)],
           numpy_ref=lambda x: np.take(x, np.array([1, 1, 0]), axis=-1)),
    OpCase("take", "scalar_index", lambda x: ag.take(x, 2, axis=1), [(2, 3)],
           numpy_ref=lambda x: np.take(x, 2, axis=1)),
    OpCase("take", "index_input", lambda x, i: ag.take(x, i, axis=0), [(4, 3), (6,)], ("real", indices(4)),
           numpy_ref=lambda x, i: np.take(x, i, axis=0)),
    OpCase("take", "T_view", lambda x: ag.take(x, [0, 2, 0], axis=1), [(2, 3)], view="T",
           numpy_ref=lambda x: np.take(x, [0, 2, 0], axis=1)),
    OpCase("take_along_axis", "rows_repeated", lambda x: ag.take_along_axis(x, ALONG_ROWS, axis=1),
           [(2, 4)], numpy_ref=lambda x: np.take_along_axis(x, ALONG_ROWS, axis=1)),
    OpCase("take_along_axis", "default_axis_bcast", lambda x: ag.take_along_axis(x, ALONG_BCAST), [(3, 4)],
           numpy_ref=lambda x: np.take_along_axis(x, ALONG_BCAST, axis=-1)),
    OpCase("take_along_axis", "axis0_index_input", lambda x, i: ag.take_along_axis(x, i, axis=0),
           [(3, 2, 2), (5, 2, 2)], ("real", indices(3)),
           numpy_ref=lambda x, i: np.take_along_axis(x, i, axis=0)),
    OpCase("take_along_axis", "axis_none", lambda x: ag.take_along_axis(x, np.array([5, 0, 5]), None),
           [(2, 3)], numpy_ref=lambda x: np.take_along_axis(x, np.array([5, 0, 5]), None)),
    OpCase("take_along_axis", "argsort_flip_view",
           lambda x: ag.take_along_axis(x, np.argsort(_values(x), axis=0), axis=0), [(3, 2)], "distinct",
           view="flip",
           numpy_ref=lambda x: np.take_along_axis(x, np.argsort(x, axis=0), axis=0)),
    # -- pad modes (the zero-fill rows are in op_cases.py)
    OpCase("pad", "constant_values", lambda x: ag.pad(x, ((1, 0), (2, 1)), constant_values=1.5), [(2, 3)],
           numpy_ref=np_pad(((1, 0), (2, 1)), constant_values=1.5)),
    OpCase("pad", "constant_values_pairs",
           lambda x: ag.pad(x, 1, mode="constant", constant_values=((-1, 2), (3, 0.5))), [(2, 2)],
           numpy_ref=np_pad(1, constant_values=((-1, 2), (3, 0.5)))),
    OpCase("pad", "edge", lambda x: ag.pad(x, ((1, 2), (0, 1)), mode="edge"), [(2, 3)],
           numpy_ref=np_pad(((1, 2), (0, 1)), mode="edge")),
    OpCase("pad", "edge_wider_than_axis", lambda x: ag.pad(x, (3, 4), mode="edge"), [(2,)],
           numpy_ref=np_pad((3, 4), mode="edge")),
    OpCase("pad", "edge_3d_T_view", lambda x: ag.pad(x, 1, mode="edge"), [(2, 3, 2)], view="T",
           numpy_ref=np_pad(1, mode="edge")),
    OpCase("pad", "reflect", lambda x: ag.pad(x, ((2, 1), (1, 2)), mode="reflect"), [(3, 4)],
           numpy_ref=np_pad(((2, 1), (1, 2)), mode="reflect")),
    OpCase("pad", "reflect_wider_than_axis", lambda x: ag.pad(x, (5, 7), mode="reflect"), [(3,)],
           numpy_ref=np_pad((5, 7), mode="reflect")),
    OpCase("pad", "reflect_length1_axis", lambda x: ag.pad(x, 2, mode="reflect"), [(1, 3)],
           numpy_ref=np_pad(2, mode="reflect")),
    OpCase("pad", "reflect_step_view_one_axis", lambda x: ag.pad(x, ((0, 0), (2, 2)), mode="reflect"),
           [(2, 3)], view="step", numpy_ref=np_pad(((0, 0), (2, 2)), mode="reflect")),
    # -- array (nested lists stacked: the gradient reaches every Tensor inside)
    OpCase("array", "two_tensors", lambda x, y: ag.array([x, y]), [(2, 3), (2, 3)],
           numpy_ref=lambda x, y: np.array([x, y])),
    OpCase("array", "nested_0d_and_numbers", lambda x, y: ag.array([[x, 1.5], [-2, y]]), [(), ()],
           numpy_ref=lambda x, y: np.array([[x, 1.5], [-2, y]])),
    OpCase("array", "tuple_with_number_rows", lambda x: ag.array(([1.0, 2.0, 3.0], x, (0, 0.5, 1))), [(3,)],
           numpy_ref=lambda x: np.array(([1.0, 2.0, 3.0], x, (0, 0.5, 1)))),
    OpCase("array", "same_tensor_twice_views", lambda x: ag.array([[x], [x]]), [(2, 2)], view="T",
           numpy_ref=lambda x: np.array([[x], [x]])),
    OpCase("array", "elements_of_one_tensor", lambda x: ag.array([x[1], x[0], x[1]]), [(2, 3)],
           numpy_ref=lambda x: np.array([x[1], x[0], x[1]])),
]

# Public names that are composites of primitives (their rows use these names).
COMPOSITES: set[str] = {"swapaxes", "moveaxis", "squeeze", "ravel", "flatten", "atleast_1d", "atleast_2d",
                        "atleast_3d", "repeat", "tile", "split", "array_split", "flip", "take",
                        "take_along_axis", "array"}

"""The rule table, continued: shape operations beyond ops.py's core (swapaxes, moveaxis, repeat,
tile, split, array_split, squeeze, ravel, flatten, flip, roll, atleast_nd, take,
take_along_axis, pad modes) and `array` (a Tensor from nested lists holding Tensors).

Rules follow ops.py's conventions (its module docstring): `g`, `ans`, the inputs, then keywords;
one rule serves both sweeps. Adding an op: one rule here and one row in tests/op_cases_array.py.
"""

from __future__ import annotations

import numpy as np  # noqa: F401

from .primitive import defop, rule_table  # noqa: F401
from .tensor import Tensor, attach_methods  # noqa: F401


class _TensorMethods:
    """Tensor methods NumPy's ndarray has for these ops."""


attach_methods(_TensorMethods)

__all__, PRIMITIVES = rule_table(globals(), __name__)

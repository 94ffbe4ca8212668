"""The rule table, continued: elementwise math beyond ops.py's core (trigonometric, hyperbolic and
their inverses, exp/log variants, powers, rounding, remainders, hypot, arctan2, logaddexp, sinc).

Rules follow ops.py's conventions (its module docstring): `g`, `ans`, the inputs, then keywords;
one rule serves both sweeps. Adding an op: one rule here and one row in tests/op_cases_math.py.
"""

from __future__ import annotations

import numpy as np  # noqa: F401

from .primitive import defop, rule_table  # noqa: F401
from .tensor import Tensor, attach_methods  # noqa: F401


class _TensorMethods:
    """Tensor methods NumPy's ndarray has for these ops."""


attach_methods(_TensorMethods)

__all__, PRIMITIVES = rule_table(globals(), __name__)

"""`ag.linalg`: NumPy's `numpy.linalg` names, differentiable and batched over leading axes.

Rules follow ops.py's conventions. Adding an op: one rule here and one row in
tests/op_cases_linalg.py. Primitive names are prefixed `linalg_` so that they stay unique in
the whole rule table (autograd_core/rules.py).
"""

from __future__ import annotations

import numpy as np  # noqa: F401

from .primitive import defop, rule_table  # noqa: F401
from .tensor import Tensor  # noqa: F401

__all__, PRIMITIVES = rule_table(globals(), __name__)

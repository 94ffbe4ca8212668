"""The rule table, continued: products, reductions and scans beyond ops.py's core (dot, inner,
outer, tensordot, trace, diag, diagonal, tril, triu, kron, vdot; prod, var, std, cumsum, cumprod,
diff, sort).

Rules follow ops.py's conventions (its module docstring): `g`, `ans`, the inputs, then keywords;
one rule serves both sweeps. Adding an op: one rule here and one row in tests/op_cases_products.py.
"""

from __future__ import annotations

import numpy as np  # noqa: F401

from .primitive import defop, rule_table  # noqa: F401
from .tensor import Tensor, attach_methods  # noqa: F401


class _TensorMethods:
    """Tensor methods NumPy's ndarray has for these ops."""


attach_methods(_TensorMethods)

__all__, PRIMITIVES = rule_table(globals(), __name__)

"""`ag.special`: SciPy's `scipy.special` names, differentiable, in NumPy (no SciPy needed).

Rules follow ops.py's conventions. Adding an op: one rule here and one row in
tests/op_cases_math.py. Primitive names are prefixed `special_` where they would collide with
a name elsewhere in the rule table (autograd_core/rules.py).
"""

from __future__ import annotations

import numpy as np  # noqa: F401

from .primitive import defop, rule_table  # noqa: F401
from .tensor import Tensor  # noqa: F401

__all__, PRIMITIVES = rule_table(globals(), __name__)

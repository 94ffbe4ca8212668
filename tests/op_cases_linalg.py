"""Op-case rows for ag.linalg: part of the table in tests/op_cases.py (see op_case_kit.py for
what a row says)."""

from __future__ import annotations

import numpy as np  # noqa: F401
from op_case_kit import OpCase

import autograd_core as ag  # noqa: F401

CASES: list[OpCase] = []

# Public names that are composites of primitives (their rows use these names).
COMPOSITES: set[str] = set()

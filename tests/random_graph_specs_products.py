"""Random-graph rows (`OpSpec`) for the ops of tests/op_cases_products.py's family: joined into
SPEC_ROWS by tests/random_graphs.py, from whose picks and templates they are built."""

from __future__ import annotations


def rows() -> list:
    import random_graphs as rg  # noqa: F401  (imported when random_graphs assembles its table)

    return []

"""Writes docs/ops.md from the rule table's docstrings: ``python docs/make_ops_md.py``.
(tests/test_docs.py checks that every public op is listed there.)"""

import inspect
from pathlib import Path

import numpy as np

from autograd_core import linalg, numpy_array, numpy_math, numpy_products, ops, special

FAMILIES = [("Core (ops.py): arithmetic, reductions, shapes, network ops", ops, "ag."),
            ("Elementwise math (numpy_math.py)", numpy_math, "ag."),
            ("Shape (numpy_array.py)", numpy_array, "ag."),
            ("Products, reductions and scans (numpy_products.py)", numpy_products, "ag."),
            ("ag.linalg (linalg.py)", linalg, "ag.linalg."),
            ("ag.special (special.py)", special, "ag.special.")]

HEAD = """# The ops

Every op of the rule table, with NumPy's (or SciPy's) names and signatures, one line each from its
docstring (`help(ag.<name>)` has the rest: broadcasting, dtypes, the subgradient at kinks).
Generated from the docstrings by `python docs/make_ops_md.py`; the op-case table
(`tests/op_cases*.py`) checks every op against NumPy and central differences (first and second
order), and the random graphs against PyTorch too.
"""

TAIL = """## Not differentiable, and why

Where an op has no derivative, the engine raises rather than return a number that looks right:

- `linalg.eigh`: eigenvectors at repeated eigenvalues (they are not unique there; the eigenvalues
  alone still get a gradient). Its gradient is meaningful only for functions of the eigenvectors
  that do not depend on their signs.
- `linalg.svd`: singular vectors at repeated singular values, or at a zero singular value of a
  non-square matrix; a cotangent on the extra columns of U (rows of Vh) with `full_matrices=True`
  (use `full_matrices=False`). `svd(compute_uv=False)` (the singular values) has no such limit.
- `linalg.det` and `linalg.slogdet` at a singular matrix. `linalg.inv` and `linalg.solve` of a
  singular matrix, and `linalg.cholesky` of one that is not positive definite, fail in the
  forward, as in NumPy (`LinAlgError`, naming the op).
- `linalg.qr` with linearly dependent leading columns, and with `mode='complete'` a cotangent on
  Q's extra columns.
- Piecewise-constant ops (`sign floor ceil round trunc`, slogdet's sign, `linalg.norm(ord=0)`)
  have zero gradient; comparisons and integer results carry none.
- At kinks one valid subgradient is returned and documented: relu'(0) = 0, abs'(0) = 0, clip
  passes the gradient at a bound, max/min share it among ties, `sort` routes it by the stable
  order, `std` at a constant slice and `norm` at 0 give 0, `hypot` and `arctan2` at the origin
  give 0; `cbrt` at 0 gives inf (its derivative).
- Complex values in a recorded computation are a `TypeError`: the engine differentiates real
  functions.

## NumPy's functions on Tensors

`np.<name>(t)` (a ufunc, or a function NumPy dispatches through `__array_function__`) runs
`ag.<name>`, and `np.linalg.<name>` runs `ag.linalg.<name>`; NumPy's arguments are matched by
name, and one the engine's op lacks (`out=`, `dtype=`, `where=`) is a `TypeError` unless it is
None. A NumPy function with no engine op runs on the data when its result cannot carry a gradient
(integers, bools, shapes: `np.argmax`, `np.isnan`, `np.shape`) or nothing requires grad, and is a
`TypeError` naming it otherwise (`np.median(t)` of a Tensor that requires grad). A list or tuple
holding Tensors given to an op is a `TypeError` naming the op: `ag.stack` or `ag.array` makes it
one Tensor. `t.data`, `t.numpy()` and `t.detach()` are the explicit ways to the values, without
gradient; `np.asarray(t)` of a Tensor that requires grad is a `TypeError` while recording (NumPy
would drop the gradient of the Tensors in `np.array([x, y])` the same way), and converts under
`ag.no_grad()`.
"""


def row(prefix: str, name: str, f) -> str:
    ufunc = getattr(f, "fun", None)
    if isinstance(ufunc, np.ufunc):  # a primitive on a NumPy ufunc: NumPy's own doc is its call
        sig = "(x)" if ufunc.nin == 1 else "(x, y)"
        first = f"NumPy's `np.{ufunc.__name__}`, elementwise" + (", broadcasting." if ufunc.nin > 1 else ".")
    else:
        try:
            sig = str(inspect.signature(f)).replace(" -> Tensor", "")
        except (TypeError, ValueError):
            sig = "(...)"
        doc = (inspect.getdoc(f) or "").split("\n\n")[0].replace("\n", " ")
        first = (doc.split(". ")[0].rstrip(".") + ".") if doc else ""
    return f"| `{prefix}{name}{sig}` | {first} |".replace(" | None", " or None")


def main() -> None:
    lines = [HEAD]
    for title, module, prefix in FAMILIES:
        lines += [f"## {title}", "", "| op | what |", "|---|---|"]
        lines += [row(prefix, n, getattr(module, n)) for n in module.__all__]
        lines.append("")
    lines.append(TAIL)
    (Path(__file__).parent / "ops.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()

"""The first node at fault: f recorded once more and each node checked alone against finite
differences of that node; a failing node has a wrong VJP or computes in lower precision."""

from __future__ import annotations

import numpy as np

from .. import ops
from ..anomaly import record_source
from ..graph import Node, enable_grad, no_grad
from ..tensor import Tensor
from ..transforms import Tape
from .constants import JACOBIAN_LIMIT, NOISE
from .differences import _cotangents, _noise, _Problem
from .randomness import _new_evaluation
from .report import BadNode
from .rows import _check_input, _Found


def _localize(f, xs, checked, atol, rtol, seed, fast_threshold) -> BadNode | None:
    """Record f once more and check each node alone, in recording order; the first at fault."""
    _new_evaluation()
    args = [Tensor._of(a.copy(), True) if i in checked else a for i, a in enumerate(xs)]
    with enable_grad(), record_source(), Tape() as tape:
        f(*args)
    rng = np.random.default_rng(seed + 7)
    for node in tape:
        bad = _check_node(node, atol, rtol, rng, fast_threshold)
        if bad is not None:
            return bad
    return None


def _check_node(node: Node, atol, rtol, rng, fast_threshold) -> BadNode | None:
    prim, kwargs = node.prim, dict(node.kwargs)
    wanted = [isinstance(t, Tensor) and t.requires_grad and np.asarray(a).dtype.kind == "f"
              for t, a in zip(node.inputs, node.args, strict=True)]
    if not any(wanted):
        return None
    arrays = [np.array(a, dtype=np.float64) if w else a for a, w in zip(node.args, wanted, strict=True)]
    # Jacobian entries for a small output, else the output projected on a random cotangent
    values = "jacobian" if 0 < int(np.prod(node.out_shape)) <= JACOBIAN_LIMIT else "projection"
    gs = _cotangents([node.out_shape], values, int(rng.integers(2 ** 31)))
    if prim.vjp_wants_needs:
        kwargs["needs"] = tuple(wanted)
    with no_grad():
        ans, saved = prim.forward(*arrays, **node.kwargs)
        if prim.saves:
            kwargs["saved"] = saved
        per_g = []
        for (g,) in gs:
            cots = prim.vjp(g, np.asarray(ans, dtype=np.float64), *arrays, **kwargs)
            per_g.append(cots if isinstance(cots, (tuple, list)) else (cots,))

    def value() -> np.ndarray:
        with no_grad():
            out = np.asarray(prim.forward(*arrays, **node.kwargs)[0], dtype=np.float64)
            return np.ravel(out) if values == "jacobian" else np.array([float(np.sum(gs[0][0] * out))])

    def kinks() -> list[tuple[str, np.ndarray]]:
        out = prim.forward(*arrays, **node.kwargs)[0]
        return [(prim.name, np.asarray(prim.kinks(out, *arrays, **node.kwargs), dtype=np.float64))]

    f0 = value()
    prob = _Problem(arrays, value, kinks if prim.kinks is not None else None, None, atol, rtol, f0)
    for j, w in enumerate(wanted):
        if not w:
            continue
        cs = [_node_cotangent(prim, cots, j, arrays[j].shape) for cots in per_g]
        if any(c is None for c in cs):
            return _bad(node, j, arrays, np.inf, values=values)
        fd = _check_input(prob, j, np.stack(cs), f0, fast_threshold, rng)
        if not fd.row.passed:
            return _bad(node, j, arrays, fd.row.max_abs_err, _precision(prob, arrays, ans, j, fd), values)
    return None


def _node_cotangent(prim, cots, j: int, shape: tuple) -> np.ndarray | None:
    """Input j's cotangent from a VJP's result, summed back to its shape for a broadcasting op;
    None when it has another shape. A VJP that gives none says the derivative is 0 (the
    differences check that too)."""
    if j >= len(cots) or cots[j] is None:
        return np.zeros(shape)
    c = np.asarray(cots[j], np.float64)
    if c.shape != shape and prim.broadcasting:
        try:
            c = np.asarray(ops.sum_to(c, shape))
        except ValueError:
            pass
    return c if c.shape == shape else None


def _precision(prob: _Problem, arrays, ans, j: int, fd: _Found) -> str:
    """"precision" when a failing node computes below float64 (a float32 result, float32-exact
    values from inputs that are not, or float32-sized noise), else "vjp"."""
    a = np.asarray(ans)
    if a.dtype.kind == "f" and a.dtype.itemsize < 8:
        return "precision"
    fin = a[np.isfinite(a)] if a.dtype.kind == "f" else a
    ins = [np.asarray(x) for x in arrays if np.asarray(x).dtype == np.float64]
    with np.errstate(all="ignore"):  # values past float32's range become inf: not float32-exact
        rounded = fin.size and np.array_equal(fin, fin.astype(np.float32))
        if rounded and any(not np.array_equal(x, x.astype(np.float32)) for x in ins):
            return "precision"
    return "precision" if _noise(prob, arrays[j], fd.where) > NOISE else "vjp"


def _bad(node: Node, j: int, arrays, err: float, reason: str = "vjp", values: str = "jacobian") -> BadNode:
    return BadNode(node=node, op=node.op, input=j, input_shapes=tuple(np.shape(a) for a in arrays),
                   output_shape=node.out_shape, module=node.module, source=node.source,
                   max_abs_err=err, reason=reason, values=values)

"""Where a node came from, and `detect_anomaly`.

Nodes are stamped with the dotted path of the `nn` module that made them (`module_scope`) and,
on request, with the user's forward source line (`record_source`); graph pictures, gradient-check
reports and backward errors cite both. `detect_anomaly` finds the first op whose forward or
backward produced NaN or Inf:

>>> x = ag.tensor([0.0, 4.0], requires_grad=True)
>>> with ag.detect_anomaly():
...     y = ag.sqrt(x).sum()     # forward: nodes are stamped with this line (record_source)
...     y.backward()             # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
FloatingPointError: backward of 'sqrt' ... produced inf ... forward at ...

Off by default. Forward: detect_anomaly's source hook (`forward_hook`, called by `Node` for each
recorded op) stamps the line and checks the op's output. Backward: the sweep (backward.py
`sweep`) reads `state.enabled` once per sweep; only when it is on does it wrap its per-node VJP
with `checked`, so an ordinary backward pays one attribute read and nothing per op. The flags
are thread-local, like the engine's recording state.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from .graph import Node, _Switch, local
from .tensor import Tensor

_library_dirs = [os.path.dirname(os.path.abspath(__file__))]


def register_library_dir(path: str) -> None:
    """Frames from files under `path` are skipped when stamping a node's forward source line
    (so `nn`'s own layers point at the user's line that called them)."""
    _library_dirs.append(os.path.dirname(os.path.abspath(path)))


def _call_site(node=None) -> str | None:
    """file:line of the innermost frame outside the engine and registered library code (called
    with the node being recorded, which detect_anomaly's hook also checks)."""
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(tuple(_library_dirs)):
        f = f.f_back
    return None if f is None else f"{f.f_code.co_filename}:{f.f_lineno}"


def scope_stack() -> list[str]:
    """The calling thread's stack of module paths (innermost last) that new nodes are stamped with
    (``node.module``). Code that pushes a path must pop it in a ``finally``."""
    return local.recording.scope


class module_scope:
    """Context manager: nodes recorded inside are stamped with `path` (``node.module``); nested
    scopes stack, and one object may be entered again and again."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> module_scope:
        local.recording.scope.append(self.path)
        return self

    def __exit__(self, *exc: Any) -> None:
        local.recording.scope.pop()


class record_source(_Switch):
    """Context manager: stamp each node recorded inside with the forward source line
    (``node.source``, "file:line"), which backward errors and anomaly reports cite. Off by
    default because it walks the stack once per op."""

    field = "source"

    def __init__(self, enabled: bool = True) -> None:
        self.value = _call_site if enabled else None


class _AnomalyState(threading.local):
    enabled = False  # read by backward.sweep once per sweep
    in_vjp = 0  # > 0 while a checked VJP runs: its ops' outputs are cotangents, checked there


state = _AnomalyState()


class detect_anomaly:
    """Context manager (and decorator): while it is active, forward nodes record their source
    line (`ag.record_source`), each recorded op's output is checked, and every backward sweep
    checks each VJP's cotangents.

    Forward (``check_forward=True``, as JAX's ``jax_debug_nans``): the first recorded op whose
    output holds NaN or Inf raises `FloatingPointError` naming the op, its nn module path
    (``node.module``), its forward line (``node.source``) and the first bad index. If an input
    already held NaN/Inf, the error says which one and where that value came from: a constant or
    data Tensor (the NaN entered with the data), a leaf such as a parameter, or an op recorded
    before detect_anomaly was on; otherwise it shows the inputs' values at that index (log of a
    negative number, 0/0). Only recorded ops are checked (some input requires grad; not under
    ``no_grad``). A NaN/Inf a later op masks on purpose (``where(x > 0, log(x), 0)``, a −inf
    attention mask) is reported too: pass ``check_forward=False`` to check backward only.

    Backward: the first op whose backward produces a NaN or Inf cotangent raises
    `FloatingPointError` naming the op, its module path and forward line. NumPy's own
    divide/overflow/invalid warnings are silenced inside a checked VJP: the check replaces them
    with an error that says where (a forward's warnings are NumPy's, printed before the error).
    Costs a stack walk and an ``isfinite`` per recorded op and per cotangent, so use it to
    debug, not to train.
    """

    def __init__(self, enabled: bool = True, check_forward: bool = True) -> None:
        self.enabled = enabled
        self.check_forward = check_forward

    def __enter__(self) -> detect_anomaly:
        self._prev = state.enabled
        state.enabled = self.enabled
        self._source = record_source(True)
        if self.check_forward:
            self._source.value = forward_hook
        if self.enabled:
            self._source.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self._source.__exit__(*exc)
        state.enabled = self._prev

    def __call__(self, fun):
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.enabled, self.check_forward):
                return fun(*args, **kwargs)

        wrapper.__wrapped__ = fun
        wrapper.__name__ = getattr(fun, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fun, "__doc__", None)
        return wrapper


def _bad(c) -> str | None:
    """'NaN', 'Inf', 'NaN and Inf' or None for a cotangent (array or Tensor)."""
    a = c.data if isinstance(c, Tensor) else np.asarray(c)
    if a.dtype.kind not in "fc" or np.isfinite(a).all():
        return None
    nan, inf = bool(np.isnan(a).any()), bool(np.isinf(a).any())
    return "NaN and Inf" if nan and inf else "NaN" if nan else "Inf"


def _where(node: Node) -> str:
    module = (f"in module '{node.module}'" if node.module else
              "in the root module" if node.module == "" else "outside any nn module")
    source = (f"forward at {node.source}" if node.source else
              "forward line unknown (the forward ran outside detect_anomaly/record_source)")
    return f"{module}; {source}"


def _seen(a) -> np.ndarray:
    """`a`'s values as a plain ndarray, for a report (under ag.jit, those of the traced call:
    reading a traced array's values would be refused, and the report is eager's anyway)."""
    a = np.asanyarray(a)
    return a if type(a) is np.ndarray else np.ndarray.view(a, np.ndarray)


def _first_bad(a: np.ndarray) -> tuple[int, ...]:
    """The first index (C order) of a non-finite entry of `a`."""
    return tuple(int(i) for i in np.argwhere(~np.isfinite(_seen(a)))[0])


def _inputs(node: Node) -> list[tuple[str, Any]]:
    """(label, value) of each input of `node`, a sequence input (concatenate's) item by item."""
    out = []
    for i, v in enumerate(node.inputs):
        label = node.prim.input_label(i)
        if isinstance(v, (list, tuple)):
            out += [(f"{label}[{j}]", item) for j, item in enumerate(v)]
        else:
            out.append((label, v))
    return out


def _origin(v) -> str:
    """Where an input holding NaN/Inf got it from, as far as the graph knows."""
    if not isinstance(v, Tensor):
        return "a constant (an array passed in, not a Tensor): the value entered with the data"
    if v.node is not None:
        n = v.node
        where = f"forward at {n.source}" if n.source else "recorded outside detect_anomaly"
        return (f"the output of '{n.op}' (node #{n.index}, {where}), which was not checked: "
                "run its forward inside detect_anomaly to see where it came from")
    if v.requires_grad:
        return ("a leaf Tensor with requires_grad=True (a parameter?): it held the value before "
                "this forward (a diverged optimizer step, or bad initial values)")
    return ("a Tensor no recorded op made (data, e.g. ag.tensor(x), or computed under no_grad): "
            "the value entered with the data")


def _forward_report(node: Node) -> str:
    """The message for a node whose forward output holds NaN/Inf."""
    ans = _seen(node.ans)
    idx = _first_bad(ans)
    head = (f"detect_anomaly: the forward of '{node.op}' (node #{node.index}, output "
            f"{ans.shape} {ans.dtype}) produced {_bad(ans)}, first at index {idx}, {_where(node)}")
    culprits, values = [], []
    elementwise = node.prim.broadcasting or isinstance(node.prim.fun, np.ufunc)
    for label, v in _inputs(node):
        a = v.data if isinstance(v, Tensor) else v
        if not isinstance(a, np.ndarray) and not isinstance(a, (float, np.floating)):
            continue
        a = _seen(a)
        if a.dtype.kind not in "fc":
            continue
        bad = _bad(a)
        if bad is not None:
            culprits.append(f"{label} (shape {a.shape}) already held {bad} (first at index "
                            f"{_first_bad(a) if a.ndim else ()}): it is {_origin(v)}")
        elif elementwise and a.size and len(values) < 4:  # the inputs where the output went bad
            values.append(f"{label} = {np.broadcast_to(a, ans.shape)[idx].item()!r}")
    if culprits:
        return f"{head}. Its " + "; its ".join(culprits)
    there = f" ({', '.join(values)} there)" if values else ""
    return f"{head}, from finite inputs{there}: this op is where it first appears"


def forward_hook(node: Node) -> str | None:
    """detect_anomaly's source hook (`Node` calls it for each recorded op): the forward line,
    after checking the op's output for NaN/Inf (`FloatingPointError`, see `detect_anomaly`)."""
    source = _call_site()
    ans = node.ans
    if state.in_vjp or ans.dtype.kind != "f" or np.isfinite(ans).all():
        return source  # (ops recorded by a create_graph sweep's VJPs: checked as cotangents)
    node.source = source
    message = _forward_report(node)
    node.release()  # the half-made node holds locks on the inputs: give them back now
    raise FloatingPointError(message)


def checked(node_vjp: Callable) -> Callable:
    """Wrap the sweep's per-node VJP so it raises at the first non-finite cotangent."""

    def checked_vjp(node: Node, g, create_graph: bool = False) -> tuple:
        bad = _bad(g)
        if bad is not None:  # every produced cotangent was checked, so this came from the seed
            raise FloatingPointError(
                f"detect_anomaly: the cotangent arriving at '{node.op}' (node #{node.index}, "
                f"output {node.out_shape}) already holds {bad}: the grad passed to backward() "
                f"is not finite ({_where(node)})"
            )
        state.in_vjp += 1
        try:
            with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
                cots = node_vjp(node, g, create_graph)
        finally:
            state.in_vjp -= 1
        for i, (t, c, need) in enumerate(zip(node.inputs, cots, node.needs, strict=True)):
            bad = None if c is None or not need else _bad(c)
            if bad is None:
                continue
            forward_bad = node.ans is not None and _bad(node.ans)
            hint = (f"; its forward output already held {forward_bad}, so look at the forward "
                    "inputs" if forward_bad else "")
            raise FloatingPointError(
                f"detect_anomaly: the backward of '{node.op}' (node #{node.index}, output "
                f"{node.out_shape} {node.out_dtype}) produced {bad} in the cotangent of "
                f"{node.prim.input_label(i)} (shape {t.shape}), {_where(node)}{hint}"
            )
        return cots

    return checked_vjp


__all__ = ["detect_anomaly", "module_scope", "record_source", "register_library_dir", "scope_stack"]

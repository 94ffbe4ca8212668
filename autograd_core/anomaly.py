"""Where a node came from, and `detect_anomaly`.

Nodes are stamped with the dotted path of the `nn` module that made them (`module_scope`) and,
on request, with the user's forward source line (`record_source`); graph pictures, gradient-check
reports and backward errors cite both. `detect_anomaly` finds the first op whose backward
produced NaN or Inf:

>>> x = ag.tensor([0.0, 4.0], requires_grad=True)
>>> with ag.detect_anomaly():
...     y = ag.sqrt(x).sum()     # forward: nodes are stamped with this line (record_source)
...     y.backward()             # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
FloatingPointError: backward of 'sqrt' ... produced inf ... forward at ...

Off by default. The sweep (backward.py `sweep`) reads `state.enabled` once per sweep; only when
it is on does it wrap its per-node VJP with `checked`, so an ordinary backward pays one
attribute read and nothing per op. The flag is thread-local, like the engine's recording state.
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


def _call_site() -> str | None:
    """file:line of the innermost frame outside the engine and registered library code."""
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


state = _AnomalyState()


class detect_anomaly:
    """Context manager (and decorator): while it is active, forward nodes record their source
    line (`ag.record_source`) and every backward sweep checks each VJP's cotangents.

    The first op whose backward produces a NaN or Inf cotangent raises `FloatingPointError`
    naming the op, its nn module path (``node.module``) and the forward line that called it
    (``node.source``). NumPy's own divide/overflow/invalid warnings are silenced inside a checked
    VJP: the check replaces them with an error that says where. Costs a stack walk per recorded
    op and an ``isfinite`` per cotangent, so use it to debug, not to train.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def __enter__(self) -> detect_anomaly:
        self._prev = state.enabled
        state.enabled = self.enabled
        self._source = record_source(True)
        if self.enabled:
            self._source.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self._source.__exit__(*exc)
        state.enabled = self._prev

    def __call__(self, fun):
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.enabled):
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
        with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
            cots = node_vjp(node, g, create_graph)
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

"""What a workload is: fixed float32 data and weights, and one step function per peer.

A workload makes its data once (`Workload.make`, seeded), and each peer's builder turns that data
into a `Built`: a zero-argument `step` that runs one training step (forward + backward producing
the gradient of every parameter, no optimizer update) and `to_numpy`, which turns what `step`
returned into float arrays in the workload's parameter order (`Data.names`). The harness calls
`step` for timing and `to_numpy(step())` for the gradient-agreement check, so conversion costs
(e.g. torch → NumPy) are never timed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Data:
    """Inputs, targets and parameters of one workload (float32; labels int64)."""

    names: list[str]  # parameter names, the order of every peer's gradient list
    params: list[np.ndarray]
    x: np.ndarray
    y: np.ndarray | None = None
    spec: dict[str, Any] = field(default_factory=dict)  # sizes etc., written to the results
    consts: dict[str, np.ndarray] = field(default_factory=dict)  # fixed non-parameter arrays


@dataclass
class Built:
    """A peer ready to run: `step()` does one step; `to_numpy(step())` gives the gradients."""

    step: Callable[[], Any]
    to_numpy: Callable[[Any], list[np.ndarray]] = lambda grads: [np.asarray(g) for g in grads]
    note: str = ""
    params: list | None = None  # the peer's own parameter objects (for an optimizer), if any
    info: Callable[[], dict[str, Any]] | None = None  # more fields for the results, read last


@dataclass
class Workload:
    key: str  # "W1"
    title: str
    make: Callable[[bool], Data]  # tiny -> Data (tiny sizes for the smoke test)
    builders: dict[str, Callable[[Data], Built]]  # peer name -> builder
    ops_per_step: int = 1  # W5 reports time per op: step time / ops_per_step
    unit: str = "ms/step"


def rng_for(key: str) -> np.random.Generator:
    """The fixed generator of a workload (same data and weights on every run)."""
    return np.random.default_rng(sum(ord(c) * 31 ** i for i, c in enumerate(key)))


def engine(ag=None, nn=None) -> tuple:
    """The engine and nn modules an engine peer builds with: the ones given (a baseline's, see
    baseline.py), else the working tree's ``autograd_core`` and ``nn``."""
    if (ag is None) != (nn is None):  # one version's nn on another's engine would measure neither
        raise TypeError("engine(): give both ag and nn, or neither")
    if ag is None:
        import autograd_core as ag
    if nn is None:
        import nn
    return ag, nn


def interleave(Ws: list, bs: list) -> list:
    """[W0, b0, W1, b1, ...]: the gradient order of the MLP workloads."""
    return [a for pair in zip(Ws, bs, strict=True) for a in pair]


def softmax_ce_in_place(u: np.ndarray, uflat: np.ndarray, col: np.ndarray, idx: np.ndarray,
                        fn, inv_n) -> float:
    """The hand-written floors' mean softmax cross-entropy: returns the loss and leaves its
    gradient (softmax − onehot) / n in `u` (n, k). `uflat` is u raveled, `col` an (n, 1) buffer,
    `idx` each row's label position in `uflat`, `fn` = n and `inv_n` = 1/n in u's dtype."""
    np.maximum.reduce(u, axis=1, keepdims=True, out=col)
    np.subtract(u, col, out=u)  # u − max: e^u cannot overflow
    picked = uflat[idx]
    np.exp(u, out=u)
    np.add.reduce(u, axis=1, keepdims=True, out=col)
    loss = (np.add.reduce(np.log(col), axis=None) - np.add.reduce(picked)) * inv_n
    np.multiply(col, fn, out=col)
    np.divide(u, col, out=u)  # softmax / n
    uflat[idx] -= inv_n  # − onehot / n
    return loss

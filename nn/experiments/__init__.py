"""The lecture's claims, demonstrated: each experiment prints a table and saves a plot.

    python -m nn.experiments NAME [--out DIR] [--quick] [--seed S]
    python -m nn.experiments all --quick

=====================  ======================================================================
``vanishing``          ‖δ_j‖ per layer of deep sigmoid nets against 0.25^(n−j+1)·C, and
                       ReLU / LeakyReLU / ELU / SELU nets beside them
``exploding``          large init makes ‖δ_j‖ grow toward the input; with ‖W_j‖₂ ≤ 1,
                       ‖b_j‖ ≤ d and ReLU: ‖z_(j+1)‖ ≤ ‖z_j‖ + d and ‖δ_j‖ ≤ ‖δ_(j+1)‖
``depth``              training loss after a fixed budget, plain vs residual MLPs, depth 2–32
``regularization``     train/test gap on digits: none, Tikhonov, dropout, stochastic depth,
                       early stopping, augmentation
``overparameterization``  p²n weights and pn biases against N samples
``features``           fixed random features (convex) vs learned features
=====================  ======================================================================

Each module has ``run(quick=False, seed=0, ...) -> Result`` (``.table()``, ``.data``, ``.notes``)
and ``plot(result, path)``. The computations need only NumPy (and scikit-learn for the digits,
which ship with it); plots need matplotlib (the ``demo`` extra).
"""

from __future__ import annotations

import importlib

from ._common import Result

NAMES = ("vanishing", "exploding", "depth", "regularization", "overparameterization", "features")


def get(name: str):
    """The experiment module called `name` (ValueError listing the names otherwise)."""
    if name not in NAMES:
        raise ValueError(f"unknown experiment {name!r}; valid: {', '.join(NAMES)}")
    return importlib.import_module(f".{name}", __name__)


def run(name: str, quick: bool = False, seed: int = 0, **options) -> Result:
    """Run experiment `name` and return its `Result` (no plot)."""
    return get(name).run(quick=quick, seed=seed, **options)


def plot(name: str, result: Result, path) -> str:
    """Save the plot of `result` (from experiment `name`) as a PNG at `path`; returns the path."""
    return get(name).plot(result, path)


__all__ = ["NAMES", "Result", "get", "run", "plot"]

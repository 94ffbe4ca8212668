"""The peers compared, and how each library is loaded on one thread (Note [threads]).

Peers: ``ours`` (the engine through ``nn`` layers), ``ours-ag`` (the same math written directly
with ``ag`` ops), ``ours-jit`` (``ag.jit`` of the ``ours`` step, replayed; Note [ours-jit] in
ours_jit.py), ``ours-jit-plain`` (the same without numba's fused kernels), ``numpy`` (the floor:
the fastest correct hand-written NumPy step, Note [floor] in mlp.py), ``reference`` (the
correctness oracle: ``nn.reference.backprop`` for the MLPs, plainly written NumPy for W4 and W5),
``torch`` (PyTorch eager, CPU), ``jax`` (``jax.jit`` of ``value_and_grad``), ``autograd`` (HIPS
autograd). A library that is not installed makes its peer
a skip with a note.
"""

from __future__ import annotations

import importlib
import os
import sys

PEERS = ("ours", "ours-ag", "ours-jit", "ours-jit-plain", "numpy", "reference", "torch", "jax",
         "autograd")
FLOOR = "numpy"  # every ratio's denominator
ORACLE = "reference"  # every peer's gradients, the floor's too, are checked against the oracle's

JAX_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


class Unavailable(Exception):
    """A peer cannot run here (library missing); the message says how to get it."""


def load_torch():
    """PyTorch on one intra-op and one inter-op thread."""
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        raise Unavailable("torch is not installed: pip install torch==2.13.0 (this project's machines "
                          "find a CPU build locally; elsewhere add --index-url "
                          "https://download.pytorch.org/whl/cpu, not a plain `pip install torch`, "
                          "which fetches the multi-GB CUDA build)") from None
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # only settable before the first parallel work; reported as found
        pass
    return torch


def load_jax():
    """JAX on the CPU with XLA's intra-op parallelism off (flags must precede the import)."""
    if "jax" not in sys.modules:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} {JAX_XLA_FLAGS}".strip()
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
    try:
        jax = importlib.import_module("jax")
    except ImportError:
        raise Unavailable("jax is not installed (pip install jax jaxlib)") from None
    return jax


def load_hips():
    """HIPS autograd (the package named ``autograd``)."""
    try:
        return importlib.import_module("autograd")
    except ImportError:
        raise Unavailable("HIPS autograd is not installed (pip install autograd)") from None


def versions() -> dict[str, str | None]:
    """Installed versions of every library a peer uses (None where missing); imports nothing."""
    from importlib import metadata

    out: dict[str, str | None] = {}
    for dist in ("numpy", "torch", "jax", "jaxlib", "autograd", "threadpoolctl", "scipy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out

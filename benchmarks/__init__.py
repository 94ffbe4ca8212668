"""Benchmarks: the engine against the tuned hand-written NumPy floor, PyTorch, JAX and HIPS autograd.

``python -m benchmarks`` (full), ``--quick`` (under a minute), ``--only W1,W5``, ``--profile``;
see ``benchmarks/README.md`` for the workloads and how to read the table.

Note [threads]: every peer runs on one thread, so the comparison measures the libraries and not
the number of cores. The BLAS/OpenMP thread counts are read from the environment when NumPy (and
torch) load their libraries, so they are set here, before anything imports NumPy, when this
package is the entry point (``python -m benchmarks``). When NumPy was imported earlier (pytest,
a notebook), the harness also limits the pools at run time with threadpoolctl, and reports the
counts it actually sees. OPENBLAS_CORETYPE is left as the environment has it, and reported.
"""

import os
import sys

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")

if "numpy" not in sys.modules:  # Note [threads]: only effective before NumPy loads its BLAS
    for _var in THREAD_VARS:
        os.environ[_var] = "1"

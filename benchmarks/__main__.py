"""``python -m benchmarks [--quick] [--only W1,W5] [--profile [W1,W2,W5]]``: see run.py.

Running the package imports ``benchmarks/__init__.py`` first, which pins the BLAS/OpenMP thread
counts before NumPy loads (Note [threads]).
"""

from .run import main

raise SystemExit(main())

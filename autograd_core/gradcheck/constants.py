"""The check's tolerances and sizes (the package docstring says how each is used)."""

DEFAULT_ATOL = 1e-8
DEFAULT_RTOL = 1e-6
FAST_THRESHOLD = 1024  # inputs with more elements are first checked along random directions
JACOBIAN_LIMIT = 256  # outputs with more elements are projected on a random cotangent
RECHECK = 16  # entries of a large input re-checked one by one after its directional check fails
DIRECTIONS = 3  # random unit directions a large input is checked along
LEVELS = 6  # Richardson estimates, each from steps a quarter of the one before
NOISE = 1e-11  # relative rounding noise above this is not float64 arithmetic (float32's: ~1e-7)
JITTER = 1e-10  # two evaluations at one point differing by more (relative) are not deterministic

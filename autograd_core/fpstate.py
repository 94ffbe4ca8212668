"""Switching NumPy's overflow warning off around one computation, cheaply.

Note [quiet overflow]: sigmoid computes 1/(1 + e^{-x}), where e^{-x} overflows to inf for x ≪ 0
and the quotient is then the correct limit 0; the overflow is expected, so it must not warn.
``with np.errstate(over="ignore")`` costs ~0.9 µs (it builds a new error-state object each time),
which is ~15% of a sigmoid layer of 32×64 and is paid in the forward and the VJP. NumPy ≥ 2 keeps
the error state in a context variable; we build the "over=ignore" variant of the current state
once (and again only when the user's state changes) and set and reset the variable directly:
~0.25 µs, with exactly `np.errstate`'s semantics (every other setting is the user's, and it is
thread- and context-safe). Where NumPy's internals differ, we fall back to `np.errstate`.
"""

from __future__ import annotations

import numpy as np

try:  # NumPy >= 2.0 (private: guarded, with a fallback)
    from numpy._core._ufunc_config import _extobj_contextvar
    from numpy._core.umath import _make_extobj

    _make_extobj(over="ignore")  # the call we rely on works
except Exception:  # pragma: no cover - other NumPy builds
    _extobj_contextvar = None

# (the user's error state we derived from, it with over="ignore"), swapped as one tuple so a
# thread never pairs one state with another's derivation
_last: list[tuple] = [(None, None)]

if _extobj_contextvar is not None:
    _get, _set = _extobj_contextvar.get, _extobj_contextvar.set

    def quiet_overflow():
        """Enter "over=ignore": returns a token for `restore` (call it in a ``finally``)."""
        cur = _get()
        pair = _last[0]
        if pair[0] is not cur:  # the user's state changed (or first use): derive ours again
            pair = _last[0] = (cur, _make_extobj(over="ignore"))  # from `cur`: only `over` differs
        return _set(pair[1])

    restore = _extobj_contextvar.reset  # (a C method: no Python frame) Leave the state entered.

else:  # pragma: no cover

    def quiet_overflow():
        cm = np.errstate(over="ignore")
        cm.__enter__()
        return cm

    def restore(token) -> None:
        token.__exit__(None, None, None)

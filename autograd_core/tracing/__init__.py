"""`ag.jit`: trace a function once, replay it as straight-line NumPy.

Note [tracing]: the engine, `nn` and the optimizers compute with NumPy calls on arrays, so that is
the level we trace at. A traced call runs `f` eagerly on `Traced` arrays (an ndarray subclass,
traced.py) that log every ufunc, NumPy function, ndarray method, index and in-place write made
on them: the forward, the rules of the backward sweep and the optimizer's update alike. Nothing
the engine computes from raw arrays (a ReLU's mask, a max's ties) can be frozen by mistake,
because it is computed by logged NumPy calls too. What NumPy cannot show us is guarded instead:
- a Python value taken from an array (`float`, `.item()`, `int`) is refused, naming it;
- `bool()` of an array is logged as a check the replay repeats: a branch taken the other way
  makes that program invalid for the call, and another program (or a new trace) runs;
- outside Tensors' arrays are inputs and their rebindings effects (Note [state lives in
  Tensors], state.py); Python attributes a layer branches on are guards (`depends_on`);
- randomness drawn with `draw_random` is drawn afresh at each replay.
Every signature is traced twice before it is compiled, and the two traces must be the same
program (program.py, `differences`): a value computed where the tracer could not see it (from
`np.array(traced)`, say) shows up as a constant that differs between the two, and is refused
with the instruction where it happened.
"""

from collections.abc import Callable
from typing import Any

from .jit import Jitted, eagerly, jit
from .traced import Traced, TraceError, active


def depends_on(obj: object, *names: str) -> None:
    """Declare that the computation depends on these Python attributes of `obj` (a layer's
    `training`, its `p`): under `jit`, a program is replayed only while they have the values
    they had when traced, else the function is traced again. Does nothing outside a trace."""
    rec = active()
    if rec is not None:
        for name in names:
            rec.guard(obj, name)


def read(fn: Callable[[], Any]) -> Any:
    """``fn()``, computed afresh at every replay of a jitted function (outside a trace: just
    ``fn()``). For values a step takes from Python state that changes between calls: an
    optimizer's learning rate under a schedule, its step count. `fn` must return arrays or NumPy
    scalars of the dtype the caller computes in (a Python float would be frozen into a 0-d
    float64 array, which NumPy does not treat as a weak scalar)."""
    rec = active()
    return fn() if rec is None else rec.host(fn)


__all__ = ["jit", "Jitted", "depends_on", "read", "eagerly", "TraceError", "Traced", "active"]

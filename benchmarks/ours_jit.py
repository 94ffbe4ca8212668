"""The ``ours-jit`` peer: ``ag.jit`` of the ``ours`` step (Note [ours-jit]).

Note [ours-jit]: the step is the one the ``ours`` peer runs (nn layers, forward + backward, the
gradients returned), jitted. ``ag.jit`` traces the calls of a signature (eager steps while
recording) until two traces made at different input values are the same program, then generates
the program; later calls replay it. A workload's data never change, so the builder runs the first
traced call at other parameter values (`_other`) and the second at the workload's: a value frozen
into a trace (computed where the tracer could not see it) then differs between the two and
``ag.jit`` refuses it, where at equal values it would pass, and the oracle's check with it. The
builder measures, wall time, ``trace_s``: the traced calls, less ``compile_s``: the part of them
spent comparing the traces and generating the program (``Jitted._add``), so ``trace_s +
compile_s`` is the time until the first replay; and ``first_replay_s``, the call after. It then
checks the replay against the eager step at the other parameter values (`_check_replay`). The
rounds time replays only; ``info()`` reports how many traces ran after compiling, so a step that
traced again while timed (a guard or check failing) shows. A step that never compiles, or whose
replay is wrong, is a build error saying why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .workload import Built, Data

MAX_CALLS = 4  # traces at alternating values agree by the second call; 4 and none did: they never will


def of(build_ours: Callable[..., Built], fuse: bool | None = None) -> Callable[[Data], Built]:
    """The ``ours-jit`` builder of a workload, from its ``ours`` builder (which must set
    ``Built.params``: the traces and the check run at other parameter values); with
    ``fuse=False``, the ``ours-jit-plain`` one (no numba kernels: the replay as plain NumPy)."""

    def build(d: Data) -> Built:
        from autograd_core.tracing import Jitted, TraceError

        ours = build_ours(d)
        if not ours.params:
            raise TypeError(f"{build_ours.__name__} gives no Built.params: ours-jit needs them")
        params = ours.params
        original = [p.data for p in params]
        other = [_other(a) for a in original]
        timed = _timed_jitted(Jitted)(ours.step, fuse=fuse)
        calls = []
        while not timed.programs():
            if len(calls) == MAX_CALLS:
                raise TraceError(f"ag.jit did not compile the step after {MAX_CALLS} calls: "
                                 f"{_why(timed)}")
            _set(params, other if len(calls) % 2 == 0 else original)  # values differ by call
            t0 = time.perf_counter()
            timed()
            calls.append(time.perf_counter() - t0)
        _set(params, original)
        t0 = time.perf_counter()
        timed()
        first_replay_s = time.perf_counter() - t0
        compiled_after = timed.traces
        compile_s = timed.compile_s
        _check_replay(timed, ours, params, other)
        _set(params, original)
        stats = {"traces": compiled_after, "trace_s": sum(calls) - compile_s,
                 "compile_s": compile_s, "first_replay_s": first_replay_s, "calls_s": calls}

        def info() -> dict[str, Any]:
            return {"jit": {**stats, "retraced": timed.traces - compiled_after}}

        return Built(timed, ours.to_numpy, params=params, info=info)

    build.__doc__ = (f"``ag.jit`` of {build_ours.__module__}.{build_ours.__name__}'s step"
                     + (", not fused." if fuse is False else "."))
    return build


def _other(a: np.ndarray) -> np.ndarray:
    """Other parameter values of the same shape and dtype: 10% noise (a scale alone would keep
    every ReLU's mask, and a frozen mask would go unseen), small enough not to overflow W3."""
    rng = np.random.default_rng(a.size)
    noise = rng.standard_normal(a.shape) * (0.1 * (float(a.std()) or 1.0))
    return (a + noise).astype(a.dtype)


def _set(params: list, values: list[np.ndarray]) -> None:
    for p, v in zip(params, values, strict=True):
        p.data = v


def _check_replay(jf, ours: Built, params: list, values: list[np.ndarray]) -> None:
    """The replay at `values` against the eager step at `values`. The workload's data never
    change, so a value frozen into the program (Note [tracing]) would pass the gradient check
    against the oracle; at other parameter values it does not."""
    _set(params, values)
    traces = jf.traces
    got = [np.array(g) for g in ours.to_numpy(jf())]
    if jf.traces != traces:
        raise RuntimeError("ag.jit traced the step again at other parameter values of the same "
                           "shapes and dtypes instead of replaying its program")
    want = [np.array(g) for g in ours.to_numpy(ours.step())]
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        scale = float(np.max(np.abs(w))) if w.size else 0.0
        if g.shape != w.shape or not np.allclose(g, w, rtol=1e-5, atol=1e-6 * scale):
            diff = float(np.max(np.abs(g - w))) if g.shape == w.shape else None
            raise RuntimeError(
                f"ag.jit's replay gave gradient {i} (of {len(want)}) unlike the eager step's at "
                f"other parameter values (max abs diff {diff}, max |eager| {scale:.3g}): the "
                "program computes it from values frozen when it was traced")


def _timed_jitted(jitted: type) -> type:
    """A `Jitted` that adds the time spent comparing traces and generating programs (its `_add`,
    called once after each traced call) to ``compile_s``."""

    class Timed(jitted):
        compile_s = 0.0

        def _add(self, *args, **kwargs):
            t0 = time.perf_counter()
            try:
                return super()._add(*args, **kwargs)
            finally:
                self.compile_s += time.perf_counter() - t0

    if not callable(getattr(jitted, "_add", None)):  # renamed in the engine: say so, time nothing
        raise RuntimeError("autograd_core.tracing.Jitted has no _add any more: update "
                           "benchmarks/ours_jit.py's compile timing")
    return Timed


def _why(jf) -> str:
    """Where the first two traces of the step's signature differ (Note [tracing])."""
    from autograd_core.tracing.program import differences

    for sig in jf.cache.values():
        c = sig.candidates
        if len(c) >= 2:
            why = differences(c[0][0], c[1][0], c[0][1], c[1][1])[0]
            if why is not None:
                return f"its first two traces differ at {why}"
            return "its first two traces are the same program but their result kinds differ"
    return f"{sum(len(s.candidates) for s in jf.cache.values())} traces, none compared"

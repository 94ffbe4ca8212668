"""Where the engine's time goes: cProfile of the `ours` step beside the NumPy floor.

``python -m benchmarks --profile W1,W2,W5`` prints, per workload, and writes
``results/profile_<W>.txt``:
- the unprofiled median step time of ours and of the floor, the number of recorded nodes per
  step (by op), and the overhead per node, ``(ours − floor) / nodes``;
- time by area (engine file, nn file, NumPy's C functions, NumPy's Python wrappers, the rest);
- the top functions by own time (tottime), per step, with calls per step;
- the floor's top functions, for comparison.
cProfile adds a fixed cost to every Python call, so it inflates many-small-call code (ours)
more than the floor: read the shares and the call counts, and the unprofiled times for totals.
"""

from __future__ import annotations

import cProfile
import gc
import os
import pstats
import time
from collections import Counter

import numpy as np

from .workload import Built, Workload


def _paired_medians(a, b, seconds: float) -> tuple[float, float]:
    """Median step times of `a` and `b`, measured alternately (machine drift hits both)."""
    ta, tb = [], []
    start = time.perf_counter()
    while len(ta) < 5 or time.perf_counter() - start < seconds:
        for step, times in ((a, ta), (b, tb)):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
    return float(np.median(ta)), float(np.median(tb))


def _area(filename: str, funcname: str) -> str:
    norm = filename.replace(os.sep, "/")
    if "/autograd_core/" in norm:
        return f"engine {os.path.basename(norm)}"
    if "/nn/" in norm and "site-packages" not in norm:
        return f"nn {os.path.basename(norm)}"
    if "/benchmarks/" in norm:
        return "benchmark step code"
    if "/numpy/" in norm:
        return "numpy Python wrappers"
    if filename == "~" and ("numpy" in funcname or "ndarray" in funcname):
        return "numpy C functions"
    return "other (Python builtins, stdlib)"


def _short(key: tuple) -> str:
    filename, line, func = key
    if filename == "~":
        return func
    norm = filename.replace(os.sep, "/")
    for root in ("/autograd_core/", "/nn/", "/benchmarks/", "/numpy/"):
        if root in norm:
            norm = root.strip("/") + "/" + norm.split(root, 1)[1]
            break
    else:
        norm = os.path.basename(norm)
    return f"{func} ({norm}:{line})"


def _profile(step, n: int) -> pstats.Stats:
    pr = cProfile.Profile()
    gc.collect()
    pr.enable()
    for _ in range(n):
        step()
    pr.disable()
    return pstats.Stats(pr)


def _tables(stats: pstats.Stats, n: int, top: int) -> tuple[list[str], list[str], float]:
    raw = stats.stats  # (file, line, func) -> (primitive calls, calls, tottime, cumtime, callers)
    total = sum(v[2] for v in raw.values())
    areas: Counter = Counter()
    for (filename, _, func), v in raw.items():
        areas[_area(filename, func)] += v[2]
    area_lines = [f"  {t / n * 1e6:9.1f} µs/step  {t / total:6.1%}  {a}"
                  for a, t in areas.most_common()]
    rows = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    fn_lines = [f"  {v[2] / n * 1e6:9.1f} {v[2] / total:6.1%} {v[1] / n:8.1f} "
                f"{v[3] / n * 1e6:10.1f}  {_short(k)}" for k, v in rows]
    return area_lines, fn_lines, total


def op_anatomy(n: int = 16, chain: int = 200) -> list[str]:
    """Per-op costs on an n-vector through the public API only (unprofiled medians, µs): the
    NumPy ufunc itself, the engine's dispatch without recording, the recorded call, and the
    backward sweep per node of a `chain`-op chain."""
    import autograd_core as ag

    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(np.float32)
    a = rng.uniform(0.5, 1.5, n).astype(np.float32)
    plain = ag.tensor(x)
    leaf = ag.tensor(x, requires_grad=True)

    def per_call(fn, reps: int = 2000) -> float:
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            times.append((time.perf_counter() - t0) / reps)
        return float(np.median(times)) * 1e6

    def build():
        h = leaf
        for _ in range(chain):
            h = ag.multiply(h, a)
        return ag.sum(h)

    def sweep_only() -> float:
        times = []
        for _ in range(15):
            leaf.grad = None
            out = build()
            t0 = time.perf_counter()
            out.backward()
            times.append(time.perf_counter() - t0)
        return float(np.median(times)) / (chain + 1) * 1e6

    rows = [
        ("np.multiply(x, a) (the floor's cost of one op)", per_call(lambda: np.multiply(x, a))),
        ("ag.multiply(x, a) on plain arrays (a VJP's call)", per_call(lambda: ag.multiply(x, a))),
        ("ag.multiply(t, a), t not requiring grad", per_call(lambda: ag.multiply(plain, a))),
        ("ag.multiply(t, a), recorded (node made and dropped)",
         per_call(lambda: ag.multiply(leaf, a))),
        (f"backward sweep per node ({chain}-multiply chain)", sweep_only()),
        (f"forward + backward per op ({chain}-multiply chain)",
         per_call(lambda: build().backward(), reps=20) / (chain + 1)),
    ]
    return [f"  {v:7.2f} µs  {name}" for name, v in rows]


def profile_workload(w: Workload, *, tiny: bool = False, seconds: float = 2.0,
                     top: int = 25) -> str:
    import autograd_core as ag

    d = w.make(tiny)
    ours: Built = w.builders["ours"](d)
    floor: Built = w.builders["numpy"](d)
    for _ in range(3):
        ours.step()
        floor.step()
    with ag.Tape() as tape:
        ours.step()
    ops = Counter(node.op for node in tape)
    n_nodes = len(tape)
    del tape
    t_ours, t_floor = _paired_medians(ours.step, floor.step, seconds / 2)
    n = max(3, int(seconds / t_ours))
    n_floor = max(3, int(seconds / 2 / t_floor))
    stats = _profile(ours.step, n)
    area_lines, fn_lines, total = _tables(stats, n, top)
    f_area, f_lines, f_total = _tables(_profile(floor.step, n_floor), n_floor, 10)
    per = w.ops_per_step
    lines = [
        f"=== {w.key}: {w.title}{' (tiny)' if tiny else ''} ===",
        f"unprofiled median step (alternating): ours {t_ours * 1e3:.3f} ms, NumPy floor "
        f"{t_floor * 1e3:.3f} ms "
        f"({t_ours / t_floor:.2f}×)" + (f"; per op {t_ours / per * 1e6:.2f} µs vs "
                                         f"{t_floor / per * 1e6:.2f} µs" if per > 1 else ""),
        f"recorded nodes per step: {n_nodes} ("
        + ", ".join(f"{op} {c}" for op, c in ops.most_common()) + ")",
        f"overhead per recorded node (ours − floor) / nodes: "
        f"{(t_ours - t_floor) / max(n_nodes, 1) * 1e6:.2f} µs",
        f"profiled: {n} steps, {total / n * 1e3:.3f} ms/step under cProfile "
        f"(cProfile inflates many-small-call code)",
        "",
        "time by area (own time, per step):",
        *area_lines,
        "",
        f"top {top} functions by own time:  µs/step  share  calls/step  cum µs/step  function",
        *fn_lines,
        "",
        *(["per-op anatomy on a 16-vector (public API, unprofiled, µs per call):",
           *op_anatomy(), ""] if per > 1 else []),
        f"NumPy floor under cProfile: {f_total / n_floor * 1e3:.3f} ms/step; by area:",
        *f_area,
        "floor's top 10 functions:  µs/step  share  calls/step  cum µs/step  function",
        *f_lines,
        "",
    ]
    return "\n".join(lines)


def spin(key: str, seconds: float, peer: str = "ours") -> int:
    """Run one peer's step of workload `key` in a loop for `seconds` (a target for py-spy)."""
    from .run import WORKLOADS, pin_threads

    limiter = pin_threads()  # noqa: F841  (kept for the loop)
    w = {w.key: w for w in WORKLOADS}[key.upper()]
    built = w.builders[peer](w.make(False))
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        built.step()
        steps += 1
    return steps


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.profiling",
        description="Loop one peer's step (for a sampling profiler), e.g. py-spy record --native "
                    "-f raw -o w5.raw -- python -m benchmarks.profiling W5 --seconds 8")
    ap.add_argument("workload")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--peer", default="ours")
    a = ap.parse_args()
    n = spin(a.workload, a.seconds, a.peer)
    print(f"{a.workload}/{a.peer}: {n} steps in {a.seconds:g} s "
          f"({a.seconds / n * 1e3:.3f} ms/step)")

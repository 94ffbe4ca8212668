"""Peak memory of a W1 training run: the engine (through nn) against the reference backprop.

Each peer runs in its own fresh interpreter (``python -m benchmarks.memory --peer ours``), so
neither sees the other's allocations nor PyTorch's or JAX's libraries. The run: build W1 (the same
weights and batch as the timing), then `steps` training steps, each one forward + backward + a
plain SGD update (lr 0.01; ``nn.optim.SGD`` for ours, ``W -= lr·dW`` for the reference).

The NumPy side is ``nn.reference.backprop`` (the ``reference`` peer), not the timing floor: the
floor allocates every buffer once when it is built, so a training step allocates almost nothing
and tracemalloc's per-step peaks would compare the engine with zero.

Reported per peer:
- ``maxrss``: the process's peak resident set (VmHWM on Linux, else ``ru_maxrss``), interpreter
  and libraries included. The reference's process imports only NumPy (it loads
  ``nn/reference.py`` by path, so not even the engine is imported); ours imports the engine and nn.
- ``maxrss_setup``: the same peak just before the first step (imports, data, weights), so
  ``maxrss − maxrss_setup`` is what the training steps added.
- ``traced_peak``: tracemalloc's peak during a few further training steps, relative to what was
  allocated when they started: the step's own allocations (NumPy reports its buffers to
  tracemalloc), without the interpreter, the libraries or the allocator's slack. Measured after
  ``maxrss``, so tracemalloc's own bookkeeping does not inflate ``maxrss``.
- ``traced_peak_grads``: the same for forward + backward alone (no optimizer update): the
  engine's own share (``nn.optim`` rebinds each parameter to a new array, Note [rebind, never
  write in place] in nn/optim.py, so its update holds old and new weights at once).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

LR = 0.01
ROOT = Path(__file__).resolve().parent.parent


def _maxrss_bytes() -> int:
    """Peak resident set of this process. On Linux, VmHWM of /proc/self/status: getrusage's
    ru_maxrss survives exec, so a child started by a big parent (one that loaded torch and jax)
    would report the parent's peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024  # Linux reports KiB


def _reference_step(tiny: bool):
    """W1 by `nn/reference.py` loaded by path (no engine import), plus SGD."""
    import numpy as np

    from . import mlp

    spec = importlib.util.spec_from_file_location("_reference", ROOT / "nn" / "reference.py")
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    d = mlp.make("W1", tiny)
    Ws, bs = [p.copy() for p in d.params[0::2]], [p.copy() for p in d.params[1::2]]

    def grads():
        return ref.backprop(Ws, bs, d.x, d.y, activation="relu", loss="cross_entropy")[1:]

    def step():
        dWs, dbs = grads()
        for p, g in zip(Ws + bs, dWs + dbs, strict=True):
            p -= np.float32(LR) * g

    return step, grads


def _ours_step(tiny: bool):
    """W1 through nn (`mlp.build_ours`, the timed step) plus `nn.optim.SGD`."""
    import nn

    from . import mlp

    built = mlp.build_ours(mlp.make("W1", tiny))
    opt = nn.optim.SGD(built.params, lr=LR)

    def step():
        built.step()  # zero grads, forward, backward
        opt.step()

    return step, built.step


def child(peer: str, steps: int, tiny: bool) -> dict[str, Any]:
    import gc
    import tracemalloc

    step, grads_only = _ours_step(tiny) if peer == "ours" else _reference_step(tiny)
    gc.collect()
    setup = _maxrss_bytes()
    for _ in range(steps):
        step()
    peak = _maxrss_bytes()

    def traced(fn) -> int:
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(max(3, steps // 4)):
            fn()
        out = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        return out

    return {"peer": peer, "steps": steps, "maxrss": peak, "maxrss_setup": setup,
            "traced_peak": traced(step), "traced_peak_grads": traced(grads_only),
            "modules_loaded": sorted(m for m in ("autograd_core", "nn", "torch", "jax")
                                     if m in sys.modules)}


def run_child(peer: str, steps: int, tiny: bool) -> dict[str, Any]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    cmd = [sys.executable, "-m", "benchmarks.memory", "--peer", peer, "--steps", str(steps)]
    if tiny:
        cmd.append("--tiny")
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        return {"peer": peer, "error": p.stderr.strip().splitlines()[-1] if p.stderr else
                f"exit {p.returncode}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def compare(steps: int, tiny: bool = False) -> dict[str, Any]:
    ours, ref = run_child("ours", steps, tiny), run_child("reference", steps, tiny)
    out: dict[str, Any] = {"workload": "W1", "steps": steps, "ours": ours, "reference": ref}
    if "error" not in ours and "error" not in ref:
        out["ratio_maxrss"] = ours["maxrss"] / ref["maxrss"]
        grown_o = ours["maxrss"] - ours["maxrss_setup"]
        grown_r = ref["maxrss"] - ref["maxrss_setup"]
        out["ratio_grown"] = grown_o / grown_r if grown_r > 0 else None
        out["ratio_traced"] = ours["traced_peak"] / max(ref["traced_peak"], 1)
        out["ratio_traced_grads"] = (ours["traced_peak_grads"]
                                     / max(ref["traced_peak_grads"], 1))
    return out


def format_table(m: dict[str, Any]) -> str:
    def mib(b):
        return f"{b / 2**20:.1f} MiB"

    lines = ["| peer | peak RSS | RSS before the steps | grown by the steps | "
             "training-step allocations (tracemalloc peak) | forward+backward only | imports |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for p in ("ours", "reference"):
        e = m[p]
        if "error" in e:
            lines.append(f"| {p} | error: {e['error']} | | | | | |")
            continue
        lines.append(f"| {p} | {mib(e['maxrss'])} | {mib(e['maxrss_setup'])} | "
                     f"{mib(e['maxrss'] - e['maxrss_setup'])} | {mib(e['traced_peak'])} | "
                     f"{mib(e['traced_peak_grads'])} | "
                     f"{', '.join(e['modules_loaded']) or 'numpy only'} |")
    if "ratio_maxrss" in m:
        grown = m["ratio_grown"]
        lines.append(f"| ours / reference | {m['ratio_maxrss']:.2f}× | | "
                     f"{'' if grown is None else f'{grown:.2f}×'} | {m['ratio_traced']:.2f}× | "
                     f"{m['ratio_traced_grads']:.2f}× | |")
    lines.append(f"\n{m['steps']} training steps (forward, backward, SGD) per process.")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    ap.add_argument("--peer", choices=("ours", "reference"), required=True)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--tiny", action="store_true")
    a = ap.parse_args()
    print(json.dumps(child(a.peer, a.steps, a.tiny)))

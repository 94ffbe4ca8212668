"""What a failing gradient check costs beside a passing one.

``python -m benchmarks.gradcheck_cost [--width 64] [--batches 128,512] [--repeats 1]``

The model of `examples/find_a_wrong_gradient.py`: Dense(8, W) → ReLU → Dense(W, W) → Softsign →
Dense(W, 3), cross-entropy; at W = 64 it has 4,931 parameters. For each batch size it times
``nn.check_gradients`` (engine vs finite differences vs reference; the finite differences are
``ag.gradcheck`` on every parameter) with the Softsign layer's right VJP (the check passes) and
with its planted 1% error (the check fails, localizes the bad node and re-checks what the report
shows). The ratio failing / passing is the figure of interest: a failing check must not cost
more than a few passing ones (issue 16). One thread (Note [threads] in __init__.py); the best of
`repeats` runs. Writes ``results/gradcheck_cost.json`` and ``results/gradcheck_cost.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import time
from pathlib import Path

import numpy as np

import nn

from .run import RESULTS_DIR, pin_threads

ROOT = Path(__file__).resolve().parent.parent
VJPS = ("right", "planted 1% error")


def _example():
    """examples/find_a_wrong_gradient.py as a module (examples/ is not a package)."""
    path = ROOT / "examples" / "find_a_wrong_gradient.py"
    spec = importlib.util.spec_from_file_location("find_a_wrong_gradient", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(width: int, batch: int, correct: bool, repeats: int) -> dict:
    ex = _example()
    model = ex.build(width, correct)
    x, labels = ex.batch_of(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        report = nn.check_gradients(model, x, labels, loss="cross_entropy")
        times.append(time.perf_counter() - start)
    bad = report.first_bad_node
    return {"width": width, "batch": batch, "vjp": VJPS[0] if correct else VJPS[1],
            "parameters": int(sum(p.size for p in model.parameters())), "passed": bool(report.passed),
            "seconds": min(times), "all_seconds": times, "first_bad_node": None if bad is None else bad.op,
            "first_divergent_layer": report.first_divergent_layer}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="failing vs passing gradient check cost")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--batches", default="128,512")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    limiter = pin_threads()  # noqa: F841 (kept alive: the limit lasts while it does)
    rows = []
    for batch in (int(b) for b in args.batches.split(",")):
        for correct in (True, False):
            row = measure(args.width, batch, correct, args.repeats)
            rows.append(row)
            print(f"width {row['width']} ({row['parameters']} parameters), batch {batch}, "
                  f"{row['vjp']}: {'passed' if row['passed'] else 'failed'} in {row['seconds']:.1f} s"
                  + (f" (first bad node: {row['first_bad_node']})" if row["first_bad_node"] else ""),
                  flush=True)
    ratios = {}
    for batch in sorted({r["batch"] for r in rows}):
        ok, bad = (next(r for r in rows if r["batch"] == batch and r["vjp"] == v) for v in VJPS)
        ratios[batch] = bad["seconds"] / ok["seconds"]
        print(f"batch {batch}: failing / passing = {ratios[batch]:.2f}")
    args.out.mkdir(parents=True, exist_ok=True)
    info = {"python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine(),
            "processor": platform.processor() or platform.machine()}
    (args.out / "gradcheck_cost.json").write_text(json.dumps(
        {"rows": rows, "failing_over_passing": ratios, "machine": info}, indent=2) + "\n")
    lines = ["# Gradient check cost: failing vs passing", "",
             f"`python -m benchmarks.gradcheck_cost` (examples/find_a_wrong_gradient.py at width "
             f"{args.width}: {rows[0]['parameters']} parameters; `nn.check_gradients`, best of "
             f"{args.repeats}, one thread; Python {info['python']}, NumPy {info['numpy']})", "",
             "| batch | right VJP (passes) | planted 1% error (fails) | failing / passing |",
             "|---:|---:|---:|---:|"]
    for batch, ratio in ratios.items():
        ok, bad = (next(r for r in rows if r["batch"] == batch and r["vjp"] == v) for v in VJPS)
        lines.append(f"| {batch} | {ok['seconds']:.1f} s | {bad['seconds']:.1f} s | {ratio:.2f}× |")
    (args.out / "gradcheck_cost.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

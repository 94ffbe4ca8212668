"""Data parallelism measured: `nn.distributed.allreduce_gradients` time against parameter count,
and training steps per second of W1 (MLP 784-256-256-10, ReLU, cross-entropy, Adam) at a global
batch of 128, for the P processes it runs on:

    python -m benchmarks.allreduce                   # P = 1 (no MPI: the allreduce is a no-op)
    mpiexec -n 2 python -m benchmarks.allreduce      # P = 2

Rank 0 prints one table. The allreduce rows give the median time of one call on float32
gradients and the bus bandwidth it reached, ``2 (P−1)/P · bytes / time`` (what a ring allreduce
moves per process: the usual way to compare with a link's bandwidth). The step rows split one
step into compute (forward, backward, Adam on this rank's B/P samples) and communication (the
allreduce), as the scaling formula in the README does:

    t_step(P) ≈ t_compute(B/P) + 2 (P−1)/P · 4 N / bandwidth + latency · log2 P.

Each process runs NumPy on one BLAS thread (the package sets the thread variables before NumPy
loads: Note [threads] in benchmarks/__init__.py), so P processes use P cores.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import autograd_core as ag
import nn
from nn import distributed as dist

SIZES = (1_000, 10_000, 100_000, 269_322, 1_000_000, 4_000_000)  # 269,322: W1's parameter count
GLOBAL_BATCH = 128


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        dist.allreduce_sum([0.0])  # line the ranks up, so a call measures the collective
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    # the slowest rank's time is the collective's
    return float(dist.allreduce_sum([np.median(times)])[0]) / dist.world_size()


def allreduce_rows(repeats: int) -> list[tuple[int, float, float]]:
    """(parameters, seconds per call, bus bandwidth in GB/s) for each size in SIZES."""
    p = dist.world_size()
    rows = []
    for n in SIZES:
        param = nn.Parameter(np.zeros(n, np.float32))
        grad = np.random.default_rng(0).standard_normal(n).astype(np.float32)

        def call(param=param, grad=grad) -> None:
            param.grad = grad
            dist.allreduce_gradients([param], weight=1)

        call()  # warm-up
        t = _median_time(call, repeats)
        bus = 2 * (p - 1) / p * 4 * n / t / 1e9 if p > 1 else float("nan")
        rows.append((n, t, bus))
    return rows


def step_rows(steps: int) -> dict[str, float]:
    """Steps per second of W1 at a global batch of 128 on this world, and a step's split."""
    rng = np.random.default_rng(0)
    model = nn.MLP([784, 256, 256, 10], activation="relu", rng=0)
    opt = nn.optim.Adam(model.parameters(), lr=1e-3)
    x = rng.standard_normal((GLOBAL_BATCH, 784)).astype(np.float32)
    y = rng.integers(0, 10, GLOBAL_BATCH)
    mine = dist.shard(np.arange(GLOBAL_BATCH))
    compute, comm = [], []
    for i in range(steps + 2):  # two warm-up steps
        dist.allreduce_sum([0.0])
        t0 = time.perf_counter()
        loss = nn.cross_entropy(model(ag.tensor(x[mine])), y[mine])
        opt.zero_grad()
        loss.backward()
        t1 = time.perf_counter()
        dist.allreduce_gradients(model.parameters(), weight=len(mine))
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        if i >= 2:
            compute.append((t1 - t0) + (t3 - t2))
            comm.append(t2 - t1)
    p = dist.world_size()
    c = float(dist.allreduce_sum([np.median(compute)])[0]) / p
    m = float(dist.allreduce_sum([np.median(comm)])[0]) / p
    return {"compute_s": c, "comm_s": m, "steps_per_s": 1.0 / (c + m),
            "parameters": sum(q.size for q in model.parameters())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.allreduce", description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=20, help="allreduce calls per size (median)")
    ap.add_argument("--steps", type=int, default=20, help="W1 training steps (median)")
    args = ap.parse_args(argv)
    rows = allreduce_rows(args.repeats)
    steps = step_rows(args.steps)
    if dist.rank() != 0:
        return 0
    p = dist.world_size()
    print(f"P = {p} process(es){'' if p > 1 else ' (no MPI: allreduce is a no-op)'}")
    print(f"{'parameters':>12} {'MB (f32)':>9} {'allreduce':>12} {'bus GB/s':>9}")
    for n, t, bus in rows:
        print(f"{n:>12,} {4 * n / 1e6:>9.2f} {t * 1e3:>9.3f} ms {bus:>9.2f}")
    print(f"W1 ({steps['parameters']:,} parameters), global batch {GLOBAL_BATCH} "
          f"({GLOBAL_BATCH / p:g} per rank): compute {steps['compute_s'] * 1e3:.2f} ms + "
          f"allreduce {steps['comm_s'] * 1e3:.2f} ms per step = {steps['steps_per_s']:.1f} steps/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

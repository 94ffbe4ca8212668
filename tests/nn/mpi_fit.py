"""Run by tests/nn/test_distributed.py under ``mpiexec -n P python tests/nn/mpi_fit.py ...``
(and imported by it for the one-process reference): a small fit, distributed or not.

Every rank builds its model from a different seed (rank 0's must win: broadcast_parameters),
trains with ``nn.fit(..., distributed=True)``, checks that all ranks end with identical
parameters, and rank 0 writes them to ``--out`` (an .npz). ``--fault-rank R --fault-step K``:
rank R raises RuntimeError in its K-th optimizer step (a constraint hook), to test the abort.
``--interrupt-rank R --interrupt-step K``: rank R raises KeyboardInterrupt there instead (Ctrl-C
reaching one rank only), to test the clean stop; ``--resume`` continues from ``--checkpoint``;
``--progress`` prints rank 0's epoch lines and ``--slow S`` sleeps S seconds per step (a real
SIGINT sent to mpiexec then lands mid-run). Every rank prints ``rank R: interrupted=B``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, when run as a script

import nn  # noqa: E402
from nn import distributed as dist  # noqa: E402

N_SAMPLES, BATCH = 25, 8  # batches 8, 8, 8, 1: the last one leaves some ranks without samples


def data(kind: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    if kind == "mlp":
        x = rng.standard_normal((N_SAMPLES, 6))
        return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)
    x = rng.standard_normal((N_SAMPLES, 1, 6, 6))
    return x, (x[:, 0, 2:4, 2:4].sum(axis=(1, 2)) > 0).astype(np.int64)


def build(kind: str, seed: int, dtype=np.float64) -> nn.Module:
    if kind == "mlp":
        model = nn.MLP([6, 16, 16, 3], activation="relu", rng=seed)
    else:
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, rng=seed), nn.ReLU(), nn.AvgPool2d(2),
                              nn.Flatten(), nn.Dense(4 * 3 * 3, 2, rng=seed + 1))
    return model.astype(dtype)


def optimizer(name: str, model: nn.Module):
    if name == "sgd":
        return nn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return nn.optim.Adam(model.parameters(), lr=0.01)


def train(kind: str, opt: str, *, distributed: bool, epochs: int = 2, seed: int = 0,
          checkpoint: str | None = None, constraints=(), dtype=np.float64) -> nn.Module:
    return run(kind, opt, distributed=distributed, epochs=epochs, seed=seed,
               checkpoint=checkpoint, constraints=constraints, dtype=dtype)[0]


def run(kind: str, opt: str, *, distributed: bool, epochs: int = 2, seed: int = 0,
        checkpoint: str | None = None, constraints=(), dtype=np.float64, resume: bool = False,
        quiet: bool = True) -> tuple[nn.Module, nn.History]:
    x, y = data(kind)
    model = build(kind, seed, dtype)
    history = nn.fit(model, x, y, optimizer=optimizer(opt, model), epochs=epochs,
                     batch_size=BATCH, rng=3, quiet=quiet, distributed=distributed,
                     checkpoint=checkpoint, constraints=constraints, resume=resume)
    return model, history


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    p.add_argument("--out", default=None)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--fault-rank", type=int, default=-1)
    p.add_argument("--fault-step", type=int, default=0)
    p.add_argument("--interrupt-rank", type=int, default=-1)
    p.add_argument("--interrupt-step", type=int, default=0)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--progress", action="store_true")
    p.add_argument("--slow", type=float, default=0.0)
    args = p.parse_args()
    steps = [0]

    def fault() -> None:
        steps[0] += 1
        if dist.rank() == args.fault_rank and steps[0] == args.fault_step:
            raise RuntimeError(f"injected fault on rank {dist.rank()} at step {steps[0]}")
        if dist.rank() == args.interrupt_rank and steps[0] == args.interrupt_step:
            raise KeyboardInterrupt
        time.sleep(args.slow)

    model, history = run(args.model, args.optimizer, distributed=True, epochs=args.epochs,
                         seed=100 * dist.rank(), checkpoint=args.checkpoint, constraints=[fault],
                         dtype=np.dtype(args.dtype), resume=args.resume, quiet=not args.progress)
    print(f"rank {dist.rank()}: interrupted={history.interrupted}", flush=True)
    flat = np.concatenate([p.data.ravel() for p in model.parameters()])
    first = dist.broadcast_object(flat)
    same = dist.allreduce_sum([float(np.array_equal(first, flat))])[0]
    if same != dist.world_size():
        raise SystemExit(f"rank {dist.rank()}: the ranks ended with different parameters")
    if dist.rank() == 0 and args.out:
        np.savez(args.out, world_size=dist.world_size(),
                 **{name: p.data for name, p in model.named_parameters()})


if __name__ == "__main__":
    main()

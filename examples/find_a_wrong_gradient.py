"""A hand-written layer with a 1% wrong backward pass, caught and pointed at.

Run: python examples/find_a_wrong_gradient.py [OUT_DIR] [--width W] [--batch B] [--correct]
Prints the three-way gradient check of Dense(8, W) → ReLU → Dense(W, W) → Softsign → Dense(W, 3)
on B samples, and writes the graph picture with the bad node in red. ``--correct`` uses the right
VJP (the check passes); benchmarks/gradcheck_cost.py times both at width 64.
"""

import argparse
from pathlib import Path

import numpy as np

import autograd_core as ag
import nn


def _softsign(x):
    return x / (1 + np.abs(x))


softsign = ag.primitive(_softsign, name="softsign")
softsign_ok = ag.primitive(_softsign, name="softsign_ok")


@softsign.defvjp
def softsign_vjp(g, ans, x):
    return (g / (1 + ag.abs(x)) ** 2 * 1.01,)  # the planted bug: 1% too large


@softsign_ok.defvjp
def softsign_ok_vjp(g, ans, x):
    return (g / (1 + ag.abs(x)) ** 2,)


class Softsign(nn.Module):
    def __init__(self, correct: bool = False):
        super().__init__()
        self.correct = correct

    def forward(self, x):
        return softsign_ok(x) if self.correct else softsign(x)


def build(width: int = 16, correct: bool = False) -> nn.Module:
    """The model: 8 inputs, two hidden layers of `width`, 3 classes."""
    return nn.Sequential(nn.Dense(8, width, rng=1), nn.ReLU(), nn.Dense(width, width, rng=2),
                         Softsign(correct), nn.Dense(width, 3, rng=3))


def batch_of(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 8)), rng.integers(0, 3, n)


def main(out: Path | None, width: int = 16, batch: int = 4, correct: bool = False) -> None:
    model = build(width, correct)
    x, labels = batch_of(batch)
    report = nn.check_gradients(model, x, labels, loss="cross_entropy")
    print(report)
    if out is None:
        return
    loss = nn.cross_entropy(model(x), labels)
    out.mkdir(parents=True, exist_ok=True)
    for fmt in ("svg", "png"):
        try:
            path = ag.viz.render(loss, out / f"bad_vjp.{fmt}", format=fmt, params=model,
                                 show_grads=True, highlight=report.first_bad_node)
            print("picture:", path)
        except RuntimeError as e:  # no renderer: the DOT text is written beside the path
            print(e)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="find_a_wrong_gradient_out")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--correct", action="store_true", help="the right VJP: the check passes")
    parser.add_argument("--no-picture", action="store_true")
    args = parser.parse_args()
    main(None if args.no_picture else Path(args.out), args.width, args.batch, args.correct)

"""A hand-written layer with a 1% wrong backward pass, caught and pointed at.

Run: python examples/find_a_wrong_gradient.py [OUT_DIR]
Prints the three-way gradient check and writes the graph picture with the bad node in red.
"""

import sys
from pathlib import Path

import numpy as np

import autograd_core as ag
import nn


@ag.primitive
def softsign(x):
    return x / (1 + np.abs(x))


@softsign.defvjp
def softsign_vjp(g, ans, x):
    return (g / (1 + ag.abs(x)) ** 2 * 1.01,)  # the planted bug: 1% too large


class Softsign(nn.Module):
    def forward(self, x):
        return softsign(x)


def main(out: Path) -> None:
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Dense(8, 16, rng=1), nn.ReLU(), nn.Dense(16, 16, rng=2), Softsign(),
                          nn.Dense(16, 3, rng=3))
    x, labels = rng.standard_normal((4, 8)), rng.integers(0, 3, 4)

    report = nn.check_gradients(model, x, labels, loss="cross_entropy")
    print(report)

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
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "find_a_wrong_gradient_out"))

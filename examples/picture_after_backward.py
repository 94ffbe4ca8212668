"""The picture of a training step, drawn after backward: the whole graph, every parameter's ‖grad‖.

Run: python examples/picture_after_backward.py [OUT_DIR]
A small MLP whose logits are divided by a learned temperature (a 0-d parameter) takes one SGD
step; backward runs inside `ag.viz.keep_grad_norms()`, so the ops' gradient norms are kept too.
Prints `ag.viz.summary` and writes after_backward.png and .svg (docs/img/after_backward.png).
"""

import sys
from pathlib import Path

import numpy as np

import autograd_core as ag
import nn


class TemperatureMLP(nn.Module):
    """An MLP whose logits are divided by a learned temperature T."""

    def __init__(self, sizes: list[int], rng: int) -> None:
        super().__init__()
        self.mlp = nn.MLP(sizes, activation="relu", rng=rng)
        self.T = nn.Parameter(np.array(1.5, np.float32))

    def forward(self, x):
        return self.mlp(x) / self.T


def main(out: Path) -> None:
    rng = np.random.default_rng(0)
    model = TemperatureMLP([8, 16, 16, 3], rng=1)
    opt = nn.optim.SGD(model.parameters(), lr=0.1)
    x = rng.standard_normal((32, 8)).astype(np.float32)
    labels = rng.integers(0, 3, 32)

    loss = nn.cross_entropy(model(x), labels)
    with ag.viz.keep_grad_norms():  # also keep each op's ‖g‖ (parameters show .grad anyway)
        loss.backward()
    print(ag.viz.summary(loss, params=model, show_grads=True))

    out.mkdir(parents=True, exist_ok=True)
    for fmt in ("png", "svg"):
        try:
            path = ag.viz.render(loss, out / f"after_backward.{fmt}", format=fmt, params=model,
                                 show_grads=True)
            print("picture:", path)
        except RuntimeError as e:  # no renderer: the DOT text is written beside the path
            print(e)
    opt.step()
    opt.zero_grad()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "picture_after_backward_out"))

"""Deeper can be worse: training loss after a fixed budget, plain vs residual MLPs, depth 2–32.

Task: a smooth regression in R⁸ (``make_regression``, 512 samples), loss ½‖u − y‖², Adam
(lr 1e-3, batches of 128) for a fixed number of epochs, width 32, ReLU. "Depth" L is the number of
hidden layers: ``MLP([8] + [32]·L + [1])`` against ``ResidualMLP(8, 32, L − 1, 1)`` (first layer,
L − 1 residual blocks z + σ(W z + b), last layer): the same parameters, only the skips differ.

Two inits, the same for both architectures:

* ``near-zero``: the hidden-to-hidden W_j are 0.1 × He (first and last layers He). This is the
  lecture's thought experiment (W_j ≈ 0): the residual net starts near the identity on its deep
  part, i.e. near a shallow net, while the plain net starts near a constant map whose gradients
  vanish with depth.
* ``He``: He-normal everywhere for the plain net (its usual init); the residual branches get He /
  √(L − 1) so that z + σ(Wz + b) does not blow the activations up with depth (with plain He
  branches the post-activation sum grows ≈ geometrically and training diverges).
"""

from __future__ import annotations

import numpy as np

from .. import init as nn_init
from ..blocks import MLP, ResidualMLP
from ..optim import Adam
from ._common import Result, Timer, dense_layers, make_regression, pyplot, save, set_weights, train

INITS = ("near-zero", "He")
ARCHS = ("plain", "residual")


def build(arch: str, depth: int, init: str, seed: int, width: int = 32, n_in: int = 8):
    """A width-`width` net with `depth` hidden layers, float64, weights per `init` (module doc)."""
    rng = np.random.default_rng(seed)
    if arch == "plain":
        model = MLP([n_in] + [width] * depth + [1], activation="relu", rng=seed)
    else:
        model = ResidualMLP(n_in, width, depth - 1, 1, activation="relu", rng=seed)
    set_weights(model, lambda s, r: nn_init.he_normal(s, rng=r, dtype=np.float64), rng)
    hidden = dense_layers(model)[1:-1]
    if init == "near-zero":
        scale = 0.1
    elif init == "He":
        scale = 1.0 if arch == "plain" else 1.0 / np.sqrt(max(len(hidden), 1))
    else:
        raise ValueError(f"unknown init {init!r}; valid: {', '.join(INITS)}")
    for layer in hidden:
        layer.W.data = layer.W.data * scale
    return model


def final_loss(arch: str, depth: int, init: str, epochs: int, seed: int, X, y,
               lr: float = 1e-3) -> list[float]:
    """Training-loss history (full training set, once per epoch) of one net."""
    model = build(arch, depth, init, seed, n_in=X.shape[1])
    return train(model, X, y, loss="mse", opt=Adam(model.parameters(), lr=lr), epochs=epochs,
                 batch_size=128, rng=seed)


def run(quick: bool = False, seed: int = 0, depths: list[int] | None = None,
        epochs: int | None = None, inits: tuple[str, ...] = INITS) -> Result:
    depths = depths or ([2, 8, 16] if quick else [2, 4, 8, 16, 32])
    epochs = epochs or (15 if quick else 40)
    X, y = make_regression(512, d=8, seed=seed)
    with Timer() as t:
        hist = {(init, arch, L): final_loss(arch, L, init, epochs, seed, X, y)
                for init in inits for arch in ARCHS for L in depths}
    data = {"depths": depths, "epochs": epochs, "inits": list(inits), "history": hist,
            "final": {k: v[-1] for k, v in hist.items()},
            "constant_loss": float(0.5 * np.mean((y - y.mean()) ** 2))}
    rows = []
    for init in inits:
        for arch in ARCHS:
            rows.append([init, arch, *[data["final"][(init, arch, L)] for L in depths]])
    f = data["final"]
    lo, hi = depths[0], depths[-1]
    notes = [f"a constant prediction (the mean) has loss {data['constant_loss']:.4f}: a net "
             "stuck there learned nothing."]
    for init in inits:
        p_lo, p_hi = f[(init, "plain", lo)], f[(init, "plain", hi)]
        r_lo, r_hi = f[(init, "residual", lo)], f[(init, "residual", hi)]
        notes.append(
            f"{init} init: plain depth {hi} vs {lo}: {p_hi:.4f} vs {p_lo:.4f} "
            f"({'worse' if p_hi > p_lo else 'not worse'}, ×{p_hi / p_lo:.2f}); residual: "
            f"{r_hi:.4f} vs {r_lo:.4f} (×{r_hi / r_lo:.2f}).")
    return Result("depth", f"training loss ½‖u − y‖² after {epochs} epochs of Adam, by number "
                  "of hidden layers (width 32, ReLU)",
                  ["init", "net", *[f"L={L}" for L in depths]], rows, data, notes, t.seconds)


def plot(result: Result, path) -> str:
    plt = pyplot()
    d = result.data
    inits = d["inits"]
    fig, axes = plt.subplots(1, len(inits) + 1, figsize=(5.2 * (len(inits) + 1), 4.4))
    colors = {"plain": "C3", "residual": "C0"}
    for ax, init in zip(axes, inits, strict=False):
        for arch in ARCHS:
            ax.loglog(d["depths"], [d["final"][(init, arch, L)] for L in d["depths"]], "-o",
                      color=colors[arch], label=f"{arch} MLP")
        ax.axhline(d["constant_loss"], color="gray", ls=":", label="constant prediction")
        ax.set_xscale("log", base=2)
        ax.set_xticks(d["depths"], [str(L) for L in d["depths"]])
        ax.set_title(f"{init} init: final training loss ({d['epochs']} epochs)")
        ax.set_xlabel("hidden layers L")
        ax.set_ylabel("training loss (log)")
        ax.legend()
    ax = axes[-1]
    init = inits[0]
    deepest = d["depths"][-1]
    shallow = d["depths"][0]
    for arch in ARCHS:
        for L, ls in ((shallow, "--"), (deepest, "-")):
            h = d["history"][(init, arch, L)]
            ax.semilogy(range(len(h)), h, ls, color=colors[arch], label=f"{arch}, L = {L}")
    ax.set_title(f"training curves ({init} init)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (log)")
    ax.legend()
    fig.suptitle("Training loss after a fixed budget vs depth (regression in R⁸, width 32, ReLU, "
                 "Adam): with near-zero init deep plain nets stall, residual nets do not; "
                 "with He init plain nets up to L = 32 do not get worse here", fontsize=10.5)
    return save(fig, path)

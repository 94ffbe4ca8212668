"""Vanishing gradients: ‖δ_j‖ per layer of deep sigmoid nets against the lecture's bound.

The lecture: with ‖W_j‖₂ ≤ 1 and max σ' = 0.25 (sigmoid), δ_j = W_jᵀ(δ_{j+1} ⊙ σ'(v_j)) gives
``‖δ_j‖ ≤ 0.25 ‖δ_{j+1}‖ ≤ … ≤ 0.25^(n−j+1) C`` with C = ‖δ_{n+1}‖.

Note [off by one]: that chain applies σ' at every layer, the last one included. In the lecture's
model the last layer is affine (σ_n = Id), so δ_n = W_nᵀ δ_{n+1} gets no factor 0.25 and what
one can prove is ``‖δ_j‖ ≤ 0.25^(n−j) C``; the stated 0.25^(n−j+1) C holds only when the output
layer is a sigmoid too. Both nets are measured: `MLP` as built (affine last layer) against
0.25^(n−j), and the same net with a sigmoid on the output against the lecture's 0.25^(n−j+1).

Nets: n layers of width p, inputs x ~ N(0, I_p), loss ½‖u − y‖² with random targets (summed over
samples, so each row of ∂L/∂Z_j is one sample's δ_j). Every activation is measured with
(a) ``nn.init.spectral_normal`` weights (‖W_j‖₂ = 1, the bound's assumption) and (b) a
variance-preserving init (He for ReLU/LeakyReLU/ELU, LeCun N(0, 1/fan_in) for SELU, Xavier for
sigmoid) where the relu family keeps ‖δ_j‖ roughly constant while sigmoid still vanishes.
"""

from __future__ import annotations

import numpy as np

from .. import init as nn_init
from ..activations import Sigmoid
from ..blocks import MLP
from ._common import (
    Result,
    Timer,
    layer_maps,
    pyplot,
    row_norms,
    save,
    set_weights,
    states_and_deltas,
)

ACTIVATIONS = ["sigmoid", "relu", "leaky_relu", "elu", "selu"]
SIGMOID_MAX_SLOPE = 0.25


def _lecun_normal(shape, rng):
    return rng.standard_normal(shape) / np.sqrt(shape[1])


def _variance_preserving(activation):
    if activation == "sigmoid":
        return lambda s, r: nn_init.xavier_normal(s, rng=r, dtype=np.float64)
    if activation == "selu":
        return _lecun_normal
    return lambda s, r: nn_init.he_normal(s, rng=r, dtype=np.float64)


def _spectral(shape, rng):
    return nn_init.spectral_normal(shape, rng=rng, dtype=np.float64)


def delta_norms(activation: str, n: int, p: int, n_samples: int, init, seed: int,
                sigmoid_output: bool = False, n_out: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample ‖δ_j‖ for j = 1..n+1 of an n-layer width-p MLP: array (n+1, N), and
    ‖z_j‖ likewise. `init(shape, rng)` draws each W_j (float64); biases are zero.
    ``sigmoid_output``: a sigmoid after the last layer too (the lecture's bound's setting)."""
    rng = np.random.default_rng(seed)
    model = set_weights(MLP([p] * n + [n_out], activation=activation, rng=seed), init, rng)
    maps = layer_maps(model)
    if sigmoid_output:
        last, act = maps[-1], Sigmoid()
        maps[-1] = lambda z: act(last(z))
    x = rng.standard_normal((n_samples, p))
    y = rng.standard_normal((n_samples, n_out))
    zs, deltas = states_and_deltas(maps, x, y)
    return row_norms(deltas), row_norms(zs)


def sigmoid_bound(n: int, C: np.ndarray, sigmoid_output: bool) -> np.ndarray:
    """0.25^(number of sigmoid layers between z_j and the loss) · C, for j = 1..n+1: (n+1, N).

    Affine last layer: exponent n − j (j ≤ n), 0 for j = n+1 (Note [off by one]). Sigmoid
    output: exponent n − j + 1, the lecture's formula."""
    j = np.arange(1, n + 2)
    k = (n - j + 1) if sigmoid_output else np.maximum(n - j, 0)
    return SIGMOID_MAX_SLOPE ** k[:, None].astype(float) * C[None, :]


def run(quick: bool = False, seed: int = 0, n: int | None = None, p: int = 32,
        n_samples: int = 32) -> Result:
    n = n or (20 if quick else 40)
    with Timer() as t:
        data: dict = {"n": n, "p": p, "spectral": {}, "variance": {}}
        for act in ACTIVATIONS:
            data["spectral"][act] = delta_norms(act, n, p, n_samples, _spectral, seed)[0]
            data["variance"][act] = delta_norms(act, n, p, n_samples, _variance_preserving(act),
                                                seed)[0]
        d_sig_out, _ = delta_norms("sigmoid", n, p, n_samples, _spectral, seed,
                                   sigmoid_output=True)
        data["sigmoid_output"] = d_sig_out
        d = data["spectral"]["sigmoid"]
        # ratio to each bound; <= 1 means the bound holds (per sample, per layer)
        data["ratio_proved"] = d / sigmoid_bound(n, d[-1], sigmoid_output=False)
        data["ratio_lecture_affine"] = d / sigmoid_bound(n, d[-1], sigmoid_output=True)
        data["ratio_lecture_sigmoid_out"] = d_sig_out / sigmoid_bound(n, d_sig_out[-1], True)

    rows = []
    mid = n // 2
    for init_name, key in (("‖W‖₂=1 (spectral)", "spectral"), ("variance-preserving", "variance")):
        for act in ACTIVATIONS:
            r = data[key][act] / data[key][act][-1]  # ‖δ_j‖ / C per sample
            med = np.median(r, axis=1)
            per_layer = med[0] ** (1.0 / n) if med[0] > 0 else 0.0
            rows.append([act, init_name, med[0], med[mid - 1], med[n - 1], per_layer])
    bound_row = sigmoid_bound(n, np.ones(1), sigmoid_output=False)[:, 0]
    lect_row = sigmoid_bound(n, np.ones(1), sigmoid_output=True)[:, 0]
    rows.append(["bound 0.25^(n−j)", "(affine last layer)", bound_row[0], bound_row[mid - 1],
                 bound_row[n - 1], SIGMOID_MAX_SLOPE ** ((n - 1) / n)])
    rows.append(["bound 0.25^(n−j+1)", "(lecture)", lect_row[0], lect_row[mid - 1],
                 lect_row[n - 1], SIGMOID_MAX_SLOPE])

    # j = n+1 is C/C = 1 for every bound: the maximum is over the layers j = 1..n
    proved = float(data["ratio_proved"][:n].max())
    lect_aff = float(data["ratio_lecture_affine"][:n].max())
    lect_aff_j = int(data["ratio_lecture_affine"][:n].max(axis=1).argmax()) + 1
    lect_sig = float(data["ratio_lecture_sigmoid_out"][:n].max())
    first_ratio = float(np.median(data["spectral"]["relu"][0] / data["spectral"]["sigmoid"][0]
                                  * data["spectral"]["sigmoid"][-1] / data["spectral"]["relu"][-1]))
    notes = [
        f"sigmoid, ‖W_j‖₂ = 1, affine last layer: max over j ≤ n and samples of ‖δ_j‖ / "
        f"(0.25^(n−j)·C) = {proved:.3f} "
        + ("≤ 1: the bound holds." if proved <= 1 + 1e-9 else "> 1: VIOLATED."),
        f"the lecture's 0.25^(n−j+1)·C on that same net: max ratio {lect_aff:.3f} (at j = "
        f"{lect_aff_j}) "
        + ("≤ 1; " if lect_aff <= 1 + 1e-9
           else "> 1: fails there, since δ_n = W_nᵀδ_(n+1) has no σ′ factor; ") +
        f"with a sigmoid on the output too: max ratio {lect_sig:.3f} "
        f"{'≤ 1: holds' if lect_sig <= 1 + 1e-9 else '> 1: VIOLATED'}.",
        f"‖δ_1‖/C is {first_ratio:.2e}× larger for ReLU than for sigmoid at ‖W_j‖₂ = 1 "
        f"(n = {n}); with ‖W_j‖₂ = 1 ReLU also shrinks (≈ its median per-layer factor in the "
        "table), since half its units have σ′ = 0 and a unit-norm W shrinks typical vectors.",
    ]
    return Result("vanishing", f"‖δ_j‖ / ‖δ_(n+1)‖ per layer, {n}-layer width-{p} nets "
                  f"(median over {n_samples} samples)",
                  ["activation", "init", "‖δ_1‖/C", f"‖δ_{mid}‖/C", f"‖δ_{n}‖/C",
                   "per-layer factor"], rows, data, notes, t.seconds)


def plot(result: Result, path) -> str:
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    d = result.data
    n = d["n"]
    j = np.arange(1, n + 2)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    # relu and leaky_relu nearly coincide: different markers and dashes keep both visible
    looks = {"sigmoid": ("C3", "-o"), "relu": ("C0", "-s"), "leaky_relu": ("C1", "--^"),
             "elu": ("C2", "-D"), "selu": ("C4", "-v")}
    titles = {"spectral": r"$\|W_j\|_2 = 1$ (nn.init.spectral_normal): the bound's setting",
              "variance": "variance-preserving init (He; LeCun for SELU; Xavier for sigmoid)"}
    for ax, key in zip(axes, ("spectral", "variance"), strict=True):
        for act in ACTIVATIONS:
            r = d[key][act] / d[key][act][-1]
            lo, med, hi = np.percentile(r, [10, 50, 90], axis=1)
            color, style = looks[act]
            ax.semilogy(j, med, style, ms=3.5, color=color, label=act, mfc="none")
            ax.fill_between(j, np.maximum(lo, 1e-300), hi, color=color, alpha=0.15)
        if key == "spectral":
            ax.semilogy(j, sigmoid_bound(n, np.ones(1), False)[:, 0], "k--", lw=1.4,
                        label=r"bound $0.25^{\,n-j}\,C$ (affine last layer, proved)")
            ax.semilogy(j, sigmoid_bound(n, np.ones(1), True)[:, 0], "k:", lw=1.4,
                        label=r"lecture's $0.25^{\,n-j+1}\,C$ (needs σ on the output too)")
        ax.set_title(titles[key])
        ax.set_xlabel(r"layer $j$   ($z_1 = x$ on the left, the output $z_{n+1}$ on the right)")
        ax.set_xlim(1, n + 1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # layers are whole numbers
    axes[0].set_ylabel(r"$\|\delta_j\| \,/\, \|\delta_{n+1}\|$   (median, 10–90% band)")
    axes[0].legend(loc="lower right")
    axes[1].legend(loc="lower right")
    fig.suptitle(r"Vanishing gradients: $\|\delta_j\| = \|\partial L/\partial z_j\|$ per layer, "
                 f"{n}-layer width-{d['p']} MLPs, C = " + r"$\|\delta_{n+1}\|$ (per sample)",
                 fontsize=12)
    return save(fig, path)

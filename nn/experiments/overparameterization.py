"""Overparameterization: how many weights the nets have against how many samples they see.

The lecture: n fully connected layers of width p on data x_i ∈ R^p have p²n weights (W_j)_lk and
pn biases (b_j)_l; with N ≈ p² samples that is a factor n more weights than samples.

The counts are read from ``model.parameters()`` (matrices = weights, vectors = biases) and
compared with the formulas: p²n and pn for the lecture's square net ``MLP([p] * (n + 1))``, and
Σ_j n_j n_{j+1} and Σ_j n_{j+1} for any MLP (a `ResidualMLP` is counted the same way: the skips
have no parameters). Rows: the lecture's square nets on digits (p = 64 pixels, N = 1797 ≈ p²/2)
and the nets the other experiments train, each with its own N.
"""

from __future__ import annotations

import numpy as np

from ..blocks import MLP, ResidualMLP
from ._common import Result, Timer, count_parameters, pyplot, save

DIGITS_N = 1797


def mlp_formula(sizes: list[int]) -> tuple[int, int]:
    """(Σ_j n_j n_{j+1}, Σ_j n_{j+1}) for layer sizes [n_1, ..., n_{k+1}]."""
    return (sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)), sum(sizes[1:]))


def models() -> list[tuple[str, object, list[int], int]]:
    """(name, model, layer sizes, N samples it is trained on) for each row of the table."""
    out = []
    p = 64
    for n in (1, 2, 4, 8):
        out.append((f"square MLP, n={n}, p={p} (digits)", MLP([p] * (n + 1), rng=0), [p] * (n + 1),
                    DIGITS_N))
    out.append(("regularization: 64→256→256→10", MLP([64, 256, 256, 10], rng=0),
                [64, 256, 256, 10], 100))
    out.append(("features: 64→64→64→10", MLP([64, 64, 64, 10], rng=0), [64, 64, 64, 10], 1000))
    out.append(("depth: plain, L=32, width 32", MLP([8] + [32] * 32 + [1], rng=0),
                [8] + [32] * 32 + [1], 512))
    out.append(("depth: residual, L=32, width 32", ResidualMLP(8, 32, 31, 1, rng=0),
                [8] + [32] * 32 + [1], 512))
    return out


def run(quick: bool = False, seed: int = 0) -> Result:
    with Timer() as t:
        rows, data = [], {"rows": []}
        for name, model, sizes, N in models():
            w, b = count_parameters(model)
            fw, fb = mlp_formula(sizes)
            n, p = len(sizes) - 1, sizes[0]
            square = all(s == p for s in sizes)
            rows.append([name, n, w, p * p * n if square else "—", fw, b, p * n if square else "—",
                         fb, N, w / N])
            data["rows"].append({"name": name, "weights": w, "biases": b, "formula_weights": fw,
                                 "formula_biases": fb, "N": N, "n": n, "p": p,
                                 "square": square})
        # the lecture's curve: weights p²n against n for p = 64, and N for digits
        data["curve_n"] = list(range(1, 17))
    ok = all(r["weights"] == r["formula_weights"] and r["biases"] == r["formula_biases"]
             for r in data["rows"])
    notes = [
        "weights and biases counted from model.parameters() "
        + ("equal the formulas in every row" if ok else "DIFFER from the formulas"),
        "square nets: weights = p²n and biases = pn (e.g. n = 8, p = 64: "
        f"{64 * 64 * 8:,} weights, {64 * 8} biases); with N = {DIGITS_N} digits, "
        f"weights/N = {64 * 64 * 8 / DIGITS_N:.1f}.",
        "the regularization net has "
        f"{data['rows'][4]['weights'] / 100:.0f}× more weights than its 100 training samples.",
    ]
    return Result("overparameterization", "weights (p²n) and biases (pn) against samples N",
                  ["model", "n", "weights", "p²n", "Σ n_j·n_(j+1)", "biases", "pn",
                   "Σ n_(j+1)", "N", "weights/N"], rows, data, notes, t.seconds)


def plot(result: Result, path) -> str:
    plt = pyplot()
    d = result.data
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    ax = axes[0]
    n = np.asarray(d["curve_n"])
    for p, c in ((16, "C2"), (32, "C0"), (64, "C3")):
        ax.semilogy(n, p * p * n, "-", color=c, label=f"weights p²n, p = {p}")
        ax.axhline(p * p, color=c, ls=":", lw=1, label=f"N = p² = {p * p}")
    ax.axhline(DIGITS_N, color="k", ls="--", lw=1, label=f"digits: N = {DIGITS_N}")
    sq = [r for r in d["rows"] if r["square"]]
    ax.semilogy([r["n"] for r in sq], [r["weights"] for r in sq], "ko", ms=6,
                label="counted from model.parameters()")
    ax.set_xlabel("layers n")
    ax.set_ylabel("count (log)")
    ax.set_title("the lecture's square nets: p²n weights vs N ≈ p² samples")
    ax.legend(fontsize=7.5, ncol=2)
    ax = axes[1]
    markers = "osD^v<>Xp"
    for i, r in enumerate(d["rows"]):
        # the plain and residual depth nets have the same counts: open markers keep both visible
        ax.loglog(r["N"], r["weights"], markers[i % len(markers)], ms=11 if i % 2 else 7,
                  mfc="none" if i % 2 else None, mew=1.6, label=r["name"])
    lim = np.array([50, 5e5])
    ax.loglog(lim, lim, "k--", lw=1, label="weights = N")
    ax.set_xlim(50, 5000)
    ax.set_xlabel("training samples N (log)")
    ax.set_ylabel("weights (log)")
    ax.set_title("every net here has more weights than samples")
    ax.legend(fontsize=7.5)
    fig.suptitle("Overparameterization: weights vs samples", fontsize=12)
    return save(fig, path)

"""Fixed random features (a convex problem) vs learned features (nonconvex), on digits.

The lecture writes the model as ``m(x; θ) = W_n φ(x; θ) + b_n`` with the feature map
``φ(x; θ) = σ(W_{n−1} ⋯ σ(W_1 x + b_1) ⋯ + b_{n−1})``. Here the same net ``64 → h → h → 10``
(ReLU, He init) is trained twice with the same full-batch gradient descent and budget:

* ``fixed``: the hidden layers stay at their random init, only (W_n, b_n) is trained. The loss
  is then a convex, L-smooth function of (W_n, b_n) (multiclass logistic regression on the
  features φ(x)), with L ≤ ½ λ_max(Φ̃ᵀΦ̃)/N for Φ̃ = [φ(x_i)ᵀ 1] (the softmax Hessian is ⪯ ½ I),
  so gradient descent with step 1/L decreases it monotonically.
* ``learned``: every layer is trained (the features are learned): lower training loss, but the
  problem is nonconvex and nothing guarantees a monotone decrease.

The step is 1/L of the fixed problem for both (the same optimizer and budget).

Convexity is also seen directly: each problem is solved twice from two inits (for ``fixed``, two
draws of the last layer on the same random features; for ``learned``, two draws of every layer),
and the loss is evaluated on the segment θ(t) = (1 − t)θ_a + tθ_b between the two results. For
the convex problem it lies below the chord between its ends; for the learned features it need not
(a bump above the chord is a certificate of nonconvexity).
"""

from __future__ import annotations

import numpy as np

import autograd_core as ag

from .. import init as nn_init
from ..blocks import MLP
from ..optim import SGD
from ._common import (
    Result,
    Timer,
    accuracy,
    dense_layers,
    evaluate,
    load_digits_split,
    pyplot,
    save,
    set_weights,
    train,
)


def build(width: int, seed: int, last_seed: int | None = None) -> MLP:
    """The net, He init from `seed`; `last_seed` redraws only the last layer (same features)."""
    rng = np.random.default_rng(seed)
    model = MLP([64, width, width, 10], activation="relu", rng=seed)
    set_weights(model, lambda s, r: nn_init.he_normal(s, rng=r, dtype=np.float64), rng)
    if last_seed is not None:
        from ..module import Parameter

        last = dense_layers(model)[-1]
        last.W = Parameter(nn_init.he_normal(last.W.shape, rng=last_seed, dtype=np.float64))
    return model


def segment_losses(model: MLP, state_a: dict, state_b: dict, X, y, ts) -> np.ndarray:
    """Training loss at (1 − t)·θ_a + t·θ_b for each t (all parameters interpolated)."""
    out = []
    for t in ts:
        model.load_state_dict({k: (1 - t) * state_a[k] + t * state_b[k] for k in state_a})
        out.append(evaluate(model, X, y, "cross_entropy"))
    return np.asarray(out)


def smoothness(model: MLP, X: np.ndarray) -> float:
    """L = ½ λ_max(Φ̃ᵀΦ̃)/N of the mean cross-entropy as a function of the last layer."""
    with ag.no_grad():
        z = ag.tensor(X)
        for layer in list(model.layers)[:-1]:
            z = layer(z)
    phi = np.hstack([z.data, np.ones((len(X), 1))])
    return 0.5 * float(np.linalg.norm(phi, 2)) ** 2 / len(X)


def run(quick: bool = False, seed: int = 0, width: int = 64, n_train: int = 1000,
        steps: int | None = None, segment: bool = True) -> Result:
    steps = steps or (100 if quick else 400)
    Xtr, ytr, Xte, yte = load_digits_split(n_train, seed=seed)
    with Timer() as t:
        L = smoothness(build(width, seed), Xtr)
        lr = 1.0 / L
        data: dict = {"width": width, "steps": steps, "lr": lr, "L": L, "n_train": n_train}
        ts = np.linspace(0.0, 1.0, 21)
        for mode in ("fixed", "learned"):
            states, runs = [], []
            for k in range(2 if segment else 1):
                model = (build(width, seed, last_seed=seed + 1000 if k else None) if mode == "fixed"
                         else build(width, seed + k))
                params = (dense_layers(model)[-1].parameters() if mode == "fixed"
                          else model.parameters())
                hist = train(model, Xtr, ytr, loss="cross_entropy", opt=SGD(params, lr=lr),
                             epochs=steps, batch_size=None, rng=seed)
                states.append(model.state_dict())
                runs.append({"history": hist, "train_acc": accuracy(model, Xtr, ytr),
                             "test_acc": accuracy(model, Xte, yte),
                             "trained": sum(p.size for p in params),
                             "increases": int(np.sum(np.diff(hist) > 1e-12 * np.abs(hist[:-1])))})
            data[mode] = runs[0]
            if segment:
                seg = segment_losses(model, states[0], states[1], Xtr, ytr, ts)
                chord = (1 - ts) * seg[0] + ts * seg[-1]
                data[mode].update(segment=seg, chord=chord, ts=ts,
                                  bump=float(np.max(seg - chord)),
                                  second_run_loss=runs[1]["history"][-1])
    rows = []
    for mode, label in (("fixed", "fixed random features (convex)"),
                        ("learned", "learned features (nonconvex)")):
        r = data[mode]
        rows.append([label, r["trained"], r["history"][0], r["history"][len(r["history"]) // 4],
                     r["history"][-1], r["train_acc"], r["test_acc"], r["increases"]])
    f, l_ = data["fixed"], data["learned"]
    notes = [
        f"step 1/L = {lr:.3g} (L = {L:.3g}, the fixed problem's smoothness constant), "
        f"{steps} full-batch steps on {n_train} digits, width {width}.",
        f"final training loss: learned {l_['history'][-1]:.4f} vs fixed {f['history'][-1]:.4f} "
        f"({'learned lower' if l_['history'][-1] < f['history'][-1] else 'learned NOT lower'}, "
        f"×{f['history'][-1] / l_['history'][-1]:.1f}).",
        f"fixed-feature loss increased in {f['increases']} of {steps} steps "
        + ("(monotone, as convexity and step 1/L guarantee); " if f["increases"] == 0
           else "(NOT monotone); ") +
        f"learned: {l_['increases']} increases (nothing guarantees none).",
    ]
    if segment:
        notes.append(
            f"loss on the segment between two solutions, max above the chord: fixed "
            f"{f['bump']:.2e} "
            + ("(≤ 0: on or below the chord, as convexity requires), " if f["bump"] <= 1e-12
               else "(> 0: NOT below the chord), ")
            + f"learned {l_['bump']:.3f} "
            + ("(> 0: a bump, so that problem is not convex)." if l_["bump"] > 1e-12
               else "(≤ 0: no bump seen on this segment)."))
    return Result("features", f"digits, 64→{width}→{width}→10 ReLU, full-batch gradient descent "
                  f"for {steps} steps", ["features", "trained params", "loss start",
                                         f"loss @{steps // 4}", "loss end", "train acc",
                                         "test acc", "loss increases"], rows, data, notes,
                  t.seconds)


def plot(result: Result, path) -> str:
    plt = pyplot()
    d = result.data
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.4))
    ax = axes[0]
    for mode, c, label in (("fixed", "C1", "fixed random features: only W_n, b_n trained"),
                           ("learned", "C0", "learned features: all layers trained")):
        h = d[mode]["history"]
        ax.semilogy(range(len(h)), h, color=c, label=label)
    ax.set_xlabel("gradient-descent step (full batch)")
    ax.set_ylabel("training loss (mean cross-entropy, log)")
    ax.set_title(f"training loss, same net 64→{d['width']}→{d['width']}→10, step 1/L")
    ax.legend()
    ax = axes[1]
    if "segment" in d["fixed"]:
        for mode, c, label in (("fixed", "C1", "fixed features (convex)"),
                               ("learned", "C0", "learned features (nonconvex)")):
            r = d[mode]
            ax.plot(r["ts"], r["segment"], "-o", ms=3, color=c, label=f"{label}: L(θ(t))")
            ax.plot(r["ts"], r["chord"], ":", color=c, label=f"{label}: chord")
        ax.set_yscale("log")
        ax.set_xlabel("t   (θ(t) = (1 − t)·θ_a + t·θ_b, two solutions from two inits)")
        ax.set_ylabel("training loss (log)")
        ax.set_title("loss between two solutions: convex ⇒ on or below the chord")
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle("Learning features: fixed random features (convex) vs learned features",
                 fontsize=12)
    return save(fig, path)

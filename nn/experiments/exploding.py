"""Exploding gradients, and the lecture's cure: ‖W_j‖₂ ≤ 1, ‖b_j‖ ≤ d and a 1-Lipschitz σ.

Three n-layer ReLU nets of width p on the same inputs:

* ``3×He``: every W_j three times a He-normal draw. Each layer multiplies typical vectors by ≈ 3
  forward and backward, so ‖δ_j‖ grows ≈ 3× per layer toward the input (and ‖z_j‖ toward the
  output): exploding gradients.
* ``He``: the usual init, for reference (‖δ_j‖ roughly flat).
* ``constrained``: ``nn.init.spectral_normal`` weights (‖W_j‖₂ = 1) and random biases of norm
  ≈ 3d projected onto ‖b_j‖ ≤ d, then trained by projected SGD (a step, then
  ``nn.constrain_spectral_norm`` and the projection of each b_j onto ‖b_j‖ ≤ d) on a regression
  task. The lecture's two bounds must then hold for every
  sample and every layer (σ = relu is 1-Lipschitz with σ(0) = 0; the last layer is affine)::

      ‖z_{j+1}‖ ≤ ‖W_j z_j‖ + ‖b_j‖ ≤ ‖z_j‖ + d        ‖δ_j‖ ≤ ‖W_jᵀ‖₂ ‖δ_{j+1} ⊙ σ'‖ ≤ ‖δ_{j+1}‖

Also shown: SGD on the 3×He net with and without ``nn.clip_grad_norm``, from the same start. The
unclipped run takes one enormous step and its loss overflows (the run stops at the first
non-finite loss; NumPy's overflow warnings are silenced there on purpose); clipping bounds every
step by lr·max_norm.
"""

from __future__ import annotations

from functools import partial

import numpy as np

import autograd_core as ag

from .. import init as nn_init
from ..blocks import MLP
from ..constraints import clip_grad_norm, clip_weights, constrain_spectral_norm
from ..optim import SGD
from ._common import (
    Result,
    Timer,
    batch_loss,
    dense_layers,
    layer_maps,
    make_regression,
    pyplot,
    row_norms,
    save,
    set_weights,
    states_and_deltas,
)


def _he(scale):
    return lambda s, r: scale * nn_init.he_normal(s, rng=r, dtype=np.float64)


def project_biases(model, d: float) -> None:
    """b_j ← b_j · min(1, d/‖b_j‖): the projection onto the ball ‖b_j‖₂ ≤ d."""
    with ag.no_grad():
        for layer in dense_layers(model):
            norm = float(np.linalg.norm(layer.b.data))
            if norm > d:
                layer.b.data = layer.b.data * (d / norm)


def build(kind: str, n: int, p: int, seed: int, n_in: int, d: float = 1.0):
    """The net of `kind` ("3×He", "He" or "constrained") before any training."""
    rng = np.random.default_rng(seed)
    model = MLP([n_in] + [p] * (n - 1) + [1], activation="relu", rng=seed)
    if kind == "He":
        return set_weights(model, _he(1.0), rng)
    if kind == "3×He":
        return set_weights(model, _he(3.0), rng)
    if kind != "constrained":
        raise ValueError(f"unknown net {kind!r}: '3×He', 'He' or 'constrained'")
    set_weights(model, lambda s, r: nn_init.spectral_normal(s, rng=r, dtype=np.float64), rng,
                bias=lambda s, r: r.standard_normal(s) / np.sqrt(s[0]) * 3 * d)
    project_biases(model, d)
    return model


def projected_sgd(model, X, y, steps: int, lr: float, d: float, seed: int) -> list[float]:
    """Minibatch SGD on ½‖u − y‖², each step followed by both projections."""
    rng = np.random.default_rng(seed)
    opt = SGD(model.parameters(), lr=lr, momentum=0.9)
    losses = []
    for _ in range(steps):
        idx = rng.integers(0, len(X), 32)
        L = batch_loss(model, X[idx], y[idx], "mse")
        L.backward()
        opt.step()
        opt.zero_grad()
        constrain_spectral_norm(model.parameters(), max_norm=1.0)
        project_biases(model, d)
        losses.append(float(L.item()))
    return losses


CLIP_RUNS = ("SGD", "SGD + clip_grad_norm(1)", "SGD + clip_weights(0.1)",
             "SGD + constrain_spectral_norm(1)")


def clipping_runs(n: int, p: int, X, y, steps: int, seed: int,
                  lr: float = 0.01) -> dict[str, list[float]]:
    """Loss per SGD step from the same 3×He start: plain SGD, SGD with the gradient clipped to
    global norm 1, and projected SGD with |W_lk| ≤ 0.1 or ‖W_j‖₂ ≤ 1 (the lecture's clipping of
    the weights; the projection is applied before the first step too)."""
    out = {}
    for name in CLIP_RUNS:
        model = build("3×He", n, p, seed, X.shape[1])
        weights = [L.W for L in dense_layers(model)]
        project = {"SGD + clip_weights(0.1)": partial(clip_weights, weights, 0.1),
                   "SGD + constrain_spectral_norm(1)": partial(constrain_spectral_norm, weights)}
        project = project.get(name)
        if project is not None:
            project()
        opt = SGD(model.parameters(), lr=lr)
        losses = []
        # the unclipped run overflows by design; its first non-finite loss ends it
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(steps):
                idx = np.arange(k * 32, k * 32 + 32) % len(X)
                L = batch_loss(model, X[idx], y[idx], "mse")
                value = float(L.item())
                losses.append(value)
                if not np.isfinite(value):
                    break
                L.backward()
                if name == "SGD + clip_grad_norm(1)":
                    clip_grad_norm(model.parameters(), 1.0)
                opt.step()
                opt.zero_grad()
                if project is not None:
                    project()
        out[name] = losses
    return out


def run(quick: bool = False, seed: int = 0, n: int | None = None, p: int = 32,
        d: float = 1.0, n_samples: int = 64) -> Result:
    n = n or (12 if quick else 24)
    train_steps = 30 if quick else 200
    with Timer() as t:
        X, y = make_regression(1024, d=8, seed=seed)
        Xs, ys = X[:n_samples], y[:n_samples]
        data: dict = {"n": n, "p": p, "d": d, "z": {}, "delta": {}}
        models = {k: build(k, n, p, seed, X.shape[1], d) for k in ("3×He", "He", "constrained")}
        data["train_loss"] = projected_sgd(models["constrained"], X, y, train_steps, 0.01, d, seed)
        for kind, model in models.items():
            zs, deltas = states_and_deltas(layer_maps(model), Xs, ys)
            data["z"][kind], data["delta"][kind] = row_norms(zs), row_norms(deltas)
        constrained = dense_layers(models["constrained"])
        data["W_norms"] = [float(np.linalg.norm(L.W.data, 2)) for L in constrained]
        data["b_norms"] = [float(np.linalg.norm(L.b.data)) for L in constrained]
        z, dl = data["z"]["constrained"], data["delta"]["constrained"]
        # slack of each inequality per layer and sample: <= 0 means it holds
        data["forward_slack"] = z[1:] - (z[:-1] + d)        # ‖z_{j+1}‖ − (‖z_j‖ + d)
        data["backward_slack"] = dl[:-1] - dl[1:]            # ‖δ_j‖ − ‖δ_{j+1}‖
        data["clipping"] = clipping_runs(n, p, X, y, 15 if quick else 60, seed)
        data["constant_loss"] = float(0.5 * np.mean((y - y.mean()) ** 2))

    rows = []
    for kind in ("3×He", "He", "constrained"):
        dl = np.median(data["delta"][kind], axis=1)
        zz = np.median(data["z"][kind], axis=1)
        rows.append([kind, zz[0], zz[-1], dl[-1], dl[0], dl[0] / dl[-1],
                     (dl[0] / dl[-1]) ** (1 / n)])
    fwd, bwd = data["forward_slack"], data["backward_slack"]
    dl = data["delta"]["constrained"]
    tol = 1e-9
    fwd_ok = bool(np.all(fwd <= tol * (1 + data["z"]["constrained"][:-1])))
    bwd_ok = bool(np.all(bwd <= tol * data["delta"]["constrained"][1:]))
    clip = data["clipping"]
    notes = [
        f"constrained net after {train_steps} projected SGD steps: max_j ‖W_j‖₂ = "
        f"{max(data['W_norms']):.6f}, max_j ‖b_j‖ = {max(data['b_norms']):.4f} (d = {d}).",
        f"‖z_(j+1)‖ ≤ ‖z_j‖ + d for every layer and sample: {'holds' if fwd_ok else 'VIOLATED'} "
        f"(largest ‖z_(j+1)‖ − ‖z_j‖ = {float((fwd + d).max()):.3f} ≤ d = {d}).",
        f"‖δ_j‖ ≤ ‖δ_(j+1)‖ for every layer and sample: {'holds' if bwd_ok else 'VIOLATED'} "
        f"(largest ‖δ_j‖/‖δ_(j+1)‖ = {float((dl[:-1] / dl[1:]).max()):.3f}).",
        f"3×He net: ‖δ_1‖/‖δ_(n+1)‖ = {rows[0][5]:.2e} (× {rows[0][6]:.2f} per layer): exploding.",
        "training from the 3×He start (SGD, lr 0.01): " + "; ".join(
            f"{k}: {v[0]:.2e} → " + (f"non-finite after {len(v) - 1} step(s)"
                                     if not np.isfinite(v[-1]) else f"{v[-1]:.3g}")
            for k, v in clip.items()) + f" (a constant prediction: {data['constant_loss']:.3f}). "
        "Clipping the weights stops the explosion, but at this depth the ReLU net with "
        "‖W_j‖₂ ≤ 1 then has vanishing δ (row 'constrained') and learns little: the bound "
        "controls growth, not decay.",
    ]
    return Result("exploding", f"per-sample norms through {n}-layer width-{p} ReLU nets "
                  f"(median over {n_samples} samples)",
                  ["net", "‖z_1‖", "‖z_(n+1)‖", "‖δ_(n+1)‖", "‖δ_1‖", "‖δ_1‖/‖δ_(n+1)‖",
                   "per-layer factor"], rows, data, notes, t.seconds)


def plot(result: Result, path) -> str:
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    d = result.data
    n = d["n"]
    j = np.arange(1, n + 2)
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    styles = {"3×He": ("C3", "3×He init"), "He": ("C0", "He init"),
              "constrained": ("C2", r"$\|W_j\|_2 \leq 1,\ \|b_j\| \leq d$ (projected SGD)")}
    ax = axes[0, 0]
    for kind, (c, label) in styles.items():
        r = d["delta"][kind] / d["delta"][kind][-1]
        ax.semilogy(j, np.median(r, axis=1), "-o", ms=3, color=c, label=label)
        ax.fill_between(j, *np.percentile(r, [10, 90], axis=1), color=c, alpha=0.15)
    ax.set_title(r"backward pass: $\|\delta_j\| \,/\, \|\delta_{n+1}\|$ (median, 10–90% of samples)")
    ax.set_xlabel(r"layer $j$ (input on the left)")
    ax.set_ylabel(r"$\|\delta_j\| \,/\, \|\delta_{n+1}\|$ (log)")
    ax.legend()

    rng = np.random.default_rng(0)
    ax = axes[0, 1]
    jj = np.arange(1, n + 1)
    for kind in ("3×He", "constrained"):
        z = d["z"][kind]
        inc = (z[1:] - z[:-1]) / np.maximum(z[:-1], 1e-300) if kind == "3×He" else None
        if kind == "constrained":
            inc = z[1:] - z[:-1]
            x = jj[:, None] + rng.uniform(-0.25, 0.25, inc.shape)
            ax.plot(x.ravel(), inc.ravel(), ".", ms=2.5, color="C2", alpha=0.5,
                    label=r"$\|z_{j+1}\| - \|z_j\|$, constrained net (every sample)")
    ax.axhline(d["d"], color="k", ls="--", lw=1.2, label=f"$d$ = {d['d']} (the bound)")
    ax.set_title(r"forward pass: $\|z_{j+1}\| \leq \|z_j\| + d$")
    ax.set_xlabel(r"layer $j$")
    ax.set_ylabel(r"$\|z_{j+1}\| - \|z_j\|$")
    ax.legend(loc="lower left")

    ax = axes[1, 0]
    for kind in ("3×He", "constrained"):
        dl = d["delta"][kind]
        ratio = dl[:-1] / dl[1:]
        x = jj[:, None] + rng.uniform(-0.25, 0.25, ratio.shape)
        ax.semilogy(x.ravel(), ratio.ravel(), ".", ms=2.5, alpha=0.5, color=styles[kind][0],
                    label=f"{styles[kind][1]} (every sample)")
    ax.axhline(1.0, color="k", ls="--", lw=1.2,
               label=r"1 (the bound $\|\delta_j\| \leq \|\delta_{j+1}\|$)")
    ax.set_title(r"backward pass, layer by layer: $\|\delta_j\| \,/\, \|\delta_{j+1}\|$")
    ax.set_xlabel(r"layer $j$")
    ax.set_ylabel(r"$\|\delta_j\| \,/\, \|\delta_{j+1}\|$ (log)")
    ax.legend(loc="lower left")

    ax = axes[1, 1]
    looks = [("C3", "-o"), ("C1", "-o"), ("C4", "--s"), ("C2", ":^")]
    for (name, losses), (c, style) in zip(d["clipping"].items(), looks, strict=True):
        vals = np.asarray(losses, dtype=float)
        finite = np.isfinite(vals)
        overflow = f" (overflows at step {int(np.argmin(finite))})" if not finite.all() else ""
        label = name + overflow
        ax.semilogy(np.arange(len(vals))[finite], vals[finite], style, ms=3, color=c,
                    label=label, mfc="none")
        if not finite.all():
            ax.plot([int(np.argmin(finite))], [vals[finite][-1]], "x", ms=10, mew=2, color=c)
    ax.set_title("training from the 3×He start (minibatch SGD, lr 0.01)")
    ax.set_xlabel("SGD step")
    ax.set_ylabel(r"minibatch loss $\frac{1}{2}\|u - y\|^2$ (log)")
    ax.legend(loc="center right")
    for ax in axes.flat:  # layers and steps are whole numbers
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(r"Exploding gradients and the lecture's control: $\|W_j\|_2 \leq 1$, "
                 r"$\|b_j\| \leq d$, 1-Lipschitz $\sigma$ " + f"({n}-layer width-{d['p']} ReLU nets)",
                 fontsize=12)
    return save(fig, path)

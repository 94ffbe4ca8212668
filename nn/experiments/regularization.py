"""Overfitting and the lecture's regularizers on digits: the train/test gap of each.

Set-up (overparameterized on purpose): 100 training digits, a wide net
``64 → 256 → 256 → 10`` (ReLU, ≈ 84k weights, 845 per sample), cross-entropy, Adam (lr 1e-3,
batches of 50) for a fixed number of epochs. Test set: the rest of the 1797 digits, minus 100
validation digits that only early stopping looks at (the same test set for every row).

Two regimes: clean labels, where the digits are easy and every regularizer changes the gap by a
point or so; and 20% of the training (and validation) labels flipped to another class, where the
unregularized net memorizes the wrong labels (train accuracy 1) and the regularizers' effect is
large. Test labels are always clean.

Rows (each seeded alike; the table averages over a few data splits):

* ``none``: the MLP as is.
* ``Tikhonov``: + lam/2 Σ‖W_j‖² (``nn.tikhonov`` on the weight matrices), lam = 3e-2.
* ``dropout``: ``nn.Dropout(0.5)`` after each hidden activation (inverted; identity in eval).
* ``early stopping``: the epoch with the lowest validation loss (patience 20 epochs; the weights
  of that epoch are restored).
* ``augmentation``: each batch's images shifted by a random ±1 pixel in each direction.
* ``residual``: the same widths with the two hidden layers as residual blocks z + σ(Wz + b),
  unregularized: the baseline of the next row.
* ``stochastic depth``: those blocks as ``nn.StochasticDepth(p = 0.5)`` (layer dropout).

Reported: accuracy on the training and test sets and their gap, and the same for the mean
cross-entropy (the training objective), whose gap shows the effect more clearly than accuracy.
"""

from __future__ import annotations

import numpy as np

from ..activations import ReLU
from ..blocks import Dropout, Residual, StochasticDepth
from ..layers import Dense
from ..losses import tikhonov
from ..module import Sequential
from ..optim import Adam
from ._common import (
    Result,
    Timer,
    accuracy,
    count_parameters,
    evaluate,
    load_digits_split,
    pyplot,
    save,
    shift_digits,
    train,
)

METHODS = ("none", "Tikhonov", "dropout", "early stopping", "augmentation", "residual",
           "stochastic depth")
TIKHONOV_LAM = 3e-2
DROPOUT_P = 0.5
DEPTH_DROP_P = 0.5


def build(method: str, width: int, seed: int) -> Sequential:
    """The net of `method` (module docstring), float64."""
    from ..module import Parameter

    rng = np.random.default_rng(seed)

    def dense(a, b):
        layer = Dense(a, b, rng=rng)
        layer.W, layer.b = Parameter(layer.W.data.astype(np.float64)), Parameter(np.zeros(b))
        return layer

    if method == "dropout":
        return Sequential(dense(64, width), ReLU(), Dropout(DROPOUT_P, rng=rng),
                          dense(width, width), ReLU(), Dropout(DROPOUT_P, rng=rng),
                          dense(width, 10))
    if method in ("residual", "stochastic depth"):
        blocks = [Sequential(dense(width, width), ReLU()) for _ in range(2)]
        wrap = ((lambda b: StochasticDepth(b, DEPTH_DROP_P, rng=rng))
                if method == "stochastic depth" else Residual)
        return Sequential(dense(64, width), ReLU(), *[wrap(b) for b in blocks], dense(width, 10))
    return Sequential(dense(64, width), ReLU(), dense(width, width), ReLU(), dense(width, 10))


def fit_one(method: str, split, width: int, epochs: int, seed: int) -> dict:
    """Train one net of `method` on split = (Xtr, ytr, Xval, yval, Xte, yte); its scores."""
    Xtr, ytr, Xval, yval, Xte, yte = split
    model = build(method, width, seed)
    opt = Adam(model.parameters(), lr=1e-3)
    weights = [p for name, p in model.named_parameters() if name.endswith("W")]
    kwargs: dict = {}
    if method == "Tikhonov":
        kwargs["penalty"] = lambda: tikhonov(weights, TIKHONOV_LAM)
    if method == "augmentation":
        kwargs["augment"] = shift_digits
    best = {"loss": np.inf, "epoch": 0, "state": None}
    if method == "early stopping":
        def on_epoch(epoch: int) -> bool:
            val = evaluate(model, Xval, yval, "cross_entropy")
            if val < best["loss"]:
                best.update(loss=val, epoch=epoch + 1, state=model.state_dict())
            return epoch + 1 - best["epoch"] >= 20  # patience: 20 epochs without improvement
        kwargs["on_epoch"] = on_epoch
    history = train(model, Xtr, ytr, loss="cross_entropy", opt=opt, epochs=epochs,
                    batch_size=50, rng=seed, **kwargs)
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    out = {
        "train_acc": accuracy(model, Xtr, ytr), "test_acc": accuracy(model, Xte, yte),
        "train_loss": evaluate(model, Xtr, ytr, "cross_entropy"),
        "test_loss": evaluate(model, Xte, yte, "cross_entropy"),
        "epochs": best["epoch"] if method == "early stopping" else len(history) - 1,
        "weights": count_parameters(model)[0],
    }
    out["acc_gap"] = out["train_acc"] - out["test_acc"]
    out["loss_gap"] = out["test_loss"] - out["train_loss"]
    return out


def make_split(n_train: int, seed: int, n_val: int = 100, label_noise: float = 0.0):
    """(Xtr, ytr, Xval, yval, Xte, yte); a fraction `label_noise` of the training labels (and
    of the validation labels, which come from the same source) replaced by another class."""
    Xtr, ytr, Xrest, yrest = load_digits_split(n_train, seed=seed)
    Xval, yval, Xte, yte = Xrest[:n_val], yrest[:n_val], Xrest[n_val:], yrest[n_val:]
    rng = np.random.default_rng([seed, 1])
    ytr, yval = ytr.copy(), yval.copy()
    for y in (ytr, yval):
        flip = rng.permutation(len(y))[:int(round(label_noise * len(y)))]
        y[flip] = (y[flip] + rng.integers(1, 10, len(flip))) % 10  # always a different class
    return Xtr, ytr, Xval, yval, Xte, yte


def regime_name(label_noise: float) -> str:
    return "clean labels" if label_noise == 0 else f"{label_noise:.0%} labels flipped"


def run(quick: bool = False, seed: int = 0, n_train: int = 100, width: int = 256,
        epochs: int | None = None, seeds: int | None = None,
        methods: tuple[str, ...] = METHODS, label_noises: tuple[float, ...] = (0.0, 0.2)) -> Result:
    epochs = epochs or (60 if quick else 150)
    n_seeds = seeds or (1 if quick else 3)
    keys = ("train_acc", "test_acc", "acc_gap", "train_loss", "test_loss", "loss_gap", "epochs")
    data: dict = {"n_train": n_train, "width": width, "epochs": epochs, "n_seeds": n_seeds,
                  "methods": list(methods), "regimes": {}, "per_seed": {}}
    rows, notes = [], []
    with Timer() as t:
        for noise in label_noises:
            per_seed = []
            for s in range(seed, seed + n_seeds):
                split = make_split(n_train, s, label_noise=noise)
                per_seed.append({m: fit_one(m, split, width, epochs, s) for m in methods})
            mean = {m: {k: float(np.mean([r[m][k] for r in per_seed])) for k in keys}
                    for m in methods}
            name = regime_name(noise)
            data["regimes"][name] = mean
            data["per_seed"][name] = per_seed
            data["weights"] = per_seed[0][methods[0]]["weights"]
            rows += [[name, m, mean[m]["train_acc"], mean[m]["test_acc"], mean[m]["acc_gap"],
                      mean[m]["train_loss"], mean[m]["test_loss"], mean[m]["loss_gap"],
                      int(round(mean[m]["epochs"]))] for m in methods]
            notes += _compare(name, mean, methods)
    return Result("regularization", f"digits, {n_train} training samples, 64→{width}→{width}→10 "
                  f"({data['weights']:,} weights), {epochs} epochs of Adam, mean of "
                  f"{n_seeds} split(s)",
                  ["training labels", "method", "train acc", "test acc", "acc gap",
                   "train loss", "test loss", "loss gap", "epochs"], rows, data, notes,
                  t.seconds)


def _verdict(value: float, ref: float, noise: float) -> str:
    """'smaller' / 'NOT smaller', or 'about the same' within `noise` (split-to-split scatter)."""
    if abs(value - ref) < noise:
        return "about the same"
    return "smaller" if value < ref else "NOT smaller"


def _compare(regime: str, mean: dict, methods) -> list[str]:
    """One sentence per regularizer: its gaps against its baseline's."""
    if "none" not in mean:
        return []
    out = []
    for m in methods:
        if m in ("none", "residual"):
            continue
        ref_name = "residual" if m == "stochastic depth" and "residual" in mean else "none"
        ref, r = mean[ref_name], mean[m]
        out.append(
            f"{regime}, {m} vs {ref_name}: accuracy gap {r['acc_gap']:.3f} vs {ref['acc_gap']:.3f} "
            f"({_verdict(r['acc_gap'], ref['acc_gap'], 0.005)}), loss gap "
            f"{r['loss_gap']:.3f} vs {ref['loss_gap']:.3f} "
            f"({_verdict(r['loss_gap'], ref['loss_gap'], 0.02 * ref['loss_gap'])}), "
            f"test accuracy {r['test_acc']:.3f} vs {ref['test_acc']:.3f}.")
    return out


def plot(result: Result, path) -> str:
    plt = pyplot()
    d = result.data
    methods = d["methods"]
    regimes = list(d["regimes"])
    fig, axes = plt.subplots(len(regimes), 2, figsize=(13, 4.2 * len(regimes)), squeeze=False)
    x = np.arange(len(methods))
    w = 0.38
    for row, regime in zip(axes, regimes, strict=True):
        mean = d["regimes"][regime]
        ax = row[0]
        ax.bar(x - w / 2, [mean[m]["train_acc"] for m in methods], w, label="train accuracy",
               color="C0")
        ax.bar(x + w / 2, [mean[m]["test_acc"] for m in methods], w, label="test accuracy",
               color="C1")
        for i, m in enumerate(methods):
            ax.annotate(f"gap {mean[m]['acc_gap']:.3f}", (x[i], mean[m]["train_acc"]),
                        ha="center", xytext=(0, 3), textcoords="offset points", fontsize=8)
        lo = min(mean[m]["test_acc"] for m in methods)
        ax.set_ylim(max(0.0, lo - 0.1), 1.06)
        ax.set_xticks(x, methods, rotation=15)
        ax.set_ylabel("accuracy")
        ax.set_title(f"{regime}: accuracy, train vs test (gap = train − test)")
        ax = row[1]
        ax.bar(x - w / 2, [mean[m]["train_loss"] for m in methods], w, label="train loss",
               color="C0")
        ax.bar(x + w / 2, [mean[m]["test_loss"] for m in methods], w, label="test loss",
               color="C1")
        ax.set_yscale("log")
        ax.set_xticks(x, methods, rotation=15)
        ax.set_ylabel("mean cross-entropy (log)")
        ax.set_title(f"{regime}: cross-entropy, train vs test")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, ["train", "test"], loc="upper right", ncol=2, fontsize=10)
    fig.suptitle(f"Overfitting and regularization: {d['n_train']} training digits, "
                 f"{d['weights']:,} weights, {d['epochs']} epochs (mean of {d['n_seeds']} "
                 "split(s); 'residual' is the baseline of 'stochastic depth'; test labels clean)",
                 fontsize=11, x=0.45)
    return save(fig, path)

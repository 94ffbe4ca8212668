"""What every experiment shares: the `Result` it returns, tables, data, a small training loop,
per-layer states z_j and backprop variables δ_j, and the matplotlib set-up for its plot.

Everything here uses only the engine's public API (``import autograd_core as ag``) and ``nn``.
matplotlib is imported only inside `pyplot()`, so the experiments (and their tests) run without it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

import autograd_core as ag

from ..layers import Dense
from ..losses import cross_entropy, mse_loss
from ..module import Module, _values


@dataclass
class Result:
    """One experiment's outcome: a table to print, the numbers behind it, and notes.

    ``data`` holds every array the plot and the tests read; ``notes`` are sentences that state
    which claim held (or did not) with the numbers.
    """

    name: str
    title: str
    headers: list[str]
    rows: list[list]
    data: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def table(self) -> str:
        return format_table(self.headers, self.rows)

    def report(self) -> str:
        lines = [f"== {self.name}: {self.title}", self.table()]
        lines += [f"* {n}" for n in self.notes]
        lines.append(f"({self.seconds:.1f} s)")
        return "\n".join(lines)


def _cell(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}" if abs(int(v)) >= 10_000 else str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if v == 0:
            return "0"
        if not np.isfinite(v):
            return str(v)
        a = abs(v)
        return f"{v:.3g}" if 1e-3 <= a < 1e4 else f"{v:.2e}"
    return str(v)


def format_table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A plain-text table: a header line, a rule, one line per row; numbers right-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]

    def line(values, raw):
        out = []
        for i, (s, w) in enumerate(zip(values, widths, strict=True)):
            numeric = raw is not None and (isinstance(raw[i], (int, float, np.number))
                                           or raw[i] == "—")  # "—": a number that does not apply
            out.append(s.rjust(w) if numeric and not isinstance(raw[i], bool) else s.ljust(w))
        return "  ".join(out).rstrip()

    text = [line(headers, None), "  ".join("-" * w for w in widths)]
    text += [line(c, r) for c, r in zip(cells, rows, strict=True)]
    return "\n".join(text)


def single_threaded_blas():
    """A context in which BLAS uses one thread (threadpoolctl, which scikit-learn brings).

    The matrices here are small: a multi-threaded BLAS gains nothing on them, and on a busy
    machine its spinning threads made a run 5–10× slower. Without threadpoolctl: no change.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - depends on the environment
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


class Timer:
    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.t0


# ---- data ----------------------------------------------------------------------------------------

def load_digits_split(n_train: int, n_test: int | None = None, seed: int = 0,
                      dtype=np.float64) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8×8 digits (1797 samples, 64 pixels scaled to [0, 1], 10 classes), shuffled
    with `seed` and split into ``n_train`` training and ``n_test`` (default: the rest) test
    samples. The data ships with scikit-learn (nothing is downloaded)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(X))
    X, y = (X[order] / 16.0).astype(dtype), y[order].astype(np.int64)
    n_test = len(X) - n_train if n_test is None else n_test
    if n_train + n_test > len(X):
        raise ValueError(f"digits has {len(X)} samples, asked for {n_train} + {n_test}")
    return X[:n_train], y[:n_train], X[n_train:n_train + n_test], y[n_train:n_train + n_test]


def shift_digits(X: np.ndarray, rng: np.random.Generator, max_shift: int = 1) -> np.ndarray:
    """Each 8×8 image moved by a random (dy, dx) in [-max_shift, max_shift]², zero fill."""
    imgs = X.reshape(-1, 8, 8)
    out = np.zeros_like(imgs)
    shifts = rng.integers(-max_shift, max_shift + 1, size=(len(X), 2))
    for k, (dy, dx) in enumerate(shifts):
        src = imgs[k, max(0, -dy):8 - max(0, dy), max(0, -dx):8 - max(0, dx)]
        out[k, max(0, dy):max(0, dy) + src.shape[0], max(0, dx):max(0, dx) + src.shape[1]] = src
    return out.reshape(len(X), 64)


def make_regression(n: int, d: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth nonlinear target: ``y = Σ_k sin(a_kᵀx) / √K`` (K = 4 random directions),
    x ~ N(0, I_d), float64. Shapes ``(n, d)`` and ``(n, 1)``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    A = rng.standard_normal((d, 4)) / np.sqrt(d) * 1.5
    y = np.sin(X @ A).sum(axis=1, keepdims=True) / 2.0
    return X, y


# ---- models --------------------------------------------------------------------------------------

def dense_layers(model: Module) -> list[Dense]:
    """Every Dense layer of `model`, in forward order."""
    return [m for m in model.modules() if isinstance(m, Dense)]


def set_weights(model: Module, init: Callable[[tuple, np.random.Generator], np.ndarray],
                rng: np.random.Generator, bias: Callable | None = None) -> Module:
    """Replace every Dense layer's W by ``init(shape, rng)`` (its dtype kept, e.g. float64) and
    b by ``bias(shape, rng)`` or zeros. Parameters are re-created, so build optimizers after."""
    from ..module import Parameter

    for layer in dense_layers(model):
        layer.W = Parameter(np.asarray(init(layer.W.shape, rng)))
        b = np.zeros(layer.b.shape) if bias is None else bias(layer.b.shape, rng)
        layer.b = Parameter(np.asarray(b, dtype=layer.W.data.dtype))
    return model


def count_parameters(model: Module) -> tuple[int, int]:
    """(number of weights, number of biases): entries of the matrices (ndim >= 2) and of the
    vectors (ndim 1) among ``model.parameters()``."""
    ps = model.parameters()
    return (sum(p.size for p in ps if p.ndim >= 2), sum(p.size for p in ps if p.ndim == 1))


# ---- z_j and δ_j ---------------------------------------------------------------------------------

def layer_maps(model: Module) -> list[Callable]:
    """The maps z_j ↦ z_{j+1} of a net built as a Sequential ``model.layers`` (or the model
    itself) of Dense layers each followed by zero or more parameter-free modules: map j is
    Dense_j and the activation after it (none after the last Dense of an `MLP`, σ_n = Id)."""
    layers = list(getattr(model, "layers", model))
    maps: list[list[Module]] = []
    for layer in layers:
        if isinstance(layer, Dense) or not maps:
            maps.append([layer])
        else:
            maps[-1].append(layer)

    def compose(group):
        def f(z):
            for m in group:
                z = m(z)
            return z
        return f

    return [compose(g) for g in maps]


def states_and_deltas(maps: Sequence[Callable], x: np.ndarray, y: np.ndarray,
                      loss: str = "mse") -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Forward z_1 = x, z_{j+1} = map_j(z_j) on the engine's tape; then each δ_j = ∂L/∂z_j.

    L is the SUM over samples of the per-sample loss (½‖u − y‖² or cross-entropy), so row i of
    ∂L/∂Z_j is exactly sample i's δ_j (sample i's loss depends only on row i). Returns the
    arrays ``[z_1 .. z_{n+1}]`` and ``[δ_1 .. δ_{n+1}]``, each of shape (N, n_j).

    Each δ_j is its own ``tape.gradient`` call: the engine's tape.gradient with several sources
    on one path returns zeros for all but the latest (it stops the sweep at every source), so
    asking for all at once would be wrong.
    """
    z = ag.tensor(x, requires_grad=True)
    zs = [z]
    with ag.Tape() as tape:
        for f in maps:
            z = f(z)
            zs.append(z)
        L = (mse_loss if loss == "mse" else cross_entropy)(z, y, reduction="sum")
    deltas = [_values(tape.gradient(L, s)) for s in zs]
    return [t.data for t in zs], deltas


def row_norms(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Per-sample Euclidean norms: shape (len(arrays), N)."""
    return np.stack([np.linalg.norm(a.reshape(len(a), -1), axis=1) for a in arrays])


# ---- training ------------------------------------------------------------------------------------

def batch_loss(model: Module, X, y, loss: str, reduction: str = "mean") -> ag.Tensor:
    u = model(X)
    return mse_loss(u, y, reduction) if loss == "mse" else cross_entropy(u, y, reduction)


def evaluate(model: Module, X: np.ndarray, y: np.ndarray, loss: str) -> float:
    """Mean loss on (X, y) in eval mode, recording nothing."""
    was = model.training
    model.eval()
    try:
        with ag.no_grad():
            return float(batch_loss(model, X, y, loss).item())
    finally:
        model.train(was)


def accuracy(model: Module, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of argmax predictions equal to the labels, in eval mode."""
    was = model.training
    model.eval()
    try:
        with ag.no_grad():
            return float(np.mean(np.argmax(_values(model(X)), axis=1) == y))
    finally:
        model.train(was)


def train(model: Module, X: np.ndarray, y: np.ndarray, *, loss: str, opt, epochs: int,
          batch_size: int | None = None, rng: np.random.Generator | int = 0,
          penalty: Callable[[], ag.Tensor] | None = None,
          augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
          after_step: Callable[[], None] | None = None,
          on_epoch: Callable[[int], bool | None] | None = None) -> list[float]:
    """Minibatch training: each epoch shuffles (X, y) and takes one `opt` step per batch
    (``batch_size=None``: full batch, i.e. gradient descent).

    `penalty()` is added to each batch loss (e.g. Tikhonov); `augment(Xb, rng)` transforms each
    batch's inputs; `after_step()` runs after each step (e.g. a projection); `on_epoch(epoch)`
    after each epoch, and training stops when it returns True (early stopping).
    Returns the training loss on all of (X, y) (eval mode, without the penalty) after each epoch,
    preceded by the loss before training.
    """
    rng = np.random.default_rng(rng)
    n = len(X)
    bs = n if batch_size is None else batch_size
    history = [evaluate(model, X, y, loss)]
    model.train()
    for epoch in range(epochs):
        order = rng.permutation(n) if bs < n else np.arange(n)
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            Xb = X[idx] if augment is None else augment(X[idx], rng)
            L = batch_loss(model, Xb, y[idx], loss)
            if penalty is not None:
                L = L + penalty()
            L.backward()
            opt.step()
            opt.zero_grad()
            if after_step is not None:
                after_step()
        history.append(evaluate(model, X, y, loss))
        if on_epoch is not None and on_epoch(epoch):
            break
    return history


# ---- plots ---------------------------------------------------------------------------------------

def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (nothing opens a window)."""
    try:
        import matplotlib
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'autograd-core[demo]' "
                          "(or pip install matplotlib)") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3,
                         "axes.titlesize": 11, "legend.fontsize": 8.5})
    return plt


def save(fig, path) -> str:
    import os

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return str(path)


__all__ = [
    "Result", "format_table", "Timer", "single_threaded_blas", "load_digits_split", "shift_digits",
    "make_regression",
    "dense_layers", "set_weights", "count_parameters", "layer_maps", "states_and_deltas",
    "row_norms", "batch_loss", "evaluate", "accuracy", "train", "pyplot", "save",
]

"""The MLP family: W1 (wide ReLU MLP), W2 (tiny, overhead-bound), W3 (residual), W6 (deep sigmoid).

One model for all four, the lecture's (and ``nn.reference.backprop``'s)::

    plain:     v_j = z_j W_jᵀ + b_j,  z_{j+1} = σ(v_j) for j < n,  u = v_n (last layer affine)
    residual:  z_2 = σ(W_1 x + b_1);  z_{j+1} = z_j + σ(W_j z_j + b_j) for the `depth` middle
               layers;  u = W_n z_n + b_n          (``nn.ResidualMLP(n_in, width, depth, n_out)``)

Losses, averaged over the batch: cross-entropy ``log Σ_k e^{u_k} − u_label`` with integer labels,
or MSE ``½‖u − y‖²`` per sample. Weights: ``W ~ N(0, gain²/fan_in)`` (gain √2 for ReLU, 1 for
sigmoid); in W3 the residual-block weights are further scaled by 1/√depth so 32 blocks neither
blow up nor vanish; biases ``N(0, 0.1²)``; inputs ``N(0, 1)``; all float32 from a fixed seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import ours_jit, peers
from .workload import Built, Data, Workload, engine, interleave, rng_for, softmax_ce_in_place


@dataclass(frozen=True)
class MLPSpec:
    sizes: tuple[int, ...]  # widths [n_in, ..., n_out]; residual: n_in, width × (depth+1), n_out
    activation: str  # "relu" | "sigmoid"
    loss: str  # "cross_entropy" | "mse"
    batch: int
    residual: bool = False

    @property
    def depth(self) -> int:  # residual blocks (the middle layers)
        return len(self.sizes) - 3 if self.residual else 0


def _residual_sizes(n_in: int, width: int, depth: int, n_out: int) -> tuple[int, ...]:
    return (n_in,) + (width,) * (depth + 1) + (n_out,)


SPECS = {  # full sizes, tiny sizes (the smoke test)
    "W1": (MLPSpec((784, 256, 256, 10), "relu", "cross_entropy", 128),
           MLPSpec((12, 8, 8, 3), "relu", "cross_entropy", 5)),
    "W2": (MLPSpec((16,) + (16,) * 8 + (4,), "relu", "cross_entropy", 8),
           MLPSpec((4, 4, 4, 4, 2), "relu", "cross_entropy", 3)),
    "W3": (MLPSpec(_residual_sizes(128, 128, 32, 128), "relu", "mse", 64, residual=True),
           MLPSpec(_residual_sizes(6, 6, 3, 6), "relu", "mse", 4, residual=True)),
    "W6": (MLPSpec((64,) * 21, "sigmoid", "mse", 32),
           MLPSpec((5,) * 6, "sigmoid", "mse", 3)),
}
TITLES = {
    "W1": "MLP 784-256-256-10, ReLU, softmax CE, batch 128",
    "W2": "MLP 16-(16x8)-4, ReLU, softmax CE, batch 8 (overhead-bound)",
    "W3": "residual MLP width 128, 32 blocks z + relu(Wz + b), MSE, batch 64",
    "W6": "20-layer sigmoid MLP width 64, MSE, batch 32",
}


def make(key: str, tiny: bool) -> Data:
    spec = SPECS[key][1 if tiny else 0]
    rng = rng_for(key)
    gain = np.sqrt(2.0) if spec.activation == "relu" else 1.0
    Ws, bs = [], []
    n_layers = len(spec.sizes) - 1
    for j, (a, b) in enumerate(zip(spec.sizes[:-1], spec.sizes[1:], strict=True)):
        std = gain / np.sqrt(a)
        if spec.residual and 0 < j < n_layers - 1:
            std /= np.sqrt(spec.depth)
        Ws.append((rng.standard_normal((b, a)) * std).astype(np.float32))
        bs.append((rng.standard_normal(b) * 0.1).astype(np.float32))
    x = rng.standard_normal((spec.batch, spec.sizes[0])).astype(np.float32)
    if spec.loss == "cross_entropy":
        y = rng.integers(0, spec.sizes[-1], spec.batch).astype(np.int64)
    else:
        y = rng.standard_normal((spec.batch, spec.sizes[-1])).astype(np.float32)
    names = interleave([f"W{j}" for j in range(n_layers)], [f"b{j}" for j in range(n_layers)])
    return Data(names, interleave(Ws, bs), x, y,
                spec={"sizes": list(spec.sizes), "activation": spec.activation, "loss": spec.loss,
                      "batch": spec.batch, "residual": spec.residual, "depth": spec.depth,
                      "dtype": "float32"})


def _spec(d: Data) -> MLPSpec:
    s = d.spec
    return MLPSpec(tuple(s["sizes"]), s["activation"], s["loss"], s["batch"], s["residual"])


def _is_block(spec: MLPSpec, j: int) -> bool:
    return spec.residual and 0 < j < len(spec.sizes) - 2


# ---- peers ---------------------------------------------------------------------------------------


def build_ours(d: Data, ag=None, nn=None) -> Built:
    """The engine through `nn`: nn.MLP / nn.ResidualMLP, nn.cross_entropy / nn.mse_loss.
    `ag`, `nn`: the engine and nn modules to build with (default: the working tree's)."""
    ag, nn = engine(ag, nn)

    spec = _spec(d)
    if spec.residual:
        model = nn.ResidualMLP(spec.sizes[0], spec.sizes[1], spec.depth, spec.sizes[-1],
                               activation=spec.activation, rng=0)
    else:
        model = nn.MLP(list(spec.sizes), activation=spec.activation, rng=0)
    names = [n for n, _ in model.named_parameters()]
    model.load_state_dict(dict(zip(names, d.params, strict=True)))
    params = model.parameters()
    loss_fn = nn.cross_entropy if spec.loss == "cross_entropy" else nn.mse_loss
    x, y = ag.tensor(d.x), d.y

    def step():
        for p in params:
            p.grad = None
        loss = loss_fn(model(x), y)
        loss.backward()
        return [p.grad for p in params]

    return Built(step, params=params)


def build_ours_ag(d: Data, ag=None, nn=None) -> Built:
    """The same math written directly with `ag` ops (no Module calls, no loss-argument checks)."""
    ag, _ = engine(ag, nn)

    spec = _spec(d)
    params = [ag.tensor(p, requires_grad=True) for p in d.params]
    act = ag.relu if spec.activation == "relu" else ag.sigmoid
    x, y = ag.tensor(d.x), d.y
    n = d.x.shape[0]
    rows = np.arange(n)
    n_layers = len(params) // 2

    def step():
        for p in params:
            p.grad = None
        h = x
        for j in range(n_layers):
            v = h @ params[2 * j].T + params[2 * j + 1]
            if j == n_layers - 1:
                h = v
            elif _is_block(spec, j):
                h = h + act(v)
            else:
                h = act(v)
        if spec.loss == "cross_entropy":
            loss = ag.sum(ag.logsumexp(h, axis=1) - h[rows, y]) / n
        else:
            r = h - y
            loss = ag.sum(r * r) * (0.5 / n)
        loss.backward()
        return [p.grad for p in params]

    return Built(step)


def build_reference(d: Data) -> Built:
    """The correctness oracle (the old floor): ``nn.reference.backprop``, written for clarity."""
    from nn.reference import backprop

    spec = _spec(d)
    Ws, bs = d.params[0::2], d.params[1::2]

    def step():
        _, dWs, dbs = backprop(Ws, bs, d.x, d.y, activation=spec.activation, loss=spec.loss,
                               reduction="mean", residual=spec.residual, input_projection=spec.residual)
        return interleave(dWs, dbs)

    return Built(step)


# Note [floor]: the floor, every ratio's denominator, is the fastest correct hand-written NumPy
# step we could write: one thread, every array a buffer made once and reused (out=), no argument
# checks, the loss computed as every peer computes it. `reference` (nn.reference.backprop here,
# plainly written NumPy for W4 and W5) is the oracle its gradients are checked against. A trick
# stayed only when it measured faster; benchmarks/README.md ("The floor") lists each one's gain
# and what was tried and dropped.

# relu's mask: np.sign of the relu output (0 or 1 as floats, then a float multiply) up to this
# many elements an activation, (h > 0) above (multiplying by a bool array is slower on small
# arrays, faster on large ones)
SIGN_MASK_MAX = 4096


def build_numpy(d: Data) -> Built:
    """The floor (Note [floor]): the forward keeps each layer's input and σ's output, the backward
    works in those buffers (σ' from σ's output, relu's mask from its sign or h > 0)."""
    spec = _spec(d)
    Ws, bs = d.params[0::2], d.params[1::2]
    n, last, dt = spec.batch, len(Ws) - 1, d.x.dtype
    relu, ce = spec.activation == "relu", spec.loss == "cross_entropy"
    block = [_is_block(spec, j) for j in range(last + 1)]
    # NumPy scalars of the arrays' dtype: a Python number costs a conversion in every call
    one, zero, inv_n, fn = dt.type(1), dt.type(0), dt.type(1.0 / n), dt.type(n)
    sign_mask = n * max(W.shape[0] for W in Ws[:-1]) <= SIGN_MASK_MAX
    x, y = d.x, d.y
    k = Ws[-1].shape[0]
    rowk = np.arange(n) * k  # flat index of row i's first logit

    z = [x] + [np.empty((n, W.shape[0]), dt) for W in Ws[:-1]]  # z[j]: the input of layer j
    a = [np.empty((n, W.shape[0]), dt) if block[j] else None for j, W in enumerate(Ws)]  # relu(v_j)
    D = [None] + [np.empty((n, W.shape[1]), dt) for W in Ws[1:]]  # D[j]: dL/dz_j
    # dL/dv_j: in D[j+1] of a plain layer; a residual block's relu(v_j), dead once masked
    G = [(a[j] if relu else np.empty_like(a[j])) if block[j] else D[j + 1] for j in range(last)]
    dWs, dbs = [np.empty_like(W) for W in Ws], [np.empty_like(b) for b in bs]
    grads = interleave(dWs, dbs)
    # per hidden layer: input, Wᵀ (a view, made once), b, σ's output, z_{j+1} of a residual block
    fwd = [(z[j], Ws[j].T, bs[j], a[j] if block[j] else z[j + 1], z[j + 1] if block[j] else None)
           for j in range(last)]
    # per hidden layer, last first: dL/dz_{j+1}, σ's output, dL/dv_j, input, W, dW, db, dL/dz_j
    # (None for the first layer), residual
    bwd = [(D[j + 1], a[j] if block[j] else z[j + 1], G[j], z[j], Ws[j], dWs[j], dbs[j], D[j],
            block[j]) for j in range(last - 1, -1, -1)]
    zl, Wl, WTl, bl, dWl, dbl, Dl = z[last], Ws[last], Ws[last].T, bs[last], dWs[last], dbs[last], D[last]
    u = np.empty((n, k), dt)
    uflat, col, ones = u.reshape(-1), np.empty((n, 1), dt), np.ones(n, dt)

    def step():
        if relu:
            for zi, WT, b, h, zo in fwd:
                np.dot(zi, WT, out=h)
                np.add(h, b, out=h)
                np.maximum(h, zero, out=h)
                if zo is not None:
                    np.add(zi, h, out=zo)
        else:
            with np.errstate(over="ignore"):  # e^{-v} = inf for v << 0 gives σ = 0, correctly
                for zi, WT, b, h, zo in fwd:
                    np.dot(zi, WT, out=h)
                    np.add(h, b, out=h)
                    np.negative(h, out=h)
                    np.exp(h, out=h)
                    np.add(h, one, out=h)
                    np.reciprocal(h, out=h)  # σ(v) = 1 / (1 + e^{-v})
                    if zo is not None:
                        np.add(zi, h, out=zo)
        np.dot(zl, WTl, out=u)
        np.add(u, bl, out=u)
        if ce:
            loss = softmax_ce_in_place(u, uflat, col, rowk + y, fn, inv_n)
        else:
            np.subtract(u, y, out=u)
            loss = 0.5 * inv_n * np.vdot(u, u)
            np.multiply(u, inv_n, out=u)
        np.dot(u.T, zl, out=dWl)
        np.dot(ones, u, out=dbl)  # the bias gradient as a matrix-vector product
        np.dot(u, Wl, out=Dl)
        for dz, h, g, zi, W, dW, db, dzi, residual in bwd:
            if not relu:  # σ' = s(1 − s), s = σ's output (dead after this)
                np.multiply(dz, h, out=g)
                np.subtract(one, h, out=h)
                np.multiply(g, h, out=g)
            elif sign_mask:
                np.sign(h, out=h)
                np.multiply(dz, h, out=g)
            else:
                np.multiply(dz, h > 0, out=g)
            np.dot(g.T, zi, out=dW)
            np.dot(ones, g, out=db)
            if dzi is not None:
                np.dot(g, W, out=dzi)
                if residual:
                    np.add(dzi, dz, out=dzi)
        return grads, loss

    return Built(lambda: step()[0], lambda grads: [g.copy() for g in grads])


def build_torch(d: Data) -> Built:
    torch = peers.load_torch()
    F = torch.nn.functional
    spec = _spec(d)
    params = [torch.tensor(p, requires_grad=True) for p in d.params]
    act = torch.relu if spec.activation == "relu" else torch.sigmoid
    x, y = torch.from_numpy(d.x), torch.from_numpy(d.y)
    n_layers = len(params) // 2
    n = d.x.shape[0]

    def step():
        for p in params:
            p.grad = None
        h = x
        for j in range(n_layers):
            v = F.linear(h, params[2 * j], params[2 * j + 1])
            h = v if j == n_layers - 1 else h + act(v) if _is_block(spec, j) else act(v)
        if spec.loss == "cross_entropy":
            loss = F.cross_entropy(h, y)
        else:
            loss = ((h - y) ** 2).sum() * (0.5 / n)
        loss.backward()
        return [p.grad for p in params]

    return Built(step, lambda grads: [g.numpy() for g in grads])


def _functional_loss(xp, logsumexp, spec: MLPSpec, n: int):
    """The loss as a pure function of the parameter list, for JAX and HIPS autograd."""
    act = ((lambda v: xp.maximum(v, 0)) if spec.activation == "relu"
           else (lambda v: 1 / (1 + xp.exp(-v))))

    def loss(params, x, y):
        n_layers = len(params) // 2
        h = x
        for j in range(n_layers):
            v = h @ params[2 * j].T + params[2 * j + 1]
            h = v if j == n_layers - 1 else h + act(v) if _is_block(spec, j) else act(v)
        if spec.loss == "cross_entropy":
            return xp.sum(logsumexp(h, axis=1) - h[np.arange(n), y]) / n
        return xp.sum((h - y) ** 2) * (0.5 / n)

    return loss


def build_jax(d: Data) -> Built:
    jax = peers.load_jax()
    jnp = jax.numpy
    spec = _spec(d)
    loss = _functional_loss(jnp, jax.nn.logsumexp, spec, d.x.shape[0])
    f = jax.jit(jax.value_and_grad(loss))
    params = [jnp.asarray(p) for p in d.params]
    x = jnp.asarray(d.x)
    y = jnp.asarray(d.y.astype(np.int32) if d.y.dtype.kind == "i" else d.y)

    def step():
        return jax.block_until_ready(f(params, x, y)[1])

    return Built(step)


def build_hips(d: Data) -> Built:
    autograd = peers.load_hips()
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp

    spec = _spec(d)
    g = autograd.grad(_functional_loss(anp, logsumexp, spec, d.x.shape[0]))
    params = list(d.params)
    return Built(lambda: g(params, d.x, d.y))


BUILDERS = {"ours": build_ours, "ours-ag": build_ours_ag, "ours-jit": ours_jit.of(build_ours),
            "ours-jit-plain": ours_jit.of(build_ours, fuse=False),
            "numpy": build_numpy, "reference": build_reference,
            "torch": build_torch, "jax": build_jax, "autograd": build_hips}

WORKLOADS = [
    Workload(key, TITLES[key], lambda tiny, key=key: make(key, tiny), BUILDERS)
    for key in ("W1", "W2", "W3", "W6")
]

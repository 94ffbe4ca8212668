"""W4, a small CNN on NCHW batches, identical for every peer::

    x (N, 1, 16, 16)
    → conv3×3(1→8, stride 1, padding 1) + b → ReLU → avgpool 2×2      (N, 8, 8, 8)
    → conv3×3(8→16, stride 1, padding 1) + b → ReLU → avgpool 2×2     (N, 16, 4, 4)
    → flatten in NCHW order (N, 256) → dense u = f Wᵀ + b (N, 10) → softmax cross-entropy (mean)

Convolution is cross-correlation (``out[n,o,h,w] = b_o + Σ_{c,i,j} W[o,c,i,j] xp[n,c,h+i,w+j]``),
kernels ``(c_out, c_in, 3, 3)`` He-normal, dense ``W (10, 256)``, biases ``N(0, 0.1²)``, batch 64.
"""

from __future__ import annotations

import numpy as np

from . import peers
from .workload import Built, Data, Workload, engine, rng_for

FULL = {"batch": 64, "hw": 16, "c1": 8, "c2": 16, "classes": 10}
TINY = {"batch": 3, "hw": 8, "c1": 2, "c2": 3, "classes": 4}


def make(tiny: bool) -> Data:
    s = dict(TINY if tiny else FULL)
    rng = rng_for("W4")
    n, hw, c1, c2, k = s["batch"], s["hw"], s["c1"], s["c2"], s["classes"]
    n_flat = c2 * (hw // 4) ** 2

    def he(shape, fan_in):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    def bias(m):
        return (rng.standard_normal(m) * 0.1).astype(np.float32)

    params = [he((c1, 1, 3, 3), 9), bias(c1), he((c2, c1, 3, 3), c1 * 9), bias(c2),
              he((k, n_flat), n_flat), bias(k)]
    x = rng.standard_normal((n, 1, hw, hw)).astype(np.float32)
    y = rng.integers(0, k, n).astype(np.int64)
    s.update(padding=1, pool=2, dtype="float32")
    return Data(["conv1.W", "conv1.b", "conv2.W", "conv2.b", "fc.W", "fc.b"], params, x, y, s)


# ---- peers ---------------------------------------------------------------------------------------


def build_ours(d: Data, ag=None, nn=None) -> Built:
    """nn.Conv2d (ag.conv2d), nn.AvgPool2d (ag.avg_pool), nn.Flatten, nn.Dense, nn.cross_entropy."""
    ag, nn = engine(ag, nn)

    s = d.spec
    model = nn.Sequential(
        nn.Conv2d(1, s["c1"], 3, padding=1, rng=0), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(s["c1"], s["c2"], 3, padding=1, rng=0), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Dense(s["c2"] * (s["hw"] // 4) ** 2, s["classes"], rng=0),
    )
    names = [n for n, _ in model.named_parameters()]
    model.load_state_dict(dict(zip(names, d.params, strict=True)))
    params = model.parameters()
    x, y = ag.tensor(d.x), d.y

    def step():
        for p in params:
            p.grad = None
        loss = nn.cross_entropy(model(x), y)
        loss.backward()
        return [p.grad for p in params]

    return Built(step)


def build_ours_ag(d: Data, ag=None, nn=None) -> Built:
    """Written with ag ops: im2col as reshape + one batched matmul per conv, ag.avg_pool."""
    ag, _ = engine(ag, nn)

    params = [ag.tensor(p, requires_grad=True) for p in d.params]
    x, y = ag.tensor(d.x), d.y
    n = d.x.shape[0]
    rows = np.arange(n)

    def conv_relu_pool(h, W, b):
        N, C, H, Wd = h.shape
        O = W.shape[0]
        hp = ag.pad(h, ((0, 0), (0, 0), (1, 1), (1, 1)))
        win = ag.sliding_window(hp, (3, 3))  # (N, C, H, W, 3, 3), a view
        cols = ag.reshape(ag.transpose(win, (0, 1, 4, 5, 2, 3)), (N, C * 9, H * Wd))  # im2col
        u = ag.matmul(ag.reshape(W, (O, C * 9)), cols) + ag.reshape(b, (O, 1))  # (N, O, H·W)
        return ag.avg_pool(ag.relu(ag.reshape(u, (N, O, H, Wd))), (2, 2))

    def step():
        for p in params:
            p.grad = None
        h = conv_relu_pool(x, params[0], params[1])
        h = conv_relu_pool(h, params[2], params[3])
        u = ag.reshape(h, (n, -1)) @ params[4].T + params[5]
        loss = ag.sum(ag.logsumexp(u, axis=1) - u[rows, y]) / n
        loss.backward()
        return [p.grad for p in params]

    return Built(step)


def _windows(xp: np.ndarray) -> np.ndarray:
    """3×3 windows of a padded NHWC array: (N, H, W, C, 3, 3), a view (no copy)."""
    return np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(1, 2))


def _pad_hw(h: np.ndarray) -> np.ndarray:
    return np.pad(h, ((0, 0), (1, 1), (1, 1), (0, 0)))


def _pool(a: np.ndarray) -> np.ndarray:
    N, H, W, C = a.shape
    return a.reshape(N, H // 2, 2, W // 2, 2, C).mean(axis=(2, 4))


def _unpool(g: np.ndarray) -> np.ndarray:
    """The VJP of 2×2 average pooling: each input pixel gets a quarter of its window's cotangent."""
    N, H, W, C = g.shape
    q = (g * 0.25)[:, :, None, :, None, :]
    return np.broadcast_to(q, (N, H, 2, W, 2, C)).reshape(N, 2 * H, 2 * W, C)


def _col2im(dwin: np.ndarray, shape: tuple) -> np.ndarray:
    """Add window cotangents (N, H, W, C, 3, 3) back into a padded (N, H+2, W+2, C) array."""
    out = np.zeros(shape, dtype=dwin.dtype)
    H, W = dwin.shape[1:3]
    for i in range(3):
        for j in range(3):
            out[:, i:i + H, j:j + W, :] += dwin[..., i, j]
    return out


def build_numpy(d: Data) -> Built:
    """The floor: hand-derived forward and backward in NumPy, NHWC inside, im2col by
    ``sliding_window_view`` + ``tensordot`` (the 1-channel input is NHWC by a reshape)."""
    W1, b1, W2, b2, Wf, bf = d.params
    n = d.x.shape[0]
    rows = np.arange(n)

    def step():
        x = d.x.reshape(n, d.x.shape[2], d.x.shape[3], 1)  # C = 1: NCHW and NHWC coincide
        win1 = _windows(_pad_hw(x))
        u1 = np.tensordot(win1, W1, axes=([3, 4, 5], [1, 2, 3])) + b1  # (N, 16, 16, 8)
        p1 = _pool(np.maximum(u1, 0))
        xp2 = _pad_hw(p1)
        win2 = _windows(xp2)
        u2 = np.tensordot(win2, W2, axes=([3, 4, 5], [1, 2, 3])) + b2  # (N, 8, 8, 16)
        p2 = _pool(np.maximum(u2, 0))  # (N, 4, 4, 16)
        f = p2.transpose(0, 3, 1, 2).reshape(n, -1)  # NCHW flatten order
        u = f @ Wf.T + bf
        e = np.exp(u - u.max(axis=1, keepdims=True))
        du = e / e.sum(axis=1, keepdims=True)
        du[rows, d.y] -= 1
        du /= n  # softmax − onehot, averaged
        dWf, dbf = du.T @ f, du.sum(axis=0)
        dp2 = (du @ Wf).reshape(p2.shape[0], p2.shape[3], *p2.shape[1:3]).transpose(0, 2, 3, 1)
        du2 = _unpool(dp2) * (u2 > 0)
        dW2 = np.tensordot(du2, win2, axes=([0, 1, 2], [0, 1, 2]))  # (16, 8, 3, 3)
        db2 = du2.sum(axis=(0, 1, 2))
        dwin2 = np.tensordot(du2, W2, axes=([3], [0]))  # (N, 8, 8, 8, 3, 3)
        dp1 = _col2im(dwin2, xp2.shape)[:, 1:-1, 1:-1, :]
        du1 = _unpool(dp1) * (u1 > 0)
        dW1 = np.tensordot(du1, win1, axes=([0, 1, 2], [0, 1, 2]))  # (8, 1, 3, 3)
        db1 = du1.sum(axis=(0, 1, 2))
        return [dW1, db1, dW2, db2, dWf, dbf]

    return Built(step)


def build_torch(d: Data) -> Built:
    torch = peers.load_torch()
    F = torch.nn.functional
    params = [torch.tensor(p, requires_grad=True) for p in d.params]
    x, y = torch.from_numpy(d.x), torch.from_numpy(d.y)

    def step():
        for p in params:
            p.grad = None
        W1, b1, W2, b2, Wf, bf = params
        h = F.avg_pool2d(torch.relu(F.conv2d(x, W1, b1, padding=1)), 2)
        h = F.avg_pool2d(torch.relu(F.conv2d(h, W2, b2, padding=1)), 2)
        loss = F.cross_entropy(F.linear(h.flatten(1), Wf, bf), y)
        loss.backward()
        return [p.grad for p in params]

    return Built(step, lambda grads: [g.numpy() for g in grads])


def build_jax(d: Data) -> Built:
    jax = peers.load_jax()
    jnp = jax.numpy
    n = d.x.shape[0]

    def pool(a):
        N, C, H, W = a.shape
        return a.reshape(N, C, H // 2, 2, W // 2, 2).mean(axis=(3, 5))

    def conv(h, W, b):
        out = jax.lax.conv_general_dilated(h, W, (1, 1), ((1, 1), (1, 1)),
                                           dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return out + b[None, :, None, None]

    def loss(params, x, y):
        W1, b1, W2, b2, Wf, bf = params
        h = pool(jax.nn.relu(conv(x, W1, b1)))
        h = pool(jax.nn.relu(conv(h, W2, b2)))
        u = h.reshape(n, -1) @ Wf.T + bf
        return jnp.sum(jax.nn.logsumexp(u, axis=1) - u[jnp.arange(n), y]) / n

    f = jax.jit(jax.value_and_grad(loss))
    params = [jnp.asarray(p) for p in d.params]
    x, y = jnp.asarray(d.x), jnp.asarray(d.y.astype(np.int32))
    return Built(lambda: jax.block_until_ready(f(params, x, y)[1]))


def build_hips(d: Data) -> Built:
    """HIPS autograd: im2col by integer-array indexing (its VJP is np.add.at) + einsum."""
    autograd = peers.load_hips()
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp

    n = d.x.shape[0]

    def conv(h, W, b):
        H, Wd = h.shape[2], h.shape[3]
        hp = anp.pad(h, ((0, 0), (0, 0), (1, 1), (1, 1)), "constant")
        ii = (np.arange(H)[:, None, None, None] + np.arange(3)[None, None, :, None])
        jj = (np.arange(Wd)[None, :, None, None] + np.arange(3)[None, None, None, :])
        win = hp[:, :, ii, jj]  # (N, C, H, W, 3, 3)
        return anp.einsum("nchwij,ocij->nohw", win, W) + b[None, :, None, None]

    def pool(a):
        N, C, H, W = a.shape
        return anp.mean(anp.reshape(a, (N, C, H // 2, 2, W // 2, 2)), axis=(3, 5))

    def loss(params, x, y):
        W1, b1, W2, b2, Wf, bf = params
        h = pool(anp.maximum(conv(x, W1, b1), 0))
        h = pool(anp.maximum(conv(h, W2, b2), 0))
        u = anp.dot(anp.reshape(h, (n, -1)), Wf.T) + bf
        return anp.sum(logsumexp(u, axis=1) - u[np.arange(n), y]) / n

    g = autograd.grad(loss)
    params = list(d.params)
    return Built(lambda: g(params, d.x, d.y))


WORKLOADS = [Workload(
    "W4", "CNN conv3x3(1→8)+ReLU+avgpool2, conv3x3(8→16)+ReLU+avgpool2, dense→10; "
          "1×16×16, padding 1, batch 64, softmax CE",
    make,
    {"ours": build_ours, "ours-ag": build_ours_ag, "numpy": build_numpy, "torch": build_torch,
     "jax": build_jax, "autograd": build_hips},
)]

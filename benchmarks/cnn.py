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

from . import ours_jit, peers
from .workload import Built, Data, Workload, engine, rng_for, softmax_ce_in_place

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

    return Built(step, params=params)


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


def build_reference(d: Data) -> Built:
    """The oracle (the old floor): hand-derived forward and backward written plainly, NHWC
    inside, im2col by ``sliding_window_view`` + ``tensordot`` (the 1-channel input is NHWC by a
    reshape)."""
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


def _pool_rows(wp: int, w_out: int, dt) -> np.ndarray:
    """(2·wp, w_out): two rows of wp pixels (their junk columns weigh 0) → one row of 2×2 means."""
    P = np.zeros((2, wp, w_out), dt)
    cols = np.arange(2 * w_out)
    P[:, cols, cols // 2] = 0.25
    return P.reshape(2 * wp, w_out)


def _pool_image(wp: int, h_out: int, dt) -> np.ndarray:
    """(wp·wp, h_out²): an image of wp rows of wp (junk rows and columns weigh 0) → its 2×2 means."""
    P = np.zeros((wp, wp, h_out, h_out), dt)
    r = np.arange(2 * h_out)
    P[r[:, None], r[None, :], r[:, None] // 2, r[None, :] // 2] = 0.25
    return P.reshape(wp * wp, h_out * h_out)


def build_numpy(d: Data) -> Built:
    """The floor (Note [floor] in mlp.py). NCHW; each convolution is im2col by 9 copies of
    slices of the flattened padded input and one matmul batched over samples (the engine's
    layout, Note [conv2d layout] in autograd_core/kernels.py), its bias a row of ones in the
    columns; pooling and its adjoint are matmuls; buffers are made once."""
    W1, b1, W2, b2, Wf, bf = d.params
    s = d.spec
    N, H, C1, C2, K = s["batch"], s["hw"], s["c1"], s["c2"], s["classes"]
    dt = d.x.dtype
    x, y = d.x, d.y
    zero, inv_n, fn = dt.type(0), dt.type(1.0 / N), dt.type(N)
    H2, H4 = H // 2, H // 4
    # conv1, per sample: the padded image flattened, rows of Wp1; output pixel (h, w) at h·Wp1 + w
    # and its window's (i, j) at that + i·Wp1 + j: each of the 9 offsets is one slice of length L1
    # (Wp1 − H junk columns a row, cropped by the pooling)
    Wp1 = H + 2
    L1 = H * Wp1
    offs1 = [i * Wp1 + j for i in range(3) for j in range(3)]
    X1 = np.zeros((N, Wp1 * Wp1 + 2), dt)  # + 2: the last window's overhang
    X1in = X1[:, :Wp1 * Wp1].reshape(N, Wp1, Wp1)[:, 1:H + 1, 1:H + 1]
    cols1 = np.ones((N, 10, L1), dt)  # rows: the 9 offsets, then ones (the bias)
    # conv2: the batch's input images (n, c) one after another, rows of Wp2 = H2 + 1 (a row's pad
    # column is the previous row's right pad) and images of Wp2 rows (an image's top pad row is
    # the previous one's bottom pad): each offset's slice covers all N·C1 images, one long copy
    # (and one long add in col2im) instead of one per image and channel
    Wp2 = H2 + 1
    L2 = Wp2 * Wp2
    T2 = N * C1 * L2
    offs2 = [i * Wp2 + j for i in range(3) for j in range(3)]
    X2 = np.zeros(T2 + 2 * Wp2 + 2, dt)  # + the last image's bottom pad and overhang
    X2in = X2[:T2].reshape(N, C1, Wp2, Wp2)[:, :, 1:, 1:]
    cols2 = np.ones((N, 9 * C1 + 1, L2), dt)  # rows (offset, channel), then ones
    im2col2 = [(cols2[:, k * C1:(k + 1) * C1].reshape(N, C1 * L2), X2[o:o + T2].reshape(N, C1 * L2))
               for k, o in enumerate(offs2)]  # (the offset's rows of the columns, its slice)
    W1a = np.empty((C1, 10), dt)  # [W | b] in the columns' row order
    W2a = np.empty((C2, 9 * C1 + 1), dt)
    W2ak = W2a[:, :-1].reshape(C2, 3, 3, C1)
    U1, U2 = np.empty((N, C1, L1), dt), np.empty((N, C2, L2), dt)
    P1, P2 = _pool_rows(Wp1, H2, dt), _pool_image(Wp2, H4, dt)
    P1T, P2T = np.ascontiguousarray(P1.T), np.ascontiguousarray(P2.T)
    Q1 = np.empty((N, C1, H2, H2), dt)
    f = np.empty((N, C2 * H4 * H4), dt)  # pooled conv2 output, NCHW-flattened
    u = np.empty((N, K), dt)
    uflat, col = u.reshape(-1), np.empty((N, 1), dt)
    rowk = np.arange(N) * K
    onesN = np.ones(N, dt)
    dWf, dbf, df = np.empty_like(Wf), np.empty_like(bf), np.empty_like(f)
    G2, G1 = np.empty_like(U2), np.empty_like(U1)
    dW2n, dW2a = np.empty((N,) + W2a.shape, dt), np.empty_like(W2a)
    dW1n, dW1a = np.empty((N,) + W1a.shape, dt), np.empty_like(W1a)
    dcols2 = np.empty((N, 9 * C1, L2), dt)
    dX2 = np.empty_like(X2)
    col2im2 = [(dX2[o:o + T2].reshape(N, C1 * L2), dcols2[:, k * C1:(k + 1) * C1].reshape(N, C1 * L2))
               for k, o in enumerate(offs2)]
    dX2in = dX2[:T2].reshape(N, C1, Wp2, Wp2)[:, :, 1:, 1:]
    dQ1 = np.empty_like(Q1)
    dW1, db1, dW2, db2 = np.empty_like(W1), np.empty_like(b1), np.empty_like(W2), np.empty_like(b2)
    grads = [dW1, db1, dW2, db2, dWf, dbf]
    WfT = Wf.T

    def step():
        np.copyto(W1a[:, :9], W1.reshape(C1, 9))
        np.copyto(W1a[:, 9], b1)
        np.copyto(W2ak, W2.transpose(0, 2, 3, 1))
        np.copyto(W2a[:, -1], b2)
        np.copyto(X1in, x.reshape(N, H, H))
        for k, o in enumerate(offs1):
            np.copyto(cols1[:, k], X1[:, o:o + L1])
        np.matmul(W1a, cols1, out=U1)
        np.maximum(U1, zero, out=U1)
        np.matmul(U1.reshape(-1, 2 * Wp1), P1, out=Q1.reshape(-1, H2))
        np.copyto(X2in, Q1)
        for dst, src in im2col2:
            np.copyto(dst, src)
        np.matmul(W2a, cols2, out=U2)
        np.maximum(U2, zero, out=U2)
        np.matmul(U2.reshape(-1, L2), P2, out=f.reshape(-1, H4 * H4))
        np.matmul(f, WfT, out=u)
        np.add(u, bf, out=u)
        loss = softmax_ce_in_place(u, uflat, col, rowk + y, fn, inv_n)
        np.matmul(u.T, f, out=dWf)
        np.matmul(onesN, u, out=dbf)
        np.matmul(u, Wf, out=df)
        np.matmul(df.reshape(-1, H4 * H4), P2T, out=G2.reshape(-1, L2))  # junk pixels get 0
        np.multiply(G2, U2 > 0, out=G2)
        np.matmul(G2, cols2.transpose(0, 2, 1), out=dW2n)
        np.add.reduce(dW2n, axis=0, out=dW2a)
        np.copyto(dW2, dW2a[:, :-1].reshape(C2, 3, 3, C1).transpose(0, 3, 1, 2))
        np.copyto(db2, dW2a[:, -1])
        np.matmul(W2a[:, :-1].T, G2, out=dcols2)
        np.copyto(*col2im2[0])  # col2im: offset (0, 0) sets, the others add
        dX2[T2:] = 0
        for dst, src in col2im2[1:]:
            np.add(dst, src, out=dst)
        np.copyto(dQ1, dX2in)
        np.matmul(dQ1.reshape(-1, H2), P1T, out=G1.reshape(-1, 2 * Wp1))
        np.multiply(G1, U1 > 0, out=G1)
        np.matmul(G1, cols1.transpose(0, 2, 1), out=dW1n)
        np.add.reduce(dW1n, axis=0, out=dW1a)
        np.copyto(dW1.reshape(C1, 9), dW1a[:, :9])
        np.copyto(db1, dW1a[:, 9])
        return grads, loss

    return Built(lambda: step()[0], lambda grads: [g.copy() for g in grads])


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
    {"ours": build_ours, "ours-ag": build_ours_ag, "ours-jit": ours_jit.of(build_ours),
     "ours-jit-plain": ours_jit.of(build_ours, fuse=False),
     "numpy": build_numpy, "reference": build_reference, "torch": build_torch, "jax": build_jax,
     "autograd": build_hips},
)]

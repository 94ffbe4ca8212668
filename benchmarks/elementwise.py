"""W5: 200 small elementwise ops on a 16-vector, forward + backward (reported per op).

The chain, identical for every peer (``a``, ``c`` fixed 16-vectors, ``x`` the input)::

    h = x
    repeat 50 times:  h = h * a;  h = h + c;  h = tanh(h);  h = h + x     (4 ops → 200 ops)
    loss = sum(h)                                                           (one reduction)

and the gradient d loss / d x. Each recorded op is a 16-element array op, so the time is almost
all per-op overhead (recording a node, dispatching the VJP, accumulating cotangents). Time per
op = step time / 200. ``a ~ U(0.5, 1.5)``, ``c ~ N(0, 0.1²)``, ``x ~ N(0, 1)``, float32.
"""

from __future__ import annotations

import numpy as np

from . import ours_jit, peers
from .workload import Built, Data, Workload, engine, rng_for

CYCLES = 50  # 4 ops per cycle
OPS = 4 * CYCLES


def make(tiny: bool) -> Data:
    rng = rng_for("W5")
    n = 4 if tiny else 16
    x = rng.standard_normal(n).astype(np.float32)
    a = rng.uniform(0.5, 1.5, n).astype(np.float32)
    c = (rng.standard_normal(n) * 0.1).astype(np.float32)
    spec = {"n": n, "cycles": CYCLES, "ops": OPS, "dtype": "float32"}
    return Data(["x"], [x], x, None, spec=spec, consts={"a": a, "c": c})


def _consts(d: Data) -> tuple[np.ndarray, np.ndarray]:
    return d.consts["a"], d.consts["c"]


def build_ours(d: Data, ag=None, nn=None) -> Built:
    """The engine (there is no `nn` layer for this: `ours` and `ours-ag` are the same code)."""
    ag, _ = engine(ag, nn)

    a, c = _consts(d)
    x = ag.tensor(d.x, requires_grad=True)

    def step():
        x.grad = None
        h = x
        for _ in range(CYCLES):
            h = ag.tanh(h * a + c) + x
        ag.sum(h).backward()
        return [x.grad]

    return Built(step, params=[x])


def build_reference(d: Data) -> Built:
    """The oracle (the old floor): forward storing each tanh output t, then g ← g·a·(1 − t²),
    g_x += g, one cycle at a time."""
    a, c = _consts(d)
    x = d.x

    def step():
        ts = []
        h = x
        for _ in range(CYCLES):
            t = np.tanh(h * a + c)
            ts.append(t)
            h = t + x
        g = np.ones_like(x)  # d sum(h) / d h
        gx = np.zeros_like(x)
        for t in reversed(ts):
            gx += g  # the "+ x" of this cycle
            g = g * (1 - t * t) * a  # through tanh, then through "* a" ("+ c" passes g)
        return [gx + g]  # h_0 = x

    return Built(step)


def build_numpy(d: Data) -> Built:
    """The floor (Note [floor] in mlp.py): forward in 3 calls a cycle, backward as one cumulative
    product over the cycles; buffers made once."""
    a, c = _consts(d)
    x = d.x
    one = x.dtype.type(1)
    T = np.empty((CYCLES, x.size), x.dtype)  # t_k = tanh(h_k·a + c), one row per cycle
    rows = list(T)
    pairs = list(zip(rows[:-1], rows[1:], strict=True))
    base, grad = np.empty_like(x), np.empty_like(x)
    D, C = np.empty_like(T), np.empty_like(T)

    def step():
        # h_k·a + c = t_{k−1}·a + (x·a + c) for k ≥ 1, as h_k = t_{k−1} + x: 3 calls a cycle, not 4
        np.multiply(x, a, out=base)
        np.add(base, c, out=base)
        np.tanh(base, out=rows[0])
        for tp, t in pairs:  # out positional: NumPy parses no keyword
            np.multiply(tp, a, t)
            np.add(t, base, t)
            np.tanh(t, t)
        loss = np.add.reduce(rows[-1]) + np.add.reduce(x)  # sum(h_50), h_50 = t_49 + x
        # dL/dx = 1 + Σ_{m=0}^{49} Π_{i=m}^{49} a(1 − t_i²) (h_0 = x, then the "+ x" of each
        # cycle): the backward's 50 steps as one cumulative product over the reversed cycles
        np.multiply(T, T, out=D)
        np.subtract(one, D, out=D)
        np.multiply(D, a, out=D)
        np.multiply.accumulate(D[::-1], axis=0, out=C)
        np.add.reduce(C, axis=0, out=grad)
        np.add(grad, one, out=grad)
        return [grad], loss

    return Built(lambda: step()[0], lambda grads: [g.copy() for g in grads])


def build_torch(d: Data) -> Built:
    torch = peers.load_torch()
    a, c = (torch.from_numpy(v) for v in _consts(d))
    x = torch.tensor(d.x, requires_grad=True)

    def step():
        x.grad = None
        h = x
        for _ in range(CYCLES):
            h = torch.tanh(h * a + c) + x
        h.sum().backward()
        return [x.grad]

    return Built(step, lambda grads: [g.numpy() for g in grads])


def _chain(xp):
    def loss(x, a, c):
        h = x
        for _ in range(CYCLES):
            h = xp.tanh(h * a + c) + x
        return xp.sum(h)

    return loss


def build_jax(d: Data) -> Built:
    jax = peers.load_jax()
    jnp = jax.numpy
    f = jax.jit(jax.value_and_grad(_chain(jnp)))
    x, a, c = (jnp.asarray(v) for v in (d.x, *_consts(d)))
    return Built(lambda: [jax.block_until_ready(f(x, a, c)[1])],
                 note="jit fuses the 200 ops into one kernel")


def build_hips(d: Data) -> Built:
    autograd = peers.load_hips()
    import autograd.numpy as anp

    g = autograd.grad(_chain(anp))
    a, c = _consts(d)
    return Built(lambda: [g(d.x, a, c)])


WORKLOADS = [Workload(
    "W5", "200 elementwise ops (×a, +c, tanh, +x)×50 on a 16-vector, forward+backward",
    make,
    {"ours": build_ours, "ours-jit": ours_jit.of(build_ours),
     "ours-jit-plain": ours_jit.of(build_ours, fuse=False), "numpy": build_numpy,
     "reference": build_reference, "torch": build_torch, "jax": build_jax, "autograd": build_hips},
    ops_per_step=OPS, unit="us/op",
)]

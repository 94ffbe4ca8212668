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

from . import peers
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

    return Built(step)


def build_numpy(d: Data) -> Built:
    """The floor: forward storing each tanh output t, then g ← g·a·(1 − t²), g_x += g."""
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
    {"ours": build_ours, "numpy": build_numpy, "torch": build_torch, "jax": build_jax,
     "autograd": build_hips},
    ops_per_step=OPS, unit="us/op",
)]

"""nn against PyTorch with identical weights: forward values and gradients must agree.

An independent framework as a second oracle (the first is nn.reference). Runs where torch is
installed (`pip install torch==2.13.0`, the CPU build); skipped otherwise, with that reason.
"""

import numpy as np
import pytest

import autograd_core as ag
import nn

torch = pytest.importorskip("torch")
F = torch.nn.functional
RTOL, ATOL = 1e-10, 1e-12


def _same(ours, theirs):
    """Our Tensor's (or array's) values equal torch's."""
    ours = ours.data if isinstance(ours, ag.Tensor) else ours
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=RTOL, atol=ATOL)


def _pair(module, x, torch_fn):
    """Run our module and torch_fn on the same float64 data; backward a random projection."""
    module.astype(np.float64)
    rng = np.random.default_rng(0)
    xt = torch.tensor(x, requires_grad=True)
    params = [torch.tensor(p.data, requires_grad=True) for p in module.parameters()]
    xa = ag.tensor(x, requires_grad=True)
    out = module(xa)
    v = rng.standard_normal(out.shape)
    (out * v).sum().backward()
    tout = torch_fn(xt, *params)
    (tout * torch.tensor(v)).sum().backward()
    _same(out, tout)
    _same(xa.grad, xt.grad)
    for p, pt in zip(module.parameters(), params, strict=True):
        _same(p.grad, pt.grad)


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 1), (2, 1), ((2, 1), (0, 2))])
def test_conv2d(stride, padding):
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 6))
    conv = nn.Conv2d(3, 4, (3, 2), stride=stride, padding=padding, rng=0)
    _pair(conv, x, lambda x, W, b: F.conv2d(x, W, b, stride=stride, padding=padding))


def test_dense_and_mlp():
    x = np.random.default_rng(2).standard_normal((5, 4))
    _pair(nn.Dense(4, 3, rng=0), x, lambda x, W, b: F.linear(x, W, b))
    mlp = nn.MLP([4, 6, 3], activation="elu", rng=1)
    _pair(mlp, x, lambda x, W1, b1, W2, b2: F.linear(F.elu(F.linear(x, W1, b1)), W2, b2))


@pytest.mark.parametrize("k,stride", [(2, None), (3, 1), (2, 1)])
def test_avgpool(k, stride):
    x = np.random.default_rng(3).standard_normal((2, 3, 6, 7))
    _pair(nn.AvgPool2d(k, stride), x, lambda x: F.avg_pool2d(x, k, stride))


@pytest.mark.parametrize("ours,theirs", [
    (nn.Sigmoid(), torch.sigmoid), (nn.ReLU(), F.relu), (nn.LeakyReLU(0.1), lambda x: F.leaky_relu(x, 0.1)),
    (nn.ELU(0.7), lambda x: F.elu(x, 0.7)), (nn.SELU(), F.selu)])
def test_activations(ours, theirs):
    x = np.random.default_rng(4).standard_normal((4, 5)) * 3
    _pair(ours, x, theirs)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses(reduction):
    rng = np.random.default_rng(5)
    u = rng.standard_normal((6, 4)) * 5
    labels = rng.integers(0, 4, 6)
    soft = rng.dirichlet(np.ones(4), 6)
    y = rng.standard_normal((6, 4))
    for ours, theirs in [
        (lambda u: nn.cross_entropy(u, labels, reduction),
         lambda u: F.cross_entropy(u, torch.tensor(labels), reduction=reduction)),
        (lambda u: nn.cross_entropy(u, soft, reduction),  # rows sum to 1: the lecture's = torch's
         lambda u: F.cross_entropy(u, torch.tensor(soft), reduction=reduction)),
        # the lecture's ½‖u − y‖² per sample = torch's elementwise squared error summed per row / 2
        (lambda u: nn.mse_loss(u, y, reduction),
         lambda u: {"mean": lambda e: e.sum(1).mean(), "sum": lambda e: e.sum(),
                    "none": lambda e: e.sum(1)}[reduction](0.5 * (u - torch.tensor(y)) ** 2)),
    ]:
        ua = ag.tensor(u, requires_grad=True)
        ut = torch.tensor(u, requires_grad=True)
        a, t = ours(ua), theirs(ut)
        _same(a, t)
        a.sum().backward()
        t.sum().backward()
        _same(ua.grad, ut.grad)


def test_gradient_clipping():
    rng = np.random.default_rng(6)
    grads = [rng.standard_normal((3, 4)) * 5, rng.standard_normal(4)]
    for clip in ("norm", "value"):
        ours = [nn.Parameter(np.zeros_like(g)) for g in grads]
        theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
        for p, t, g in zip(ours, theirs, grads, strict=True):
            p.grad, t.grad = g.copy(), torch.tensor(g)
        if clip == "norm":
            total = nn.clip_grad_norm(ours, 2.0)
            total_t = torch.nn.utils.clip_grad_norm_(theirs, 2.0)
            np.testing.assert_allclose(total, total_t.item(), rtol=RTOL)
        else:
            nn.clip_grad_value(ours, 0.7)
            torch.nn.utils.clip_grad_value_(theirs, 0.7)
        for p, t in zip(ours, theirs, strict=True):
            _same(p.grad, t.grad)


@pytest.mark.parametrize("residual", [False, "lecture", "projection"])
@pytest.mark.parametrize("activation", ["sigmoid", "relu", "leaky_relu", "elu", "selu"])
def test_reference_backprop(activation, residual):
    """The hand-derived δ recursion against torch's autograd on the same weights: plain, the
    lecture's residual net (z_1 = x), and ResidualMLP's layout (a plain input projection)."""
    rng = np.random.default_rng(7)
    sizes = [4, 4, 4, 4, 3] if residual == "lecture" else [4, 5, 5, 5, 3]
    Ws = [rng.standard_normal((m, n)) / np.sqrt(n) for n, m in zip(sizes[:-1], sizes[1:], strict=True)]
    bs = [rng.standard_normal(m) * 0.1 for m in sizes[1:]]
    x, labels = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    loss, dWs, dbs = nn.reference.backprop(Ws, bs, x, labels, activation=activation,
                                           loss="cross_entropy", residual=bool(residual),
                                           input_projection=residual == "projection")
    act = {"sigmoid": torch.sigmoid, "relu": F.relu, "leaky_relu": lambda v: F.leaky_relu(v, 0.01),
           "elu": F.elu, "selu": F.selu}[activation]
    tW = [torch.tensor(W, requires_grad=True) for W in Ws]
    tb = [torch.tensor(b, requires_grad=True) for b in bs]
    projection = residual == "projection"
    z = act(F.linear(torch.tensor(x), tW[0], tb[0])) if projection else torch.tensor(x)
    middle = range(1, len(Ws) - 1) if projection else range(len(Ws) - 1)
    for j in middle:
        h = act(F.linear(z, tW[j], tb[j]))
        z = z + h if residual else h
    tloss = F.cross_entropy(F.linear(z, tW[-1], tb[-1]), torch.tensor(labels))
    tloss.backward()
    np.testing.assert_allclose(loss, tloss.item(), rtol=RTOL)
    for ours, theirs in zip(dWs + dbs, tW + tb, strict=True):
        _same(ours, theirs.grad)

"""nn.optim.SGD / Adam against update rules written out here (and torch.optim when installed).

References are computed in float64 from the formulas of torch.optim's documentation, written
independently of nn/optim.py; the float32 runs must keep float32 and track the float64 reference.
"""

import math

import numpy as np
import pytest

import nn
from nn.optim import SGD, Adam

DTYPES = [np.float64, np.float32]
STEPS = 7
TOL = {np.float64: dict(rtol=1e-12, atol=1e-13), np.float32: dict(rtol=2e-5, atol=2e-6)}

rng0 = np.random.default_rng(0)
P0 = rng0.standard_normal((3, 4))
A = rng0.uniform(0.5, 2.0, (3, 4))  # grad of the quadratic 1/2 Σ a p² - b p
B = rng0.standard_normal((3, 4))


def quad_grad(p):
    """A gradient that depends on p, so the trajectory is not a straight line."""
    return A.astype(p.dtype) * p - B.astype(p.dtype)


def run(opt_cls, dtype, grad_fn=quad_grad, steps=STEPS, p0=P0, **kw):
    p = nn.Parameter(np.asarray(p0, dtype=dtype))
    opt = opt_cls([p], **kw)
    traj = []
    for _ in range(steps):
        p.grad = grad_fn(p.data)
        opt.step()
        assert p.data.dtype == dtype, f"{opt_cls.__name__} changed dtype to {p.data.dtype}"
        traj.append(p.data.copy())
    return traj


# ---- references (torch.optim's documented algorithms, plain float64) ----------------------------
def ref_sgd(grad_fn, steps, lr, momentum=0.0, weight_decay=0.0, nesterov=False, dampening=0.0):
    p, buf, traj = P0.copy(), None, []
    for t in range(1, steps + 1):
        g = grad_fn(p) + weight_decay * p
        if momentum != 0:
            buf = g if t == 1 else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        traj.append(p)
    return traj


def ref_adam(grad_fn, steps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    b1, b2 = betas
    p, m, v, traj = P0.copy(), np.zeros_like(P0), np.zeros_like(P0), []
    for t in range(1, steps + 1):
        g = grad_fn(p) + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        traj.append(p)
    return traj


SGD_CASES = {
    "plain": dict(lr=0.1),
    "momentum": dict(lr=0.05, momentum=0.9),
    "nesterov": dict(lr=0.05, momentum=0.8, nesterov=True),
    "weight_decay": dict(lr=0.1, weight_decay=0.3),
    "dampening": dict(lr=0.05, momentum=0.9, dampening=0.4),
    "all": dict(lr=0.05, momentum=0.7, weight_decay=0.1, nesterov=True),
    "momentum_wd_dampening": dict(lr=0.05, momentum=0.7, weight_decay=0.1, dampening=0.25),
}
ADAM_CASES = {
    "default": dict(lr=1e-3),
    "big_lr": dict(lr=0.1, betas=(0.8, 0.99)),
    "weight_decay": dict(lr=0.05, weight_decay=0.2),
    "eps": dict(lr=0.05, eps=0.5, betas=(0.5, 0.9)),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", SGD_CASES, ids=str)
def test_sgd_trajectory_matches_reference(case, dtype):
    kw = SGD_CASES[case]
    got, want = run(SGD, dtype, **kw), ref_sgd(quad_grad, STEPS, **kw)
    for t, (g, w) in enumerate(zip(got, want, strict=True), 1):
        np.testing.assert_allclose(g, w, **TOL[dtype], err_msg=f"SGD {case} step {t}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", ADAM_CASES, ids=str)
def test_adam_trajectory_matches_reference(case, dtype):
    kw = ADAM_CASES[case]
    got, want = run(Adam, dtype, **kw), ref_adam(quad_grad, STEPS, **kw)
    for t, (g, w) in enumerate(zip(got, want, strict=True), 1):
        np.testing.assert_allclose(g, w, **TOL[dtype], err_msg=f"Adam {case} step {t}")


# ---- closed forms for a constant gradient g (or none), T steps ----------------------------------
T, LR, MU, G = 6, 0.1, 0.9, 2.0


def const(p):
    return np.full_like(p, G)


def zero(p):
    return np.zeros_like(p)


CLOSED_FORMS = {
    # p_T = p_0 - T lr g
    "sgd_plain": (SGD, const, dict(lr=LR), lambda p0: p0 - T * LR * G),
    # buf_t = g (1 - mu^t) / (1 - mu)
    "sgd_momentum": (
        SGD,
        const,
        dict(lr=LR, momentum=MU),
        lambda p0: p0 - LR * G * sum((1 - MU**t) / (1 - MU) for t in range(1, T + 1)),
    ),
    # buf_1 = g, buf_t = mu buf + (1 - d) g
    #   =>  buf_t = g (mu^(t-1) + (1 - d)(1 - mu^(t-1))/(1 - mu))
    "sgd_dampening": (
        SGD,
        const,
        dict(lr=LR, momentum=MU, dampening=0.3),
        lambda p0: (
            p0
            - LR
            * G
            * sum(MU ** (t - 1) + 0.7 * (1 - MU ** (t - 1)) / (1 - MU) for t in range(1, T + 1))
        ),
    ),
    # step direction g + mu buf_t
    "sgd_nesterov": (
        SGD,
        const,
        dict(lr=LR, momentum=MU, nesterov=True),
        lambda p0: p0 - LR * G * sum(1 + MU * (1 - MU**t) / (1 - MU) for t in range(1, T + 1)),
    ),
    # zero loss gradient, L2 decay only: p_T = p_0 (1 - lr wd)^T
    "sgd_weight_decay": (
        SGD,
        zero,
        dict(lr=LR, weight_decay=0.5),
        lambda p0: p0 * (1 - LR * 0.5) ** T,
    ),
    # bias-corrected moments of a constant g are exactly g and g²: each step is lr g / (|g| + eps)
    "adam_constant_grad": (
        Adam,
        const,
        dict(lr=LR, eps=0.25),
        lambda p0: p0 - T * LR * G / (abs(G) + 0.25),
    ),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CLOSED_FORMS, ids=str)
def test_closed_form_constant_gradient(case, dtype):
    cls, grad_fn, kw, closed = CLOSED_FORMS[case]
    got = run(cls, dtype, grad_fn=grad_fn, steps=T, **kw)[-1]
    np.testing.assert_allclose(got, closed(P0), **TOL[dtype])


def test_sgd_hand_computed_numbers():
    """Momentum 0.9, lr 0.1, grad 1 from p=1: buffers 1, 1.9, 2.71 -> p = 1 - 0.561."""
    p = nn.Parameter(np.array([1.0]))
    opt = SGD([p], lr=0.1, momentum=0.9)
    for want in (0.9, 0.71, 0.439):
        p.grad = np.array([1.0])
        opt.step()
        assert p.data[0] == pytest.approx(want, abs=1e-15)


# ---- bookkeeping ---------------------------------------------------------------------------------
class Two(nn.Module):
    def __init__(self, dtype=np.float64):
        super().__init__()
        self.W = nn.Parameter(np.ones((2, 3), dtype=dtype))
        self.b = nn.Parameter(np.zeros(2, dtype=dtype))


@pytest.mark.parametrize(
    "make",
    [lambda m: m.parameters(), lambda m: (p for p in m.parameters()), lambda m: m],
    ids=["list", "generator", "module"],
)
def test_params_from_list_generator_or_module(make):
    m = Two()
    opt = SGD(make(m), lr=0.5)
    for _ in range(2):  # a generator must not be exhausted after the first step
        m.W.grad, m.b.grad = np.ones((2, 3)), np.ones(2)
        opt.step()
    np.testing.assert_array_equal(m.W.data, np.zeros((2, 3)))
    np.testing.assert_array_equal(m.b.data, -np.ones(2))


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_zero_grad_sets_none_and_none_grads_are_skipped(cls):
    m = Two()
    opt = cls(m.parameters(), lr=0.1)
    m.W.grad, m.b.grad = np.ones((2, 3)), np.ones(2)
    opt.zero_grad()
    assert m.W.grad is None and m.b.grad is None
    before = m.W.data.copy()
    m.b.grad = np.ones(2)
    opt.step()  # W has no grad: skipped, no error
    np.testing.assert_array_equal(m.W.data, before)
    assert not np.array_equal(m.b.data, np.zeros(2))


def test_adam_state_is_per_parameter():
    """A parameter first stepped later starts at t = 1 (its own bias correction), not at the
    global step count; two parameters with equal values keep separate moments."""
    p, q = nn.Parameter(P0.copy()), nn.Parameter(P0.copy())
    opt = Adam([p, q], lr=0.1, betas=(0.8, 0.9))
    p.grad = quad_grad(p.data)
    opt.step()  # q has no grad yet
    np.testing.assert_array_equal(q.data, P0)
    for _ in range(STEPS):
        p.grad, q.grad = quad_grad(p.data), quad_grad(q.data)
        opt.step()
    want = ref_adam(quad_grad, STEPS, lr=0.1, betas=(0.8, 0.9))[-1]
    np.testing.assert_allclose(q.data, want, **TOL[np.float64])
    assert not np.allclose(p.data, q.data)


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_step_after_real_backward_with_live_graph(cls):
    """The engine's backward fills .grad; a step while another graph holds p.data (read-only, Note
    [saved arrays are read-only]) must rebind, and that graph's backward then uses the old value."""
    x0 = P0.astype(np.float32)
    p = nn.Parameter(x0.copy())
    opt = cls([p], lr=0.1, momentum=0.5) if cls is SGD else cls([p], lr=0.1)
    (0.5 * (p * p).sum()).backward()
    np.testing.assert_allclose(p.grad, x0)
    live = (p * p).sum()  # recorded, not yet backpropagated: p.data is locked
    assert not p.data.flags.writeable
    opt.step()
    assert p.data.dtype == np.float32
    assert not np.array_equal(p.data, x0)
    p.grad = None
    live.backward()
    np.testing.assert_allclose(p.grad, 2 * x0, rtol=1e-6)  # gradient at the OLD value


# ---- validation ----------------------------------------------------------------------------------
BAD = [
    (SGD, dict(lr=-0.1), "lr"),
    (SGD, dict(lr=0.1, momentum=-0.5), "momentum"),
    (SGD, dict(lr=0.1, weight_decay=-1.0), "weight_decay"),
    (SGD, dict(lr=0.1, nesterov=True), "nesterov"),
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True, dampening=0.1), "dampening"),
    (SGD, dict(lr=0.1, momentum=0.9, dampening=1.5), "dampening"),
    (Adam, dict(lr=-1e-3), "lr"),
    (Adam, dict(betas=(1.0, 0.999)), r"betas\[0\]"),
    (Adam, dict(betas=(0.9, -0.1)), r"betas\[1\]"),
    (Adam, dict(betas=(0.9, 1.0)), r"betas\[1\]"),
    (Adam, dict(eps=-1e-8), "eps"),
    (Adam, dict(weight_decay=-0.1), "weight_decay"),
    (SGD, dict(lr=float("nan")), "lr"),
]


@pytest.mark.parametrize("cls,kw,name", BAD, ids=[f"{c.__name__}-{n}" for c, _, n in BAD])
def test_bad_hyperparameters_raise_naming_them(cls, kw, name):
    with pytest.raises(ValueError, match=name):
        cls([nn.Parameter(np.zeros(2))], **kw)


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_empty_or_wrong_params(cls):
    with pytest.raises(ValueError, match="empty"):
        cls([], lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        cls(iter([]), lr=0.1)
    with pytest.raises(TypeError, match=r"params\[1\]"):
        cls([nn.Parameter(np.zeros(2)), np.zeros(2)], lr=0.1)


def test_numpy_scalar_hyperparameters_do_not_upcast_float32():
    p = nn.Parameter(np.ones(3, dtype=np.float32))
    opt = SGD([p], lr=np.float64(0.1), momentum=np.float64(0.9), weight_decay=np.float64(0.01))
    for _ in range(3):
        p.grad = np.ones(3, dtype=np.float32)
        opt.step()
    assert p.data.dtype == np.float32


# ---- torch parity (only where torch is installed) -----------------------------------------------
TORCH_CASES = [(SGD, kw) for kw in SGD_CASES.values()] + [(Adam, kw) for kw in ADAM_CASES.values()]


def test_matches_torch_optim():
    torch = pytest.importorskip("torch")
    for dtype, tdtype in [(np.float64, torch.float64), (np.float32, torch.float32)]:
        for cls, kw in TORCH_CASES:
            p = nn.Parameter(P0.astype(dtype))
            tp = torch.tensor(P0.astype(dtype), dtype=tdtype, requires_grad=True)
            opt = cls([p], **kw)
            topt = getattr(torch.optim, cls.__name__)([tp], **kw)
            for t in range(STEPS):
                g = quad_grad(p.data)  # the same grads for both
                p.grad = g
                tp.grad = torch.tensor(g.copy(), dtype=tdtype)
                opt.step()
                topt.step()
                np.testing.assert_allclose(
                    p.data,
                    tp.detach().numpy(),
                    **TOL[dtype],
                    err_msg=f"{cls.__name__} {kw} {dtype} step {t + 1}",
                )
            assert math.isfinite(float(np.sum(p.data)))


# ---- state_dict / load_state_dict ----------------------------------------------------------------
STATE_CASES = [
    (SGD, dict(lr=0.05, momentum=0.9)),
    (SGD, dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    (SGD, dict(lr=0.05, momentum=0.8, dampening=0.3)),
    (SGD, dict(lr=0.05)),  # no momentum: no per-parameter state
    (Adam, dict(lr=0.01)),
    (Adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.02)),
]


def three_params(dtype, seed=0):
    """Three parameters; the middle one gets no grad (never stepped: no state)."""
    r = np.random.default_rng(seed)
    return [nn.Parameter(r.standard_normal(s).astype(dtype)) for s in [(3, 4), (2,), (5,)]]


def take_steps(opt, params, n, seed=1):
    r = np.random.default_rng(seed)
    for _ in range(n):
        for i, p in enumerate(params):
            p.grad = None if i == 1 else quad_like(p.data, r)
        opt.step()


def quad_like(p, r):
    return (p * 0.5 - r.standard_normal(p.shape)).astype(p.dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("cls,kw", STATE_CASES, ids=[f"{c.__name__}-{kw}" for c, kw in STATE_CASES])
def test_state_round_trip_through_npz_reproduces_next_steps_bitwise(cls, kw, dtype, tmp_path):
    params = three_params(dtype)
    opt = cls(params, **kw)
    take_steps(opt, params, 3)
    state = opt.state_dict()
    assert all(isinstance(v, bool | int | float | np.ndarray) for v in state.values())
    assert not any(isinstance(v, np.ndarray) and v.dtype.kind not in "biuf" for v in state.values())
    assert state["n_params"] == 3 and not any(k.startswith("state.1.") for k in state)
    np.savez(tmp_path / "opt.npz", **state)
    # a fresh optimizer (other hyperparameters) on copies of the parameters
    copies = [nn.Parameter(p.data.copy()) for p in params]
    fresh = cls(copies, lr=123.0)
    with np.load(tmp_path / "opt.npz", allow_pickle=False) as npz:
        fresh.load_state_dict(npz)
    assert fresh.lr == opt.lr
    take_steps(opt, params, 2, seed=2)
    take_steps(fresh, copies, 2, seed=2)
    for p, q in zip(params, copies, strict=True):
        assert q.data.dtype == dtype and q.data.tobytes() == p.data.tobytes()


def test_state_dict_keys_follow_pytorch_positions():
    params = three_params(np.float64)
    opt = Adam(params, lr=0.01)
    take_steps(opt, params, 2)
    state = opt.state_dict()
    assert set(state) == {"lr", "betas", "eps", "weight_decay", "n_params",
                          "state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq",
                          "state.2.step", "state.2.exp_avg", "state.2.exp_avg_sq"}
    assert state["state.0.step"] == 2 and state["betas"].tolist() == [0.9, 0.999]
    state["state.0.exp_avg"][...] = 7.0  # a copy: the optimizer is not affected
    assert not np.any(opt.state[id(params[0])]["exp_avg"] == 7.0)
    sgd = SGD(params, lr=0.1, momentum=0.9)
    take_steps(sgd, params, 1)
    assert set(sgd.state_dict()) == {"lr", "momentum", "dampening", "weight_decay", "nesterov",
                                     "n_params", "state.0.momentum_buffer",
                                     "state.2.momentum_buffer"}


def setter(key, value):
    return lambda s: s.__setitem__(key, value(s) if callable(value) else value)


BAD_STATES = [  # (what, how the saved state is edited, the message that must name it)
    ("wrong shape", setter("state.0.exp_avg", np.zeros((4, 3))),
     r"state\.0\.exp_avg: shape \(4, 3\), dtype float64, but params\[0\] is \(3, 4\), float64"),
    ("wrong dtype", setter("state.2.exp_avg_sq", lambda s: s["state.2.exp_avg_sq"].astype(np.float32)),
     r"state\.2\.exp_avg_sq: shape \(5,\), dtype float32, but params\[2\] is \(5,\), float64"),
    ("missing key", lambda s: s.pop("eps"), r"missing keys: eps"),
    ("partial state", lambda s: s.pop("state.2.step"), r"missing keys: state\.2\.step"),
    ("extra key", setter("amsgrad", 1), r"unexpected keys: amsgrad"),
    ("state of a 4th parameter", setter("state.3.step", 1), r"unexpected keys: state\.3\.step"),
    ("other n_params", setter("n_params", 4),
     r"n_params: the state is for 4 parameters, this optimizer has 3"),
    ("bad lr", setter("lr", -1.0), r"invalid lr=-1\.0"),
    ("lr not a number", setter("lr", np.zeros(2)), r"lr: expected a number"),
    ("bad step", setter("state.0.step", 1.5), r"state\.0\.step: expected an int >= 0, got 1\.5"),
    ("bad betas", setter("betas", np.array([0.9, 1.5])), r"betas\[1\]"),
]


@pytest.mark.parametrize("name,edit,match", BAD_STATES, ids=[b[0] for b in BAD_STATES])
def test_bad_state_refused_naming_it_and_optimizer_unchanged(name, edit, match):
    params = three_params(np.float64)
    opt = Adam(params, lr=0.01)
    take_steps(opt, params, 2)
    state = opt.state_dict()
    edit(state)
    target_params = [nn.Parameter(p.data.copy()) for p in params]
    target = Adam(target_params, lr=0.5)
    take_steps(target, target_params, 1, seed=5)
    before = {k: np.asarray(v).tobytes() for k, v in target.state_dict().items()}
    with pytest.raises(ValueError, match=match) as info:
        target.load_state_dict(state)
    assert "Adam.load_state_dict" in str(info.value) and "unchanged" in str(info.value)
    assert {k: np.asarray(v).tobytes() for k, v in target.state_dict().items()} == before


def test_sgd_state_into_adam_refused_naming_keys():
    params = three_params(np.float64)
    sgd = SGD(params, lr=0.1, momentum=0.9)
    take_steps(sgd, params, 1)
    with pytest.raises(ValueError, match=r"missing keys: betas, eps; unexpected keys: dampening, "
                                         r"momentum, nesterov, state\.0\.momentum_buffer"):
        Adam(params).load_state_dict(sgd.state_dict())
    with pytest.raises(TypeError, match="expected a mapping"):
        Adam(params).load_state_dict([1, 2])
    with pytest.raises(ValueError, match=r"nesterov=True requires momentum > 0"):
        state = sgd.state_dict()
        state["momentum"] = 0.0
        state["nesterov"] = True
        SGD(params, lr=0.1).load_state_dict(state)

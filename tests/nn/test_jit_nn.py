"""`ag.jit` on whole `nn` training steps, against an identical eager twin (Note [tracing]).

Each case builds two identical models and optimizers (same seeds, and Dropout/StochasticDepth
Generators with the same seed, so both twins draw the same masks), then runs the same batches
through ``step(x, y)`` (zero_grad, loss, backward, optimizer step) eagerly on one twin and
jitted on the other. A plain replay runs the same NumPy calls as eager, so losses, parameters,
grads and optimizer state must be equal bit for bit after every step, on the traced calls and on
the replayed ones. Where numba is installed, `ag.jit` fuses runs of elementwise calls by default
(Note [fusion]), whose exp, log, tanh... may differ from NumPy's in the last bits: those twins
are compared with a tolerance (`FUSED_RTOL`); `test_unfused_training_step_is_bitwise` keeps the
bitwise check with ``fuse=False`` whether or not numba is installed. Also: Python state the
step depends on is never stale (train/eval mode, a learning rate under a schedule, parameters and
optimizer state loaded between calls) and randomness is drawn afresh at every replay.
"""

import numpy as np
import pytest

import autograd_core as ag
import nn
from nn.optim import SGD, Adam

N_STEPS = 6
# fused twins (float32): a kernel's exp/log/tanh is within an ulp or two of NumPy's (float32 eps
# is 1.2e-7) and six steps carry that through; atol is relative to each array's largest value, so
# that entries near zero (Adam's second moments, grads) may differ by as much. A wrong dropout
# mask, a stale parameter or a 1% learning-rate error changes values by 1e-3 or more.
FUSED_RTOL, FUSED_ATOL = 1e-5, 1e-6


# ---- a user's own op: @ag.primitive with its VJP ------------------------------------------------
@ag.primitive
def softsign(x):
    return x / (1 + np.abs(x))


@softsign.defvjp
def softsign_vjp(g, ans, x):
    d = 1 + np.abs(x)
    return (g / (d * d),)


class Softsign(nn.Module):
    def forward(self, x):
        return softsign(x)


# ---- the models ----------------------------------------------------------------------------------
def mlp(seed):
    return nn.MLP([6, 16, 16, 3], rng=seed)


def residual_dropout(seed):
    """A ResidualMLP with Dropout after each hidden activation and a StochasticDepth block."""
    rng = np.random.default_rng(seed)
    first, act, *residuals, last = list(nn.ResidualMLP(6, 16, 2, 3, rng=rng).layers)
    for r in residuals:
        r.block = nn.Sequential(*r.block, nn.Dropout(0.3, rng=rng))
    deep = nn.StochasticDepth(nn.Sequential(nn.Dense(16, 16, rng=rng), nn.ReLU()), 0.5, rng=rng)
    return nn.Sequential(first, act, nn.Dropout(0.2, rng=rng), *residuals, deep, last)


def cnn(seed):
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, rng=seed), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1, rng=seed + 1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Dense(8 * 2 * 2, 3, rng=seed + 2))


def custom_primitive(seed):
    return nn.Sequential(nn.Dense(6, 16, rng=seed), Softsign(), nn.Dense(16, 3, rng=seed + 1))


MODELS = {"mlp": mlp, "residual_dropout": residual_dropout, "cnn": cnn,
          "custom_primitive": custom_primitive}
OPTIMIZERS = {
    "sgd_momentum": lambda ps: SGD(ps, lr=0.05, momentum=0.9),
    "sgd_nesterov_wd": lambda ps: SGD(ps, lr=0.05, momentum=0.8, nesterov=True, weight_decay=1e-3),
    "adam": lambda ps: Adam(ps, lr=0.01),
    "adam_wd": lambda ps: Adam(ps, lr=0.01, betas=(0.8, 0.99), weight_decay=1e-2),
}


def batches(model_name, n, seed=0, size=8):
    r = np.random.default_rng(seed)
    shape = (size, 1, 8, 8) if model_name == "cnn" else (size, 6)
    return [(r.standard_normal(shape).astype(np.float32), r.integers(0, 3, size))
            for _ in range(n)]


def make_step(model, opt):
    def step(x, y):
        opt.zero_grad()
        loss = nn.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def twins(model_name, opt_name, seed=0, fuse=None):
    """(eager step, jitted step, eager model, jitted model, eager opt, jitted opt)."""
    out = []
    for _ in range(2):
        model = MODELS[model_name](seed)
        opt = OPTIMIZERS[opt_name](model.parameters())
        out.append((model, opt))
    (em, eo), (jm, jo) = out
    return make_step(em, eo), ag.jit(make_step(jm, jo), fuse=fuse), em, jm, eo, jo


def assert_same_bits(got, want, what, fused=False):
    """Equal bit for bit; within FUSED_RTOL/FUSED_ATOL when `fused` (float arrays only)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, \
        f"{what}: {got.dtype} {got.shape}, eager {want.dtype} {want.shape}"
    if fused and want.dtype.kind == "f" and want.size:
        atol = FUSED_ATOL * float(np.max(np.abs(want)))
        np.testing.assert_allclose(got, want, rtol=FUSED_RTOL, atol=atol, err_msg=f"{what} (fused)")
        return
    assert got.tobytes() == want.tobytes(), f"{what}: differs from eager\n{got}\n{want}"


def assert_twins_equal(jm, em, jo, eo, what, fused=False):
    for (name, p), (_, q) in zip(jm.named_parameters(), em.named_parameters(), strict=True):
        assert_same_bits(p.data, q.data, f"{what}: {name}", fused)
        assert (p.grad is None) == (q.grad is None), f"{what}: {name}.grad"
        if p.grad is not None:
            assert_same_bits(p.grad, q.grad, f"{what}: {name}.grad", fused)
    sj, se = jo.state_dict(), eo.state_dict()
    assert sj.keys() == se.keys(), f"{what}: optimizer state keys"
    for k in se:
        assert_same_bits(sj[k], se[k], f"{what}: optimizer {k}", fused)


def run_twins(estep, jstep, em, jm, eo, jo, data, what):
    """Both steps on each batch; bitwise equal, or close where `jstep` fuses."""
    for i, (x, y) in enumerate(data):
        want, got = estep(x, y), jstep(x, y)
        assert_same_bits(got.data, want.data, f"{what} step {i}: loss", jstep.fuse)
        assert_twins_equal(jm, em, jo, eo, f"{what} step {i}", jstep.fuse)


# ---- a jitted training step equals the eager one -------------------------------------------------
@pytest.mark.parametrize("opt_name", OPTIMIZERS)
@pytest.mark.parametrize("model_name", MODELS)
def test_jitted_training_step_matches_eager(model_name, opt_name):
    """With jit's default: fused where numba is installed (then compared with a tolerance)."""
    estep, jstep, em, jm, eo, jo = twins(model_name, opt_name)
    run_twins(estep, jstep, em, jm, eo, jo, batches(model_name, N_STEPS), model_name)
    assert jstep.programs(), f"{model_name}/{opt_name}: never compiled"
    if jstep.fuse and opt_name.startswith("adam"):  # (Adam's moment updates: a run of ufuncs)
        assert any(p.runs for p in jstep.programs()), f"{model_name}/{opt_name}: nothing fused"
    if model_name != "residual_dropout":  # (StochasticDepth: see the test below)
        # the first call has no optimizer state; the next two trace the program that replays
        assert jstep.traces == 3, jstep.traces


@pytest.mark.parametrize("model_name", ["mlp", "residual_dropout"])
def test_unfused_training_step_is_bitwise(model_name):
    """fuse=False replays plain NumPy even where numba is installed: equal bit for bit."""
    estep, jstep, em, jm, eo, jo = twins(model_name, "adam_wd", fuse=False)
    assert not jstep.fuse
    run_twins(estep, jstep, em, jm, eo, jo, batches(model_name, N_STEPS), model_name)
    assert jstep.programs() and not any(p.runs for p in jstep.programs())


def test_replayed_step_really_replays():
    """The later calls run the compiled program, not f: f's Python body is not entered."""
    estep, jstep, em, jm, eo, jo = twins("mlp", "adam")
    entered = []
    inner = jstep.f
    jstep.f = lambda x, y: (entered.append(1), inner(x, y))[1]
    run_twins(estep, jstep, em, jm, eo, jo, batches("mlp", N_STEPS), "mlp")
    assert len(entered) == 3 and len(jstep.programs()) == 1


@pytest.mark.parametrize("opt_name", ["sgd_momentum", "adam"])
def test_stochastic_depth_compiles_each_outcome(opt_name):
    """StochasticDepth branches on a random draw (a recorded bool() check): each outcome is its
    own program, and a replay whose draw goes the other way runs the other program with the
    same draws (same masks). The block's parameters get their optimizer state only when first
    kept, which changes the optimizer's layout: the programs before that are not replayed."""
    estep, jstep, em, jm, eo, jo = twins("residual_dropout", opt_name, seed=3)
    block = next(m for m in em.modules() if isinstance(m, nn.StochasticDepth)).block
    replayed = set()
    for i, (x, y) in enumerate(batches("residual_dropout", 24, seed=5)):
        traces = jstep.traces
        run_twins(estep, jstep, em, jm, eo, jo, [(x, y)], f"step {i}")
        if jstep.traces == traces:
            replayed.add("skipped" if block[0].W.grad is None else "kept")
    assert replayed == {"skipped", "kept"}, replayed
    assert len(jstep.programs()) >= 2


# ---- Python state is never stale -----------------------------------------------------------------
def test_eval_mode_is_not_a_stale_train_program():
    estep, jstep, em, jm, eo, jo = twins("residual_dropout", "adam")
    data = batches("residual_dropout", 12, seed=1)
    run_twins(estep, jstep, em, jm, eo, jo, data[:4], "train")
    jpredict = ag.jit(lambda x: jm(x))
    x = data[0][0]
    for _ in range(3):  # train mode: dropout on, compiled
        assert_same_bits(jpredict(x).data, em(x).data, "train predict", jpredict.fuse)
    assert jpredict.programs()
    em.eval()
    jm.eval()
    for i in range(3):
        assert_same_bits(jpredict(x).data, em(x).data, f"eval predict {i}", jpredict.fuse)
    assert_same_bits(jpredict(x).data, jpredict(x).data, "eval is deterministic")
    run_twins(estep, jstep, em, jm, eo, jo, data[4:8], "eval steps")
    em.train()
    jm.train()
    run_twins(estep, jstep, em, jm, eo, jo, data[8:], "train again")
    assert_same_bits(jpredict(x).data, em(x).data, "train predict again", jpredict.fuse)


def test_dropout_masks_are_fresh_at_every_replay_and_match_eager():
    em, jm = residual_dropout(7), residual_dropout(7)
    jpredict = ag.jit(lambda x: jm(x))
    x = batches("residual_dropout", 1)[0][0]
    outs = []
    for i in range(6):
        want, got = em(x).data, jpredict(x).data
        assert_same_bits(got, want, f"call {i}", jpredict.fuse)
        outs.append(got)
    assert jpredict.programs()
    assert all(not np.array_equal(outs[i], outs[i + 1]) for i in range(len(outs) - 1))


def test_dropout_p_change_retraces():
    em, jm = residual_dropout(2), residual_dropout(2)
    jpredict = ag.jit(lambda x: jm(x))
    x = batches("residual_dropout", 1)[0][0]
    for p in (0.3, 0.3, 0.3, 0.6, 0.6, 0.6, 0.0):
        for m in (em, jm):
            for d in m.modules():
                if isinstance(d, nn.Dropout):
                    d.p = p
        assert_same_bits(jpredict(x).data, em(x).data, f"p={p}", jpredict.fuse)


@pytest.mark.parametrize("opt_name", ["sgd_momentum", "adam"])
def test_learning_rate_schedule_is_read_at_every_call(opt_name):
    estep, jstep, em, jm, eo, jo = twins("mlp", opt_name)
    data = batches("mlp", 10, seed=2)
    for i, (x, y) in enumerate(data):
        eo.lr = jo.lr = 0.05 * 0.5 ** i
        assert_same_bits(jstep(x, y).data, estep(x, y).data, f"step {i}: loss", jstep.fuse)
        assert_twins_equal(jm, em, jo, eo, f"step {i}", jstep.fuse)
    assert jstep.programs() and jstep.traces == 3


def test_loaded_parameters_and_optimizer_state_are_seen():
    estep, jstep, em, jm, eo, jo = twins("mlp", "adam")
    data = batches("mlp", 12, seed=3)
    run_twins(estep, jstep, em, jm, eo, jo, data[:4], "before")
    assert jstep.programs()
    other = mlp(seed=42)
    saved_opt = eo.state_dict()
    run_twins(estep, jstep, em, jm, eo, jo, data[4:6], "more")
    for m in (em, jm):
        m.load_state_dict(other.state_dict())
    for o in (eo, jo):
        o.load_state_dict(saved_opt)
    assert_twins_equal(jm, em, jo, eo, "loaded", jstep.fuse)
    run_twins(estep, jstep, em, jm, eo, jo, data[6:], "after load")
    assert jstep.traces == 3, "loading rebinds arrays: the compiled program still applies"


def test_optimizer_state_layout_change_retraces():
    """A loaded state without a parameter's moments (never stepped) is not replayed over."""
    estep, jstep, em, jm, eo, jo = twins("mlp", "sgd_momentum")
    data = batches("mlp", 8, seed=4)
    fresh = SGD(em.parameters(), lr=0.05, momentum=0.9).state_dict()  # no momentum buffers
    run_twins(estep, jstep, em, jm, eo, jo, data[:4], "before")
    eo.load_state_dict(fresh)
    jo.load_state_dict(fresh)
    run_twins(estep, jstep, em, jm, eo, jo, data[4:], "after reset")


def test_optimizer_hyperparameter_branches_are_guarded():
    estep, jstep, em, jm, eo, jo = twins("mlp", "sgd_momentum")
    data = batches("mlp", 12, seed=6)
    run_twins(estep, jstep, em, jm, eo, jo, data[:4], "momentum")
    for o in (eo, jo):
        o.nesterov, o.weight_decay = True, 0.01
    run_twins(estep, jstep, em, jm, eo, jo, data[4:8], "nesterov, weight decay")
    for o in (eo, jo):
        o.nesterov, o.momentum = False, 0.0
    run_twins(estep, jstep, em, jm, eo, jo, data[8:], "plain")


def test_sparse_dense_mask_loaded_between_calls_is_seen():
    """A buffer is a plain array on the module, not a Tensor: SparseDense reads its mask with
    ag.tracing.read, so a mask that load_state_dict rebinds is used by the next replay."""
    def build(seed):
        return nn.Sequential(nn.SparseDense(6, 16, 0.5, seed=seed), nn.ReLU(), nn.Dense(16, 3, rng=seed))
    em, jm = build(0), build(0)
    eo, jo = SGD(em.parameters(), lr=0.05, momentum=0.9), SGD(jm.parameters(), lr=0.05, momentum=0.9)
    estep, jstep = make_step(em, eo), ag.jit(make_step(jm, jo))
    data = batches("mlp", 8, seed=8)
    run_twins(estep, jstep, em, jm, eo, jo, data[:4], "before")
    assert jstep.programs()
    other = build(1).state_dict()
    for m in (em, jm):
        m.load_state_dict(other)
    run_twins(estep, jstep, em, jm, eo, jo, data[4:], "after load")

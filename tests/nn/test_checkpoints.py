"""nn.fit(..., checkpoint=DIR, resume=True) and Ctrl-C: a run interrupted after any epoch and
resumed in a fresh model and optimizer ends bit for bit where the uninterrupted run ends; the
checkpoint is written atomically; a checkpoint of another run is refused, naming why."""

import io
import os
import random
import zipfile

import numpy as np
import pytest

import nn
from nn import serialization
from nn.data import noise_augment, shift_augment

RNG = np.random.default_rng(0)
X = RNG.standard_normal((96, 6))
Y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
IMAGES = RNG.standard_normal((48, 1, 6, 6))
IMAGE_LABELS = (IMAGES[:, 0, 2:4, 2:4].sum(axis=(1, 2)) > 0).astype(np.int64)
AUG_RNG = np.random.default_rng(11)  # a global generator that an augment function names


def mlp(seed, dtype=np.float64, width=16):
    """An MLP with dropout: its mask generator is a random stream of the run."""
    m = nn.Sequential(nn.Dense(6, width, rng=seed), nn.ReLU(), nn.Dropout(0.3, rng=seed + 1),
                      nn.Dense(width, 2, rng=seed + 2))
    return m.astype(dtype)


def residual(seed, dtype=np.float64):
    """A residual MLP with stochastic depth (a second kind of stream held by a module)."""
    block = nn.Sequential(nn.Dense(16, 16, rng=seed + 1), nn.ReLU())
    m = nn.Sequential(nn.Dense(6, 16, rng=seed), nn.ReLU(),
                      nn.StochasticDepth(block, 0.3, rng=seed + 2), nn.Dense(16, 2, rng=seed + 3))
    return m.astype(dtype)


def cnn(seed, dtype=np.float64):
    m = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1, rng=seed), nn.ReLU(), nn.AvgPool2d(2),
                      nn.Flatten(), nn.Dropout(0.2, rng=seed + 1), nn.Dense(27, 2, rng=seed + 2))
    return m.astype(dtype)


def closure_augment():
    own = np.random.default_rng(7)  # held in the closure: saved and restored too

    def augment(xb, rng):
        return xb + 0.01 * own.standard_normal(xb.shape) + 0.01 * rng.standard_normal(xb.shape)

    return augment


def global_augment(xb, rng):
    """Draws from a module-level generator and from NumPy's global one, not from `rng`."""
    return xb + 0.01 * AUG_RNG.standard_normal(xb.shape) + 0.01 * np.random.standard_normal(xb.shape)


# name -> (model builder, data, optimizer builder, fit keyword arguments)
SETUPS = {
    "adam-dropout": (mlp, "vec", lambda p: nn.optim.Adam(p, lr=1e-2), dict(val_split=0.2)),
    "sgd-momentum": (mlp, "vec", lambda p: nn.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True,
                                                        weight_decay=1e-3), dict(val_split=0.2)),
    "patience-schedule": (mlp, "vec", lambda p: nn.optim.SGD(p, lr=0.1, momentum=0.9),
                          dict(val_split=0.25, patience=2, min_delta=1e-3,
                               lr_schedule=lambda e: 0.2 * 0.7 ** e, regularization=1e-3)),
    "stochastic-depth-augment": (residual, "vec", lambda p: nn.optim.Adam(p, lr=3e-3),
                                 dict(augment=noise_augment)),
    "closure-and-global-streams": (mlp, "vec", lambda p: nn.optim.Adam(p, lr=1e-2),
                                   dict(augment="closure", val_split=0.2)),
    "cnn-shift-augment": (cnn, "img", lambda p: nn.optim.Adam(p, lr=1e-2),
                          dict(augment=lambda xb, rng: shift_augment(xb, rng, max_shift=1),
                               batch_size=12)),
}
EPOCHS = 6


def train(setup, epochs, seed=0, dtype=np.float64, augment=None, **extra):
    """Build the model and optimizer afresh (as a new process would) and fit."""
    build, data, make_opt, kw = SETUPS[setup]
    kw = dict(kw)
    if kw.get("augment") == "closure":
        kw["augment"] = closure_augment()
    if augment is not None:
        kw["augment"] = augment
    model = build(seed, dtype)
    opt = make_opt(model.parameters())
    x, y = (X, Y) if data == "vec" else (IMAGES, IMAGE_LABELS)
    kw = {"batch_size": 16, "quiet": True, "rng": 5, **kw, **extra}
    history = nn.fit(model, x, y, optimizer=opt, epochs=epochs, **kw)
    return model, opt, history


def assert_same_params(a, b):
    for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        assert p.data.dtype == q.data.dtype and p.data.tobytes() == q.data.tobytes(), name


def assert_same_history(h, ref):
    for name in ("loss", "val_loss", "accuracy", "val_accuracy", "lr"):
        assert getattr(h, name) == getattr(ref, name), name
    assert (h.best_epoch, h.stopped_early, h.restored_best) == \
        (ref.best_epoch, ref.stopped_early, ref.restored_best)


# ---- resume ends where the uninterrupted run ends, bit for bit ---------------------------------
@pytest.mark.parametrize("setup", [s for s in SETUPS if s != "closure-and-global-streams"])
@pytest.mark.parametrize("k", [1, 3])
def test_resumed_run_ends_bitwise_like_uninterrupted(setup, k, tmp_path):
    ref_model, _, ref = train(setup, EPOCHS)
    train(setup, k, checkpoint=tmp_path)
    # a different initialization: everything must come from the checkpoint
    model, _, history = train(setup, EPOCHS, seed=100, checkpoint=tmp_path, resume=True)
    assert_same_params(model, ref_model)
    assert_same_history(history, ref)
    assert history.epochs == ref.epochs and not history.interrupted


def test_patience_setup_stops_early_and_restores_best(tmp_path):
    """The early-stopping setup really exercises patience, and the resumed run agrees."""
    _, _, ref = train("patience-schedule", 30)
    assert ref.stopped_early and ref.restored_best and ref.epochs < 30
    stop = ref.epochs
    ref_model, _, _ = train("patience-schedule", 30)
    train("patience-schedule", stop - 1, checkpoint=tmp_path)
    model, _, history = train("patience-schedule", 30, seed=100, checkpoint=tmp_path, resume=True)
    assert_same_params(model, ref_model)
    assert_same_history(history, ref)
    # a checkpoint of a run that stopped early: resuming trains no further
    model2, _, again = train("patience-schedule", 30, seed=200, checkpoint=tmp_path, resume=True)
    assert_same_params(model2, ref_model)
    assert again.epochs == stop and again.stopped_early


def test_resume_takes_split_and_rng_from_checkpoint(tmp_path):
    """The resumed run is passed another seed (or none): the val_split rows and the shuffling
    state come from the checkpoint, so it still ends like the uninterrupted run."""
    ref_model, _, ref = train("adam-dropout", 4, rng=np.random.default_rng(5))
    train("adam-dropout", 2, rng=np.random.default_rng(5), checkpoint=tmp_path)
    for other in (77, None):
        model, _, history = train("adam-dropout", 4, seed=100, rng=other, checkpoint=tmp_path,
                                  resume=True)
        assert_same_params(model, ref_model)
        assert_same_history(history, ref)


def test_float32_resume_is_bitwise_too(tmp_path):
    ref_model, _, _ = train("adam-dropout", 4, dtype=np.float32)
    train("adam-dropout", 2, dtype=np.float32, checkpoint=tmp_path)
    model, _, _ = train("adam-dropout", 4, seed=100, dtype=np.float32, checkpoint=tmp_path,
                        resume=True)
    assert_same_params(model, ref_model)


def test_generators_in_closures_globals_and_numpy_global_are_restored(tmp_path):
    """An augment drawing from its closure's generator, and one drawing from a module-level
    generator and np.random: their states are saved and restored with the checkpoint."""
    for augment in (closure_augment, lambda: global_augment):
        AUG_RNG.bit_generator.state = np.random.default_rng(11).bit_generator.state
        np.random.seed(3)
        ref_model, _, _ = train("closure-and-global-streams", 4, augment=augment())
        AUG_RNG.bit_generator.state = np.random.default_rng(11).bit_generator.state
        np.random.seed(3)
        train("closure-and-global-streams", 2, augment=augment(), checkpoint=tmp_path)
        np.random.seed(99)  # the new process's global state differs: the checkpoint's is used
        AUG_RNG.bit_generator.state = np.random.default_rng(99).bit_generator.state
        model, _, _ = train("closure-and-global-streams", 4, seed=100, augment=augment(),
                            checkpoint=tmp_path, resume=True)
        assert_same_params(model, ref_model)


def test_streams_found(tmp_path):
    model = residual(0)
    streams = serialization.random_streams(model, np.random.default_rng(0), {
        "augment": closure_augment(), "lr_schedule": None, "other": global_augment})
    assert set(streams) == {"fit.rng", "model.2.rng", "augment.own", "other.AUG_RNG",
                            "numpy.random", "random"}


def test_resume_without_checkpoint_starts_fresh_and_completed_run_is_kept(tmp_path):
    ref_model, _, ref = train("adam-dropout", 3)
    out = io.StringIO()
    model, _, history = train("adam-dropout", 3, checkpoint=tmp_path / "new", resume=True,
                              quiet=False, progress=True, stream=out)
    assert "no checkpoint" in out.getvalue()
    assert_same_params(model, ref_model)
    assert (tmp_path / "new" / "checkpoint.npz").is_file()
    # resuming a finished run changes nothing
    model2, _, again = train("adam-dropout", 3, seed=100, checkpoint=tmp_path / "new", resume=True)
    assert_same_params(model2, ref_model)
    assert_same_history(again, ref)


def test_resume_needs_a_folder(tmp_path):
    with pytest.raises(ValueError, match="resume=True needs checkpoint=DIR"):
        train("adam-dropout", 1, resume=True)
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        train("adam-dropout", 1, checkpoint=tmp_path / "f")


def test_checkpoint_needs_an_optimizer_with_state(tmp_path):
    class Plain:
        lr = 0.1

        def step(self):
            pass

    model = mlp(0)
    with pytest.raises(TypeError, match="state_dict"):
        nn.fit(model, X, Y, optimizer=Plain(), epochs=1, quiet=True, checkpoint=tmp_path)


# ---- the file ------------------------------------------------------------------------------------
def test_checkpoint_file_is_plain_npz_of_numbers(tmp_path):
    model, opt, history = train("patience-schedule", 3, checkpoint=tmp_path)
    path = tmp_path / "checkpoint.npz"
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    assert all(a.dtype.kind in "biuf" for a in arrays.values())
    assert int(arrays["epoch"]) == 3
    assert {k for k in arrays if k.startswith("model/")} == {f"model/{n}" for n in model.state_dict()}
    assert {k for k in arrays if k.startswith("optimizer/")} == \
        {f"optimizer/{n}" for n in opt.state_dict()}
    assert list(arrays["fit/history.loss"]) == history.loss
    assert {k.removeprefix("rng/") for k in arrays if k.startswith("rng/")} == \
        {"fit.rng", "model.2.rng", "numpy.random", "random"}
    assert any(k.startswith("best/") for k in arrays)  # patience with restore_best
    assert os.listdir(tmp_path) == ["checkpoint.npz"]  # no temporary file left behind


@pytest.mark.parametrize("where", ["rename", "mid-write"])
def test_failed_write_keeps_previous_checkpoint(tmp_path, monkeypatch, where):
    train("adam-dropout", 2, checkpoint=tmp_path)
    before = (tmp_path / "checkpoint.npz").read_bytes()
    calls = [0]
    if where == "rename":
        def fail(*args):
            raise OSError("disk full")
        monkeypatch.setattr(serialization.os, "replace", fail)
    else:
        real = np.lib.format.write_array

        def fail(*args, **kw):
            calls[0] += 1
            if calls[0] == 5:
                raise OSError("disk full")
            return real(*args, **kw)
        monkeypatch.setattr(np.lib.format, "write_array", fail)
    with pytest.raises(OSError, match="disk full"):
        train("adam-dropout", 4, checkpoint=tmp_path)
    monkeypatch.undo()
    assert (tmp_path / "checkpoint.npz").read_bytes() == before
    assert os.listdir(tmp_path) == ["checkpoint.npz"]
    # and it still resumes to the uninterrupted end
    ref_model, _, _ = train("adam-dropout", 4)
    model, _, _ = train("adam-dropout", 4, seed=100, checkpoint=tmp_path, resume=True)
    assert_same_params(model, ref_model)


# ---- refusals: nothing changes -----------------------------------------------------------------
def state_of(model, opt):
    return ({k: v.tobytes() for k, v in model.state_dict().items()},
            {k: np.asarray(v).tobytes() for k, v in opt.state_dict().items()})


@pytest.mark.parametrize("change, match", [
    (dict(width=8), r"model/0\.W: the checkpoint's is \(16, 6\) float64, the model's \(8, 6\)"),
    (dict(dtype=np.float32), r"model/0\.W: .* float64, the model's \(16, 6\) float32"),
    (dict(opt="sgd"), r"optimizer/: SGD\.load_state_dict: missing keys: dampening, momentum"),
    (dict(data=80), r"fit/n_samples: the checkpoint's run had 96, this one 80"),
    (dict(extra_stream=True), r"random streams this run draws from but the checkpoint lacks: "
                              r"augment\.own"),
])
def test_mismatched_checkpoint_refused_and_nothing_changes(tmp_path, change, match):
    model = mlp(0)
    nn.fit(model, X, Y, optimizer=nn.optim.Adam(model.parameters(), lr=1e-2), epochs=2,
           rng=5, quiet=True, checkpoint=tmp_path)
    other = mlp(1, change.get("dtype", np.float64), change.get("width", 16))
    opt = (nn.optim.SGD(other.parameters(), lr=0.1, momentum=0.9) if change.get("opt")
           else nn.optim.Adam(other.parameters(), lr=1e-2))
    # give the optimizer some state, so "unchanged" means something
    nn.fit(other, X, Y, optimizer=opt, epochs=1, rng=1, quiet=True)
    before = state_of(other, opt)
    dropout_state = other[2].rng.bit_generator.state
    n = change.get("data", len(X))
    kw = {"augment": closure_augment()} if change.get("extra_stream") else {}
    with pytest.raises(ValueError, match=match):
        nn.fit(other, X[:n], Y[:n], optimizer=opt, epochs=4, rng=5, quiet=True,
               checkpoint=tmp_path, resume=True, **kw)
    assert state_of(other, opt) == before
    assert other[2].rng.bit_generator.state == dropout_state


def test_val_split_mismatch_refused(tmp_path):
    train("adam-dropout", 1, checkpoint=tmp_path)  # val_split=0.2
    model = mlp(0)
    with pytest.raises(ValueError, match="held out a val_split; this one has none"):
        nn.fit(model, X, Y, epochs=2, rng=5, quiet=True, checkpoint=tmp_path, resume=True,
               optimizer=nn.optim.Adam(model.parameters(), lr=1e-2))


def test_corrupt_checkpoint_refused(tmp_path):
    (tmp_path / "checkpoint.npz").write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not an .npz archive"):
        train("adam-dropout", 2, checkpoint=tmp_path, resume=True)
    with zipfile.ZipFile(tmp_path / "checkpoint.npz", "w"):
        pass
    with pytest.raises(ValueError, match="not a checkpoint of layout 1"):
        train("adam-dropout", 2, checkpoint=tmp_path, resume=True)


# ---- Ctrl-C --------------------------------------------------------------------------------------
def interrupting(after_calls, inner=noise_augment):
    """An augment that raises KeyboardInterrupt on its `after_calls`-th batch (Ctrl-C there)."""
    calls = [0]

    def augment(xb, rng):
        calls[0] += 1
        if calls[0] == after_calls:
            raise KeyboardInterrupt
        return inner(xb, rng)

    return augment


@pytest.mark.parametrize("batch", [3, 14, 25])  # 6 batches per epoch: epochs 1, 3 and 5
@pytest.mark.parametrize("folder", [True, False])
def test_ctrl_c_saves_last_epoch_returns_and_resumes_exactly(tmp_path, batch, folder):
    setup = "stochastic-depth-augment"
    ref_model, _, ref = train(setup, EPOCHS)
    out = io.StringIO()
    kw = {"checkpoint": tmp_path} if folder else {}
    model, opt, history = train(setup, EPOCHS, augment=interrupting(batch), stream=out, **kw)
    done = (batch - 1) // 6
    assert history.interrupted and history.epochs == done
    where = str(tmp_path) if folder else history.checkpoint
    assert history.checkpoint == where and os.path.isfile(os.path.join(where, "checkpoint.npz"))
    message = out.getvalue()
    assert f"in epoch {done + 1}" in message and f"after epoch {done}" in message
    assert f"nn.fit(..., checkpoint={where!r}, resume=True)" in message
    # in memory: exactly the state after the last completed epoch
    k_model, k_opt, k_history = train(setup, done) if done else (residual(0), None, None)
    assert_same_params(model, k_model)
    if k_opt is not None:
        assert state_of(model, opt)[1] == state_of(k_model, k_opt)[1]
        assert history.loss == k_history.loss
    # in a fresh process: resume ends where the uninterrupted run ends
    resumed, _, full = train(setup, EPOCHS, seed=100, checkpoint=where, resume=True)
    assert_same_params(resumed, ref_model)
    assert_same_history(full, ref)


def test_ctrl_c_from_a_constraint_callback(tmp_path):
    calls = [0]

    def constraint():
        calls[0] += 1
        if calls[0] == 9:
            raise KeyboardInterrupt

    ref_model, _, _ = train("sgd-momentum", 3)
    model, _, history = train("sgd-momentum", 3, constraints=[constraint], checkpoint=tmp_path,
                              stream=io.StringIO())
    assert history.interrupted and history.epochs == 1
    resumed, _, _ = train("sgd-momentum", 3, seed=100, checkpoint=tmp_path, resume=True)
    assert_same_params(resumed, ref_model)


def test_ctrl_c_during_checkpoint_write(tmp_path, monkeypatch):
    """Ctrl-C while epoch 2's checkpoint is written: the partial file is dropped, and the
    completed epoch 2 (kept in memory) is written by the interrupt handler."""
    real, calls = serialization._write_npz, [0]

    def write(*args):
        calls[0] += 1
        if calls[0] == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(serialization, "_write_npz", write)
    _, _, history = train("adam-dropout", 4, checkpoint=tmp_path, stream=io.StringIO())
    monkeypatch.undo()
    assert history.interrupted and history.epochs == 2
    with np.load(tmp_path / "checkpoint.npz") as npz:
        assert int(npz["epoch"]) == 2
    ref_model, _, _ = train("adam-dropout", 4)
    model, _, _ = train("adam-dropout", 4, seed=100, checkpoint=tmp_path, resume=True)
    assert_same_params(model, ref_model)


def test_ctrl_c_without_state_dict_optimizer_propagates():
    class Plain:
        def zero_grad(self):
            pass

        def step(self):
            raise KeyboardInterrupt

    model = mlp(0)
    with pytest.raises(KeyboardInterrupt):
        nn.fit(model, X, Y, optimizer=Plain(), epochs=1, quiet=True)


def test_python_random_state_is_restored(tmp_path):
    def augment(xb, rng):
        return xb + 0.01 * random.random()

    random.seed(1)
    ref_model, _, _ = train("adam-dropout", 3, augment=augment)
    random.seed(1)
    train("adam-dropout", 1, augment=augment, checkpoint=tmp_path)
    random.seed(2)
    model, _, _ = train("adam-dropout", 3, seed=100, augment=augment, checkpoint=tmp_path,
                        resume=True)
    assert_same_params(model, ref_model)

"""nn.fit / Trainer / History / predict: the training workflow on small generated problems."""

import io

import numpy as np
import pytest

import autograd_core as ag
import nn
from nn.data import make_regression


def blobs(n=240, k=3, d=2, seed=0):
    """k well-separated Gaussian clusters: an easy classification problem."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, d)) * 8
    y = rng.integers(0, k, size=n)
    x = centers[y] + rng.standard_normal((n, d))
    return x.astype(np.float32), y.astype(np.int64)


class Recorder(nn.Module):
    """Wraps a model and records, per call, the mode and the input's dtype and shape."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        object.__setattr__(self, "calls", [])

    def forward(self, x):
        self.calls.append((self.training, np.asarray(x).dtype, tuple(np.shape(x)), ag_enabled()))
        return self.inner(x)


def ag_enabled() -> bool:
    """Whether the engine records right now (False under ag.no_grad())."""
    t = ag.tensor(np.ones(1), requires_grad=True)
    return (t * 2).requires_grad


# ---- it trains -----------------------------------------------------------------------------------


def test_fit_reduces_the_loss_on_a_regression_problem():
    x, y = make_regression(300, 3, noise=0.05, seed=0)
    model = nn.MLP([3, 32, 32, 1], rng=0)
    before = float(np.mean(0.5 * (nn.predict(model, x) - y) ** 2))
    h = nn.fit(model, x, y, loss="mse", epochs=40, batch_size=32, rng=0, progress=False,
               optimizer=nn.optim.Adam(model.parameters(), lr=1e-2))
    after = float(np.mean(0.5 * (nn.predict(model, x) - y) ** 2))
    assert h.loss[-1] < 0.3 * h.loss[0]
    assert after < 0.2 * before
    assert h.accuracy == []  # regression: no accuracy


def test_fit_classifies_and_reports_accuracy():
    x, y = blobs()
    model = nn.MLP([2, 16, 3], rng=1)
    h = nn.fit(model, x, y, epochs=15, batch_size=16, val_split=0.25, rng=0, progress=False,
               optimizer=nn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    assert h.val_accuracy[-1] > 0.9 and h.accuracy[-1] > 0.9
    assert h.val_loss[-1] < h.val_loss[0]


def test_one_hot_targets_give_accuracy_too():
    x, y = blobs()
    model = nn.MLP([2, 8, 3], rng=2)
    h = nn.fit(model, x, np.eye(3, dtype=np.float32)[y], epochs=5, rng=0, progress=False)
    assert len(h.accuracy) == 5 and 0 <= h.accuracy[-1] <= 1


def test_a_callable_loss():
    x, y = make_regression(64, 2, seed=1)
    seen = []

    def loss(u, t):
        seen.append(t.shape)
        return nn.mse_loss(u, t, reduction="sum")

    nn.fit(nn.MLP([2, 4, 1], rng=0), x, y, loss=loss, epochs=2, batch_size=32, progress=False)
    assert seen == [(32, 1)] * 4


# ---- History -------------------------------------------------------------------------------------


def test_history_contents_and_printing():
    x, y = blobs(120)
    model = nn.MLP([2, 8, 3], rng=0)
    h = nn.fit(model, x, y, epochs=4, batch_size=32, val_split=0.25, rng=0, progress=False,
               lr_schedule=lambda e: 0.01 / (e + 1))
    for name in ("loss", "val_loss", "accuracy", "val_accuracy", "epoch_time", "lr"):
        assert len(getattr(h, name)) == 4, name
    assert h.epochs == 4 and all(t > 0 for t in h.epoch_time)
    assert h.lr == pytest.approx([0.01, 0.005, 0.01 / 3, 0.0025])
    assert all(0.0 <= a <= 1.0 for a in h.accuracy + h.val_accuracy)
    assert h.best_epoch == int(np.argmin(h.val_loss))
    assert not h.stopped_early and not h.restored_best
    text = str(h)
    lines = text.splitlines()
    assert lines[0].split()[:5] == ["epoch", "loss", "acc", "val_loss", "val_acc"]
    assert len([ln for ln in lines if ln.lstrip()[:1].isdigit()]) >= 4
    assert f"{h.val_loss[-1]:.4f}" in text and "best epoch" in text
    assert "History(epochs=4" in repr(h)


def test_history_without_validation_has_no_best_epoch():
    x, y = make_regression(40, 2)
    h = nn.fit(nn.MLP([2, 4, 1], rng=0), x, y, loss="mse", epochs=2, progress=False)
    assert h.val_loss == [] and h.best_epoch is None
    assert "val_loss" not in str(h)


# ---- early stopping ------------------------------------------------------------------------------


def test_early_stopping_restores_the_best_weights():
    # validation targets are the negated training targets: as the model fits y, the val loss
    # rises, so the best epoch is early and patience runs out.
    x, y = make_regression(64, 2, noise=0.0, seed=3)
    model = nn.MLP([2, 16, 1], rng=0)
    snapshots = []  # full batches: one step per epoch, so one snapshot per epoch
    h = nn.fit(model, x, y, loss="mse", epochs=50, batch_size=64, val=(x, -y), patience=3,
               rng=0, progress=False, optimizer=nn.optim.Adam(model.parameters(), lr=0.01),
               constraints=[lambda: snapshots.append(model.state_dict())])
    assert h.stopped_early and h.restored_best
    assert h.epochs == h.best_epoch + 1 + 3 < 50
    assert h.val_loss[-1] > h.val_loss[h.best_epoch]
    state = model.state_dict()
    for name, arr in snapshots[h.best_epoch].items():
        np.testing.assert_array_equal(state[name], arr)
    val_loss, _ = nn.Trainer(model, loss="mse").evaluate(x, -y)
    assert val_loss == pytest.approx(h.val_loss[h.best_epoch], rel=1e-6)


def test_early_stopping_keeps_the_last_weights_when_they_are_best():
    x, y = make_regression(64, 2, noise=0.0, seed=3)
    model = nn.MLP([2, 16, 1], rng=0)
    h = nn.fit(model, x, y, loss="mse", epochs=5, batch_size=64, val=(x, y), patience=3,
               progress=False, optimizer=nn.optim.Adam(model.parameters(), lr=0.01))
    assert h.best_epoch == 4 and not h.restored_best and not h.stopped_early


def test_early_stopping_needs_validation():
    x, y = make_regression(20, 2)
    with pytest.raises(ValueError, match="validation"):
        nn.fit(nn.MLP([2, 1]), x, y, loss="mse", patience=2, progress=False)


# ---- reproducibility and shuffling ---------------------------------------------------------------


def train_once(seed, fit_rng):
    x, y = blobs(96)
    model = nn.Sequential(nn.Dense(2, 16, rng=seed), nn.ReLU(), nn.Dropout(0.2, rng=seed),
                          nn.Dense(16, 3, rng=seed))
    h = nn.fit(model, x, y, epochs=3, batch_size=16, val_split=0.25, rng=fit_rng,
               progress=False, augment=nn.data.noise_augment)
    return model.state_dict(), h


def test_seeded_fit_is_reproducible():
    s1, h1 = train_once(0, 5)
    s2, h2 = train_once(0, 5)
    s3, _ = train_once(0, 6)
    for name in s1:
        np.testing.assert_array_equal(s1[name], s2[name])
    assert h1.loss == h2.loss and h1.val_loss == h2.val_loss
    assert any(not np.array_equal(s1[n], s3[n]) for n in s1)


def test_shuffling_visits_every_sample_once_per_epoch_in_a_new_order():
    n = 20
    x = np.arange(n, dtype=np.float32)[:, None]
    y = np.zeros((n, 1), np.float32)
    seen = []

    def spy(xb, rng):
        assert isinstance(rng, np.random.Generator)
        seen.append(xb[:, 0].astype(int))
        return xb

    def run(shuffle, rng):
        seen.clear()
        nn.fit(nn.MLP([1, 1], rng=0), x, y, loss="mse", epochs=3, batch_size=6,
               shuffle=shuffle, rng=rng, augment=spy, progress=False)
        epochs = [np.concatenate(seen[i * 4:(i + 1) * 4]) for i in range(3)]
        assert [len(b) for b in seen] == [6, 6, 6, 2] * 3
        return epochs

    epochs = run(True, 0)
    for order in epochs:
        np.testing.assert_array_equal(np.sort(order), np.arange(n))
    assert not np.array_equal(epochs[0], epochs[1])
    again = run(True, 0)
    for a, b in zip(epochs, again, strict=True):
        np.testing.assert_array_equal(a, b)
    for order in run(False, 0):
        np.testing.assert_array_equal(order, np.arange(n))


# ---- hooks ---------------------------------------------------------------------------------------


def test_constraints_run_after_every_step_and_hold():
    x, y = blobs(100)
    model = nn.MLP([2, 32, 32, 3], rng=0)
    calls = []

    def project():
        # runs after the step: grads of this batch exist, and the weights moved since last call
        assert all(p.grad is not None for p in model.parameters())
        calls.append(model.layers[0].W.data.copy())
        nn.constrain_spectral_norm(model.parameters())

    h = nn.fit(model, x, y, epochs=3, batch_size=25, rng=0, progress=False,
               optimizer=nn.optim.Adam(model.parameters(), lr=0.05), constraints=[project])
    assert len(calls) == 3 * 4
    assert all(not np.array_equal(a, b) for a, b in zip(calls, calls[1:], strict=False))
    for name, p in model.named_parameters():
        if p.ndim == 2:
            assert np.linalg.norm(p.data, 2) <= 1 + 1e-5, name
    assert h.epochs == 3


def test_augment_hook_sees_training_batches_only():
    x, y = blobs(50)
    calls = []

    def augment(xb, rng):
        calls.append(xb.shape)
        return xb + rng.standard_normal(xb.shape).astype(xb.dtype) * 0.01

    nn.fit(nn.MLP([2, 3], rng=0), x, y, epochs=2, batch_size=20, val=(x, y), rng=0,
           augment=augment, progress=False)
    assert calls == [(20, 2), (20, 2), (10, 2)] * 2


def test_augment_returning_another_batch_size_is_an_error():
    x, y = blobs(20)
    with pytest.raises(ValueError, match="augment returned 5 samples"):
        nn.fit(nn.MLP([2, 3]), x, y, epochs=1, batch_size=10, progress=False,
               augment=lambda xb, rng: xb[:5])


def test_regularization_shrinks_the_weights():
    x, y = make_regression(100, 3, seed=2)

    def weight_norm(reg):
        model = nn.MLP([3, 16, 1], rng=0)
        nn.fit(model, x, y, loss="mse", epochs=20, rng=0, regularization=reg, progress=False,
               optimizer=nn.optim.Adam(model.parameters(), lr=1e-2))
        return sum(float(np.sum(p.data ** 2)) for p in model.parameters() if p.ndim == 2)

    calls = []

    def reg():
        calls.append(1)
        return ag.tensor(0.0)

    assert weight_norm(1.0) < 0.5 * weight_norm(None)
    weight_norm(reg)
    assert len(calls) == 20 * 4  # once per batch


def test_train_mode_in_training_eval_mode_and_no_grad_in_validation():
    x, y = blobs(40)
    model = Recorder(nn.MLP([2, 4, 3], rng=0))
    nn.fit(model, x, y, epochs=1, batch_size=40, val=(x[:10], y[:10]), progress=False)
    assert model.calls[0][0] is True and model.calls[0][3] is True  # training: train, recording
    assert model.calls[1][0] is False and model.calls[1][3] is False  # validation: eval, no_grad
    assert model.training  # left in train mode


def test_inputs_are_cast_to_the_parameter_dtype():
    x, y = blobs(20)
    model = Recorder(nn.MLP([2, 4, 3], rng=0).astype(np.float64))
    nn.fit(model, x, y, epochs=1, batch_size=20, progress=False)
    assert model.calls[0][1] == np.float64
    assert model.inner.layers[0].W.dtype == np.float64
    out = nn.predict(model, x.astype(np.float16))
    assert out.dtype == np.float64


def test_a_non_finite_loss_stops_with_a_clear_error():
    x, y = make_regression(20, 2)
    with pytest.raises(FloatingPointError, match="epoch 1, batch 1"):
        nn.fit(nn.MLP([2, 1]), x, y, loss=lambda u, t: nn.mse_loss(u, t) * np.nan,
               progress=False)


def test_nan_input_is_reported_with_its_row_feature_and_batch():
    x, y = blobs(40, d=3)
    x[[5, 22], [2, 0]] = np.nan, np.inf
    model = nn.MLP([3, 4, 3], rng=0)
    before = model.state_dict()
    with pytest.raises(ValueError) as info:
        nn.fit(model, x, y, epochs=2, batch_size=8, shuffle=False, progress=False)
    message = str(info.value)
    assert "the input x holds NaN at row 5 of x, feature (column) 2" in message
    assert "epoch 1 meets in batch 1" in message and "2 row(s)" in message
    assert "column(s) 0, 2" in message and "learning rate" not in message
    for name, w in model.state_dict().items():  # raised before any step
        np.testing.assert_array_equal(w, before[name])
    # shuffled: the batch named is the one the epoch's order puts the first bad row in
    x[5, 2] = 0.0
    with pytest.raises(ValueError, match=r"Inf at row 22 of x, feature \(column\) 0, which epoch 1 "
                                         r"meets in batch \d"):
        nn.fit(model, x, y, epochs=1, batch_size=8, rng=3, progress=False)


def test_nan_in_images_targets_validation_and_augment_is_reported():
    rng = np.random.default_rng(0)
    images = rng.standard_normal((12, 1, 3, 3))
    images[4, 0, 2, 1] = np.nan
    cnn = nn.Sequential(nn.Flatten(), nn.Dense(9, 2, rng=0))
    with pytest.raises(ValueError, match=r"NaN at row 4 of x, feature \(0, 2, 1\)"):
        nn.fit(cnn, images, np.zeros(12, np.int64), epochs=1, progress=False)
    x, t = make_regression(20, 2)
    t[7, 0] = np.nan
    with pytest.raises(ValueError, match=r"the target y holds NaN at row 7 of y"):
        nn.fit(nn.MLP([2, 1]), x, t, loss="mse", epochs=1, progress=False)
    x, y = blobs(30)
    x_val = x[:10].copy()
    x_val[3, 1] = -np.inf
    with pytest.raises(ValueError, match=r"fit: validation: the input holds -Inf at row 3 of x_val, "
                                         r"feature \(column\) 1"):
        nn.fit(nn.MLP([2, 3]), x, y, val=(x_val, y[:10]), epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"-Inf at row 3 of x, feature"):
        nn.Trainer(nn.MLP([2, 3])).evaluate(x_val, y[:10])

    def bad_augment(batch, rng):
        batch = batch.copy()
        batch[0, 0] = np.nan
        return batch

    with pytest.raises(ValueError, match=r"epoch 1, batch 1, the batch that augment\(x, rng\) "
                                         r"returned holds NaN.*augment must keep the data finite"):
        nn.fit(nn.MLP([2, 3]), x, y, augment=bad_augment, epochs=1, progress=False)


def test_a_diverged_step_is_told_apart_from_bad_data():
    x, y = blobs(20)
    model = nn.MLP([2, 3], rng=0)

    def poison():  # a "constraint" that breaks the weights after the first step
        model.layers[0].W.data = np.full_like(model.layers[0].W.data, np.nan)

    with pytest.raises(FloatingPointError, match=r"epoch 1, batch 2: the parameters layers\.0\.W "
                                                 r"hold NaN/Inf after the previous step"):
        nn.fit(model, x, y, batch_size=10, epochs=1, constraints=[poison], progress=False)


def test_argument_errors():
    x, y = blobs(20)
    model = nn.MLP([2, 3])
    with pytest.raises(ValueError, match="unknown loss"):
        nn.fit(model, x, y, loss="hinge")
    with pytest.raises(ValueError, match="20 samples but y has 19"):
        nn.fit(model, x, y[:-1])
    with pytest.raises(ValueError, match="not both"):
        nn.fit(model, x, y, val=(x, y), val_split=0.1)
    with pytest.raises(ValueError, match="batch_size"):
        nn.fit(model, x, y, batch_size=0)
    with pytest.raises(TypeError, match="callable"):
        nn.fit(model, x, y, constraints=[3])
    with pytest.raises(TypeError, match="nn.Module"):
        nn.fit(lambda v: v, x, y)


def test_trainer_keeps_its_optimizer_between_fits():
    x, y = blobs(40)
    model = nn.MLP([2, 4, 3], rng=0)
    trainer = nn.Trainer(model)
    trainer.fit(x, y, epochs=1, batch_size=40, progress=False)
    trainer.fit(x, y, epochs=2, batch_size=40, progress=False)
    steps = {st["step"] for st in trainer.optimizer.state.values()}
    assert steps == {3}


# ---- prediction ----------------------------------------------------------------------------------


def test_predict_and_predict_class_shapes():
    x, _ = blobs(70)
    model = nn.Sequential(nn.Dense(2, 8, rng=0), nn.ReLU(), nn.Dropout(0.5, rng=0),
                          nn.Dense(8, 3, rng=0))
    out = nn.predict(model, x, batch_size=16)
    assert isinstance(out, np.ndarray) and out.shape == (70, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out, nn.predict(model, x, batch_size=70))  # eval: no dropout
    labels = nn.predict_class(model, x)
    assert labels.shape == (70,) and labels.dtype == np.int64
    np.testing.assert_array_equal(labels, np.argmax(out, axis=1))
    assert model.training  # mode restored
    reg = nn.MLP([3, 1])
    assert nn.predict(reg, np.zeros((5, 3))).shape == (5, 1)

    class Scores1d(nn.Module):
        def forward(self, v):
            return ag.sum(v, axis=1)

    with pytest.raises(ValueError, match=r"\(N, K\)"):
        nn.predict_class(Scores1d(), np.zeros((4, 2)))


# ---- progress ------------------------------------------------------------------------------------


def test_plain_progress_lines_when_not_a_terminal(capsys):
    x, y = blobs(60)
    nn.fit(nn.MLP([2, 4, 3], rng=0), x, y, epochs=3, batch_size=20, val_split=0.2, rng=0)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 3
    for i, line in enumerate(lines, 1):
        assert line.startswith(f"epoch {i}/3  loss ")
        assert "val_loss" in line and "val_acc" in line and line.endswith(" s)")


def test_quiet_and_progress_false_print_nothing(capsys):
    x, y = blobs(20)
    nn.fit(nn.MLP([2, 3]), x, y, epochs=2, quiet=True)
    nn.fit(nn.MLP([2, 3]), x, y, epochs=2, progress=False)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_early_stopping_is_reported(capsys):
    x, y = make_regression(32, 2, noise=0.0, seed=3)
    model = nn.MLP([2, 8, 1], rng=0)
    nn.fit(model, x, y, loss="mse", epochs=30, batch_size=32, val=(x, -y), patience=2,
           optimizer=nn.optim.Adam(model.parameters(), lr=0.01))
    err = capsys.readouterr().err
    assert "early stopping after epoch" in err and "restored the weights of epoch" in err


def test_a_bar_on_a_terminal():
    pytest.importorskip("tqdm")

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    x, y = blobs(40)
    nn.fit(nn.MLP([2, 3]), x, y, epochs=2, batch_size=20, stream=stream)
    text = stream.getvalue()
    assert "epoch 2/2" in text and "4/4" in text  # the bar counts batches over all epochs


def test_short_epochs_print_their_time_not_zero():
    from nn.training import _fmt_epoch, _fmt_seconds

    assert _fmt_seconds(0.0432) == "0.0432 s" and _fmt_seconds(12.34) == "12.3 s"
    assert _fmt_seconds(4321.0) == "4321 s"
    assert _fmt_epoch(3, 10, {"loss": 0.5}, 0.004) == "epoch  3/10  loss 0.5000  (0.004 s)"
    stream = io.StringIO()
    x, y = blobs(40)
    history = nn.fit(nn.MLP([2, 3]), x, y, epochs=2, batch_size=20, stream=stream)
    for line in stream.getvalue().splitlines():
        assert "(0.0 s)" not in line and line.endswith(" s)"), line
    assert "0.0 s" not in str(history).splitlines()[-1]

"""`python -m nn.demo`, run in-process with few epochs and a small network (a few seconds)."""

import re

import numpy as np
import pytest

pytest.importorskip("sklearn")  # the digits ship with scikit-learn (the "demo" and "test" extras)

import nn  # noqa: E402
from nn import demo  # noqa: E402

ACCURACY_LINE = re.compile(r"^test accuracy: [01]\.\d{3}$", re.MULTILINE)


def has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def small_mlp(monkeypatch):
    """The demo's MLP at width 48: the same code path, a cheaper gradient check (matrices over
    1024 entries are checked along random directions, smaller ones entry by entry)."""
    monkeypatch.setitem(demo.CONFIGS, "mlp", {**demo.CONFIGS["mlp"], "width": 48})


def graph_file(out):
    """graph.svg with a Graphviz renderer, else the DOT text."""
    return (out / "graph.svg").exists() or (out / "graph.dot").exists()


def test_demo_mlp_writes_its_files_and_reports(tmp_path, capsys, small_mlp):
    out = tmp_path / "demo_out"
    status = demo.main(["--out", str(out), "--epochs", "2", "--seed", "1", "--quiet"])
    captured = capsys.readouterr()
    assert status == 0, captured.out + captured.err
    assert ACCURACY_LINE.search(captured.out), captured.out
    assert "gradient check: passed" in captured.out
    assert "three-way gradient check PASSED" in captured.out or "passed: True" in captured.out
    assert graph_file(out)
    if has_matplotlib():
        for name in ("training.png", "grad_norms.png"):
            assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert captured.err == ""  # --quiet: no progress lines


def test_demo_cnn_without_matplotlib_or_renderer(tmp_path, capsys, monkeypatch):
    import autograd_core as ag

    def no_renderer(*args, **kwargs):
        raise RuntimeError("render: no Graphviz renderer found; pip install graphviz-pure")

    monkeypatch.setattr(demo, "_pyplot", lambda: None)
    monkeypatch.setattr(ag.viz, "render", no_renderer)
    out = tmp_path / "cnn"
    assert demo.main(["--out", str(out), "--model", "cnn", "--epochs", "1"]) == 0
    captured = capsys.readouterr()
    assert ACCURACY_LINE.search(captured.out)
    assert "matplotlib is not installed" in captured.out
    assert "no Graphviz renderer" in captured.out
    assert (out / "graph.dot").read_text().startswith("digraph")
    assert not (out / "training.png").exists()
    assert re.search(r"^epoch 1/1  loss \d", captured.err, re.MULTILINE)  # stderr is no terminal


def test_dropout_residual_mlp_in_eval_mode_is_the_reference_network(rng):
    from nn import reference

    model = demo.DropoutResidualMLP(64, 16, 2, 10, p=0.5, rng=0).astype(np.float64).eval()
    x = rng.random((5, 64))
    y = np.arange(5)
    out = model(x).data
    Ws, bs = model.weights()
    assert len(Ws) == 4
    z = np.maximum(x @ Ws[0].T + bs[0], 0)
    for W, b in zip(Ws[1:-1], bs[1:-1], strict=True):
        z = z + np.maximum(z @ W.T + b, 0)
    np.testing.assert_allclose(out, z @ Ws[-1].T + bs[-1], rtol=1e-12)
    loss, _, _ = reference.backprop(Ws, bs, x, y, loss="cross_entropy", residual=True,
                                    input_projection=True)
    np.testing.assert_allclose(loss, nn.cross_entropy(model(x), y).item(), rtol=1e-12)
    assert sum(isinstance(m, demo.Dropout) for m in model.modules()) == 3


def test_float64_copy_keeps_the_weights(small_mlp):
    model = demo.build_model("mlp", seed=3)
    copy = demo.float64_copy(model, "mlp")
    assert not copy.training
    for (name, p), (name64, p64) in zip(model.named_parameters(), copy.named_parameters(),
                                        strict=True):
        assert name == name64 and p64.dtype == np.float64
        np.testing.assert_array_equal(p64.data, p.data.astype(np.float64))


def test_bad_arguments_exit_with_usage(capsys):
    with pytest.raises(SystemExit) as e:
        demo.main(["--epochs", "0"])
    assert e.value.code == 2
    with pytest.raises(SystemExit):
        demo.main(["--model", "transformer"])
    assert "invalid choice" in capsys.readouterr().err


def test_the_graph_is_one_training_step_on_a_real_batch_after_backward(tmp_path, monkeypatch):
    """The picture the README shows: a few hundred test images, training mode (the dropout masks
    drawn), after backward() with gradient norms, the two residual blocks folded into one box."""
    import autograd_core as ag

    def no_renderer(*args, **kwargs):
        raise RuntimeError("render: no Graphviz renderer found")

    monkeypatch.setattr(ag.viz, "render", no_renderer)  # the DOT text is written instead
    digits = nn.data.load_digits(seed=0, flat=True)
    model = demo.build_model("mlp", seed=0).eval()
    grad = np.ones_like(model.parameters()[0].data)
    model.parameters()[0].grad = grad
    x, y = digits.x_test[:demo.GRAPH_BATCH], digits.y_test[:demo.GRAPH_BATCH]
    path, message = demo.draw_graph(model, x, y, tmp_path)
    dot = path.read_text()
    assert f"({demo.GRAPH_BATCH}, 64)" in dot  # the batch, not 2 images
    assert "Residual ×2" in dot  # CONFIGS["mlp"]["depth"] residual blocks, folded
    assert "layers.2: Dropout" in dot and "multiply" in dot  # training mode: the mask is there
    assert "‖g‖" in dot  # gradient norms: drawn after backward()
    assert f"{demo.GRAPH_BATCH} test images" in message
    assert not model.training and model.parameters()[0].grad is grad  # left as they were
    assert all(p.grad is None for p in model.parameters()[1:])


@pytest.mark.skipif(not has_matplotlib(), reason="needs matplotlib")
def test_the_accuracy_plot_shows_every_epoch(tmp_path):
    from nn.training import History

    class KeepFigure:  # pyplot, but the figure stays open for the test
        def __init__(self):
            self.plt, self.figures = demo._pyplot(), []

        def subplots(self, *args, **kwargs):
            fig, axes = self.plt.subplots(*args, **kwargs)
            self.figures.append(fig)
            return fig, axes

        def close(self, fig):
            pass

    acc = np.r_[0.25, 0.5, 0.7, 0.8, 0.85, np.linspace(0.9, 0.98, 25)]
    history = History(loss=list(np.geomspace(2, 0.1, 30)), accuracy=list(acc),
                      val_loss=list(np.geomspace(1, 0.1, 30)), val_accuracy=list(acc + 0.01),
                      epoch_time=[0.1] * 30)
    keep = KeepFigure()
    demo.plot_training(history, 0.98, "t", "dropout on", tmp_path / "t.png", keep)
    accuracy_axes = keep.figures[0].axes[1]
    low, high = accuracy_axes.get_ylim()
    assert low <= 25 and high >= 99  # nothing clipped: the first epochs too
    zoom = [child for child in accuracy_axes.child_axes]
    assert len(zoom) == 1 and zoom[0].get_ylim()[0] > 85  # and the later epochs in detail
    keep.plt.close(keep.figures[0])

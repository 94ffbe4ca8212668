"""`python -m nn.demo`, run in-process with few epochs and a small network (a few seconds)."""

import re

import numpy as np
import pytest

pytest.importorskip("sklearn")  # the digits ship with scikit-learn (the "demo" and "test" extras)

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
    out = np.asarray(model(x))
    Ws, bs = model.weights()
    assert len(Ws) == 4
    z = np.maximum(x @ Ws[0].T + bs[0], 0)
    for W, b in zip(Ws[1:-1], bs[1:-1], strict=True):
        z = z + np.maximum(z @ W.T + b, 0)
    np.testing.assert_allclose(out, z @ Ws[-1].T + bs[-1], rtol=1e-12)
    loss, _, _ = reference.backprop(Ws, bs, x, y, loss="cross_entropy", residual=True)
    assert np.isfinite(loss)
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

"""nn.distributed and nn.fit(..., distributed=True): P ranks under mpiexec with global batch B take
the steps of one process on batch B (float64 to 1e-12, float32 to 1e-5), the initial parameters
are rank 0's, a rank that raises aborts every rank, leaving the last checkpoint intact, a run
resumed from a checkpoint ends where an uninterrupted one does, and Ctrl-C (on one rank, or sent to
mpiexec) stops every rank cleanly, saving the last completed epoch.

The P > 1 tests start ``mpiexec -n P python tests/nn/mpi_fit.py`` (a helper, also imported here
for the one-process reference) with a timeout; they need mpi4py and an mpiexec (the test extra
installs mpi4py and the MPICH wheel) and are skipped, saying so, without them.
"""

import importlib.util
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import nn
from nn import distributed as dist
from nn import serialization

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import mpi_fit  # noqa: E402

TIMEOUT = 120  # seconds for one mpiexec run (they take about 1 s; oversubscribed, a few)


def _mpiexec() -> str | None:
    """The mpiexec next to this Python (the MPICH wheel's, in a venv), else the one on PATH."""
    local = Path(sys.executable).parent / "mpiexec"
    return str(local) if local.exists() else shutil.which("mpiexec")


def _need_mpi() -> str:
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip("mpi4py is not installed: pip install -e '.[mpi]' (or '.[test]')")
    exe = _mpiexec()
    if exe is None:
        pytest.skip("no mpiexec next to this Python or on PATH: pip install mpich (or a system MPI)")
    return exe


def _mpirun(p: int, *args: str) -> subprocess.CompletedProcess:
    cmd = [_need_mpi(), "-n", str(p), sys.executable, str(HERE / "mpi_fit.py"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, cwd=HERE.parents[1])


def _mpi_cmd(p: int, *args: str) -> list[str]:
    return [_need_mpi(), "-n", str(p), sys.executable, str(HERE / "mpi_fit.py"), *args]


def _saved_model(folder: Path) -> tuple[int, dict[str, np.ndarray]]:
    saved = serialization.read_checkpoint(folder)
    return int(saved["epoch"]), {k[len("model/"):]: v for k, v in saved.items()
                                 if k.startswith("model/")}


def _params(model: nn.Module) -> dict[str, np.ndarray]:
    return {name: p.data for name, p in model.named_parameters()}


def _assert_same(got: dict, want: dict, tol: float) -> None:
    assert set(got) >= set(want)
    for name, w in want.items():
        np.testing.assert_allclose(got[name], w, rtol=tol, atol=tol, err_msg=name)


# ---- one process: a world of size 1 --------------------------------------------------------------
def test_one_process_is_a_world_of_size_one():
    assert (dist.rank(), dist.world_size(), dist.is_distributed()) == (0, 1, False)
    model = mpi_fit.build("mlp", 0)
    before = {k: v.copy() for k, v in _params(model).items()}
    dist.broadcast_parameters(model)
    g = np.ones_like(model.parameters()[0].data)
    model.parameters()[0].grad = g
    dist.allreduce_gradients(model.parameters(), weight=3)
    assert model.parameters()[0].grad is g and model.parameters()[1].grad is None
    _assert_same(_params(model), before, 0)
    np.testing.assert_array_equal(dist.shard(np.arange(5)), np.arange(5))
    np.testing.assert_array_equal(dist.allreduce_sum([1.0, 2.0]), [1.0, 2.0])
    assert dist.allreduce_gradients(model.parameters(), stop=True) is True
    assert dist.allreduce_gradients(model.parameters()) is False


def test_deferred_interrupts_note_the_first_ctrl_c_and_raise_the_second():
    before = signal.getsignal(signal.SIGINT)
    with dist.deferred_interrupts() as interrupts:
        assert not interrupts.requested
        signal.raise_signal(signal.SIGINT)
        assert interrupts.requested
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_shards_cover_the_batch_once():
    idx = np.arange(10, 17)
    for p in (1, 2, 3, 4, 8):
        parts = [dist.shard(idx, r, p) for r in range(p)]
        np.testing.assert_array_equal(np.concatenate(parts), idx)
        assert max(map(len, parts)) - min(map(len, parts)) <= 1


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_distributed_fit_in_one_process_is_plain_fit(kind, opt):
    """P = 1 in-process: distributed=True changes nothing (the same orders and steps)."""
    plain = mpi_fit.train(kind, opt, distributed=False)
    _assert_same(_params(mpi_fit.train(kind, opt, distributed=True)), _params(plain), 1e-12)


# ---- P ranks under mpiexec -----------------------------------------------------------------------
@pytest.mark.parametrize("p", [2, 4])
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_p_ranks_equal_one_process(p, kind, opt, tmp_path):
    """2 epochs of batches 8, 8, 8, 1 (the last leaves ranks without samples): the parameters of
    P ranks (each built from its own seed: rank 0's are broadcast) are those of one process."""
    out = tmp_path / "params.npz"
    r = _mpirun(p, "--model", kind, "--optimizer", opt, "--out", str(out))
    assert r.returncode == 0, r.stderr
    got = dict(np.load(out))
    assert int(got["world_size"]) == p
    _assert_same(got, _params(mpi_fit.train(kind, opt, distributed=False)), 1e-12)


def test_float32_matches_to_a_documented_tolerance(tmp_path):
    """float32: the summation order differs, so agreement is to float32 rounding (1e-5)."""
    out = tmp_path / "params.npz"
    r = _mpirun(2, "--optimizer", "adam", "--dtype", "float32", "--out", str(out))
    assert r.returncode == 0, r.stderr
    want = _params(mpi_fit.train("mlp", "adam", distributed=False, dtype=np.float32))
    assert all(w.dtype == np.float32 for w in want.values())
    _assert_same(dict(np.load(out)), want, 1e-5)


@pytest.mark.parametrize("fault_rank", [0, 1])
def test_a_failing_rank_aborts_every_rank(fault_rank, tmp_path):
    """A rank raising in epoch 2 (step 6) stops both ranks promptly with a non-zero exit and the
    error on stderr; the checkpoint of epoch 1 is intact and holds one process's epoch 1."""
    folder = tmp_path / "ck"
    t0 = time.perf_counter()
    r = _mpirun(2, "--epochs", "3", "--checkpoint", str(folder), "--fault-rank", str(fault_rank),
                "--fault-step", "6")
    assert r.returncode != 0
    assert time.perf_counter() - t0 < TIMEOUT
    assert f"injected fault on rank {fault_rank} at step 6" in r.stderr
    assert f"rank {fault_rank} of 2 failed; aborting every rank" in r.stderr
    saved = serialization.read_checkpoint(folder)
    assert int(saved["epoch"]) == 1
    want = _params(mpi_fit.train("mlp", "sgd", distributed=False, epochs=1))
    _assert_same({k[len("model/"):]: v for k, v in saved.items() if k.startswith("model/")},
                 want, 1e-12)


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_resumed_p_ranks_end_where_an_uninterrupted_run_does(opt, tmp_path):
    """P = 2: 1 epoch with checkpoint=DIR, then a new mpiexec with resume=True up to epoch 3,
    ends with the parameters of an uninterrupted P = 2 run (bitwise) and of one process."""
    folder, out, whole = tmp_path / "ck", tmp_path / "resumed.npz", tmp_path / "whole.npz"
    r = _mpirun(2, "--optimizer", opt, "--epochs", "1", "--checkpoint", str(folder))
    assert r.returncode == 0, r.stderr
    assert _saved_model(folder)[0] == 1
    r = _mpirun(2, "--optimizer", opt, "--epochs", "3", "--checkpoint", str(folder), "--resume",
                "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert _saved_model(folder)[0] == 3
    r = _mpirun(2, "--optimizer", opt, "--epochs", "3", "--out", str(whole))
    assert r.returncode == 0, r.stderr
    resumed = dict(np.load(out))
    _assert_same(resumed, dict(np.load(whole)), 0)
    _assert_same(resumed, _params(mpi_fit.train("mlp", opt, distributed=False, epochs=3)), 1e-12)


@pytest.mark.parametrize("interrupt_rank", [0, 1])
def test_ctrl_c_on_one_rank_stops_every_rank_cleanly(interrupt_rank, tmp_path):
    """A KeyboardInterrupt on one rank in epoch 2 (step 6, in a constraint hook: after the step,
    so the next step's Allreduce carries it) stops both ranks at the same step: exit code 0, both
    report interrupted, the checkpoint holds epoch 1 (one process's), and resuming it ends with
    the parameters of an uninterrupted run."""
    folder, out = tmp_path / "ck", tmp_path / "resumed.npz"
    r = _mpirun(2, "--epochs", "3", "--checkpoint", str(folder), "--interrupt-rank",
                str(interrupt_rank), "--interrupt-step", "6", "--progress")
    assert r.returncode == 0, r.stderr
    assert "rank 0: interrupted=True" in r.stdout and "rank 1: interrupted=True" in r.stdout
    assert "fit: interrupted (Ctrl-C) in epoch 2" in r.stderr and "resume=True" in r.stderr
    assert r.stderr.count("fit: interrupted") == 1  # rank 0 only
    epoch, saved = _saved_model(folder)
    assert epoch == 1
    _assert_same(saved, _params(mpi_fit.train("mlp", "sgd", distributed=False, epochs=1)), 1e-12)
    r = _mpirun(2, "--epochs", "3", "--checkpoint", str(folder), "--resume", "--out", str(out))
    assert r.returncode == 0, r.stderr
    _assert_same(dict(np.load(out)), _params(mpi_fit.train("mlp", "sgd", distributed=False,
                                                             epochs=3)), 1e-12)


def test_sigint_to_mpiexec_stops_every_rank_cleanly(tmp_path):
    """A real Ctrl-C: SIGINT sent to mpiexec (which passes it to every rank) once epoch 1's line
    is printed. Both ranks stop at one step boundary, exit 0, the checkpoint is on disk."""
    folder = tmp_path / "ck"
    proc = subprocess.Popen(_mpi_cmd(2, "--epochs", "50", "--checkpoint", str(folder),
                                     "--progress", "--slow", "0.05"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=HERE.parents[1])
    try:
        lines = []
        for line in proc.stderr:
            lines.append(line)
            if line.split()[:2] == ["epoch", "1/50"]:
                proc.send_signal(signal.SIGINT)
                break
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = "".join(lines) + err
    assert proc.returncode == 0, err
    assert "rank 0: interrupted=True" in out and "rank 1: interrupted=True" in out
    assert "fit: interrupted (Ctrl-C)" in err and "resume=True" in err
    epoch, _ = _saved_model(folder)
    assert 1 <= epoch < 50


def test_each_rank_draws_its_own_reproducible_streams(monkeypatch):
    """Dropout's generator and augment's get a stream per rank and epoch, derived from fit's rng
    without moving it (so the batch orders stay those of one process)."""
    shared = np.random.default_rng(5)
    before = shared.bit_generator.state

    def draws(r: int, epoch: int) -> tuple[float, float]:
        monkeypatch.setattr(dist, "rank", lambda: r)
        drop = np.random.default_rng(0)
        aug = dist.per_rank_streams({"fit.rng": shared, "model.drop.rng": drop}, shared, epoch,
                                    ("model.", "augment"))
        return drop.random(), aug.random()

    assert draws(0, 1) == draws(0, 1)  # reproducible
    assert len({draws(0, 1), draws(1, 1), draws(0, 2)}) == 3  # per rank, per epoch
    assert shared.bit_generator.state == before


def test_allreduce_benchmark_runs_in_one_process(capsys):
    allreduce = pytest.importorskip("benchmarks.allreduce")
    assert allreduce.main(["--repeats", "1", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    assert "P = 1 process" in out and "steps/s" in out

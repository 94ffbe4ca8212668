"""Smoke test of the benchmark harness (benchmarks/): the quick mode's gradient-agreement check,
for the engine (eager and jitted), the tuned NumPy floor and the reference (the oracle), on tiny
sizes; and the floor's gradients against the reference's to float32 rounding. No timing is
asserted anywhere."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repo, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import memory, report, run  # noqa: E402

OURS_AND_FLOOR = ["ours", "ours-ag", "numpy", "reference"]


@pytest.mark.parametrize("workload", run.WORKLOADS, ids=lambda w: w.key)
def test_engine_and_floor_gradients_agree_with_the_reference(workload):
    res = run.run_workload(workload, run.MODES["quick"], OURS_AND_FLOOR, tiny=True,
                           timing=False, log=None)
    assert res["oracle"] == "reference"
    checked = [p for p in OURS_AND_FLOOR if p in workload.builders]
    assert set(checked) <= set(res["peers"])
    for peer in checked:
        entry = res["peers"][peer]
        assert "error" not in entry, f"{workload.key}/{peer}: {entry}"
        assert entry["agreement"]["passed"], f"{workload.key}/{peer}: {entry['agreement']}"
        assert entry["agreement"]["max_rel_diff"] <= run.RTOL


@pytest.mark.parametrize("workload", run.WORKLOADS, ids=lambda w: w.key)
def test_the_jitted_step_compiles_and_agrees_with_the_reference(workload):
    res = run.run_workload(workload, run.MODES["quick"], ["ours-jit", "numpy"], tiny=True,
                           timing=False, log=None)
    entry = res["peers"]["ours-jit"]
    assert "error" not in entry, f"{workload.key}/ours-jit: {entry['error']}"
    assert entry["agreement"]["passed"], f"{workload.key}/ours-jit: {entry['agreement']}"
    jit = entry["jit"]  # compiled on its second call (the two at different values), no retrace
    assert jit["traces"] == 2 and jit["retraced"] == 0, jit
    assert jit["trace_s"] > 0 and jit["compile_s"] > 0


def test_a_step_jit_cannot_compile_is_an_error_naming_why_not_a_crash():
    import autograd_core as ag
    from benchmarks import ours_jit
    from benchmarks.workload import Built, Data, Workload

    calls = [0]

    def leaky(d):  # a Python number that changes between calls: frozen into each trace
        x = ag.tensor(d.x, requires_grad=True)

        def step():
            calls[0] += 1
            x.grad = None
            ag.sum(x * float(calls[0])).backward()
            return [x.grad]

        return Built(step, params=[x])

    def fixed(d):
        return Built(lambda: [np.full_like(d.x, 1.0)])

    w = Workload("WX", "leaky", lambda tiny: Data(["x"], [], np.ones(3, np.float32)),
                 {"ours-jit": ours_jit.of(leaky), "numpy": fixed, "reference": fixed})
    res = run.run_workload(w, run.MODES["quick"], ["ours-jit", "numpy"], tiny=True, timing=False,
                           log=None)
    assert res["peers"]["ours-jit"]["error"].startswith("build failed: TraceError")
    assert res["peers"]["numpy"]["agreement"]["passed"]  # the others still ran
    assert "| WX | — |" in report.format_jit_row(res)


@pytest.mark.parametrize("tiny", [True, False], ids=["tiny", "full"])
@pytest.mark.parametrize("workload", run.WORKLOADS, ids=lambda w: w.key)
def test_the_floor_computes_the_references_gradients_to_float32_rounding(workload, tiny):
    # full sizes too: the floor picks some code paths by size (relu's mask, Note [floor])
    d = workload.make(tiny)
    ref_built = workload.builders["reference"](d)
    ref = [np.array(g) for g in ref_built.to_numpy(ref_built.step())]
    floor = workload.builders["numpy"](d)
    first = floor.to_numpy(floor.step())
    second = floor.to_numpy(floor.step())  # its buffers are reused: nothing may accumulate
    for name, g1, g2, r in zip(d.names, first, second, ref, strict=True):
        assert g1.shape == r.shape and g1.dtype == r.dtype == np.float32, name
        np.testing.assert_array_equal(g1, g2, err_msg=name)
        np.testing.assert_allclose(g1, r, rtol=1e-5, atol=1e-5 * float(np.max(np.abs(r))),
                                   err_msg=f"{workload.key} {name}")


def test_agreement_check_fails_a_gradient_off_by_one_percent():
    ref = [np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)]
    assert run.agreement([ref[0].copy()], ref, ["W"])["passed"]
    report = run.agreement([ref[0] * 1.01], ref, ["W"])
    assert not report["passed"] and report["worst_param"] == "W"
    assert not run.agreement([ref[0][:2]], ref, ["W"])["passed"]  # a wrong shape fails too


def test_quick_cli_on_tiny_sizes_writes_the_results(tmp_path):
    rc = run.main(["--quick", "--tiny", "--peers", "ours,ours-jit,numpy", "--only", "W2,W5",
                   "--rounds", "1", "--no-memory", "--out", str(tmp_path)])
    assert rc == 0
    results = json.loads((tmp_path / "latest.json").read_text())
    assert set(results["workloads"]) == {"W2", "W5"}
    for w in results["workloads"].values():
        assert {"ours", "ours-jit", "numpy"} <= set(w["peers"])
        assert all("timing" in e for e in w["peers"].values())
        assert {"trace_s", "compile_s", "first_replay_s"} <= set(w["peers"]["ours-jit"]["jit"])
    md = (tmp_path / "latest.md").read_text()
    assert "| W5 | ours |" in md and "| W5 | ours-jit |" in md
    assert "| W2 | 2 | " in md.split("## ours-jit: trace and compile time")[1]
    assert "ours, `ag.jit`" in report.format_readme(results)


def test_peak_memory_subprocesses_run_on_tiny_sizes():
    m = memory.compare(steps=2, tiny=True)
    for peer in ("ours", "reference"):
        assert "error" not in m[peer], m[peer]
        assert m[peer]["maxrss"] > 0 and m[peer]["traced_peak"] > 0
    assert m["reference"]["modules_loaded"] == []  # the reference's process imports NumPy only


def test_paired_ratios_are_the_median_of_per_round_ratios():
    # A load burst that slows every peer in the same rounds (here rounds 2-4, 3x) moves a ratio
    # of medians but not the per-round ratios, which is why both are reported
    floor = [1.0, 1.0, 3.0, 3.0, 3.0]
    ours = [1.2 * f for f in floor]
    torch = [1.5, 1.5, 4.5, 4.5, 4.5]

    def timing(rounds):
        return {"median_s": float(np.median(rounds)), "cpu_median_s": float(np.median(rounds)),
                "rounds_s": rounds}

    res = {"peers": {"numpy": {"timing": timing(floor)}, "ours": {"timing": timing(ours)},
                     "torch": {"timing": timing(torch)}, "jax": {"skipped": "not installed"}}}
    run._ratios(res)
    t = res["peers"]["ours"]["timing"]
    assert t["paired_x_floor"] == pytest.approx(1.2) and t["x_floor"] == pytest.approx(1.2)
    assert t["paired_x_torch"] == pytest.approx(0.8)
    res["peers"]["ours"]["timing"] = timing([1.2, 1.2, 1.2, 3.6, 3.6])  # burst one round later
    run._ratios(res)
    t = res["peers"]["ours"]["timing"]
    assert t["x_floor"] == pytest.approx(0.4) and t["paired_x_floor"] == pytest.approx(1.2)


def test_a_missing_peer_is_skipped_with_how_to_install_it(monkeypatch):
    import importlib

    from benchmarks import peers

    real = importlib.import_module

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(peers.importlib, "import_module", no_torch)
    w = next(w for w in run.WORKLOADS if w.key == "W2")
    res = run.run_workload(w, run.MODES["quick"], ["ours", "numpy", "torch"], tiny=True,
                           timing=False, log=None)
    note = res["peers"]["torch"]["skipped"]
    # the pinned CPU build, never a bare `pip install torch` (a multi-GB CUDA download)
    assert "pip install torch==2.13.0" in note and "not a plain `pip install torch`" in note
    assert res["peers"]["ours"]["agreement"]["passed"]  # the others still ran


def _git_checkout() -> bool:
    import subprocess

    try:
        p = subprocess.run(["git", "rev-parse", "--verify", "--quiet", "HEAD^{commit}"], cwd=ROOT,
                           capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return p.returncode == 0 and bool(p.stdout.strip())


needs_git = pytest.mark.skipif(not _git_checkout(),
                               reason="--baseline loads a revision from git: not a git checkout "
                                      "(or git missing, or no commit yet)")


def test_baseline_renaming_of_the_copys_own_imports():
    from benchmarks.baseline import leftover_imports, rewrite_source

    src = ("import autograd_core as ag\n"
           "import nn\n"
           "import numpy as np, nn.layers\n"
           "from nn.reference import backprop  # the floor\n"
           "from . import tape\n"
           "import nnx, autograd_core_extra\n"
           "def f():\n"
           "    from autograd_core import tensor\n"
           "    return importlib.import_module('autograd_core.viz'), \"nn\", 'snn', \"x.nn\"\n")
    assert leftover_imports(src)  # every form above that names the packages is found
    out = rewrite_source(src)
    assert out == ("import autograd_core_base as ag\n"
                   "import nn_base as nn\n"
                   "import numpy as np, nn_base.layers, nn_base as nn\n"
                   "from nn_base.reference import backprop  # the floor\n"
                   "from . import tape\n"
                   "import nnx, autograd_core_extra\n"
                   "def f():\n"
                   "    from autograd_core_base import tensor\n"
                   "    return importlib.import_module('autograd_core_base.viz'), \"nn_base\", "
                   "'snn', \"x.nn\"\n")
    assert leftover_imports(out) == []


@needs_git
def test_baseline_head_loads_apart_from_the_working_tree():
    import autograd_core
    from benchmarks import baseline

    base = baseline.load("HEAD")
    try:
        assert base.ag is not autograd_core and base.ag.__name__ == "autograd_core_base"
        assert base.nn.Dense.__module__ == "nn_base.layers"  # a lazy import, inside the copy
        assert base.nn.layers.ag is base.ag
        mods = base.modules()
        assert "nn_base.layers" in mods
        for name, mod in mods.items():
            assert Path(mod.__file__).resolve().is_relative_to(base.tmpdir.resolve()), name
        base.verify()
        base.nn.layers.stray = autograd_core  # what an import the renaming missed would leave
        with pytest.raises(baseline.BaselineError, match="nn_base.layers.stray"):
            base.verify()
    finally:
        base.close()
    assert not base.tmpdir.exists() and not base.modules()


@needs_git
def test_quick_cli_with_a_baseline_reports_the_ratio(tmp_path):
    rc = run.main(["--quick", "--tiny", "--baseline", "HEAD", "--only", "W2,W5", "--peers",
                   "ours,ours-ag,numpy", "--rounds", "2", "--no-memory", "--out", str(tmp_path)])
    assert rc == 0
    results = json.loads((tmp_path / "latest.json").read_text())
    short = results["baseline"]["short"]
    assert results["baseline"]["commit"].startswith(short)
    md = (tmp_path / "latest.md").read_text()
    for key, pairs in (("W2", ("ours", "ours-ag")), ("W5", ("ours",))):
        w = results["workloads"][key]
        assert [r["baseline"] for r in w["vs_baseline"]] == [f"{p}@{short}" for p in pairs]
        for p in pairs:
            entry = w["peers"][f"{p}@{short}"]
            assert entry["agreement"]["passed"] and "timing" in entry, entry
        assert f"- {key}: ours vs ours@{short}: " in md
    assert "paired" in md.split("## Working tree vs the baseline")[1]
    assert not any(m.startswith(("autograd_core_base", "nn_base")) for m in sys.modules)

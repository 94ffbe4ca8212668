"""The harness: gradient agreement first, then interleaved timing, then the table and the files.

For each workload:
1. Build every selected peer on the same float32 data and weights (`Workload.make`). A peer whose
   library is missing is skipped with a note (`peers.Unavailable`).
2. Gradient agreement, before any timing: each peer's gradients (from its second step, so a
   `.grad` that accumulates across steps is caught), the floor's included, against the
   reference's (the oracle, built even when it is not timed). A parameter passes when
   ``|g − ref| <= atol·max|ref| + rtol·|ref|`` everywhere (float32: rtol 1e-3, atol 1e-4); the
   table shows ``max|g − ref| / max|ref|``, the worst parameter's.
3. Warm-up (JIT compiles, caches, allocator), then an estimate of one step's time, which sets
   `k`, the steps per timed batch (so a batch lasts about ``target_ms``).
4. Rounds: each round times every peer once for a batch of k steps, in an order rotated every
   round, so drift of the machine (other processes, frequency) hits all peers alike. A
   ``gc.collect()`` runs before each batch, outside the clock, with the objects that existed
   before timing frozen (Note [gc]).
5. Per peer: median, quartiles, min and max of the per-step times over rounds; the median CPU
   time per step (process time: with one thread it stays at or under the wall time, and a ratio
   above 1 would show a peer using more threads); ratios to the floor's (the tuned hand-written
   NumPy step) and PyTorch's medians.

Then the peak-RSS comparison of a W1 training run (`benchmarks.memory`, one subprocess per peer),
the targets, and ``results/latest.json`` / ``results/latest.md``.

With ``--baseline REV``, the engine and nn of git revision REV are loaded beside the working
tree's (baseline.py) and run as the peers ``ours@<short hash>`` and ``ours-ag@<short hash>`` in
the same rounds; each workload then also reports ours / ours@<hash> (median and paired).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import THREAD_VARS, baseline, cnn, elementwise, memory, mlp, peers
from .report import format_report, format_targets, format_workload, targets
from .workload import Built, Workload

WORKLOADS: list[Workload] = sorted(mlp.WORKLOADS + cnn.WORKLOADS + elementwise.WORKLOADS,
                                   key=lambda w: w.key)
RESULTS_DIR = Path(__file__).resolve().parent / "results"
RTOL, ATOL = 1e-3, 1e-4


@dataclass
class Mode:
    name: str
    rounds: int
    target_ms: float  # one timed batch of k steps lasts about this long
    warmup_s: float  # per peer, after its first (compiling) steps
    memory_steps: int


MODES = {"full": Mode("full", rounds=31, target_ms=50.0, warmup_s=0.5, memory_steps=30),
         "quick": Mode("quick", rounds=5, target_ms=10.0, warmup_s=0.05, memory_steps=10)}


# ---- threads (Note [threads] in __init__.py) -----------------------------------------------------


def pin_threads() -> Any:
    """Limit every BLAS/OpenMP pool already loaded to one thread; returns the limiter (keep it)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=1)


def thread_report() -> dict[str, Any]:
    out: dict[str, Any] = {"env": {v: os.environ.get(v) for v in THREAD_VARS}}
    try:
        from threadpoolctl import threadpool_info

        out["pools"] = [{k: i.get(k) for k in ("internal_api", "prefix", "version", "num_threads",
                                               "architecture", "threading_layer")}
                        for i in threadpool_info()]
    except ImportError:
        out["pools"] = "threadpoolctl not installed: thread counts not verified"
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        out["torch"] = {"num_threads": torch.get_num_threads(),
                        "num_interop_threads": torch.get_num_interop_threads()}
    if "jax" in sys.modules:
        out["jax"] = {"XLA_FLAGS": os.environ.get("XLA_FLAGS")}
    return out


ALLOCATOR = {"tuned": False}


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": cpu, "logical_cores": os.cpu_count(), "usable_cores": usable,
        "platform": platform.platform(), "python": sys.version.split()[0],
        "versions": peers.versions(),
        "allocator": ("glibc mmap/trim thresholds raised for all peers (ag.tune_allocator)"
                      if ALLOCATOR["tuned"] else "default"),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
        "loadavg_start": _loadavg(),
        "engine": engine_version(),
    }


def engine_version() -> dict[str, Any]:
    """Which engine was measured: the git commit, files changed since it, and a hash of the
    engine's and nn's sources (other engineers change them while benchmarks run)."""
    import hashlib
    import subprocess

    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted([*root.glob("autograd_core/*.py"), *root.glob("nn/*.py")]):
        digest.update(path.name.encode() + path.read_bytes())
    out: dict[str, Any] = {"source_sha256": digest.hexdigest()[:16]}
    try:
        def git(*a):
            return subprocess.run(["git", *a], cwd=root, capture_output=True, text=True,
                                  timeout=10).stdout.rstrip()  # porcelain lines start with " M"

        out["git_head"] = git("rev-parse", "--short", "HEAD").strip() or None
        out["uncommitted"] = [line[3:] for line in
                              git("status", "--porcelain", "--", "autograd_core", "nn")
                              .splitlines()]
    except (OSError, subprocess.SubprocessError):
        out["git_head"] = None
    return out


def _loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


# ---- agreement -----------------------------------------------------------------------------------


def agreement(grads: list[np.ndarray], ref: list[np.ndarray], names: list[str]) -> dict[str, Any]:
    """Max relative difference (worst parameter) and whether every parameter is within tolerance."""
    if len(grads) != len(ref):
        return {"passed": False, "max_rel_diff": None,
                "problem": f"{len(grads)} gradients for {len(ref)} parameters"}
    worst, worst_name, passed, problems = 0.0, None, True, []
    for name, g, r in zip(names, grads, ref, strict=True):
        g = np.asarray(g)
        if g.shape != r.shape:
            passed = False
            problems.append(f"{name}: shape {g.shape}, expected {r.shape}")
            continue
        if g.dtype != r.dtype:
            problems.append(f"{name}: dtype {g.dtype} (reference {r.dtype})")
        scale = float(np.max(np.abs(r))) if r.size else 0.0
        diff = np.abs(g.astype(np.float64) - r.astype(np.float64))
        rel = float(np.max(diff)) / scale if scale > 0 else float(np.max(diff, initial=0.0))
        if not np.all(diff <= ATOL * scale + RTOL * np.abs(r)) or not np.isfinite(rel):
            passed = False
        if rel > worst or not np.isfinite(rel):
            worst, worst_name = rel, name
    out = {"passed": passed, "max_rel_diff": worst, "worst_param": worst_name}
    if problems:
        out["problem"] = "; ".join(problems)
    return out


# ---- timing --------------------------------------------------------------------------------------


def _calibrate(step, warmup_s: float) -> float:
    """Warm up (at least 2 steps, at least `warmup_s`), return an estimate of one step (s)."""
    step()  # compiles / first-touch
    times = []
    start = time.perf_counter()
    while len(times) < 2 or (time.perf_counter() - start < warmup_s and len(times) < 1000):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return float(np.median(times[len(times) // 2:]))


def time_rounds(built: dict[str, Built], mode: Mode) -> dict[str, dict[str, Any]]:
    """Round-robin timing: per peer, the per-step wall and CPU times of each round."""
    ks: dict[str, int] = {}
    for name, b in built.items():
        est = _calibrate(b.step, mode.warmup_s)
        ks[name] = int(min(max(round(mode.target_ms / 1e3 / max(est, 1e-9)), 1), 100_000))
    names = list(built)
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for r in range(mode.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            step, k = built[name].step, ks[name]
            gc.collect()
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(k):
                step()
            t1, c1 = time.perf_counter(), time.process_time()
            wall[name].append((t1 - t0) / k)
            cpu[name].append((c1 - c0) / k)
    out = {}
    for name in names:
        w = np.asarray(wall[name])
        out[name] = {
            "k": ks[name], "rounds": mode.rounds, "median_s": float(np.median(w)),
            "p25_s": float(np.percentile(w, 25)), "p75_s": float(np.percentile(w, 75)),
            "min_s": float(w.min()), "max_s": float(w.max()),
            "cpu_median_s": float(np.median(cpu[name])), "rounds_s": [float(v) for v in w],
        }
    return out


# ---- one workload --------------------------------------------------------------------------------


def run_workload(w: Workload, mode: Mode, peer_names: list[str], *, tiny: bool = False,
                 timing: bool = True, log=print,
                 base: baseline.Baseline | None = None) -> dict[str, Any]:
    """`base`: a loaded baseline, whose peers (``ours@<hash>``...) run when `peer_names` has them."""
    t_start = time.perf_counter()
    d = w.make(tiny)
    res: dict[str, Any] = {"key": w.key, "title": w.title, "unit": w.unit,
                           "ops_per_step": w.ops_per_step, "spec": d.spec, "tiny": tiny,
                           "peers": {}}
    built: dict[str, Built] = {}
    builders = {**w.builders, **(base.builders(w.builders) if base else {})}
    names = [p for p in peer_names if p in builders]
    if peers.FLOOR not in names:
        names.insert(0, peers.FLOOR)  # every ratio's denominator
    oracle = peers.ORACLE if peers.ORACLE in builders else peers.FLOOR
    for p in names:
        entry: dict[str, Any] = {}
        res["peers"][p] = entry
        try:
            built[p] = builders[p](d)
            if built[p].note:
                entry["note"] = built[p].note
        except peers.Unavailable as e:
            entry["skipped"] = str(e)
        except Exception as e:  # a broken peer is reported, not fatal for the others
            entry["error"] = f"build failed: {type(e).__name__}: {e}"
            entry["traceback"] = traceback.format_exc(limit=4)
    if peers.FLOOR not in built:
        raise RuntimeError(f"{w.key}: the NumPy floor did not build: {res['peers'][peers.FLOOR]}")
    # the oracle's gradients, whether or not it is timed (copied: a peer may reuse its buffers)
    ref_built = built.get(oracle) or builders[oracle](d)
    ref = [np.array(g) for g in ref_built.to_numpy(ref_built.step())]
    res["oracle"] = oracle
    for p in list(built):
        entry = res["peers"][p]
        try:
            built[p].step()
            entry["agreement"] = agreement(built[p].to_numpy(built[p].step()), ref, d.names)
        except Exception as e:
            entry["error"] = f"step failed: {type(e).__name__}: {e}"
            entry["traceback"] = traceback.format_exc(limit=6)
            del built[p]
    if base:  # the steps above ran the baseline's lazy imports: check where they came from
        base.verify()
    if timing:
        # Note [gc]: the imported libraries (torch, jax) hold millions of objects; freezing them
        # keeps every collection (ours and the peers', in-step or between batches) from walking
        # objects that no single-library training script would have.
        gc.collect()
        gc.freeze()
        try:
            for p, t in time_rounds(built, mode).items():
                res["peers"][p]["timing"] = t
        finally:
            gc.unfreeze()
        _ratios(res)
    for p, b in built.items():  # after the timing: ours-jit's counts whether it traced again
        if b.info is not None:
            res["peers"][p].update(b.info())
    res["elapsed_s"] = time.perf_counter() - t_start
    if log:
        log(format_workload(res))
    return res


def _ratios(res: dict[str, Any]) -> None:
    """Ratios of medians to the floor's and PyTorch's, for wall time and for CPU time; and the
    median of the per-round ratios (`paired_x_*`): peers in one round run back to back, so their
    ratio shares the machine's load of that moment, which a ratio of medians does not."""
    timed = {p: e["timing"] for p, e in res["peers"].items() if "timing" in e}
    for t in timed.values():
        for peer, name in ((peers.FLOOR, "floor"), ("torch", "torch")):
            ref = timed.get(peer)
            for clock, field in (("", "median_s"), ("cpu_", "cpu_median_s")):
                t[f"{clock}x_{name}"] = t[field] / ref[field] if ref else None
            t[f"paired_x_{name}"] = float(np.median(
                np.asarray(t["rounds_s"]) / np.asarray(ref["rounds_s"]))) if ref else None
    # the working tree's peer over its baseline peer (below 1: the working tree is faster)
    vs = []
    for p, t in timed.items():
        cur = timed.get(baseline.counterpart(p) or "")
        if cur is not None:
            vs.append({"peer": baseline.counterpart(p), "baseline": p,
                       "x": cur["median_s"] / t["median_s"],
                       "cpu_x": cur["cpu_median_s"] / t["cpu_median_s"],
                       "paired_x": float(np.median(np.asarray(cur["rounds_s"])
                                                   / np.asarray(t["rounds_s"])))})
    if vs:
        res["vs_baseline"] = vs


# ---- entry point ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few short rounds (under a minute)")
    ap.add_argument("--only", default="", help="comma-separated workloads, e.g. W1,W5")
    ap.add_argument("--peers", default=",".join(peers.PEERS),
                    help=f"comma-separated peers (default: all of {', '.join(peers.PEERS)}); "
                         "with --baseline also ours@base, ours-ag@base (or @<hash>) to run only "
                         "those baseline peers")
    ap.add_argument("--baseline", metavar="REV",
                    help="also run the engine and nn as they were at git revision REV (a commit, "
                         "branch, tag, HEAD~3...), loaded from git beside the working tree's, as "
                         "the peers ours@<hash> and ours-ag@<hash> in the same interleaved rounds; "
                         "each workload reports ours / ours@<hash>, median and paired (below 1: "
                         "the working tree is faster). Added: the baseline peer of each selected "
                         "engine peer (ours, ours-ag; both if neither is selected), or those "
                         "--peers names. Not in the peak-memory comparison; not with --profile")
    ap.add_argument("--tiny", action="store_true",
                    help="tiny sizes (a smoke test, not a benchmark)")
    ap.add_argument("--rounds", type=int, help="override the mode's number of rounds")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-RSS comparison")
    ap.add_argument("--default-allocator", action="store_true",
                    help="leave glibc's allocator settings alone (Note [allocator])")
    ap.add_argument("--check-only", action="store_true", help="gradient agreement only, no timing")
    ap.add_argument("--profile", metavar="W1,W2,W5", nargs="?", const="W1,W2,W5",
                    help="cProfile the engine on these workloads instead of benchmarking")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR,
                    help="folder for latest.json / latest.md (and profile_*.txt)")
    return ap.parse_args(argv)


def select(only: str) -> list[Workload]:
    if not only:
        return WORKLOADS
    keys = [k.strip().upper() for k in only.split(",") if k.strip()]
    known = {w.key: w for w in WORKLOADS}
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise SystemExit(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[k] for k in keys]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = MODES["quick" if args.quick else "full"]
    if args.rounds:
        mode = Mode(mode.name, args.rounds, mode.target_ms, mode.warmup_s, mode.memory_steps)
    limiter = pin_threads()
    # Note [allocator]: one process-wide setting for every peer alike (the NumPy floor and HIPS
    # autograd gain from it too; torch and JAX bring their own allocators). See
    # autograd_core/numpy_memory.py for why a tape needs it.
    if not args.default_allocator:
        from autograd_core import tune_allocator
        ALLOCATOR["tuned"] = tune_allocator()
    try:
        return _main(args, mode)
    except baseline.BaselineError as e:
        raise SystemExit(f"benchmarks: {e}") from None
    finally:
        if limiter is not None:  # a caller in the same process (a test) gets its threads back
            limiter.restore_original_limits()


def _main(args: argparse.Namespace, mode: Mode) -> int:
    workloads = select(args.only)
    if args.profile is not None and args.baseline:
        raise SystemExit("--baseline does not apply to --profile (it profiles the working tree)")
    if args.profile is not None:
        from . import profiling

        for w in select(args.profile):
            text = profiling.profile_workload(w, tiny=args.tiny)
            print(text)
            _write(args.out / f"profile_{w.key}.txt", text)
        return 0
    peer_names = [p.strip() for p in args.peers.split(",") if p.strip()]
    bad = [p for p in peer_names if p not in peers.PEERS and not (
        args.baseline and baseline.counterpart(p) in baseline.ENGINE_PEERS)]
    if bad:
        raise SystemExit(f"unknown peer(s) {', '.join(bad)}; known: {', '.join(peers.PEERS)}"
                         + ("" if args.baseline else " (ours@... needs --baseline REV)"))
    base = baseline.load(args.baseline) if args.baseline else None
    try:
        if base:
            peer_names = _with_baseline_peers(peer_names, base)
        return _run(args, mode, workloads, peer_names, base)
    finally:
        if base:
            base.close()


def _with_baseline_peers(peer_names: list[str], base: baseline.Baseline) -> list[str]:
    """The selected peers with the baseline's: those `--peers` names, else the counterparts of
    the selected engine peers (all of them when none is selected); each right after its
    working-tree counterpart, so the two run back to back in every round."""
    named = [p for p in peer_names if "@" in p]
    wrong = [p for p in named if not base.matches(p)]
    if wrong:
        raise SystemExit(f"{', '.join(wrong)}: not a peer of the baseline {base.short} "
                         f"(use {', '.join(base.peers)} or {baseline.ALIAS} after the @)")
    out = [p for p in peer_names if "@" not in p]
    wanted = ({baseline.counterpart(p) for p in named} or set(baseline.ENGINE_PEERS) & set(out)
              or set(baseline.ENGINE_PEERS))
    for p in base.peers:
        if baseline.counterpart(p) in wanted:
            cur = baseline.counterpart(p)
            out.insert(out.index(cur) + 1 if cur in out else len(out), p)
    return out


def _run(args: argparse.Namespace, mode: Mode, workloads: list[Workload], peer_names: list[str],
         base: baseline.Baseline | None) -> int:
    t_start = time.time()
    results: dict[str, Any] = {
        "mode": mode.name, "tiny": args.tiny, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": machine_info(), "tolerance": {"rtol": RTOL, "atol": ATOL}, "workloads": {},
    }
    print(f"benchmarks: {mode.name} mode, workloads {', '.join(w.key for w in workloads)}, "
          f"peers {', '.join(peer_names)}", flush=True)
    if base:
        results["baseline"] = base.info(peer_names)
        print(f"baseline: {args.baseline} = commit {base.commit}, its autograd_core and nn "
              f"loaded from git as {', '.join(results['baseline']['packages'])}", flush=True)
    for w in workloads:
        results["workloads"][w.key] = run_workload(w, mode, peer_names, tiny=args.tiny,
                                                   timing=not args.check_only,
                                                   log=lambda s: print(s, flush=True), base=base)
    if (not args.no_memory and not args.check_only and "W1" in results["workloads"]
            and "ours" in peer_names):
        results["memory"] = memory.compare(mode.memory_steps, tiny=args.tiny)
        print("\nPeak memory, W1 training run:\n" + memory.format_table(results["memory"])
              + (f"\n({baseline.MEMORY_NOTE})" if base else ""))
    results["threads"] = thread_report()
    results["machine"]["loadavg_end"] = _loadavg()
    results["elapsed_s"] = time.time() - t_start
    if not args.check_only:
        results["targets"] = targets(results)
        print("\nTargets (ours = the engine through nn):\n" + format_targets(results["targets"]))
    _write(args.out / "latest.json", json.dumps(results, indent=1, default=_json_default))
    _write(args.out / "latest.md", format_report(results))
    print(f"\nwrote {args.out / 'latest.json'} and {args.out / 'latest.md'} "
          f"({results['elapsed_s']:.0f} s)")
    failed = [f"{k}/{p}" for k, w in results["workloads"].items() for p, e in w["peers"].items()
              if not e.get("agreement", {"passed": True})["passed"] or "error" in e]
    if failed:
        print(f"gradient agreement failed or peer errored: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")

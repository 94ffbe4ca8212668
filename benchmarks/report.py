"""The tables: per-workload rows, the issue's targets, and the Markdown report (latest.md)."""

from __future__ import annotations

from typing import Any

from . import elementwise, memory

# ---- formatting ----------------------------------------------------------------------------------


def _fmt_t(seconds: float, w: dict[str, Any]) -> str:
    if w["unit"] == "us/op":
        return f"{seconds / w['ops_per_step'] * 1e6:.3g}"
    return f"{seconds * 1e3:.3g}"


def _fmt_x(v: float | None) -> str:
    return "" if v is None else f"{v:.2f}×"


TABLE_HEAD = ("| W | peer | median | unit | IQR (p25–p75) | min–max | CPU median | CPU/wall "
              "| × floor | × torch | CPU × floor | CPU × torch | paired × floor | paired × torch "
              "| k×rounds | grad max rel diff |\n"
              "|---|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")


def format_rows(w: dict[str, Any]) -> list[str]:
    rows = []
    for p, e in w["peers"].items():
        a = e.get("agreement", {})
        diff = "" if not a else (f"{a['max_rel_diff']:.1e}" if a.get("max_rel_diff") is not None
                                 else "n/a") + ("" if a.get("passed") else " **FAIL**")
        if "timing" in e:
            t = e["timing"]
            rows.append(
                f"| {w['key']} | {p} | {_fmt_t(t['median_s'], w)} | {w['unit']} | "
                f"{_fmt_t(t['p25_s'], w)}–{_fmt_t(t['p75_s'], w)} | "
                f"{_fmt_t(t['min_s'], w)}–{_fmt_t(t['max_s'], w)} | "
                f"{_fmt_t(t['cpu_median_s'], w)} | {t['cpu_median_s'] / t['median_s']:.2f} | "
                f"{_fmt_x(t['x_floor'])} | {_fmt_x(t['x_torch'])} | "
                f"{_fmt_x(t['cpu_x_floor'])} | {_fmt_x(t['cpu_x_torch'])} | "
                f"{_fmt_x(t.get('paired_x_floor'))} | {_fmt_x(t.get('paired_x_torch'))} | "
                f"{t['k']}×{t['rounds']} | {diff} |")
        else:
            why = e.get("skipped") or e.get("error") or "not timed"
            rows.append(f"| {w['key']} | {p} | — | | | | | | | | | | | | | {diff} {why} |")
    return rows


def format_vs_baseline(w: dict[str, Any]) -> list[str]:
    """``ours vs ours@abc1234: 0.98× (paired 0.99×; CPU 0.97×)``: the working tree's time over
    the baseline's (--baseline), one line per pair timed."""
    return [f"{r['peer']} vs {r['baseline']}: {r['x']:.2f}× (paired {r['paired_x']:.2f}×; "
            f"CPU {r['cpu_x']:.2f}×)" for r in w.get("vs_baseline", [])]


def format_workload(w: dict[str, Any]) -> str:
    took = f" ({w['elapsed_s']:.1f} s)" if "elapsed_s" in w else ""
    vs = format_vs_baseline(w)
    if vs:
        vs = ["", "working tree / baseline time (below 1: the working tree is faster):", *vs]
    jit = format_jit(w)
    return "\n".join([f"\n{w['key']}: {w['title']}{took}", TABLE_HEAD, *format_rows(w), *vs,
                      *([""] + jit if jit else [])])


JIT_HEAD = ("| W | ours-jit traces | trace s | compile s | first replay | traced again while timed |\n"
            "|---|---:|---:|---:|---:|---:|")


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.3g}"


def format_jit_row(w: dict[str, Any]) -> str | None:
    """ours-jit's trace and compile times (Note [ours-jit] in ours_jit.py), or why it has none."""
    e = w["peers"].get("ours-jit")
    if e is None:
        return None
    j = e.get("jit")
    if j is None:
        why = e.get("skipped") or e.get("error") or "not built"
        return f"| {w['key']} | — | | | | {why} |"
    again = f"**{j['retraced']}** (timed steps include traces)" if j["retraced"] else "0"
    unit = "µs/op" if w["unit"] == "us/op" else "ms"
    return (f"| {w['key']} | {j['traces']} | {_fmt_s(j['trace_s'])} | {_fmt_s(j['compile_s'])} | "
            f"{_fmt_t(j['first_replay_s'], w)} {unit} | {again} |")


def format_jit(w: dict[str, Any]) -> list[str]:
    row = format_jit_row(w)
    return [JIT_HEAD, row] if row else []


# ---- targets -------------------------------------------------------------------------------------


def _med(results: dict[str, Any], key: str, peer: str, field: str = "median_s") -> float | None:
    w = results["workloads"].get(key)
    e = w and w["peers"].get(peer)
    return e["timing"][field] if e and "timing" in e else None


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets for `ours` (the engine through nn), each with its measured value.

    Judged on wall-clock medians; the same ratio on CPU-time medians is shown beside it (it is
    less disturbed by other processes taking the cores), and the median of the per-round ratios
    ("paired": steadier when the machine's load changes from minute to minute)."""
    out = []

    def paired(key, peer, ref):
        w = results["workloads"].get(key)
        e = w and w["peers"].get(peer)
        v = e["timing"].get(f"paired_x_{ref}") if e and "timing" in e else None
        return f"; paired {v:.2f}×" if v is not None else ""

    def add(name, value, ok, detail=""):
        out.append({"target": name, "value": value, "passed": bool(ok), "detail": detail})

    def ratio(key, a, b):
        wall = (_med(results, key, a), _med(results, key, b))
        cpu = (_med(results, key, a, "cpu_median_s"), _med(results, key, b, "cpu_median_s"))
        if None in wall:
            return None, None
        return wall[0] / wall[1], cpu[0] / cpu[1]

    for key in ("W1", "W3", "W6"):
        r, c = ratio(key, "ours", "numpy")
        if r is not None:
            add(f"{key} ≤ 1.10× floor", f"{r:.2f}×", r <= 1.10,
                f"CPU {c:.2f}×{paired(key, 'ours', 'floor')}")
    for key in ("W2", "W5"):
        r, c = ratio(key, "ours", "torch")
        if r is not None:
            add(f"{key} ahead of PyTorch eager", f"{r:.2f}× torch", r < 1,
                f"CPU {c:.2f}×{paired(key, 'ours', 'torch')}")
    o = _med(results, "W5", "ours")
    if o:
        us = o / elementwise.OPS * 1e6
        cpu_us = _med(results, "W5", "ours", "cpu_median_s") / elementwise.OPS * 1e6
        add("W5 < 7.5 µs/op (goal 4)", f"{us:.2f} µs/op", us < 7.5,
            f"CPU {cpu_us:.2f} µs/op; goal {'met' if us < 4 else 'not met'}")
    r, c = ratio("W4", "ours", "torch")
    if r is not None:
        add("W4 ≤ PyTorch", f"{r:.2f}× torch", r <= 1, f"CPU {c:.2f}×{paired('W4', 'ours', 'torch')}")
    for key in sorted(results["workloads"]):
        r, c = ratio(key, "autograd", "ours")
        if r is not None:
            add(f"{key} ≥ 2× faster than HIPS autograd", f"{r:.2f}× faster", r >= 2,
                f"CPU {c:.2f}×")
    m = results.get("memory")
    if m and m.get("ratio_maxrss") is not None:
        add("W1 peak RSS ≤ 1.2× reference", f"{m['ratio_maxrss']:.2f}×", m["ratio_maxrss"] <= 1.2,
            f"tracemalloc peak of a training step {m['ratio_traced']:.2f}×, of forward+backward "
            f"alone {m['ratio_traced_grads']:.2f}×")
    return out


def format_targets(ts: list[dict[str, Any]]) -> str:
    lines = ["| target | measured | met |", "|---|---|---|"]
    for t in ts:
        extra = f" ({t['detail']})" if t["detail"] else ""
        lines.append(f"| {t['target']} | {t['value']}{extra} | {'yes' if t['passed'] else 'NO'} |")
    return "\n".join(lines)


def format_report(results: dict[str, Any]) -> str:
    m = results["machine"]
    th = results["threads"]
    pools = th.get("pools")
    pool_txt = (", ".join(f"{p['internal_api']} {p.get('version') or ''} "
                          f"({p.get('architecture') or p.get('prefix')}): "
                          f"{p['num_threads']} thread(s)"
                          for p in pools) if isinstance(pools, list) else str(pools))
    vers = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    lines = [
        f"# Benchmarks ({results['mode']}{', tiny sizes' if results['tiny'] else ''})",
        "",
        f"- machine: {m['cpu']}, {m['logical_cores']} logical cores ({m['usable_cores']} usable), "
        f"{m['platform']}",
        f"- Python {m['python']}; {vers}",
        f"- engine measured: commit {m['engine'].get('git_head')}, uncommitted changes in "
        f"{m['engine'].get('uncommitted') or 'none'} (autograd_core/, nn/), sources sha256 "
        f"{m['engine']['source_sha256']}",
        *([f"- baseline (--baseline {b['rev']}): commit {b['commit']}, its autograd_core and nn "
           f"loaded from git as {' and '.join(b['packages'])}, sources sha256 "
           f"{b['source_sha256']}; peers {', '.join(b['peers'])}"]
          if (b := results.get("baseline")) else []),
        f"- threads: {pool_txt}; env " + ", ".join(f"{k}={v}" for k, v in th["env"].items())
        + (f"; torch {th['torch']}" if "torch" in th else "")
        + (f"; XLA_FLAGS={th['jax']['XLA_FLAGS']!r}" if "jax" in th else ""),
        f"- OPENBLAS_CORETYPE={m['OPENBLAS_CORETYPE']!r}, OPENBLAS_L2_SIZE="
        f"{m['OPENBLAS_L2_SIZE']!r} (left as found)",
        f"- allocator: {m.get('allocator', 'default')}",
        f"- load average at start {m['loadavg_start']}, at end {m.get('loadavg_end')} "
        "(other processes share this machine: compare within a round-robin run, not across runs)",
        f"- started {results['started']}, took {results['elapsed_s']:.0f} s; float32 everywhere; "
        f"agreement tolerance rtol {results['tolerance']['rtol']:g}, "
        f"atol {results['tolerance']['atol']:g}·max|ref| vs the reference (the oracle); "
        "× floor: over the tuned hand-written NumPy step",
        "",
        "Times: per step (ms) or per op (µs, W5); median over rounds, each round one batch of k "
        "steps per peer, peers interleaved. CPU/wall: median process CPU time over wall time "
        "(≈1: one busy thread; <1: the process was waiting or descheduled).",
        "",
        TABLE_HEAD,
    ]
    for key in sorted(results["workloads"]):
        lines.extend(format_rows(results["workloads"][key]))
    lines.append("")
    for key in sorted(results["workloads"]):
        w = results["workloads"][key]
        lines.append(f"- {key}: {w['title']}")
        for p, e in w["peers"].items():
            if "note" in e:
                lines.append(f"  - {p}: {e['note']}")
    jit = [r for key in sorted(results["workloads"])
           if (r := format_jit_row(results["workloads"][key]))]
    if jit:
        lines += ["", "## ours-jit: trace and compile time", "",
                  "The traced calls of `ag.jit` (eager steps while recording), the comparison of "
                  "the two traces and the program's generation (compile), and the first replay "
                  "(Note [ours-jit] in ours_jit.py); the rounds time replays only.", "",
                  JIT_HEAD, *jit]
    vs = [f"- {key}: {line}" for key in sorted(results["workloads"])
          for line in format_vs_baseline(results["workloads"][key])]
    if vs:
        lines += ["", f"## Working tree vs the baseline (commit {results['baseline']['short']})",
                  "", "Time of the working tree's peer over its baseline peer's, both timed in the "
                  "same rounds: ratio of medians (paired: median of the per-round ratios; CPU: of "
                  "CPU-time medians). Below 1: the working tree is faster.", "", *vs]
    mem = results.get("memory")
    if mem:
        lines += ["", "## Peak memory, W1 training run (one subprocess each)", "",
                  memory.format_table(mem)]
        if results.get("baseline"):
            note = results["baseline"]["memory"]
            lines += ["", f"{note[0].upper()}{note[1:]}."]
    if results.get("targets"):
        lines += ["", "## Targets (ours = the engine through nn)", "",
                  format_targets(results["targets"])]
    return "\n".join(lines) + "\n"


# ---- the README's section ------------------------------------------------------------------------

_README_PEERS = (("numpy", "tuned NumPy (the floor)"), ("ours", "**ours**"),
                 ("ours-jit", "ours, `ag.jit` (trace s + compile s)"),
                 ("ours-jit-plain", "`ag.jit` without numba"),
                 ("reference", "clarity-first reference"), ("torch", "PyTorch 2.13 CPU"),
                 ("jax", "JAX jit"), ("autograd", "HIPS autograd"))


def format_readme(results: dict[str, Any]) -> str:
    """The README's benchmark paragraph, table and targets, from a results file (so the README is
    regenerated from a run, never typed in): ``python -m benchmarks.report [latest.json]``."""
    m = results["machine"]
    rounds = max((e["timing"]["rounds"] for w in results["workloads"].values()
                  for e in w["peers"].values() if "timing" in e), default=0)
    cpu = m["cpu"].split()[0] + (" " + m["cpu"].split()[1] if len(m["cpu"].split()) > 1 else "")
    lines = [
        f"Measured {results['started'][:10]} on this project's machine ({cpu}, "
        f"{m['logical_cores']} cores, one thread per library, {m.get('allocator', 'default allocator')}); "
        f"ratios to the floor (the fastest hand-written NumPy step, `benchmarks/README.md`), "
        f"medians of {rounds} interleaved rounds:",
        "",
        "| workload (one training step unless said) | " + " | ".join(h for _, h in _README_PEERS) + " |",
        "|" + "---|" * (len(_README_PEERS) + 1),
    ]
    for key in sorted(results["workloads"]):
        w = results["workloads"][key]
        cells = []
        for peer, _ in _README_PEERS:
            e = w["peers"].get(peer)
            if not e or "timing" not in e:
                cells.append("—")
                continue
            t = e["timing"]
            if peer == "numpy":
                unit = "µs/op" if w["unit"] == "us/op" else "ms"
                cells.append(f"{_fmt_t(t['median_s'], w)} {unit} (1×)")
            elif peer == "ours":
                x = f"{t['x_floor']:.2f}×"
                cells.append(f"**{_fmt_t(t['median_s'], w)} µs/op ({x})**" if w["unit"] == "us/op"
                             else f"**{x}**")
            elif peer == "ours-jit-plain":
                cells.append(f"{_fmt_t(t['median_s'], w)} µs/op ({t['x_floor']:.2f}×)"
                             if w["unit"] == "us/op" else f"{t['x_floor']:.2f}×")
            elif peer == "ours-jit":
                j = e["jit"]
                x = (f"{_fmt_t(t['median_s'], w)} µs/op ({t['x_floor']:.2f}×)"
                     if w["unit"] == "us/op" else f"{t['x_floor']:.2f}×")
                cells.append(f"{x} ({_fmt_s(j['trace_s'])} s + {_fmt_s(j['compile_s'])} s)")
            else:
                cells.append(f"{t['x_floor']:.2f}×")
        lines.append(f"| {key} {w['title']} | " + " | ".join(cells) + " |")
    mem = results.get("memory")
    lines.append("")
    lines.append((f"Peak RSS of a W1 training run: {mem['ratio_maxrss']:.2f}× the reference's. "
                  if mem and mem.get("ratio_maxrss") is not None else "") + "Against the issue's targets:")
    lines.append("")
    lines.append(format_targets(results.get("targets") or targets(results)).replace("| NO |", "| **no** |"))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import json
    import sys
    from pathlib import Path

    path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "results" / "latest.json")
    print(format_readme(json.loads(path.read_text())), end="")

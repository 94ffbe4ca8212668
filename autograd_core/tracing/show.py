"""A compiled jit program as text (`describe`) and as a picture (`digraph`): what `ag.viz.summary`
and `ag.viz.draw_graph` show for a jitted function."""

from __future__ import annotations

from .jit import Jitted
from .program import Program
from .traced import Ref, refs


def latest(jitted: Jitted) -> Program:
    progs = jitted.programs()
    if not progs:
        raise RuntimeError(f"jit: {jitted.name} has no compiled program yet (a signature compiles "
                           "when two calls with different values traced the same program)")
    return max(progs, key=lambda p: p.made)


def _input_name(src: tuple) -> str:
    if src[0] == "arg":
        return f"argument {src[1]}" + (f".{src[2]}" if src[2] else "")
    return f"outside Tensor{tuple(src[1].data.shape)}.{src[2]}"


def describe(jitted: Jitted) -> str:
    """The latest program: its inputs, one row per NumPy call it replays (dead calls left out),
    its checks and draws, what it rebinds. Nothing is fused: the replay is plain NumPy."""
    prog = latest(jitted)
    rec = prog.rec
    shapes = rec.shapes
    n_fused = sum(len(r.members) for r in prog.runs)
    fused = (f"{n_fused} calls fused into {len(prog.runs)} numba kernel(s)" if prog.runs else
             "nothing fused (pure-NumPy replay)" if not jitted.fuse else "no run long enough to fuse")
    lines = [f"jit program of {jitted.name}: {len(prog.kept)} of {len(rec.code)} traced NumPy calls "
             f"kept ({len(rec.code) - len(prog.kept)} dead), {len(rec.inputs)} inputs, "
             f"{len(rec.effects)} rebindings, {len(jitted.programs())} program(s) in all; {fused}"]
    run_of = {i: k for k, r in enumerate(prog.runs) for i in r.members}
    for slot, src in rec.inputs:
        shape, dtype = shapes[slot]
        lines.append(f"  in  v{slot:<5} {_input_name(src)}  {shape} {dtype}")
    for i in prog.kept:
        ins = rec.code[i]
        ins_refs = sorted(refs(ins.args) | refs(ins.kwargs))
        outs = sorted(refs(ins.outs))
        res = ", ".join(f"v{s}{tuple(shapes[s][0])}" for s in outs) or ("(in place)" if not ins.pure else "")
        kernel = f" [kernel {run_of[i]}]" if i in run_of else ""
        lines.append(f"  {i:<5} {ins.name:<24} {', '.join(f'v{s}' for s in ins_refs):<24} → {res}"
                     f"{kernel}   at {ins.where}")
    for target, attr, value in rec.effects:
        who = f"argument {target[1]}" if target[0] == "arg" else "outside Tensor"
        lines.append(f"  out {who}.{attr} = {value!r}")
    return "\n".join(lines)


def digraph(jitted: Jitted, picture):
    """The latest program as a `graphviz.Digraph`: inputs as ellipses, NumPy calls as boxes,
    checks as diamonds, rebindings as notes; edges follow the values."""
    prog = latest(jitted)
    rec = prog.rec
    fused = f"{len(prog.runs)} fused kernel(s), shaded" if prog.runs else "nothing fused"
    g = picture(graph_attr={"rankdir": "TB", "label": f"jit program of {jitted.name}: "
                                     f"{len(prog.kept)} NumPy calls, {fused}"})
    run_of = {i: k for k, r in enumerate(prog.runs) for i in r.members}
    maker: dict[int, str] = {}
    for slot, src in rec.inputs:
        name = f"in{slot}"
        shape, dtype = rec.shapes[slot]
        g.node(name, f"{_input_name(src)}\n{shape} {dtype}", shape="ellipse")
        maker[slot] = name
    for i in prog.kept:
        ins = rec.code[i]
        name = f"c{i}"
        outs = sorted(refs(ins.outs))
        label = ins.name + "".join(f"\n{tuple(rec.shapes[s][0])}" for s in outs[:1])
        colour = "#fff2cc" if ins.kind == "host" else "#d5e8d4" if i in run_of else "#dae8fc"
        label += f"\n[kernel {run_of[i]}]" if i in run_of else ""
        g.node(name, label, shape="diamond" if ins.kind == "check" else "box",
               style="filled", fillcolor=colour, tooltip=ins.where)
        for s in sorted(refs(ins.args) | refs(ins.kwargs)):
            if s in maker:
                g.edge(maker[s], name)
        for s in outs:
            maker[s] = name
    for k, (target, attr, value) in enumerate(rec.effects):
        if type(value) is Ref and value.slot in maker:
            name = f"out{k}"
            who = f"argument {target[1]}" if target[0] == "arg" else "Tensor"
            g.node(name, f"{who}.{attr}", shape="note")
            g.edge(maker[value.slot], name)
    return g
